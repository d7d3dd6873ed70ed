// Kernel tunnels of Linux-bridge networks. VXLAN: one device per network (`nolearning`), master
// the network's bridge, with one all-zeros flood entry per peer (head-end replication: a frame
// is sent once to each peer and never back into the mesh, so no loop can form). gretap: one
// device per peer, an `isolated` bridge port (isolated ports never forward to one another).
// Devices carry the alias `fleetnet-mesh:<network>`, which is how a read-back finds them again; a bridge the mesh
// makes carries `fleetnet:owned`, as attach marks its bridges, so it goes once nothing uses it.
import { FleetnetError, unsupported } from '../../common/errors.js';
import { VXLAN_PORT, type Tunnel } from '../../common/mesh.js';
import type { Runner } from '../../common/runner.js';
import { line, parseJsonArrays } from '../linux/ip.js';
import { OWNED_ALIAS } from '../linux/sysfs.js';

export const ALIAS_PREFIX = 'fleetnet-mesh:';
const FLOOD_MAC = '00:00:00:00:00:00';

interface LinkJson {
  ifname: string;
  ifalias?: string;
  master?: string;
  operstate?: string;
  mtu?: number;
  linkinfo?: {
    info_kind?: string;
    info_data?: { id?: number; local?: string; remote?: string; port?: number; ikey?: string; key?: string };
  };
}

interface FdbJson {
  mac: string;
  ifname?: string;
  dst?: string;
}

export interface MeshDevice {
  network: string;
  kind: string;
  /** The bridge it is a port of ('' when none). */
  bridge: string;
  mtu?: number;
  operstate?: string;
}

export interface BridgeMeshState {
  /** Names of Linux bridges present. */
  bridges: Set<string>;
  /** fleetnet's devices (by name) with their network and bridge. */
  devices: Map<string, MeshDevice>;
  tunnels: Tunnel[];
}

/** gretap keys read back as a dotted quad or a number, depending on iproute2. */
function keyOf(v: string | undefined): number {
  if (!v) return 0;
  if (/^\d+$/.test(v)) return Number(v);
  const p = v.split('.').map(Number);
  return p.length === 4 ? ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0 : 0;
}

export class BridgeTunnels {
  constructor(private readonly runner: Runner) {}

  /** Everything fleetnet made, from `ip -json -d link` and `bridge -json fdb` (two execs). */
  async list(peerNames: ReadonlyMap<string, string> = new Map()): Promise<BridgeMeshState> {
    const links = JSON.parse(
      (await this.runner.run('ip', ['-json', '-d', 'link', 'show'])).stdout || '[]',
    ) as LinkJson[];
    const bridges = new Set(links.filter((l) => l.linkinfo?.info_kind === 'bridge').map((l) => l.ifname));
    const devices = new Map<string, MeshDevice>();
    const tunnels: Tunnel[] = [];
    const vx = new Map<string, LinkJson>();
    for (const l of links) {
      if (!l.ifalias?.startsWith(ALIAS_PREFIX)) continue;
      const kind = l.linkinfo?.info_kind ?? '';
      if (kind !== 'vxlan' && kind !== 'gretap') continue;
      const network = l.ifalias.slice(ALIAS_PREFIX.length);
      devices.set(l.ifname, {
        network,
        kind,
        bridge: l.master ?? '',
        ...(l.mtu ? { mtu: l.mtu } : {}),
        ...(l.operstate ? { operstate: l.operstate } : {}),
      });
      const d = l.linkinfo?.info_data ?? {};
      if (kind === 'vxlan') vx.set(l.ifname, l);
      else {
        tunnels.push({
          network,
          kind: 'bridge',
          encap: 'gre',
          key: keyOf(d.ikey ?? d.key),
          bridge: l.master ?? '',
          port: l.ifname,
          peer: peerNames.get(d.remote ?? '') ?? '',
          peerIp: d.remote ?? '',
          localIp: d.local ?? '',
        });
      }
    }
    if (vx.size > 0) {
      const fdb = JSON.parse((await this.runner.run('bridge', ['-json', 'fdb', 'show'])).stdout || '[]') as FdbJson[];
      for (const f of fdb) {
        const l = f.ifname ? vx.get(f.ifname) : undefined;
        if (!l || f.mac !== FLOOD_MAC || !f.dst) continue;
        const d = l.linkinfo?.info_data ?? {};
        tunnels.push({
          network: l.ifalias!.slice(ALIAS_PREFIX.length),
          kind: 'bridge',
          encap: 'vxlan',
          key: d.id ?? 0,
          bridge: l.master ?? '',
          port: l.ifname,
          peer: peerNames.get(f.dst) ?? '',
          peerIp: f.dst,
          localIp: d.local ?? '',
          dstPort: d.port ?? VXLAN_PORT,
        });
      }
    }
    return { bridges, devices, tunnels };
  }

