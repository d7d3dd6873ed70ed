// `fleetnet lab demo`: a readable, step-by-step account of fleetnet on a lab fleet. Later issues
// grow it (controller, mesh, bootstrap); each act is a function that prints what it does and why.
import type { Logger } from 'pino';
import { FleetnetError } from '../common/errors.js';
import { silentLogger } from '../common/logger.js';
import { ExecRunner, type Runner } from '../common/runner.js';
import { fleetnetBin } from './agents.js';
import { labDown, LAB_LABEL } from './down.js';
import { checkDocker, ensureBusyboxImage, runBusybox } from './image.js';
import { labUp, type LabUpResult } from './up.js';
import { actFleet } from './demo-fleet.js';
import { indent, type DemoContext, type DemoOptions } from './demo-context.js';

export type { DemoContext, DemoOptions };

const SUBNET = '10.200.0';
const BRIDGE = 'br-demo';

async function actAttachAndPing(ctx: DemoContext): Promise<void> {
  const { say, runner, lab, opts } = ctx;
  const host = lab.hosts[0]!;
  say('');
  say(`== 2. Two containers on ${host.name}, attached through ${host.name}'s agent ==`);
  say('Docker makes them with --network none: no interface but lo, like a fresh pipework target.');
  const names = ['web1', 'web2'].map((n) => `${opts.name}-${n}`);
  for (const n of names) {
    await runBusybox(runner, { name: n, labels: [`${LAB_LABEL}=${opts.name}`, 'fleetnet.demo=1'] });
    say(`  started container ${n} (busybox, label ${LAB_LABEL}=${opts.name} so lab down removes it)`);
  }
  say(`The agent of ${host.name} runs inside ${host.netns}; we talk to it over its unix socket.`);
  say(`${BRIDGE} does not exist yet: its name starts with br, so the agent creates a Linux bridge in ${host.netns}.`);
  for (const [i, n] of names.entries()) {
    await ctx.fleetnet(['--socket', host.agentSocket, 'attach', BRIDGE, n, `${SUBNET}.${i + 1}/24`]);
    opts.signal?.throwIfAborted();
  }
  say('What the agent made, as it reports it (fleetnet ls):');
  await ctx.fleetnet(['--socket', host.agentSocket, 'ls']);
  say('');
  say('== 3. They reach each other ==');
  const cmd = ['exec', names[0]!, 'ping', '-c', '3', '-W', '2', `${SUBNET}.2`];
  say(`$ docker ${cmd.join(' ')}`);
  const r = await runner.run('docker', cmd, { allowFail: true, timeoutMs: 20_000 });
  say(indent(r.stdout || r.stderr));
  if (r.code !== 0) throw new FleetnetError('failed', `${names[0]} could not ping ${SUBNET}.2 over ${BRIDGE}`);
  say(`ok: ${names[0]} and ${names[1]} talk over ${BRIDGE} on ${host.name}, through interfaces fleetnet gave them.`);
}

export async function runDemo(opts: DemoOptions): Promise<void> {
  const runner = opts.runner ?? new ExecRunner();
  const log = opts.log ?? silentLogger();
  const say = opts.out;
  const t0 = Date.now();
  if (opts.hosts < 2) throw new FleetnetError('invalid', 'the demo needs at least 2 hosts', { hint: '--hosts 2 or 3' });
  say('fleetnet demo: a simulated fleet on this machine; containers attached by a host agent, then by the');
  say('fleet controller across hosts over a GRE mesh; and cleanup.');
  say("Nothing touches this machine's own network: every host is a network namespace.");
  say('');
  say('== 0. Checks ==');
  await checkDocker(runner); // before anything is made: no Docker, no demo
  say('  Docker answers.');
  await ensureBusyboxImage(runner);
  say('  image fleetnet/busybox:local is there (made from busybox-static with docker import when missing).');
  const bin = fleetnetBin();
  let lab: LabUpResult | undefined;
  try {
    say('');
    say(`== 1. A lab fleet: ${opts.hosts} hosts named ${opts.name}-h1..${opts.name}-h${opts.hosts} ==`);
    lab = await labUp({
      name: opts.name,
      hosts: opts.hosts,
      runner,
      log,
      onStep: (l) => say(`  ${l}`),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    say(`  lab up in ${lab.elapsedMs} ms.`);
    const ctx: DemoContext = {
      opts,
      runner,
      lab,
      bin,
      say,
      fleetnet: async (args) => {
        say(`$ fleetnet ${args.join(' ')}`);
        const r = await runner.run(process.execPath, [bin, ...args], { allowFail: true, timeoutMs: 60_000 });
        say(indent(r.stdout + r.stderr));
        if (r.code !== 0) throw new FleetnetError('failed', `fleetnet ${args[2] ?? ''} failed (exit ${r.code})`);
        return r.stdout;
      },
    };
    opts.signal?.throwIfAborted();
    await actAttachAndPing(ctx);
    opts.signal?.throwIfAborted();
    await actFleet(ctx);
  } finally {
    // labUp takes down what it made when it fails; a lab that was never ours (a name clash) is left alone.
    if (lab) await demoDown(opts, runner, log, t0);
  }
}

async function demoDown(opts: DemoOptions, runner: Runner, log: Logger, t0: number): Promise<void> {
  const say = opts.out;
  {
    say('');
    say(`== last. The lab goes down (containers, agents, OVS daemons, namespaces, run dir) ==`);
    await labDown({ name: opts.name, runner, log, onStep: (l) => say(`  ${l}`) });
    say(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s.`);
  }
}
