// Controller settings, validated once and frozen. Durations carry their unit in the name.
import { z } from 'zod';
import { settingsError } from '../common/config-file.js';
import { listenSetting } from '../common/listen.js';

export const DEFAULT_CONTROLLER_PORT = 7440;
/** Where `controller run` reads its settings when --config does not name another file. */
export const DEFAULT_CONTROLLER_CONFIG = '/etc/fleetnet/controller.yaml';

export const ControllerConfigSchema = z.object({
  // Loopback by default: there is no client authentication until the PKI issue lands.
  listen: listenSetting().default(`127.0.0.1:${DEFAULT_CONTROLLER_PORT}`),
  db: z.string().min(1).default('/var/lib/fleetnet/state.db'),
  synchronous: z.enum(['normal', 'full']).default('normal'),
  /** etcd instead of the SQLite file (several controllers): client URLs, client TLS files, key prefix. */
  etcd: z
    .object({
      urls: z.array(z.string().min(1)).min(1),
      ca: z.string().min(1).optional(),
      cert: z.string().min(1).optional(),
      key: z.string().min(1).optional(),
      prefix: z
        .string()
        .min(1)
        .regex(/^\/.*\/$/, 'starts and ends with /')
        .optional(),
    })
    .optional(),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  resyncMs: z.number().int().min(100).default(10_000),
  backoffMinMs: z.number().int().min(10).default(250),
  backoffMaxMs: z.number().int().min(10).default(5_000),
  listTimeoutMs: z.number().int().min(100).default(5_000),
  attachTimeoutMs: z.number().int().min(100).default(30_000),
  parallelPerHost: z.number().int().min(1).max(256).default(8),
  /** The PKI folder (`fleetnet controller init`); when it holds a CA, every TCP call is mutual TLS. */
  trustDir: z.string().min(1).default('/etc/fleetnet/controller'),
  /** The longest a client may ask FleetAttach/FleetDetach to wait. */
  maxWaitMs: z.number().int().min(0).default(120_000),
  /** ADDR:PORT of the Prometheus endpoint (GET /metrics); none when absent. */
  metrics: z.string().min(1).optional(),
});

export type ControllerConfig = Readonly<z.infer<typeof ControllerConfigSchema>>;

export function controllerConfig(input: unknown): ControllerConfig {
  const r = ControllerConfigSchema.safeParse(input);
  if (!r.success) throw settingsError('controller', r.error.issues[0]!);
  return Object.freeze(r.data);
}
