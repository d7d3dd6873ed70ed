// One static address per layer-2 segment of this host: a host interface and its VLAN (a bridge, an OVS bridge
// with a tag, a NIC's macvlans on one VLAN). Two containers on one segment with one address answer ARP for it
// in turn and both break; the controller refuses that within a network, and a standalone agent refuses it here,
// with the holder named. Dummy interfaces share no segment. Attaches under way claim their addresses in the same
// turn of the event loop as they check (two parallel attaches of one address: the second is refused).
import { existsSync } from 'node:fs';
import { conflict } from '../../common/errors.js';
import { parseIfAddr } from '../../common/ip.js';
import { describeContainer } from '../containers/types.js';
import type { HostIfKind } from './order.js';
import type { AttachmentRecord, RecordStore } from './records.js';

export interface SegmentAttach {
  /** The attachment's record key (its own record never clashes with it). */
  key: string;
  hostIf: string;
  /** `@ID` as typed ('' for none). */
  vlan: string;
  kind: HostIfKind;
  /** The IP addresses (no prefix), canonical. */
  ips: string[];
}

const segmentOf = (hostIf: string, vlan: string) => `${hostIf}@${vlan}`;

/**
 * A record's IPs, parsed once per record object (a changed record is a new object): an attach onto a bridge with
 * a thousand ports reads each of theirs, and parsing them all again each time cost more than the attach itself.
 */
const held = new WeakMap<AttachmentRecord, Set<string>>();
function heldIps(r: AttachmentRecord): Set<string> {
  let ips = held.get(r);
  if (!ips) held.set(r, (ips = new Set(r.addresses.map((x) => parseIfAddr(x).addr.text))));
  return ips;
}

/** Who holds an IP on a segment, for the refusal. */
function holderOf(r: AttachmentRecord): string {
  return `${describeContainer(r.container)} (${r.ifname})`;
}

export class SegmentAddresses {
  /** segment + IP → the key of the attach under way that claimed it. */
  private readonly claimed = new Map<string, string>();

  constructor(private readonly records: RecordStore) {}

  /**
   * Refuses (conflict) an address another attachment holds on the same segment: recorded (also a stopped
   * container's: it gets it back when it starts) or being made. Otherwise claims them until release(key).
   */
  claim(a: SegmentAttach): void {
    if (a.kind === 'dummy' || !a.ips.length) return;
    const seg = segmentOf(a.hostIf, a.vlan);
    for (const ip of a.ips) {
      const other = this.claimed.get(`${seg}\0${ip}`);
      if (other !== undefined && other !== a.key) throw taken(ip, a, `an attach under way (${other})`, '');
    }
    for (const r of this.records.all()) {
      if (r.key === a.key || r.kind === 'dummy' || r.hostIf !== a.hostIf || (r.vlan ?? '') !== a.vlan) continue;
      const held = heldIps(r);
      const ip = a.ips.find((x) => held.has(x));
      // A container gone for good: its record is about to be released (the lifecycle's next pass).
      if (!ip || (r.state !== 'stopped' && !existsSync(r.container.netns))) continue;
      throw taken(ip, a, holderOf(r), `fleetnet detach ${r.container.name} -i ${r.ifname}`);
    }
    for (const ip of a.ips) this.claimed.set(`${seg}\0${ip}`, a.key);
  }

  /** The attach of `key` has ended (recorded or undone): its claims go. */
  release(key: string): void {
    for (const [k, v] of this.claimed) if (v === key) this.claimed.delete(k);
  }
}

function taken(ip: string, a: SegmentAttach, holder: string, detach: string) {
  const where = a.vlan ? `${a.hostIf} VLAN ${a.vlan}` : a.hostIf;
  return conflict(
    `${ip} is already used on ${where} by ${holder}: two interfaces with one address on one segment break both`,
    `give this container another address, or detach the other one first${detach ? `: ${detach}` : ''}`,
  );
}
