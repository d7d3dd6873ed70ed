// OVS tunnel ports of the mesh: one port per (network, peer) on the network's OVS bridge, marked
// `protected` (a frame from one tunnel is never flooded into another), BFD on every tunnel (with
// bfd:decay_min_rx when the agent gives one: an idle tunnel's session slows down; agent/config.ts says why).
// Every call is an argv array through the Runner, against the agent's own --ovs-db.
import { FleetnetError } from '../../common/errors.js';
import type { Tunnel } from '../../common/mesh.js';
import type { Runner } from '../../common/runner.js';
import type { Logger } from 'pino';
import { parseJsonArrays } from '../linux/ip.js';
import {
  datapathProblem,
  hasDatapath,
  oneTransaction,
  ovsMap,
  OVS_MESH_OWNER_KEY,
  OVS_OWNED_KEY,
  OVS_OWNED_VALUE,
  OvsCtl,
} from '../ovs/vsctl.js';
import { newPortsTxn, transactArgs, txnFailure, type NewPort } from '../ovs/ovsdb-txn.js';

export const EXT_NET = 'fleetnet-net';
export const EXT_PEER = 'fleetnet-peer';
/** On a bridge the mesh made: the agent that made it (its owner mark), beside fleetnet=owned and fleetnet-net. */
export const EXT_OWNER = OVS_MESH_OWNER_KEY;

/** A tunnel interface's options (one place for ovs-vsctl's and the OVSDB transaction's). */
const tunnelOptions = (t: Tunnel) => ({ remote_ip: t.peerIp, key: String(t.key), local_ip: t.localIp });
/** fleetnet's marks on a tunnel port: its network and peer. */
const tunnelMarks = (t: Tunnel) => ({ [EXT_NET]: t.network, [EXT_PEER]: t.peer });

type OvsValue = string | number | boolean | [string, unknown];
interface OvsTable {
  data: OvsValue[][];
  headings: string[];
}

/** OVSDB JSON: a set is ["set", [...]]; a set of one is the bare value. */
export function ovsSet(v: unknown): unknown[] {
  if (Array.isArray(v) && v[0] === 'set') return v[1] as unknown[];
  if (Array.isArray(v) && v[0] === 'uuid') return [v];
  return v === undefined || v === null ? [] : [v];
}

function uuid(v: unknown): string {
  return Array.isArray(v) && v[0] === 'uuid' ? String(v[1]) : String(v);
}

function rows(t: OvsTable): Record<string, unknown>[] {
  return t.data.map((r) => Object.fromEntries(t.headings.map((h, i) => [h, r[i]])));
}

/** Tunnels grouped by network and bridge, in order: one transaction each (a failing network leaves the others). */
export function byNetwork(ts: readonly Tunnel[]): Map<string, Tunnel[]> {
  const groups = new Map<string, Tunnel[]>();
  for (const t of ts) groups.set(`${t.network}\0${t.bridge}`, [...(groups.get(`${t.network}\0${t.bridge}`) ?? []), t]);
  return groups;
}

export interface OvsMeshState {
  bridges: Set<string>;
  tunnels: Tunnel[];
  /** name → bfd_status map, for status. */
  bfd: Map<string, Record<string, string>>;
  /** Bridges in the database that ovs-vswitchd could not make (no datapath): why, and the fix. */
  broken: Map<string, FleetnetError>;
  /**
   * Per bridge (from a read of the database, not a settled state): its external_ids and its ports other than its
   * own internal one. Which bridges fleetnet owns, which of them the mesh made, and which are bare.
   */
  bridgeInfo?: Map<string, { ext: Record<string, string>; ports: string[] }>;
  /**
   * Tunnel ports whose BFD is not on or not as this agent sets it (an older agent's port: one made with BFD
   * off whose switch-on never came, another bfd:decay_min_rx): to be added again.
   */
  bfdOff?: Set<string>;
}

export interface OvsTunnelsOptions {
  runner: Runner;
  /** `unix:PATH`; absent: what ovs-vsctl finds by itself. */
  ovsDb?: string;
  /** bfd:decay_min_rx of every tunnel (0: no decay); absent: the key is left alone. */
  bfdDecayMs?: number;
  /** Says (debug) why ports went through ovs-vsctl after all. */
  log?: Logger | undefined;
  /** The agent's owner mark: put on the bridges the mesh makes (EXT_OWNER). */
  ownerMark?: string;
}

/** How the mesh makes a network's bridge when it is absent: its datapath type, and the network it is made for. */
export interface MakeBridge {
  bridge: string;
  network: string;
  datapathType?: string;
}

