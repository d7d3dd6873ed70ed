// CNI conformance (there is no official suite): the `fleetnet` and `fleetnet-ipam` plugins, as
// installed by `fleetnet cni install`, driven with the spec's environment and stdin against a
// real agent running in a host namespace; containers are namespaces. Local pools (no controller).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectAgent } from '../../cli/client/agent.js';
import { cli, startAgentIn, type AgentProc } from '../helpers/agent-process.js';
import { ExecRunner } from '../../common/runner.js';
import { CniDriver, type CniEnv, type CniOutcome } from '../helpers/cni.js';
import { addNs, delNs, sh, uniquePrefix } from '../helpers/netns.js';

const P = uniquePrefix('cn');
const HOST = `${P}-h`;
const BR = 'br-cn';
const made: string[] = [];
let agent: AgentProc;
let dir: string;
let cni: CniDriver;

const conf = (extra: Record<string, unknown> = {}) => ({
  cniVersion: '1.1.0',
  name: 'cnt',
  type: 'fleetnet',
  bridge: BR,
  subnet: '10.61.0.0/24',
  gateway: '10.61.0.254',
  ...extra,
});
const ns = async (i: number | string) => {
  const n = `${P}-c${i}`;
  made.push(n);
  return addNs(n);
};
const add = (netns: string, id: string, c: unknown = conf(), ifname = 'eth0') =>
  cni.call('fleetnet', { command: 'ADD', containerId: id, netns, ifname }, c);
const del = (netns: string | undefined, id: string, c: unknown = conf(), ifname = 'eth0') =>
  cni.call('fleetnet', { command: 'DEL', containerId: id, ifname, ...(netns ? { netns } : {}) }, c);
const reservations = (net = 'cnt') => {
  try {
    return Object.values(
      (
        JSON.parse(readFileSync(join(agent.stateDir, 'cni', `${net}.json`), 'utf8')) as {
          reservations: Record<string, { addresses: string[]; containerId: string }>;
        }
      ).reservations,
    );
  } catch {
    return [];
  }
};
const hostLinks = async () =>
  (JSON.parse((await sh.run('ip', ['-n', HOST, '-j', 'link', 'show'])).stdout) as { ifname: string }[])
    .map((l) => l.ifname)
    .filter((n) => n.startsWith('fn'))
    .sort();
const ipOf = (r: { out?: Record<string, unknown> }) =>
  ((r.out?.ips as { address: string }[] | undefined) ?? [])[0]?.address ?? '';

before(async () => {
  await addNs(HOST);
  dir = mkdtempSync(join(tmpdir(), 'fleetnet-cni-'));
  agent = await startAgentIn(HOST, join(dir, 'agent'));
  cni = await CniDriver.install(dir, agent.socket, HOST);
});

