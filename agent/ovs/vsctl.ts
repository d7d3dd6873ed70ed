// Open vSwitch through ovs-vsctl (argv only, via the Runner), honouring the agent's --ovs-db.
import { unsupported, type FleetnetError } from '../../common/errors.js';
import type { Runner } from '../../common/runner.js';

/** external_ids keys fleetnet puts on what it makes, so that a restarted agent recognises it. */
export const OVS_OWNED_KEY = 'fleetnet';
export const OVS_OWNED_VALUE = 'owned';
/** On an OVS bridge the mesh made: the owner mark of the agent that made it (agent/lifecycle/owner-mark.ts). */
export const OVS_MESH_OWNER_KEY = 'fleetnet-owner';
export const OVS_PORT_KEYS = {
  attachment: 'fleetnet-attachment',
  container: 'fleetnet-container',
  ifname: 'fleetnet-ifname',
} as const;

export type OvsDatapath = 'system' | 'netdev';

export interface OvsPortTag {
  attachmentId: string;
  container: string;
  ifname: string;
}

export interface OwnedPort extends OvsPortTag {
  port: string;
}

/** OVSDB JSON: ["map", [[k, v]...]] → object. */
export function ovsMap(v: unknown): Record<string, string> {
  if (Array.isArray(v) && v[0] === 'map')
    return Object.fromEntries((v[1] as [string, unknown][]).map(([k, x]) => [k, String(x)]));
  return {};
}

/** Several ovs-vsctl commands as one argv, so one transaction: `a … -- b … -- c …`. */
export function oneTransaction(cmds: readonly string[][]): string[] {
  return cmds.flatMap((c, i) => (i === 0 ? c : ['--', ...c]));
}

export class OvsCtl {
  constructor(
    private readonly runner: Runner,
    private readonly db?: string,
  ) {}

  /** The argv every call starts with: the database (when the agent was given one) and a timeout. */
  args(...rest: string[]): string[] {
    return [...(this.db ? [`--db=${this.db}`] : []), '--timeout=10', ...rest];
  }

  /** Text for --dry-run. */
  describe(...rest: string[]): string {
    return ['ovs-vsctl', ...this.args(...rest)].join(' ');
  }

  async run(...rest: string[]): Promise<string> {
    return (await this.runner.run('ovs-vsctl', this.args(...rest))).stdout;
  }

  /** true/false from `br-exists` (exit 2 means "no"); anything else (no ovs-vsctl, no database) is "no OVS here". */
  async bridgeExists(name: string): Promise<boolean> {
    try {
      const r = await this.runner.run('ovs-vsctl', this.args('br-exists', name), { allowFail: true });
      return r.code === 0;
    } catch {
      return false;
    }
  }

  static addBridgeArgs(name: string, datapath: OvsDatapath): string[] {
    return [
      '--may-exist',
      'add-br',
      name,
      '--',
      'set',
      'bridge',
      name,
      `datapath_type=${datapath}`,
      '--',
      'br-set-external-id',
      name,
      OVS_OWNED_KEY,
      OVS_OWNED_VALUE,
    ];
  }

  static addPortArgs(bridge: string, port: string, tag: OvsPortTag, vlan?: number): string[] {
    return [
      '--may-exist',
      'add-port',
      bridge,
      port,
      ...(vlan ? [`tag=${vlan}`] : []),
      '--',
      'set',
      'port',
      port,
      `external_ids:${OVS_PORT_KEYS.attachment}=${tag.attachmentId}`,
      `external_ids:${OVS_PORT_KEYS.container}=${tag.container}`,
      `external_ids:${OVS_PORT_KEYS.ifname}=${tag.ifname}`,
    ];
  }

  static delPortArgs(bridge: string, port: string): string[] {
    return ['--if-exists', 'del-port', bridge, port];
  }

