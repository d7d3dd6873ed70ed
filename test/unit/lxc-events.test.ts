// LXC's event source (agent/lifecycle/lxc-events.ts) with a stand-in for lxc-monitor (a real child
// process printing the lines lxc-monitor 5.0 printed on this machine), and the lifecycle's handling
// of those events over a real RecordStore: RUNNING re-applies, STOPPED marks stopped, a destroyed
// container is released, and the watch runs only while an LXC record exists.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { ExecRunner, type RecordedCall, type Runner } from '../../common/runner.js';
import { Attacher } from '../../agent/attach/attacher.js';
import { RecordStore } from '../../agent/attach/records.js';
import type { ContainerInfo } from '../../agent/containers/types.js';
import { Lifecycle } from '../../agent/lifecycle/lifecycle.js';
import {
  parseLxcMonitorLine,
  watchLxcEvents,
  type LxcEvent,
  type LxcHandlers,
} from '../../agent/lifecycle/lxc-events.js';
import { eventually } from '../helpers/poll.js';
import { attachmentRecord } from '../helpers/records.js';

const log = silentLogger();
const exec = new ExecRunner();

/**
 * A runner whose `lxc-monitor` is a Node child running one of `scripts` (the last one again once
 * they run out): starts and runs are recorded.
 */
function monitorRunner(scripts: string[]): Runner & { calls: RecordedCall[] } {
  const calls: RecordedCall[] = [];
  let n = 0;
  return {
    calls,
    async run(cmd, args) {
      calls.push({ cmd, args: [...args] });
      return { code: 0, stdout: '', stderr: '' };
    },
    start(cmd, args, opts) {
      calls.push({ cmd, args: [...args] });
      const script = scripts[Math.min(n++, scripts.length - 1)]!;
      return exec.start(process.execPath, ['-e', script], opts);
    },
  };
}

const LINES = [
  "'web-1' changed state to [STARTING]",
  "'web-1' changed state to [RUNNING]",
  "'web-1' exited with status [0]",
  "'web-1' changed state to [STOPPING]",
  "'web-1' changed state to [STOPPED]",
];
const printAndStay = (lines: string[]) =>
  `for (const l of ${JSON.stringify(lines)}) console.log(l); setInterval(() => {}, 1000);`;

describe('LXC events', () => {
  it("lxc-monitor's lines: RUNNING and STOPPED are events, the states between and exit lines are not", () => {
    assert.deepEqual(LINES.map(parseLxcMonitorLine), [
      undefined,
      { name: 'web-1', state: 'running' },
      undefined,
      undefined,
      { name: 'web-1', state: 'stopped' },
    ]);
    assert.deepEqual(parseLxcMonitorLine("'a b' changed state to [RUNNING]\n"), { name: 'a b', state: 'running' });
    assert.equal(parseLxcMonitorLine('garbage'), undefined);
  });

  it('a monitor that dies at once is started again with backoff; once it stays, onConnect and its events', async () => {
    const runner = monitorRunner(['process.exit(1)', 'process.exit(1)', printAndStay(LINES)]);
    const events: LxcEvent[] = [];
    let connects = 0;
    const dir = mkdtempSync(join(tmpdir(), 'fleetnet-lxc-unit-'));
    const w = watchLxcEvents(
      { runner, log, lxcPath: dir, retryFirstMs: 20, listeningAfterMs: 2000 },
      { onEvent: (ev) => events.push(ev), onConnect: () => connects++ },
    );
    try {
      await eventually('both events', () => events.length === 2);
      assert.deepEqual(events, [
        { name: 'web-1', state: 'running' },
        { name: 'web-1', state: 'stopped' },
      ]);
      const starts = runner.calls.filter((c) => c.cmd === 'lxc-monitor' && c.args[0] === '-n');
      assert.equal(starts.length, 3, 'two quick deaths, then the one that stays');
      assert.deepEqual(starts[0]!.args, ['-n', '.*']);
      await eventually('onConnect after it stayed', () => connects === 1);
    } finally {
      await w.close();
      rmSync(dir, { recursive: true, force: true });
    }
    // Closed: the child is gone and lxc-monitord is asked to quit once it has no clients.
    assert.deepEqual(runner.calls.at(-1), { cmd: 'lxc-monitor', args: ['-Q'] });
    const starts = runner.calls.filter((c) => c.args[0] === '-n').length;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(runner.calls.filter((c) => c.args[0] === '-n').length, starts, 'not started again after close');
  });

  it("a container's directory leaving the LXC path is a destroy; one appearing is nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetnet-lxc-unit-'));
    mkdirSync(join(dir, 'old'));
    const events: LxcEvent[] = [];
    const w = watchLxcEvents(
      { runner: monitorRunner([printAndStay([])]), log, lxcPath: dir },
      { onEvent: (ev) => events.push(ev) },
    );
    try {
      mkdirSync(join(dir, 'new'));
      rmSync(join(dir, 'old'), { recursive: true });
      await eventually('destroy seen', () => events.length > 0);
      assert.deepEqual(events, [{ name: 'old', state: 'destroyed' }]);
    } finally {
      await w.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without lxc-monitor installed: no error, no retry (the full pass alone)', async () => {
    const calls: string[] = [];
    const runner: Runner = {
      run: async () => ({ code: 0, stdout: '', stderr: '' }),
      start: (cmd, args, opts) => {
        calls.push(cmd);
        return exec.start('/nonexistent/lxc-monitor', args, opts);
      },
    };
    const w = watchLxcEvents({ runner, log, lxcPath: '/nonexistent', retryFirstMs: 10 }, { onEvent: () => undefined });
    await new Promise((r) => setTimeout(r, 200));
    await w.close();
    assert.deepEqual(calls, ['lxc-monitor']);
  });
});

