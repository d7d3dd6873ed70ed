// One load-generator process of the controller allocation bench (bench/lib/alloc-load.ts starts
// several, as a fleet of callers would be): `conc` unary calls in flight over `conns` HTTP/2
// connections. It connects and warms up (ControllerHealth, no allocation), prints `ready`, waits
// for a line on stdin, runs, and prints one JSON line: {startMs, endMs, cpuSeconds, lat, got}
// (epoch milliseconds with sub-ms precision, latencies in ms, got: "address mac" per allocation,
// for the duplicate check). Then, untimed, it asks again for its first 200 and checks that each
// comes back with the address and MAC it was given. Each connection is the CLI's own gRPC client
// (cli/client/grpc-h2.ts, on node:http2's public API).
//   node --import tsx bench/lib/alloc-client.ts ADDR PREFIX FROM COUNT CONC CONNS BATCH
import { performance } from 'node:perf_hooks';
import { CONTROLLER_METHODS } from '../../cli/client/controller.js';
import { GrpcH2Client } from '../../cli/client/grpc-h2.js';
import type { FleetAttachReply } from '../../proto/gen/fleetnet/v1/controller.js';
import { fleetAttachRequest } from '../../test/helpers/attach-request.js';

const [addr, prefix, fromText, countText, concText, connsText, batchText] = process.argv.slice(2);
const from = Number(fromText);
const n = Number(countText);
const conc = Number(concText);
const conns = Number(connsText);
const batch = Math.max(1, Number(batchText));
/** Allocations asked for again after the run (untimed), each expected to come back unchanged. */
const RETRIES = 200;
const CALL_TIMEOUT_MS = 60_000;

const clients = Array.from({ length: conns }, () => new GrpcH2Client([addr!], 'the bench controller'));
const req = (i: number) => fleetAttachRequest('hx', 'big', `${prefix}${i}`);
const epochMs = () => performance.timeOrigin + performance.now();
const got: string[] = [];
/** What each of the first RETRIES targets was given: "address mac". */
const firstGiven = new Map<number, string>();

function check(i: number, r: FleetAttachReply | undefined): void {
  const a = r?.attachment;
  if (!r?.created || a?.addresses.length !== 1 || !a.mac) throw new Error(`${prefix}${i}: not a new allocation`);
  const given = `${a.addresses[0]} ${a.mac}`;
  got.push(given);
  if (i < from + RETRIES) firstGiven.set(i, given);
}

async function one(c: (typeof clients)[number], i: number, lat: number[]): Promise<void> {
  const t0 = performance.now();
  if (batch <= 1) check(i, await c.unary(CONTROLLER_METHODS.fleetAttach, req(i), CALL_TIMEOUT_MS));
  else {
    const count = Math.min(batch, from + n - i);
    const r = await c.unary(
      CONTROLLER_METHODS.fleetAttachBatch,
      { requests: Array.from({ length: count }, (_, k) => req(i + k)) },
      CALL_TIMEOUT_MS,
    );
    const refused = r.items.find((x) => x.errorKind);
    if (refused || r.items.length !== count)
      throw new Error(`batch at ${i}: ${refused?.error ?? `${r.items.length} replies for ${count}`}`);
    r.items.forEach((x, k) => check(i + k, x.reply));
  }
  lat.push(performance.now() - t0);
}

await Promise.all(clients.map((c) => c.unary(CONTROLLER_METHODS.controllerHealth, {}, CALL_TIMEOUT_MS)));
process.stdout.write('ready\n');
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
const lat: number[] = [];
let next = from;
const startMs = epochMs();
const cpu0 = process.cpuUsage();
await Promise.all(
  Array.from({ length: conc }, async (_, k) => {
    while (next < from + n) {
      const i = next;
      next += batch;
      await one(clients[k % conns]!, i, lat);
    }
  }),
);
const endMs = epochMs();
const cpu = process.cpuUsage(cpu0);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
// Untimed: a retry of the same attachment (same host, container, ifname) gets the same address and MAC.
for (const [i, given] of firstGiven) {
  const r = await clients[0]!.unary(CONTROLLER_METHODS.fleetAttach, req(i), CALL_TIMEOUT_MS);
  const again = `${r.attachment?.addresses.join(' ')} ${r.attachment?.mac}`;
  if (r.created || again !== given)
    throw new Error(`retry of ${prefix}${i}: got ${again} (created ${r.created}), first given ${given}`);
}
for (const c of clients) c.close();
process.stdout.write(`${JSON.stringify({ startMs, endMs, cpuSeconds, lat, got })}\n`);
process.stdin.destroy();
