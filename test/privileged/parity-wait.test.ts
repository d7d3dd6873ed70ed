// deploy/fleetnet-wait under busybox in a container: before the interface appears, after, and timeout.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { container, inContainer, testHost } from './parity-env.js';

const SCRIPT = new URL('../../deploy/fleetnet-wait', import.meta.url).pathname;

test(
  'fleetnet-wait: waits for an interface attached later, returns at once when it is up, ' + 'times out otherwise',
  async (tc) => {
    const { t, p, agent } = await testHost(tc);
    const c = await container(t, `${p}-w`, p, ['-v', `${SCRIPT}:/fleetnet-wait:ro`]);

    // Before: started while eth1 does not exist; it must still be waiting when the attach comes.
    const waiter = spawn('docker', ['exec', c.name, 'sh', '/fleetnet-wait', '-i', 'eth1', '-t', '60'], {
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((r) => waiter.once('exit', (code) => r(code)));
    t.after(() => waiter.kill());
    const early = await Promise.race([exited, new Promise((r) => setTimeout(() => r('waiting'), 1500))]);
    assert.equal(early, 'waiting', 'fleetnet-wait must not return before eth1 exists');
    const r = await agent.cli(['attach', 'br0', c.name, '10.2.0.5/24']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await exited, 0, 'returns 0 once eth1 is up with carrier');

    // After: up already.
    assert.equal((await inContainer(c.name, ['sh', '/fleetnet-wait', '-i', 'eth1', '-t', '5'])).code, 0);
    // Timeout: an interface that never comes.
    const to = await inContainer(c.name, ['sh', '/fleetnet-wait', '-i', 'eth9', '-t', '1']);
    assert.equal(to.code, 1);
    assert.match(to.stderr, /eth9 is not up with carrier after 1s/);
    // Bad usage.
    assert.equal((await inContainer(c.name, ['sh', '/fleetnet-wait', '-t', 'soon'])).code, 2);
  },
);
