// fleetnet agent, gRPC Attach/Detach over its unix socket from this process (one long-lived channel).
import { AttachRequest, DetachRequest } from '../../proto/gen/fleetnet/v1/agent.js';
import type { BenchAgent } from '../lib/agent-proc.js';
import type { BenchContainer } from '../lib/docker.js';
import { benchAddr, type AttachPath } from '../lib/measure.js';

export interface AgentPathOptions {
  name: string;
  bridge: string;
  ifname: string;
  net: number;
  /** docker: the agent looks the container up by name (Docker API); pid: no lookup. */
  target: 'docker' | 'pid';
}

export function agentGrpcPath(agent: BenchAgent, cs: BenchContainer[], o: AgentPathOptions): AttachPath {
  const target = (i: number) =>
    o.target === 'docker' ? { kind: 'docker', value: cs[i]!.name } : { kind: 'pid', value: String(cs[i]!.pid) };
  const lookup =
    o.target === 'docker' ? 'Docker name lookup (inspect via the Docker API)' : 'PID target (no Docker lookup)';
  return {
    name: o.name,
    timed:
      `gRPC Attach request → reply on the agent's unix socket, one connection kept open: ${lookup}, ` +
      'veth made over route netlink in the bench netns, ' +
      "addressed over a netlink socket opened in the container's namespace (no exec; the agent's default --ip-path), " +
      'read back and checked inside the agent, record written',
    detachTimed: 'gRPC Detach request → reply: lookup, `ip link del` of the host peer, record removed',
    bridge: o.bridge,
    ifname: o.ifname,
    netnsOf: (i) => cs[i]!.netnsPath,
    expectAddr: (i) => `${benchAddr(o.net, i)}/16`,
    async attach(i) {
      const req = AttachRequest.fromPartial({
        hostIf: o.bridge,
        target: target(i),
        ifname: o.ifname,
        addresses: [{ static: { cidr: `${benchAddr(o.net, i)}/16`, gateway: '' } }],
      });
      const res = await agent.conn.call(agent.conn.client.attach, req);
      if (!res.changed) throw new Error(`${o.name}: the agent reported attach ${i} as unchanged`);
    },
    async detach(i) {
      const res = await agent.conn.call(
        agent.conn.client.detach,
        DetachRequest.fromPartial({ target: target(i), ifname: o.ifname }),
      );
      if (!res.removed) throw new Error(`${o.name}: the agent removed nothing for detach ${i}`);
    },
  };
}
