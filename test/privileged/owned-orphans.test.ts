// What an attach cut short by kill -9 leaves before its record is written — a bridge (or `<if>.<VID>`, or OVS bridge)
// fleetnet made and marked, maybe with the attach's own veth plugged — is an orphan once nothing holds it: check
// reports it, --fix and the periodic sweep remove it. Nothing without fleetnet's mark, nothing with a port of
// someone else's, nothing a record uses is touched.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ownerMarkOf } from '../../agent/lifecycle/owner-mark.js';
import { cli, startAgentIn } from '../helpers/agent-process.js';
import { eventually } from '../helpers/poll.js';
import { netns, scope, sh, startOvs, tempDir, uniq } from './parity-env.js';

const OWNED = 'fleetnet:owned';

interface Finding {
  kind: string;
  subject: string;
}

async function agentIn(t: ReturnType<typeof scope>, ns: string, dir: string, extra: string[]) {
  const a = await startAgentIn(ns, dir, extra);
  t.after(() => a.stop());
  return {
    stateDir: a.stateDir,
    check: async (...args: string[]) => {
      const r = await cli(a.socket, 'check', '--json', ...args);
      const found = (JSON.parse(r.stdout) as { findings: Finding[] }).findings;
      return {
        code: r.code,
        orphans: found
          .filter((f) => f.kind === 'orphan')
          .map((f) => f.subject)
          .sort(),
        r,
      };
    },
    cli: (...args: string[]) => cli(a.socket, ...args),
  };
}

function inNs(ns: string) {
  const ip = (...args: string[]) => sh('ip', ['-n', ns, ...args]);
  return {
    ip,
    exists: async (name: string) => (await sh('ip', ['-n', ns, 'link', 'show', name], true)).code === 0,
    /** A Linux bridge, up, with fleetnet's mark when `owned`. */
    bridge: async (name: string, owned: boolean) => {
      await ip('link', 'add', name, 'type', 'bridge');
      if (owned) await ip('link', 'set', name, 'alias', OWNED);
      await ip('link', 'set', name, 'up');
    },
    /** A veth pair standing in for any link (this kernel may lack 8021q for a real `<if>.<VID>`). */
    veth: async (name: string, peer: string, o: { alias?: string; master?: string; peerNs?: string } = {}) => {
      await ip('link', 'add', name, 'type', 'veth', 'peer', 'name', peer, ...(o.peerNs ? ['netns', o.peerNs] : []));
      if (o.alias) await ip('link', 'set', name, 'alias', o.alias);
      if (o.master) await ip('link', 'set', name, 'master', o.master);
    },
  };
}

test('check reports owned bridges, links and OVS bridges nothing holds; --fix removes only those', async (tc) => {
  const t = scope(tc);
  const p = uniq();
  const ns = await netns(t, `${p}-host`);
  const ctr = await netns(t, `${p}-c`);
  const dir = tempDir(t, p);
  const db = await startOvs(t, ns, dir);
  const vsctl = (...args: string[]) => sh('ovs-vsctl', [`--db=${db}`, '--timeout=10', ...args], true);
  const agent = await agentIn(t, ns, dir, [
    '--ovs-db',
    db,
    '--ovs-datapath',
    'netdev',
    '--lifecycle-pass-ms',
    '600000',
  ]);
  const h = inNs(ns);

  // In use: a bridge the agent made for a recorded attachment.
  const a = await agent.cli('attach', 'bru', `netns:${ctr}`, '10.71.0.5/24');
  assert.equal(a.code, 0, a.stdout + a.stderr);
  // Left by attaches killed before their record: a bridge with the attach's own veth plugged (its peer in the
  // container), a bare bridge, a bare `<if>.<VID>` stand-in, a bare OVS bridge.
  const veth = 'fn00aa11bb22cc';
  await h.bridge('brz', true);
  await h.veth(veth, 'eth7', { alias: ownerMarkOf(agent.stateDir), master: 'brz', peerNs: ctr });
  await h.bridge('brq', true);
  await h.veth('vl0.10', 'vl0p', { alias: OWNED });
  assert.equal((await vsctl('add-br', 'ovz', '--', 'set', 'bridge', 'ovz', 'datapath_type=netdev')).code, 0);
  assert.equal((await vsctl('br-set-external-id', 'ovz', 'fleetnet', 'owned')).code, 0);
  // Not fleetnet's to remove: an unmarked bridge, an owned one with someone else's port, an owned link that is a
  // port of a bridge, an unmarked OVS bridge and an owned one with someone else's port.
  await h.bridge('brmine', false);
  await h.bridge('brport', true);
  await h.veth('up0', 'up0p', { master: 'brport' });
  await h.veth('vl1.20', 'vl1p', { alias: OWNED, master: 'brmine' });
  assert.equal((await vsctl('add-br', 'ovk', '--', 'set', 'bridge', 'ovk', 'datapath_type=netdev')).code, 0);
  assert.equal((await vsctl('add-br', 'ovp', '--', 'set', 'bridge', 'ovp', 'datapath_type=netdev')).code, 0);
  assert.equal((await vsctl('br-set-external-id', 'ovp', 'fleetnet', 'owned')).code, 0);
  assert.equal((await vsctl('add-port', 'ovp', 'ovpi', '--', 'set', 'interface', 'ovpi', 'type=internal')).code, 0);

  const found = await agent.check();
  assert.equal(found.code, 1, found.r.stdout + found.r.stderr);
  assert.deepEqual(found.orphans, ['brq', 'brz', veth, 'ovz', 'vl0.10'], found.r.stdout);

  const fixed = await agent.check('--fix');
  assert.equal(fixed.code, 0, fixed.r.stdout + fixed.r.stderr);
  for (const gone of ['brq', 'brz', veth, 'vl0.10']) assert.equal(await h.exists(gone), false, `${gone} removed`);
  assert.notEqual((await vsctl('br-exists', 'ovz')).code, 0, 'ovz removed');
  for (const kept of ['bru', 'brmine', 'brport', 'up0', 'vl1.20']) assert.ok(await h.exists(kept), `${kept} kept`);
  for (const kept of ['ovk', 'ovp']) assert.equal((await vsctl('br-exists', kept)).code, 0, `${kept} kept`);
  const ports = (await h.ip('-o', 'link', 'show', 'master', 'bru')).stdout.trim().split('\n').filter(Boolean);
  assert.equal(ports.length, 1, 'the recorded attachment keeps its port');
  const again = await agent.check();
  assert.equal(again.code, 0, again.r.stdout);
});

test('the periodic sweep removes a bare owned bridge after its grace, and leaves an unmarked one', async (tc) => {
  const t = scope(tc);
  const p = uniq();
  const ns = await netns(t, `${p}-host`);
  const h = inNs(ns);
  await h.bridge('brz', true);
  await h.bridge('brmine', false);
  const agent = await agentIn(t, ns, tempDir(t, p), ['--lifecycle-pass-ms', '200']);
  await eventually('brz swept', async () => !(await h.exists('brz')));
  assert.ok(await h.exists('brmine'), 'an unmarked bridge stays');
  assert.equal((await agent.check()).code, 0);
});
