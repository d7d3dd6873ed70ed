// The pass over Linux-bridge (kernel) tunnels: VXLAN and gretap devices, their flood entries, and the
// firewall that admits the peers; the Mesher runs it after the OVS networks' pass.
import type { Logger } from 'pino';
import { diffTunnels, tunnelId, type Tunnel } from '../../common/mesh.js';
import type { OwnedKeeper } from '../attach/ownership.js';
import type { OwnedRef } from '../attach/records.js';
import { gretapMissing, type BridgeTunnels } from './bridge-tunnels.js';
import type { FirewallState, MeshFirewall } from './firewall.js';
import type { MeshNetworkSpec, MeshResult } from './spec.js';

/** What releases a bridge the mesh no longer needs (releaseOwned). */
export interface ReleaseParts {
  /** Removes a bridge fleetnet owns once nothing uses it (the Attacher's); absent: bridges stay. */
  owned?: OwnedKeeper | undefined;
  log?: Logger | undefined;
}

export interface KernelPassParts extends ReleaseParts {
  kernel: BridgeTunnels;
  firewall: MeshFirewall;
  /** Whether this kernel can make gretap devices (from the capability probe). */
  hasGretap: () => Promise<boolean>;
}

/** Converges the kernel networks' devices, flood entries and firewall; a failing network is handed to fail. */
export async function passKernel(
  parts: KernelPassParts,
  nets: Map<string, MeshNetworkSpec>,
  res: MeshResult,
  fail: (n: string, e: unknown) => void,
): Promise<void> {
  const kernelNets = [...nets.values()].filter((n) => n.kind === 'bridge');
  let want = kernelNets.flatMap((n) => n.tunnels);
  if (want.some((t) => t.encap === 'gre') && !(await parts.hasGretap())) {
    for (const n of kernelNets.filter((x) => x.encap === 'gre' && x.tunnels.length))
      fail(n.network, gretapMissing(n.network));
    want = want.filter((t) => t.encap !== 'gre');
  }
  const state = await parts.kernel.list();
  const d = diffTunnels(want, state.tunnels);
  res.kept += d.keep.length;
  const wantedPorts = new Set(want.map((t) => t.port));
  // A device whose own settings changed (VNI, local address, port, gretap remote) is made again.
  const addIds = new Set(d.add.map((t) => tunnelId(t)));
  const replaced = new Set(d.remove.filter((t) => addIds.has(tunnelId(t))).map((t) => t.port));
  const gone = new Set<string>();
  // Stale: a device nothing wants goes whole (one command); otherwise its flood entry goes.
  for (const [dev] of state.devices) {
    if (wantedPorts.has(dev) && !replaced.has(dev)) continue;
    try {
      await parts.kernel.deleteDevice(dev);
      gone.add(dev);
      res.changes++;
    } catch (err) {
      fail(state.devices.get(dev)!.network, err);
    }
  }
  for (const t of d.remove) {
    try {
      if (!gone.has(t.port)) {
        await parts.kernel.removeFlood(t);
        res.changes++;
      }
      res.removed.push(t);
    } catch (err) {
      fail(t.network, err);
    }
  }
  await releaseBridges(
    parts,
    nets,
    res,
    [...gone].map((dev) => state.devices.get(dev)!.bridge),
  );
  const devices = new Set([...state.devices.keys()].filter((x) => !gone.has(x)));
  const bridges = new Set(state.bridges);
  const floods = new Map<string, Tunnel[]>();
  for (const t of d.add) {
    try {
      const lines: string[] = [];
      if (!bridges.has(t.bridge)) lines.push(...parts.kernel.bridgeLines(t.bridge));
      const makeDevice = !devices.has(t.port);
      if (makeDevice) lines.push(...parts.kernel.deviceLines(t, nets.get(t.network)!.mtu));
      if (lines.length) {
        try {
          await parts.kernel.batch(lines);
        } catch (err) {
          // A device made but not finished (no alias: invisible to the read-back) must not stay.
          if (makeDevice) await parts.kernel.deleteDevice(t.port).catch(() => undefined);
          throw err;
        }
        bridges.add(t.bridge);
        devices.add(t.port);
        res.changes++;
      }
      if (t.encap === 'vxlan') floods.set(t.port, [...(floods.get(t.port) ?? []), t]);
      else res.added.push(t);
    } catch (err) {
      fail(t.network, err);
    }
  }
  // Flood entries: one command per device (a joining host adds N-1 in one `bridge -batch`).
  for (const ts of floods.values()) {
    try {
      await parts.kernel.addFloods(ts);
      res.added.push(...ts);
      res.changes++;
    } catch (err) {
      fail(ts[0]!.network, err);
    }
  }
  await passFirewall(parts.firewall, want, res, fail);
}

/**
 * The bridges of devices this pass removed that no network of the spec names, released when fleetnet owns them and
 * nothing is left on them (the keeper decides, under the bridge's lock). A bridge fleetnet did not make stays; one
 * left behind (a failure here, an agent stopped) is the lifecycle's orphan sweep's.
 */
async function releaseBridges(
  parts: KernelPassParts,
  nets: Map<string, MeshNetworkSpec>,
  res: MeshResult,
  bridges: string[],
): Promise<void> {
  const named = new Set([...nets.values()].map((n) => n.bridge));
  const unnamed = [...new Set(bridges)].filter((b) => b && !named.has(b));
  await releaseOwned(
    parts,
    res,
    unnamed.map((name) => ({ type: 'link', name })),
  );
}

/**
 * Hands each bridge to the keeper (released when fleetnet owns it and nothing uses it: see deleteOwnedIfUnused);
 * each one removed is a change. A failure is logged: the next pass, or the orphan sweep, finds the bridge again.
 */
export async function releaseOwned(parts: ReleaseParts, res: MeshResult, refs: OwnedRef[]): Promise<void> {
  for (const ref of parts.owned ? refs : []) {
    try {
      if (!(await parts.owned!.release(ref, { bare: true }))) continue;
      res.changes++;
      parts.log?.info({ bridge: ref.name }, 'mesh: removed the bridge it no longer needs');
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      parts.log?.warn({ bridge: ref.name, err: msg }, 'mesh: bridge not removed');
    }
  }
}

async function passFirewall(
  firewall: MeshFirewall,
  want: Tunnel[],
  res: MeshResult,
  fail: (n: string, e: unknown) => void,
): Promise<void> {
  const fw: FirewallState | undefined = want.length
    ? {
        peers: want.map((t) => t.peerIp),
        ports: want.filter((t) => t.encap === 'vxlan').map((t) => t.dstPort ?? 4789),
      }
    : undefined;
  try {
    if (await firewall.ensure(fw)) res.changes++;
  } catch (err) {
    if (fw) for (const n of new Set(want.map((t) => t.network))) fail(n, err);
  }
}
