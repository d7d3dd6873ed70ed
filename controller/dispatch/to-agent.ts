// What the controller sends an agent for one attachment, and how it reads the agent's answer.
import type { AttachRequest, Interface } from '../../proto/gen/fleetnet/v1/agent.js';
import type { AgentReport } from '../fleet/attachments.js';
import type { AttachmentRecord } from '../store/types.js';

export function agentAttachRequest(a: AttachmentRecord): AttachRequest {
  return {
    hostIf: a.hostIf,
    kind: a.kind,
    target: { kind: a.target.kind, value: a.target.value },
    ifname: a.ifname,
    hostIfname: '',
    addresses: [
      ...a.addresses.map((s) => ({ static: { cidr: s.cidr, gateway: s.gateway ?? '' } })),
      ...a.other.map((o) => (o.kind === 'dhcp' ? { dhcp: { client: o.client, options: o.options } } : { none: true })),
    ],
    mac: a.mac,
    macString: '',
    vlan: a.vlan,
    mtu: a.mtu,
    dryRun: false,
    attachmentId: a.id,
    macvlanMode: '',
    vlanFiltering: false,
    trunk: '',
    ovsDatapath: '',
    dhcpDns: false,
    dhcpOneshot: false,
    keepAddress: !!a.keepAddress,
  };
}

/** The agent's interface is the attachment as recorded (same MAC, every reserved address present). */
export function agentMatches(a: AttachmentRecord, i: Interface): boolean {
  return i.mac === a.mac && i.ifname === a.ifname && a.addresses.every((s) => i.addresses.includes(s.cidr));
}

export function reportOf(i: Interface): AgentReport {
  return {
    mac: i.mac,
    addresses: [...i.addresses, ...(i.lease?.address ? [i.lease.address] : [])],
    hostIfname: i.hostIfname,
    ...(i.container ? { container: { runtime: i.container.runtime, id: i.container.id, name: i.container.name, pid: i.container.pid } } : {}),
  };
}
