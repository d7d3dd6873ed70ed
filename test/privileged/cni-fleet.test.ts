// The `fleetnet` CNI plugin with addresses from the fleet controller: two hosts (namespaces with
// agents started with --cni-controller), a controller, a network `blue` meshed over VXLAN. ADD is a
// FleetAttach for the agent's own host: fleet-unique addresses and XX:IP:IP:IP MACs, attachments in
// `fleetnet ls` and `fleetnet check`; DEL and GC release at the controller; STATUS says 50 when
// neither the controller nor the agent can allocate.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { CniDriver, type CniOutcome } from '../helpers/cni.js';
import { cniRows, startCniFleet } from '../helpers/cni-fleet.js';
import type { TestFleet } from '../helpers/controller-fleet.js';
import { addNs, delNs, sh } from '../helpers/netns.js';

let fleet: TestFleet;
const drivers: CniDriver[] = [];
const made: string[] = [];
const SUBNET = `10.${80 + Math.floor(Math.random() * 10)}.${Math.floor(Math.random() * 250)}`;
const conf = (extra: Record<string, unknown> = {}) => ({
  cniVersion: '1.1.0',
  name: 'blue',
  type: 'fleetnet',
  network: 'blue',
  ...extra,
});

const ns = async (tag: string) => {
  const n = `${fleet.prefix}-${tag}`;
  made.push(n);
  return addNs(n);
};
const add = (h: number, netns: string, id: string, ifname = 'eth0') =>
  drivers[h]!.call('fleetnet', { command: 'ADD', containerId: id, netns, ifname }, conf());
const del = (h: number, netns: string | undefined, id: string) =>
  drivers[h]!.call(
    'fleetnet',
    { command: 'DEL', containerId: id, ifname: 'eth0', ...(netns ? { netns } : {}) },
    conf(),
  );
const ipOf = (r: CniOutcome) => ((r.out?.ips as { address: string }[] | undefined) ?? [])[0]?.address ?? '';
const macOf = (r: CniOutcome) =>
  ((r.out?.interfaces as { mac?: string; sandbox?: string }[] | undefined) ?? []).find((i) => i.sandbox)?.mac ?? '';

const ls = () => cniRows(fleet);
async function pingEventually(from: string, to: string): Promise<boolean> {
  for (let i = 0; i < 20; i++) {
    if ((await sh.run('ip', ['netns', 'exec', from, 'ping', '-c', '1', '-W', '1', to], { allowFail: true })).code === 0)
      return true;
  }
  return false;
}

before(async () => {
  fleet = await startCniFleet('n', `${SUBNET}.0/24`);
  for (const h of fleet.hosts) drivers.push(await CniDriver.install(join(fleet.dir, `cni-${h.name}`), h.socket, h.ns));
});

after(async () => {
  await fleet?.down();
  for (const n of made) await delNs(n);
});

