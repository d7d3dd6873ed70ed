// What the kernel's refusal of a new macvlan means, said in fleetnet's words. The kernel answers only "Invalid
// argument" when a passthru macvlan would not be its parent's only macvlan, when the parent already carries a
// passthru one, or when the MTU is above the parent's; "Device or resource busy" when the parent is a port of a
// bridge (or a bond, or an ipvlan parent). The parent's MTU and this agent's records say which; the kernel's
// text stays in the message and as the cause.
import { FleetnetError, type ErrorKind } from '../../../common/errors.js';
import { describeContainer } from '../../containers/types.js';
import { masterOf, readHostLink } from '../../linux/sysfs.js';
import type { AttachmentRecord } from '../records.js';
import type { KindEnv } from './types.js';

const kernelText = (err: unknown) => String((err as Error)?.message ?? err);

const holders = (rs: AttachmentRecord[]) => rs.map((r) => `${describeContainer(r.container)} (${r.ifname})`).join(', ');
const detachOf = (rs: AttachmentRecord[]) =>
  rs.map((r) => `fleetnet detach ${r.container.name} -i ${r.ifname}`).join('; ');

/** The refusal as a FleetnetError with a hint, or undefined when it is none of the known ones. */
export function explainMacvlanRefusal(
  env: KindEnv,
  at: { lower: string; mode: string; mtu: number; key: string },
  err: unknown,
): FleetnetError | undefined {
  const text = kernelText(err);
  const said = `(the kernel answered: ${/Invalid argument|Device or resource busy/.exec(text)?.[0] ?? text})`;
  const { lower, mode } = at;
  const refusal = (kind: ErrorKind, message: string, hint: string) =>
    new FleetnetError(kind, `${message} ${said}`, { cause: err, hint });
  if (/Device or resource busy|EBUSY/.test(text)) {
    const master = masterOf(lower, env.sysClassNet);
    return refusal(
      'conflict',
      `${lower} ${master ? `is a port of ${master}` : 'is taken by another driver (a bridge, bond or ipvlan)'}: ` +
        `a macvlan cannot hang off it`,
      master
        ? `attach to the bridge instead: fleetnet attach ${master} …`
        : `attach to a NIC that is no bridge or bond port`,
    );
  }
  if (!/Invalid argument|EINVAL/.test(text)) return undefined;
  const parent = readHostLink(lower, env.sysClassNet);
  if (parent && at.mtu > parent.mtu)
    return refusal(
      'invalid',
      `MTU ${at.mtu} is above ${lower}'s (${parent.mtu}): a macvlan cannot be larger than its parent`,
      `pass --mtu ${parent.mtu} or less, or raise ${lower}'s MTU first`,
    );
  const others = env.records.find((r) => r.key !== at.key && r.kind === 'macvlan' && (r.parent || r.hostIf) === lower);
  if (mode === 'passthru')
    return refusal(
      'conflict',
      `${lower} already has a macvlan${others.length ? ` (${holders(others)})` : ''}: ` +
        'a passthru macvlan must be the only one on its parent',
      others.length
        ? `use --macvlan-mode bridge, or detach the other ones first: ${detachOf(others)}`
        : `remove the other macvlans of ${lower} first, or use --macvlan-mode bridge`,
    );
  const passthru = others.filter((r) => r.order?.macvlanMode === 'passthru');
  return refusal(
    'conflict',
    `${lower} ${passthru.length ? 'carries' : 'most likely carries'} a passthru macvlan` +
      `${passthru.length ? ` (${holders(passthru)})` : ''}, which takes no other macvlan`,
    passthru.length
      ? `detach it first: ${detachOf(passthru)}`
      : `remove the passthru macvlan of ${lower} first, or attach to another parent`,
  );
}
