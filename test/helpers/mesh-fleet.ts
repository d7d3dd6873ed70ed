// The mesh tests' fleet: a lab (lab/, `labUp` without agents: switch netns, hosts with their
// own user-space OVS and br-phy underlay) plus, per host, an in-process Mesher whose Runner runs
// inside the host's namespace and records every call — the agent's mesh as the agent runs it,
// with a log to count changes in. "Containers" are namespaces plugged into a host's bridge.
// destroy() removes them and takes the lab down (`labDown`: by record and by prefix).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../../common/logger.js';
import { RecordingRunner, type RecordedCall } from '../../common/runner.js';
import { Mesher } from '../../agent/mesh/mesher.js';
import type { MeshResult } from '../../agent/mesh/spec.js';
import { planMesh, type MeshNetwork } from '../../common/mesh/plan.js';
import { labDown } from '../../lab/down.js';
import { layoutOf, parseUnderlay, DEFAULT_UNDERLAY } from '../../lab/layout.js';
import { labUp } from '../../lab/up.js';
import { addNs, delNs, NsRunner, sh } from './netns.js';

export const UNDERLAY_NET = '10.99.0';

export interface SimHost {
  name: string;
  index: number;
  netns: string;
  nsPath: string;
  underlayIp: string;
  /** The host's port on the underlay switch (in the switch namespace). */
  switchPort: string;
  dir: string;
  ovsDb: string;
  /** The host's agent runner: runs inside the host's netns, records every call. */
  runner: RecordingRunner;
  mesher: Mesher;
}

export interface SimContainer {
  name: string;
  netns: string;
  host: SimHost;
  ip: string;
}

/** Commands that change something (reads are not changes): the basis of "changes per join". */
export function isMeshWrite(c: RecordedCall): boolean {
  if (c.cmd === 'ovs-vsctl') return c.args.some((a) => a === 'add-port' || a === 'del-port' || a === 'add-br');
  if (c.cmd === 'ovsdb-client') return c.args.includes('transact');
  if (c.cmd === 'ip') return c.args.includes('-batch') || (c.args[0] === 'link' && c.args[1] === 'del');
  if (c.cmd === 'bridge') return c.args[0] === '-batch' || (c.args[0] === 'fdb' && c.args[1] !== 'show');
  return c.cmd === 'nft' && c.args[0] === '-f';
}

export class MeshFleet {
  readonly hosts: SimHost[] = [];
  readonly containers: SimContainer[] = [];
  private readonly namespaces: string[] = [];
  readonly switchNs: string;
  readonly switchBridge: string;
  readonly dir: string;

  /** `name` is the lab's name (1-8 of a-z 0-9, unique per run, e.g. newRunId('m')). */
  private constructor(readonly prefix: string) {
    const layout = layoutOf(prefix, 1, parseUnderlay(DEFAULT_UNDERLAY, 1));
    this.switchNs = layout.switchNetns;
    this.switchBridge = layout.switchBridge;
    this.dir = layout.dir;
  }

  /** `watchBfd`: each host's Mesher keeps BFD state from a live ovsdb-client monitor, as the agent does. */
  static async create(name: string, hosts: number, o: { watchBfd?: boolean } = {}): Promise<MeshFleet> {
    const f = new MeshFleet(name);
    try {
      const lab = await labUp({ name, hosts, agents: false });
      const layout = layoutOf(name, hosts, parseUnderlay(lab.underlay, hosts));
      for (const h of layout.hosts) {
        const nsPath = `/run/netns/${h.netns}`;
        const runner = new RecordingRunner(new NsRunner(nsPath, sh));
        const stateDir = join(h.dir, 'mesh-agent');
        mkdirSync(stateDir, { recursive: true });
        const mesher = new Mesher({
          runner,
          ovsDb: h.ovsDb,
          stateDir,
          log: silentLogger(),
          hasGretap: async () => false,
          ...(o.watchBfd ? { watchBfd: true } : {}),
        });
        f.hosts.push({
          name: h.name,
          index: h.index,
          netns: h.netns,
          nsPath,
          underlayIp: h.underlayIp,
          switchPort: h.switchPort,
          dir: h.dir,
          ovsDb: h.ovsDb,
          runner,
          mesher,
        });
      }
      return f;
    } catch (err) {
      await f.destroy();
      throw err;
    }
  }

