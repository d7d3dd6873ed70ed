// Races of a container's life that a CI run caught: a restart seen half-way must never release the
// attachment, a stale pass must not write "stopped" over a re-apply, and a DHCP stop under way is
// joined (the host side goes only after the DHCPRELEASE).
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type Docker from 'dockerode';
import { FleetnetError, notFound } from '../../common/errors.js';
import { silentLogger } from '../../common/logger.js';
import { Attacher } from '../../agent/attach/attacher.js';
import { RecordStore, type AttachmentRecord } from '../../agent/attach/records.js';
import { ContainerResolver } from '../../agent/containers/resolve.js';
import type { ContainerInfo } from '../../agent/containers/types.js';
import { HELPER_LABEL } from '../../agent/dhcp/helper-container.js';
import { processStartTime } from '../../agent/dhcp/process.js';
import { DhcpSupervisor } from '../../agent/dhcp/supervisor.js';
import { Lifecycle } from '../../agent/lifecycle/lifecycle.js';
import { attachmentRecord } from '../helpers/records.js';

const log = silentLogger();
const noRunner = {
  run: async () => ({ code: 0, stdout: '', stderr: '' }),
  start: () => {
    throw new Error('no');
  },
};

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'fleetnet-lc-unit-'));
}

const C: ContainerInfo = {
  runtime: 'docker',
  id: 'c'.repeat(64),
  name: 'web',
  pid: 1,
  netns: '/proc/1/ns/net',
  nsKey: '1:1',
};

function record(): AttachmentRecord {
  return { ...attachmentRecord(C), attempts: 0 };
}

/** The real Attacher (its note()) over a real RecordStore; release and attach only recorded. */
function fakeAttacher(records: RecordStore, calls: string[]): Attacher {
  const resolver = { resolve: async () => C };
  const a = new Attacher({ runner: noRunner as never, ip: {} as never, records, resolver, log });
  a.release = async (key: string) => {
    calls.push(`release ${key}`);
    records.delete(key);
    return true;
  };
  a.attach = async () => {
    calls.push('attach');
    throw new Error('not reached');
  };
  return a;
}

