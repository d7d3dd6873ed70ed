// The user path through the controller: a new `fleetnet --controller … attach --host H NAME ADDR`
// process (controller → agent → Docker container), measured as an AttachPath so it runs interleaved
// with `docker network connect --ip` (bench/paths/user-cli.ts) and is checked the same way.
import type { BenchContainer } from '../lib/docker.js';
import { userProcessEnv, type BenchEnv } from '../lib/env.js';
import { benchAddr, type AttachPath } from '../lib/measure.js';

export function controllerCliPath(
  env: BenchEnv,
  cs: BenchContainer[],
  o: { name: string; bin: string; controller: string; host: string; bridge: string; net: number },
): AttachPath {
  const cli = (args: string[]) =>
    env.runner.run(process.execPath, [o.bin, '--controller', o.controller, ...args], {
      timeoutMs: 60_000,
      env: userProcessEnv(),
    });
  return {
    name: o.name,
    timed:
      `\`node ${o.bin} --controller ${o.controller} attach --host ${o.host} NAME ADDR/16\`: ` +
      'process spawn → exit 0 (Node start, CLI load, FleetAttach, reservation committed, targeted dispatcher pass: ' +
      'agent Attach over gRPC TCP with Docker lookup, veth, addresses, read-back; attachment marked up, reply)',
    detachTimed:
      `\`node ${o.bin} --controller ${o.controller} detach --host ${o.host} NAME\`: ` +
      'spawn → exit 0 (detach recorded, agent Detach, addresses released, reply)',
    bridge: o.bridge,
    ifname: 'eth1',
    netnsOf: (i) => cs[i]!.netnsPath,
    expectAddr: (i) => `${benchAddr(o.net, i)}/16`,
    attach: async (i) => void (await cli(['attach', '--host', o.host, cs[i]!.name, `${benchAddr(o.net, i)}/16`])),
    detach: async (i) => void (await cli(['detach', '--host', o.host, cs[i]!.name])),
  };
}