describe('fleetnet CNI plugin, addresses from the fleet controller', () => {
  it('ADD on two hosts: fleet-unique addresses and MACs, in ls, ping across the mesh; check is clean', async () => {
    const [a, b] = [await ns('a'), await ns('b')];
    const ra = await add(0, a, 'fa');
    assert.equal(ra.code, 0, ra.stdout + ra.stderr);
    const rb = await add(1, b, 'fb');
    assert.equal(rb.code, 0, rb.stdout + rb.stderr);
    assert.match(ipOf(ra), new RegExp(`^${SUBNET.replaceAll('.', '\\.')}\\.\\d+/24$`));
    assert.notEqual(ipOf(ra), ipOf(rb));
    // XX:IP:IP:IP:YY:ZZ: the hosts' underlay addresses are in the MACs, so they differ by host
    const [ua, ub] = fleet.hosts.map((h) =>
      h.underlayIp
        .split('.')
        .slice(1)
        .map((o) => Number(o).toString(16).padStart(2, '0'))
        .join(':'),
    );
    assert.equal(macOf(ra).slice(3, 11), ua);
    assert.equal(macOf(rb).slice(3, 11), ub);
    const rows = await ls();
    assert.deepEqual(rows.map((r) => [r.host, r.addresses[0], r.mac, r.state]).sort(), [
      ['h1', ipOf(ra), macOf(ra), 'up'],
      ['h2', ipOf(rb), macOf(rb), 'up'],
    ]);
    assert.ok(
      await pingEventually(`${fleet.prefix}-a`, ipOf(rb).split('/')[0]!),
      'a (h1) pings b (h2) over the VXLAN mesh',
    );
    const check = await fleet.cli('check', '--json');
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.deepEqual((JSON.parse(check.stdout) as { findings: unknown[] }).findings, []);
    // The container gone without a DEL (a runtime that crashed): check names the CNI attachment.
    await delNs(`${fleet.prefix}-b`);
    const found = await fleet.cli('check', '--json');
    assert.equal(found.code, 1, found.stdout);
    const f = (JSON.parse(found.stdout) as { findings: { host: string; subject: string }[] }).findings;
    assert.ok(
      f.some((x) => x.host === 'h2' && x.subject.endsWith('/eth0')),
      found.stdout,
    );
    assert.equal((await del(0, a, 'fa')).code, 0);
    assert.equal((await del(1, undefined, 'fb')).code, 0);
    assert.deepEqual(await ls(), []);
  });

  it('20 parallel ADDs on each host: 40 fleet-unique addresses; DEL frees them at the controller', async () => {
    const paths = await Promise.all(Array.from({ length: 40 }, (_, i) => ns(`p${i}`)));
    const res = await Promise.all(paths.map((p, i) => add(i % 2, p, `par-${i}`)));
    for (const r of res) assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(new Set(res.map(ipOf)).size, 40);
    assert.equal(new Set(res.map(macOf)).size, 40);
    assert.equal((await ls()).length, 40);
    const dels = await Promise.all(paths.map((p, i) => del(i % 2, p, `par-${i}`)));
    for (const r of dels) assert.equal(r.code, 0, r.stdout);
    assert.deepEqual(await ls(), []);
  });

  it('DEL twice and DEL without CNI_NETNS release; a restart in a new namespace moves the attachment', async () => {
    const [p1, p2] = [await ns('r1'), await ns('r2')];
    assert.equal((await add(0, p1, 'rs')).code, 0);
    const moved = await add(0, p2, 'rs');
    assert.equal(moved.code, 0, moved.stdout);
    assert.equal(
      (await sh.run('ip', ['-n', `${fleet.prefix}-r1`, 'link', 'show', 'eth0'], { allowFail: true })).code,
      1,
    );
    assert.equal(
      (await sh.run('ip', ['-n', `${fleet.prefix}-r2`, 'link', 'show', 'eth0'], { allowFail: true })).code,
      0,
    );
    assert.equal((await ls()).length, 1);
    const d = await del(0, undefined, 'rs');
    assert.equal(d.code, 0, d.stdout);
    assert.deepEqual(await ls(), []);
    assert.equal((await del(0, p2, 'rs')).code, 0);
  });

  it('CHECK: passes on what ADD made, fails once the controller no longer holds the attachment', async () => {
    const p = await ns('k');
    const a = await add(0, p, 'chk');
    assert.equal(a.code, 0, a.stdout);
    const check = () =>
      drivers[0]!.call(
        'fleetnet',
        { command: 'CHECK', containerId: 'chk', netns: p, ifname: 'eth0' },
        conf({ prevResult: a.out }),
      );
    const ok = await check();
    assert.equal(ok.code, 0, ok.stdout);
    const d = await fleet.cli('detach', '--host', 'h1', p, '-i', 'eth0');
    assert.equal(d.code, 0, d.stderr);
    const gone = await check();
    assert.equal((gone.out as { code: number }).code, 101, gone.stdout);
    assert.match((gone.out as { msg: string }).msg, /no reservation for container chk/);
    assert.equal((await del(0, p, 'chk')).code, 0);
  });

  it('GC with a partial valid list frees the rest at the controller', async () => {
    const paths = await Promise.all([0, 1, 2].map((i) => ns(`g${i}`)));
    for (const [i, p] of paths.entries()) assert.equal((await add(0, p, `gc-${i}`)).code, 0);
    const gc = await drivers[0]!.call(
      'fleetnet',
      { command: 'GC' },
      conf({ 'cni.dev/valid-attachments': [{ containerID: 'gc-1', ifname: 'eth0' }] }),
    );
    assert.equal(gc.code, 0, gc.stdout);
    const rows = await ls();
    assert.equal(rows.length, 1);
    assert.equal(
      (await sh.run('ip', ['-n', `${fleet.prefix}-g0`, 'link', 'show', 'eth0'], { allowFail: true })).code,
      1,
    );
    assert.equal((await del(0, paths[1], 'gc-1')).code, 0);
  });

  it('fleetnet-ipam under the reference bridge: addresses held at the controller, GC and DEL free them', async () => {
    const bconf = (extra: Record<string, unknown> = {}) => ({
      cniVersion: '1.0.0',
      name: 'blue',
      type: 'bridge',
      bridge: 'br-ref',
      isGateway: false,
      ipam: { type: 'fleetnet-ipam', network: 'blue' },
      ...extra,
    });
    const bridge = (h: number, id: string, command: 'ADD' | 'DEL', netns?: string) =>
      drivers[h]!.call(
        '/usr/lib/cni/bridge',
        { command, containerId: id, ifname: 'eth0', ...(netns ? { netns } : {}) },
        bconf(),
      );
    const [a, b, c] = [await ns('ia'), await ns('ib'), await ns('ic')];
    const main = await add(0, c, 'im'); // the main plugin's attachment on the same network
    assert.equal(main.code, 0, main.stdout);
    const ra = await bridge(0, 'ia', 'ADD', a);
    assert.equal(ra.code, 0, ra.stdout + ra.stderr);
    const rb = await bridge(1, 'ib', 'ADD', b);
    assert.equal(rb.code, 0, rb.stdout + rb.stderr);
    assert.equal(new Set([ipOf(ra), ipOf(rb), ipOf(main)]).size, 3, 'fleet-unique across hosts and plugins');
    const live = (await sh.run('ip', ['-n', `${fleet.prefix}-ia`, '-o', '-4', 'addr', 'show', 'dev', 'eth0'])).stdout;
    assert.ok(live.includes(ipOf(ra)), live);
    assert.deepEqual(
      (await ls()).map((r) => [r.host, r.addresses[0], r.state]).sort(),
      [
        ['h1', ipOf(main), 'up'],
        ['h1', ipOf(ra), 'up'],
        ['h2', ipOf(rb), 'up'],
      ].sort(),
    );
    const check = await fleet.cli('check', '--json');
    assert.deepEqual((JSON.parse(check.stdout) as { findings: unknown[] }).findings, [], 'a reservation is no leak');
    // GC of fleetnet-ipam on h1 with nothing valid: its reservation goes, the main plugin's stays.
    const gc = await drivers[0]!.call(
      'fleetnet-ipam',
      { command: 'GC' },
      bconf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] }),
    );
    assert.equal(gc.code, 0, gc.stdout);
    assert.deepEqual((await ls()).map((r) => r.addresses[0]).sort(), [ipOf(main), ipOf(rb)].sort());
    for (let i = 0; i < 2; i++) assert.equal((await bridge(1, 'ib', 'DEL', b)).code, 0);
    assert.equal((await bridge(0, 'ia', 'DEL', a)).code, 0);
    assert.equal((await del(0, c, 'im')).code, 0);
    assert.deepEqual(await ls(), []);
  });

  it('an unknown network is code 7 naming the field; nothing is left', async () => {
    const p = await ns('u');
    const r = await drivers[0]!.call(
      'fleetnet',
      { command: 'ADD', containerId: 'u', netns: p, ifname: 'eth0' },
      conf({ network: 'nosuch' }),
    );
    assert.equal(r.code, 1);
    assert.equal((r.out as { code: number }).code, 7, r.stdout);
    assert.match((r.out as { msg: string }).msg, /network: no network named nosuch/);
    assert.deepEqual(await ls(), []);
  });

  it('STATUS: 0 with the controller up; 50 with it down (and with no agent); ADD says try again later', async () => {
    assert.equal((await drivers[0]!.call('fleetnet', { command: 'STATUS' }, conf())).code, 0);
    await fleet.stopController();
    try {
      const st = await drivers[0]!.call('fleetnet', { command: 'STATUS' }, conf());
      assert.equal(st.code, 1);
      assert.equal((st.out as { code: number }).code, 50, st.stdout);
      const r = await add(0, await ns('down'), 'down');
      assert.equal((r.out as { code: number }).code, 11, r.stdout);
    } finally {
      await fleet.startController();
    }
    const noAgent = await drivers[0]!.call(
      'fleetnet',
      { command: 'STATUS', extra: { FLEETNET_AGENT_SOCKET: join(fleet.dir, 'none.sock') } },
      conf(),
    );
    assert.equal((noAgent.out as { code: number }).code, 50, noAgent.stdout);
    assert.equal((await drivers[0]!.call('fleetnet', { command: 'STATUS' }, conf())).code, 0);
  });
});
