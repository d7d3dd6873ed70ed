// The agent's OVSDB transactions against a real ovsdb-server (Debian's, on a unix socket in a temporary folder,
// no ovs-vswitchd, no network): a member's new ports commit and read back as ovs-vsctl would have made them; a
// taken name and a missing bridge are refused whole (nothing half-made) and ovs-vsctl takes over; the BFD nudge
// changes min_tx alone.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BfdNudge } from '../../agent/mesh/bfd-nudge.js';
import { OvsTunnels } from '../../agent/mesh/ovs-tunnels.js';
import { planMesh } from '../../common/mesh/plan.js';
import { silentLogger } from '../../common/logger.js';
import { RecordingRunner, type Runner } from '../../common/runner.js';
import { sh } from '../helpers/netns.js';

const dir = mkdtempSync(join(tmpdir(), 'fn-ovsdb-'));
const sock = join(dir, 'db.sock');
const DB = `unix:${sock}`;
const env = { ...process.env, OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir };
const hosts = [1, 2, 3, 4].map((i) => ({ name: `h${i}`, underlayIp: `10.99.0.${10 + i}` }));
const [t2, t3, t4] = planMesh(hosts, [
  { name: 'blue', kind: 'ovs', encap: 'vxlan', key: 7, bridge: 'ovs-blue', members: ['h1', 'h2', 'h3', 'h4'] },
])[0]!.networks[0]!.tunnels;
const vsctl = (...args: string[]) => sh.run('ovs-vsctl', [`--db=${DB}`, '--no-wait', '--timeout=10', ...args], { env });
/** No ovs-vswitchd runs here: ovs-vsctl is told not to wait for one. */
const noVswitchd: Runner = {
  run: (cmd, args, opts) => sh.run(cmd, cmd === 'ovs-vsctl' ? ['--no-wait', ...args] : args, { ...opts, env }),
  start: (cmd, args, opts) => sh.start(cmd, args, opts),
};
const ports = async () => (await vsctl('list-ports', 'ovs-blue')).stdout.split('\n').filter(Boolean).sort();

describe('OVSDB transactions on a real ovsdb-server', () => {
  before(async () => {
    await sh.run('ovsdb-tool', ['create', join(dir, 'conf.db'), '/usr/share/openvswitch/vswitch.ovsschema']);
    await sh.run(
      'ovsdb-server',
      [
        join(dir, 'conf.db'),
        `--remote=punix:${sock}`,
        `--pidfile=${join(dir, 'ovsdb-server.pid')}`,
        `--unixctl=${join(dir, 'ovsdb-server.ctl')}`,
        `--log-file=${join(dir, 'ovsdb-server.log')}`,
        '-vconsole:off',
        '--detach',
        '--no-chdir',
      ],
      { env },
    );
    await vsctl('init');
    await vsctl('add-br', 'ovs-blue');
  });
  after(async () => {
    const pid = Number(readFileSync(join(dir, 'ovsdb-server.pid'), 'utf8'));
    process.kill(pid, 'SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('new ports commit in one transaction, with the settings ovs-vsctl would give them', async () => {
    const r = new RecordingRunner(noVswitchd);
    await new OvsTunnels({ runner: r, ovsDb: DB, bfdDecayMs: 5000 }).add([t2!, t3!]);
    assert.deepEqual(
      r.calls.map((c) => c.cmd),
      ['ovsdb-client'],
    );
    assert.deepEqual(await ports(), [t2!.port, t3!.port].sort());
    const get = async (table: string, col: string) => (await vsctl('get', table, t2!.port, col)).stdout.trim();
    assert.equal(await get('interface', 'type'), 'vxlan');
    assert.equal(await get('interface', 'options'), '{key="7", local_ip="10.99.0.11", remote_ip="10.99.0.12"}');
    assert.equal(await get('interface', 'bfd'), '{decay_min_rx="5000", enable="true"}');
    assert.equal(await get('port', 'protected'), 'true');
    assert.equal(await get('port', 'external_ids'), '{fleetnet-net=blue, fleetnet-peer=h2}');
  });

  it('a taken name is refused whole (the new port with it too), and ovs-vsctl then adds both', async () => {
    const r = new RecordingRunner(noVswitchd);
    await new OvsTunnels({ runner: r, ovsDb: DB }).add([t4!, t2!]);
    assert.deepEqual(
      r.calls.map((c) => c.cmd),
      ['ovsdb-client', 'ovs-vsctl'],
    );
    assert.deepEqual(await ports(), [t2!.port, t3!.port, t4!.port].sort());
    // ovs-vsctl sets the keys it is given (this agent gives no decay) and leaves the others.
    assert.equal((await vsctl('get', 'interface', t4!.port, 'bfd')).stdout.trim(), '{enable="true"}');
  });

  it('a missing bridge: refused, nothing left behind, and ovs-vsctl says so', async () => {
    const r = new RecordingRunner(noVswitchd);
    const lost = { ...t4!, bridge: 'ovs-gone', port: 'fgnobridge0001' };
    await assert.rejects(new OvsTunnels({ runner: r, ovsDb: DB }).add([lost]), /ovs-gone/);
    assert.deepEqual(
      r.calls.map((c) => c.cmd),
      ['ovsdb-client', 'ovs-vsctl'],
    );
    const left = (await sh.run('ovs-vsctl', [`--db=${DB}`, '--columns=name', 'list', 'interface'], { env })).stdout;
    assert.doesNotMatch(left, /fgnobridge0001/);
  });

  it('the BFD nudge sets min_tx and keeps the other BFD keys; an unknown interface is no error', async () => {
    const r = new RecordingRunner(noVswitchd);
    const n = new BfdNudge({ runner: r, log: silentLogger(), ovsDb: DB, ours: (name) => /^f[gv]/.test(name) });
    n.see(
      new Map([
        [t3!.port, { state: 'init' }],
        ['fgunknown0001', { state: 'init' }],
      ]),
    );
    await n.idle();
    assert.deepEqual(
      r.calls.map((c) => c.cmd),
      ['ovsdb-client'],
    );
    assert.match(r.calls[0]!.args.at(-1)!, /fgunknown0001/);
    assert.equal(
      (await vsctl('get', 'interface', t3!.port, 'bfd')).stdout.trim(),
      '{decay_min_rx="5000", enable="true", min_tx="101"}',
    );
  });
});
