// fleetnet completion bash|zsh|fish: scripts generated from the whole command tree load in bash
// (complete -p fleetnet, and they complete), parse in zsh and fish (and fish completes), and name
// every command, so they cannot drift from what the CLI has.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Command } from 'commander';
import { ALL_COMMANDS } from '../../cli/command-table.js';
import { bashScript, completionTree, fishScript, zshScript } from '../../cli/output/completion.js';
import { ExecRunner } from '../../common/runner.js';

const sh = new ExecRunner();
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'fleetnet.cjs');
let dir: string;
const scripts: Record<string, string> = {};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleetnet-completion-'));
  for (const shell of ['bash', 'zsh', 'fish']) {
    const r = await sh.run(process.execPath, [BIN, 'completion', shell]);
    scripts[shell] = join(dir, `fleetnet.${shell}`);
    writeFileSync(scripts[shell], r.stdout);
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Is the shell installed? CI installs all three (scripts/setup.sh); elsewhere a missing one is skipped. */
async function have(shell: string): Promise<boolean> {
  const ok = (await sh.run(shell, ['-c', 'exit 0'], { allowFail: true }).catch(() => ({ code: 127 }))).code === 0;
  if (!ok && process.env.CI) throw new Error(`${shell} is missing in CI: scripts/setup.sh installs it`);
  return ok;
}

describe('completion scripts', () => {
  it('bash: complete -p fleetnet after sourcing; subcommands, -o values and the shell names complete', async (t) => {
    if (!(await have('bash'))) return t.skip('bash is not installed');
    const probe = (words: string[]) =>
      `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; ` +
      `COMPREPLY=(); _fleetnet; echo "\${COMPREPLY[*]}"`;
    const r = await sh.run('bash', [
      '--norc',
      '-c',
      [
        `source ${scripts.bash}`,
        'complete -p fleetnet',
        probe(['fleetnet', 'host', 'a']),
        probe(['fleetnet', '--controller', 'x:1', 'ls', '-o', '']),
        probe(['fleetnet', 'completion', '']),
        probe(['fleetnet', 'mesh', 'st']),
      ].join('\n'),
    ]);
    assert.deepEqual(r.stdout.trim().split('\n'), [
      'complete -o default -F _fleetnet fleetnet',
      'add',
      'table wide json yaml',
      'bash zsh fish',
      'status',
    ]);
  });
  it('zsh: the script parses (zsh -n) and loads', async (t) => {
    if (!(await have('zsh'))) return t.skip('zsh is not installed');
    await sh.run('zsh', ['-n', scripts.zsh!]);
    const r = await sh.run('zsh', [
      '-f',
      '-c',
      `autoload -U compinit && compinit -u -D && source ${scripts.zsh} && print -r -- ` +
        `\${_comps[fleetnet]} \${_fleetnet_cmds[fleetnet host]}`,
    ]);
    assert.match(r.stdout, /^_fleetnet add ls rm rotate-cert/);
  });
  it('fish: the script parses (fish -n) and completes', async (t) => {
    if (!(await have('fish'))) return t.skip('fish is not installed');
    await sh.run('fish', ['-n', scripts.fish!]);
    const r = await sh.run('fish', [
      '--no-config',
      '-c',
      `source ${scripts.fish}; complete -C 'fleetnet host a'; complete -C 'fleetnet ls -o '`,
    ]);
    assert.match(r.stdout, /^add\t.*\njson\t.*\ntable\t/);
  });
  it('the tree has every command and subcommand of the CLI', () => {
    const p = new Command('fleetnet');
    for (const m of ALL_COMMANDS) m.register(p);
    const tree = completionTree(p);
    const paths = new Set(tree.map((n) => n.path));
    const walk = (c: Command, path: string): void =>
      c.commands.forEach((s) => {
        assert.ok(paths.has(`${path} ${s.name()}`), `${path} ${s.name()}`);
        walk(s, `${path} ${s.name()}`);
      });
    walk(p, 'fleetnet');
    for (const f of [bashScript, zshScript, fishScript]) assert.ok(f(tree).includes('rotate-cert'));
  });
});
