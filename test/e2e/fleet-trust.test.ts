// The fleet with trust from end to end: `fleetnet controller run` with a CA, three bare hosts
// bootstrapped over SSH in parallel (one without Node.js), registered with the controller, and an
// attach through the controller to each, over mutual TLS the whole way.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { FLEETNET } from '../helpers/agent-process.js';
import { sh, uniquePrefix } from '../helpers/netns.js';
import { assertLabGone, labScope, startLabController } from '../helpers/bootstrap-lab.js';
import { takeSnapshot, type Snapshot } from '../helpers/snapshot.js';
import { makeSshLab, type SshHost, type SshLab } from '../helpers/ssh-hosts.js';

const P = uniquePrefix('ft');
let dir: string;
let lab: SshLab;
let ctl: ChildProcess | undefined;
const hosts: SshHost[] = [];

const env = (withCred: boolean) => ({
  ...process.env,
  HOME: join(dir, 'home'),
  FLEETNET_CONTROLLER_DIR: withCred ? join(dir, 'ctl') : join(dir, 'none'),
  FLEETNET_CONTROLLER: '',
});
const fleetnet = (withCred: boolean, ...args: string[]) =>
  sh.run(
    'nsenter',
    [`--net=/run/netns/${lab.ctlNs}`, 'node', FLEETNET, '--controller', `${lab.ctlAddr}:7440`, ...args],
    { allowFail: true, timeoutMs: 240_000, env: env(withCred) },
  );

let snapBefore: Snapshot;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleetnet-fleet-trust-'));
  mkdirSync(join(dir, 'home'));
  await sh.run('node', ['scripts/build.mjs']);
  mkdirSync('/run/sshd', { recursive: true }); // sshd's privilege-separation folder: machine setup
  snapBefore = await takeSnapshot(labScope(P));
  lab = await makeSshLab(P, dir);
  hosts.push(await lab.addHost('h1', 11), await lab.addHost('h2', 12), await lab.addHost('h3', 13, { hideNode: true }));
  await sh.run('node', [FLEETNET, 'controller', 'init', '--dir', join(dir, 'ctl')]);
  ctl = await startLabController(lab, dir, async () => (await fleetnet(true, 'host', 'ls')).code === 0);
});

after(async () => {
  ctl?.kill('SIGTERM');
  await lab?.cleanup();
  rmSync(dir, { recursive: true, force: true });
  await assertLabGone(P, snapBefore);
});

it('three bare hosts join through the controller, and an attach through the controller works on each', async () => {
  const inv = join(dir, 'hosts.yaml');
  writeFileSync(
    inv,
    `all:\n  vars:\n    ansible_ssh_private_key_file: ${lab.identity}\n` +
      `  hosts:\n${hosts.map((h) => `    ${h.name}:\n      ansible_host: ${h.addr}\n`).join('')}`,
  );
  const add = await fleetnet(
    true,
    'host',
    'add',
    '--inventory',
    inv,
    '--accept-new',
    '--advertise',
    `${lab.ctlAddr}:7440`,
    '--known-hosts',
    join(dir, 'known_hosts'),
    '--json',
  );
  assert.equal(add.code, 0, add.stdout + add.stderr);
  const ls = await fleetnet(true, 'host', 'ls', '--json');
  assert.deepEqual((JSON.parse(ls.stdout) as { name: string }[]).map((h) => h.name).sort(), ['h1', 'h2', 'h3']);
  assert.equal((await fleetnet(true, 'net', 'create', 'blue', '--subnet', '10.9.0.0/24')).code, 0);
  for (const [i, h] of hosts.entries()) {
    const c = `${P}-c${h.name}`;
    await sh.run('ip', ['netns', 'add', c]);
    try {
      const r = await fleetnet(true, 'attach', '--host', h.name, `netns:${c}`, `10.9.0.${21 + i}/24`);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(
        (await sh.run('ip', ['-n', c, '-4', 'addr', 'show'])).stdout,
        new RegExp(`10\\.9\\.0\\.${21 + i}/24`),
      );
      assert.equal((await fleetnet(true, 'detach', '--host', h.name, `netns:${c}`)).code, 0);
    } finally {
      await sh.run('ip', ['netns', 'del', c], { allowFail: true });
    }
  }
});

it('a CLI without a credential is refused by the controller', async () => {
  const r = await fleetnet(false, 'host', 'ls');
  assert.equal(r.code, 1, r.stdout + r.stderr);
});
