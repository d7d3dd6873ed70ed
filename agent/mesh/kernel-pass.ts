// The pass over Linux-bridge (kernel) tunnels: VXLAN and gretap devices, their flood entries, and the
// firewall that admits the peers; the Mesher runs it after the OVS networks' pass.
import { diffTunnels, tunnelId, type Tunnel } from '../../common/mesh.js';
import { gretapMissing, type BridgeTunnels } from './bridge-tunnels.js';
import type { FirewallState, MeshFirewall } from './firewall.js';
import type { MeshNetworkSpec, MeshResult } from './spec.js';

export interface KernelPassParts {
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