const C: ContainerInfo = { runtime: 'lxc', id: 'web-1', name: 'web-1', pid: 1, netns: '/proc/1/ns/net', nsKey: '1:1' };

const lxcRecord = (ifname: string) => attachmentRecord(C, ifname);

const noOvs = { ownedPorts: async () => [], datapathProblem: async () => undefined } as never;

describe('the lifecycle follows LXC events', () => {
  it('starts the watch with the first LXC record; RUNNING re-applies, STOPPED marks, destroyed releases', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetnet-lxc-unit-'));
    const calls: string[] = [];
    const runner = { run: async () => ({ code: 0, stdout: '', stderr: '' }), start: () => assert.fail('no') };
    try {
      const records = new RecordStore(dir);
      const attacher = new Attacher({
        runner: runner as never,
        ip: {} as never,
        records,
        resolver: { resolve: async () => C },
        log,
      });
      attacher.attach = async (o) => {
        calls.push(`attach ${o.target.kind}:${o.target.value} ${o.ifname}`);
        return { record: records.get(`lxc:web-1/${o.ifname}`)!, changed: true } as never;
      };
      attacher.release = async (key) => {
        calls.push(`release ${key}`);
        records.delete(key);
        return true;
      };
      let handlers: LxcHandlers | undefined;
      let closed = 0;
      const lc = new Lifecycle({
        attacher,
        records,
        resolver: { resolve: async () => C },
        docker: () => undefined,
        log,
        fullPassMs: 3_600_000,
        orphans: { runner: runner as never, ovs: noOvs, ownerMark: 'x', privateOvs: true },
        lxcEvents: (h) => {
          handlers = h;
          return { close: async () => void closed++ };
        },
      });
      lc.start();
      await lc.fullPass();
      assert.equal(handlers, undefined, 'no LXC record: no watch');
      records.put(lxcRecord('eth1'));
      assert.ok(handlers, 'the first LXC record starts it');
      records.put(lxcRecord('eth2'));

      await lc.onLxcEvent({ name: 'web-1', state: 'stopped' });
      assert.deepEqual(
        records.all().map((r) => r.state),
        ['stopped', 'stopped'],
      );
      await lc.onLxcEvent({ name: 'other', state: 'running' });
      assert.deepEqual(calls, [], "another container's event changes nothing");
      await lc.onLxcEvent({ name: 'web-1', state: 'running' });
      assert.deepEqual(calls.sort(), ['attach lxc:web-1 eth1', 'attach lxc:web-1 eth2']);
      calls.length = 0;
      await lc.onLxcEvent({ name: 'web-1', state: 'destroyed' });
      assert.deepEqual(calls.sort(), ['release lxc:web-1/eth1', 'release lxc:web-1/eth2']);
      assert.equal(closed, 0);
      await lc.fullPass();
      assert.equal(closed, 1, 'the pass after the last LXC record went closes the watch');
      await lc.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
