// The ONE JSON schema of `fleetnet ls --json`, whichever answers: the controller (its pre-rendered
// attachment views, controller/store/view.ts) or a host's agent (common/inventory.ts lsEntryOf).
// Both are validated against it in the tests. The CLI itself imports only the type (no zod at run
// time on the `ls` path: the controller's JSON is streamed through unparsed, see bench/README.md).
import { z } from 'zod';

export const LsEntry = z
  .object({
    /** The attachment id (empty for an interface the agent has no attachment record for). */
    id: z.string(),
    host: z.string().min(1),
    /** The fleet network; empty when a host's agent answers (it does not know networks). */
    network: z.string(),
    /** Container name (or the target as given when it has none). */
    container: z.string(),
    containerId: z.string(),
    pid: z.number().int().nonnegative(),
    ifname: z.string().min(1),
    hostIf: z.string(),
    hostIfname: z.string(),
    kind: z.string(),
    mac: z.string(),
    /** CIDRs: static and allocated ones, then DHCP leases. */
    addresses: z.array(z.string()),
    gateways: z.array(z.string()),
    mtu: z.number().int().nonnegative(),
    vlan: z.string(),
    /** controller: pending | up | failed | detaching (and what lifecycle adds); agent: up | down | missing. */
    state: z.string().min(1),
    error: z.string(),
    /** The host generation at which the attachment last changed (0 from an agent). */
    generation: z.number().int().nonnegative(),
  })
  .strict();

export type LsEntry = z.infer<typeof LsEntry>;

export const LsOutput = z.array(LsEntry);
