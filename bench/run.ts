// npm run bench: agent attach vs raw iproute2 vs the CNI bridge plugin, and the fleetnet CLI vs
// `docker network connect`, all inside one bench network namespace. Writes bench/results/latest.json
// (and agent-profile.json) and regenerates bench/README.md.
//   npm run bench -- [--n 50] [--warmup 3] [--agent-log-level info] [--no-profile] [--private-containerd]
//     [--results-dir bench/results] [--report bench/README.md]
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { describeError } from '../common/errors.js';
import { makeLogger } from '../common/logger.js';
import { FLEETNET_BIN, startAgent } from './lib/agent-proc.js';
import { dockerCli, dockerConnectTarget, ensureImage, startContainers } from './lib/docker.js';
import { cleanupOnSignals, makeBenchEnv, userProcessEnv, WORKPLACE_ONLY_ENV, type BenchEnv } from './lib/env.js';
import { measurePaths, type AttachPath, type PathSamples } from './lib/measure.js';
import { buildResults, printSummary, type ExtraKey, type Measured, type PathKey } from './lib/summary.js';
import { writeResults } from './lib/results.js';
import { timeMs } from './lib/stats.js';
import { ensureBridge } from './lib/verify.js';
import { agentGrpcPath } from './paths/agent-grpc.js';
import { CNI_DIR, cniBridgePath } from './paths/cni-bridge.js';
import { profileAgent } from './lib/profile.js';
import { rawIproute2Path } from './paths/raw-iproute2.js';
import { dockerConnectPath, fleetnetCliPath } from './paths/user-cli.js';
import { writeReport } from './report.js';

const Options = z.object({
  n: z.coerce.number().int().min(1).max(1000).default(50),
  warmup: z.coerce.number().int().min(0).max(50).default(3),
  'agent-log-level': z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  profile: z.boolean().default(true),
  'private-containerd': z.boolean().default(false),
  'results-dir': z.string().min(1).default('bench/results'),
  report: z.string().min(1).default('bench/README.md'),
  /** Another build's bin/fleetnet.cjs: the CLI path measured with it too, interleaved. */
  'baseline-cli': z.string().min(1).optional(),
  'baseline-label': z.string().min(1).optional(),
  /** A second round with this many more containers on the second dockerd (0: none). */
  busy: z.coerce.number().int().min(0).max(500).default(0),
});
type Options = z.infer<typeof Options>;

const USAGE =
  'usage: npm run bench -- [--n 50] [--warmup 3] [--agent-log-level info] [--no-profile] [--private-containerd] ' +
  '[--results-dir bench/results] [--report bench/README.md] ' +
  '[--baseline-cli OTHER/bin/fleetnet.cjs [--baseline-label L]] [--busy 30]';

