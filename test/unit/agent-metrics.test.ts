// The agent's metrics fed from its parts (agent/metrics.ts), through fakes of the DHCP supervisor
// and the mesher: restarts counted, lease age and time left per lease, tunnel state per peer with
// its probe, lifecycle passes with drift, leaks and orphans.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { AgentMetrics } from '../../common/metrics.js';
import { agentGauges, passMetrics } from '../../agent/metrics.js';
import type { DhcpSupervisor } from '../../agent/dhcp/supervisor.js';
import type { Lease, LeaseEvent } from '../../agent/dhcp/types.js';
import type { TunnelStatus } from '../../agent/mesh/status.js';
import { sample } from '../helpers/metrics-text.js';

test('agent metrics: DHCP restarts and leases, tunnels by peer and probe, lifecycle passes', async () => {
  const m = new AgentMetrics();
  const NOW = 1_000_000;
  const lease = { key: 'c1/eth1', ifname: 'eth1', obtainedUnixMs: NOW - 30_000, expiresUnixMs: NOW + 570_000 } as Lease;
  const dhcp = Object.assign(new EventEmitter<{ event: [LeaseEvent] }>(), { leases: () => [lease] });
  const tunnels = [
    { network: 'blue', peer: 'h2', kind: 'ovs', state: 'up' },
    { network: 'red', peer: 'h3', kind: 'kernel', state: 'down' },
  ] as TunnelStatus[];
  agentGauges(m, dhcp as unknown as Pick<DhcpSupervisor, 'on' | 'leases'>, { status: async () => tunnels }, () => NOW);
  dhcp.emit('event', { type: 'restarted', key: 'c1/eth1', pid: 42, attempt: 1 });
  dhcp.emit('event', { type: 'restarted', key: 'c1/eth1', pid: 43, attempt: 2 });
  dhcp.emit('event', { type: 'lost', key: 'c1/eth1', reason: 'nak' });
  passMetrics(m, {
    reapplied: ['a'],
    released: ['b', 'c'],
    stopped: [],
    failed: [],
    orphansRemoved: ['x'],
    orphansFound: ['x', 'y'],
    labelled: 0,
  });
  const text = await m.text();
  assert.equal(sample(text, 'fleetnet_dhcp_client_restarts_total'), 2);
  assert.equal(sample(text, 'fleetnet_dhcp_lease_age_seconds', { key: 'c1/eth1', ifname: 'eth1' }), 30);
  assert.equal(sample(text, 'fleetnet_dhcp_lease_remaining_seconds', { key: 'c1/eth1' }), 570);
  assert.equal(sample(text, 'fleetnet_tunnel_up', { network: 'blue', peer: 'h2', probe: 'bfd', state: 'up' }), 1);
  assert.equal(sample(text, 'fleetnet_tunnel_up', { network: 'red', peer: 'h3', probe: 'ping', state: 'down' }), 0);
  assert.equal(sample(text, 'fleetnet_reconcile_passes_total'), 1);
  assert.equal(sample(text, 'fleetnet_reconcile_drift_total'), 4);
  assert.equal(sample(text, 'fleetnet_leaks_found_total'), 2);
  assert.equal(sample(text, 'fleetnet_orphans_found_total'), 2);
  // a tunnel that is gone leaves no series behind at the next scrape
  tunnels.pop();
  assert.equal(sample(await m.text(), 'fleetnet_tunnel_up', { network: 'red' }), undefined);
});
