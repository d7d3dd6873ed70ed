// The README's quick start ("Quick start: a fleet of real hosts"), run as printed: the shell block
// between <!-- quickstart:begin --> and <!-- quickstart:end --> is taken from README.md and run by
// bash, as root on "the controller machine" — a namespace at 10.231.0.1 with its own /etc/fleetnet,
// /var/lib/fleetnet and /run/fleetnet — against two bare hosts h1 (10.231.0.11) and h2
// (10.231.0.12), each a namespace with its own sshd and private folders (test/helpers/ssh-hosts.ts,
// as the bootstrap tests build them). `fleetnet` on PATH is this checkout's CLI; ~/.ssh/id_ed25519
// is the key the hosts accept. Only two things are swapped, because CI has no registry and shares
// its Docker daemon: the image (`busybox` → the local test image) and the container names (given
// this run's prefix). Then the fleet must hold both attachments, up, at the addresses the commands
// asked for.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { ensureBuilt } from '../helpers/build.js';
import { BUSYBOX_IMAGE, dockerUnavailable, ensureTestImage } from '../helpers/docker.js';
import { sh, uniquePrefix } from '../helpers/netns.js';
import { makeSshLab, PRIVATE_DIRS, type SshLab } from '../helpers/ssh-hosts.js';

const P = uniquePrefix('rq');
const CONTAINERS = ['web1', 'web2'];
let dir: string;
let lab: SshLab | undefined;
let noDocker: string | undefined;

/** The README's quick-start block, exactly as printed. */
export function quickStartBlock(readme: string): string {
  const m = /<!-- quickstart:begin -->\s*```sh\n([\s\S]*?)```\s*<!-- quickstart:end -->/.exec(readme);
  if (!m)
    throw new Error('README.md has no quick-start block between <!-- quickstart:begin --> and <!-- quickstart:end -->');
  return m[1]!;
}

before(async () => {
  noDocker = await dockerUnavailable();
  if (noDocker) return;
  await ensureTestImage();
  await ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), `fleetnet-${P}-`));
  lab = await makeSshLab(P, dir);
  assert.equal(lab.ctlAddr, '10.231.0.1', "the README's controller address");
  await lab.addHost('h1', 11);
  await lab.addHost('h2', 12);
});

after(async () => {
  if (noDocker) return;
  await sh.run('docker', ['rm', '-f', ...CONTAINERS.map((c) => `${P}-${c}`)], { allowFail: true });
  await lab?.cleanup(); // the controller, both agents and their supervisors live only in the lab's namespaces
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('the README quick start runs as printed: two hosts over SSH, a network, two attachments up', async (t) => {
  if (noDocker) return t.skip(`Docker: ${noDocker}`);
  const block = quickStartBlock(readFileSync('README.md', 'utf8'));
  for (const cmd of [
    'fleetnet controller init',
    'fleetnet host add h1 --ssh',
    'fleetnet net create',
    'fleetnet attach',
    'fleetnet ls',
  ]) {
    assert.ok(block.includes(cmd), `the quick start has ${cmd}`);
  }
  let script = block.replace(/\bbusybox\b/g, BUSYBOX_IMAGE);
  for (const c of CONTAINERS) script = script.replace(new RegExp(`\\b${c}\\b`, 'g'), `${P}-${c}`);
  const home = join(dir, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
  copyFileSync(lab!.identity, join(home, '.ssh', 'id_ed25519'));
  chmodSync(join(home, '.ssh', 'id_ed25519'), 0o600);
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(
    join(bin, 'fleetnet'),
    `#!/bin/sh\nexec ${process.execPath} ${join(process.cwd(), 'bin', 'fleetnet.cjs')} "$@"\n`,
    { mode: 0o755 },
  );
  const out = join(dir, 'ls.json');
  writeFileSync(
    join(dir, 'quickstart.sh'),
    `set -euo pipefail\n${script}\n# the test's own check, after the README's commands\nfleetnet ls --json > ${out}\n`,
  );
  // the controller machine: its own network and its own fleetnet folders (mount namespace)
  const priv = PRIVATE_DIRS.map((d) => join(dir, 'ctl-root', d.slice(1).replace(/\//g, '_')));
  for (const p of priv) mkdirSync(p, { recursive: true });
  const inner = [
    ...PRIVATE_DIRS.map((d, i) => `mount --bind "${priv[i]}" ${d}`),
    `exec bash "${join(dir, 'quickstart.sh')}"`,
  ].join('\n');
  const log = join(dir, 'quickstart.log');
  const fd = openSync(log, 'w');
  const env: NodeJS.ProcessEnv = { PATH: `${bin}:${process.env.PATH}`, HOME: home, LANG: 'C.UTF-8' };
  // stdout and stderr go to a file: the controller started with `&` keeps running after bash ends
  const child = spawn(
    'nsenter',
    [`--net=/run/netns/${lab!.ctlNs}`, 'unshare', '--mount', '--propagation', 'slave', 'sh', '-c', inner],
    { env, stdio: ['ignore', fd, fd] },
  );
  // a bound on a stuck step (the README's wait loop has none): the log then says where it stopped
  const guard = setTimeout(() => child.kill('SIGKILL'), 10 * 60_000);
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  clearTimeout(guard);
  closeSync(fd);
  const printed = readFileSync(log, 'utf8');
  assert.equal(code, 0, `the quick start failed:\n${printed}`);
  // what the README says the reader sees
  assert.match(printed, /h1\s.*\bup\b/);
  assert.match(printed, /h2\s.*\bup\b/);
  const ls = JSON.parse(readFileSync(out, 'utf8')) as {
    host: string;
    container: string;
    network: string;
    state: string;
    addresses: string[];
  }[];
  const rows = ls.map((a) => [a.host, a.container, a.network, a.state]).sort();
  assert.deepEqual(
    rows,
    [
      ['h1', `${P}-web1`, 'blue', 'up'],
      ['h2', `${P}-web2`, 'blue', 'up'],
    ],
    printed,
  );
  assert.match(ls.find((a) => a.host === 'h1')!.addresses.join(), /^10\.1\.1\.\d+\/24$/);
  assert.deepEqual(ls.find((a) => a.host === 'h2')!.addresses, ['10.1.1.20/24']);
});