function options(): Options {
  const bad = (why: string): never => {
    process.stderr.write(`bench: ${why}\n  ${USAGE}\n`);
    process.exit(2);
  };
  let values: Record<string, string | boolean | undefined> = {};
  try {
    values = parseArgs({
      options: {
        n: { type: 'string' },
        warmup: { type: 'string' },
        'agent-log-level': { type: 'string' },
        'no-profile': { type: 'boolean' },
        'private-containerd': { type: 'boolean' },
        'results-dir': { type: 'string' },
        report: { type: 'string' },
        'baseline-cli': { type: 'string' },
        'baseline-label': { type: 'string' },
        busy: { type: 'string' },
      },
    }).values;
  } catch (err) {
    bad((err as Error).message);
  }
  const parsed = Options.safeParse({
    ...values,
    profile: !values['no-profile'],
    'private-containerd': Boolean(values['private-containerd']),
  });
  if (!parsed.success)
    bad(`bad options: ${parsed.error!.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data!;
}

/** What must be there before anything is made; each miss names its fix. */
function preflight(): void {
  const miss: string[] = [];
  if (process.getuid?.() !== 0) miss.push('run as root (the bench makes namespaces and veths)');
  if (!existsSync(`${CNI_DIR}/bridge`) || !existsSync(`${CNI_DIR}/host-local`))
    miss.push(`${CNI_DIR}/bridge and host-local are missing: apt-get install containernetworking-plugins`);
  if (!existsSync('dist/fleetnet.cjs')) miss.push('the bundle is not built: npm run build');
  if (miss.length) throw new Error(`cannot run the bench:\n  - ${miss.join('\n  - ')}`);
}

const NET = {
  agent: 201,
  agentPid: 202,
  raw: 203,
  cni: 204,
  cli: 205,
  docker: 206,
  park: 207,
  profile: 208,
  cliBaseline: 210,
} as const; // the profile's gRPC half uses 209

async function measureAll(env: BenchEnv, o: Options): Promise<Measured> {
  // New processes run as on a user's machine (without this workplace's NODE_EXTRA_CA_CERTS), except
  // the one floor row that shows what that variable costs.
  const user = userProcessEnv();
  const exec =
    (cmd: string, args: string[], env2: NodeJS.ProcessEnv = user) =>
    () =>
      env.runner.run(cmd, args, { env: env2 });
  const d0 = dockerCli(env);
  await ensureImage(env, d0);
  const cs = await startContainers(env, d0, `fnb${env.runId}`, o.n, 'none');
  for (const br of ['brag', 'brap', 'brraw', 'brcni', 'brcli', 'brclb', 'brpf', 'brpg']) await ensureBridge(env, br);
  const agent = await startAgent(env, o['agent-log-level']);

  const dc = await dockerConnectTarget(env, {
    n: o.n,
    prefix: 'fnd',
    net: NET.docker,
    park: NET.park,
    privateContainerd: o['private-containerd'],
  });

  const paths: Record<PathKey, AttachPath> = {
    agent: agentGrpcPath(agent, cs, {
      name: 'fleetnet agent gRPC Attach (Docker name)',
      bridge: 'brag',
      ifname: 'eth1',
      net: NET.agent,
      target: 'docker',
    }),
    agentPid: agentGrpcPath(agent, cs, {
      name: 'fleetnet agent gRPC Attach (PID)',
      bridge: 'brap',
      ifname: 'eth2',
      net: NET.agentPid,
      target: 'pid',
    }),
    raw: rawIproute2Path(env, cs, { bridge: 'brraw', ifname: 'eth3', net: NET.raw }),
    cni: cniBridgePath(env, cs, { bridge: 'brcni', ifname: 'eth4', net: NET.cni }),
    cli: fleetnetCliPath(env, agent, cs, { bridge: 'brcli', ifname: 'eth5', net: NET.cli }),
    docker: dockerConnectPath(env, dc.d2, dc.containers, { network: dc.network, bridge: dc.bridge, net: NET.docker }),
  };
  const all: Partial<Record<PathKey | ExtraKey, AttachPath>> = { ...paths };
  if (o['baseline-cli']) {
    all.cliBaseline = fleetnetCliPath(env, agent, cs, {
      bridge: 'brclb',
      ifname: 'eth8',
      net: NET.cliBaseline,
      bin: o['baseline-cli'],
      name: `fleetnet attach (new CLI process), baseline CLI (${o['baseline-label'] ?? o['baseline-cli']})`,
    });
  }
  const keys = Object.keys(all) as (PathKey | ExtraKey)[];
  process.stdout.write(`measuring ${keys.length} paths, interleaved: ${o.n} attaches and ${o.n} detaches each…\n`);
  const measured = await measurePaths(
    env,
    keys.map((k) => all[k]!),
    o.n,
    o.warmup,
    env.log,
  );
  const samples = Object.fromEntries(keys.map((k, i) => [k, measured[i]!])) as Measured['samples'];
  if (o.busy > 0) {
    // A daemon that already runs containers: docker's own time grows with them; fleetnet's does not depend on it.
    await startContainers(env, dc.d2, `fnx${env.runId}`, o.busy, `park${env.runId}`);
    const round2 = [
      fleetnetCliPath(env, agent, cs, {
        bridge: 'brcli',
        ifname: 'eth5',
        net: NET.cli,
        name: 'fleetnet attach (new CLI process), second round',
      }),
      dockerConnectPath(env, dc.d2, dc.containers, {
        network: dc.network,
        bridge: dc.bridge,
        net: NET.docker,
        name: `docker network connect --ip, busy daemon (+${o.busy} containers), second round`,
      }),
    ];
    process.stdout.write(
      `second round: ${o.busy} more containers on the second dockerd; fleetnet CLI and docker, interleaved…\n`,
    );
    const [cliBusy, dockerBusy] = await measurePaths(env, round2, o.n, o.warmup, env.log);
    Object.assign(samples, { cliBusy, dockerBusy });
  }

  // Floors run interleaved too (round i of every floor before round i+1).
  const k = Math.min(o.n, 20);
  const floors: { name: string; timed: string; ms: number[]; once: () => Promise<unknown> }[] = [
    {
      name: 'floor: node -e "" (bare Node start)',
      timed:
        'Node start and exit with nothing loaded, without NODE_EXTRA_CA_CERTS ' +
        '(as every process here except the next row)',
      once: exec(process.execPath, ['-e', '']),
    },
    ...(WORKPLACE_ONLY_ENV.some((k) => process.env[k] !== undefined)
      ? [
          {
            name: `floor: node -e "" with this workplace's ${WORKPLACE_ONLY_ENV.join(', ')}`,
            timed:
              "the same with the bench's own environment " +
              `(${WORKPLACE_ONLY_ENV.map((k) => `${k}=${process.env[k] ?? ''}`).join(', ')}): ` +
              'what every Node process here pays when it is left in',
            once: exec(process.execPath, ['-e', ''], process.env),
          },
        ]
      : []),
    {
      name: 'floor: node, import @grpc/grpc-js',
      timed:
        'Node start + loading grpc-js (66 CommonJS files from node_modules): ' +
        'what every agent-talking CLI process pays before its first call',
      once: exec(process.execPath, ['--input-type=module', '-e', "await import('@grpc/grpc-js')"]),
    },
    {
      name: 'floor: node, import node:http2',
      timed:
        'Node start + the built-in HTTP/2 module (with tls, http and crypto), ' +
        'which the CLI loads for its first call (cli/client/grpc-h2.ts)',
      once: exec(process.execPath, ['--input-type=module', '-e', "await import('node:http2')"]),
    },
    {
      name: 'floor: node bin/fleetnet.cjs --version',
      timed:
        "Node start + CLI bundle load (from Node's compile cache), no gRPC: the fixed cost of any new fleetnet process",
      once: exec(process.execPath, [FLEETNET_BIN, '--version']),
    },
    {
      name: 'floor: node bin/fleetnet.cjs --version, NODE_DISABLE_COMPILE_CACHE=1',
      timed: 'the same, compiling the bundle from source (no compile cache): what the cache saves',
      once: exec(process.execPath, [FLEETNET_BIN, '--version'], { ...user, NODE_DISABLE_COMPILE_CACHE: '1' }),
    },
    {
      name: 'floor: fleetnet ls (new CLI process, List RPC)',
      timed:
        'a whole CLI round trip to the agent that runs no command on the host: ' +
        'Node start, bundle + HTTP/2 client load, one List call',
      once: exec(process.execPath, [FLEETNET_BIN, '--socket', agent.socket, 'ls']),
    },
    {
      name: 'floor: docker --version',
      timed: 'Go docker client start, no daemon call',
      once: exec('docker', ['--version']),
    },
    {
      name: 'floor: agent gRPC Health round trip',
      timed: 'Health request → reply on the same open unix-socket channel: the fixed gRPC cost of every agent call',
      once: () => agent.conn.call(agent.conn.client.health, {}),
    },
    {
      name: 'floor: nsenter --net=… true',
      timed: 'one exec that enters a network namespace: the unit cost of every exec above',
      once: exec('nsenter', [`--net=${env.netnsPath}`, 'true']),
    },
  ].map((f) => ({ ...f, ms: [] as number[] }));
  for (let i = 0; i < k; i++) for (const f of floors) f.ms.push(await timeMs(f.once));
  const profile = o.profile
    ? await profileAgent(env, cs, {
        bridge: 'brpf',
        ifname: 'eth6',
        net: NET.profile,
        warmup: o.warmup,
        socket: agent.socket,
        grpcBridge: 'brpg',
        grpcIfname: 'eth7',
      })
    : undefined;
  return {
    samples,
    floors,
    profile,
    ...(o['baseline-cli'] ? { baselineLabel: o['baseline-label'] ?? o['baseline-cli'] } : {}),
    ...(o.busy > 0 ? { busy: o.busy } : {}),
  };
}

