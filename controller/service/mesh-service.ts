// gRPC handlers of the controller's mesh RPCs: one store decision, then the hosts whose tunnels
// change get their whole plan pushed (ApplyMesh), and the reply says what each agent did.
import type { Logger } from 'pino';
import { unsupported } from '../../common/errors.js';
import { checkWaitUpMs, permanentMeshError } from '../../common/mesh.js';
import type {
  FleetMeshStatusRequest,
  MeshHostResult,
  MeshMemberError,
  MeshMemberRequest,
  MeshMemberReply,
  MeshTunnelState,
} from '../../proto/gen/fleetnet/v1/controller.js';
import { meshAdd, meshRemove } from '../mesh/fleet-mesh.js';
import type { TunnelStatus } from '../../proto/gen/fleetnet/v1/agent.js';
import type { HostMeshState, HostTunnels, MeshPusher } from '../mesh/push.js';
import type { Store } from '../store/store.js';
import { networkToProto } from './convert.js';

export interface MeshServiceDeps {
  store: Store;
  mesh?: MeshPusher;
  log: Logger;
}

function pusher(d: MeshServiceDeps): MeshPusher {
  if (!d.mesh) throw unsupported('this controller runs without the mesh');
  return d.mesh;
}

/**
 * A member's answer about one network: the agent's errors on that network only (another network's error on the same
 * host is not this change's, and waiting for this one does not mend it), or why its push failed.
 */
export function networkResult(s: HostMeshState, network: string): MeshHostResult {
  const errors = s.reply?.errors.filter((e) => e.network === network) ?? [];
  const worst = errors.find((e) => permanentMeshError(e.kind)) ?? errors[0];
  return {
    host: s.host,
    generation: s.generation,
    added: s.reply?.added ?? 0,
    removed: s.reply?.removed ?? 0,
    error: s.reply ? errors.map((e) => e.message).join('; ') : s.error,
    errorKind: s.reply ? (worst?.kind ?? '') : (s.errorKind ?? ''),
  };
}

/**
 * Each member's errors in its agent's answer to its last push from this controller (on the network, when one is
 * given; network "": the push failed whole). Another controller's member is not known here (several controllers).
 */
function lastErrors(m: MeshPusher, hosts: string[], network: string): MeshMemberError[] {
  return hosts.flatMap((host) => {
    const s = m.last(host);
    if (!s?.reply) return s?.error ? [{ host, network: '', error: s.error, errorKind: s.errorKind ?? '' }] : [];
    return s.reply.errors
      .filter((e) => !network || e.network === network)
      .map((e) => ({ host, network: e.network, error: e.message, errorKind: e.kind }));
  });
}

/** The hosts a request names: `hosts`, and `host` from clients that send one. */
function requestHosts(r: MeshMemberRequest): string[] {
  return [...(r.host ? [r.host] : []), ...r.hosts];
}

/**
 * How long the members wait for the joining hosts' pushes to be answered before theirs start anyway (a joining
 * agent that is down or slow holds the others back no longer than this).
 */
export const JOINING_FIRST_MS = 2000;

/** Resolves when every promise has settled or after ms, whichever comes first. */
function settledOrAfter(ps: Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([Promise.allSettled(ps).then(() => undefined), late]).finally(() => clearTimeout(timer));
}

/**
 * One store decision for every host named, then each member whose tunnels change is pushed once. The hosts
 * joining go first, and the members once the joining hosts have answered (JOINING_FIRST_MS at most): a joining
 * host has a tunnel to make to every member (the members one each), and it makes them, learns the members'
 * underlay MACs and turns BFD on while the machine is not also busy with every member's change; a member then
 * makes its one port and its BFD session's first packet finds the joining host's session already listening.
 * With waitUpMs each member's agent is then asked for its tunnels of the network (answering once they are up)
 * as soon as its own push is answered, not after the last member's.
 */
