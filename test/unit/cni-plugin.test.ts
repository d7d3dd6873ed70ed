// The CNI plugin's own checks (before any agent is asked) and the network configuration parser.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { launcher } from '../../cni/install.js';
import { parseNetConf } from '../../cni/netconf.js';
import { agentSocketOf, pluginNameOf, runPlugin, type AgentCniRequest } from '../../cni/plugin.js';
import { cniSocketOf } from '../../cni/transport.js';
import { CniError, renderResult } from '../../cni/spec.js';

type Reply = { result: string; code: number; msg: string; details: string };
const io = (env: Record<string, string>, stdin: unknown, reply?: (r: AgentCniRequest) => Promise<Reply>) => ({
  env, stdin: Buffer.from(typeof stdin === 'string' ? stdin : JSON.stringify(stdin)),
  call: reply ?? (async () => { throw new Error('connect ENOENT'); }),
});
const ADD = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0' };
const conf = { cniVersion: '1.1.0', name: 'blue', type: 'fleetnet' };

describe('cni plugin process', () => {
  it('answers VERSION itself', async () => {
    const r = await runPlugin('fleetnet', io({ CNI_COMMAND: 'VERSION' }, { cniVersion: '1.1.0' }));
    assert.deepEqual([r.exitCode, JSON.parse(r.stdout)], [0, { cniVersion: '1.1.0', supportedVersions: ['0.4.0', '1.0.0', '1.1.0'] }]);
  });

  it('refuses missing variables (4), bad JSON (6) and versions it does not speak (1) without calling the agent', async () => {
    const cases: [Record<string, string>, unknown, number][] = [
      [{}, conf, 4], [{ ...ADD, CNI_NETNS: '' }, conf, 4], [ADD, '{nope', 6], [ADD, '[]', 6], [ADD, { ...conf, cniVersion: '0.3.1' }, 1],
    ];
    for (const [env, stdin, code] of cases) {
      const r = await runPlugin('fleetnet', io(env, stdin, async () => assert.fail('the agent was asked')));
      assert.equal(r.exitCode, 1);
      assert.equal(JSON.parse(r.stdout).code, code, r.stdout);
    }
  });

  it('no agent: 11 (try again later), and 50 for STATUS', async () => {
    assert.equal(JSON.parse((await runPlugin('fleetnet', io(ADD, conf))).stdout).code, 11);
    assert.equal(JSON.parse((await runPlugin('fleetnet', io({ CNI_COMMAND: 'STATUS' }, conf))).stdout).code, 50);
  });

  it('passes the environment and stdin through, and the agent\'s error as it is', async () => {
    let seen: AgentCniRequest | undefined;
    const r = await runPlugin('fleetnet-ipam', io({ ...ADD, CNI_ARGS: 'K=V', CNI_PATH: '/opt/cni/bin' }, conf, async (req) => {
      seen = req;
      return { result: '', code: 7, msg: 'invalid network configuration: subnet: x', details: 'd' };
    }));
    assert.equal(seen?.plugin, 'fleetnet-ipam');
    assert.deepEqual([seen?.command, seen?.containerId, seen?.netns, seen?.ifname, seen?.args, seen?.path], ['ADD', 'c1', '/run/netns/x', 'eth0', 'K=V', '/opt/cni/bin']);
    assert.deepEqual(JSON.parse(r.stdout), { cniVersion: '1.1.0', code: 7, msg: 'invalid network configuration: subnet: x', details: 'd' });
  });

  it('finds the agent: agentSocket in the configuration, else FLEETNET_AGENT_SOCKET, else the default', async () => {
    const env = { FLEETNET_AGENT_SOCKET: '/e/a.sock' };
    assert.equal(agentSocketOf({ agentSocket: '/c/a.sock' }, env), '/c/a.sock');
    assert.equal(agentSocketOf({ ipam: { type: 'fleetnet-ipam', agentSocket: '/i/a.sock' } }, env), '/i/a.sock');
    assert.equal(agentSocketOf({}, env), '/e/a.sock');
    assert.equal(agentSocketOf({}, {}), '/run/fleetnet/agent.sock');
    assert.equal(cniSocketOf('/run/fleetnet/agent.sock'), '/run/fleetnet/agent-cni.sock');
    assert.equal(cniSocketOf('/tmp/x/h1'), '/tmp/x/h1-cni.sock');
    let socket = '';
    const call = async (_r: AgentCniRequest, s: string) => {
      socket = s;
      return { result: '{}', code: 0, msg: '', details: '' };
    };
    await runPlugin('fleetnet', { ...io(ADD, { ...conf, agentSocket: '/c/a.sock' }), call });
    assert.equal(socket, '/c/a.sock');
  });

  it('knows which plugin it is from its file name', () => {
    assert.equal(pluginNameOf('/opt/cni/bin/fleetnet-ipam'), 'fleetnet-ipam');
    assert.equal(pluginNameOf('/opt/cni/bin/fleetnet'), 'fleetnet');
  });

  it('launcher: shebang with the node given, compile cache, the bundle', () => {
    const l = launcher('/usr/bin/node', '/opt/fleetnet/dist/cni-plugin.cjs');
    assert.match(l, /^#!\/usr\/bin\/node\n/);
    assert.match(l, /enableCompileCache\(\);\nrequire\("\/opt\/fleetnet\/dist\/cni-plugin\.cjs"\);/);
  });
});

describe('cni network configuration', () => {
  const bad = (plugin: 'fleetnet' | 'fleetnet-ipam', c: unknown, field: RegExp) => {
    assert.throws(() => parseNetConf(plugin, c), (e: unknown) => e instanceof CniError && e.code === 7 && field.test(e.message));
  };
  it('names the wrong field', () => {
    bad('fleetnet', { ...conf, subnet: '10.0.0.1/24' }, /^invalid network configuration: subnet: .*host bits/);
    bad('fleetnet', { ...conf, subnet: '10.0.0.0/24', rangeStart: '10.0.1.1' }, /rangeStart: 10\.0\.1\.1 is not in/);
    bad('fleetnet', { ...conf, gateway: '10.0.0.1' }, /gateway: needs a subnet/);
    bad('fleetnet', { ...conf, kind: 'macvlan' }, /master/);
    bad('fleetnet', { ...conf, vlan: 5 }, /vlan: is for kind ovs/);
    bad('fleetnet', { ...conf, vlan: 5000, kind: 'ovs' }, /^invalid network configuration: vlan/);
    bad('fleetnet', { ...conf, name: '-x' }, /name/);
    bad('fleetnet', { ...conf, bridge: 'a-very-long-bridge-name' }, /bridge: .*15/);
    bad('fleetnet-ipam', { ...conf, type: 'bridge' }, /^invalid network configuration: ipam/);
    bad('fleetnet-ipam', { ...conf, ipam: { type: 'fleetnet-ipam', routes: [{ dst: 'x' }] } }, /ipam\.routes\[0\]\.dst/);
    bad('fleetnet', { ...conf, prevResult: { ips: [{ address: '1.2.3.4' }] } }, /prevResult\.ips\[0\]\.address/);
  });
  it('local pool: network address, broadcast and the gateway are never handed out', () => {
    const c = parseNetConf('fleetnet', { ...conf, subnet: '10.0.0.0/30', kind: 'ovs', bridge: 'ovs-b', vlan: 12 });
    assert.deepEqual([c.pool.first, c.pool.last, c.link?.kind, c.link?.hostIf, c.link?.vlan], [0x0a000001n, 0x0a000002n, 'ovs', 'ovs-b', 12]);
    assert.equal(parseNetConf('fleetnet', conf).link?.hostIf, 'br-blue');
  });
  it('0.4.0 results carry the IP version; 1.x do not', () => {
    const r = { ips: [{ address: '10.0.0.2/24' }, { address: 'fd00::2/64' }] };
    assert.deepEqual((renderResult({ cniVersion: '0.4.0', ...r }).ips as { version: string }[]).map((i) => i.version), ['4', '6']);
    assert.equal('version' in ((renderResult({ cniVersion: '1.0.0', ...r }).ips as object[])[0]!), false);
  });
});