describe('container lifecycle races', () => {
  it('Docker says running but the process just exited: "not running", never "gone"', async () => {
    const running = { Id: C.id, Name: '/web', State: { Running: true, Pid: 2 ** 22 + 7 } };
    const docker = {
      // A PID past the kernel's pid_max: no such process, whatever runs on this machine.
      getContainer: () => ({ inspect: async () => running }),
    } as unknown as Docker;
    const r = new ContainerResolver({ runner: noRunner as never, docker: () => docker, netnsDir: '/run/netns' });
    await assert.rejects(
      r.resolve({ kind: 'docker', value: 'web' }),
      (err: unknown) => err instanceof FleetnetError && err.kind === 'failed' && /is not running/.test(err.message),
    );
  });

  it('a re-apply that finds the container restarting marks it stopped and keeps the record', async () => {
    const dir = tmp();
    try {
      const records = new RecordStore(dir);
      records.put(record());
      const calls: string[] = [];
      const notRunning = new FleetnetError('failed', `Docker container '${C.id}' is not running`);
      const lc = new Lifecycle({
        attacher: fakeAttacher(records, calls),
        records,
        docker: () => undefined,
        log,
        resolver: {
          resolve: async () => {
            throw notRunning;
          },
        },
        fullPassMs: 60_000,
        orphans: { runner: noRunner as never, ovs: {} as never, ownerMark: 'x', privateOvs: true },
      });
      assert.equal(await lc.reapply(records.get(record().key)!), false);
      assert.deepEqual(calls, []);
      assert.equal(records.get(record().key)?.state, 'stopped');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('only a container that is gone releases; a not-found from the attach itself does not', async () => {
    const dir = tmp();
    try {
      const records = new RecordStore(dir);
      records.put(record());
      const calls: string[] = [];
      const deps = {
        records,
        docker: () => undefined,
        log,
        fullPassMs: 60_000,
        orphans: { runner: noRunner as never, ovs: {} as never, ownerMark: 'x', privateOvs: true },
      };
      const attacher = fakeAttacher(records, calls);
      attacher.attach = async () => {
        calls.push('attach');
        throw notFound("trunk interface 'eth9' does not exist");
      };
      const live = new Lifecycle({ ...deps, attacher, resolver: { resolve: async () => C } });
      assert.equal(await live.reapply(records.get(record().key)!), false);
      assert.deepEqual(calls, ['attach']);
      assert.ok(records.get(record().key), 'kept for the retry');
      const gone = new Lifecycle({
        ...deps,
        attacher,
        resolver: {
          resolve: async () => {
            throw notFound('no such container');
          },
        },
      });
      assert.equal(await gone.reapply(records.get(record().key)!), false);
      assert.deepEqual(calls, ['attach', `release ${record().key}`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a note over a record that a re-apply replaced is not written', () => {
    const dir = tmp();
    try {
      const records = new RecordStore(dir);
      const seen = record();
      records.put(seen);
      const a = fakeAttacher(records, []);
      records.put({ ...seen, createdAtMs: 1 }); // the start event's re-apply
      assert.equal(a.note(seen.key, { state: 'stopped' }, seen), false);
      assert.equal(records.get(seen.key)?.state, 'up');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a second DHCP stop waits for the one under way (the release leaves before the interface goes)', async () => {
    const dir = tmp();
    const order: string[] = [];
    const docker = {
      getContainer: () => ({
        inspect: async () => ({ Config: { Labels: { [HELPER_LABEL]: '1' } }, State: { Running: true } }),
        stop: async () => {
          await new Promise((r) => setTimeout(r, 100));
          order.push('helper stopped');
        },
        kill: async () => undefined,
        remove: async () => void order.push('helper removed'),
      }),
    } as unknown as Docker;
    const pidStart = (await processStartTime(process.pid))!;
    const key = 'docker:x/eth1';
    mkdirSync(join(dir, 'dhcp', 'k'), { recursive: true });
    writeFileSync(
      join(dir, 'dhcp', 'k', 'client.json'),
      JSON.stringify({
        spec: {
          key,
          netns: '/proc/self/ns/net',
          ifname: 'eth1',
          client: 'dhcp',
          options: '',
          dns: false,
          oneshot: false,
          owner: { pid: process.pid, pidStart, nsKey: '' },
        },
        pid: process.pid,
        pidStart,
        helperId: 'h1',
      }),
    );
    const sup = new DhcpSupervisor({
      runner: noRunner as never,
      log,
      stateDir: dir,
      docker: () => docker,
      pollMs: 60_000,
    });
    try {
      assert.deepEqual((await sup.adopt()).adopted, [key]);
      const first = sup.stop(key, { release: true, reason: 'container exited' });
      const second = sup
        .stop(key, { release: true, reason: 'container removed' })
        .then(() => order.push('second returned'));
      await Promise.all([first, second]);
      assert.deepEqual(order, ['helper stopped', 'helper removed', 'second returned']);
    } finally {
      sup.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a stopped container's label errors go with it (README: the row goes when it stops)", async () => {
    const dir = tmp();
    try {
      const records = new RecordStore(dir);
      const attacher = fakeAttacher(records, []);
      attacher.attach = async () => {
        throw notFound('bridge br9 not found');
      };
      const lc = new Lifecycle({
        attacher,
        records,
        docker: () => undefined,
        log,
        resolver: { resolve: async () => C },
        fullPassMs: 60_000,
        orphans: { runner: noRunner as never, ovs: {} as never, ownerMark: 'x', privateOvs: true },
      });
      const labels = { 'fleetnet.attach': 'br9 10.1.1.5/24' };
      await lc.onEvent({ action: 'start', id: C.id, labels });
      assert.match(lc.labels()[0]?.errors[0] ?? '', /bridge br9 not found/);
      await lc.onEvent({ action: 'die', id: C.id, labels });
      assert.deepEqual(lc.labels(), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
