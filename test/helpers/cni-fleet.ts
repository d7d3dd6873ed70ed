// A fleet for the CNI tests with addresses from the controller: two hosts whose agents run with
// --cni-controller, the controller, and network `blue` (the given /24) meshed over VXLAN.
import assert from 'node:assert/strict';
import { startTestFleet, type TestFleet } from './controller-fleet.js';

export async function startCniFleet(tag: string, subnet: string): Promise<TestFleet> {
  const fleet = await startTestFleet({ hosts: 2, tag, agentArgs: (ctl) => ['--cni-controller', ctl] });
  try {
    await fleet.startController();
    for (const h of fleet.hosts) assert.equal((await fleet.cli('host', 'add', h.name, '--addr', h.agentAddr)).code, 0);
    const net = await fleet.cli('net', 'create', 'blue', '--subnet', subnet, '--bridge', 'br-blue', '--mesh', 'vxlan');
    assert.equal(net.code, 0, net.stderr);
    for (const h of fleet.hosts) assert.equal((await fleet.cli('mesh', 'add', h.name, '--net', 'blue')).code, 0);
    return fleet;
  } catch (err) {
    await fleet.down();
    throw err;
  }
}

export interface CniRow {
  id: string;
  host: string;
  addresses: string[];
  mac: string;
  state: string;
}

/** The CNI attachments (ids cni-…) of `fleetnet ls --json` through the controller. */
export async function cniRows(fleet: TestFleet): Promise<CniRow[]> {
  const r = await fleet.cli('ls', '--json');
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as CniRow[]).filter((a) => a.id.startsWith('cni-'));
}
