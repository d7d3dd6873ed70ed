// The CNI plugin's client (the Node fallback; the native plugin does the same), the checks the agent
// makes of a plugin's call, the socket's framing, and the network configuration parser.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { startCniEndpoint } from '../../agent/service/cni-socket.js';
import { answerPluginCall, type HandlerReply } from '../../cni/call.js';
import type { CniHandler } from '../../cni/handler.js';
import { launcher } from '../../cni/install.js';
import { parseNetConf } from '../../cni/netconf.js';
import { agentSocketOf, pluginNameOf, runPlugin } from '../../cni/plugin.js';
import {
  callAgentCni,
  cniSocketOf,
  decodeReply,
  encodeReply,
  type CniWireRequest,
  type PluginOutcome,
} from '../../cni/transport.js';
import { CniError, renderResult } from '../../cni/spec.js';

const io = (env: Record<string, string>, stdin: unknown, reply?: (r: CniWireRequest) => Promise<PluginOutcome>) => ({
  env,
  stdin: Buffer.from(typeof stdin === 'string' ? stdin : JSON.stringify(stdin)),
  call:
    reply ??
    (async () => {
      throw new Error('connect ENOENT');
    }),
});
const ADD = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0' };
const conf = { cniVersion: '1.1.0', name: 'blue', type: 'fleetnet' };
const wire = (env: Record<string, string>, stdin: unknown): CniWireRequest => ({
  plugin: 'fleetnet',
  command: env.CNI_COMMAND ?? '',
  containerId: env.CNI_CONTAINERID ?? '',
  netns: env.CNI_NETNS ?? '',
  ifname: env.CNI_IFNAME ?? '',
  args: '',
  path: '',
  config: typeof stdin === 'string' ? stdin : JSON.stringify(stdin),
});
const ok = async (): Promise<HandlerReply> => ({ result: '{"ok":1}', code: 0, msg: '', details: '' });

