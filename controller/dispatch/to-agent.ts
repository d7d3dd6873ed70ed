// What the controller sends an agent for one attachment, and how it reads the agent's answer.
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
 * What a pass reads of an agent's interfaces, as one string: equal strings, equal reports. A pass
 * compares it with the last quiet pass's instead of comparing every record again.
 */
export function reportDigest(interfaces: Interface[]): string {
  return interfaces
    .map((i) =>
      [
        i.attachmentId,
        i.state,
        i.mac,
        i.ifname,
        i.hostIfname,
        i.addresses.join(' '),
        i.lease?.address ?? '',
        i.lastError,
        i.attempts,
        i.container?.id ?? '',
        i.container?.name ?? '',
      ].join('\t'),
    )
    .join('\n');
}

export function reportOf(i: Interface): AgentReport {
  return {
    mac: i.mac,
    addresses: [...i.addresses, ...(i.lease?.address ? [i.lease.address] : [])],
    hostIfname: i.hostIfname,
    ...(i.container
      ? {
          container: { runtime: i.container.runtime, id: i.container.id, name: i.container.name, pid: i.container.pid },
        }
      : {}),
  };
}
