// Every class of bad input is refused at the agent's edge before any command runs.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { status, type ServerUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { silentLogger } from '../../common/logger.js';
import { FakeRunner } from '../../common/runner.js';
import { Attacher } from '../../agent/attach/attacher.js';
import { RecordStore } from '../../agent/attach/records.js';
import { ContainerResolver } from '../../agent/containers/resolve.js';
import { ipExec } from '../../agent/linux/ip.js';
import { agentService } from '../../agent/service/agent-service.js';
import type { AttachRequest } from '../../proto/gen/fleetnet/v1/agent.js';
import { attachRequest } from '../helpers/attach-request.js';

const base = attachRequest();

const BAD: [string, Partial<AttachRequest>][] = [
  ['host interface too long', { hostIf: 'b'.repeat(16) }],
  ['host interface with /', { hostIf: 'br/1' }],
  ['host interface ..', { hostIf: '..' }],
  ['container ifname with :', { ifname: 'eth:1' }],
  ['container ifname with whitespace', { ifname: 'eth 1' }],
  ['host-side name with %', { hostIfname: 'fn%d' }],
  ['address without prefix', { addresses: [{ static: { cidr: '10.1.1.5', gateway: '' } }] }],
  ['address out of range', { addresses: [{ static: { cidr: '10.1.1.500/24', gateway: '' } }] }],
  ['gateway of the other family', { addresses: [{ static: { cidr: '10.1.1.5/24', gateway: 'fd00::1' } }] }],
  ['no address', { addresses: [] }],
  ['0/0 with another address', { addresses: [{ none: true }, { static: { cidr: '10.1.1.5/24', gateway: '' } }] }],
  ['multicast MAC', { mac: '01:00:5e:00:00:01' }],
  ['zero MAC', { mac: '00:00:00:00:00:00' }],
  ['U: string with a space', { macString: 'a b' }],
  ['U: string with a leading dash', { macString: '-rf' }],
  ['VLAN out of range', { vlan: '4095' }],
  ['VLAN not a number', { vlan: 'x1' }],
  ['MTU too small', { mtu: 10 }],
  ['unknown kind', { kind: 'teql' }],
  ['target with shell characters', { target: { kind: 'auto', value: 'web1;reboot' } }],
  ['pid that is not a number', { target: { kind: 'pid', value: '12a' } }],
  ['no target', { target: undefined }],
  ['gateway outside the subnet', { addresses: [{ static: { cidr: '10.1.1.5/24', gateway: '10.2.0.1' } }] }],
  ['the network address', { addresses: [{ static: { cidr: '10.1.1.0/24', gateway: '' } }] }],
  ['the broadcast address', { addresses: [{ static: { cidr: '10.1.1.255/24', gateway: '' } }] }],
  ['container ifname $(id)', { ifname: '$(id)' }],
  ['container ifname a;b', { ifname: 'a;b' }],
  ['container ifname ëth1', { ifname: 'ëth1' }],
  ['host-side name $(id)', { hostIfname: '$(id)' }],
  ['host-side name a;b', { hostIfname: 'a;b' }],
  ['host-side name ëth1', { hostIfname: 'ëth1' }],
  ['MTU too large', { mtu: 65536 }],
  ['a new bridge named br;x', { hostIf: 'br;x', target: { kind: 'path', value: '/proc/self/ns/net' } }],
];

it('bad input is refused with INVALID_ARGUMENT and no command runs', async () => {
  const runner = new FakeRunner();
  const dir = mkdtempSync(join(tmpdir(), 'fleetnet-unit-'));
  try {
    const attacher = new Attacher({
      runner,
      ip: ipExec(runner),
      records: new RecordStore(dir),
      log: silentLogger(),
      resolver: new ContainerResolver({ runner, docker: () => undefined, netnsDir: join(dir, 'netns') }),
    });
    const svc = agentService({
      attacher,
      capabilities: async () => [],
      log: silentLogger(),
      version: 't',
      startedAtMs: 0,
    });
    for (const [what, patch] of BAD) {
      const req = { ...base, ...patch };
      const err = await new Promise<Partial<ServiceError> | null>((resolve) =>
        (
          svc.attach as (
            c: ServerUnaryCall<AttachRequest, unknown>,
            cb: (e: Partial<ServiceError> | null) => void,
          ) => void
        )({ request: req } as ServerUnaryCall<AttachRequest, unknown>, (e) => resolve(e)),
      );
      assert.ok(err, `${what}: accepted`);
      assert.equal(err.code, status.INVALID_ARGUMENT, `${what}: ${err.details}`);
      assert.ok((err.details ?? '').length > 10, `${what}: the message says what is wrong`);
    }
    assert.deepEqual(runner.calls, [], 'no command ran');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