describe('cni plugin process (client)', () => {
  it('answers VERSION itself', async () => {
    const r = await runPlugin('fleetnet', io({ CNI_COMMAND: 'VERSION' }, { cniVersion: '1.1.0' }));
    assert.deepEqual(
      [r.exitCode, JSON.parse(r.stdout)],
      [0, { cniVersion: '1.1.0', supportedVersions: ['0.4.0', '1.0.0', '1.1.0'] }],
    );
  });

  it('refuses a missing or unknown CNI_COMMAND (4) without calling the agent', async () => {
    for (const env of [{}, { ...ADD, CNI_COMMAND: 'FROB' }]) {
      const r = await runPlugin(
        'fleetnet',
        io(env, conf, async () => assert.fail('the agent was asked')),
      );
      assert.deepEqual([r.exitCode, JSON.parse(r.stdout).code], [1, 4]);
    }
  });

  it("no agent: 11 (try again later), and 50 for STATUS, in the configuration's version", async () => {
    assert.equal(JSON.parse((await runPlugin('fleetnet', io(ADD, conf))).stdout).code, 11);
    const s = JSON.parse(
      (await runPlugin('fleetnet', io({ CNI_COMMAND: 'STATUS' }, { ...conf, cniVersion: '1.0.0' }))).stdout,
    );
    assert.deepEqual([s.code, s.cniVersion], [50, '1.0.0']);
    assert.equal(JSON.parse((await runPlugin('fleetnet', io(ADD, '{nope'))).stdout).code, 11);
  });

  it("passes the environment and stdin through, and prints the agent's answer as it is", async () => {
    let seen: CniWireRequest | undefined;
    const r = await runPlugin(
      'fleetnet-ipam',
      io({ ...ADD, CNI_ARGS: 'K=V', CNI_PATH: '/opt/cni/bin' }, conf, async (req) => {
        seen = req;
        return { stdout: 'as is', exitCode: 1 };
      }),
    );
    assert.equal(seen?.plugin, 'fleetnet-ipam');
    assert.deepEqual(
      [seen?.command, seen?.containerId, seen?.netns, seen?.ifname, seen?.args, seen?.path],
      ['ADD', 'c1', '/run/netns/x', 'eth0', 'K=V', '/opt/cni/bin'],
    );
    assert.deepEqual(JSON.parse(seen?.config ?? ''), conf);
    assert.deepEqual(r, { stdout: 'as is', exitCode: 1 });
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
    const call = async (_r: CniWireRequest, s: string) => {
      socket = s;
      return { stdout: '{}', exitCode: 0 };
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

describe('cni call in the agent', () => {
  it('refuses missing variables (4), bad JSON (6) and versions it does not speak (1) before the handler', async () => {
    const cases: [Record<string, string>, unknown, number][] = [
      [{}, conf, 4],
      [{ ...ADD, CNI_NETNS: '' }, conf, 4],
      [ADD, '{nope', 6],
      [ADD, '[]', 6],
      [ADD, { ...conf, cniVersion: '0.3.1' }, 1],
    ];
    for (const [env, stdin, code] of cases) {
      const r = await answerPluginCall(wire(env, stdin), async () => assert.fail('the handler was asked'));
      assert.equal(r.exitCode, 1);
      assert.equal(JSON.parse(r.stdout).code, code, r.stdout);
    }
  });

  it("the handler's result is stdout; its error is the spec's JSON in the configuration's version", async () => {
    assert.deepEqual(await answerPluginCall(wire(ADD, conf), ok), { stdout: '{"ok":1}', exitCode: 0 });
    const r = await answerPluginCall(wire(ADD, { ...conf, cniVersion: '0.4.0' }), async () => ({
      result: '',
      code: 7,
      msg: 'invalid network configuration: subnet: x',
      details: 'd',
    }));
    assert.deepEqual(
      [r.exitCode, JSON.parse(r.stdout)],
      [1, { cniVersion: '0.4.0', code: 7, msg: 'invalid network configuration: subnet: x', details: 'd' }],
    );
  });

  it('the socket: a request until EOF, then exit code, newline, stdout; a foreign request gets code 5', async () => {
    assert.deepEqual(decodeReply(encodeReply({ exitCode: 1, stdout: 'x\ny' })), { exitCode: 1, stdout: 'x\ny' });
    assert.throws(() => decodeReply(Buffer.from('')), /closed without an answer/);
    assert.throws(() => decodeReply(Buffer.from('HTTP/1.1 200\n')), /not a CNI reply/);
    const dir = mkdtempSync(join(tmpdir(), 'fleetnet-cni-unit-'));
    const calls: string[] = [];
    const handler = {
      handle: async (c: { command: string; config: Uint8Array }) => {
        calls.push(`${c.command} ${Buffer.from(c.config).toString()}`);
        return '{"cniVersion":"1.1.0"}\n';
      },
    } as unknown as CniHandler;
    const ep = await startCniEndpoint(join(dir, 'a-cni.sock'), handler, pino({ level: 'silent' }));
    try {
      const r = await callAgentCni(join(dir, 'a-cni.sock'), wire(ADD, conf), 10_000);
      assert.deepEqual(r, { exitCode: 0, stdout: '{"cniVersion":"1.1.0"}\n' });
      assert.deepEqual(calls, [`ADD ${JSON.stringify(conf)}`]);
      const bad = await callAgentCni(join(dir, 'a-cni.sock'), { plugin: 'x' } as unknown as CniWireRequest, 10_000);
      assert.deepEqual([bad.exitCode, JSON.parse(bad.stdout).code], [1, 5]);
      await assert.rejects(callAgentCni(join(dir, 'none.sock'), wire(ADD, conf), 10_000), /ENOENT/);
    } finally {
      await ep.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('cni network configuration', () => {
  const bad = (plugin: 'fleetnet' | 'fleetnet-ipam', c: unknown, field: RegExp) => {
    assert.throws(
      () => parseNetConf(plugin, c),
      (e: unknown) => e instanceof CniError && e.code === 7 && field.test(e.message),
    );
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
    bad(
      'fleetnet-ipam',
      { ...conf, ipam: { type: 'fleetnet-ipam', routes: [{ dst: 'x' }] } },
      /ipam\.routes\[0\]\.dst/,
    );
    bad('fleetnet', { ...conf, prevResult: { ips: [{ address: '1.2.3.4' }] } }, /prevResult\.ips\[0\]\.address/);
  });
  it('local pool: network address, broadcast and the gateway are never handed out', () => {
    const c = parseNetConf('fleetnet', { ...conf, subnet: '10.0.0.0/30', kind: 'ovs', bridge: 'ovs-b', vlan: 12 });
    assert.deepEqual(
      [c.pool.first, c.pool.last, c.link?.kind, c.link?.hostIf, c.link?.vlan],
      [0x0a000001n, 0x0a000002n, 'ovs', 'ovs-b', 12],
    );
    assert.equal(parseNetConf('fleetnet', conf).link?.hostIf, 'br-blue');
  });
  it('0.4.0 results carry the IP version; 1.x do not', () => {
    const r = { ips: [{ address: '10.0.0.2/24' }, { address: 'fd00::2/64' }] };
    assert.deepEqual(
      (renderResult({ cniVersion: '0.4.0', ...r }).ips as { version: string }[]).map((i) => i.version),
      ['4', '6'],
    );
    assert.equal('version' in (renderResult({ cniVersion: '1.0.0', ...r }).ips as object[])[0]!, false);
  });
});