  /**
   * Why a bridge that is in the database has no datapath (ovs-vswitchd could not make it, e.g. the
   * kernel datapath on a host without the openvswitch module), or undefined when it works or is absent.
   */
  async datapathProblem(name: string): Promise<FleetnetError | undefined> {
    const argv = this.args('--format=json', '--columns=name,datapath_type,datapath_id', 'list', 'bridge', name);
    // No ovs-vsctl here: nothing to be broken.
    const r = await this.runner.run('ovs-vsctl', argv, { allowFail: true }).catch(() => undefined);
    if (!r || r.code !== 0 || !r.stdout.trim()) return undefined;
    let t: { headings: string[]; data: unknown[][] };
    try {
      t = JSON.parse(r.stdout) as typeof t;
    } catch {
      return undefined; // not the table asked for: not known to be broken
    }
    const row = t.data?.[0];
    if (!row) return undefined;
    const at = (h: string) => row[t.headings.indexOf(h)];
    return hasDatapath(at('datapath_id')) ? undefined : datapathProblem(name, String(at('datapath_type') ?? ''));
  }

  async bridgeOwned(name: string): Promise<boolean> {
    const r = await this.runner.run('ovs-vsctl', this.args('br-get-external-id', name, OVS_OWNED_KEY), {
      allowFail: true,
    });
    return r.code === 0 && r.stdout.trim() === OVS_OWNED_VALUE;
  }

  async listPorts(bridge: string): Promise<string[]> {
    const r = await this.runner.run('ovs-vsctl', this.args('list-ports', bridge), { allowFail: true });
    return r.code === 0
      ? r.stdout
          .split('\n')
          .map((s) => s.trim())
          .filter(Boolean)
      : [];
  }

  /** Ports that carry fleetnet's attachment id: what a restarted agent recognises as its own. */
  async ownedPorts(): Promise<OwnedPort[]> {
    const out = await this.run(
      '--format=json',
      '--columns=name,external_ids',
      'find',
      'port',
      `external_ids:${OVS_PORT_KEYS.attachment}!=""`,
    );
    return parseOwnedPorts(out);
  }
}

/** Parses `ovs-vsctl --format=json --columns=name,external_ids find port …`. */
export function parseOwnedPorts(json: string): OwnedPort[] {
  if (!json.trim()) return [];
  const t = JSON.parse(json) as { headings: string[]; data: unknown[][] };
  const ni = t.headings.indexOf('name');
  const ei = t.headings.indexOf('external_ids');
  const res: OwnedPort[] = [];
  for (const row of t.data) {
    const name = row[ni] as string;
    const map = new Map((((row[ei] as [string, [string, string][]]) ?? ['map', []])[1] ?? []).map(([k, v]) => [k, v]));
    const attachmentId = map.get(OVS_PORT_KEYS.attachment);
    if (!attachmentId) continue;
    res.push({
      port: name,
      attachmentId,
      container: map.get(OVS_PORT_KEYS.container) ?? '',
      ifname: map.get(OVS_PORT_KEYS.ifname) ?? '',
    });
  }
  return res;
}

/** OVSDB's datapath_id: a string once ovs-vswitchd made the bridge, the empty set when it could not. */
export function hasDatapath(v: unknown): boolean {
  if (v === undefined) return true; // not asked for: not known to be broken
  return !(Array.isArray(v) && v[0] === 'set' && (v[1] as unknown[]).length === 0) && v !== '';
}

/** A bridge in the database but not in the datapath: the reason and the fix. */
export function datapathProblem(bridge: string, datapathType: string): FleetnetError {
  const kernel = datapathType === '' || datapathType === 'system';
  return kernel
    ? unsupported(
        `Open vSwitch bridge ${bridge} is in the database but not in the datapath: ovs-vswitchd could not create its ` +
          'kernel (system) datapath (this host has no openvswitch kernel module); no packet would pass',
        `use the user-space datapath: ovs-vsctl del-br ${bridge}, then attach with --ovs-datapath netdev ` +
          '(or run the agent with --ovs-datapath netdev); or load the module: modprobe openvswitch',
      )
    : unsupported(
        `Open vSwitch bridge ${bridge} is in the database but not in the datapath: ovs-vswitchd could not create ` +
          `its ${datapathType} datapath; no packet would pass`,
        'start ovs-vswitchd with user-space (netdev) support; its log says why the bridge failed',
      );
}
