// A host's Open vSwitch as a FakeRunner plays it, with state: bridges (external_ids, ports) and ports (external_ids,
// interface type and options). It answers what the mesh and fleetnet's ownership ask: the mesh's one `list` of
// bridges, ports and interfaces, `find bridge`, `br-get-external-id`, `list-ports`, and `del-port` / `del-br`
// (one or several commands in one transaction); the rest succeeds and changes nothing. The kernel has no tunnel
// device and fleetnet no nft table.
import { FakeRunner, type RecordedCall } from '../../common/runner.js';
import type { Tunnel } from '../../common/mesh.js';

interface FakePort {
  ext: Record<string, string>;
  type: string;
  options: Record<string, string>;
}

const map = (o: Record<string, string>) => ['map', Object.entries(o)];
const uuid = (name: string) => ['uuid', `u-${name}`];

export class FakeOvs {
  readonly bridges = new Map<string, { ext: Record<string, string>; ports: string[] }>();
  readonly ports = new Map<string, FakePort>();
  readonly runner = new FakeRunner((c) => this.answer(c));

  /** A bridge with these external_ids (and its own internal port, as OVS makes it). */
  bridge(name: string, ext: Record<string, string> = {}): this {
    this.bridges.set(name, { ext, ports: [] });
    this.ports.set(name, { ext: {}, type: 'internal', options: {} });
    return this;
  }

  /** A port that is not a tunnel (a container's veth, someone's port) on a bridge. */
  port(bridge: string, name: string, ext: Record<string, string> = {}): this {
    this.bridges.get(bridge)!.ports.push(name);
    this.ports.set(name, { ext, type: '', options: {} });
    return this;
  }

  /** Tunnel ports as a mesh pass makes them (marked with their network and peer). */
  tunnels(ts: readonly Tunnel[]): this {
    for (const t of ts) {
      this.port(t.bridge, t.port, { 'fleetnet-net': t.network, 'fleetnet-peer': t.peer });
      const options = { key: String(t.key), local_ip: t.localIp, remote_ip: t.peerIp };
      this.ports.set(t.port, { ...this.ports.get(t.port)!, type: t.encap, options });
    }
    return this;
  }

  /** The ovs-vsctl commands run that change something. */
  writes(): string[] {
    return this.runner.calls
      .filter((c) => c.cmd === 'ovs-vsctl' && c.args.some((a) => /^(del-port|del-br|add-br|add-port)$/.test(a)))
      .map((c) => c.args.filter((a) => !a.startsWith('--db=') && a !== '--timeout=10').join(' '));
  }

  private answer(c: RecordedCall): { stdout?: string; code?: number } | undefined {
    if (c.cmd === 'ip' && c.args[0] === '-json') return { stdout: '[]' };
    if (c.cmd === 'nft' && c.args[0] === '-j') return { code: 1 };
    if (c.cmd !== 'ovs-vsctl') return undefined;
    const a = c.args.filter((x) => !x.startsWith('--db=') && x !== '--timeout=10');
    if (a.includes('list')) return { stdout: this.listing() };
    if (a.includes('find')) {
      const owned = [...this.bridges].filter(([, b]) => b.ext.fleetnet === 'owned');
      return {
        stdout: JSON.stringify({ headings: ['name', 'external_ids'], data: owned.map(([n, b]) => [n, map(b.ext)]) }),
      };
    }
    let out = '';
    const cmds: string[][] = [[]];
    for (const x of a)
      if (x === '--' && cmds.at(-1)!.length) cmds.push([]);
      else cmds.at(-1)!.push(x);
    for (const cmd of cmds) {
      const [verb, ...rest] = cmd.filter((x) => x !== '--if-exists');
      if (verb === 'br-get-external-id') out = this.bridges.get(rest[0]!)?.ext[rest[1]!] ?? '';
      if (verb === 'list-ports') out = (this.bridges.get(rest[0]!)?.ports ?? []).map((p) => `${p}\n`).join('');
      if (verb === 'del-br') this.delBridge(rest[0]!);
      if (verb === 'del-port') this.delPort(rest.at(-1)!);
    }
    return { stdout: out };
  }

  private delBridge(name: string): void {
    for (const p of this.bridges.get(name)?.ports ?? []) this.ports.delete(p);
    this.ports.delete(name);
    this.bridges.delete(name);
  }

  private delPort(name: string): void {
    for (const b of this.bridges.values()) b.ports = b.ports.filter((p) => p !== name);
    this.ports.delete(name);
  }

  /** `ovs-vsctl --format=json list bridge -- list port -- list interface` with the mesh's columns. */
  private listing(): string {
    const bridges = [...this.bridges].map(([n, b]) => [
      n,
      ['set', [n, ...b.ports].map(uuid)],
      'netdev',
      '00001234',
      map(b.ext),
    ]);
    const ports = [...this.ports].map(([n, p]) => [uuid(n), n, map(p.ext)]);
    const ifaces = [...this.ports].map(([n, p]) => [n, p.type, map(p.options), map({}), map({ enable: 'true' })]);
    return (
      [
        { headings: ['name', 'ports', 'datapath_type', 'datapath_id', 'external_ids'], data: bridges },
        { headings: ['_uuid', 'name', 'external_ids'], data: ports },
        { headings: ['name', 'type', 'options', 'bfd_status', 'bfd'], data: ifaces },
      ]
        .map((t) => JSON.stringify(t))
        .join('\n') + '\n'
    );
  }
}