export class OvsTunnels {
  constructor(private readonly o: OvsTunnelsOptions) {}

  private base(): string[] {
    return new OvsCtl(this.o.runner, this.o.ovsDb).args();
  }

  private vsctl(args: string[]) {
    return this.o.runner.run('ovs-vsctl', [...this.base(), ...args], { timeoutMs: 15_000 });
  }

  /** Every fleetnet tunnel port (external_ids:fleetnet-net set) on this host's OVS, read back in one call. */
  async list(): Promise<OvsMeshState> {
    let out: string;
    try {
      out = (
        await this.vsctl([
          '--format=json',
          '--',
          '--columns=name,ports,datapath_type,datapath_id,external_ids',
          'list',
          'bridge',
          '--',
          '--columns=_uuid,name,external_ids',
          'list',
          'port',
          '--',
          '--columns=name,type,options,bfd_status,bfd',
          'list',
          'interface',
        ])
      ).stdout;
    } catch (err) {
      throw new FleetnetError(
        'unavailable',
        `cannot read this host's Open vSwitch database${this.o.ovsDb ? ` ${this.o.ovsDb}` : ''}`,
        {
          cause: err,
          hint: 'start ovsdb-server/ovs-vswitchd, or give the agent the right --ovs-db unix:PATH',
        },
      );
    }
    const [br, port, iface] = parseJsonArrays(out).map((a) => rows(a[0] as OvsTable));
    const bridgeOfPort = new Map<string, string>();
    for (const b of br ?? []) for (const p of ovsSet(b.ports)) bridgeOfPort.set(uuid(p), String(b.name));
    const portName = new Map((port ?? []).map((p) => [uuid(p._uuid), String(p.name)]));
    const bridgeInfo = new Map(
      (br ?? []).map((b) => {
        const ports = ovsSet(b.ports).map((p) => portName.get(uuid(p)) ?? uuid(p));
        return [String(b.name), { ext: ovsMap(b.external_ids), ports: ports.filter((p) => p !== String(b.name)) }];
      }),
    );
    const ifaces = new Map((iface ?? []).map((i) => [String(i.name), i]));
    const tunnels: Tunnel[] = [];
    const bfd = new Map<string, Record<string, string>>();
    const bfdOff = new Set<string>();
    for (const p of port ?? []) {
      const ext = ovsMap(p.external_ids);
      const name = String(p.name);
      const i = ifaces.get(name);
      if (!ext[EXT_NET] || !i) continue;
      const opts = ovsMap(i.options);
      const type = String(i.type);
      bfd.set(name, ovsMap(i.bfd_status));
      const b = ovsMap(i.bfd);
      const decay = this.o.bfdDecayMs;
      if (b.enable !== 'true' || (decay !== undefined && (b.decay_min_rx ?? '0') !== String(decay))) bfdOff.add(name);
      tunnels.push({
        network: ext[EXT_NET]!,
        kind: 'ovs',
        encap: type === 'vxlan' ? 'vxlan' : 'gre',
        key: Number(opts.key ?? 0),
        bridge: bridgeOfPort.get(uuid(p._uuid)) ?? '',
        port: name,
        peer: ext[EXT_PEER] ?? '',
        peerIp: opts.remote_ip ?? '',
        localIp: opts.local_ip ?? '',
      });
    }
    const broken = new Map(
      (br ?? [])
        .filter((b) => !hasDatapath(b.datapath_id))
        .map((b) => [String(b.name), datapathProblem(String(b.name), String(b.datapath_type ?? ''))]),
    );
    const bridges = new Set((br ?? []).map((b) => String(b.name)));
    return { bridges, tunnels, bfd, broken, bfdOff, bridgeInfo };
  }

  /**
   * ovs-vsctl commands (no options) that make the bridge when absent, with a datapath type when one is given, and
   * marked as fleetnet's (external_ids fleetnet=owned, as attach marks its bridges) and the mesh's: the network
   * it is made for and this agent's owner mark. The mark is what lets the mesh, a detach or the orphan sweep
   * remove it once nothing uses it; a bridge found in place is never marked.
   */
  private bridgeCmds(b: MakeBridge): string[][] {
    const marks = { [OVS_OWNED_KEY]: OVS_OWNED_VALUE, [EXT_NET]: b.network, [EXT_OWNER]: this.o.ownerMark };
    return [
      ['--may-exist', 'add-br', b.bridge],
      [
        'set',
        'bridge',
        b.bridge,
        ...(b.datapathType ? [`datapath_type=${b.datapathType}`] : []),
        ...Object.entries(marks).flatMap(([k, v]) => (v ? [`external_ids:${k}=${v}`] : [])),
      ],
    ];
  }

