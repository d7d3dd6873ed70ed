// After an agent restart, adopt() restarts a client whose process died while the agent was down. The
// supervision pass runs meanwhile (every millisecond here): it must not start a second client beside that one,
// which nothing would stop when the container goes.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { processStartTime } from '../../agent/dhcp/process.js';
import { DhcpSupervisor } from '../../agent/dhcp/supervisor.js';
import type { ClientRecord } from '../../agent/dhcp/types.js';
import { silentLogger } from '../../common/logger.js';
import type { Runner } from '../../common/runner.js';

test('adopt() restarts a dead client once, while the supervision pass runs', async (t) => {
  const state = mkdtempSync(join(tmpdir(), 'fleetnet-dhcp-adopt-'));
  const starts: string[][] = [];
  // The "client" stands for itself with this test's own process: alive, so the pass has nothing to restart.
  const runner: Runner = {
    run: async () => ({ code: 0, stdout: '', stderr: '' }),
    start: (cmd, args) => {
      starts.push([cmd, ...args]);
      return Object.assign(new EventEmitter(), { pid: process.pid, unref: () => {} }) as unknown as ChildProcess;
    },
  };
  // The owner is alive (this process); the client's process is not: pid_max is a pid the kernel never hands out
  // (and no session has it, so the restart's clean-up of the dead client's session kills nothing).
  const deadPid = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  const owner = { pid: process.pid, pidStart: (await processStartTime(process.pid))!, nsKey: '' };
  const spec = { key: 'k1', netns: '/proc/self/ns/net', ifname: 'eth1', client: 'udhcpc' as const, options: '' };
  const rec: ClientRecord = { spec: { ...spec, dns: false, oneshot: false, owner }, pid: deadPid, pidStart: '1' };
  mkdirSync(join(state, 'dhcp', 'k1'), { recursive: true });
  writeFileSync(join(state, 'dhcp', 'k1', 'client.json'), JSON.stringify(rec));
  const sup = new DhcpSupervisor({
    runner,
    log: silentLogger(),
    stateDir: state,
    scripts: { hook: '/bin/true', privateNs: '/bin/true' },
    pollMs: 1,
    backoffFirstMs: 1,
  });
  t.after(() => {
    sup.close();
    rmSync(state, { recursive: true, force: true });
  });
  const out = await sup.adopt();
  assert.deepEqual(out, { adopted: [], restarted: ['k1'], reaped: [] });
  await new Promise((r) => setTimeout(r, 200)); // passes enough to start a second client if one would
  assert.equal(starts.length, 1, `one client started: ${starts.map((s) => s.join(' ')).join('; ')}`);
});