async function main(): Promise<number> {
  const o = options();
  const log = makeLogger('warn', 'bench');
  preflight();
  const env = await makeBenchEnv(log);
  cleanupOnSignals(env);
  process.stdout.write(`bench ${env.runId}: netns ${env.netns}, temp ${env.tmp}\n`);
  const loadBefore = loadavg()[0]!;
  try {
    const m = await measureAll(env, o);
    const load = `${loadBefore.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after`;
    const machine = {
      nproc: cpus().length,
      kernel: release(),
      cpu: cpus()[0]?.model.trim() ?? '',
      node: process.versions.node,
      load1: load,
    };
    const { latest, profile } = buildResults({
      ...m,
      n: o.n,
      warmup: o.warmup,
      machine,
      agentLogLevel: o['agent-log-level'],
    });
    const dir = o['results-dir'];
    writeResults(`${dir}/latest.json`, latest);
    if (profile) writeResults(`${dir}/agent-profile.json`, profile);
    writeReport(dir, o.report);
    printSummary(latest, profile);
    process.stdout.write(`wrote ${dir}/latest.json${profile ? ` and agent-profile.json` : ''}, and ${o.report}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`bench FAILED: ${describeError(err)}\n`);
    const agentLog = `${env.tmp}/agent/agent.log`;
    if (existsSync(agentLog))
      process.stderr.write(
        `agent log (last lines):\n${readFileSync(agentLog, 'utf8').trim().split('\n').slice(-5).join('\n')}\n`,
      );
    return 1;
  } finally {
    await env.cleanup();
  }
}

process.exitCode = await main();