  /**
   * ovs-vsctl commands for one tunnel: the port, its interface settings, BFD, protected and fleetnet's marks.
   */
  private portCmds(t: Tunnel): string[][] {
    return [
      ['--may-exist', 'add-port', t.bridge, t.port],
      [
        'set',
        'interface',
        t.port,
        `type=${t.encap}`,
        ...Object.entries(tunnelOptions(t)).map(([k, v]) => `options:${k}=${v}`),
        ...Object.entries(this.bfdKeys()).map(([k, v]) => `bfd:${k}=${v}`),
      ],
      [
        'set',
        'port',
        t.port,
        'protected=true',
        ...Object.entries(tunnelMarks(t)).map(([k, v]) => `external_ids:${k}=${v}`),
      ],
    ];
  }

  /** The bfd column's keys this agent sets on a tunnel. */
  private bfdKeys(): Record<string, string> {
    const decay = this.o.bfdDecayMs;
    return { enable: 'true', ...(decay === undefined ? {} : { decay_min_rx: String(decay) }) };
  }

  /**
   * One ovs-vsctl transaction for a network's missing tunnels (and its bridge when absent): all
   * or nothing, and ovs-vswitchd is waited for once, not once per peer (a joining host adds N-1).
   */
  addArgs(tunnels: Tunnel | Tunnel[], makeBridge?: MakeBridge): string[] {
    const cmds = [
      ...(makeBridge ? this.bridgeCmds(makeBridge) : []),
      ...[tunnels].flat().flatMap((t) => this.portCmds(t)),
    ];
    return [...this.base(), ...oneTransaction(cmds)];
  }

  /** `ovsdb-client` argv adding the tunnels' ports to their existing bridges in one transaction (ovs/ovsdb-txn.ts). */
  addTxnArgs(tunnels: Tunnel | Tunnel[]): string[] {
    const ports = [tunnels].flat().map((t): NewPort => {
      const [options, bfd, externalIds] = [tunnelOptions(t), this.bfdKeys(), tunnelMarks(t)];
      return { bridge: t.bridge, name: t.port, type: t.encap, options, bfd, protected: true, externalIds };
    });
    return transactArgs(this.o.ovsDb, newPortsTxn(ports));
  }

  /**
   * Adds the tunnels' ports (and makes their bridge first, when asked). Ports on an existing bridge go in one
   * OVSDB transaction, which returns once ovsdb-server has them (ovs-vswitchd makes them next; their BFD says
   * when they carry traffic); when that fails (a port of the name exists, no bridge, no ovsdb-client),
   * ovs-vsctl does it as before, waiting for ovs-vswitchd.
   */
  async add(tunnels: Tunnel | Tunnel[], makeBridge?: MakeBridge): Promise<void> {
    if (!makeBridge) {
      const why = await this.o.runner
        .run('ovsdb-client', this.addTxnArgs(tunnels), { timeoutMs: 15_000, allowFail: true })
        .then((r) => (r.code === 0 ? txnFailure(r.stdout) : r.stderr.trim() || `exit code ${r.code}`))
        .catch((err: unknown) => String(err));
      if (!why) return;
      this.o.log?.debug({ why }, 'tunnel ports not added in one OVSDB transaction; ovs-vsctl adds them');
    }
    await this.o.runner.run('ovs-vsctl', this.addArgs(tunnels, makeBridge), { timeoutMs: 15_000 });
  }

  /** Why a bridge has no datapath (see OvsCtl.datapathProblem), or undefined. */
  datapathProblem(bridge: string): Promise<FleetnetError | undefined> {
    return new OvsCtl(this.o.runner, this.o.ovsDb).datapathProblem(bridge);
  }

  /** One ovs-vsctl transaction removing the ports (a network taken out removes N-1 at once). */
  removeArgs(tunnels: Pick<Tunnel, 'bridge' | 'port'> | Pick<Tunnel, 'bridge' | 'port'>[]): string[] {
    const cmds = [tunnels].flat().map((t) => ['--if-exists', 'del-port', ...(t.bridge ? [t.bridge] : []), t.port]);
    return [...this.base(), ...oneTransaction(cmds)];
  }

  async remove(t: Pick<Tunnel, 'bridge' | 'port'> | Pick<Tunnel, 'bridge' | 'port'>[]): Promise<void> {
    await this.o.runner.run('ovs-vsctl', this.removeArgs(t), { timeoutMs: 15_000 });
  }
}
