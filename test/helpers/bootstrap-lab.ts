// The SSH bootstrap lab of the host-bootstrap and host-enroll tests: bare hosts (own netns, own mount
// namespace, own sshd), a controller endpoint in its own namespace with its CA, and the real `fleetnet`
// CLI as on an operator's laptop. useBootstrapLab() registers the file's before/after: made before the
// tests, everything removed after them (checked against a snapshot), also when a test failed.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { FLEETNET } from './agent-process.js';
import { sh, uniquePrefix } from './netns.js';
import { assertSnapshotsEqual, takeSnapshot, type Snapshot } from './snapshot.js';
import { makeSshLab, type SshHost, type SshLab } from './ssh-hosts.js';

/** Where a lab test's leftovers are looked for: its namespaces, and processes naming its prefix or the install. */
export const labScope = (P: string) => ({ netnsPrefixes: [P], cmdlineNeedles: [P, '/opt/fleetnet/'] });

/** Hosts, sshds, agents and supervisors, private mounts, installed files: all gone once the lab is removed. */
export async function assertLabGone(P: string, before: Snapshot): Promise<void> {
  assertSnapshotsEqual(before, await takeSnapshot(labScope(P)), [
    P,
    '/opt/fleetnet',
    '/etc/fleetnet',
    '/var/lib/fleetnet',
    '/run/fleetnet/',
  ]);
}

/** `fleetnet controller run` in the lab's controller namespace (state and trust folder in dir), once up() holds. */
export async function startLabController(lab: SshLab, dir: string, up: () => Promise<boolean>): Promise<ChildProcess> {
  const proc = sh.start(
    'nsenter',
    [
      `--net=/run/netns/${lab.ctlNs}`,
      'node',
      FLEETNET,
      'controller',
      'run',
      '--listen',
      `${lab.ctlAddr}:7440`,
      '--db',
      join(dir, 'state.db'),
      '--trust-dir',
      join(dir, 'ctl'),
      '--log-level',
      'warn',
    ],
    { stdio: 'inherit' },
  );
  for (let i = 0; !(await up()); i++) {
    if (i > 100 || proc.exitCode !== null) {
      proc.kill('SIGTERM');
      throw new Error('the controller did not come up');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return proc;
}

/** A bare host to make: its name, the last octet of its address, and whether Node.js is hidden on it. */
export type BareHost = [name: string, octet: number, o?: { hideNode?: boolean }];

export function useBootstrapLab(tag: string, hosts: BareHost[]) {
  const P = uniquePrefix(tag);
  const dir = mkdtempSync(join(tmpdir(), 'fleetnet-bootstrap-'));
  let sshLab: SshLab | undefined;
  let ctlProc: ChildProcess | undefined;
  let snapBefore: Snapshot | undefined;
  const H: Record<string, SshHost> = {};
  const lab = (): SshLab => sshLab ?? assert.fail('the bootstrap lab is not made yet');
  const ctl = () => `${lab().ctlAddr}:7440`;
  // The CLI as on an operator's laptop: its own CLI credential (made by `controller cli-cert`), no
  // controller folder anywhere it looks. Only `controller init` and the test's agent calls use the folder.
  const laptop = () => ({
    ...process.env,
    HOME: join(dir, 'home'),
    FLEETNET_TLS_DIR: join(dir, 'laptop'),
    FLEETNET_CONTROLLER_DIR: join(dir, 'no-controller-here'),
    FLEETNET_CONTROLLER: '',
  });
  const admin = () => ({
    ...process.env,
    HOME: join(dir, 'home'),
    FLEETNET_CONTROLLER_DIR: join(dir, 'ctl'),
    FLEETNET_CONTROLLER: '',
  });
  const inNs = (ns: string, env: NodeJS.ProcessEnv, cmd: string, ...args: string[]) =>
    sh.run('nsenter', [`--net=/run/netns/${ns}`, cmd, ...args], { allowFail: true, timeoutMs: 240_000, env });
  const asAdmin = (...args: string[]) => inNs(lab().ctlNs, admin(), 'node', FLEETNET, '--controller', ctl(), ...args);
  const fleetnet = (...args: string[]) => inNs(lab().ctlNs, laptop(), 'node', FLEETNET, '--controller', ctl(), ...args);
  /** fleetnet as the laptop runs it, started (stdout, stderr piped) for a test that reads and signals it. */
  const startFleetnet = (...args: string[]) =>
    sh.start('nsenter', [`--net=/run/netns/${lab().ctlNs}`, 'node', FLEETNET, '--controller', ctl(), ...args], {
      env: laptop(),
      stdio: 'pipe',
    });
  const agentCall = (host: SshHost, method: string, req: object = {}) =>
    inNs(
      lab().ctlNs,
      process.env,
      'node',
      '--import',
      'tsx',
      'test/helpers/trust-agent-call.ts',
      join(dir, 'ctl'),
      `${host.addr}:7441`,
      host.name,
      method,
      JSON.stringify(req),
    );
  /** The pid of the agent (not its supervisor) running in a host's namespace. */
  const agentPid = async (h: SshHost) =>
    (await sh.run('ip', ['netns', 'pids', h.ns])).stdout
      .split('\n')
      .filter(Boolean)
      .find((p) => {
        try {
          // The agent names itself (process.title): its command line is one string, `fleetnet-agent agent run …`.
          const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
          return /\bagent run\b/.test(cmd) && !/\bsupervise\b/.test(cmd);
        } catch {
          return false;
        }
      });
  const common = () => ['--advertise', ctl(), '--known-hosts', join(dir, 'known_hosts')];
  const ssh = (h: SshHost) => [
    '--ssh',
    `root@${h.addr}`,
    '--identity',
    lab().identity,
    '--known-hosts',
    join(dir, 'known_hosts'),
  ];

  before(async () => {
    mkdirSync(join(dir, 'home'));
    await sh.run('node', ['scripts/build.mjs']);
    mkdirSync('/run/sshd', { recursive: true }); // sshd's privilege-separation folder: machine setup, not the test's
    snapBefore = await takeSnapshot(labScope(P));
    sshLab = await makeSshLab(P, dir);
    for (const [name, octet, o] of hosts) H[name] = await sshLab.addHost(name, octet, o);
    // on the controller's machine: the CA, and the controller serving the Admin service
    const init = await sh.run('node', [FLEETNET, 'controller', 'init', '--dir', join(dir, 'ctl'), '--token-ttl', '5m']);
    assert.match(init.stdout, /CA:/);
    ctlProc = await startLabController(sshLab, dir, async () => (await asAdmin('host', 'ls')).code === 0);
    // the laptop's credential: its key made there, signed by the controller over the Admin service
    const cert = await asAdmin('controller', 'cli-cert', 'ops', '--out', join(dir, 'laptop'), '--json');
    assert.equal(cert.code, 0, cert.stderr);
    assert.equal(statSync(join(dir, 'laptop', 'cli.key')).mode & 0o777, 0o600);
  });

  after(async () => {
    ctlProc?.kill('SIGTERM');
    await sshLab?.cleanup();
    rmSync(dir, { recursive: true, force: true });
    if (snapBefore) await assertLabGone(P, snapBefore);
  });

  return { P, dir, H, lab, ctl, inNs, fleetnet, startFleetnet, agentCall, agentPid, common, ssh };
}
