// Agent settings, validated once and frozen.
import { z } from 'zod';
import { settingsError } from '../common/config-file.js';
import { listenSetting } from '../common/listen.js';

/** Where `agent run` reads its settings when --config does not name another file. */
export const DEFAULT_AGENT_CONFIG = '/etc/fleetnet/agent.yaml';
import { DEFAULT_AGENT_SOCKET } from '../common/defaults.js';

export const AgentConfigSchema = z.object({
  socket: z.string().min(1).default(DEFAULT_AGENT_SOCKET),
  listen: listenSetting().optional(),
  stateDir: z.string().min(1).default('/var/lib/fleetnet/agent'),
  ovsDb: z.string().optional(),
  /**
   * Datapath of OVS bridges the agent creates when an attach does not say: system (kernel) or netdev (user space, the
   * lab).
   */
  ovsDatapath: z.enum(['system', 'netdev']).default('system'),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  dockerSocket: z.string().default('/var/run/docker.sock'),
  netnsDir: z.string().default('/run/netns'),
  hostName: z.string().optional(),
  /** Period of the mesh's reconcile pass (0: only on ApplyMesh); Mesher.periodicPass says when it reads. */
  meshResyncMs: z.number().int().min(0).default(10_000),
  /**
   * bfd:decay_min_rx of the mesh's OVS tunnels (0: none, OVS's 1 s always). Once a session has been up
   * this long with no data arriving on its tunnel, OVS asks the peer for one BFD packet per this interval
   * instead of one a second, and goes back to 1 s when traffic comes. A 50-host mesh holds 2,450 sessions,
   * each end sending a packet a second: in the user-space-OVS lab that was most of the CPU the meshed fleet
   * used at rest. A dead idle tunnel is found down after 3 x this (mult 3) instead of 3 s; coming up is not
   * affected (decay starts once a session is up). OVS wants it at least min_rx (1000).
   */
  meshBfdDecayMs: z
    .number()
    .int()
    .refine((v) => v === 0 || (v >= 1000 && v <= 600_000), 'expected 0 (no decay) or 1000..600000 ms')
    .default(5000),
  /** Period of the container lifecycle's full pass (missed events, failed re-applies, orphans). */
  lifecyclePassMs: z.number().int().min(100).default(10_000),
  /** How `ip` work is done: netlink (in-process), exec (`ip -batch`), auto (netlink when its native modules load). */
  ipPath: z.enum(['auto', 'netlink', 'exec']).default('auto'),
  // trust (issue 7): enrollment with the controller, and the escape hatch for unenrolled labs
  controller: z.string().optional(),
  joinTokenFile: z.string().default('/etc/fleetnet/agent/join-token'),
  caFile: z.string().default('/etc/fleetnet/agent/ca.crt'),
  insecureTcp: z.boolean().default(false),
  /**
   * Where CNI ADDs of the `fleetnet` plugin get addresses and MACs: a controller (ADDR:PORT, several
   * comma-separated), or `none` (local pools). Default: the controller this agent enrolls with.
   */
  cniController: z.string().min(1).optional(),
  /** ADDR:PORT of the Prometheus endpoint (GET /metrics); none when absent. */
  metrics: z.string().min(1).optional(),
});

export type AgentConfig = Readonly<z.infer<typeof AgentConfigSchema>>;

export function agentConfig(input: unknown): AgentConfig {
  const r = AgentConfigSchema.safeParse(input);
  if (!r.success) throw settingsError('agent', r.error.issues[0]!);
  return Object.freeze(r.data);
}
