// Which kind of host interface an attach is about: what exists, what the name says, or --kind.
import { invalid, notFound, unsupported } from '../../../common/errors.js';
import { parseNewIfName } from '../../../common/ifname.js';
import type { HostLink } from '../../linux/sysfs.js';
import type { AttachOrder, HostIfKind } from '../order.js';
import { bridgeKind } from './bridge.js';
import { dummyKind } from './dummy.js';
import { ipoibKind } from './ipoib.js';
import { macvlanKind } from './macvlan.js';
import { kindText, showLink } from './name-taken.js';
import { ovsKind } from './ovs.js';
import type { Kind, KindEnv } from './types.js';

export const KINDS: Record<HostIfKind, Kind> = {
  bridge: bridgeKind,
  ovs: ovsKind,
  macvlan: macvlanKind,
  ipoib: ipoibKind,
  dummy: dummyKind,
};

export interface Decided {
  kind: HostIfKind;
  ovsBridgeExists: boolean;
}

const what = (h: HostLink) =>
  h.kind === 'bridge'
    ? 'a Linux bridge'
    : h.kind === 'infiniband'
      ? 'an InfiniBand interface'
      : h.kind === 'ether'
        ? 'an Ethernet interface'
        : 'an interface of another type';

/**
 * pipework's rules, plus `--kind`: a missing interface is created only when its name or --kind asks
 * for it, and only under a name of the conservative set fleetnet gives what it creates.
 */
export async function decideKind(env: KindEnv, order: AttachOrder, host: HostLink | undefined): Promise<Decided> {
  const d = await decideExisting(env, order, host);
  const creates = (d.kind === 'bridge' && !host) || (d.kind === 'ovs' && !d.ovsBridgeExists);
  if (creates)
    parseNewIfName(order.hostIf, `host interface (a new ${d.kind === 'ovs' ? 'Open vSwitch' : 'Linux'} bridge)`);
  return d;
}

async function decideExisting(env: KindEnv, order: AttachOrder, host: HostLink | undefined): Promise<Decided> {
  const name = order.hostIf;
  const plain = (kind: HostIfKind): Decided => ({ kind, ovsBridgeExists: false });
  const missingParent = (k: string) =>
    notFound(
      `host interface '${name}' does not exist`,
      `a ${k} needs an existing parent interface; 'ip link' lists them`,
    );
  switch (order.kind) {
    case 'bridge':
      if (host && host.kind !== 'bridge') {
        const shown = await showLink(env.runner, name);
        throw invalid(
          `'${name}' exists and is ${shown ? kindText(shown.kind) : what(host)}, not a Linux bridge`,
          `drop --kind to use it as it is, or name the bridge otherwise ('${name}' is left as it is)`,
        );
      }
      return plain('bridge');
    case 'ovs':
      if (host?.kind === 'bridge')
        throw invalid(
          `'${name}' exists and is a Linux bridge, not an Open vSwitch bridge`,
          `drop --kind ovs to attach to the Linux bridge, or name the Open vSwitch bridge otherwise`,
        );
      return { kind: 'ovs', ovsBridgeExists: await env.ovs.bridgeExists(name) };
    case 'macvlan':
      if (!host) throw missingParent('macvlan');
      return plain('macvlan');
    case 'ipoib': {
      if (!host) throw missingParent('IPoIB child');
      if (host.kind === 'infiniband') return plain('ipoib');
      // Bad input (exit 2), refused before anything is made: what the parent is, as the kernel names it.
      const shown = await showLink(env.runner, name);
      throw invalid(
        `'${name}' is ${shown ? kindText(shown.kind) : what(host)}, not an InfiniBand device: ` +
          'no IPoIB child can hang off it',
        "give an InfiniBand device as the parent ('ip link' shows it as link/infiniband, e.g. ib0), " +
          `or drop --kind ipoib to use '${name}' as it is`,
      );
    }
    case 'dummy':
      return plain('dummy');
    case undefined:
      break;
  }
  if (host?.kind === 'bridge') return plain('bridge');
  if (name.startsWith('dummy')) return plain('dummy');
  if (host?.kind === 'infiniband') return plain('ipoib');
  if (host || name.startsWith('ovs')) {
    if (await env.ovs.bridgeExists(name)) return { kind: 'ovs', ovsBridgeExists: true };
  }
  if (!host) {
    if (name.startsWith('br')) return plain('bridge');
    if (name.startsWith('ovs')) return { kind: 'ovs', ovsBridgeExists: false };
    if (name.startsWith('ib'))
      throw notFound(`InfiniBand interface '${name}' does not exist`, `'ip link' lists the ib* devices of this host`);
    throw notFound(
      `host interface '${name}' does not exist`,
      'create it first, or name a bridge br* (Linux) or ovs* (Open vSwitch), or pass ' +
        '--kind bridge|ovs, to have fleetnet create one',
    );
  }
  if (host.kind === 'ether') return plain('macvlan');
  throw unsupported(
    `I do not know how to set up interface ${name} (${what(host)})`,
    'pass --kind bridge|ovs|macvlan|ipoib|dummy to say what it is',
  );
}
