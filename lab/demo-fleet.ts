// The demo's fleet act: a controller owns one network across the lab's hosts, joined by a GRE
// mesh it builds itself; containers on different hosts get addresses through it and ping.
import { FleetnetError } from '../common/errors.js';
import { LAB_LABEL } from './down.js';
import { runBusybox } from './image.js';
import { indent, type DemoContext } from './demo-context.js';

const NET = 'blue';
const SUBNET = '10.1.1';

export async function actFleet(ctx: DemoContext): Promise<void> {
  const { say, runner, lab, opts, bin } = ctx;
  const first = lab.hosts[0]!;
  const last = lab.hosts[lab.hosts.length - 1]!;
  const ctlAddr = `${first.underlayIp}:7440`;
  say('');
  say(`== 4. The fleet: a controller, one network across ${lab.hosts.length} hosts ==`);
  say(`The controller runs inside ${first.netns} on the underlay (${ctlAddr}); its state is one SQLite file.`);
  say('(Lab agents run without certificates, --insecure-tcp; a real fleet enrolls them over SSH with mTLS.)');
  const proc = runner.start(
    'ip',
    [
      'netns',
      'exec',
      first.netns,
      process.execPath,
      bin,
      'controller',
      'run',
      '--listen',
      ctlAddr,
      '--db',
      `${lab.dir}/controller.db`,
      '--log-level',
      'warn',
    ],
    { detached: true },
  );
  proc.unref();
  // The CLI reaches the controller from inside the lab, as an operator's machine on the underlay would.
  const fleet = async (args: string[], show = true): Promise<{ code: number; out: string }> => {
    if (show) say(`$ fleetnet ${args.join(' ')}`);
    const r = await runner.run(
      'ip',
      ['netns', 'exec', first.netns, process.execPath, bin, '--controller', ctlAddr, ...args],
      { allowFail: true, timeoutMs: 60_000 },
    );
    if (show) say(indent(r.stdout + r.stderr));
    return { code: r.code, out: r.stdout };
  };
  let up = false;
  for (let i = 0; i < 100 && !up; i++) {
    up = (await fleet(['hosts', '--json'], false)).code === 0;
    if (!up) await new Promise((r) => setTimeout(r, 200));
  }
  if (!up) throw new FleetnetError('failed', `the controller did not answer on ${ctlAddr}`);
  const must = async (args: string[]) => {
    const r = await fleet(args);
    if (r.code !== 0)
      throw new FleetnetError('failed', `fleetnet ${args.slice(0, 2).join(' ')} failed (exit ${r.code})`);
    return r.out;
  };
  say("Register each host's agent with the controller:");
  for (const h of lab.hosts) await must(['host', 'add', h.name, '--addr', h.listen]);
  say(`One Open vSwitch network for the whole fleet, its hosts joined by GRE tunnels (key per network):`);
  await must([
    'net',
    'create',
    NET,
    '--subnet',
    `${SUBNET}.0/24`,
    '--kind',
    'ovs',
    '--bridge',
    'ovs-blue',
    '--mesh',
    'gre',
  ]);
  say('Each host that joins gets a tunnel to every member, and each member exactly one new tunnel:');
  for (const h of lab.hosts) await must(['mesh', 'add', h.name, '--net', NET]);
  const webs = [
    [first, `${opts.name}-web3`, `${SUBNET}.10/24`],
    [last, `${opts.name}-web4`, `${SUBNET}.20/24`],
  ] as const;
  say(
    `Two containers, on ${first.name} and ${last.name}; the controller reserves ` +
      `their addresses fleet-wide and picks MACs:`,
  );
  for (const [h, name, addr] of webs) {
    await runBusybox(runner, { name, labels: [`${LAB_LABEL}=${opts.name}`, 'fleetnet.demo=1'] });
    await must(['attach', '--host', h.name, name, addr]);
  }
  say("The fleet inventory, answered from the controller's store:");
  await must(['ls']);
  say('');
  say(`== 5. Across hosts, over the mesh ==`);
  const cmd = ['exec', webs[0][1], 'ping', '-c', '3', '-W', '2', `${SUBNET}.20`];
  say(`$ docker ${cmd.join(' ')}`);
  let r = await runner.run('docker', cmd, { allowFail: true, timeoutMs: 20_000 });
  for (let i = 0; i < 5 && r.code !== 0; i++)
    r = await runner.run('docker', cmd, { allowFail: true, timeoutMs: 20_000 });
  say(indent(r.stdout || r.stderr));
  if (r.code !== 0)
    throw new FleetnetError('failed', `${webs[0][1]} on ${first.name} could not reach ${SUBNET}.20 on ${last.name}`);
  await must(['mesh', 'status', '--net', NET]);
  say(
    `ok: ${webs[0][1]} on ${first.name} and ${webs[1][1]} on ${last.name} share one ` +
      `layer-2 network through the controller's GRE mesh.`,
  );
}
