// cli/main-fast.ts (dist/fleetnet.cjs, what bin/fleetnet.cjs runs): a bare --version is answered by the
// entry alone; attach, detach and ls come from the fast bundle (cli/fast-bundle.ts, dist/fleetnet-fast.cjs),
// registered exactly as the whole CLI registers them; every other command line is handed to the whole CLI
// (dist/fleetnet-all.cjs), which answers it as before.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { COMMAND_MODULES } from '../../cli/command-table.js';
import { FAST_WORDS } from '../../cli/command-word.js';
import { FAST_COMMANDS, fastModules } from '../../cli/fast-commands.js';
import { VERSION } from '../../common/version.js';
import { ensureBuilt } from '../helpers/build.js';

const dir = mkdtempSync(join(tmpdir(), 'fleetnet-fast-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the fast entry', () => {
  it('serves each of its commands with the modules the whole CLI registers for it', () => {
    assert.deepEqual(Object.keys(FAST_COMMANDS).sort(), ['attach', 'detach', 'ls']);
    for (const [word, modules] of Object.entries(FAST_COMMANDS)) assert.deepEqual(modules, COMMAND_MODULES[word], word);
    assert.deepEqual(
      [...FAST_WORDS].sort(),
      Object.keys(FAST_COMMANDS).sort(),
      'the entry hands on what the bundle serves',
    );
  });

  it('answers its commands and a bare --version, and hands the rest to the whole CLI', () => {
    assert.deepEqual(
      fastModules(['--socket', '/run/x.sock', 'attach', 'br1', 'web1', '10.1.1.5/24']),
      FAST_COMMANDS.attach,
    );
    assert.deepEqual(fastModules(['--controller', '10.0.0.1:7440', 'ls', '--json']), FAST_COMMANDS.ls);
    assert.deepEqual(fastModules(['detach', 'web1']), FAST_COMMANDS.detach);
    assert.deepEqual(fastModules(['--version']), []);
    assert.deepEqual(fastModules(['-V']), []);
    for (const args of [[], ['--help'], ['help', 'attach'], ['nets'], ['atach'], ['--', 'attach'], ['--version', 'x']])
      assert.equal(fastModules(args), undefined, args.join(' '));
  });
});

describe('bin/fleetnet.cjs with the built bundles', () => {
  // Which of the two bundles a process loaded, from its require.cache at exit.
  const preload = join(dir, 'loaded.cjs');
  const loadedFile = join(dir, 'loaded.json');
  writeFileSync(
    preload,
    [
      'const bundle = /dist[\\\\/](fleetnet(-all)?\\.cjs)$/;',
      'const loaded = () => Object.keys(require.cache).flatMap((f) => bundle.exec(f)?.[1] ?? []);',
      `const out = ${JSON.stringify(loadedFile)};`,
      "process.on('exit', () => require('node:fs').writeFileSync(out, JSON.stringify(loaded())));",
    ].join('\n'),
  );
  const run = async (args: string[]) => {
    const bin = await ensureBuilt();
    rmSync(loadedFile, { force: true });
    const r = spawnSync(process.execPath, ['--require', preload, bin, ...args], { encoding: 'utf8' });
    return { ...r, loaded: JSON.parse(readFileSync(loadedFile, 'utf8')) as string[] };
  };
  const noAgent = join(dir, 'no-agent.sock');

  it('attach, detach, ls and --version load only the fast bundle', async () => {
    const attach = await run(['--socket', noAgent, 'attach', '-i', 'eth1', 'br1', 'netns:x', '10.0.0.1/24']);
    assert.equal(attach.status, 1, attach.stderr);
    assert.match(attach.stderr, /no agent answers at/);
    assert.deepEqual(attach.loaded, ['fleetnet.cjs']);
    const bad = await run(['attach', 'br1', 'web1']);
    assert.equal(bad.status, 2, bad.stderr);
    assert.deepEqual(bad.loaded, ['fleetnet.cjs']);
    const detach = await run(['--socket', noAgent, 'detach', 'web1']);
    assert.equal(detach.status, 1, detach.stderr);
    assert.deepEqual(detach.loaded, ['fleetnet.cjs']);
    const ls = await run(['--socket', noAgent, 'ls', '--json']);
    assert.equal(ls.status, 1, ls.stderr);
    assert.deepEqual(ls.loaded, ['fleetnet.cjs']);
    const version = await run(['--version']);
    assert.equal(version.stdout.trim(), VERSION);
    assert.deepEqual(version.loaded, ['fleetnet.cjs']);
  });

  it('a bare --version loads no bundle but the entry; attach loads the entry and the fast bundle', async () => {
    const bin = await ensureBuilt();
    const preloadAll = join(dir, 'loaded-all.cjs');
    const out = join(dir, 'loaded-all.json');
    writeFileSync(
      preloadAll,
      [
        'const dist = /dist[\\\\/]([^\\\\/]+\\.cjs)$/;',
        `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(`,
        '  Object.keys(require.cache).flatMap((f) => dist.exec(f)?.[1] ?? []).sort())));',
      ].join('\n'),
    );
    const loaded = (args: string[]) => {
      const r = spawnSync(process.execPath, ['--require', preloadAll, bin, ...args], { encoding: 'utf8' });
      return { ...r, loaded: JSON.parse(readFileSync(out, 'utf8')) as string[] };
    };
    for (const flag of ['--version', '-V']) {
      const version = loaded([flag]);
      assert.equal(version.status, 0, version.stderr);
      assert.equal(version.stdout, `${VERSION}\n`);
      assert.deepEqual(version.loaded, ['fleetnet.cjs'], flag);
    }
    const attach = loaded(['--socket', noAgent, 'attach', 'br1', 'netns:x', '10.0.0.1/24']);
    assert.equal(attach.status, 1, attach.stderr);
    assert.deepEqual(attach.loaded, ['fleetnet-fast.cjs', 'fleetnet.cjs']);
  });

  it('its commands end the process when done, even with something else keeping the event loop alive', async () => {
    const bin = await ensureBuilt();
    const keepAlive = join(dir, 'keep-alive.cjs');
    writeFileSync(keepAlive, 'setInterval(() => {}, 60_000);\n');
    const timeout = 20_000; // only to end a run that would never exit
    const runKept = (args: string[]) =>
      spawnSync(process.execPath, ['--require', keepAlive, bin, ...args], { encoding: 'utf8', timeout });
    const version = runKept(['--version']);
    assert.equal(version.signal, null, 'exited by itself');
    assert.equal(version.stdout.trim(), VERSION);
    const attach = runKept(['--socket', noAgent, 'attach', 'br1', 'netns:x', '10.0.0.1/24']);
    assert.equal(attach.signal, null, 'exited by itself');
    assert.equal(attach.status, 1, attach.stderr);
    // the control: the whole CLI ends as before, so here the timer keeps `completion bash` running
    const other = spawnSync(process.execPath, ['--require', keepAlive, bin, 'completion', 'bash'], { timeout: 3000 });
    assert.equal(other.signal, 'SIGTERM', 'still running when killed');
  });

  it('any other command line is answered by the whole CLI', async () => {
    const help = await run(['--help']);
    assert.equal(help.status, 0, help.stderr);
    for (const c of ['attach', 'nets', 'controller', 'lab']) assert.match(help.stdout, new RegExp(`^  ${c}\\b`, 'm'));
    assert.deepEqual(help.loaded.sort(), ['fleetnet-all.cjs', 'fleetnet.cjs']);
    const typo = await run(['atach']);
    assert.equal(typo.status, 2);
    assert.match(typo.stderr, /unknown command 'atach'[\s\S]*Did you mean attach\?/);
    assert.deepEqual(typo.loaded.sort(), ['fleetnet-all.cjs', 'fleetnet.cjs']);
  });
});
