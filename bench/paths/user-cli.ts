// The whole user path: a new `fleetnet attach` process against the agent, and Docker's own
// `docker network connect --ip` against the bench's second dockerd.
import type { BenchAgent } from '../lib/agent-proc.js';
import { FLEETNET_BIN } from '../lib/agent-proc.js';
import { docker, type BenchContainer, type Docker } from '../lib/docker.js';
import { userProcessEnv, type BenchEnv } from '../lib/env.js';
import { benchAddr, type AttachPath } from '../lib/measure.js';

export function fleetnetCliPath(
  env: BenchEnv,
  agent: BenchAgent,
  cs: BenchContainer[],
  o: { bridge: string; ifname: string; net: number; bin?: string; name?: string },
): AttachPath {
  const cli = (args: string[]) =>
    env.runner.run(process.execPath, [o.bin ?? FLEETNET_BIN, '--socket', agent.socket, ...args], {
      env: userProcessEnv(),
    });
  return {
    name: o.name ?? 'fleetnet attach (new CLI process)',
    timed:
      '`node bin/fleetnet.cjs --socket S attach -i IF BRIDGE docker:NAME ADDR/16`: ' +
      "process spawn → exit 0 (Node start, CLI bundle from Node's compile cache, parse, " +
      'gRPC Attach as above over the unix socket, exit)',
    detachTimed: '`node bin/fleetnet.cjs --socket S detach -i IF docker:NAME`: spawn → exit',
    bridge: o.bridge,
    ifname: o.ifname,
    netnsOf: (i) => cs[i]!.netnsPath,
    expectAddr: (i) => `${benchAddr(o.net, i)}/16`,
    attach: async (i) =>
      void (await cli(['attach', '-i', o.ifname, o.bridge, `docker:${cs[i]!.name}`, `${benchAddr(o.net, i)}/16`])),
    detach: async (i) => void (await cli(['detach', '-i', o.ifname, `docker:${cs[i]!.name}`])),
  };
}

export function dockerConnectPath(
  env: BenchEnv,
  d: Docker,
  cs: BenchContainer[],
  o: { network: string; bridge: string; net: number; name?: string },
): AttachPath {
  return {
    name: o.name ?? 'docker network connect --ip',
    timed:
      '`docker -H SECOND_DAEMON network connect --ip ADDR NET ID`: process spawn → exit 0 ' +
      '(Go client, daemon API, libnetwork veth + bridge + address)',
    detachTimed: '`docker -H SECOND_DAEMON network disconnect NET ID`: spawn → exit',
    bridge: o.bridge,
    ifname: undefined, // Docker names it eth1, then eth2 after a reconnect
    netnsOf: (i) => cs[i]!.netnsPath,
    expectAddr: (i) => `${benchAddr(o.net, i)}/16`,
    attach: async (i) =>
      void (await docker(env, d, ['network', 'connect', '--ip', benchAddr(o.net, i), o.network, cs[i]!.id])),
    detach: async (i) => void (await docker(env, d, ['network', 'disconnect', o.network, cs[i]!.id])),
  };
}
