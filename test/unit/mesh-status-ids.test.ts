// `mesh status -q` prints the tunnel ports, each once: through the controller every member's tunnel to one peer
// has the same port name (it derives from network and peer), so a 3-host mesh has 6 tunnels and 3 port names.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { render } from '../../cli/output/render.js';
import { AGENT_TUNNELS_VIEW, FLEET_TUNNELS_VIEW } from '../../cli/output/views.js';
import type { TunnelStatus } from '../../proto/gen/fleetnet/v1/agent.js';
import type { MeshTunnelState } from '../../proto/gen/fleetnet/v1/controller.js';

async function ids<T>(items: T[], view: Parameters<typeof render<T>>[2]): Promise<string> {
  let out = '';
  const sink = new Writable({ write: (c: Buffer, _e, done) => done(void (out += c.toString())) });
  await render({ kind: 'ids' }, { items }, view, sink);
  return out;
}

const port = (peer: string) => `fg${peer.padStart(12, '0')}`;
const row = { network: 'blue', peerIp: '', state: 'up', detail: '', checkedAtMs: 0 };

test('mesh status -q: each tunnel port once, in the order first seen', async () => {
  const hosts = ['h1', 'h2', 'h3'];
  const fleet: MeshTunnelState[] = hosts.flatMap((host) =>
    hosts.filter((p) => p !== host).map((peer) => ({ ...row, host, peer, port: port(peer) })),
  );
  // a member whose agent did not answer: its row has no port, its id is host/network
  fleet.push({ ...row, host: 'h4', peer: '', port: '', state: 'unreachable' });
  assert.equal(await ids(fleet, FLEET_TUNNELS_VIEW), [port('h2'), port('h3'), port('h1'), 'h4/blue', ''].join('\n'));
  const agent: TunnelStatus[] = ['h2', 'h3'].map((peer) => ({
    ...row,
    peer,
    port: port(peer),
    kind: 'ovs',
    encap: 'gre',
  }));
  assert.equal(await ids(agent, AGENT_TUNNELS_VIEW), `${port('h2')}\n${port('h3')}\n`);
});
