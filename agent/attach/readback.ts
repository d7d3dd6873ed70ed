// Reads back what the kernel holds for an interface, and checks it against what was asked.
import { failed } from '../../common/errors.js';

export interface LinkState {
  ifname: string;
  mtu: number;
  mac: string;
  operstate: string;
  /** Global-scope addresses as CIDRs. */
  addresses: string[];
}

interface AddrJson {
  ifname?: string;
  mtu?: number;
  address?: string;
  operstate?: string;
  addr_info?: { family?: string; local?: string; prefixlen?: number; scope?: string }[];
}

export function parseAddrShow(rows: unknown[]): LinkState | undefined {
  const r = rows[0] as AddrJson | undefined;
  if (!r?.ifname) return undefined;
  const addresses = (r.addr_info ?? [])
    .filter((a) => a.scope !== 'link' && a.scope !== 'host' && a.local)
    .map((a) => `${a.local}/${a.prefixlen}`);
  return {
    ifname: r.ifname,
    mtu: r.mtu ?? 0,
    mac: (r.address ?? '').toLowerCase(),
    operstate: r.operstate ?? '',
    addresses,
  };
}

export function verifyLink(
  got: LinkState | undefined,
  want: { ifname: string; addresses: string[]; mac?: string; mtu: number },
): LinkState {
  if (!got) throw failed(`read-back: ${want.ifname} is not in the container after the attach`);
  const missing = want.addresses.filter((a) => !got.addresses.includes(a));
  if (missing.length) throw failed(`read-back: ${want.ifname} lacks ${missing.join(', ')} after the attach`);
  if (want.mac && got.mac !== want.mac) throw failed(`read-back: ${want.ifname} has MAC ${got.mac}, not ${want.mac}`);
  if (got.mtu !== want.mtu) throw failed(`read-back: ${want.ifname} has MTU ${got.mtu}, not ${want.mtu}`);
  return got;
}
