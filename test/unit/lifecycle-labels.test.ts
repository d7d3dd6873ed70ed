// Container labels in the agent: a `fleetnet.attach=` label reads as `fleetnet attach` reads the same words and
// options (the README's example included), options a label cannot carry are refused naming the label, and a label
// that keeps failing is logged once per run of its container and error, while `ls` keeps showing the error.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { Logger } from 'pino';
import { ATTACH_OPTIONS } from '../../cli/commands/attach.js';
import { parseFastLine } from '../../cli/fast-parse.js';
import { GLOBAL_OPTIONS } from '../../cli/run-action.js';
import { LABEL_ATTACH_OPTIONS, LABEL_REFUSED_OPTIONS, parseAttachWords } from '../../common/attach/index.js';
import { failed } from '../../common/errors.js';
import type { Attacher } from '../../agent/attach/attacher.js';
import type { AttachOrder } from '../../agent/attach/order.js';
import type { RecordStore } from '../../agent/attach/records.js';
import type { ContainerInfo } from '../../agent/containers/types.js';
import { LabelAttachments } from '../../agent/lifecycle/label-attach.js';
import { readLabels, type LabelSpec } from '../../agent/lifecycle/labels.js';

const ID = 'c'.repeat(64);

/** `fleetnet attach` of these words (the container second, as on the command line): its AttachSpec. */
function viaCli(line: string[]) {
  const parsed = parseFastLine(
    ['attach', ...line],
    { word: 'attach', options: ATTACH_OPTIONS, operands: { min: 1, max: Infinity } },
    GLOBAL_OPTIONS,
  );
  assert.ok(parsed, line.join(' '));
  return parseAttachWords(parsed.operands, parsed.opts);
}

function oneLocal(labels: Record<string, string>): Extract<LabelSpec, { kind: 'local' }> {
  const r = readLabels(labels, ID);
  assert.deepEqual(r.errors, [], JSON.stringify(labels));
  assert.equal(r.specs.length, 1);
  assert.equal(r.specs[0]!.kind, 'local');
  return r.specs[0] as Extract<LabelSpec, { kind: 'local' }>;
}

function oneError(labels: Record<string, string>): string {
  const r = readLabels(labels, ID);
  assert.deepEqual(r.specs, [], JSON.stringify(labels));
  assert.equal(r.errors.length, 1, r.errors.join('\n'));
  assert.doesNotMatch(r.errors[0]!, /labelled/, 'no placeholder word in a message');
  return r.errors[0]!;
}

