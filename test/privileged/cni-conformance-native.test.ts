// CNI conformance (there is no official suite): the native `fleetnet` plugin, as installed by
// `fleetnet cni install`, driven with the spec's environment and stdin against a real agent running in
// a host namespace; containers are namespaces. Local pools (no controller). The lab: cni-conformance-fixture.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connectAgent } from '../../cli/client/agent.js';
import { cli, startAgentIn } from '../helpers/agent-process.js';
import { CniDriver, type CniEnv } from '../helpers/cni.js';
import { addNs, sh } from '../helpers/netns.js';
import {
  add,
  agent,
  cni,
  cniConformanceLab,
  conf,
  del,
  dir,
  hostLinks,
  ipOf,
  made,
  ns,
  P,
  reservations,
} from './cni-conformance-fixture.js';

cniConformanceLab('cn');

describe('fleetnet CNI plugin (conformance)', () => {
  it('the installed plugins are the native one, under both names', () => {
    const native = readFileSync(join(process.cwd(), 'dist', `fleetnet-cni-${process.platform}-${process.arch}`));
    for (const name of ['fleetnet', 'fleetnet-ipam']) {
      const exe = readFileSync(join(cni.binDir, name));
      assert.equal(exe.subarray(0, 4).toString('latin1'), '\x7fELF', name);
      assert.ok(exe.equals(native), `${name} is the native plugin`);
    }
  });

  it('VERSION lists 0.4.0 to 1.1.0, without an agent', async () => {
    const r = await cni.call(
      'fleetnet',
      { command: 'VERSION', extra: { FLEETNET_AGENT_SOCKET: '/nonexistent.sock' } },
      { cniVersion: '1.1.0' },
    );
    assert.equal(r.code, 0, r.stdout);
    assert.deepEqual(r.out, { cniVersion: '1.1.0', supportedVersions: ['0.4.0', '1.0.0', '1.1.0'] });
  });

  it('50 parallel ADDs get 50 unique addresses, show in ls, and 50 DELs free them all', async () => {
    const paths = await Promise.all(Array.from({ length: 50 }, (_, i) => ns(`p${i}`)));
    const res = await Promise.all(paths.map((p, i) => add(p, `par-${i}`)));
    for (const r of res) assert.equal(r.code, 0, r.stdout + r.stderr);
    const ips = res.map(ipOf);
    assert.equal(new Set(ips).size, 50);
    assert.ok(ips.every((a) => a.startsWith('10.61.0.') && a !== '10.61.0.254/24'));
    const first = res[0]!.out as {
      cniVersion: string;
      interfaces: { name: string; mac?: string; sandbox?: string }[];
      ips: { interface: number; gateway: string }[];
    };
    assert.equal(first.cniVersion, '1.1.0');
    assert.equal(first.interfaces[first.ips[0]!.interface]!.sandbox, paths[0]);
    assert.match(first.interfaces[first.ips[0]!.interface]!.mac ?? '', /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    assert.equal(first.ips[0]!.gateway, '10.61.0.254');
    const live = JSON.parse((await sh.run('ip', ['-n', `${P}-cp7`, '-j', 'addr', 'show', 'dev', 'eth0'])).stdout) as {
      addr_info: { local: string; prefixlen: number }[];
    }[];
    assert.equal(`${live[0]!.addr_info[0]!.local}/${live[0]!.addr_info[0]!.prefixlen}`, ips[7]);
    const ls = JSON.parse((await cli(agent.socket, 'ls', '--json')).stdout) as {
      attachmentId?: string;
      id?: string;
      addresses: string[];
    }[];
    assert.equal(ls.filter((a) => ips.includes(a.addresses[0]!)).length, 50);
    const dels = await Promise.all(paths.map((p, i) => del(p, `par-${i}`)));
    for (const r of dels) assert.equal(r.code, 0, r.stdout);
    assert.deepEqual(reservations(), []);
    assert.deepEqual(await hostLinks(), []);
  });

  it('DEL twice, and DEL without CNI_NETNS (the reboot case), succeed and release the address', async () => {
    const p = await ns('d');
    const a = await add(p, 'del-1');
    assert.equal(a.code, 0, a.stdout);
    assert.equal(reservations().length, 1);
    const d1 = await del(undefined, 'del-1');
    assert.equal(d1.code, 0, d1.stdout);
    assert.equal(d1.stdout, '');
    assert.deepEqual(reservations(), []);
    assert.deepEqual(await hostLinks(), []);
    const links = JSON.parse((await sh.run('ip', ['-n', `${P}-cd`, '-j', 'link', 'show'])).stdout) as {
      ifname: string;
    }[];
    assert.deepEqual(
      links.map((l) => l.ifname),
      ['lo'],
    );
    for (const netns of [p, undefined]) assert.equal((await del(netns, 'del-1')).code, 0);
  });

  it('a second ADD without DEL: refused while eth0 is there (the spec), made again once it is gone', async () => {
    const p = await ns('r');
    const a = await add(p, 'rep-1');
    assert.equal(a.code, 0, a.stdout);
    const again = await add(p, 'rep-1');
    assert.equal(again.code, 1);
    assert.equal(again.out?.code, 103);
    assert.match(String(again.out?.msg), /^interface eth0 already exists in .*: an earlier ADD of container rep-1/);
    await sh.run('ip', ['-n', `${P}-cr`, 'link', 'del', 'eth0']);
    const remade = await add(p, 'rep-1');
    assert.equal(remade.code, 0, remade.stdout);
    assert.deepEqual(remade.out, a.out, 'the same address and MAC');
    assert.equal((await del(p, 'rep-1')).code, 0);
    assert.deepEqual(reservations(), []);
  });

  it('a failed ADD leaves nothing (no link, no reservation); DEL after it succeeds', async () => {
    const gone = await add(`/run/netns/${P}-never`, 'fail-1');
    assert.equal(gone.code, 1);
    assert.equal((gone.out as { code: number }).code, 3);
    const p = await ns('f');
    // The container already has eth0 that fleetnet did not make: refused, naming it (the spec's code for a
    // request that cannot be carried out as configured), after the host side was made and undone.
    await sh.run('ip', ['-n', `${P}-cf`, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p']);
    const r = await add(p, 'fail-2');
    assert.equal(r.code, 1, r.stdout);
    assert.equal((r.out as { code: number }).code, 7, r.stdout);
    assert.match((r.out as { msg: string }).msg, /already has an interface eth0 .* that fleetnet did not make/);
    assert.deepEqual(reservations(), []);
    assert.deepEqual(await hostLinks(), []);
    // a macvlan master this host lacks: the configuration's mistake (code 7), not an unknown container (3)
    const noMaster = conf({ kind: 'macvlan', master: `${P.slice(0, 6)}nomst`, bridge: undefined });
    const m = await add(p, 'fail-3', noMaster);
    assert.equal((m.out as { code: number }).code, 7, m.stdout);
    assert.match((m.out as { msg: string }).msg, /does not exist/);
    assert.deepEqual(reservations(), []);
    for (const id of ['fail-1', 'fail-2', 'fail-3']) assert.equal((await del(p, id)).code, 0);
  });

  it('GC with a partial valid list frees the rest', async () => {
    const paths = await Promise.all([0, 1, 2].map((i) => ns(`g${i}`)));
    for (const [i, p] of paths.entries()) assert.equal((await add(p, `gc-${i}`)).code, 0);
    // without its list a GC is refused (code 7) and releases nothing: not "nothing is valid"
    const bare = await cni.call('fleetnet', { command: 'GC' }, conf({}));
    assert.equal((bare.out as { code: number }).code, 7, bare.stdout);
    assert.equal(reservations().length, 3);
    const r = await cni.call(
      'fleetnet',
      { command: 'GC' },
      conf({ 'cni.dev/valid-attachments': [{ containerID: 'gc-1', ifname: 'eth0' }] }),
    );
    assert.equal(r.code, 0, r.stdout);
    assert.deepEqual(
      reservations().map((x) => x.containerId),
      ['gc-1'],
    );
    assert.equal((await hostLinks()).length, 1);
    assert.equal((await sh.run('ip', ['-n', `${P}-cg0`, 'link', 'show', 'eth0'], { allowFail: true })).code, 1);
    assert.equal((await sh.run('ip', ['-n', `${P}-cg1`, 'link', 'show', 'eth0'], { allowFail: true })).code, 0);
    assert.equal((await del(paths[1], 'gc-1')).code, 0);
  });

  it('CHECK passes on what ADD made, fails after tampering, and refuses a prevResult that does not match', async () => {
    const p = await ns('k');
    const a = await add(p, 'chk');
    assert.equal(a.code, 0);
    const check = (prev: unknown) =>
      cni.call(
        'fleetnet',
        { command: 'CHECK', containerId: 'chk', netns: p, ifname: 'eth0' },
        conf({ prevResult: prev }),
      );
    assert.equal((await check(a.out)).code, 0);
    const wrong = await check({ ...a.out, ips: [{ address: '10.61.0.200/24' }] });
    assert.equal((wrong.out as { code: number }).code, 7);
    assert.match((wrong.out as { msg: string }).msg, /prevResult\.ips/);
    const noPrev = await cni.call(
      'fleetnet',
      { command: 'CHECK', containerId: 'chk', netns: p, ifname: 'eth0' },
      conf(),
    );
    assert.match((noPrev.out as { msg: string }).msg, /prevResult/);
    await sh.run('ip', ['-n', `${P}-ck`, 'addr', 'flush', 'dev', 'eth0']);
    const tampered = await check(a.out);
    assert.equal(tampered.code, 1);
    assert.equal((tampered.out as { code: number }).code, 101);
    await sh.run('ip', ['-n', `${P}-ck`, 'link', 'del', 'eth0']);
    assert.match(((await check(a.out)).out as { msg: string }).msg, /missing/);
    assert.equal((await del(p, 'chk')).code, 0);
  });

  it('STATUS: 0 with free addresses; 50 when the pool is full or no agent answers', async () => {
    assert.equal((await cni.call('fleetnet', { command: 'STATUS' }, conf())).code, 0);
    const down = await cni.call(
      'fleetnet',
      { command: 'STATUS', extra: { FLEETNET_AGENT_SOCKET: join(dir, 'none.sock') } },
      conf(),
    );
    assert.equal((down.out as { code: number }).code, 50);
    const tiny = conf({ name: 'tiny', subnet: '10.62.0.0/30', gateway: undefined });
    const p = await ns('s');
    const a = await add(p, 'st', tiny);
    assert.equal(a.code, 0, a.stdout);
    assert.equal((await add(await ns('s2'), 'st2', tiny)).code, 0);
    const full = await cni.call('fleetnet', { command: 'STATUS' }, tiny);
    assert.equal((full.out as { code: number }).code, 50);
    const old = await cni.call('fleetnet', { command: 'STATUS' }, conf({ cniVersion: '1.0.0' }));
    assert.equal((old.out as { code: number }).code, 1);
    assert.equal((await del(p, 'st', tiny)).code, 0);
    assert.equal((await del(undefined, 'st2', tiny)).code, 0);
  });

  it("bad input: the spec's error JSON with the right code naming the field; nothing made", async () => {
    const p = await ns('b');
    const before = await hostLinks();
    const cases: [CniEnv, unknown, number, RegExp][] = [
      [{ command: 'ADD', containerId: 'b', netns: p, ifname: 'eth0' }, '{"cniVersion": "1.1.0", "name": ', 6, /decode/],
      [{ command: 'ADD', containerId: 'b', ifname: 'eth0' }, conf(), 4, /CNI_NETNS/],
      [
        { command: 'ADD', containerId: 'b', netns: p, ifname: 'eth0', extra: { CNI_COMMAND: 'FROB' } },
        conf(),
        4,
        /CNI_COMMAND/,
      ],
      [{ command: 'ADD', containerId: 'b', netns: p, ifname: 'eth0' }, conf({ cniVersion: '0.2.0' }), 1, /cniVersion/],
      [{ command: 'ADD', containerId: 'b', netns: p, ifname: 'eth0' }, conf({ subnet: '10.61.0.0/33' }), 7, /subnet/],
      [
        { command: 'ADD', containerId: 'b', netns: p, ifname: 'eth0' },
        conf({ gateway: '10.9.9.9' }),
        7,
        /gateway.*not in/,
      ],
      [{ command: 'ADD', containerId: 'b', netns: p, ifname: 'eth0' }, conf({ kind: 'tunnel' }), 7, /kind/],
      [
        { command: 'ADD', containerId: 'b', netns: p, ifname: 'eth0' },
        conf({ name: 'unknown', subnet: undefined, gateway: undefined }),
        7,
        /subnet/,
      ],
      [
        { command: 'ADD', containerId: 'b', netns: p, ifname: 'eth0' },
        conf({ prevResult: { ips: [{ address: 'nonsense' }] } }),
        7,
        /prevResult\.ips\[0\]\.address/,
      ],
      [{ command: 'ADD', containerId: 'b', netns: p, ifname: 'a/b' }, conf(), 4, /CNI_IFNAME/],
    ];
    for (const [env, c, code, msg] of cases) {
      const r = await cni.call('fleetnet', env, c);
      assert.equal(r.code, 1, `${JSON.stringify(c)}: ${r.stdout}`);
      const e = r.out as { cniVersion: string; code: number; msg: string };
      assert.equal(e.code, code, r.stdout);
      assert.match(e.msg, msg);
      assert.equal(typeof e.cniVersion, 'string');
    }
    assert.deepEqual(await hostLinks(), before);
    assert.deepEqual(reservations(), []);
    assert.deepEqual(reservations('unknown'), []);
  });

  it("the agent's Cni RPC (gRPC, for other clients than the plugin) answers as the CNI socket does", async () => {
    const p = await ns('g');
    const conn = connectAgent(agent.socket);
    try {
      const req = { plugin: 'fleetnet', containerId: 'grpc-1', netns: p, ifname: 'eth0', args: '', path: '' };
      const config = Buffer.from(JSON.stringify(conf()));
      const a = await conn.call(conn.client.cni, { ...req, command: 'ADD', config });
      assert.equal(a.code, 0, a.msg);
      assert.match(
        (JSON.parse(Buffer.from(a.result).toString()) as { ips: { address: string }[] }).ips[0]!.address,
        /^10\.61\.0\./,
      );
      const bad = await conn.call(conn.client.cni, { ...req, command: 'ADD', config: Buffer.from('{') });
      assert.equal(bad.code, 6);
      assert.equal((await conn.call(conn.client.cni, { ...req, command: 'DEL', config })).code, 0);
    } finally {
      conn.close();
    }
    assert.deepEqual(reservations(), []);
  });

  it('results in 0.4.0 carry the IP version', async () => {
    const p = await ns('v');
    const c = conf({ cniVersion: '0.4.0' });
    const a = await add(p, 'v04', c);
    assert.equal(a.code, 0, a.stdout);
    assert.equal((a.out as { ips: { version: string }[] }).ips[0]!.version, '4');
    assert.equal((await del(p, 'v04', c)).code, 0);
  });
});

describe("DEL against the agent's lifecycle re-apply", () => {
  it('with a full pass every 100 ms, 20 parallel ADD+DELs leave no host link (a DEL is never undone)', async () => {
    const host = `${P}-lh`;
    await addNs(host);
    made.push(host);
    const busy = await startAgentIn(host, join(dir, 'agent-busy'), ['--lifecycle-pass-ms', '100']);
    try {
      const drv = await CniDriver.install(join(dir, 'busy'), busy.socket, host);
      const paths = await Promise.all(Array.from({ length: 20 }, (_, i) => ns(`l${i}`)));
      const c = conf({ name: 'busy', subnet: '10.65.0.0/24', gateway: '10.65.0.254' });
      const one = (command: 'ADD' | 'DEL', p: string, i: number) =>
        drv.call('fleetnet', { command, containerId: `l-${i}`, netns: p, ifname: 'eth0' }, c);
      const adds = await Promise.all(paths.map((p, i) => one('ADD', p, i)));
      for (const r of adds) assert.equal(r.code, 0, r.stdout);
      const dels = await Promise.all(paths.map((p, i) => one('DEL', p, i)));
      for (const r of dels) assert.equal(r.code, 0, r.stdout);
      await new Promise((r) => setTimeout(r, 500)); // a few passes after the last DEL
      const links = JSON.parse((await sh.run('ip', ['-n', host, '-j', 'link', 'show'])).stdout) as { ifname: string }[];
      assert.deepEqual(
        links.map((l) => l.ifname).filter((n) => n.startsWith('fn')),
        [],
      );
    } finally {
      await busy.stop();
    }
  });
});
