// A bridge fleetnet would create under a name another link answers to already: a veth or a dummy of that
// name, or a link that has it as an alternative name (sysfs lists no alternative names; the kernel refuses
// the new link with "File exists", and `ip link del NAME` would then delete that other link). Asked of the
// kernel by name (`ip -details`, which resolves alternative names) before anything is made, and refused
// (exit 2) naming the link and its kind.
import { failed, invalid } from '../../../common/errors.js';
import type { Runner } from '../../../common/runner.js';

export interface ShownLink {
  ifname: string;
  /** The rtnetlink kind (`veth`, `dummy`, `bridge`, `openvswitch`, `tun` …); '' for a device without one (a NIC). */
  kind: string;
}

/** The link the kernel finds under `name` (its own or an alternative name); undefined when none. */
export async function showLink(runner: Runner, name: string): Promise<ShownLink | undefined> {
  const r = await runner.run('ip', ['-json', '-details', 'link', 'show', 'dev', name], { allowFail: true });
  if (r.code !== 0 && /does not exist|Cannot find device|No such device/i.test(r.stderr)) return undefined;
  // A read that failed otherwise answers nothing: the attach stops (nothing is made on a guess).
  if (r.code !== 0) throw failed(`ip link show dev ${name}: ${r.stderr.trim() || `exit ${r.code}`}`);
  const [l] = JSON.parse(r.stdout || '[]') as { ifname?: string; linkinfo?: { info_kind?: string } }[];
  return l?.ifname ? { ifname: l.ifname, kind: l.linkinfo?.info_kind ?? '' } : undefined;
}

/** 'a veth', 'a dummy link', 'a Linux bridge' …: the kind as a person reads it. */
export function kindText(kind: string): string {
  switch (kind) {
    case '':
      return 'a network device (no link kind: a NIC)';
    case 'veth':
      return 'a veth';
    case 'bridge':
      return 'a Linux bridge';
    case 'openvswitch':
      return "an Open vSwitch bridge's interface";
    default:
      return `a ${kind} link`;
  }
}

/**
 * Refuses to make bridge `name` when another link answers to the name. A link of that very name and the kind the
 * bridge makes (a parallel attach made it meanwhile; an OVS user-space bridge's interface is a tap) is no clash.
 */
export async function refuseTakenName(runner: Runner, name: string, bridge: 'bridge' | 'ovs'): Promise<void> {
  const l = await showLink(runner, name);
  if (!l) return;
  const same = bridge === 'bridge' ? ['bridge'] : ['openvswitch', 'tun'];
  if (l.ifname === name && same.includes(l.kind)) return;
  const who =
    l.ifname === name
      ? `'${name}' is ${kindText(l.kind)}`
      : `'${name}' is an alternative name of '${l.ifname}', ${kindText(l.kind)}`;
  throw invalid(
    `cannot make ${bridge === 'bridge' ? 'a Linux' : 'an Open vSwitch'} bridge named '${name}': ${who}`,
    `name the bridge otherwise ('${l.ifname}' is left as it is)`,
  );
}