describe('fleetnet.attach labels: the words and options of fleetnet attach', () => {
  it("the README's label reads as fleetnet attach reads the same words", () => {
    const s = oneLocal({ 'fleetnet.attach': 'br1 192.168.1.10/24@192.168.1.254 U:web1 -i eth2' });
    assert.equal(s.ifname, 'eth2');
    assert.equal(s.label, 'fleetnet.attach');
    const cli = viaCli(['br1', `docker:${ID}`, '192.168.1.10/24@192.168.1.254', 'U:web1', '-i', 'eth2']);
    assert.deepEqual(s.spec, cli);
  });

  it('options stand before, between or after the words, written as on the command line', () => {
    const cases: [label: string, cli: string[]][] = [
      ['-i eth2 br1 10.1.1.5/24', ['-i', 'eth2', 'br1', `docker:${ID}`, '10.1.1.5/24']],
      [
        'br1 --mtu 1400 10.1.1.5/24 fd00::5/64 U:web1@10 -l fnweb1 --vlan-filtering',
        ['br1', `docker:${ID}`, '--mtu', '1400', '10.1.1.5/24', 'fd00::5/64', 'U:web1@10', '-l', 'fnweb1'],
      ],
      [
        '--kind=bridge lan0 dhcp --dhcp-dns --dhcp-oneshot --trunk eth0 @7',
        ['--kind=bridge', 'lan0', `docker:${ID}`, 'dhcp', '--dhcp-dns', '--dhcp-oneshot', '--trunk', 'eth0', '@7'],
      ],
      [
        'eth0 0/0 --macvlan-mode private --ifname eth3',
        ['eth0', `docker:${ID}`, '0/0', '--macvlan-mode', 'private', '--ifname', 'eth3'],
      ],
      ['ovsbr1 10.1.1.5/24 --ovs-datapath netdev', ['ovsbr1', `docker:${ID}`, '10.1.1.5/24', '--ovs-datapath=netdev']],
    ];
    for (const [label, line] of cases) {
      const s = oneLocal({ 'fleetnet.attach': label });
      const cli = viaCli(line);
      // --vlan-filtering is in the label only: the CLI line above leaves it out to show each form once
      assert.deepEqual(s.spec, {
        ...cli,
        ifname: s.ifname,
        ...(label.includes('vlan-filt') ? { vlanFiltering: true } : {}),
      });
    }
    assert.equal(oneLocal({ 'fleetnet.attach': '-ieth2 br1 10.1.1.5/24' }).ifname, 'eth2');
    assert.equal(oneLocal({ 'fleetnet.attach': 'ib0 10.2.0.5/16 @8001' }).ifname, 'ib0', "attach's default on IPoIB");
    assert.equal(oneLocal({ 'fleetnet.eth3.attach': 'br1 10.1.1.5/24 -i eth3' }).ifname, 'eth3');
  });

  it('an option a label cannot carry is refused, naming the label and saying why', () => {
    for (const opt of ['--dry-run', '--json', '--host h2', '--net blue', '--keep-address', '-a 4', '--timeout 5']) {
      const e = oneError({ 'fleetnet.eth2.attach': `br1 10.1.1.5/24 ${opt}` });
      assert.match(e, new RegExp(`^label fleetnet\\.eth2\\.attach='br1 10\\.1\\.1\\.5/24 ${opt}': `), e);
      assert.match(e, new RegExp(`${opt.split(' ')[0]} cannot stand in a label: \\S`), e);
    }
    assert.match(oneError({ 'fleetnet.attach': 'br1 10.1.1.5/24 --rm' }), /--rm is not an option of fleetnet attach/);
    assert.match(oneError({ 'fleetnet.attach': 'br1 10.1.1.5/24 -i' }), /-i has no value/);
    assert.match(oneError({ 'fleetnet.attach': 'br1 10.1.1.5/24 --dhcp-dns=yes' }), /--dhcp-dns takes no value/);
    const e = oneError({ 'fleetnet.attach': '-i eth2 br1 web1 10.1.1.5/24' });
    assert.match(
      e,
      /^label fleetnet\.attach='-i eth2 br1 web1 10\.1\.1\.5\/24': too many words before the address: br1 web1$/,
    );
  });

  it('each container interface comes from one label: -i against the label name or another label is refused', () => {
    assert.match(
      oneError({ 'fleetnet.eth3.attach': 'br1 10.1.1.5/24 -i eth2' }),
      /-i eth2 names another interface than the label's eth3/,
    );
    const r = readLabels({ 'fleetnet.attach': 'br1 10.1.1.5/24 -i eth2', 'fleetnet.eth2.net': 'blue' }, ID);
    assert.deepEqual(r.specs, []);
    assert.deepEqual(r.errors, [
      'labels fleetnet.attach and fleetnet.eth2.net all ask for eth2: give each interface one label',
    ]);
    const twice = readLabels({ 'fleetnet.attach': 'br1 10.1.1.5/24', 'fleetnet.eth1.attach': 'br2 10.2.0.5/24' }, ID);
    assert.deepEqual([twice.specs, twice.errors.length], [[], 1]);
  });

  it("the label's options are fleetnet attach's: every option of the CLI's table is taken or refused", () => {
    const cli = ATTACH_OPTIONS.map(([flags]) => flags);
    const label = [...LABEL_ATTACH_OPTIONS, ...LABEL_REFUSED_OPTIONS.map(([flags]) => flags)];
    assert.deepEqual([...label].sort(), [...cli].sort());
  });
});

/** The README's Labels subsection (from its heading to the next). */
function readmeLabels(): string {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const from = readme.indexOf('### Labels: attach on start');
  return readme.slice(from, readme.indexOf('\n### ', from + 1));
}

