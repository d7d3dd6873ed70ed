// The agent's Attach handler hands its call's signal to the attacher: a call cancelled (or past
// its deadline) before its turn makes nothing, and says why.
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

const req = attachRequest({ target: { kind: 'path', value: '/proc/self/ns/net' } });
type Call = ServerUnaryCall<AttachRequest, unknown>;
type Reply = Partial<ServiceError> | null;

it('an Attach whose call was cancelled makes nothing: UNAVAILABLE, no command run', async (t) => {
  const runner = new FakeRunner();
  const dir = mkdtempSync(join(tmpdir(), 'fleetnet-unit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const attacher = new Attacher({
    runner,
    ip: ipExec(runner),
    records: new RecordStore(dir),
    log: silentLogger(),
    resolver: new ContainerResolver({ runner, docker: () => undefined, netnsDir: join(dir, 'netns') }),
  });
  const log = silentLogger();
  const svc = agentService({ attacher, capabilities: async () => [], log, version: 't', startedAtMs: 0 });
  // grpc-js says 'cancelled' when the caller goes away or the deadline passes; here it already has
  const on = (ev: string, fn: () => void) => (ev === 'cancelled' ? fn() : undefined);
  const call = { request: req, getDeadline: () => Infinity, on } as unknown as Call;
  const attach = svc.attach as (c: Call, cb: (e: Reply) => void) => void;
  const err = await new Promise<Reply>((resolve) => attach(call, resolve));
  assert.equal(err?.code, status.UNAVAILABLE, err?.details);
  assert.match(err?.details ?? '', /cancelled the call or its deadline passed/);
  assert.deepEqual(runner.calls, [], 'no command ran');
});