  host(name: string): SimHost {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  /** A "container" (own netns) on a host, plugged into an OVS or Linux bridge that must exist. */
  async container(
    hostName: string,
    kind: 'ovs' | 'bridge',
    bridge: string,
    cidr: string,
    mtu: number,
  ): Promise<SimContainer> {
    const host = this.host(hostName);
    const n = this.containers.length + 1;
    const netns = `${this.prefix}-c${n}`;
    await addNs(netns);
    this.namespaces.push(netns);
    const hostIf = `ct${n}`;
    await sh.run('ip', [
      '-n',
      netns,
      'link',
      'add',
      'eth1',
      'mtu',
      String(mtu),
      'type',
      'veth',
      'peer',
      'name',
      hostIf,
      'mtu',
      String(mtu),
      'netns',
      host.netns,
    ]);
    await sh.run('ip', ['-n', netns, '-batch', '-'], { input: `addr add ${cidr} dev eth1\nlink set dev eth1 up\n` });
    if (kind === 'ovs') {
      await sh.run('ovs-vsctl', [`--db=${host.ovsDb}`, '--timeout=10', 'add-port', bridge, hostIf]);
      await sh.run('ip', ['-n', host.netns, 'link', 'set', hostIf, 'up']);
    } else {
      await sh.run('ip', ['-n', host.netns, 'link', 'set', hostIf, 'master', bridge, 'up']);
    }
    const c = { name: `c${n}`, netns, host, ip: cidr.split('/')[0]! };
    this.containers.push(c);
    return c;
  }

  /** True when `count` DF-less (or DF with `size`) pings all get an answer; each waits ≤ 2 s. */
  async ping(
    from: SimContainer | string,
    to: string,
    o: { count?: number; size?: number; df?: boolean; intervalS?: string } = {},
  ): Promise<{ ok: boolean; out: string }> {
    const ns = typeof from === 'string' ? from : from.netns;
    const args = ['netns', 'exec', ns, 'ping', '-n', '-c', String(o.count ?? 1), '-W', '2'];
    if (o.intervalS) args.push('-i', o.intervalS);
    if (o.size !== undefined) args.push('-s', String(o.size));
    if (o.df) args.push('-M', 'do');
    const r = await sh.run('ip', [...args, to], { allowFail: true, timeoutMs: 60_000 });
    return { ok: r.code === 0, out: r.stdout + r.stderr };
  }

  /** Pings until one answer comes (new tunnels, BFD and ARP need a moment); bounded to `tries`. */
  async pingEventually(from: SimContainer, to: string, tries = 10): Promise<boolean> {
    for (let i = 0; i < tries; i++) if ((await this.ping(from, to)).ok) return true;
    return false;
  }

  /** What the controller does: plan, then hand each host its part under a new generation. */
  async applyPlan(
    nets: MeshNetwork[],
    generation: number,
    datapathType?: string,
    o: { parallel?: boolean; only?: string[] } = {},
  ): Promise<Map<string, MeshResult>> {
    const out = new Map<string, MeshResult>();
    const one = async (p: ReturnType<typeof planMesh>[number]) => {
      const networks = p.networks.map((n) => ({ ...n, ...(datapathType ? { datapathType } : {}) }));
      out.set(p.host, await this.host(p.host).mesher.apply({ generation, networks }));
    };
    const plans = planMesh(
      this.hosts.map((h) => ({ name: h.name, underlayIp: h.underlayIp })),
      nets,
    ).filter((p) => !o.only || o.only.includes(p.host));
    if (o.parallel) await Promise.all(plans.map(one));
    else for (const p of plans) await one(p);
    return out;
  }

  /** How many ARP requests for `target` each receiver sees while `sender` asks once (fixed 3 s window). */
  async arpRequestsSeen(sender: SimContainer, receivers: SimContainer[], target: string): Promise<number[]> {
    const hex = target
      .split('.')
      .map((o) => Number(o).toString(16).padStart(2, '0'))
      .join('');
    const caps = receivers.map((x) =>
      sh.run(
        'ip',
        ['netns', 'exec', x.netns, 'timeout', '3', 'tcpdump', '-l', '-n', '-i', 'eth1', `arp and arp[24:4] = 0x${hex}`],
        { allowFail: true },
      ),
    );
    await new Promise((r) => setTimeout(r, 700)); // the captures are listening
    await sh.run('ip', ['netns', 'exec', sender.netns, 'arping', '-c', '1', '-w', '1', '-I', 'eth1', target], {
      allowFail: true,
    });
    const re = new RegExp(`Request who-has ${target.replace(/\./g, '\\.')}\\b`);
    return Promise.all(caps.map(async (p) => (await p).stdout.split('\n').filter((l) => re.test(l)).length));
  }

  /**
   * A namespace on the underlay that is no member (10.99.0.99), with a kernel VXLAN device of
   * the given VNI aimed at `remote` and the overlay address `overlayCidr`. Removed by destroy().
   */
  async addIntruder(vni: number, remote: string, overlayCidr: string): Promise<string> {
    const x = `${this.prefix}-x`;
    await addNs(x);
    this.namespaces.push(x);
    await sh.run('ip', ['-n', this.switchNs, 'link', 'add', 'px', 'type', 'veth', 'peer', 'name', 'ul0', 'netns', x]);
    await sh.run('ip', ['-n', this.switchNs, 'link', 'set', 'px', 'master', this.switchBridge, 'up']);
    await sh.run('ip', ['-n', x, '-batch', '-'], {
      input:
        `link set ul0 up\naddr add ${UNDERLAY_NET}.99/24 dev ul0\n` +
        `link add vx type vxlan id ${vni} local ${UNDERLAY_NET}.99 remote ${remote} dstport 4789\n` +
        `link set vx up\naddr add ${overlayCidr} dev vx\n`,
    });
    // Checksums filled in as a real NIC would: a veth leaves them to the receiver, and the host's
    // user-space OVS (which reads the underlay with a raw socket) hands them on unfilled; the host's
    // kernel then drops the packets as bad (UdpInCsumErrors), which would make the positive control fail.
    await sh.run('ip', ['netns', 'exec', x, 'ethtool', '-K', 'ul0', 'tx', 'off']);
    return x;
  }

  /** Frames from or about `ip` seen in a container during a 4 s window while `act` runs. */
  async framesSeen(x: SimContainer, ip: string, act: () => Promise<unknown>): Promise<string> {
    const hex = ip
      .split('.')
      .map((o) => Number(o).toString(16).padStart(2, '0'))
      .join('');
    const cap = sh.run(
      'ip',
      [
        'netns',
        'exec',
        x.netns,
        'timeout',
        '4',
        'tcpdump',
        '-l',
        '-n',
        '-i',
        'eth1',
        `host ${ip} or arp[14:4] = 0x${hex}`,
      ],
      { allowFail: true },
    );
    await new Promise((r) => setTimeout(r, 700));
    await act();
    const { stdout, stderr } = await cap;
    if (!/listening on eth1/.test(stderr)) throw new Error(`tcpdump did not run: ${stderr}`);
    return stdout.trim();
  }

  async destroy(): Promise<void> {
    for (const h of this.hosts) h.mesher.stop(true);
    for (const ns of this.namespaces.reverse()) await delNs(ns);
    await labDown({ name: this.prefix });
  }

  /** What of this fleet is still on the machine: namespaces with its prefix, processes naming its dir, the dir. */
  async leftovers(): Promise<string[]> {
    const ns = (await sh.run('ip', ['netns', 'list'])).stdout
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((n) => n.startsWith(`${this.prefix}-`));
    const procs = (await sh.run('pgrep', ['-a', '-f', this.dir], { allowFail: true })).stdout
      .split('\n')
      .filter(Boolean);
    return [
      ...ns.map((n) => `netns ${n}`),
      ...procs.map((p) => `process ${p}`),
      ...(existsSync(this.dir) ? [`dir ${this.dir}`] : []),
    ];
  }
}
