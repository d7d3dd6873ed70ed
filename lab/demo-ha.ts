// `fleetnet lab demo-ha`: several controllers on etcd keep serving when one dies. A lab with 3
// etcd members and 3 controllers (each in its own namespace), one container attached through the
// controllers, the first controller killed -9, a second container attached through the same
// controller list (the CLI moves on to a live one; the dead one's hosts are taken over), and the
// two containers ping each other. The lab is taken down at the end (also on failure).
import { FleetnetError } from '../common/errors.js';
import { ExecRunner } from '../common/runner.js';
import { fleetnetBin } from './agents.js';
import { indent } from './demo-context.js';
import { labDown } from './down.js';
import { labUp } from './up.js';
import { readProcStat } from './procs.js';
import { readLabState } from './state.js';

export interface HaDemoOptions {
  name: string;
  out: (line: string) => void;
  signal?: AbortSignal;
  /** Leave the lab up afterwards (to look around). */
  keep?: boolean;
}

const NET = 'ha';
const SUBNET = '10.30.0';

export async function runHaDemo(opts: HaDemoOptions): Promise<void> {
  const say = opts.out;
  const runner = new ExecRunner();
  const bin = fleetnetBin();
  say('fleetnet demo-ha: three controllers on a three-member etcd; one is killed, the fleet keeps attaching.');
  say('');
  say('== 1. The lab: 2 hosts, 3 etcd members, 3 controllers, each in its own namespace ==');
  const lab = await labUp({
    name: opts.name,
    hosts: 2,
    controllers: 3,
    etcd: 3,
    onStep: (l) => say(`- ${l}`),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  try {
    const host = lab.hosts[0]!;
    const addrs = lab.controllers.map((c) => c.listen).join(',');
    const fleet = async (args: string[]) => {
      say(`$ fleetnet --controller ${addrs} ${args.join(' ')}`);
      const argv = ['netns', 'exec', host.netns, process.execPath, bin, '--controller', addrs, ...args];
      const r = await runner.run('ip', argv, { allowFail: true, timeoutMs: 90_000 });
      say(indent(r.stdout + r.stderr));
      return r;
    };
    const must = async (args: string[], ok = [0]) => {
      const r = await fleet(args);
      if (!ok.includes(r.code)) {
        throw new FleetnetError('failed', `fleetnet ${args.slice(0, 2).join(' ')} failed (exit ${r.code})`);
      }
      return r;
    };
    const k = [1, 2].map((i) => `${opts.name}-k${i}`);
    say('');
    say(`== 2. A network, and a container (network namespace ${k[0]}) attached through the controllers ==`);
    await must(['net', 'create', NET, '--subnet', `${SUBNET}.0/24`, '--kind', 'bridge']);
    for (const ns of k) await runner.run('ip', ['netns', 'add', ns]);
    await must(['attach', '--host', host.name, '--net', NET, `netns:${k[0]}`]);
    say('');
    const c1 = lab.controllers[0]!;
    const procs = readLabState(`${lab.dir}/lab.json`)?.processes ?? [];
    const rec = procs.find((p) => p.role === 'controller' && p.host === c1.name);
    if (!rec) throw new FleetnetError('failed', `the lab did not record controller ${c1.name}`);
    say(`== 3. Controller ${c1.name} (${c1.listen}, pid ${rec.pid}) killed -9 ==`);
    if ((await readProcStat(rec.pid))?.startTime !== rec.startTime) {
      throw new FleetnetError('failed', `pid ${rec.pid} is no longer ${c1.name}`);
    }
    process.kill(rec.pid, 'SIGKILL');
    say(`The same controller list: the CLI finds ${c1.listen} gone and asks the next; the host's dispatch moves to a`);
    say('live controller within about 6 s (its lease expires), so the attach may wait for that (exit 3 if longer).');
    await must(['attach', '--host', host.name, '--net', NET, `netns:${k[1]}`], [0, 3]);
    await must(['ls']);
    say('');
    say('== 4. The two containers reach each other ==');
    const shown = await runner.run('ip', ['-n', k[0]!, '-4', '-o', 'addr', 'show', 'eth1']);
    const first = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(shown.stdout)?.[1];
    if (!first) throw new FleetnetError('failed', `${k[0]} has no IPv4 address on eth1: ${shown.stdout.trim()}`);
    const cmd = ['netns', 'exec', k[1]!, 'ping', '-c', '3', '-W', '2', first];
    let r = await runner.run('ip', cmd, { allowFail: true, timeoutMs: 20_000 });
    for (let i = 0; i < 10 && r.code !== 0; i++) {
      await new Promise((res) => setTimeout(res, 1000));
      r = await runner.run('ip', cmd, { allowFail: true, timeoutMs: 20_000 });
    }
    say(`$ ip ${cmd.join(' ')}`);
    say(indent(r.stdout || r.stderr));
    if (r.code !== 0) throw new FleetnetError('failed', `${k[1]} could not reach ${first} in ${k[0]}`);
    say(`ok: with ${c1.name} dead, the attach went through a surviving controller and works.`);
  } finally {
    if (!opts.keep) {
      say('');
      say(`== 5. Cleanup: fleetnet lab down --name ${opts.name} ==`);
      await labDown({ name: opts.name, onStep: (l) => say(`- ${l}`) });
    } else say(`the lab stays up: fleetnet lab down --name ${opts.name}`);
  }
}
