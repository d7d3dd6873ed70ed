// SSH bootstrap pieces that need no host: known_hosts, prerequisite and runtime
// decisions, shell quoting, and the exact install/uninstall commands (systemd and supervised).
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FleetnetError } from '../../common/errors.js';
import { FakeRunner } from '../../common/runner.js';
import { gatherFacts, missingPrereqs, planRuntime, type HostFacts } from '../../cli/bootstrap/facts.js';
import {
  agentRunArgs,
  REMOTE,
  startSupervised,
  startWithSystemd,
  uninstall,
  unitText,
  writeAgentConfig,
} from '../../cli/bootstrap/install.js';
import { fingerprint, knownHostsName, verifyHostKey } from '../../cli/bootstrap/known-hosts.js';
import { parseSshTarget, shellQuote } from '../../cli/bootstrap/ssh-session.js';

function tmp(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'fleetnet-boot-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

// an ssh-ed25519 public key blob: string "ssh-ed25519" + 32 bytes
const blob = (seed = randomBytes(32)) => {
  const t = Buffer.from('ssh-ed25519');
  const len = (n: number) => Buffer.from([0, 0, 0, n]);
  return Buffer.concat([len(t.length), t, len(32), seed]);
};

test(
  'known_hosts: pinned key passes, another key is a mismatch (even with --accept-new), ' +
    'unknown host pinned only with --accept-new',
  (t) => {
    const f = join(tmp(t), 'kh');
    const k1 = blob();
    const k2 = blob();
    assert.deepEqual(verifyHostKey(f, '10.0.0.1', k1, false), {
      ok: false,
      reason: 'unknown',
      fingerprint: fingerprint(k1),
    });
    const pinned = verifyHostKey(f, '10.0.0.1', k1, true);
    assert.deepEqual(pinned, { ok: true, pinnedNow: true, fingerprint: fingerprint(k1) });
    assert.match(readFileSync(f, 'utf8'), /^10\.0\.0\.1 ssh-ed25519 [A-Za-z0-9+/=]+\n$/);
    assert.deepEqual(verifyHostKey(f, '10.0.0.1', k1, false), {
      ok: true,
      pinnedNow: false,
      fingerprint: fingerprint(k1),
    });
    assert.equal(verifyHostKey(f, '10.0.0.1', k2, true).ok, false);
    assert.equal(readFileSync(f, 'utf8').split('\n').filter(Boolean).length, 1, 'a mismatch never re-pins');
    assert.match(fingerprint(k1), /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.equal(knownHostsName('10.0.0.1', 22), '10.0.0.1');
    assert.equal(knownHostsName('10.0.0.1', 2222), '[10.0.0.1]:2222');
  },
);

test('known_hosts: hashed entries and host lists are understood', (t) => {
  const f = join(tmp(t), 'kh');
  const k = blob();
  const salt = randomBytes(20);
  const hash = createHmac('sha1', salt).update('[10.0.0.9]:2200').digest('base64');
  writeFileSync(
    f,
    `# comment\n@revoked * ssh-ed25519 AAAA\n` +
      `|1|${salt.toString('base64')}|${hash} ssh-ed25519 ${k.toString('base64')}\n` +
      `other,10.0.0.8 ssh-ed25519 ${k.toString('base64')}\n`,
  );
  assert.equal(verifyHostKey(f, '[10.0.0.9]:2200', k, false).ok, true);
  assert.equal(verifyHostKey(f, '10.0.0.8', k, false).ok, true);
  assert.equal(verifyHostKey(f, '10.0.0.7', k, false).ok, false);
});

// The inventory (Ansible INI/YAML) is tested in inventory.test.ts and inventory-ansible.test.ts.

const facts = (o: Partial<HostFacts> = {}): HostFacts => ({
  arch: 'x86_64',
  kernel: '6.1.0',
  libc: { kind: 'glibc', version: '2.36' },
  systemd: true,
  iproute2: true,
  ovs: false,
  modules: { veth: true, bridge: true },
  ...o,
});

test('prerequisites: says exactly what is missing and how to fix it', () => {
  assert.deepEqual(missingPrereqs(facts(), { needOvs: false }), []);
  const miss = missingPrereqs(facts({ iproute2: false, modules: { veth: true, bridge: false } }), { needOvs: true });
  assert.deepEqual(
    miss.map((m) => m.what),
    ['iproute2 (the ip command)', 'kernel feature bridge', 'Open vSwitch (ovs-vsctl)'],
  );
  assert.match(miss[0]!.fix, /install the iproute2 package/);
});

test(
  "runtime: the host's Node.js when it is our major version, " +
    'else ours only on the same arch and a new enough glibc',
  () => {
    const local = { arch: 'x64', glibc: '2.36', nodeMajor: 24 };
    assert.deepEqual(planRuntime(facts({ node: { path: '/usr/bin/node', version: '24.1.0' } }), local), {
      ship: false,
      nodePath: '/usr/bin/node',
    });
    assert.equal(
      planRuntime(facts({ node: { path: '/usr/bin/node', version: '20.11.0' } }), local).ship,
      true,
      'older: native modules would not load',
    );
    assert.equal(
      planRuntime(facts({ node: { path: '/usr/bin/node', version: '26.0.0' } }), local).ship,
      true,
      'newer: another ABI too',
    );
    assert.equal(planRuntime(facts(), local).ship, true);
    const kind = (f: () => unknown) => {
      try {
        f();
        return 'ok';
      } catch (e) {
        return (e as FleetnetError).kind + ': ' + (e as Error).message;
      }
    };
    assert.match(
      kind(() => planRuntime(facts({ arch: 'aarch64' }), local)),
      /^unsupported: .*cannot run on aarch64/,
    );
    assert.match(
      kind(() => planRuntime(facts({ libc: { kind: 'musl' } }), local)),
      /^unsupported: .*glibc ≥ 2\.36 \(the host has musl\)/,
    );
    assert.match(
      kind(() => planRuntime(facts({ libc: { kind: 'glibc', version: '2.31' } }), local)),
      /^unsupported: .*glibc 2\.31/,
    );
  },
);

test('facts are read from the exact commands a host answers', async () => {
  const r = new FakeRunner((c) => {
    const a = c.args.join(' ');
    if (c.cmd === 'uname') return { stdout: '6.1.0-18-amd64 x86_64\n' };
    if (a.includes('ld-musl')) return { stdout: 'ldd (Debian GLIBC 2.36-9+deb12u4) 2.36\n' };
    if (a.includes('command -v node')) return { code: 127 };
    if (a.includes('/run/systemd/system')) return { code: 1 };
    if (c.cmd === 'ovs-vsctl') return { code: 127 };
    if (c.cmd === 'unshare' && c.args.includes('bridge')) return { code: 2, stderr: 'Unknown device type' };
    return {};
  });
  const f = await gatherFacts(r);
  assert.deepEqual(f, {
    arch: 'x86_64',
    kernel: '6.1.0-18-amd64',
    libc: { kind: 'glibc', version: '2.36' },
    systemd: false,
    iproute2: true,
    ovs: false,
    modules: { veth: true, bridge: false },
  });
  assert.deepEqual(r.calls.find((c) => c.cmd === 'unshare' && c.args.includes('veth'))?.args, [
    '--net',
    'ip',
    'link',
    'add',
    'fnprobe0',
    'type',
    'veth',
    'peer',
    'name',
    'fnprobe1',
  ]);
});

test('ssh targets and quoting: user strings never become options or shell syntax', () => {
  assert.deepEqual(parseSshTarget('root@10.0.0.1'), { user: 'root', addr: '10.0.0.1' });
  assert.deepEqual(parseSshTarget('h3.example'), { user: 'root', addr: 'h3.example' });
  for (const bad of ['-oProxyCommand=x', 'root@a;b', 'root@$(x)', 'a b', ''])
    assert.throws(() => parseSshTarget(bad), /USER@ADDRESS/, bad);
  assert.equal(shellQuote(['sh', '-c', 'cat > "$1"', 'sh', "/tmp/it's"]), `sh -c 'cat > "$1"' sh '/tmp/it'\\''s'`);
});

const S = { hostId: 'h3', listen: '10.0.0.13:7441', controller: '10.0.0.1:7440' };

test('install with systemd: the exact commands, and the unit passes systemd-analyze verify', async (t) => {
  const r = new FakeRunner();
  await writeAgentConfig(r, S, 'CA-PEM', 'fnj_token');
  await startWithSystemd(r);
  assert.deepEqual(
    r.calls.map((c) => [c.cmd, ...c.args]),
    [
      ['install', '-m', '0644', '/dev/null', REMOTE.ca],
      ['sh', '-c', 'cat > "$1"', 'sh', REMOTE.ca],
      ['install', '-m', '0600', '/dev/null', REMOTE.token],
      ['sh', '-c', 'cat > "$1"', 'sh', REMOTE.token],
      ['install', '-m', '0600', '/dev/null', REMOTE.env],
      ['sh', '-c', 'cat > "$1"', 'sh', REMOTE.env],
      ['install', '-m', '0644', '/dev/null', REMOTE.unit],
      ['sh', '-c', 'cat > "$1"', 'sh', REMOTE.unit],
      ['systemctl', 'daemon-reload'],
      ['systemctl', 'enable', '--now', 'fleetnet-agent.service'],
    ],
  );
  assert.equal(r.calls[3]!.input, 'fnj_token\n');
  assert.equal(
    r.calls[5]!.input,
    'FLEETNET_HOST_ID=h3\nFLEETNET_LISTEN=10.0.0.13:7441\nFLEETNET_CONTROLLER=10.0.0.1:7440\n',
  );
  assert.equal(r.calls[7]!.input, unitText());
  // the unit's ExecStart and the supervised argv start the agent alike
  const exec = /^ExecStart=(.*)$/m
    .exec(unitText())![1]!
    .replace('${FLEETNET_LISTEN}', S.listen)
    .replace('${FLEETNET_HOST_ID}', S.hostId)
    .replace('${FLEETNET_CONTROLLER}', S.controller);
  assert.deepEqual(exec.split(' '), [REMOTE.node, REMOTE.bundle, ...agentRunArgs(S)]);

  const { ExecRunner } = await import('../../common/runner.js');
  const sh = new ExecRunner();
  if ((await sh.run('sh', ['-c', 'command -v systemd-analyze'], { allowFail: true })).code !== 0) {
    t.diagnostic('systemd-analyze is not installed here: unit verified by its exact commands only');
    return;
  }
  const d = tmp(t);
  const unit = join(d, 'fleetnet-agent.service');
  // verify resolves ExecStart's binary: point it at one that exists here, keep the rest as shipped
  writeFileSync(unit, unitText().replace('ExecStart=/opt/fleetnet/bin/node', `ExecStart=${process.execPath}`));
  const v = await sh.run('systemd-analyze', ['verify', '--man=no', unit], { allowFail: true });
  const problems = (v.stdout + v.stderr)
    .split('\n')
    .filter((l) => l.includes('fleetnet-agent.service') && !/EnvironmentFile|Failed to open|No such file/.test(l));
  assert.deepEqual(problems, [], v.stdout + v.stderr);
});

test("install without systemd: the agent's supervisor, detached from the SSH session", async () => {
  const r = new FakeRunner();
  await startSupervised(r, S);
  assert.deepEqual(
    r.calls.map((c) => [c.cmd, ...c.args]),
    [
      [
        'sh',
        '-c',
        'exec setsid -f "$@" </dev/null >/dev/null 2>&1',
        'sh',
        REMOTE.node,
        REMOTE.bundle,
        'agent',
        'supervise',
        '--pid-file',
        REMOTE.pid,
        '--log',
        REMOTE.log,
        '--',
        ...agentRunArgs(S),
      ],
    ],
  );
});

test('uninstall: systemd and supervised, exact commands; removing what is gone is fine', async () => {
  const r = new FakeRunner((c) =>
    c.cmd === 'systemctl' && c.args[0] === 'disable' ? { code: 1, stderr: 'not loaded' } : undefined,
  );
  await uninstall(r, true);
  assert.deepEqual(r.calls.map((c) => [c.cmd, ...c.args]).slice(0, 3), [
    ['systemctl', 'disable', '--now', 'fleetnet-agent.service'],
    ['rm', '-f', REMOTE.unit],
    ['systemctl', 'daemon-reload'],
  ]);
  const s = new FakeRunner();
  await uninstall(s, false);
  assert.equal(s.calls[0]!.args[3], REMOTE.pid);
  assert.deepEqual(s.calls.at(-1)!.args.slice(3), [REMOTE.root, REMOTE.etc, REMOTE.state]);
});