after(async () => {
  await agent?.stop();
  for (const n of [...made, HOST]) await delNs(n);
  rmSync(dir, { recursive: true, force: true });
});

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

  it('a failed ADD leaves nothing (no link, no reservation); DEL after it succeeds', async () => {
    const gone = await add(`/run/netns/${P}-never`, 'fail-1');
    assert.equal(gone.code, 1);
    assert.equal((gone.out as { code: number }).code, 3);
    const p = await ns('f');
    // The container already has eth0: the attach fails after the host side was made, and undoes it.
    await sh.run('ip', ['-n', `${P}-cf`, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p']);
    const r = await add(p, 'fail-2');
    assert.equal(r.code, 1, r.stdout);
    assert.ok((r.out as { code: number }).code >= 100, r.stdout);
    assert.deepEqual(reservations(), []);
    assert.deepEqual(await hostLinks(), []);
    for (const id of ['fail-1', 'fail-2']) assert.equal((await del(p, id)).code, 0);
  });

  it('GC with a partial valid list frees the rest', async () => {
    const paths = await Promise.all([0, 1, 2].map((i) => ns(`g${i}`)));
    for (const [i, p] of paths.entries()) assert.equal((await add(p, `gc-${i}`)).code, 0);
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

describe('fleetnet-ipam under the reference bridge plugin', () => {
  const bconf = (extra: Record<string, unknown> = {}) => ({
    cniVersion: '1.0.0',
    name: 'refnet',
    type: 'bridge',
    bridge: 'br-ref',
    isGateway: false,
    ipam: {
      type: 'fleetnet-ipam',
      subnet: '10.63.0.0/24',
      gateway: '10.63.0.1',
      routes: [{ dst: '10.64.0.0/16', gw: '10.63.0.1' }],
    },
    ...extra,
  });
  const bridge = (e: CniEnv, c: unknown) => cni.call('/usr/lib/cni/bridge', e, c);

  it('ADD gives two containers addresses that ping; CHECK; GC frees; DEL releases; twice is fine', async () => {
    const [a, b] = await Promise.all([ns('ra'), ns('rb')]);
    const ra = await bridge({ command: 'ADD', containerId: 'ref-a', netns: a, ifname: 'eth0' }, bconf());
    assert.equal(ra.code, 0, ra.stdout + ra.stderr);
    const rb = await bridge({ command: 'ADD', containerId: 'ref-b', netns: b, ifname: 'eth0' }, bconf());
    assert.equal(rb.code, 0, rb.stdout + rb.stderr);
    const [ipa, ipb] = [ipOf(ra), ipOf(rb)];
    assert.notEqual(ipa, ipb);
    assert.match(ipa, /^10\.63\.0\.\d+\/24$/);
    assert.deepEqual(
      (ra.out as { routes: { dst: string }[] }).routes.map((r) => r.dst),
      ['10.64.0.0/16'],
    );
    assert.equal(
      (
        await sh.run('ip', ['netns', 'exec', `${P}-cra`, 'ping', '-c', '1', '-W', '2', ipb.split('/')[0]!], {
          allowFail: true,
        })
      ).code,
      0,
    );
    assert.deepEqual(
      reservations('refnet')
        .map((r) => r.addresses[0])
        .sort(),
      [ipa, ipb].sort(),
    );
    // The bridge takes the lowest MAC of its ports: only the latest ADD's result still names its MAC.
    const chkEnv = { command: 'CHECK' as const, containerId: 'ref-b', netns: b, ifname: 'eth0' };
    const chk = await bridge(chkEnv, bconf({ prevResult: rb.out }));
    assert.equal(chk.code, 0, chk.stdout + chk.stderr);
    const gc = await cni.call(
      'fleetnet-ipam',
      { command: 'GC' },
      bconf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'ref-a', ifname: 'eth0' }] }),
    );
    assert.equal(gc.code, 0, gc.stdout);
    assert.deepEqual(
      reservations('refnet').map((r) => r.containerId),
      ['ref-a'],
    );
    for (let i = 0; i < 2; i++) {
      for (const [id, p] of [
        ['ref-a', a],
        ['ref-b', b],
      ] as const) {
        const d = await bridge(
          { command: 'DEL', containerId: id, netns: p, ifname: 'eth0' },
          bconf({ prevResult: id === 'ref-a' ? ra.out : rb.out }),
        );
        assert.equal(d.code, 0, d.stdout + d.stderr);
      }
    }
    assert.deepEqual(reservations('refnet'), []);
    await sh.run('ip', ['-n', HOST, 'link', 'del', 'br-ref'], { allowFail: true });
  });

  it('an IPAM config error reaches the runtime through the bridge plugin with its code', async () => {
    const p = await ns('rx');
    const r = await bridge(
      { command: 'ADD', containerId: 'ref-x', netns: p, ifname: 'eth0' },
      bconf({ ipam: { type: 'fleetnet-ipam', subnet: 'nope' } }),
    );
    assert.equal(r.code, 1);
    assert.equal((r.out as { code: number }).code, 7, r.stdout);
    assert.match((r.out as { msg: string }).msg, /ipam\.subnet/);
    await sh.run('ip', ['-n', HOST, 'link', 'del', 'br-ref'], { allowFail: true });
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

describe('the Node plugin (the fallback where no C compiler built the native one)', () => {
  let node: CniDriver;
  before(async () => {
    node = await CniDriver.install(join(dir, 'node'), agent.socket, HOST, new ExecRunner(), ['--node-plugin']);
  });
  const nconf = (extra: Record<string, unknown> = {}) =>
    conf({ name: 'nodenet', subnet: '10.66.0.0/24', gateway: '10.66.0.254', ...extra });

  it('is installed as a Node launcher under both names', () => {
    for (const name of ['fleetnet', 'fleetnet-ipam']) {
      assert.match(readFileSync(join(node.binDir, name), 'utf8'), /^#!.*node.*\n[^]*cni-plugin\.cjs/, name);
    }
  });

  it('without an agent, answers as the native plugin does (the socket it tried, code, version)', async () => {
    const none = { FLEETNET_AGENT_SOCKET: '/nonexistent/e.sock' };
    const cases: [string, CniEnv, unknown][] = [
      [
        'fleetnet',
        { command: 'ADD', containerId: 'x', netns: '/run/netns/x', ifname: 'eth0', extra: none },
        { cniVersion: '1.0.0', agentSocket: '/nonexistent/a.sock' },
      ],
      [
        'fleetnet-ipam',
        { command: 'DEL', containerId: 'x', ifname: 'eth0', extra: none },
        '{"cniVersion":"0.4.0","ipam":{"type":"fleetnet-ipam","agentSocket":"\\/nonexistent\\/i.sock"}}',
      ],
      [
        'fleetnet',
        { command: 'STATUS', extra: none },
        { cniVersion: '1.1.0', prevResult: { agentSocket: '/nonexistent/p.sock' }, ipam: [{ agentSocket: '/x' }] },
      ],
      [
        'fleetnet',
        { command: 'CHECK', extra: none },
        '{"cniVersion": "1.0.0", "agentSocket": "/nonexistent/a.sock"} trailing',
      ],
      ['fleetnet', { command: 'GC', extra: none }, { cniVersion: '1.1.0', agentSocket: '/nonexistent/\u00e9.sock' }],
      ['fleetnet', { command: 'ADD', extra: { ...none, CNI_COMMAND: undefined } }, {}],
      ['fleetnet', { command: 'ADD', extra: { ...none, CNI_COMMAND: 'add' } }, {}],
    ];
    for (const [plugin, e, c] of cases) {
      const [n, j] = await Promise.all([node.call(plugin, e, c), cni.call(plugin, e, c)]);
      const strip = (o: CniOutcome) => ({ code: o.code, out: { ...o.out, details: undefined } });
      assert.deepEqual(
        strip(j),
        strip(n),
        `${plugin} ${e.command} ${JSON.stringify(c)}: native ${j.stdout} node ${n.stdout}`,
      );
    }
  });

  it('VERSION without an agent; STATUS 50 without an agent; bad input with its code', async () => {
    const v = await node.call(
      'fleetnet',
      { command: 'VERSION', extra: { FLEETNET_AGENT_SOCKET: '/nonexistent.sock' } },
      { cniVersion: '1.1.0' },
    );
    assert.deepEqual(v.out, { cniVersion: '1.1.0', supportedVersions: ['0.4.0', '1.0.0', '1.1.0'] });
    const down = await node.call(
      'fleetnet',
      { command: 'STATUS', extra: { FLEETNET_AGENT_SOCKET: join(dir, 'none.sock') } },
      nconf(),
    );
    assert.equal((down.out as { code: number }).code, 50);
    const env = { command: 'ADD' as const, containerId: 'nb', netns: '/run/netns/none', ifname: 'eth0' };
    const cases: [CniEnv, unknown, number][] = [
      [env, '{"cniVersion": ', 6],
      [{ ...env, netns: undefined }, nconf(), 4],
      [{ ...env, extra: { CNI_COMMAND: 'FROB' } }, nconf(), 4],
      [env, nconf({ cniVersion: '0.2.0' }), 1],
      [env, nconf({ subnet: '10.66.0.0/33' }), 7],
    ];
    for (const [e, c, code] of cases) {
      const r = await node.call('fleetnet', e, c);
      assert.equal(r.code, 1, r.stdout);
      assert.equal((r.out as { code: number }).code, code, r.stdout);
    }
    assert.deepEqual(reservations('nodenet'), []);
  });

  it('ADD, CHECK, DEL twice; fleetnet-ipam under the reference bridge plugin', async () => {
    const p = await ns('n');
    const a = await node.call('fleetnet', { command: 'ADD', containerId: 'n-1', netns: p, ifname: 'eth0' }, nconf());
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.match(ipOf(a), /^10\.66\.0\.\d+\/24$/);
    const chk = await node.call(
      'fleetnet',
      { command: 'CHECK', containerId: 'n-1', netns: p, ifname: 'eth0' },
      nconf({ prevResult: a.out }),
    );
    assert.equal(chk.code, 0, chk.stdout);
    for (let i = 0; i < 2; i++) {
      assert.equal(
        (await node.call('fleetnet', { command: 'DEL', containerId: 'n-1', ifname: 'eth0' }, nconf())).code,
        0,
      );
    }
    assert.deepEqual(reservations('nodenet'), []);
    const b = await ns('nb');
    const bconf = {
      cniVersion: '1.0.0',
      name: 'nodeipam',
      type: 'bridge',
      bridge: 'br-nref',
      ipam: { type: 'fleetnet-ipam', subnet: '10.67.0.0/24' },
    };
    const env = { containerId: 'n-2', netns: b, ifname: 'eth0' };
    const r = await node.call('/usr/lib/cni/bridge', { command: 'ADD', ...env }, bconf);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(ipOf(r), /^10\.67\.0\.\d+\/24$/);
    assert.equal((await node.call('/usr/lib/cni/bridge', { command: 'DEL', ...env }, bconf)).code, 0);
    assert.deepEqual(reservations('nodeipam'), []);
    await sh.run('ip', ['-n', HOST, 'link', 'del', 'br-nref'], { allowFail: true });
  });
});
