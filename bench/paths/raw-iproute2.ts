// The floor: what a careful shell script does, two execs per attach (one `ip -batch` per namespace).
import type { BenchContainer } from '../lib/docker.js';
import type { BenchEnv } from '../lib/env.js';
import { benchAddr, type AttachPath } from '../lib/measure.js';

export function rawIproute2Path(
  env: BenchEnv,
  cs: BenchContainer[],
  o: { bridge: string; ifname: string; net: number },
): AttachPath {
  const hostIf = (i: number) => `rb${i}`;
  return {
    name: 'raw iproute2, two execs',
    timed:
      '`ip -n NETNS -batch -` (veth with its peer created straight in the container netns, ' +
      'host end on the bridge, up) then `nsenter --net=/proc/PID/ns/net ip -batch -` (address, up); ' +
      'spawn → exit of both, spawned from the bench Node process as the agent spawns its own ' +
      '(so both pay the Node spawn cost)',
    detachTimed: '`ip -n NETNS link del` of the host end',
    bridge: o.bridge,
    ifname: o.ifname,
    netnsOf: (i) => cs[i]!.netnsPath,
    expectAddr: (i) => `${benchAddr(o.net, i)}/16`,
    async attach(i) {
      const c = cs[i]!;
      const host =
        `link add ${hostIf(i)} type veth peer name ${o.ifname} netns ${c.netnsPath}\n` +
        `link set ${hostIf(i)} master ${o.bridge} up\n`;
      await env.runner.run('ip', ['-n', env.netns, '-batch', '-'], { input: host });
      const inside = `addr add ${benchAddr(o.net, i)}/16 dev ${o.ifname}\nlink set ${o.ifname} up\n`;
      await env.runner.run('nsenter', [`--net=${c.netnsPath}`, 'ip', '-batch', '-'], { input: inside });
    },
    async detach(i) {
      await env.runner.run('ip', ['-n', env.netns, 'link', 'del', hostIf(i)]);
    },
  };
}
