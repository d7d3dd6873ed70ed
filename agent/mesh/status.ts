// The state of each wanted tunnel: OVS tunnels by their BFD session (bfd_status), kernel tunnels
// by a reachability probe of the peer's underlay address from this host's (one ping, 1 s).
import type { Tunnel } from '../../common/mesh.js';
import type { Runner } from '../../common/runner.js';
import type { BridgeMeshState } from './bridge-tunnels.js';
import type { OvsMeshState } from './ovs-tunnels.js';

export type TunnelState = 'up' | 'down' | 'missing' | 'unknown';

export interface TunnelStatus {
  network: string;
  peer: string;
  peerIp: string;
  port: string;
  kind: Tunnel['kind'];
  encap: Tunnel['encap'];
  state: TunnelState;
  /** What the state rests on: BFD fields, the probe's answer, or why it is missing. */
  detail: string;
  checkedAtMs: number;
}

export interface StatusInput {
  runner: Runner;
  wanted: Tunnel[];
  ovs: OvsMeshState | undefined;
  kernel: BridgeMeshState | undefined;
  now: () => number;
}

/** BFD says up only when the session is up and forwarding. */
export const bfdUp = (bfd: Record<string, string> | undefined): boolean =>
  bfd?.state === 'up' && bfd.forwarding === 'true';

/** BFD says up only when the session is up and forwarding (bfdUp); no status yet (just made) is unknown. */
export function bfdState(bfd: Record<string, string> | undefined): { state: TunnelState; detail: string } {
  if (!bfd || !bfd.state) return { state: 'unknown', detail: 'no BFD status yet' };
  const diagnostic = bfd.diagnostic && bfd.diagnostic !== 'No Diagnostic' ? ` diagnostic=${bfd.diagnostic}` : '';
  const detail =
    `bfd state=${bfd.state} forwarding=${bfd.forwarding ?? '?'} ` +
    `remote_state=${bfd.remote_state ?? '?'}${diagnostic}`;
  return { state: bfdUp(bfd) ? 'up' : 'down', detail };
}

export async function probePeer(
  runner: Runner,
  localIp: string,
  peerIp: string,
): Promise<{ state: TunnelState; detail: string }> {
  const r = await runner.run('ping', ['-n', '-q', '-c', '1', '-W', '1', '-I', localIp, peerIp], {
    allowFail: true,
    timeoutMs: 3000,
  });
  return r.code === 0
    ? { state: 'up', detail: `peer ${peerIp} answers on the underlay` }
    : { state: 'down', detail: `peer ${peerIp} does not answer on the underlay` };
}

export async function tunnelStatuses(i: StatusInput): Promise<TunnelStatus[]> {
  const ovsPorts = new Map((i.ovs?.tunnels ?? []).map((t) => [t.port, t]));
  const kernelIds = new Set((i.kernel?.tunnels ?? []).map((t) => `${t.port}/${t.peerIp}`));
  const probes = new Map<string, Promise<{ state: TunnelState; detail: string }>>();
  return Promise.all(
    i.wanted.map(async (t): Promise<TunnelStatus> => {
      const base = { network: t.network, peer: t.peer, peerIp: t.peerIp, port: t.port, kind: t.kind, encap: t.encap };
      let s: { state: TunnelState; detail: string };
      if (t.kind === 'ovs') {
        const broken = i.ovs?.broken.get(t.bridge);
        if (broken) s = { state: 'down', detail: `${broken.message}; fix: ${broken.hint ?? ''}` };
        else if (ovsPorts.has(t.port)) s = bfdState(i.ovs?.bfd.get(t.port));
        else s = { state: 'missing', detail: `port ${t.port} is not on ${t.bridge}; the next pass adds it` };
      } else if (!kernelIds.has(`${t.port}/${t.peerIp}`)) {
        s = { state: 'missing', detail: `${t.port} has no tunnel to ${t.peerIp}; the next pass adds it` };
      } else {
        const k = `${t.localIp}>${t.peerIp}`;
        if (!probes.has(k)) probes.set(k, probePeer(i.runner, t.localIp, t.peerIp));
        s = await probes.get(k)!;
      }
      return { ...base, ...s, checkedAtMs: i.now() };
    }),
  );
}
