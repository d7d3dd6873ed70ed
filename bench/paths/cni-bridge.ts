// The CNI reference bridge plugin (Debian's containernetworking-plugins) with host-local IPAM, run in
// the bench netns: no gateway address, no masquerade, so it touches no iptables.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContainer } from '../lib/docker.js';
import type { BenchEnv } from '../lib/env.js';
import type { AttachPath } from '../lib/measure.js';

export const CNI_DIR = '/usr/lib/cni';

export function cniBridgePath(
  env: BenchEnv,
  cs: BenchContainer[],
  o: { bridge: string; ifname: string; net: number },
): AttachPath {
  const dataDir = join(env.tmp, 'cni-ipam');
  mkdirSync(dataDir, { recursive: true });
  const config = JSON.stringify({
    cniVersion: '1.0.0',
    name: `fnbench-${env.runId}`,
    type: 'bridge',
    bridge: o.bridge,
    isGateway: false,
    ipMasq: false,
    ipam: { type: 'host-local', ranges: [[{ subnet: `10.${o.net}.0.0/16` }]], dataDir },
  });
  const call = async (command: 'ADD' | 'DEL', i: number) => {
    const c = cs[i]!;
    const env2 = {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: command,
      CNI_CONTAINERID: c.id,
      CNI_NETNS: c.netnsPath,
      CNI_IFNAME: o.ifname,
      CNI_PATH: CNI_DIR,
    };
    const r = await env.runner.run('nsenter', [`--net=${env.netnsPath}`, join(CNI_DIR, 'bridge')], {
      input: config,
      env: env2,
      allowFail: true,
    });
    if (r.code !== 0)
      throw new Error(
        `CNI bridge ${command} for ${c.name} failed (exit ${r.code}): ${r.stdout.trim() || r.stderr.trim()}`,
      );
    return r.stdout;
  };
  return {
    name: 'CNI bridge plugin + host-local',
    timed:
      '`nsenter --net=BENCH_NETNS /usr/lib/cni/bridge` with CNI_COMMAND=ADD (it runs host-local, ' +
      'which allocates from a file store); spawn → exit',
    detachTimed: 'the same with CNI_COMMAND=DEL (releases the address)',
    bridge: o.bridge,
    ifname: o.ifname,
    netnsOf: (i) => cs[i]!.netnsPath,
    expectAddr: () => new RegExp(`^10\\.${o.net}\\.\\d+\\.\\d+/16$`),
    async attach(i) {
      const out = JSON.parse(await call('ADD', i)) as { ips?: { address?: string }[] };
      if (!out.ips?.[0]?.address) throw new Error(`CNI bridge ADD for ${cs[i]!.name} returned no address`);
    },
    async detach(i) {
      await call('DEL', i);
    },
  };
}
