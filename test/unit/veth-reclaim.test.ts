// A re-asked attach after a kill -9 converges also when a veth of this attachment appears only after the attach
// claimed its host-side name (made by something else meanwhile, e.g. the `ip -batch` child of the killed agent,
// which outlives it): the make answers "File exists", the attach proves the pair its own by the name scheme,
// removes it and makes it again. With the host-side name free the clash is the container's interface of that
// name: someone else's is refused (invalid, exit 2, naming it) and stays; this agent's marked one is made again.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { Attacher } from '../../agent/attach/attacher.js';
import { RecordStore } from '../../agent/attach/records.js';
import { ipExec } from '../../agent/linux/ip.js';
import { attachOrderFromProto } from '../../agent/service/convert.js';
import { FleetnetError } from '../../common/errors.js';
import { FakeRunner, type RecordedCall, type RunResult } from '../../common/runner.js';
import { CONTAINER, fakeSys, NS, request, show, tmp, TMP_ETH1 } from './parity-fixtures.js';

const MARK = 'fleetnet:a0123456789';
const EXISTS = { code: 2, stderr: 'RTNETLINK answers: File exists\nCommand failed -:1\n' };

/** The host side of a veth in the fake sysfs, as the killed agent's batch leaves it (not yet plugged or marked). */
function leftover(sys: string): void {
  mkdirSync(join(sys, TMP_ETH1), { recursive: true });
  for (const [f, v] of Object.entries({ type: '1', mtu: '1500', address: '02:00:00:00:00:77', ifalias: '' }))
    writeFileSync(join(sys, TMP_ETH1, f), `${v}\n`);
}

/**
 * An attacher whose first veth make answers "File exists" after `appear` ran (what appeared meanwhile);
 * `ip link del` of the host side removes it from the fake sysfs; the container's batch reads back what it set.
 */
function racing(appear: (sys: string) => void, inContainer?: { ifalias: string }) {
  const sys = fakeSys();
  let makes = 0;
  const runner = new FakeRunner((call: RecordedCall): Partial<RunResult> | undefined => {
    const input = call.input ?? '';
    if (call.cmd === 'ip' && / type veth peer name eth1 /.test(input) && makes++ === 0) {
      appear(sys);
      return EXISTS;
    }
    if (call.cmd === 'ip' && call.args.join(' ') === `link del ${TMP_ETH1}`) {
      rmSync(join(sys, TMP_ETH1), { recursive: true, force: true });
      return {};
    }
    if (call.cmd === 'nsenter' && call.args.join(' ').endsWith('ip -json link show dev eth1'))
      return inContainer
        ? { stdout: JSON.stringify([{ ifname: 'eth1', address: '02:00:00:00:00:66', ...inContainer }]) }
        : {};
    if (call.cmd === 'nsenter' && input.includes('addr show dev eth1')) {
      const addr_info = [...input.matchAll(/addr add (\S+)\/(\d+) dev/g)].map((m) => ({
        family: 'inet',
        local: m[1],
        prefixlen: Number(m[2]),
        scope: 'global',
      }));
      return { stdout: JSON.stringify([{ ifname: 'eth1', mtu: 1500, address: '02:00:00:aa:bb:cc', addr_info }]) };
    }
    return undefined;
  });
  const attacher = new Attacher({
    runner,
    ip: ipExec(runner),
    records: new RecordStore(tmp('fnp-reclaim-')),
    resolver: { resolve: async () => CONTAINER },
    log: pino({ level: 'silent' }),
    sysClassNet: sys,
    garp: false,
    ownerMark: MARK,
    capabilities: async () => [],
  });
  const attach = () => attacher.attach(attachOrderFromProto(request({ hostIf: 'br9' }), sys));
  return { runner, attach, makes: () => makes };
}

const VETH =
  `ip -json -batch - <<< link add ${TMP_ETH1} numtxqueues 1 numrxqueues 1 mtu 1500 type veth peer name eth1 ` +
  `numtxqueues 1 numrxqueues 1 mtu 1500 netns /proc/4242/ns/net | link set ${TMP_ETH1} master br9 ` +
  `alias ${MARK} addrgenmode none up`;

test('a veth of this attachment that appears after its claim is removed and made again', async () => {
  const f = racing(leftover);
  const res = await f.attach();
  assert.equal(res.changed, true);
  assert.equal(f.makes(), 2);
  assert.deepEqual(show(f.runner.calls), [
    VETH,
    `ip link del ${TMP_ETH1}`,
    VETH,
    `${NS} ip -json -batch - <<< addr add 10.1.1.5/24 dev eth1 | link set eth1 addrgenmode none up ` +
      `| addr show dev eth1`,
  ]);
});

test("the container's own interface of that name clashes: refused (exit 2) naming it, nothing removed", async () => {
  const f = racing(() => undefined, { ifalias: '' }); // the host-side name stays free: eth1 in the container
  await assert.rejects(
    f.attach(),
    (e: unknown) =>
      e instanceof FleetnetError &&
      e.kind === 'invalid' &&
      /4242 already has an interface eth1 \(MAC 02:00:00:00:00:66\) that fleetnet did not make/.test(e.message) &&
      /-i/.test(e.hint ?? ''),
  );
  assert.equal(f.makes(), 1, 'made once, not again');
  assert.deepEqual(
    show(f.runner.calls),
    [VETH, `${NS} ip -json link show dev eth1`],
    'nothing deleted: the container was only looked at',
  );
});

test("this agent's marked interface of that name in the container (a leftover) is removed and made again", async () => {
  const f = racing(() => undefined, { ifalias: MARK });
  assert.equal((await f.attach()).changed, true);
  assert.equal(f.makes(), 2);
  assert.deepEqual(show(f.runner.calls).slice(0, 4), [
    VETH,
    `${NS} ip -json link show dev eth1`,
    `${NS} ip link del eth1`,
    VETH,
  ]);
});

test('a clash that is gone when looked at (neither name is taken): the error stands', async () => {
  const f = racing(() => undefined);
  await assert.rejects(f.attach(), /File exists/);
  assert.equal(f.makes(), 1, 'made once, not again');
  assert.deepEqual(show(f.runner.calls), [VETH, `${NS} ip -json link show dev eth1`], 'nothing deleted');
});
