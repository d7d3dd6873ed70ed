// Hosts fleetnet did not bootstrap (the lab: test/helpers/bootstrap-lab.ts): bad input and a changed
// host key are refused before anything runs on the host; an agent started by hand enrolls with a join
// token, and a wrong, expired or used one is refused naming why; a CLI credential revoked is refused.
// Bootstrapping: host-bootstrap.test.ts.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FLEETNET } from '../helpers/agent-process.js';
import { useBootstrapLab } from '../helpers/bootstrap-lab.js';
import { sh } from '../helpers/netns.js';
import { installedFiles } from '../helpers/ssh-hosts.js';

const { dir, H, lab, ctl, inNs, fleetnet, startFleetnet, agentCall, common } = useBootstrapLab('be', [['h4', 14]]);

describe('fleetnet host add: refusals and join tokens', () => {
  it('bad input exits 2 naming the problem, before any connection', async () => {
    writeFileSync(join(dir, 'bad-agent.yaml'), 'log-level: info\novs-datapth: netdev\n');
    writeFileSync(join(dir, 'listen-agent.yaml'), 'listen: 10.231.0.14:7441\n');
    for (const [args, msg] of [
      [['host', 'add', 'H!', '--ssh', `root@${H.h4!.addr}`], /host id "H!" is not usable/],
      [['host', 'add', 'h4', '--ssh', 'root@a;b'], /is not USER@ADDRESS/],
      [['host', 'add', 'h4'], /host add needs NAME/],
      [['host', 'add', 'h4', '--ssh', `root@${H.h4!.addr}`, '--token-ttl', '5x'], /duration "5x" is not valid/],
      [
        ['host', 'add', 'h4', '--ssh', `root@${H.h4!.addr}`, '--agent-config', join(dir, 'bad-agent.yaml')],
        /bad-agent.yaml:2: unknown key 'ovs-datapth'/,
      ],
      [
        ['host', 'add', 'h4', '--ssh', `root@${H.h4!.addr}`, '--agent-config', join(dir, 'listen-agent.yaml')],
        /key 'listen' is set by the install/,
      ],
    ] as [string[], RegExp][]) {
      const r = await fleetnet(...args, ...common());
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg);
    }
    for (const [args, msg] of [
      [['host', 'token', 'h4', '--ttl', 'soon'], /--ttl: duration "soon" is not valid/],
      [['host', 'upgrade', 'h4'], /host upgrade over SSH needs NAME and --ssh/],
    ] as [string[], RegExp][]) {
      const r = await fleetnet(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg);
    }
    assert.deepEqual(installedFiles(H.h4!), []);
  });

  const addH4Args = (...more: string[]) => [
    'host',
    'add',
    'h4',
    '--ssh',
    `root@${H.h4!.addr}`,
    '--identity',
    lab().identity,
    '--accept-new',
    ...more,
  ];
  const addH4 = (...more: string[]) => fleetnet(...addH4Args(...more));
  const tokens = () => readdirSync(join(dir, 'ctl', 'tokens')).filter((f) => f.endsWith('.json')).length;

  it('a changed host key aborts before anything runs: nothing installed, its join token void', async () => {
    const tokensBefore = tokens();
    const other = join(dir, 'other_key');
    await sh.run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const kh = join(dir, 'known_hosts_h4');
    writeFileSync(kh, `${H.h4!.addr} ${readFileSync(`${other}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
    const r = await addH4('--advertise', ctl(), '--known-hosts', kh);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /does not match/);
    assert.deepEqual(installedFiles(H.h4!), []);
    assert.equal(
      readFileSync(kh, 'utf8').split('\n').filter(Boolean).length,
      1,
      '--accept-new does not overwrite a pinned key',
    );
    assert.equal(tokens(), tokensBefore, 'the token the bootstrap was given is void');
  });

  it('--join of no network is refused before the bootstrap starts: exit 2 naming it, nothing made', async () => {
    const r = await addH4('--join', 'nosuch', ...common());
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /--join nosuch: no network named nosuch/);
    assert.match(r.stderr, /no network has a mesh yet: fleetnet net create NAME --subnet CIDR --mesh gre\|vxlan/);
    assert.doesNotMatch(r.stderr, /h4: connect/, 'no step started (the first asks for the join token)');
    assert.deepEqual(installedFiles(H.h4!), []);
  });

  it('a bootstrap that fails after the host was registered (its --join network gone) takes it all back', async () => {
    const net = await fleetnet('net', 'create', 'gone', '--subnet', '10.77.0.0/24', '--mesh', 'vxlan');
    assert.equal(net.code, 0, net.stderr);
    // The networks are checked before the bootstrap starts. Held still at its first step while the network is
    // removed (as someone else may), the bootstrap goes on to register h4 and then finds no network to join.
    const p = startFleetnet(...addH4Args('--join', 'gone', ...common()));
    let out = '';
    p.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => p.on('exit', (code) => resolve(code)));
    let held = false;
    await new Promise<void>((resolve, reject) => {
      p.stderr!.on('data', (b: Buffer) => {
        out += b.toString();
        if (held || !out.includes('h4: connect started')) return;
        held = p.kill('SIGSTOP');
        resolve();
      });
      void exited.then(() => reject(new Error(`host add ended before its bootstrap started: ${out}`)));
    });
    assert.ok(held, 'host add is held still');
    try {
      assert.equal((await fleetnet('net', 'rm', 'gone')).code, 0);
    } finally {
      p.kill('SIGCONT');
    }
    assert.equal(await exited, 1, out);
    assert.match(out, /h4: register failed — no network named gone/);
    assert.deepEqual(installedFiles(H.h4!), []);
    assert.ok(!(await fleetnet('host', 'ls')).stdout.includes('h4'), 'the registration is taken back');
    const revoked = JSON.parse(readFileSync(join(dir, 'ctl', 'revoked.json'), 'utf8')) as { name: string }[];
    assert.ok(
      revoked.some((e) => e.name === 'h4'),
      'the certificate it enrolled with is revoked',
    );
  });

  it(
    'host token: an agent started by hand enrolls with it; ' + 'without one, host add --addr says what to run',
    async () => {
      const h4 = H.h4!;
      const listen = `${h4.addr}:7441`;
      const byHand = (name: string, extra: string[]) => [
        'node',
        FLEETNET,
        'agent',
        'run',
        '--socket',
        join(dir, `${name}.sock`),
        '--state-dir',
        join(dir, name),
        '--listen',
        listen,
        '--host-name',
        'h4',
        '--docker-socket',
        join(dir, 'no-docker.sock'),
        '--log-level',
        'warn',
        ...extra,
      ];
      const up = async () => {
        for (
          let i = 0;
          (await inNs(lab().ctlNs, process.env, 'bash', '-c', 'exec 3<>/dev/tcp/$1/7441', 'bash', h4.addr)).code !== 0;
          i++
        ) {
          if (i > 100) throw new Error('the agent on h4 does not listen');
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      // an agent started without a join token: it answers, but not to the controller
      const open = sh.start('nsenter', [`--net=/run/netns/${h4.ns}`, ...byHand('h4-open', [])], { stdio: 'inherit' });
      try {
        await up();
        const add = await fleetnet('host', 'add', 'h4', '--addr', listen);
        assert.equal(add.code, 1, add.stdout + add.stderr);
        assert.match(add.stderr, /the agent at .* answers but is not enrolled with this controller/);
        assert.match(add.stderr, new RegExp(`fleetnet host token h4 --listen ${listen}`));
        assert.match(
          add.stderr,
          new RegExp(`fleetnet agent run --listen ${listen} --host-name h4 --controller ${ctl()} .*--join-token-file`),
        );
        assert.ok(!(await fleetnet('host', 'ls')).stdout.includes('h4'), 'nothing recorded');
      } finally {
        open.kill('SIGTERM');
        await new Promise((r) => (open.exitCode === null ? open.once('exit', r) : r(undefined)));
      }
      const token = async (host: string, ...args: string[]) => {
        const r = await fleetnet(
          'host',
          'token',
          host,
          '--out',
          join(dir, `${host}-join${args.length}`),
          '--json',
          ...args,
        );
        assert.equal(r.code, 0, r.stderr);
        return {
          ...(JSON.parse(r.stdout) as { token: string; agentRun: string[] }),
          dir: join(dir, `${host}-join${args.length}`),
        };
      };
      // An agent whose token is refused exits at once (exit 2). The wait is bounded (60 s, far above the
      // few seconds it takes) so that one that stays up fails here, saying so, instead of hanging the file.
      const REFUSED_EXIT_MS = 60_000;
      const enroll = async (name: string, t: { dir: string }, tokenFile = join(t.dir, 'join-token')) => {
        const argv = byHand(name, [
          '--controller',
          ctl(),
          '--ca-file',
          join(t.dir, 'ca.crt'),
          '--join-token-file',
          tokenFile,
        ]);
        const r = await sh.run('nsenter', [`--net=/run/netns/${h4.ns}`, ...argv], {
          allowFail: true,
          timeoutMs: REFUSED_EXIT_MS,
        });
        const stuck =
          `agent run with a refused join token (${name}) did not exit within ${REFUSED_EXIT_MS / 1000} s ` +
          'and was killed: something it started before enrolling keeps the process alive';
        assert.ok(!/killed by SIG/.test(r.stderr), `${stuck}\n${r.stderr}`);
        return r;
      };
      // a token for another host, and an expired one: the agent stops at once, exit 2, the problem named
      const other = await token('h5');
      let r = await enroll('h4-other', other);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /join token refused: it was made for host h5, not h4/);
      const short = await token('h4', '--ttl', '1s', '--listen', listen);
      await new Promise((res) => setTimeout(res, 1500));
      r = await enroll('h4-late', short);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /join token refused: expired/);
      // a good one: the agent enrolls, and host add --addr takes it
      const good = await token('h4', '--listen', listen, '--ttl', '1h');
      assert.match(good.token, /^fnj_/);
      assert.equal(statSync(join(good.dir, 'join-token')).mode & 0o777, 0o600);
      assert.deepEqual(good.agentRun.slice(0, 7), [
        'fleetnet',
        'agent',
        'run',
        '--listen',
        listen,
        '--host-name',
        'h4',
      ]);
      writeFileSync(join(dir, 'h4-token-copy'), readFileSync(join(good.dir, 'join-token')));
      const agent = sh.start(
        'nsenter',
        [
          `--net=/run/netns/${h4.ns}`,
          ...byHand('h4', [
            '--controller',
            ctl(),
            '--ca-file',
            join(good.dir, 'ca.crt'),
            '--join-token-file',
            join(good.dir, 'join-token'),
          ]),
        ],
        { stdio: 'inherit' },
      );
      try {
        await up();
        const add = await fleetnet('host', 'add', 'h4', '--addr', listen, '--json');
        assert.equal(add.code, 0, add.stdout + add.stderr);
        assert.equal((await agentCall(h4, 'list')).code, 0, 'h4 answers the controller over mTLS');
        assert.ok(!existsSync(join(good.dir, 'join-token')), 'the token is used up and gone');
        // the same token again (a copy): used
        r = await enroll('h4-again', good, join(dir, 'h4-token-copy'));
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /join token refused: unknown or already used/);
        assert.equal((await fleetnet('host', 'rm', 'h4')).code, 0);
        // host rm revoked its certificate: the agent still answers with it, and host add --addr refuses it
        const revoked = await fleetnet('host', 'add', 'h4', '--addr', listen);
        assert.equal(revoked.code, 1, revoked.stdout + revoked.stderr);
        assert.match(revoked.stderr, /answers with certificate [0-9a-f]+ for h4, which is revoked/);
        assert.match(revoked.stderr, /enroll it again, with a new join token/);
        assert.ok(!(await fleetnet('host', 'ls')).stdout.includes('h4'), 'nothing recorded');
      } finally {
        agent.kill('SIGTERM');
        await new Promise((res) => (agent.exitCode === null ? agent.once('exit', res) : res(undefined)));
      }
    },
  );
});