async function member(
  d: MeshServiceDeps,
  r: MeshMemberRequest,
  verb: 'add' | 'rm',
  signal?: AbortSignal,
): Promise<MeshMemberReply> {
  const m = pusher(d);
  const hosts = requestHosts(r);
  const waitUpMs = checkWaitUpMs(r.waitUpMs);
  const res = await d.store.transact((tx) => (verb === 'add' ? meshAdd : meshRemove)(tx, r.network, hosts));
  if (res.changed)
    d.log.info({ net: r.network, hosts }, verb === 'add' ? 'hosts joined the mesh' : 'hosts left the mesh');
  const count = await d.store.read((tx) => tx.countAttachments({ net: r.network }));
  const joining = verb === 'add' ? res.hosts.filter((h) => hosts.includes(h)) : [];
  const others = res.hosts.filter((h) => !joining.includes(h));
  const pushes = new Map<string, Promise<HostMeshState>>();
  const pushNow = (h: string) =>
    pushes.set(
      h,
      m.push([h]).then(([st]) => st!),
    );
  joining.forEach(pushNow);
  if (joining.length && others.length) {
    const release = m.hold(others);
    try {
      await settledOrAfter([...pushes.values()], JOINING_FIRST_MS);
    } finally {
      release();
    }
  }
  others.forEach(pushNow);
  const members = new Set(res.network.mesh?.members ?? []);
  const tunnels = new Map<string, HostTunnels>();
  // A member whose answer is an error on this network that waiting will not mend ends every wait: the tunnels
  // are then asked for as they are (a wait cut short is asked again, at once).
  const hopeless = new AbortController();
  const waiting = signal ? AbortSignal.any([signal, hopeless.signal]) : hopeless.signal;
  const ask = (h: string, ms: number) =>
    m.hostStatus(h, r.network, { waitUpMs: ms, ...(ms ? { signal: waiting } : signal ? { signal } : {}) });
  const results = await Promise.all(
    res.hosts.map(async (h) => {
      const got = networkResult(await pushes.get(h)!, r.network);
      if (got.error && permanentMeshError(got.errorKind)) hopeless.abort();
      if (waitUpMs && members.has(h)) {
        let t = hopeless.signal.aborted ? undefined : await ask(h, waitUpMs);
        if (!t?.reply && hopeless.signal.aborted && !signal?.aborted) t = await ask(h, 0);
        if (t) tunnels.set(h, t);
      }
      return got;
    }),
  );
  const asked = [...members].sort().flatMap((h) => (tunnels.has(h) ? [tunnels.get(h)!] : []));
  return {
    network: networkToProto(res.network, count),
    changed: res.changed,
    hosts: results,
    tunnels: tunnelRows(asked, r.network, lastErrors(m, [...tunnels.keys()], r.network)),
  };
}

/**
 * Why a missing tunnel is missing: the agent says its next pass adds it, which does not hold while the host's last
 * push failed on that network with an error that waiting will not mend (network "": the push failed whole).
 */
function missingDetail(t: TunnelStatus, host: string, errors: MeshMemberError[]): string {
  const e = errors.find(
    (x) => x.host === host && (x.network === t.network || !x.network) && permanentMeshError(x.errorKind),
  );
  if (t.state !== 'missing' || !e) return t.detail;
  return `${t.port} has no tunnel to ${t.peerIp}, and no pass will add it until this is fixed: ${e.error}`;
}

/**
 * Each host's tunnels as rows; a host whose agent did not answer is one row, unreachable, with why. errors: the
 * members' last push errors (lastErrors), which say why a tunnel is missing when no pass will add it.
 */
function tunnelRows(all: HostTunnels[], network: string, errors: MeshMemberError[]): MeshTunnelState[] {
  return all.flatMap((h) =>
    h.reply
      ? h.reply.tunnels.map((t) => ({
          host: h.host,
          network: t.network,
          peer: t.peer,
          peerIp: t.peerIp,
          port: t.port,
          state: t.state,
          detail: missingDetail(t, h.host, errors),
          checkedAtMs: t.checkedAtMs,
        }))
      : [
          {
            host: h.host,
            network,
            peer: '',
            peerIp: '',
            port: '',
            state: 'unreachable',
            detail: h.error,
            checkedAtMs: Date.now(),
          },
        ],
  );
}

/** Handlers keyed as the generated Controller service names them; wrap each with the service's `unary`. */
export function meshHandlers(d: MeshServiceDeps) {
  return {
    meshAdd: (r: MeshMemberRequest, ctx?: { signal: AbortSignal }) => member(d, r, 'add', ctx?.signal),
    meshRemove: (r: MeshMemberRequest, ctx?: { signal: AbortSignal }) => member(d, r, 'rm', ctx?.signal),
    fleetMeshStatus: async (r: FleetMeshStatusRequest, ctx?: { signal: AbortSignal }) => {
      const m = pusher(d);
      const waitUpMs = checkWaitUpMs(r.waitUpMs);
      const net = r.network || undefined;
      const hosts = await m.members(net);
      // A member's error that waiting will not mend (as mesh add --wait): no wait, the states now.
      const errors = lastErrors(m, hosts, r.network);
      const hopeless = errors.some((e) => permanentMeshError(e.errorKind));
      const o = { waitUpMs: hopeless ? 0 : waitUpMs, ...(ctx ? { signal: ctx.signal } : {}) };
      const all = await Promise.all(hosts.map((h) => m.hostStatus(h, net, o)));
      // Errors as they stand once the states are in (a wait may have seen a push fail or mend).
      const now = lastErrors(m, hosts, r.network);
      return { tunnels: tunnelRows(all, r.network, now), errors: now };
    },
  };
}
