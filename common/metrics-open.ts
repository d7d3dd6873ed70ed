// Opens a daemon's metrics endpoint when asked, loading prom-client only then (./metrics.ts), and
// runs the daemon's start with it: the endpoint is bound first, so that a taken address is refused
// before anything else starts, and it is closed again when the start fails.
import type { Logger } from 'pino';
import type * as M from './metrics.js';

type Kind = 'AgentMetrics' | 'ControllerMetrics';
export interface OpenMetrics<K extends Kind> {
  m: InstanceType<(typeof M)[K]>;
  endpoint: M.MetricsEndpoint;
}

export async function withMetrics<K extends Kind, T>(
  kind: K,
  listen: string | undefined,
  log: Logger,
  start: (metrics: OpenMetrics<K> | undefined) => Promise<T>,
): Promise<T> {
  let metrics: OpenMetrics<K> | undefined;
  if (listen) {
    const mod = await import('./metrics.js');
    const m = new mod[kind]() as InstanceType<(typeof M)[K]>;
    metrics = { m, endpoint: await mod.serveMetrics(m, listen, log) };
  }
  try {
    return await start(metrics);
  } catch (err) {
    await metrics?.endpoint.close();
    throw err;
  }
}
