// CNI conformance: `fleetnet-ipam` (as installed by `fleetnet cni install`) under the reference bridge
// plugin, against a real agent in a host namespace; containers are namespaces. The lab: cni-conformance-fixture.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CniEnv } from '../helpers/cni.js';
import { sh } from '../helpers/netns.js';
import { cni, cniConformanceLab, HOST, ipOf, ns, P, reservations } from './cni-conformance-fixture.js';

cniConformanceLab('cr');

describe('fleetnet-ipam under the reference bridge plugin', () => {
  const bconf = (extra: Record<string, unknown> = {}) => ({
    cniVersion: '1.0.0',
    name: 'refnet',
    type: 'bridge',
    bridge: 'br-ref',
    isGateway: false,
    ipam: {
      type: 'fleetnet-ipam',
      subnet: '10.63.0.0/24',
      gateway: '10.63.0.1',
      routes: [{ dst: '10.64.0.0/16', gw: '10.63.0.1' }],
    },
    ...extra,
  });
  const bridge = (e: CniEnv, c: unknown) => cni.call('/usr/lib/cni/bridge', e, c);

  it('ADD gives two containers addresses that ping; CHECK; GC frees; DEL releases; twice is fine', async () => {
    const [a, b] = await Promise.all([ns('ra'), ns('rb')]);
    const ra = await bridge({ command: 'ADD', containerId: 'ref-a', netns: a, ifname: 'eth0' }, bconf());
    assert.equal(ra.code, 0, ra.stdout + ra.stderr);
    const rb = await bridge({ command: 'ADD', containerId: 'ref-b', netns: b, ifname: 'eth0' }, bconf());
    assert.equal(rb.code, 0, rb.stdout + rb.stderr);
    const [ipa, ipb] = [ipOf(ra), ipOf(rb)];
    assert.notEqual(ipa, ipb);
    assert.match(ipa, /^10\.63\.0\.\d+\/24$/);
    assert.deepEqual(
      (ra.out as { routes: { dst: string }[] }).routes.map((r) => r.dst),
      ['10.64.0.0/16'],
    );
    assert.equal(
      (
        await sh.run('ip', ['netns', 'exec', `${P}-cra`, 'ping', '-c', '1', '-W', '2', ipb.split('/')[0]!], {
          allowFail: true,
        })
      ).code,
      0,
    );
    assert.deepEqual(
      reservations('refnet')
        .map((r) => r.addresses[0])
        .sort(),
      [ipa, ipb].sort(),
    );
    // The bridge takes the lowest MAC of its ports: only the latest ADD's result still names its MAC.
    const chkEnv = { command: 'CHECK' as const, containerId: 'ref-b', netns: b, ifname: 'eth0' };
    const chk = await bridge(chkEnv, bconf({ prevResult: rb.out }));
    assert.equal(chk.code, 0, chk.stdout + chk.stderr);
    const gc = await cni.call(
      'fleetnet-ipam',
      { command: 'GC' },
      bconf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'ref-a', ifname: 'eth0' }] }),
    );
    assert.equal(gc.code, 0, gc.stdout);
    assert.deepEqual(
      reservations('refnet').map((r) => r.containerId),
      ['ref-a'],
    );
    for (let i = 0; i < 2; i++) {
      for (const [id, p] of [
        ['ref-a', a],
        ['ref-b', b],
      ] as const) {
        const d = await bridge(
          { command: 'DEL', containerId: id, netns: p, ifname: 'eth0' },
          bconf({ prevResult: id === 'ref-a' ? ra.out : rb.out }),
        );
        assert.equal(d.code, 0, d.stdout + d.stderr);
      }
    }
    assert.deepEqual(reservations('refnet'), []);
    await sh.run('ip', ['-n', HOST, 'link', 'del', 'br-ref'], { allowFail: true });
  });

  it('an IPAM config error reaches the runtime through the bridge plugin with its code', async () => {
    const p = await ns('rx');
    const r = await bridge(
      { command: 'ADD', containerId: 'ref-x', netns: p, ifname: 'eth0' },
      bconf({ ipam: { type: 'fleetnet-ipam', subnet: 'nope' } }),
    );
    assert.equal(r.code, 1);
    assert.equal((r.out as { code: number }).code, 7, r.stdout);
    assert.match((r.out as { msg: string }).msg, /ipam\.subnet/);
    await sh.run('ip', ['-n', HOST, 'link', 'del', 'br-ref'], { allowFail: true });
  });
});
