// Prometheus metrics of the agent and the controller (prom-client), served on GET /metrics when
// --metrics ADDR:PORT (or `metrics:` in the settings file) asks; off otherwise, and then this
// module and prom-client are never loaded (the daemons import it dynamically). Counters and
// histograms are fed where things happen; gauges of state (IPAM pools, hosts, tunnels, leases)
// are read from their owners at each scrape by the refreshers the daemons register.
import { createServer, type Server as HttpServer } from 'node:http';
import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { status as grpcStatus } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { FleetnetError } from './errors.js';

/** Seconds, from a millisecond up to the longest wait a client may ask for. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120];

export type MetricsRole = 'agent' | 'controller';

export class FleetMetrics {
  readonly registry = new Registry();
  private readonly refreshers: (() => Promise<void> | void)[] = [];
  protected readonly c = <T extends string>(name: string, help: string, labelNames: readonly T[] = []) =>
    new Counter<T>({ name, help, labelNames, registers: [this.registry] });
  protected readonly g = <T extends string>(name: string, help: string, labelNames: readonly T[] = []) =>
    new Gauge<T>({ name, help, labelNames, registers: [this.registry] });
  private readonly h = <T extends string>(name: string, help: string, labelNames: readonly T[] = []) =>
    new Histogram<T>({ name, help, labelNames, buckets: LATENCY_BUCKETS, registers: [this.registry] });

  readonly attachSeconds = this.h(
    'fleetnet_attach_duration_seconds',
    'Time to answer an attach (agent: Attach; controller: FleetAttach)',
    ['result'],
  );
  readonly detachSeconds = this.h(
    'fleetnet_detach_duration_seconds',
    'Time to answer a detach (agent: Detach; controller: FleetDetach)',
    ['result'],
  );
  readonly rpcErrors = this.c(
    'fleetnet_rpc_errors_total',
    'gRPC calls answered with an error, by method and status code',
    ['method', 'code'],
  );
  readonly reconcilePasses = this.c(
    'fleetnet_reconcile_passes_total',
    'Full reconcile passes run (agent: container lifecycle; controller: per host)',
  );
  readonly reconcileDrift = this.c(
    'fleetnet_reconcile_drift_total',
    'Differences between desired and actual state found by reconcile passes',
  );

  constructor(readonly role: MetricsRole) {
    this.registry.setDefaultLabels({ component: role });
    collectDefaultMetrics({ register: this.registry });
  }

  /** Runs before each scrape: sets gauges from their owners' current state. */
  onScrape(fn: () => Promise<void> | void): void {
    this.refreshers.push(fn);
  }

  async text(): Promise<string> {
    await Promise.all(this.refreshers.map((f) => f()));
    return this.registry.metrics();
  }

  /**
   * The same service implementation with its unary handlers timed (attach/detach) and their
   * errors counted by status code. Streams are passed through as they are.
   */
  instrument(
    def: ServiceDefinition,
    impl: UntypedServiceImplementation,
    timed: Readonly<Record<string, Histogram<'result'>>>,
  ): UntypedServiceImplementation {
    const out: UntypedServiceImplementation = { ...impl };
    for (const [key, m] of Object.entries(def)) {
      const handler = impl[key];
      if (!handler || m.requestStream || m.responseStream) continue;
      const hist = timed[key];
      const method = m.originalName ?? key;
      const unary = handler as (call: unknown, cb: (err: { code?: number } | null, ...rest: unknown[]) => void) => void;
      out[key] = ((call: unknown, cb: Parameters<typeof unary>[1]) => {
        const end = hist?.startTimer();
        unary(call, (err, ...rest) => {
          end?.({ result: err ? 'error' : 'ok' });
          if (err) this.rpcErrors.inc({ method, code: grpcStatus[err.code ?? grpcStatus.UNKNOWN] ?? String(err.code) });
          cb(err, ...rest);
        });
      }) as UntypedServiceImplementation[string];
    }
    return out;
  }
}

