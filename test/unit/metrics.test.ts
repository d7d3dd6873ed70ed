// The controller's Prometheus endpoint (--metrics): a scrape after attaches shows the attach
// latency histogram, the IPAM pool gauges with the right counts, hosts, passes and RPC errors by
// code; a metrics address that is taken is refused with exit 2 before anything starts.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ExecRunner } from '../../common/runner.js';
import { controllerWithCli } from '../helpers/controller-cli.js';
import { sample } from '../helpers/metrics-text.js';

test('controller /metrics after attaches: latency histogram, pool gauges, hosts, passes, RPC errors', async (t) => {
  const { cli, ctl } = await controllerWithCli(t, undefined, { metrics: '127.0.0.1:0' });
  assert.ok(ctl.metricsListen, 'the endpoint is up');
  assert.equal((await cli('host', 'add', 'h1', '--addr', '10.99.0.11')).code, 0);
  assert.equal((await cli('net', 'create', 'blue', '--subnet', '10.1.1.0/24', '--gateway', '10.1.1.1')).code, 0);
  const red = await cli('net', 'create', 'red', '--subnet', '10.2.0.0/28', '--ipam-range', '10.2.0.4-10.2.0.9');
  assert.equal(red.code, 0, red.err);
  const a = await cli('attach', '--host', 'h1', 'web1', '10.1.1.5/24');
  assert.equal(a.code, 0, a.err);
  assert.equal((await cli('attach', '--host', 'h1', '--net', 'blue', 'web2')).code, 0);
  assert.equal((await cli('attach', '--host', 'h1', '--net', 'red', 'web3')).code, 0);
  const taken = await cli('attach', '--host', 'h1', 'web9', '10.1.1.5/24');
  assert.notEqual(taken.code, 0, 'a taken address is refused');

  const res = await fetch(`http://${ctl.metricsListen}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await res.text();
  const ok = { result: 'ok' };
  assert.equal(sample(text, 'fleetnet_attach_duration_seconds_count', ok), 3, text);
  assert.ok(sample(text, 'fleetnet_attach_duration_seconds_bucket', { ...ok, le: '+Inf' }) === 3);
  assert.ok((sample(text, 'fleetnet_attach_duration_seconds_sum', ok) ?? 0) > 0);
  // blue: .1-.254 less the gateway = 253, two held; red: its range .4-.9 = 6, one held
  assert.equal(sample(text, 'fleetnet_ipam_pool_size', { network: 'blue', family: 'ipv4' }), 253);
  assert.equal(sample(text, 'fleetnet_ipam_pool_used', { network: 'blue', family: 'ipv4' }), 2);
  assert.equal(sample(text, 'fleetnet_ipam_pool_free', { network: 'blue', family: 'ipv4' }), 251);
  assert.equal(sample(text, 'fleetnet_ipam_pool_size', { network: 'red' }), 6);
  assert.equal(sample(text, 'fleetnet_ipam_pool_used', { network: 'red' }), 1);
  assert.equal(sample(text, 'fleetnet_ipam_pool_free', { network: 'red' }), 5);
  assert.equal(sample(text, 'fleetnet_host_up', { host: 'h1', state: 'up' }), 1);
  assert.ok((sample(text, 'fleetnet_reconcile_passes_total') ?? 0) >= 1);
  assert.equal(sample(text, 'fleetnet_rpc_errors_total', { method: 'FleetAttach', code: 'ALREADY_EXISTS' }), 1, text);
  assert.equal((await fetch(`http://${ctl.metricsListen}/other`)).status, 404);
});

test('controller run --metrics on a taken port: exit 2, the error names the address, nothing started', async (t) => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  t.after(() => busy.close());
  const port = (busy.address() as { port: number }).port;
  const { dir } = await controllerWithCli(t);
  const db = join(dir, 'never.db');
  const run = (...args: string[]) =>
    new ExecRunner().run(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'controller', 'run', ...args], {
      allowFail: true,
      timeoutMs: 60_000,
      env: { ...process.env, HOME: dir },
    });
  const r = await run(
    '--listen',
    '127.0.0.1:0',
    '--db',
    db,
    '--trust-dir',
    join(dir, 'no-trust'),
    '--metrics',
    `127.0.0.1:${port}`,
  );
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`metrics address 127\\.0\\.0\\.1:${port} is taken`));
  assert.match(r.stderr, /--metrics/);
  assert.equal(existsSync(db), false, 'no state file was opened');
  const bad = await run('--db', db, '--metrics', 'nowhere');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /metrics address 'nowhere' is not ADDR:PORT/);
});
