// cli/fast-parse.ts: a plain attach, detach or ls line parsed without commander must give the action exactly
// what commander gives it (arguments, options with defaults, options merged with the program's); any other
// line is left to commander. Each line here goes through both: the real program (cli/program.ts with the
// real attach and detach modules, their actions swapped for a recorder) and the fast parser.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import * as attach from '../../cli/commands/attach.js';
import * as detach from '../../cli/commands/detach.js';
import * as ls from '../../cli/commands/ls.js';
import { FAST_ACTIONS } from '../../cli/fast-commands.js';
import { parseFastLine, type FastLine } from '../../cli/fast-parse.js';
import { buildProgram } from '../../cli/program.js';
import { GLOBAL_OPTIONS } from '../../cli/run-action.js';

/** What commander hands the action for this line, or 'error' when it refuses the line (or prints help). */
async function viaCommander(args: string[]): Promise<FastLine | 'error'> {
  const program = buildProgram([attach, detach, ls]);
  let got: FastLine | 'error' = 'error';
  const quiet = { writeOut: () => {}, writeErr: () => {}, outputError: () => {} };
  program.configureOutput(quiet);
  for (const c of program.commands) {
    c.configureOutput(quiet);
    c.action((...a: unknown[]) => {
      const [opts, cmd] = a.slice(-2) as [Record<string, string | boolean>, Command];
      const first = a.length > 2 ? (a[0] as string | string[]) : []; // ls takes no argument
      got = { operands: Array.isArray(first) ? first : [first], opts: { ...opts }, withGlobals: cmd.optsWithGlobals() };
    });
  }
  try {
    await program.parseAsync(['node', 'fleetnet', ...args]);
  } catch {
    return 'error';
  }
  return got;
}

function viaFastParser(args: string[]): FastLine | undefined {
  for (const a of FAST_ACTIONS) {
    const line = parseFastLine(args, a, GLOBAL_OPTIONS);
    if (line) return line;
  }
  return undefined;
}

const PLAIN: string[][] = [
  ['--socket', '/run/x.sock', 'attach', '-i', 'eth1', 'br1', 'docker:web1', '10.1.1.5/16'],
  ['attach', 'br1', 'web1', '10.1.1.5/24@10.1.1.1', 'fd00::5/64', 'U:web1@10', '--json', '--dry-run'],
  ['attach', '--socket', 's', 'br1', '--mtu', '9000', 'web1', '10.1.1.5/24', '--local'],
  [
    'attach',
    '--ifname=eth2',
    '-l',
    'veth9',
    '--kind',
    'bridge',
    '--macvlan-mode',
    'private',
    '--vlan-filtering',
    'br1',
    'w',
    '0/0',
  ],
  ['attach', '--trunk', 'eth0', '--ovs-datapath', 'netdev', '-a', '4', '--net', 'n', '--dhcp-dns', 'br1', 'w', 'dhcp'],
  ['attach', '--dhcp-oneshot', '--keep-address', '--timeout', '5', '--direct-phys', 'br1', 'web1', 'udhcpc'],
  ['--controller', 'c:1', '--context', 'x', '--config', 'f', 'attach', '--host', 'h1', 'web1', '10.1.1.5/24'],
  ['attach', '-i', 'eth1', '-i', 'eth2', 'br1', 'web1', '0/0'],
  ['attach', 'br1', '-', '10.0.0.1/24'],
  ['attach', '--mtu=', 'br1', 'web1', '0/0'],
  ['attach', 'br1', '--socket=s2', 'web1', '10.0.0.1/24'],
  ['detach', 'web1'],
  ['detach', '-i', 'eth2', 'web1', '--json'],
  ['--socket', 's', 'detach', '--host', 'h', '--timeout', '3', 'web1'],
  ['detach', 'web1', '--socket=s2', '--local'],
  ['ls'],
  ['ls', '--json'],
  ['--controller', 'c:1', 'ls', '--json', '--host', 'h1', '--net', 'n1'],
  ['ls', '-o', 'wide'],
  ['ls', '--output=yaml', '-q', '--socket', 's'],
  ['ls', '--format', '{{host}} {{mac}}'],
];

const LEFT_TO_COMMANDER: string[][] = [
  ['attach', '--help'],
  ['-h', 'attach'],
  ['attach', '-V'],
  ['detach', 'web1', '--version'],
  ['attach', '-ieth1', 'br1', 'w', '0/0'],
  ['attach', '-i=eth1', 'br1', 'w', '0/0'],
  ['attach', '--', 'br1', 'w', '0/0'],
  ['--json', 'attach', 'br1', 'w', '0/0'],
  ['-i', 'eth1', 'attach', 'br1', 'w', '0/0'],
  ['attach'],
  ['detach'],
  ['detach', 'a', 'b'],
  ['attach', '--bogus', 'br1', 'w', '0/0'],
  ['attach', 'br1', 'w', '0/0', '-i'],
  ['attach', '--mtu', '-5', 'br1', 'w', '0/0'],
  ['attach', '--json=yes', 'br1', 'w', '0/0'],
  ['attach', 'br1', 'w', '-5'],
  ['ls', '-o', 'xml'],
  ['ls', '-owide'],
  ['ls', 'extra'],
  ['ls', '-i', 'eth1'],
];

describe('the fast parse of attach, detach and ls', () => {
  it('parses every plain line as commander does', async () => {
    for (const args of PLAIN) {
      const fast = viaFastParser(args);
      assert.ok(fast, `the fast parser takes ${args.join(' ')}`);
      assert.deepEqual(fast, await viaCommander(args), args.join(' '));
    }
  });

  it('leaves every other line to commander', async () => {
    for (const args of LEFT_TO_COMMANDER) assert.equal(viaFastParser(args), undefined, args.join(' '));
    // commander still answers them as before: these it refuses (exit 2 with its message), these it takes
    assert.equal(await viaCommander(['--json', 'attach', 'br1', 'w', '0/0']), 'error');
    assert.equal(await viaCommander(['detach', 'a', 'b']), 'error');
    assert.equal(await viaCommander(['ls', '-o', 'xml']), 'error');
    assert.deepEqual((await viaCommander(['attach', '-ieth1', 'br1', 'w', '0/0'])) !== 'error', true);
  });

  it('takes every option of the commands it serves, each as commander does', async () => {
    for (const a of FAST_ACTIONS) {
      for (const [flags] of a.options) {
        const long = /--[a-z-]+/.exec(flags)![0];
        const value = long === '--output' ? ['json'] : flags.includes('<') ? ['v1'] : [];
        const args = [a.word, long, ...value, ...Array<string>(a.operands.min).fill('web1')];
        const fast = viaFastParser(args);
        assert.ok(fast, args.join(' '));
        assert.deepEqual(fast, await viaCommander(args), args.join(' '));
      }
    }
  });
});
