// 200 attaches from 4 client processes while the controller is killed with -9 and started again:
// every acknowledged allocation survives, no address or MAC is handed out twice, and asking again
// for the same attachment returns the same address.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ExecRunner } from '../../common/runner.js';
import { startTestFleet, type TestFleet } from '../helpers/controller-fleet.js';

const sh = new ExecRunner();
const CLIENTS = 4;
const PER_CLIENT = 50;
let fleet: TestFleet;

interface Ack {
  phase: 'first' | 'retry';
  target: string;
  id: string;
  addresses: string[];
  mac: string;
}

before(async () => {
  fleet = await startTestFleet({ hosts: 1, tag: 'b' });
  await fleet.startController();
  // The burst's host answers nowhere: attachments stay pending, so this tests the controller alone.
  assert.equal((await fleet.cli('host', 'add', 'hx', '--addr', fleet.deadAddr)).code, 0);
  assert.equal(
    (await fleet.cli('net', 'create', 'burst', '--subnet', '10.7.0.0/16', '--subnet', 'fd00:7::/64')).code,
    0,
  );
});

after(async () => fleet?.down());

function startClient(i: number, onAck: (a: Ack) => void): { proc: ChildProcess; done: Promise<number> } {
  const proc = sh.start(
    'ip',
    [
      'netns',
      'exec',
      fleet.controllerNs,
      'node',
      '--import',
      'tsx',
      join('test', 'helpers', 'controller-burst-client.ts'),
      fleet.controllerAddr,
      'hx',
      'burst',
      `c${i}`,
      String(PER_CLIENT),
    ],
    { stdio: 'pipe' },
  );
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      onAck(JSON.parse(buf.slice(0, nl)) as Ack);
      buf = buf.slice(nl + 1);
    }
  });
  proc.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
  return { proc, done: new Promise((r) => proc.once('exit', (code) => r(code ?? -1))) };
}

test('200 attaches from 4 processes survive a kill -9 of the controller mid-burst', async () => {
  const acks: Ack[] = [];
  let killed: Promise<void> | undefined;
  const onAck = (a: Ack) => {
    acks.push(a);
    // Mid-burst: once a quarter is acknowledged, kill -9 and start again.
    if (!killed && acks.length >= (CLIENTS * PER_CLIENT) / 4)
      killed = fleet.stopController('SIGKILL').then(() => fleet.startController());
  };
  const clients = Array.from({ length: CLIENTS }, (_, i) => startClient(i, onAck));
  const codes = await Promise.all(clients.map((c) => c.done));
  assert.deepEqual(codes, [0, 0, 0, 0]);
  assert.ok(killed, 'the controller was killed during the burst');
  await killed;
  const first = acks.filter((a) => a.phase === 'first');
  assert.equal(first.length, CLIENTS * PER_CLIENT);

  // Everything acknowledged is in the store, with the address and MAC the client was given.
  const ls = await fleet.cli('ls', '--json', '--host', 'hx');
  assert.equal(ls.code, 0, ls.stderr);
  const rows = JSON.parse(ls.stdout) as { id: string; container: string; addresses: string[]; mac: string }[];
  const byTarget = new Map(rows.map((r) => [r.container, r]));
  for (const a of first) {
    const r = byTarget.get(a.target);
    assert.ok(r, `${a.target} was acknowledged but is gone`);
    assert.deepEqual(r.addresses, a.addresses);
    assert.equal(r.mac, a.mac);
  }
  assert.equal(rows.length, CLIENTS * PER_CLIENT);
  // No address or MAC twice, fleet-wide.
  const addrs = rows.flatMap((r) => r.addresses);
  assert.equal(new Set(addrs).size, addrs.length, 'an address was handed out twice');
  assert.equal(addrs.length, CLIENTS * PER_CLIENT * 2, 'one IPv4 and one IPv6 address each');
  assert.equal(new Set(rows.map((r) => r.mac)).size, rows.length, 'a MAC was handed out twice');
  // A retry of the same attachment gets the same address.
  for (const a of acks.filter((x) => x.phase === 'retry')) {
    assert.deepEqual(a.addresses, byTarget.get(a.target)!.addresses, `retry of ${a.target}`);
    assert.equal(a.mac, byTarget.get(a.target)!.mac);
  }
});
