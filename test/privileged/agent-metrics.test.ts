// The agent's Prometheus endpoint (agent run --metrics): after a real attach and detach in test
// namespaces, a scrape shows both latency histograms, a refused attach counted by status code, and
// the lifecycle's passes; a taken metrics address stops the agent before it serves (exit 2).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli, FLEETNET, startAgentIn, type AgentProc } from '../helpers/agent-process.js';
import { addNs, delNs, sh, uniquePrefix } from '../helpers/netns.js';
import { sample } from '../helpers/metrics-text.js';

const P = uniquePrefix('mt');
const HOST = `${P}-h`;
const BOX = `${P}-c`;
const METRICS = '127.0.0.1:9464';
let agent: AgentProc;
let dir: string;

/** Scraped from inside the host's namespace, where the endpoint listens. */
async function scrape(): Promise<string> {
  const js = `fetch('http://${METRICS}/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))`;
  return (await sh.run('ip', ['netns', 'exec', HOST, process.execPath, '-e', js])).stdout;
}

before(async () => {
  await addNs(HOST);
  await addNs(BOX);
  dir = mkdtempSync(join(tmpdir(), 'fleetnet-metrics-'));
  agent = await startAgentIn(HOST, dir, ['--metrics', METRICS]);
});

after(async () => {
  await agent?.stop();
  await delNs(BOX);
  await delNs(HOST);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('agent --metrics', () => {
  it('a scrape after attach and detach shows both histograms, errors by code and lifecycle passes', async () => {
    const a = await cli(agent.socket, 'attach', `br-${P}`, `netns:${BOX}`, '10.53.0.1/24');
    assert.equal(a.code, 0, a.stderr);
    const d = await cli(agent.socket, 'detach', `netns:${BOX}`);
    assert.equal(d.code, 0, d.stderr);
    const refused = await cli(agent.socket, 'attach', `br-${P}`, `netns:${P}-nobody`, '10.53.0.2/24');
    assert.notEqual(refused.code, 0);
    const text = await scrape();
    assert.equal(sample(text, 'fleetnet_attach_duration_seconds_count', { result: 'ok', component: 'agent' }), 1, text);
    assert.equal(sample(text, 'fleetnet_detach_duration_seconds_count', { result: 'ok' }), 1);
    assert.equal(sample(text, 'fleetnet_attach_duration_seconds_count', { result: 'error' }), 1);
    assert.equal(sample(text, 'fleetnet_rpc_errors_total', { method: 'Attach', code: 'NOT_FOUND' }), 1, text);
    assert.ok((sample(text, 'fleetnet_reconcile_passes_total') ?? 0) >= 1);
    assert.notEqual(sample(text, 'fleetnet_leaks_found_total'), undefined);
    assert.notEqual(sample(text, 'fleetnet_dhcp_client_restarts_total'), undefined);
  });

  it('a second agent on the taken metrics address exits 2 and makes no socket', async () => {
    const other = join(dir, 'other.sock');
    const r = await sh.run(
      'ip',
      [
        'netns',
        'exec',
        HOST,
        process.execPath,
        FLEETNET,
        'agent',
        'run',
        '--socket',
        other,
        '--state-dir',
        join(dir, 'other-state'),
        '--metrics',
        METRICS,
      ],
      { allowFail: true, timeoutMs: 60_000 },
    );
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /metrics address 127\.0\.0\.1:9464 is taken/);
    assert.equal(existsSync(other), false);
  });
});
