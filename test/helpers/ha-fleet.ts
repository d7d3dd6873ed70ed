// Several controller processes on one test etcd (test/helpers/ha-controller-main.ts), and a
// FleetAttach client that fails over between them, for the HA tests and the benchmark.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { Etcd3 } from 'etcd3';
import { controllerConfig, type ControllerConfig } from '../../controller/config.js';
import { ExecRunner } from '../../common/runner.js';
import { type FleetAttachReply } from '../../proto/gen/fleetnet/v1/controller.js';
import { ControllerClient } from '../../common/rpc/services.js';
import { fleetAttachRequest } from './attach-request.js';

const sh = new ExecRunner();

export interface HaController {
  listen: string;
  id: string;
  proc: ChildProcess;
  client: ControllerClient;
}

/** `nodeArgs`: node's own flags for the controller process (e.g. --cpu-prof for a benchmark's profile). */
export async function startHaController(
  urls: string[],
  prefix: string,
  nodeArgs: string[] = [],
): Promise<HaController> {
  const proc = sh.start(
    'node',
    [...nodeArgs, '--import', 'tsx', join('test', 'helpers', 'ha-controller-main.ts'), urls.join(','), prefix],
    { stdio: 'pipe' },
  );
  proc.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    proc.once('exit', (code) => reject(new Error(`controller exited (${code}) before serving`)));
  });
  const { listen, controller } = JSON.parse(line) as { listen: string; controller: string };
  const client = new ControllerClient(listen, credentials.createInsecure(), { 'grpc.max_reconnect_backoff_ms': 200 });
  return { listen, id: controller, proc, client };
}

export async function killHa(c: HaController, sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  c.client.close();
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  const gone = new Promise<void>((r) => c.proc.once('exit', () => r()));
  c.proc.kill(sig);
  await gone;
}

/** One FleetAttach (5 s deadline), no retry. */
export function attachOnce(c: ControllerClient, host: string, net: string, value: string): Promise<FleetAttachReply> {
  return new Promise((resolve, reject) => {
    c.fleetAttach(
      fleetAttachRequest(host, net, value),
      new Metadata(),
      { deadline: Date.now() + 5000 },
      (err: ServiceError | null, res: FleetAttachReply) => (err ? reject(err) : resolve(res)),
    );
  });
}

/**
 * FleetAttach on controller `first`, then the next live one on UNAVAILABLE/DEADLINE (the same target: applied once).
 */
export async function attachFailover(
  cs: HaController[],
  first: number,
  host: string,
  net: string,
  value: string,
  deadlineMs: number,
): Promise<FleetAttachReply> {
  for (let i = first; ; i++) {
    const c = cs[i % cs.length]!;
    if (c.proc.exitCode !== null || c.proc.signalCode !== null) continue;
    try {
      return await attachOnce(c.client, host, net, value);
    } catch (err) {
      const code = (err as ServiceError).code;
      if ((code !== status.UNAVAILABLE && code !== status.DEADLINE_EXCEEDED) || Date.now() > deadlineMs) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** An in-process controller's settings on a test etcd: loopback, no trust folder, short backoffs. */
export function etcdControllerConfig(urls: string[], prefix: string, resyncMs: number): ControllerConfig {
  return controllerConfig({
    listen: '127.0.0.1:0',
    etcd: { urls, prefix },
    trustDir: '/nonexistent/fleetnet-etcd-test',
    resyncMs,
    backoffMinMs: 50,
    backoffMaxMs: 500,
  });
}

/** Host → the id of the controller that owns it (its dispatch lease), as etcd holds it now. */
export async function hostOwners(urls: string[], prefix: string): Promise<Record<string, string>> {
  const c = new Etcd3({ hosts: urls });
  try {
    const all = await c.getAll().prefix(`${prefix}o/hosts/`).strings();
    const host = (k: string) => decodeURIComponent(k.slice(`${prefix}o/hosts/`.length));
    return Object.fromEntries(Object.entries(all).map(([k, v]) => [host(k), v]));
  } finally {
    c.close();
  }
}

/** Polls `ok` every 50 ms until it holds; throws naming `what` after timeoutMs. */
export async function waitUntil(what: string, ok: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
