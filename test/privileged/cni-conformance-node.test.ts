// CNI conformance of the Node plugin (the fallback where no C compiler built the native one): installed by
// `fleetnet cni install --node-plugin`, compared with the native plugin and driven against a real agent in
// a host namespace; containers are namespaces. The lab: cni-conformance-fixture.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ExecRunner } from '../../common/runner.js';
import { CniDriver, type CniEnv, type CniOutcome } from '../helpers/cni.js';
import { sh } from '../helpers/netns.js';
import { agent, cni, cniConformanceLab, conf, dir, HOST, ipOf, ns, reservations } from './cni-conformance-fixture.js';

cniConformanceLab('cj');

describe('the Node plugin (the fallback where no C compiler built the native one)', () => {
  let node: CniDriver;
  before(async () => {
    node = await CniDriver.install(join(dir, 'node'), agent.socket, HOST, new ExecRunner(), ['--node-plugin']);
  });
  const nconf = (extra: Record<string, unknown> = {}) =>
    conf({ name: 'nodenet', subnet: '10.66.0.0/24', gateway: '10.66.0.254', ...extra });

  it('is installed as a Node launcher under both names', () => {
    for (const name of ['fleetnet', 'fleetnet-ipam']) {
      assert.match(readFileSync(join(node.binDir, name), 'utf8'), /^#!.*node.*\n[^]*cni-plugin\.cjs/, name);
    }
  });

  it('without an agent, answers as the native plugin does (the socket it tried, code, version)', async () => {
    const none = { FLEETNET_AGENT_SOCKET: '/nonexistent/e.sock' };
    const cases: [string, CniEnv, unknown][] = [
      [
        'fleetnet',
        { command: 'ADD', containerId: 'x', netns: '/run/netns/x', ifname: 'eth0', extra: none },
        { cniVersion: '1.0.0', agentSocket: '/nonexistent/a.sock' },
      ],
      [
        'fleetnet-ipam',
        { command: 'DEL', containerId: 'x', ifname: 'eth0', extra: none },
        '{"cniVersion":"0.4.0","ipam":{"type":"fleetnet-ipam","agentSocket":"\\/nonexistent\\/i.sock"}}',
      ],
      [
        'fleetnet',
        { command: 'STATUS', extra: none },
        { cniVersion: '1.1.0', prevResult: { agentSocket: '/nonexistent/p.sock' }, ipam: [{ agentSocket: '/x' }] },
      ],
      [
        'fleetnet',
        { command: 'CHECK', extra: none },
        '{"cniVersion": "1.0.0", "agentSocket": "/nonexistent/a.sock"} trailing',
      ],
      ['fleetnet', { command: 'GC', extra: none }, { cniVersion: '1.1.0', agentSocket: '/nonexistent/\u00e9.sock' }],
      ['fleetnet', { command: 'ADD', extra: { ...none, CNI_COMMAND: undefined } }, {}],
      ['fleetnet', { command: 'ADD', extra: { ...none, CNI_COMMAND: 'add' } }, {}],
    ];
    for (const [plugin, e, c] of cases) {
      const [n, j] = await Promise.all([node.call(plugin, e, c), cni.call(plugin, e, c)]);
      const strip = (o: CniOutcome) => ({ code: o.code, out: { ...o.out, details: undefined } });
      assert.deepEqual(
        strip(j),
        strip(n),
        `${plugin} ${e.command} ${JSON.stringify(c)}: native ${j.stdout} node ${n.stdout}`,
      );
    }
  });

  it('VERSION without an agent; STATUS 50 without an agent; bad input with its code', async () => {
    const v = await node.call(
      'fleetnet',
      { command: 'VERSION', extra: { FLEETNET_AGENT_SOCKET: '/nonexistent.sock' } },
      { cniVersion: '1.1.0' },
    );
    assert.deepEqual(v.out, { cniVersion: '1.1.0', supportedVersions: ['0.4.0', '1.0.0', '1.1.0'] });
    const down = await node.call(
      'fleetnet',
      { command: 'STATUS', extra: { FLEETNET_AGENT_SOCKET: join(dir, 'none.sock') } },
      nconf(),
    );
    assert.equal((down.out as { code: number }).code, 50);
    const env = { command: 'ADD' as const, containerId: 'nb', netns: '/run/netns/none', ifname: 'eth0' };
    const cases: [CniEnv, unknown, number][] = [
      [env, '{"cniVersion": ', 6],
      [{ ...env, netns: undefined }, nconf(), 4],
      [{ ...env, extra: { CNI_COMMAND: 'FROB' } }, nconf(), 4],
      [env, nconf({ cniVersion: '0.2.0' }), 1],
      [env, nconf({ subnet: '10.66.0.0/33' }), 7],
    ];
    for (const [e, c, code] of cases) {
      const r = await node.call('fleetnet', e, c);
      assert.equal(r.code, 1, r.stdout);
      assert.equal((r.out as { code: number }).code, code, r.stdout);
    }
    assert.deepEqual(reservations('nodenet'), []);
  });

  it('ADD, CHECK, DEL twice; fleetnet-ipam under the reference bridge plugin', async () => {
    const p = await ns('n');
    const a = await node.call('fleetnet', { command: 'ADD', containerId: 'n-1', netns: p, ifname: 'eth0' }, nconf());
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.match(ipOf(a), /^10\.66\.0\.\d+\/24$/);
    const chk = await node.call(
      'fleetnet',
      { command: 'CHECK', containerId: 'n-1', netns: p, ifname: 'eth0' },
      nconf({ prevResult: a.out }),
    );
    assert.equal(chk.code, 0, chk.stdout);
    for (let i = 0; i < 2; i++) {
      assert.equal(
        (await node.call('fleetnet', { command: 'DEL', containerId: 'n-1', ifname: 'eth0' }, nconf())).code,
        0,
      );
    }
    assert.deepEqual(reservations('nodenet'), []);
    const b = await ns('nb');
    const bconf = {
      cniVersion: '1.0.0',
      name: 'nodeipam',
      type: 'bridge',
      bridge: 'br-nref',
      ipam: { type: 'fleetnet-ipam', subnet: '10.67.0.0/24' },
    };
    const env = { containerId: 'n-2', netns: b, ifname: 'eth0' };
    const r = await node.call('/usr/lib/cni/bridge', { command: 'ADD', ...env }, bconf);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(ipOf(r), /^10\.67\.0\.\d+\/24$/);
    assert.equal((await node.call('/usr/lib/cni/bridge', { command: 'DEL', ...env }, bconf)).code, 0);
    assert.deepEqual(reservations('nodeipam'), []);
    await sh.run('ip', ['-n', HOST, 'link', 'del', 'br-nref'], { allowFail: true });
  });
});
