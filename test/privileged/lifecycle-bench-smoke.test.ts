// bench/lifecycle.ts at the smallest sizes: every section runs, the results file follows the schema
// (with the goals as comparisons), and nothing it made is left (namespaces, containers, temp folders).
// It runs under a prefix of its own, so a bench run beside it (a developer's) is not blamed on it.
// No timing is asserted.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ResultsSchema } from '../../bench/lib/results.js';
import { dockerUnavailable } from '../helpers/docker.js';

const dockerWhy = await dockerUnavailable();

const PREFIX = `fnbls${Math.random().toString(36).slice(2, 8)}`;

/** What a run under PREFIX made and left: namespaces, temp folders, containers. */
function snapshot(): string[] {
  const ours = (s: string) => s.startsWith(`${PREFIX}-`);
  const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter(ours);
  const tmp = readdirSync(tmpdir()).filter(ours);
  const names = execFileSync('docker', ['ps', '-a', '--format', '{{.Names}}'], { encoding: 'utf8' });
  const containers = names.split('\n').filter(ours);
  return [...netns.map((x) => `netns ${x}`), ...tmp.map((x) => `tmp ${x}`), ...containers.map((x) => `container ${x}`)];
}

const skip = dockerWhy ? `Docker: ${dockerWhy}` : false;

test('bench/lifecycle.ts at smoke sizes: every section runs, nothing is left', { skip, timeout: 300_000 }, (t) => {
  const out = mkdtempSync(join(tmpdir(), 'fleetnet-lcbench-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const file = join(out, 'lifecycle.json');
  const args = [
    '--start-n',
    '2',
    '--reboot-n',
    '3',
    '--scale-n',
    '10',
    '--clients',
    '3',
    '--lat-n',
    '2',
    '--pass-n',
    '2',
    '--results',
    file,
    '--prefix',
    PREFIX,
  ];
  const argv = ['--import', 'tsx', 'bench/lifecycle.ts', ...args];
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8', timeout: 280_000 });
  assert.equal(r.status, 0, `bench failed:\n${r.stdout}\n${r.stderr}`);
  const res = ResultsSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  const names = res.rows.map((x) => x.name);
  const wanted = [
    /^docker start returned/,
    /^rebooted host: 3 attachments back$/,
    /^10 attaches from 3 concurrent clients \(wall\)$/,
    /^attach onto a bridge with 10 ports$/,
    /^attach onto an empty bridge$/,
    /^one lifecycle pass over 13 attachments$/,
  ];
  for (const want of wanted) {
    assert.ok(
      names.some((n) => want.test(n)),
      `${String(want)} in ${names.join(' | ')}`,
    );
  }
  assert.ok(
    res.rows.every((x) => x.p50Ms > 0),
    JSON.stringify(res.rows),
  );
  assert.deepEqual(
    res.comparisons?.map((c) => c.target),
    [1, 1, 1.2],
  );
  assert.deepEqual(snapshot(), []);
});
