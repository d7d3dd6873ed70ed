// Attach requests the lifecycle benchmarks send to the bench agent: a static IPv4 address on eth1.
import type { AgentConn } from '../../cli/client/agent.js';
import type { AttachRequest } from '../../proto/gen/fleetnet/v1/agent.js';

export function request(hostIf: string, target: { kind: string; value: string }, cidr: string): AttachRequest {
  return {
    hostIf,
    kind: '',
    target,
    ifname: 'eth1',
    hostIfname: '',
    addresses: [{ static: { cidr, gateway: '' } }],
    mac: '',
    macString: '',
    vlan: '',
    mtu: 0,
    dryRun: false,
    attachmentId: '',
    macvlanMode: '',
    vlanFiltering: false,
    trunk: '',
    ovsDatapath: '',
    dhcpDns: false,
    dhcpOneshot: false,
    keepAddress: false,
  };
}

/** The i-th address of a group (third: 0 containers, 1 the full bridge, 2 the empty one). */
export const addrOf = (i: number, third: number) => `10.${240 + third}.${Math.floor(i / 250)}.${(i % 250) + 2}/16`;

export async function attachOk(conn: AgentConn, req: AttachRequest): Promise<void> {
  await conn.call(conn.client.attach, req, 120_000);
}
