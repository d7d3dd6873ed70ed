// fleetnet lab: a simulated fleet of hosts on this machine, in network namespaces (lab/).
import type { Command } from 'commander';
import { invalid } from '../../common/errors.js';
import { addOutputOptions, formatHelp, outputOf } from '../output/format.js';
import { printJson, table } from '../output/table.js';

const EXAMPLES = `
A lab named L is: a switch namespace L-sw (a Linux bridge, the underlay), hosts L-h1..L-hN
joined to it by veth pairs, each host with its own user-space Open vSwitch (br-phy holds the
host's underlay address, 10.99.0.11 for h1) and its own fleetnet agent. Everything lives in
those namespaces and under /run/fleetnet-lab/L; nothing is added to this machine's own network.

Examples:
  fleetnet lab up --hosts 3                  # lab "lab": lab-h1..lab-h3, 10.99.0.11-13
  fleetnet lab up --hosts 2 --name t1 --underlay 10.98.0.0/24
  fleetnet lab ls
  fleetnet --socket /run/fleetnet-lab/lab/h1/agent.sock attach br1 web1 10.1.1.5/24
  ip netns exec lab-h1 ping 10.99.0.12       # a shell view of host h1
  fleetnet lab down                          # removes all of lab "lab", also after a crash
  fleetnet lab demo                          # a guided tour: up, attach, ping, down`;

function wholeNumber(v: string, flag: string): number {
  if (!/^\d+$/.test(v)) throw invalid(`${flag} ${v} is not a number`, `e.g. ${flag} 3`);
  return Number(v);
}

function hostCount(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v)) throw invalid(`--hosts ${v} is not a number`, 'e.g. --hosts 3');
  return n;
}

async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onSig = () => {
    process.stderr.write('\ninterrupted: stopping after the current step and cleaning up\n');
    ac.abort(new Error('interrupted'));
  };
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  try {
    return await fn(ac.signal);
  } finally {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
  }
}

