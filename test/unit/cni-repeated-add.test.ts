// A second CNI ADD for the same container id and interface, without DEL, on the agent's real Attacher over a
// FakeRunner. The spec (1.1, ADD): "If an interface of the requested name already exists in the container, the
// CNI plugin MUST return with an error" — with a true message, not "other settings". When the interface is gone,
// ADD makes it again with the reserved address and MAC.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { ContainerInfo } from '../../agent/containers/types.js';
import type { FleetLink } from '../../cni/fleet-link.js';
import { CniHandler, type CniCall } from '../../cni/handler.js';
import { Reservations } from '../../cni/reservations.js';
import { CniError } from '../../cni/spec.js';
import { FakeRunner, type RecordedCall } from '../../common/runner.js';
import { fakeAttacher, tmp } from './parity-fixtures.js';

const NS = '/proc/self/ns/net';
const POD: ContainerInfo = { runtime: 'netns', id: NS, name: NS, pid: 0, netns: NS, nsKey: '0:1' };
const CONF = {
  cniVersion: '1.1.0',
  name: 'rep',
  type: 'fleetnet',
  kind: 'bridge',
  bridge: 'br9',
  subnet: '10.9.9.0/24',
};

/** The handler on a fake host; `present` says whether the container's eth0 is there when the handler looks. */
function host() {
  const f = fakeAttacher({ containers: { [NS]: POD } });
  const live = { present: true, mac: '' };
  const runner = new FakeRunner((c: RecordedCall) => {
    if (c.cmd !== 'nsenter' || !c.args.includes('addr')) return undefined;
    if (!live.present) return { code: 1, stderr: 'Device "eth0" does not exist.' };
    const addr_info = [{ local: '10.9.9.1', prefixlen: 24 }];
    return { stdout: JSON.stringify([{ ifname: 'eth0', address: live.mac, addr_info }]) };
  });
  const handler = new CniHandler({
    attacher: f.attacher,
    reservations: new Reservations(tmp('fnp-cni-')),
    runner,
    log: pino({ level: 'silent' }),
  });
  const add = async () => {
    const call: CniCall = {
      plugin: 'fleetnet',
      command: 'ADD',
      containerId: 'c1',
      netns: NS,
      ifname: 'eth0',
      config: Buffer.from(JSON.stringify(CONF)),
    };
    return JSON.parse(await handler.handle(call)) as { ips: { address: string }[]; interfaces: { mac?: string }[] };
  };
  return { add, live, f };
}

test('a second ADD while the interface is there: an error that says so (the spec), nothing changed', async () => {
  const { add, live, f } = host();
  const first = await add();
  live.mac = first.interfaces.at(-1)!.mac!;
  f.runner.calls.length = 0;
  await assert.rejects(add(), (e: unknown) => {
    assert.ok(e instanceof CniError);
    assert.equal(e.code, 103);
    assert.match(e.message, /^interface eth0 already exists in \/proc\/self\/ns\/net: an earlier ADD of container c1/);
    assert.match(e.message, /on network rep made it \(10\.9\.9\.1\/24\)/);
    assert.doesNotMatch(e.message, /other settings/);
    assert.match(e.details, /DEL it first/);
    return true;
  });
  assert.deepEqual(f.runner.calls, [], 'the attacher was not asked');
});

test('a second ADD after the interface went: made again with the reserved address and MAC', async () => {
  const { add, live } = host();
  const first = await add();
  live.present = false;
  const again = await add();
  assert.deepEqual(again.ips, first.ips);
  assert.equal(again.interfaces.at(-1)!.mac, first.interfaces.at(-1)!.mac);
});

test('with a controller too: the second ADD is refused before the controller is asked', async () => {
  const reservations = new Reservations(tmp('fnp-cni-'));
  let asked = 0;
  const fleet = {
    async add(_conf: unknown, call: CniCall, id: string) {
      asked++;
      const r = {
        id,
        containerId: call.containerId,
        ifname: call.ifname,
        netns: call.netns,
        plugin: 'fleetnet' as const,
      };
      reservations.put('rep', { ...r, addresses: ['10.9.9.7/24'], controller: true, createdMs: 0 });
      return { cniVersion: '1.1.0', ips: [{ address: '10.9.9.7/24' }] };
    },
  } as unknown as FleetLink;
  const present = new FakeRunner((c: RecordedCall) =>
    c.cmd === 'nsenter' ? { stdout: JSON.stringify([{ ifname: 'eth0', address: '', addr_info: [] }]) } : undefined,
  );
  const log = pino({ level: 'silent' });
  const handler = new CniHandler({ attacher: fakeAttacher().attacher, reservations, runner: present, log, fleet });
  const call: CniCall = {
    plugin: 'fleetnet',
    command: 'ADD',
    containerId: 'c2',
    netns: NS,
    ifname: 'eth0',
    config: Buffer.from(JSON.stringify({ cniVersion: '1.1.0', name: 'rep', type: 'fleetnet', network: 'rep' })),
  };
  await handler.handle(call);
  await assert.rejects(handler.handle(call), (e: unknown) => e instanceof CniError && /already exists/.test(e.message));
  assert.equal(asked, 1);
});
