// The `fleetnet` CNI plugin's other kinds (issue 14, item 1), for real in a host namespace with its
// own agent: `macvlan` on a master interface (a veth of the host namespace: never the machine's NIC)
// and `ovs` with a VLAN tag on a private user-space Open vSwitch. Two containers (namespaces) per
// kind get addresses, ping each other, and DEL leaves nothing behind (the OVS bridge fleetnet made
// goes with its last port).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAgentIn, type AgentProc } from '../helpers/agent-process.js';
import { CniDriver } from '../helpers/cni.js';
import { addNs, delNs, sh, uniquePrefix } from '../helpers/netns.js';
import { startOvs } from './parity-env.js';

const P = uniquePrefix('ck');
const HOST = `${P}-h`;
const made: string[] = [];
const cleanups: (() => unknown)[] = [];
let agent: AgentProc;
let dir: string;
let cni: CniDriver;
let ovsDb: string;

const ipOf = (out: Record<string, unknown> | undefined) =>
  ((out?.ips as { address: string }[] | undefined) ?? [])[0]?.address ?? '';
const ping = (netns: string, to: string) =>
  sh.run('ip', ['netns', 'exec', netns, 'ping', '-c', '1', '-W', '2', to], { allowFail: true });

async function twoContainers(kind: string, conf: Record<string, unknown>): Promise<{ nss: string[]; addrs: string[] }> {
  const nss: string[] = [];
  const addrs: string[] = [];
  for (const i of [1, 2]) {
    const n = `${P}-${kind}${i}`;
    made.push(n);
    nss.push(n);
    const r = await cni.call(
      'fleetnet',
      { command: 'ADD', containerId: `${kind}${i}`, netns: await addNs(n), ifname: 'eth0' },
      conf,
    );
    assert.equal(r.code, 0, `${kind} ADD ${i}: ${r.stdout} ${r.stderr}`);
    addrs.push(ipOf(r.out).split('/')[0]!);
  }
  assert.notEqual(addrs[0], addrs[1]);
  let ok = false;
  for (let i = 0; i < 5 && !ok; i++) ok = (await ping(nss[0]!, addrs[1]!)).code === 0;
  assert.ok(ok, `${kind}: container 1 pings container 2 at ${addrs[1]}`);
  return { nss, addrs };
}

async function delBoth(kind: string, conf: Record<string, unknown>, nss: string[]): Promise<void> {
  for (const [i, n] of nss.entries()) {
    const r = await cni.call(
      'fleetnet',
      { command: 'DEL', containerId: `${kind}${i + 1}`, netns: `/run/netns/${n}`, ifname: 'eth0' },
      conf,
    );
    assert.equal(r.code, 0, `${kind} DEL ${i + 1}: ${r.stdout} ${r.stderr}`);
    const links = (await sh.run('ip', ['-n', n, '-o', 'link', 'show'])).stdout;
    assert.doesNotMatch(links, /eth0/, `${kind}: eth0 gone from container ${i + 1}`);
  }
}

before(async () => {
  await addNs(HOST);
  dir = mkdtempSync(join(tmpdir(), 'fleetnet-cnik-'));
  ovsDb = await startOvs({ after: (fn) => cleanups.push(fn) }, HOST, dir);
  // The macvlan master: one end of a veth pair inside the host namespace.
  await sh.run('ip', ['-n', HOST, 'link', 'add', 'mvm0', 'type', 'veth', 'peer', 'name', 'mvm1']);
  for (const l of ['mvm0', 'mvm1']) await sh.run('ip', ['-n', HOST, 'link', 'set', l, 'up']);
  agent = await startAgentIn(HOST, join(dir, 'agent'), ['--ovs-db', ovsDb, '--ovs-datapath', 'netdev']);
  cni = await CniDriver.install(dir, agent.socket, HOST);
});

after(async () => {
  await agent?.stop();
  for (const fn of cleanups) await fn();
  for (const n of [...made, HOST]) await delNs(n);
  rmSync(dir, { recursive: true, force: true });
});

describe('fleetnet CNI plugin: macvlan and OVS with a VLAN', () => {
  it('macvlan (bridge mode) on a master: two containers ping; DEL removes both', async () => {
    const conf = {
      cniVersion: '1.1.0',
      name: 'ckmv',
      type: 'fleetnet',
      kind: 'macvlan',
      master: 'mvm0',
      mode: 'bridge',
      subnet: '10.63.0.0/24',
    };
    const { nss } = await twoContainers('mv', conf);
    const d = JSON.parse((await sh.run('ip', ['-n', nss[0]!, '-j', '-d', 'link', 'show', 'eth0'])).stdout) as {
      linkinfo?: { info_kind?: string };
    }[];
    assert.equal(d[0]?.linkinfo?.info_kind, 'macvlan');
    await delBoth('mv', conf, nss);
  });

  it('ovs with VLAN 12 (user-space datapath): tagged ports, two containers ping; DEL removes the ports', async () => {
    const conf = {
      cniVersion: '1.1.0',
      name: 'ckovs',
      type: 'fleetnet',
      kind: 'ovs',
      bridge: 'ovs-ck',
      vlan: 12,
      ovsDatapath: 'netdev',
      subnet: '10.64.0.0/24',
    };
    const { nss } = await twoContainers('ov', conf);
    const vsctl = (...a: string[]) => sh.run('ovs-vsctl', [`--db=${ovsDb}`, ...a]);
    const ports = (await vsctl('list-ports', 'ovs-ck')).stdout.split('\n').filter(Boolean);
    assert.equal(ports.length, 2, ports.join(' '));
    for (const p of ports)
      assert.equal((await vsctl('get', 'port', p, 'tag')).stdout.trim(), '12', `port ${p} carries VLAN 12`);
    await delBoth('ov', conf, nss);
    const exists = await sh.run('ovs-vsctl', [`--db=${ovsDb}`, 'br-exists', 'ovs-ck'], { allowFail: true });
    assert.equal(exists.code, 2, 'the bridge fleetnet made goes with its last port');
  });
});