export class AgentMetrics extends FleetMetrics {
  readonly leaksFound = this.c(
    'fleetnet_leaks_found_total',
    'Attachments whose container was gone when a lifecycle pass looked (released)',
  );
  readonly orphansFound = this.c(
    'fleetnet_orphans_found_total',
    "Interfaces or ports marked as fleetnet's that no attachment record owns, per pass that saw them",
  );
  readonly dhcpRestarts = this.c(
    'fleetnet_dhcp_client_restarts_total',
    'DHCP clients restarted by the supervisor after they died',
  );
  readonly dhcpLeaseAge = this.g('fleetnet_dhcp_lease_age_seconds', 'Age of each held DHCP lease', ['key', 'ifname']);
  readonly dhcpLeaseRemaining = this.g('fleetnet_dhcp_lease_remaining_seconds', 'Time left on each held DHCP lease', [
    'key',
    'ifname',
  ]);
  readonly tunnelUp = this.g(
    'fleetnet_tunnel_up',
    'Tunnel to a mesh peer: 1 up, 0 down, missing or unknown (probe: bfd for OVS tunnels, ping for kernel ones)',
    ['network', 'peer', 'kind', 'probe', 'state'],
  );

  constructor() {
    super('agent');
  }
}

export class ControllerMetrics extends FleetMetrics {
  readonly hostUp = this.g(
    'fleetnet_host_up',
    "Each host's agent as the controller last found it: 1 up, 0 down or unknown",
    ['host', 'state'],
  );
  readonly poolSize = this.g(
    'fleetnet_ipam_pool_size',
    'Addresses the network can hand out (its range, less network, broadcast and gateways)',
    ['network', 'family'],
  );
  readonly poolUsed = this.g('fleetnet_ipam_pool_used', 'Addresses of the network held by attachments', [
    'network',
    'family',
  ]);
  readonly poolFree = this.g('fleetnet_ipam_pool_free', 'Addresses of the network still free', ['network', 'family']);

  constructor() {
    super('controller');
  }
}

/** ADDR:PORT of the metrics endpoint, checked before anything starts. */
export function parseMetricsListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new FleetnetError('invalid', `metrics address '${s}' is not ADDR:PORT`, {
      hint: 'give e.g. --metrics 127.0.0.1:9464 (or [::1]:9464)',
    });
  }
  return { host: m[1] ?? m[2]!, port };
}

export interface MetricsEndpoint {
  /** The address actually bound (the port filled in when :0 was asked). */
  listen: string;
  close(): Promise<void>;
}

/** Serves GET /metrics; a taken or foreign address is bad input (exit 2) and nothing is left listening. */
export async function serveMetrics(metrics: FleetMetrics, listen: string, log: Logger): Promise<MetricsEndpoint> {
  const { host, port } = parseMetricsListen(listen);
  const server: HttpServer = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('fleetnet serves /metrics only\n');
      return;
    }
    metrics.text().then(
      (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
      (err: unknown) => {
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'metrics scrape failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('scrape failed; see the log\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'EADDRINUSE'
          ? 'is taken by another program'
          : err.code === 'EADDRNOTAVAIL'
            ? 'is not an address of this machine'
            : `cannot be used (${err.code ?? err.message})`;
      reject(
        new FleetnetError('invalid', `metrics address ${listen} ${why}`, {
          hint: 'give a free port on an address this machine holds to --metrics (or metrics: in the settings file)',
        }),
      );
    });
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const host6 = typeof addr === 'object' && addr?.family === 'IPv6';
  const hostText = typeof addr === 'object' && addr ? (host6 ? `[${addr.address}]` : addr.address) : '';
  const bound = typeof addr === 'object' && addr ? `${hostText}:${addr.port}` : listen;
  log.info({ metrics: bound }, 'metrics served on /metrics');
  return { listen: bound, close: () => new Promise<void>((r) => server.close(() => r())) };
}
