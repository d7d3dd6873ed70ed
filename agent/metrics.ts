// The agent's metrics fed from its parts (common/metrics.ts defines them; this module is loaded
// only with them): lifecycle passes, DHCP client restarts and leases, mesh tunnel states.
import type { AgentMetrics } from '../common/metrics.js';
import type { DhcpSupervisor } from './dhcp/supervisor.js';
import type { PassReport } from './lifecycle/lifecycle.js';
import type { Mesher } from './mesh/mesher.js';

/** A lifecycle pass: drift is what it had to repair; leaks are records whose container was gone. */
export function passMetrics(m: AgentMetrics, rep: PassReport): void {
  m.reconcilePasses.inc();
  m.reconcileDrift.inc(rep.reapplied.length + rep.released.length + rep.stopped.length + rep.orphansRemoved.length);
  m.leaksFound.inc(rep.released.length);
  m.orphansFound.inc(rep.orphansFound.length);
}

/** DHCP restarts as they happen; leases and tunnel states read at each scrape. */
export function agentGauges(
  m: AgentMetrics,
  dhcp: Pick<DhcpSupervisor, 'on' | 'leases'>,
  mesher: Pick<Mesher, 'status'>,
  now: () => number = Date.now,
): void {
  dhcp.on('event', (e) => {
    if (e.type === 'restarted') m.dhcpRestarts.inc();
  });
  m.onScrape(async () => {
    const t0 = now();
    m.dhcpLeaseAge.reset();
    m.dhcpLeaseRemaining.reset();
    for (const l of dhcp.leases()) {
      m.dhcpLeaseAge.set({ key: l.key, ifname: l.ifname }, Math.max(0, (t0 - l.obtainedUnixMs) / 1000));
      m.dhcpLeaseRemaining.set({ key: l.key, ifname: l.ifname }, Math.max(0, (l.expiresUnixMs - t0) / 1000));
    }
    const tunnels = await mesher.status();
    m.tunnelUp.reset();
    for (const t of tunnels) {
      const probe = t.kind === 'ovs' ? 'bfd' : 'ping';
      const labels = { network: t.network, peer: t.peer, kind: t.kind, probe, state: t.state };
      m.tunnelUp.set(labels, t.state === 'up' ? 1 : 0);
    }
  });
}