  /** `ip -batch` lines that make the network's Linux bridge, marked as fleetnet's. */
  bridgeLines(bridge: string): string[] {
    return [
      line('link', 'add', bridge, 'type', 'bridge'),
      line('link', 'set', 'dev', bridge, 'alias', OWNED_ALIAS, 'up'),
    ];
  }

  /** `ip -batch` lines that make a tunnel's device (VXLAN: the network's; gretap: the peer's). */
  deviceLines(t: Tunnel, mtu: number): string[] {
    const add =
      t.encap === 'vxlan'
        ? line(
            'link',
            'add',
            t.port,
            'type',
            'vxlan',
            'id',
            t.key,
            'local',
            t.localIp,
            'dstport',
            t.dstPort ?? VXLAN_PORT,
            'nolearning',
          )
        : line('link', 'add', t.port, 'type', 'gretap', 'local', t.localIp, 'remote', t.peerIp, 'key', t.key);
    const lines = [
      add,
      line('link', 'set', 'dev', t.port, 'alias', `${ALIAS_PREFIX}${t.network}`, 'mtu', mtu, 'master', t.bridge, 'up'),
    ];
    if (t.encap === 'gre') lines.push(line('link', 'set', 'dev', t.port, 'type', 'bridge_slave', 'isolated', 'on'));
    return lines;
  }

  async batch(lines: string[]): Promise<void> {
    if (lines.length) await this.runner.run('ip', ['-batch', '-'], { input: lines.join('\n') + '\n' });
  }

  floodArgs(op: 'append' | 'del', t: Tunnel): string[] {
    return ['fdb', op, FLOOD_MAC, 'dev', t.port, 'dst', t.peerIp];
  }

  /** One entry: `bridge fdb append …`; several (a joining host): one `bridge -batch -`. */
  async addFloods(ts: Tunnel[]): Promise<void> {
    if (ts.length === 1) await this.runner.run('bridge', this.floodArgs('append', ts[0]!));
    else if (ts.length > 1)
      await this.runner.run('bridge', ['-batch', '-'], {
        input: ts.map((t) => line(...this.floodArgs('append', t))).join('\n') + '\n',
      });
  }

  async removeFlood(t: Tunnel): Promise<void> {
    await this.runner.run('bridge', this.floodArgs('del', t), { allowFail: true });
  }

  async deleteDevice(name: string): Promise<void> {
    const r = await this.runner.run('ip', ['link', 'del', 'dev', name], { allowFail: true });
    if (r.code !== 0 && !/Cannot find device|does not exist/.test(r.stderr)) {
      throw new FleetnetError('failed', `cannot delete tunnel device ${name}: ${r.stderr.trim()}`, {
        hint: `look at it with: ip -d link show ${name}`,
      });
    }
  }
}

/** A clear answer when the kernel lacks gretap, instead of `ip`'s "Unknown device type". */
export function gretapMissing(network: string) {
  return unsupported(
    `network ${network} asks for GRE on a Linux bridge, but this host's kernel has no ` +
      `gretap (CONFIG_NET_IPGRE, module ip_gre)`,
    'load ip_gre (modprobe ip_gre), or mesh the network with VXLAN (--mesh vxlan), ' +
      'or use an OVS network (user-space GRE)',
  );
}