describe("the README's Labels subsection", () => {
  it('its examples are labels the agent acts on, and its refusal is the message the agent gives', () => {
    const text = readmeLabels();
    const block = text.slice(text.indexOf('```\n') + 4, text.indexOf('\n```', text.indexOf('```\n') + 4));
    const lines = block.split('\n').filter((l) => l.startsWith('docker run'));
    assert.ok(lines.length >= 5, block);
    for (const line of lines) {
      const labels: Record<string, string> = {};
      for (const m of line.matchAll(/--label (?:'([^']*)'|(\S+))/g)) {
        const kv = m[1] ?? m[2]!;
        labels[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
      }
      const r = readLabels(labels, ID);
      assert.deepEqual(r.errors, [], line);
      assert.equal(r.specs.length, labels['fleetnet.host'] ? 0 : 1, line);
    }
    const refused = readLabels({ 'fleetnet.attach': 'br1 10.1.1.5/24 --dry-run' }, ID).errors[0]!;
    assert.ok(text.replace(/\s+/g, ' ').includes(refused), refused);
  });
});

/** A log that keeps its warnings. */
function warnings(): { log: Logger; warned: string[] } {
  const warned: string[] = [];
  const log = { warn: (o: { err?: string }, msg: string) => warned.push(`${msg}: ${o.err ?? ''}`) };
  return { log: log as unknown as Logger, warned };
}

function agentWith(attach: (o: AttachOrder) => Promise<void>) {
  const { log, warned } = warnings();
  const c: ContainerInfo = {
    runtime: 'docker',
    id: ID,
    name: 'web1',
    pid: 100,
    netns: '/proc/100/ns/net',
    nsKey: '4:1',
  };
  const orders: AttachOrder[] = [];
  const labels = new LabelAttachments({
    attacher: { attach: async (o: AttachOrder) => (orders.push(o), attach(o)) } as unknown as Attacher,
    records: { get: () => undefined } as unknown as RecordStore,
    resolver: { resolve: async () => ({ ...c }) },
    log,
  });
  const restart = () => {
    c.pid += 1;
    c.nsKey = `4:${c.pid}`;
  };
  return { labels, warned, orders, restart };
}

describe('label errors in the agent log', () => {
  it("the label's options reach the attach", async () => {
    const a = agentWith(async () => {});
    await a.labels.apply(ID, {
      'fleetnet.attach': 'br1 192.168.1.10/24@192.168.1.254 U:web1 -i eth2 --mtu 1400 -l fnweb1',
    });
    assert.equal(a.orders.length, 1);
    const o = a.orders[0]!;
    assert.deepEqual(
      [o.hostIf, o.ifname, o.mtu, o.hostIfname, o.target, o.dryRun],
      ['br1', 'eth2', 1400, 'fnweb1', { kind: 'docker', value: ID }, false],
    );
    assert.deepEqual(a.labels.states()[0]!.errors, []);
  });

  it('a failing label is logged once per run of the container and error, and stays shown on every pass', async () => {
    let why = 'bridge br9 not found';
    let fails = true;
    const a = agentWith(async () => {
      if (fails) throw failed(why);
    });
    const labels = { 'fleetnet.attach': 'br9 10.1.1.5/24' };
    const pass = async (n: number) => {
      for (let i = 0; i < n; i++) await a.labels.apply(ID, labels);
    };
    await pass(20);
    assert.equal(a.orders.length, 20, 'tried again on every pass');
    assert.deepEqual(a.warned, ['label attach failed: bridge br9 not found']);
    assert.deepEqual(a.labels.states()[0]!.errors, ['web1 eth1 from label fleetnet.attach: bridge br9 not found']);
    why = 'bridge br9 is down';
    await pass(5);
    assert.equal(a.warned.length, 2, 'a new error is logged');
    a.restart();
    await pass(5);
    assert.equal(a.warned.length, 3, 'the container started again: logged again');
    fails = false;
    await pass(1);
    assert.deepEqual(a.labels.states()[0]!.errors, []);
    fails = true;
    await pass(5);
    assert.deepEqual(a.warned.slice(3), ['label attach failed: bridge br9 is down'], 'made, then failing again');
  });

  it('a label not understood is logged once per run too, and shown on every pass', async () => {
    const a = agentWith(async () => {});
    for (let i = 0; i < 10; i++) await a.labels.apply(ID, { 'fleetnet.attach': 'br1 10.1.1.5/24 --dry-run' });
    assert.equal(a.warned.length, 1, a.warned.join('\n'));
    assert.match(
      a.labels.states()[0]!.errors[0]!,
      /^label fleetnet\.attach='br1 10\.1\.1\.5\/24 --dry-run': --dry-run/,
    );
    a.restart();
    await a.labels.apply(ID, { 'fleetnet.attach': 'br1 10.1.1.5/24 --dry-run' });
    assert.equal(a.warned.length, 2);
  });
});