export function register(program: Command): void {
  const lab = program
    .command('lab')
    .summary('a simulated fleet of hosts on this machine, in network namespaces')
    .description(
      'Build, list and remove lab fleets: simulated hosts in network namespaces, each ' +
        'with its own Open vSwitch and fleetnet agent.',
    )
    .addHelpText('after', EXAMPLES);

  lab
    .command('up')
    .summary('build a lab fleet')
    .option('--hosts <n>', 'how many hosts (1-64)', '3')
    .option('--name <name>', 'lab name, the prefix of everything it makes (1-8 of a-z0-9)', 'lab')
    .option('--underlay <cidr>', 'IPv4 underlay network; host i gets .(10+i)', '10.99.0.0/24')
    .option('--keep-on-failure', 'leave what was made when a step fails (for debugging)')
    .option('--agent-log-level <level>', 'log level of the lab agents', 'info')
    .option('--controllers <n>', 'controllers, each in its own namespace (0-3; more than one needs --etcd)', '0')
    .option('--etcd <n>', "etcd members, each in its own namespace: the controllers' shared store (0, 1, 3, 5)", '0')
    .option('--json', 'print the lab as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (opts: Record<string, string | boolean | undefined>) => {
      const hosts = hostCount(String(opts.hosts));
      const controllers = wholeNumber(String(opts.controllers), '--controllers');
      const etcd = wholeNumber(String(opts.etcd), '--etcd');
      const [{ labUp }, { parseHa }] = await Promise.all([import('../../lab/up.js'), import('../../lab/ha.js')]);
      parseHa(controllers, etcd); // bad counts: exit 2 before anything is made
      const res = await withInterrupt((signal) =>
        labUp({
          name: String(opts.name),
          hosts,
          underlay: String(opts.underlay),
          signal,
          keepOnFailure: Boolean(opts.keepOnFailure),
          agentLogLevel: String(opts.agentLogLevel),
          controllers,
          etcd,
          ...(opts.json ? {} : { onStep: (l: string) => process.stdout.write(`- ${l}\n`) }),
        }),
      );
      if (opts.json) return printJson(res);
      process.stdout.write(`\nlab ${res.name} is up (${res.hosts.length} hosts, ${res.elapsedMs} ms):\n`);
      process.stdout.write(
        table(
          ['HOST', 'NETNS', 'UNDERLAY', 'AGENT SOCKET', 'AGENT TCP'],
          res.hosts.map((h) => [h.name, h.netns, h.underlayIp, h.agentSocket, h.listen]),
        ) + '\n',
      );
      if (res.controllers.length) {
        const nodes = [
          ...res.controllers.map((c) => [c.name, c.netns, `controller ${c.listen}`]),
          ...res.etcd.map((e) => [e.name, e.netns, `etcd ${e.clientUrl}`]),
        ];
        process.stdout.write(`\n${table(['NODE', 'NETNS', 'SERVES'], nodes)}\n`);
        const addrs = res.controllers.map((c) => c.listen).join(',');
        const ns = res.hosts[0]!.netns;
        process.stdout.write(`the CLI inside the lab: ip netns exec ${ns} fleetnet --controller ${addrs} hosts\n`);
      }
      process.stdout.write(`\ntake it down with: fleetnet lab down --name ${res.name}\n`);
    });

  addOutputOptions(lab.command('ls'), { ids: 'host namespaces (for ip netns exec)' })
    .summary('list the labs on this machine, with agent health')
    .addHelpText(
      'after',
      `${formatHelp(['{{netns}} {{health}}'])}\n-o json / -o yaml print the labs; --format and -q go over their hosts
(fields: lab, ready, name, netns, netnsPresent, underlayIp, agentSocket, health).`,
    )
    .action(async (_opts: unknown, cmd: Command) => {
      const spec = await outputOf(cmd);
      const [{ labList }, { render }] = await Promise.all([import('../../lab/list.js'), import('../output/render.js')]);
      const labs = await labList();
      const hosts = labs.flatMap((l) => l.hosts.map((h) => ({ lab: l.name, ready: l.ready, ...h })));
      if (!labs.length && (spec.kind === 'table' || spec.kind === 'wide')) {
        return void process.stdout.write('no labs (make one: fleetnet lab up --hosts 3)\n');
      }
      await render(
        spec,
        { items: hosts, whole: labs },
        {
          columns: [
            ['LAB', (h) => h.lab + (h.ready ? '' : ' (incomplete)')],
            ['HOST', (h) => h.name],
            ['NETNS', (h) => (h.netnsPresent ? h.netns : `${h.netns} (missing)`)],
            ['UNDERLAY', (h) => h.underlayIp],
            ['AGENT SOCKET', (h) => h.agentSocket],
            ['HEALTH', (h) => h.health],
          ],
          id: (h) => h.netns,
        },
      );
    });

  lab
    .command('down')
    .summary('remove a lab: everything it made, also after a crash (idempotent)')
    .option('--name <name>', 'lab name', 'lab')
    .option('--json', 'print what was removed as JSON')
    .action(async (opts: { name: string; json?: boolean }) => {
      const { labDown } = await import('../../lab/down.js');
      const res = await labDown({
        name: opts.name,
        ...(opts.json ? {} : { onStep: (l: string) => process.stdout.write(`- ${l}\n`) }),
      });
      if (opts.json) return printJson(res);
      const nothing = !res.netns.length && !res.processes.length && !res.containers.length && !res.removedDir;
      process.stdout.write(nothing ? `lab ${res.name}: nothing to remove\n` : `lab ${res.name} is down\n`);
    });

  lab
    .command('demo-ha')
    .summary('several controllers on etcd: one is killed -9, an attach still goes through a surviving one')
    .option('--name <name>', 'lab name for the demo', 'demoha')
    .option('--keep', 'leave the lab up afterwards')
    .action(async (opts: { name: string; keep?: boolean }) => {
      const { runHaDemo } = await import('../../lab/demo-ha.js');
      const out = (l: string) => process.stdout.write(l + '\n');
      await withInterrupt((signal) => runHaDemo({ name: opts.name, signal, keep: Boolean(opts.keep), out }));
    });

  lab
    .command('demo')
    .summary('a guided tour: a lab comes up, containers are attached through an agent and ping, the lab goes down')
    .option('--name <name>', 'lab name for the demo', 'demo')
    .option('--hosts <n>', 'how many hosts (2-3 is plenty)', '3')
    .action(async (opts: { name: string; hosts: string }) => {
      const hosts = hostCount(opts.hosts);
      const { runDemo } = await import('../../lab/demo.js');
      await withInterrupt((signal) =>
        runDemo({ name: opts.name, hosts, signal, out: (l) => process.stdout.write(l + '\n') }),
      );
    });
}