describe('CLI credentials', () => {
  it('controller cli-revoke: refused at once by the controller, naming why; never the credential in use', async () => {
    const temp = join(dir, 'temp-cli');
    assert.equal((await fleetnet('controller', 'cli-cert', 'temp', '--out', temp)).code, 0);
    // the laptop's CLI, with the credential just made
    const env = { ...process.env, HOME: join(dir, 'home'), FLEETNET_TLS_DIR: temp, FLEETNET_CONTROLLER: '' };
    const asTemp = (...args: string[]) => inNs(lab().ctlNs, env, 'node', FLEETNET, '--controller', ctl(), ...args);
    assert.equal((await asTemp('host', 'ls')).code, 0);
    const own = await asTemp('controller', 'cli-revoke', 'temp');
    assert.equal(own.code, 1, own.stdout + own.stderr);
    assert.match(own.stderr, /temp's credential [0-9a-f]+ is the one this CLI uses: not revoked/);
    const bad = await fleetnet('controller', 'cli-revoke', 'temp', '--serial', 'nope');
    assert.equal(bad.code, 2, bad.stderr);
    const r = await fleetnet('controller', 'cli-revoke', 'temp', '--reason', 'test', '--json');
    assert.equal(r.code, 0, r.stderr);
    const { revoked } = JSON.parse(r.stdout) as { revoked: string[] };
    assert.equal(revoked.length, 1);
    const refused = await asTemp('host', 'ls');
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    assert.match(refused.stderr, new RegExp(`certificate ${revoked[0]} of cli temp is revoked`));
    assert.match(refused.stderr, /controller cli-revoke/);
    assert.equal((await fleetnet('host', 'ls')).code, 0, 'the other credentials still work');
  });
});
