// The package as a user gets it: `npm pack` → deploy/install.sh into a scratch prefix, on a "host"
// without systemd (a scratch netns, its own settings, socket, state and log folders): `fleetnet
// --version`, the supervised `agent run` answering on its socket, a killed agent restarted by the
// supervisor, then --uninstall leaving nothing. A --prefix install keeps its settings under the
// prefix (not /etc/fleetnet), and its --purge removes what it made, not the machine's /var/lib/fleetnet (run in a
// private mount namespace where it could not reach the real one). The units pass `systemd-analyze verify`.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureBuilt } from '../helpers/build.js';
import { addNs, delNs, sh, uniquePrefix } from '../helpers/netns.js';

const P = uniquePrefix('pk');
const NS = `${P}-h`;
const root = process.cwd();
let dir: string;
let prefix: string;
let env: NodeJS.ProcessEnv;
const paths = () => ({
  etc: join(dir, 'etc'),
  run: join(dir, 'run'),
  log: join(dir, 'log'),
  state: join(dir, 'state'),
});

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, tries = 600): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const fleetnet = (...args: string[]) => sh.run(join(prefix, 'bin', 'fleetnet'), args, { allowFail: true, env });
const supervisorPid = () => Number(readFileSync(join(paths().run, 'agent-supervisor.pid'), 'utf8'));

/**
 * `sh args…` in a private mount namespace where this machine's /etc is read-only and /var/lib an empty tmpfs but for
 * /var/lib/fleetnet/state.db (usrLocal: /usr/local an empty tmpfs too; node is there): whatever install.sh does
 * there, it cannot change the machine's /etc/fleetnet or /var/lib/fleetnet. It prints `state: kept` or `state: gone`.
 */
function inPrivateMounts(args: string[], env: NodeJS.ProcessEnv, o: { usrLocal?: boolean } = {}) {
  const script = [
    'set -e',
    'mount -t tmpfs fleetnet-test /var/lib',
    ...(o.usrLocal ? ['mount -t tmpfs fleetnet-test /usr/local'] : []),
    'mkdir /var/lib/fleetnet',
    'echo state > /var/lib/fleetnet/state.db',
    'mount --bind /etc /etc',
    'mount -o remount,bind,ro /etc',
    'set +e',
    'sh "$@"',
    'rc=$?',
    'if [ -e /var/lib/fleetnet/state.db ]; then echo "state: kept"; else echo "state: gone"; fi',
    'exit $rc',
  ].join('\n');
  const unshare = ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', ...args];
  return sh.run('unshare', unshare, { allowFail: true, env, timeoutMs: 300_000 });
}

before(async () => {
  await ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), `fleetnet-${P}-`));
  prefix = join(dir, 'prefix');
  const p = paths();
  mkdirSync(p.etc, { recursive: true });
  writeFileSync(
    join(p.etc, 'agent.yaml'),
    [`socket: ${join(p.run, 'agent.sock')}`, `state-dir: ${p.state}`, 'ip-path: exec', 'log-level: info', ''].join(
      '\n',
    ),
  );
  env = { ...process.env, FLEETNET_ETC: p.etc, FLEETNET_RUN: p.run, FLEETNET_LOG_DIR: p.log, FLEETNET_SYSTEMD: 'no' };
  await addNs(NS);
});

