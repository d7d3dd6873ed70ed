// The pass over OVS networks: stale tunnel ports removed, missing ones added (and their bridge made, marked as
// fleetnet's and the mesh's), then the bridges no network of the spec names any more released: a bridge the mesh
// made, or one whose last tunnels it just removed, goes once nothing else uses it (the Attacher's keeper decides,
// under the bridge's lock: owned, no port, no attachment). A bridge fleetnet did not make is never removed.
import type { Logger } from 'pino';
import { FleetnetError } from '../../common/errors.js';
import { diffTunnels, type Tunnel } from '../../common/mesh.js';
import type { Runner } from '../../common/runner.js';
import type { OwnedRef } from '../attach/records.js';
import type { NeighIo } from '../linux/neigh-io.js';
import { OVS_OWNED_KEY, OVS_OWNED_VALUE } from '../ovs/vsctl.js';
import { byNetwork, EXT_NET, EXT_OWNER, type OvsMeshState, type OvsTunnels } from './ovs-tunnels.js';
import type { MeshNetworkSpec, MeshResult } from './spec.js';
import { releaseOwned, type ReleaseParts } from './kernel-pass.js';
import { addOvsTunnels } from './tunnel-neigh.js';

export interface OvsPassParts extends ReleaseParts {
  ovs: OvsTunnels;
  runner: Runner;
  log: Logger;
  neigh?: (() => NeighIo) | undefined;
  /** Datapath type of the bridges the mesh makes when the spec names none. */
  defaultDatapathType?: string | undefined;
  /** The agent's owner mark (on the bridges it makes); absent: bridges made with none are its own. */
  ownerMark?: string | undefined;
}

/** Converges the OVS networks' ports (and bridges); a failing network is handed to fail. */
export async function passOvs(
  p: OvsPassParts,
  nets: Map<string, MeshNetworkSpec>,
  res: MeshResult,
  fail: (n: string, e: unknown) => void,
  settled: OvsMeshState | undefined,
): Promise<void> {
  const want = [...nets.values()].filter((n) => n.kind === 'ovs').flatMap((n) => n.tunnels);
  let state = settled;
  try {
    state ??= await p.ovs.list();
  } catch (err) {
    // No OVS here and nothing asked of it: nothing to do, nothing to report.
    for (const n of new Set(want.map((t) => t.network))) fail(n, err);
    return;
  }
  const d = diffTunnels(want, state.tunnels);
  // A port with BFD off or set otherwise (an older agent's) is added again: the add sets BFD as this agent does.
  const off = d.keep.filter((t) => state.bfdOff?.has(t.port));
  d.keep = d.keep.filter((t) => !off.includes(t));
  d.add.push(...off);
  res.kept += d.keep.length;
  // One transaction per network for its stale ports, one for its missing ones (and bridge): a
  // failing network leaves the others converged.
  const removed: Tunnel[] = [];
  for (const ts of byNetwork(d.remove).values()) {
    try {
      await p.ovs.remove(ts);
      removed.push(...ts);
      res.changes++;
    } catch (err) {
      fail(ts[0]!.network, err);
    }
  }
  res.removed.push(...removed);
  await releaseBridges(p, nets, res, state, removed);
  for (const ts of byNetwork(d.add).values()) {
    const { network, bridge } = ts[0]!;
    const dp = nets.get(network)?.datapathType ?? p.defaultDatapathType;
    try {
      const made = !state.bridges.has(bridge);
      const { log, runner, neigh } = p;
      await addOvsTunnels(p.ovs, ts, { bridge, made, log, datapathType: dp, runner, neigh });
      state.bridges.add(bridge);
      res.added.push(...ts);
      res.changes++;
      const broken = made ? await p.ovs.datapathProblem(bridge) : undefined;
      if (broken) state.broken.set(bridge, broken);
    } catch (err) {
      fail(network, err);
    }
  }
  // Converged means working: tunnels on a bridge ovs-vswitchd could not make carry nothing.
  const brokenNets = new Map<string, FleetnetError>();
  for (const t of want) {
    const why = state.broken.get(t.bridge);
    if (why) brokenNets.set(t.network, why);
  }
  for (const [network, why] of brokenNets)
    fail(network, new FleetnetError(why.kind, `${why.message}; fix: ${why.hint ?? ''}`));
}

/**
 * The bridges no network of the spec names that the mesh made (its mark, this agent's) or whose tunnels this pass
 * removed, released when fleetnet owns them and nothing is left on them. Known from the read (bridgeInfo): one
 * another port keeps, or fleetnet does not own, is not even asked about. A failure is logged; a bridge the mesh
 * made is tried again at the next full pass, and the orphan sweep of `fleetnet check` finds it too.
 */
async function releaseBridges(
  p: OvsPassParts,
  nets: Map<string, MeshNetworkSpec>,
  res: MeshResult,
  state: OvsMeshState,
  removed: Tunnel[],
): Promise<void> {
  if (!p.owned) return;
  const named = new Set([...nets.values()].map((n) => n.bridge));
  const gone = new Set(removed.map((t) => t.port));
  const mine = (ext: Record<string, string>) => !!ext[EXT_NET] && (ext[EXT_OWNER] ?? '') === (p.ownerMark ?? '');
  const candidates = new Set([
    ...removed.map((t) => t.bridge),
    ...[...(state.bridgeInfo ?? [])].filter(([, i]) => mine(i.ext)).map(([b]) => b),
  ]);
  const released = [...candidates].filter((bridge) => {
    if (!bridge || named.has(bridge)) return false;
    const info = state.bridgeInfo?.get(bridge);
    return !info || (info.ext[OVS_OWNED_KEY] === OVS_OWNED_VALUE && info.ports.every((x) => gone.has(x)));
  });
  const refs = released.map((name): OwnedRef => ({ type: 'ovs-bridge', name }));
  await releaseOwned(p, res, refs);
}
