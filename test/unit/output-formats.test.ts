// cli/output/: every -o / --format / -q output of ls, hosts, nets and mesh status against a
// controller (agents in memory), the ONE ls schema (common/ls-schema.ts) for the controller's and
// an agent's answer, and bad output options refused with exit 2 naming the token before anything runs.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { lsEntryOf } from '../../common/inventory.js';
import { LsOutput } from '../../common/ls-schema.js';
import { table } from '../../cli/output/table.js';
import { controllerWithCli } from '../helpers/controller-cli.js';

/** Times that move between two calls (last seen, checked at) left out of a comparison. */
const noClock = (v: unknown): unknown =>
  JSON.parse(JSON.stringify(v, (k, x: unknown) => (/(?:Seen|Checked)\w*Ms$|checkedAtMs$/i.test(k) ? undefined : x)));

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'fleetnet.cjs');

test('read commands: table, wide, json, yaml, --format and -q show the same items; one ls schema', async (t) => {
  const { cli, fleet } = await controllerWithCli(t, [BIN]);
  for (const a of [
    ['host', 'add', 'h1', '--addr', '10.99.0.11'],
    ['host', 'add', 'h2', '--addr', '10.99.0.12'],
    ['net', 'create', 'blue', '--subnet', '10.1.1.0/24', '--mesh', 'gre'],
    ['net', 'create', 'red', '--subnet', '10.2.0.0/24'],
    ['attach', '--host', 'h1', 'web1', '10.1.1.5/24'],
    ['attach', '--host', 'h2', 'web2', '10.1.1.6/24'],
  ]) {
    const r = await cli(...a);
    assert.equal(r.code, 0, `${a.join(' ')}: ${r.err}`);
  }
  await cli('mesh', 'add', 'h1', '--net', 'blue');
  await cli('mesh', 'add', 'h2', '--net', 'blue');
  const t0 = Date.now();

  // [command, a field of each item, what -q prints for the first item]
  const cmds: [string[], string, RegExp][] = [
    [['ls'], 'container', /^blue|^h1\/|^[\w.:-]+$/],
    [['hosts'], 'name', /^h1$/],
    [['nets'], 'name', /^blue$/],
    [['mesh', 'status'], 'host', /^\S+$/],
  ];
  for (const [cmd, field, qre] of cmds) {
    // one command at a time, its formats at once: 6 CLI processes, not 24
    const [tbl, wide, json, yaml, tpl, q] = await Promise.all([
      cli(...cmd),
      cli(...cmd, '-o', 'wide'),
      cli(...cmd, '-o', 'json'),
      cli(...cmd, '-o', 'yaml'),
      cli(...cmd, '--format', `{{${field}}}`),
      cli(...cmd, '-q'),
    ]);
    const name = cmd.join(' ');
    const jv = JSON.parse(json.out) as unknown;
    const items = (Array.isArray(jv) ? jv : (jv as { tunnels: unknown[] }).tunnels) as Record<string, unknown>[];
    assert.ok(items.length >= 2, `${name}: ${json.out}`);
    assert.deepEqual(noClock(parseYaml(yaml.out)), noClock(jv), `${name}: -o yaml is -o json (${yaml.err})`);
    assert.deepEqual(
      tpl.out.trimEnd().split('\n'),
      items.map((i) => String(i[field])),
      `${name}: --format`,
    );
    assert.equal(q.out.trimEnd().split('\n').length, items.length, `${name}: -q`);
    assert.match(q.out.split('\n')[0]!, qre, `${name}: -q`);
    const head = tbl.out.split('\n').find((l) => /^[A-Z]/.test(l))!;
    const wideHead = wide.out.split('\n').find((l) => /^[A-Z]/.test(l))!;
    assert.ok(
      wideHead.startsWith(head) || name === 'mesh status',
      `${name}: -o wide adds columns: ${head} / ${wideHead}`,
    );
    assert.equal(tbl.out.trimEnd().split('\n').length, items.length + 1, `${name}: a table row per item`);
    if (name === 'hosts') {
      // one controller (SQLite): no host has an owner to name, so neither the table nor -o json shows one
      assert.doesNotMatch(head, /CONTROLLER/);
      assert.ok(
        items.every((h) => !('controller' in h)),
        json.out,
      );
    }
  }

  process.stderr.write(`formats ${Date.now() - t0} ms\n`);
  // The ONE ls schema: the controller's answer, and an agent's interfaces converted for its ls.
  LsOutput.parse(JSON.parse((await cli('ls', '--json')).out));
  const agentIf = [...fleet.agents.values()].flatMap((a) => [...a.made.values()]);
  assert.ok(agentIf.length >= 2);
  LsOutput.parse(
    agentIf.map((i) =>
      lsEntryOf('h1', {
        ...i,
        lease: {
          address: '10.1.1.9/24',
          router: '',
          dns: [],
          leaseSeconds: 60,
          expiresUnixMs: 0,
          clientPid: 1,
          client: 'udhcpc',
        },
      }),
    ),
  );

  // topology (its model, tree and DOT rendered by dot) is tested in topology.test.ts: through this controller
  // it asks every fake agent for its mesh, which under load outlasts a test's patience

  // Bad output options: exit 2 naming the token, before anything is asked of the controller.
  const bad: [string[], RegExp][] = [
    [['ls', '-o', 'xml'], /argument 'xml' is invalid\. Allowed choices are table, wide, json, yaml/],
    [['hosts', '--format', '{{name'], /--format '\{\{name': unexpected INVALID/],
    [['nets', '--format', '{{nmae}}'], /no field 'nmae'/],
    [['mesh', 'status', '-o', 'json', '-q'], /-o json and -q ask for different outputs/],
    [['topology', '-o', 'png'], /argument 'png' is invalid\. Allowed choices are tree, wide, dot, svg, json, yaml/],
    [['ls', '--controller', 'unix:/nonexistent/sock', '-o', 'jsn'], /argument 'jsn' is invalid/],
  ];
  for (const [args, re] of bad) {
    const r = await cli(...args);
    assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.err}`);
    assert.match(r.err, re);
  }

  // Every --format example a read command's help gives runs on that command's items.
  const examples = async (...cmd: string[]) =>
    [...(await cli(...cmd, '--help')).out.matchAll(/--format '([^']+)'/g)].map((m) => m[1]!);
  const helped = [['ls'], ['hosts'], ['host', 'ls'], ['nets'], ['net', 'ls'], ['mesh', 'status'], ['version']];
  for (const cmd of helped) {
    const tpls = await examples(...cmd);
    assert.ok(tpls.length >= 2, `${cmd.join(' ')} --help gives examples`);
    for (const tpl of tpls) {
      const r = await cli(...cmd, '--format', tpl);
      // (mesh status exits 1 while a tunnel is not up, as the fake agents' are: the template itself ran)
      assert.equal(r.code, cmd[0] === 'mesh' ? 1 : 0, `${cmd.join(' ')} --format '${tpl}': ${r.err}`);
      assert.equal(r.err, '');
      assert.ok(r.out.trim().split('\n').length >= 2, `${cmd.join(' ')} --format '${tpl}': ${r.out}`);
    }
  }

  // A host or network nobody registered is a typo, not an empty list (exit 2, naming it).
  for (const [args, re] of [
    [['ls', '--host', 'nohost'], /no host named nohost/],
    [['ls', '--net', 'nonet', '-o', 'json'], /no network named nonet/],
    [['check', '--host', 'hz'], /no host named hz/],
  ] as [string[], RegExp][]) {
    const r = await cli(...args);
    assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.err}`);
    assert.match(r.err, re);
  }

  // check: the same outputs over its findings; -o json/yaml carry the summary too. Both agents stop
  // answering, so each host is one stable 'failed' finding (exit 1: found, not fixed).
  for (const a of fleet.agents.values()) a.down = true;
  const [ctbl, cjson, cyaml, ctpl, cq] = await Promise.all([
    cli('check'),
    cli('check', '-o', 'json'),
    cli('check', '-o', 'yaml'),
    cli('check', '--format', '{{kind}} {{host}}'),
    cli('check', '-q'),
  ]);
  for (const r of [ctbl, cjson, cyaml, ctpl, cq]) assert.equal(r.code, 1, `check: ${r.err}`);
  const cj = JSON.parse(cjson.out) as { failed: number; unfixed: number; findings: { kind: string; host: string }[] };
  assert.equal(cj.failed, 2, cjson.out);
  assert.equal(cj.unfixed, 2);
  assert.deepEqual(parseYaml(cyaml.out), cj);
  assert.deepEqual(ctpl.out.trimEnd().split('\n').sort(), ['failed h1', 'failed h2']);
  assert.deepEqual(cq.out.trimEnd().split('\n').sort(), ['failed h1 h1', 'failed h2 h2']);
  assert.match(ctbl.out, /^KIND +HOST +WHAT +DETAIL +FIX\n/);
  assert.match(ctbl.out, /0 leaks, 0 orphans, 0 duplicates, 0 drift, 2 failed\n$/);
  for (const tpl of await examples('check')) {
    const r = await cli('check', '--format', tpl);
    assert.equal(r.code, 1, `check --format '${tpl}': ${r.err}`); // found, not fixed; the template itself ran
    assert.equal(r.out.trim().split('\n').length, 2, r.out);
  }
  const cbad = await cli('check', '-o', 'xml');
  assert.equal(cbad.code, 2);
  assert.match(cbad.err, /argument 'xml' is invalid/);
});

test('a table cell with line breaks (an error and its hint) stays on its row', () => {
  const out = table(['HOST', 'ERROR', 'STATE'], [['h1', "no container named 'x'\n  hint: start it", 'failed']]);
  const lines = out.split('\n');
  assert.equal(lines.length, 2, out);
  assert.match(lines[1]!, /^h1 +no container named 'x' hint: start it +failed$/);
  assert.equal(lines[0]!.indexOf('STATE'), lines[1]!.indexOf('failed'), 'the columns stay aligned');
});