after(async () => {
  // also on failure: the supervisor and its agent, then the namespace and the files
  if (dir && existsSync(join(paths().run, 'agent-supervisor.pid'))) {
    await sh.run('sh', [join(root, 'deploy', 'install.sh'), '--uninstall', '--prefix', prefix], {
      allowFail: true,
      env,
    });
  }
  await delNs(NS);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('npm package and deploy/install.sh', () => {
  let tarball: string;

  it('npm pack holds what runs: bin, both bundles, deploy scripts and units, protos; no sources', async () => {
    // the suite has built dist/ already: of scripts.prepack only the shrinkwrap is made here (not the build again)
    await sh.run(process.execPath, ['scripts/shrinkwrap.mjs']);
    const r = await sh
      .run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
        env: { ...process.env, npm_config_loglevel: 'error' },
      })
      .finally(() => rmSync(join(root, 'npm-shrinkwrap.json'), { force: true }));
    const [info] = JSON.parse(r.stdout) as [{ filename: string; files: { path: string }[] }];
    const files = info.files.map((f) => f.path);
    const nativeCni = `dist/fleetnet-cni-${process.platform}-${process.arch}`;
    for (const f of [
      'bin/fleetnet.cjs',
      'dist/fleetnet.cjs',
      'dist/fleetnet-agent.mjs',
      'dist/cni-plugin.cjs',
      nativeCni,
      'deploy/install.sh',
      'deploy/dhcp-hook',
      'deploy/systemd/fleetnet-agent.service',
      'deploy/systemd/fleetnet-agent-package.service',
      'deploy/systemd/fleetnet-controller.service',
      'proto/fleetnet/v1/controller.proto',
      'package.json',
      'npm-shrinkwrap.json',
    ])
      assert.ok(files.includes(f), `${f} is in the package`);
    assert.deepEqual(
      files.filter((f) => /\.ts$|^test\/|^node_modules\//.test(f)),
      [],
    );
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
      dependencies: Record<string, string>;
    };
    assert.equal(pkg.scripts.prepack, 'npm run build && node scripts/shrinkwrap.mjs');
    for (const dev of ['esbuild', 'tsx', 'typescript', 'ts-proto'])
      assert.equal(pkg.dependencies[dev], undefined, `${dev} is a devDependency`);
    tarball = join(dir, info.filename);
  });

  it('install.sh on a host without systemd: fleetnet on PATH, the agent supervised from agent.yaml', async () => {
    // --offline: the dependencies come from the locked tree (npm-shrinkwrap.json) out of npm's cache,
    // which `npm ci` filled; the host's namespace has no network, and nothing may be fetched
    const r = await sh.run(
      'ip',
      [
        'netns',
        'exec',
        NS,
        'sh',
        join(root, 'deploy', 'install.sh'),
        '--tarball',
        tarball,
        '--prefix',
        prefix,
        '--no-native',
        '--offline',
      ],
      { allowFail: true, env, timeoutMs: 300_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no systemd here: agent supervised/);
    const v = await fleetnet('--version');
    assert.equal(v.stdout.trim(), JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
    const sock = join(paths().run, 'agent.sock');
    await waitFor('the agent socket', () => existsSync(sock));
    await waitFor('an answer on the socket', async () => (await fleetnet('--socket', sock, 'ls', '--json')).code === 0);
    // the agent runs in the host's netns, from the installed package, with the file's settings
    const ls = await fleetnet('--socket', sock, 'ls', '--json');
    assert.deepEqual(JSON.parse(ls.stdout), []);
    const log = readFileSync(join(paths().log, 'agent.log'), 'utf8');
    assert.match(log, /"msg":"agent serving"/);
    assert.match(log, /settings file read/);
    // the installed package's CNI plugins are its native one
    const cni = await fleetnet(
      'cni',
      'install',
      '--cni-bin-dir',
      join(dir, 'cni-bin'),
      '--cni-config-dir',
      join(dir, 'cni-conf'),
      '--json',
    );
    assert.equal(cni.code, 0, cni.stderr);
    assert.equal((JSON.parse(cni.stdout) as { implementation: string }).implementation, 'native');
    const version = await sh.run(join(dir, 'cni-bin', 'fleetnet-ipam'), [], {
      input: '{}',
      env: { CNI_COMMAND: 'VERSION' },
    });
    assert.match(version.stdout, /"supportedVersions":\["0\.4\.0","1\.0\.0","1\.1\.0"\]/);
  });

  it('the supervisor restarts a killed agent', async () => {
    const children = (await sh.run('pgrep', ['-P', String(supervisorPid())], { allowFail: true })).stdout
      .trim()
      .split('\n')
      .filter(Boolean);
    assert.equal(children.length, 1);
    process.kill(Number(children[0]), 'SIGKILL');
    await waitFor('a restart', () =>
      /agent exited \(SIGKILL\); restarting/.test(readFileSync(join(paths().log, 'agent.log'), 'utf8')),
    );
    const sock = join(paths().run, 'agent.sock');
    await waitFor('the new agent', async () => (await fleetnet('--socket', sock, 'ls', '--json')).code === 0);
  });

  it('install.sh --uninstall stops the supervisor and its agent and removes the package', async () => {
    const pid = supervisorPid();
    const r = await sh.run('sh', [join(root, 'deploy', 'install.sh'), '--uninstall', '--prefix', prefix], {
      allowFail: true,
      env,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.throws(() => process.kill(pid, 0));
    assert.equal(existsSync(join(prefix, 'bin', 'fleetnet')), false);
    assert.equal((await sh.run('ip', ['netns', 'pids', NS])).stdout.trim(), '', 'nothing left running in the host');
  });

  it('install.sh --prefix P keeps its settings under P and points the units at them (--help says so)', async () => {
    const p2 = join(dir, 'prefix2');
    const bin = join(dir, 'fake-bin'); // systemctl only records what it was asked
    mkdirSync(bin);
    writeFileSync(join(bin, 'systemctl'), `#!/bin/sh\necho "$*" >> ${join(dir, 'systemctl.log')}\n`, { mode: 0o755 });
    const { FLEETNET_ETC: _none, ...rest } = env;
    const env2 = {
      ...rest,
      FLEETNET_SYSTEMD: 'yes',
      SYSTEMD_UNIT_DIR: join(dir, 'units2'),
      PATH: `${bin}:${env.PATH}`,
    };
    const hadEtc = existsSync('/etc/fleetnet');
    const install = (...a: string[]) =>
      sh.run('sh', [join(root, 'deploy', 'install.sh'), '--prefix', p2, ...a], { allowFail: true, env: env2 });
    const r = await install('--tarball', tarball, '--agent', '--no-start', '--no-native', '--offline');
    assert.equal(r.code, 0, r.stderr);
    const settings = join(p2, 'etc', 'fleetnet', 'agent.yaml');
    assert.match(r.stdout, new RegExp(`agent settings: ${settings}`));
    assert.ok(existsSync(settings));
    if (!hadEtc) assert.equal(existsSync('/etc/fleetnet'), false, 'nothing written to /etc/fleetnet');
    assert.match(
      readFileSync(join(dir, 'units2', 'fleetnet-agent.service.d', 'prefix.conf'), 'utf8'),
      new RegExp(`^ExecStart=${join(p2, 'bin', 'fleetnet')} agent run --config ${settings}$`, 'm'),
    );
    const help = await install('--help');
    assert.equal(help.code, 0, 'asking for help is not bad usage');
    assert.match(help.stdout, /else under the prefix, PREFIX\/etc\/fleetnet/);
    assert.equal((await install('--uninstall')).code, 0);
    assert.equal(existsSync(join(p2, 'bin', 'fleetnet')), false);
  });

  it('--uninstall --purge of a --prefix install removes what it made, not the state in /var/lib/fleetnet', async () => {
    const p3 = join(dir, 'prefix3');
    const run = join(dir, 'run3');
    const log = join(dir, 'log3');
    const { FLEETNET_ETC: _none, ...rest } = env;
    const env3 = { ...rest, FLEETNET_SYSTEMD: 'no', FLEETNET_RUN: run, FLEETNET_LOG_DIR: log };
    const install = (a: string[], usrLocal = false) =>
      inPrivateMounts([join(root, 'deploy', 'install.sh'), ...a], env3, { usrLocal });
    const r = await install([
      '--prefix',
      p3,
      '--tarball',
      tarball,
      '--agent',
      '--no-start',
      '--no-native',
      '--offline',
    ]);
    assert.equal(r.code, 0, r.stderr);
    // what the supervised agent leaves in the log folder, and something in the run folder that is not this install's
    mkdirSync(log);
    mkdirSync(run);
    for (const f of ['agent.log', 'agent.log.1', 'agent.log.2']) writeFileSync(join(log, f), 'x\n');
    writeFileSync(join(run, 'another.sock'), '');
    const purge = await install(['--uninstall', '--purge', '--prefix', p3]);
    assert.equal(purge.code, 0, purge.stderr);
    assert.match(purge.stdout, /^state: kept$/m);
    assert.match(purge.stdout, /kept \/var\/lib\/fleetnet: the state every fleetnet on this machine keeps there/);
    for (const gone of [join(p3, 'etc'), join(p3, 'bin', 'fleetnet'), join(p3, 'lib', 'node_modules', 'fleetnet')])
      assert.equal(existsSync(gone), false, gone);
    assert.equal(existsSync(log), false, 'the log folder, emptied of the agent log, is removed');
    assert.deepEqual(readdirSync(run), ['another.sock']);
    // A system prefix (here in a private /usr/local) keeps its documented purge: the state goes too.
    const system = await install(['--uninstall', '--purge', '--prefix', '/usr/local'], true);
    assert.equal(system.code, 0, system.stderr);
    assert.match(system.stdout, /^state: gone$/m);
  });

  it('bad usage exits 2', async () => {
    const r = await sh.run('sh', [join(root, 'deploy', 'install.sh'), '--prefix', 'relative/dir'], {
      allowFail: true,
      env,
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /absolute path/);
    const c = await sh.run('sh', [join(root, 'deploy', 'install.sh'), '--controller', '--no-native'], {
      allowFail: true,
      env,
    });
    assert.equal(c.code, 2);
  });

  it('the systemd units pass systemd-analyze verify', async (t) => {
    if ((await sh.run('sh', ['-c', 'command -v systemd-analyze'], { allowFail: true })).code !== 0)
      return t.skip('systemd-analyze is not installed');
    const units = join(dir, 'units');
    mkdirSync(units);
    for (const f of readdirSync(join(root, 'deploy', 'systemd'))) {
      // verify checks that ExecStart's program exists: point it at one that does (this node)
      const text = readFileSync(join(root, 'deploy', 'systemd', f), 'utf8').replace(
        /^ExecStart=\S+/m,
        `ExecStart=${process.execPath}`,
      );
      writeFileSync(join(units, f), text);
    }
    const r = await sh.run(
      'systemd-analyze',
      ['verify', '--man=no', ...readdirSync(units).map((f) => join(units, f))],
      { allowFail: true },
    );
    assert.equal(
      r.stderr
        .split('\n')
        .filter((l) => l && !/EnvironmentFile|agent\.env/.test(l))
        .join('\n'),
      '',
    );
    assert.equal(r.code, 0, r.stderr);
  });
});
