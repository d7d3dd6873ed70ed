// An in-memory agent behind the controller's AgentLink, for dispatcher tests: it can be "down",
// refuse targets, and it records every Attach/Detach it received.
import { FleetnetError } from '../../common/errors.js';
import type { AttachRequest, DetachRequest, Interface, LabelledContainer } from '../../proto/gen/fleetnet/v1/agent.js';
import type { AgentLink, AgentLinkFactory } from '../../controller/dispatch/agent-link.js';

export class FakeAgent {
  down = false;
  readonly made = new Map<string, Interface>();
  readonly log: string[] = [];
  /** Targets this agent cannot find (its answer: not_found). */
  readonly missing = new Set<string>();
  /** Targets this agent refuses with this error (e.g. bad input, kind invalid). */
  readonly refuse = new Map<string, FleetnetError>();
  /** Containers with fleetnet labels, as its List reports them. */
  labelled: LabelledContainer[] = [];

  private check(): void {
    if (this.down) throw new FleetnetError('unavailable', 'the agent does not answer (fake: down)');
  }

  link(): AgentLink {
    return {
      health: async () => (this.check(), { status: 'ok', version: 'fake', hostname: 'fake', uptimeMs: 1 }),
      capabilities: async () => (this.check(), { capabilities: [{ name: 'bridge', available: true, detail: '' }] }),
      list: async () => (this.check(), { interfaces: [...this.made.values()], labelled: this.labelled }),
      attach: async (r: AttachRequest) => {
        this.check();
        this.log.push(`attach ${r.attachmentId} ${r.target?.value}`);
        if (this.missing.has(r.target?.value ?? ''))
          throw new FleetnetError('not_found', `no container named ${r.target?.value}`);
        const refusal = this.refuse.get(r.target?.value ?? '');
        if (refusal) throw refusal;
        // A named netns or a netns path resolves as the agent's resolver does (no process); the rest as Docker.
        const netns = r.target?.kind === 'netns' || r.target?.kind === 'path';
        const i: Interface = {
          attachmentId: r.attachmentId,
          container: {
            runtime: netns ? 'netns' : 'docker',
            id: netns ? (r.target?.value ?? '') : `id-${r.target?.value}`,
            name: r.target?.value ?? '',
            pid: netns ? 0 : 42,
            netns: '',
          },
          ifname: r.ifname,
          hostIfname: 'fn0123',
          hostIf: r.hostIf,
          kind: r.kind,
          mac: r.mac,
          addresses: r.addresses.flatMap((a) => (a.static ? [a.static.cidr] : [])),
          gateways: [],
          mtu: r.mtu || 1500,
          vlan: r.vlan,
          lease: undefined,
          state: 'up',
          attempts: 0,
          lastError: '',
          keepAddress: false,
        };
        this.made.set(r.attachmentId, i);
        return { interface: i, changed: true, commands: [] };
      },
      detach: async (r: DetachRequest) => {
        this.check();
        this.log.push(`detach ${r.attachmentId}`);
        return { removed: this.made.delete(r.attachmentId) };
      },
      close: () => undefined,
    };
  }
}

/** One fake agent per agent address. */
export function fakeFleet(): { agents: Map<string, FakeAgent>; links: AgentLinkFactory } {
  const agents = new Map<string, FakeAgent>();
  return {
    agents,
    links: (addr) => {
      if (!agents.has(addr)) agents.set(addr, new FakeAgent());
      return agents.get(addr)!.link();
    },
  };
}
