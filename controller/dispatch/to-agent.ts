// What the controller sends an agent for one attachment, and how it reads the agent's answer.
import { createHash } from 'node:crypto';
import { attachRequestOf, parseHostIfKind, parseMtu, parseStaticAddress } from '../../common/attach/index.js';
import type { AttachSpec } from '../../common/attach/index.js';
import { parseIfName, parseNewIfName } from '../../common/ifname.js';
import { parseMac } from '../../common/mac.js';
import type { AttachRequest, Interface } from '../../proto/gen/fleetnet/v1/agent.js';
import type { AgentReport } from '../fleet/attachments.js';
import type { AttachmentRecord } from '../store/types.js';

/**
 * The record as the attach contract's value types, encoded by the one codec (common/attach): the
 * controller sends exactly what the CLI would send for the same attach, with the MAC it derived.
 */
export function agentAttachRequest(a: AttachmentRecord): AttachRequest {
  const spec: AttachSpec = {
    ...(a.hostIf ? { hostIf: parseIfName(a.hostIf, 'host interface') } : {}),
    kind: parseHostIfKind(a.kind),
    target: a.target,
    ...(a.ifname ? { ifname: parseNewIfName(a.ifname, 'container interface name') } : {}),
    addresses: [...a.addresses.map((s) => parseStaticAddress(s.cidr, s.gateway)), ...a.other],
    mac: { kind: 'explicit', mac: parseMac(a.mac) },
    ...(a.vlan ? { id: a.vlan } : {}),
    ...(a.mtu ? { mtu: parseMtu(a.mtu) } : {}),
    attachmentId: a.id,
  };
  return { ...attachRequestOf(spec), keepAddress: !!a.keepAddress };
}

/** The agent's interface is the attachment as recorded (same MAC, every reserved address present). */
export function agentMatches(a: AttachmentRecord, i: Interface): boolean {
  return i.mac === a.mac && i.ifname === a.ifname && a.addresses.every((s) => i.addresses.includes(s.cidr));
}

/**
 * What a pass reads of an agent's interfaces, as a SHA-256 of one line per interface: equal digests,
 * equal reports. A pass compares it with the last quiet pass's instead of comparing every record
 * again; it keeps 44 characters per host, not the report (a host of 2,000 interfaces: 300 kB that
 * lived from one pass to the next, long enough for the garbage collector to copy it into the old
 * generation, whose collections then also delayed the requests of a controller at rest).
 */
export function reportDigest(interfaces: Interface[]): string {
  let s = '';
  for (const i of interfaces)
    s +=
      `${i.attachmentId}\t${i.state}\t${i.mac}\t${i.ifname}\t${i.hostIfname}\t${i.addresses.join(' ')}\t` +
      `${i.lease?.address ?? ''}\t${i.lastError}\t${i.attempts}\t${i.mtu}\t` +
      `${i.container?.id ?? ''}\t${i.container?.name ?? ''}\n`;
  return createHash('sha256').update(s).digest('base64');
}

export function reportOf(i: Interface): AgentReport {
  return {
    mac: i.mac,
    addresses: [...i.addresses, ...(i.lease?.address ? [i.lease.address] : [])],
    hostIfname: i.hostIfname,
    mtu: i.mtu,
    ...(i.container
      ? {
          container: { runtime: i.container.runtime, id: i.container.id, name: i.container.name, pid: i.container.pid },
        }
      : {}),
  };
}
