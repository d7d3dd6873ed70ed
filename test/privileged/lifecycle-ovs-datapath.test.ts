// Converged means working (issue 11): with a real user-space Open vSwitch and no openvswitch kernel
// module, a bridge with the kernel (system) datapath exists in the database but not in the datapath.
// An attach into such a bridge — made by the agent or found — is refused (exit 1) with the reason and
// the fix (--ovs-datapath netdev), nothing left behind; an attachment made before the bridge broke
// shows failed, with the reason, in ls.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { container, scope, sh, startAgentProc, startOvs, netns, tempDir, uniq } from './parity-env.js';

const noModule = !existsSync('/sys/module/openvswitch');

test(
  'an OVS bridge without a datapath: attach refused with the fix, nothing left; ls shows failed',
  {
    skip: noModule ? false : 'this kernel has the openvswitch module: a system-datapath bridge works here',
  },
  async (tc) => {
    const t = scope(tc);
    const p = uniq();
    const ns = await netns(t, `${p}-host`);
    const dir = tempDir(t, p);
    const db = await startOvs(t, ns, dir);
    const vsctl = (...args: string[]) => sh('ovs-vsctl', [`--db=${db}`, '--timeout=10', ...args], true);
    const agent = await startAgentProc(t, dir, { ns, ovsDb: db, datapath: 'system' });
    const [a, b] = await Promise.all(['a', 'b'].map((x) => container(t, `${p}-${x}`, p)));
    const br = `ovs${p}`.slice(0, 15);

    // To be made by the agent (its default datapath is the kernel's): refused before anything is made
    // (the probe finds no kernel datapath; were the probe wrong, the bridge's read-back refuses and removes it).
    let r = await agent.cli(['attach', br, a!.name, '10.8.0.1/24']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /no Open vSwitch datapath[\s\S]*--ovs-datapath netdev/);
    assert.notEqual((await vsctl('br-exists', br)).code, 0, 'no bridge made');

    // Found (made by hand, or before the module went away): refused, the bridge left as it is.
    assert.equal((await vsctl('add-br', `${br}x`, '--', 'set', 'bridge', `${br}x`, 'datapath_type=system')).code, 0);
    r = await agent.cli(['attach', `${br}x`, a!.name, '10.8.0.1/24']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /not in the datapath/);
    assert.equal((await vsctl('br-exists', `${br}x`)).code, 0, 'a found bridge stays');
    assert.equal((await vsctl('list-ports', `${br}x`)).stdout.trim(), '', 'no port was added');
    const eth1 = await sh('docker', ['exec', a!.name, 'cat', '/sys/class/net/eth1/address'], true);
    assert.notEqual(eth1.code, 0, 'nothing half-made in the container');

    // An attachment made on a working (netdev) bridge, whose bridge then loses its datapath: failed, with the reason.
    r = await agent.cli(['attach', '--ovs-datapath', 'netdev', `${br}n`, b!.name, '10.8.0.2/24']);
    assert.equal(r.code, 0, r.stderr);
    // (ovs-vswitchd keeps a stale datapath_id when only the type of a working bridge changes: the bridge
    // is made again, as after a reboot onto a kernel without the module.)
    const n = `${br}n`;
    const remade = await vsctl('del-br', n, '--', 'add-br', n, '--', 'set', 'bridge', n, 'datapath_type=system');
    assert.equal(remade.code, 0, remade.stderr);
    const check = await agent.cli(['check']);
    assert.equal(check.code, 1, check.stdout + check.stderr);
    assert.match(check.stdout, /not in the datapath/);
    assert.equal((await agent.cli(['check', '--fix'])).code, 1, 'not fixable by fleetnet: still reported');
    type Row = { container: string; state: string; error: string };
    const ls = JSON.parse((await agent.cli(['ls', '--json'])).stdout) as Row[];
    const row = ls.find((x) => x.container === b!.name)!;
    assert.equal(row.state, 'failed', JSON.stringify(row));
    assert.match(row.error, /not in the datapath.*--ovs-datapath netdev/);
  },
);
