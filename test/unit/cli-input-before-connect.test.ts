// Input the controller would refuse is refused by the CLI before it connects: the same checks
// (common/network-spec.ts, common/host-spec.ts), so bad input exits 2 whether or not a controller answers.
// Each line below would otherwise try the default controller and fail with a connection error instead.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { FleetnetError } from '../../common/errors.js';
import { register as registerController } from '../../cli/commands/controller.js';
import { register as registerHost } from '../../cli/commands/host.js';
import { register as registerHostBootstrap } from '../../cli/commands/host-bootstrap.js';
import { register as registerMesh } from '../../cli/commands/mesh.js';
import { register as registerNet } from '../../cli/commands/net.js';
import { needHost } from '../../cli/fleet/common.js';

describe('net create', () => {
  it("the CLI refuses what the controller's check refuses, before it connects (exit 2, no controller)", async () => {
    const bad: [string[], RegExp][] = [
      [['--subnet', '224.0.0.0/24'], /224\.0\.0\.0\/24 is a multicast/],
      [['--subnet', '10.1.1.0/24', '--bridge', 'br;x'], /'br;x'/],
      [['--subnet', '10.1.1.0/24', '--gateway', '10.1.2.1'], /10\.1\.2\.1 is not inside/],
      [['--subnet', '10.1.1.0/24', '--gateway', '10.1.1.255'], /10\.1\.1\.255/],
      [['--subnet', '10.1.1.0/24', '--ipam-range', '10.1.1.9-10.1.1.3'], /ends before it starts/],
      [['--subnet', '10.1.1.0/24', '--mesh', 'ipip'], /'ipip' is not gre or vxlan/],
      [['--subnet', '10.1.1.0/24', '--kind', 'macvlan', '--parent', 'eth1', '--mesh', 'gre'], /cannot be meshed/],
      [['--subnet', '10.1.1.0/24', '--kind', 'macvlan'], /needs --parent/],
    ];
    for (const [name, words, re] of [
      ...bad.map(([w, r]) => ['blue', w, r] as const),
      ['Blue!', [], /'Blue!'/] as const,
    ]) {
      const program = new Command('fleetnet').exitOverride();
      registerNet(program);
      for (const c of program.commands) c.exitOverride();
      const line = ['net', 'create', name, ...(words.length ? words : ['--subnet', '10.1.1.0/24'])];
      await assert.rejects(
        program.parseAsync(line, { from: 'user' }),
        (e: unknown) => e instanceof FleetnetError && e.kind === 'invalid' && re.test(e.message),
        line.join(' '),
      );
    }
  });
});

describe('host add --addr', () => {
  it("the CLI refuses what the controller's addHost refuses, before it connects (exit 2, no controller)", async () => {
    const bad: [string[], RegExp][] = [
      [['bad name!', '--addr', '10.0.0.1'], /host name 'bad name!'/],
      [['h9', '--addr', '999.1.1.1'], /'999\.1\.1\.1' is not an IPv4 or IPv6 address/],
      [['h9', '--addr', '10.0.0.1:99999'], /port 99999/],
      [['h9', '--addr', '10.0.0.1:x'], /port 'x'/],
      [['h9', '--addr', '10.0.0.1', '--underlay', 'fd00::1'], /fd00::1 is not IPv4/],
    ];
    for (const [words, re] of bad) {
      const program = new Command('fleetnet').exitOverride();
      registerHost(program);
      for (const c of program.commands) c.exitOverride();
      await assert.rejects(
        program.parseAsync(['host', 'add', ...words], { from: 'user' }),
        (e: unknown) => e instanceof FleetnetError && e.kind === 'invalid' && re.test(e.message),
        words.join(' '),
      );
    }
  });
});

describe('names of hosts and networks', () => {
  it('a name no host or network can have is refused before connecting: mesh, net rm, host rm, --host', async () => {
    const lines: [string[], RegExp][] = [
      [['mesh', 'add', 'h;1', '--net', 'blue'], /host name 'h;1'/],
      [['mesh', 'rm', 'h1', '--net', 'Bad!'], /network name 'Bad!'/],
      [['net', 'rm', 'Bad!'], /network name 'Bad!'/],
      [['host', 'rm', 'x y'], /host name 'x y'/],
    ];
    for (const [line, re] of lines) {
      const program = new Command('fleetnet').exitOverride();
      for (const register of [registerMesh, registerNet, registerHost]) register(program);
      for (const c of program.commands) c.exitOverride();
      await assert.rejects(
        program.parseAsync(line, { from: 'user' }),
        (e: unknown) => e instanceof FleetnetError && e.kind === 'invalid' && re.test(e.message),
        line.join(' '),
      );
    }
    assert.throws(() => needHost({ host: 'h 1' }, 'attach'), /host name 'h 1' is not valid/);
    assert.equal(needHost({ host: 'web-1.dc2' }, 'attach'), 'web-1.dc2');
  });
});

describe('CLI user names', () => {
  it('controller cli-cert, cli-revoke, init --cli-user: a bad user name is called one, before connect', async () => {
    const lines = [
      ['controller', 'cli-cert', 'a;b', '--out', '/nonexistent/hi'],
      ['controller', 'cli-revoke', 'a;b'],
      ['controller', 'init', '--dir', '/nonexistent/hi', '--cli-user', 'a;b'],
    ];
    for (const line of lines) {
      const program = new Command('fleetnet').exitOverride();
      for (const register of [registerController, registerHostBootstrap]) register(program);
      for (const c of program.commands) c.exitOverride();
      await assert.rejects(
        program.parseAsync(line, { from: 'user' }),
        (e: unknown) =>
          e instanceof FleetnetError &&
          e.kind === 'invalid' &&
          /^CLI user name "a;b" is not usable/.test(e.message) &&
          /e\.g\. alice/.test(e.hint ?? ''),
        line.join(' '),
      );
    }
  });
});
