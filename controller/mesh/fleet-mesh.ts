// The fleet's meshes in the store: a network's mesh settings (encapsulation, key, members) live on
// its NetworkRecord; each decision here runs inside one store transaction. planFromTx turns the
// store into planMesh's input, so every host's desired tunnels derive from the store alone.
import { conflict, invalid, notFound } from '../../common/errors.js';
import { tunnelMtu } from '../../common/mesh.js';
import type { Tx } from '../store/store.js';
import type { NetworkMesh, NetworkRecord } from '../store/types.js';
import type { MeshHost, MeshNetwork } from '../../common/mesh/plan.js';

const FIRST_KEY = 100;

/**
 * A meshed network without a key gets the next free one of its encapsulation; a taken key is refused naming its holder.
 */
export function withMeshKey(tx: Tx, n: NetworkRecord): NetworkRecord {
  if (!n.mesh) return n;
  const others = tx.listNetworks().filter((o) => o.name !== n.name && o.mesh?.encap === n.mesh!.encap);
  if (n.mesh.key) {
    const holder = others.find((o) => o.mesh!.key === n.mesh!.key);
    if (holder)
      throw conflict(
        `${n.mesh.encap} key ${n.mesh.key} is already used by network ${holder.name}`,
        'give another --mesh-key, or leave it out to get a free one',
      );
    return n;
  }
  const existing = tx.getNetwork(n.name);
  if (existing?.mesh?.encap === n.mesh.encap) return { ...n, mesh: { ...n.mesh, key: existing.mesh.key } };
  const used = new Set(others.map((o) => o.mesh!.key));
  let key = FIRST_KEY;
  while (used.has(key)) key++;
  return { ...n, mesh: { ...n.mesh, key } };
}

function meshedNetwork(tx: Tx, net: string): NetworkRecord & { mesh: NetworkMesh } {
  const n = tx.getNetwork(net);
  if (!n) throw notFound(`no network named ${net}`, 'see them with: fleetnet nets');
  if (!n.mesh)
    throw invalid(
      `network ${net} has no mesh`,
      `create it with --mesh gre|vxlan (fleetnet net create ${net} … --mesh gre)`,
    );
  return n as NetworkRecord & { mesh: NetworkMesh };
}

/** Host names as one request gives them: each once, none empty (a blank name is a usage error, not a lookup). */
function hostList(hosts: string | readonly string[]): string[] {
  const list = [...new Set([hosts].flat())];
  if (!list.length || list.some((h) => !h))
    throw invalid('an empty host name', 'name one or more hosts (see them with: fleetnet hosts)');
  return list;
}

/**
 * Adds hosts to a network's mesh in one decision; returns the hosts whose tunnels change (all members).
 * An unknown host refuses the whole request before anything is written.
 */
export function meshAdd(
  tx: Tx,
  net: string,
  hosts: string | readonly string[],
): { network: NetworkRecord; hosts: string[]; changed: boolean } {
  const n = meshedNetwork(tx, net);
  const list = hostList(hosts);
  const unknown = list.filter((h) => !tx.getHost(h));
  if (unknown.length)
    throw notFound(
      `no host named ${unknown.join(', ')}`,
      `add ${unknown.length > 1 ? 'them' : 'it'} first: fleetnet host add NAME --addr IP`,
    );
  const joining = list.filter((h) => !n.mesh.members.includes(h));
  if (!joining.length) return { network: n, hosts: n.mesh.members, changed: false };
  const members = [...n.mesh.members, ...joining].sort();
  const network = { ...n, mesh: { ...n.mesh, members } };
  tx.putNetwork(network);
  return { network, hosts: members, changed: true };
}

/** Takes hosts out of a network's mesh; returns the hosts whose tunnels change (the old members). */
export function meshRemove(
  tx: Tx,
  net: string,
  hosts: string | readonly string[],
): { network: NetworkRecord; hosts: string[]; changed: boolean } {
  const n = meshedNetwork(tx, net);
  const leaving = new Set(hostList(hosts).filter((h) => n.mesh.members.includes(h)));
  if (!leaving.size) return { network: n, hosts: [], changed: false };
  const network = { ...n, mesh: { ...n.mesh, members: n.mesh.members.filter((m) => !leaving.has(m)) } };
  tx.putNetwork(network);
  return { network, hosts: n.mesh.members, changed: true };
}

/**
 * planMesh's input from the store: every host, every meshed network (members that are no longer hosts are left out).
 */
export function planInputFromTx(tx: Tx): { hosts: MeshHost[]; networks: MeshNetwork[] } {
  const hosts = tx.listHosts().map((h) => ({ name: h.name, underlayIp: h.underlayIp }));
  const known = new Set(hosts.map((h) => h.name));
  const networks = tx.listNetworks().flatMap((n): MeshNetwork[] =>
    n.mesh && (n.kind === 'ovs' || n.kind === 'bridge')
      ? [
          {
            name: n.name,
            kind: n.kind,
            encap: n.mesh.encap,
            key: n.mesh.key,
            bridge: n.bridge,
            members: n.mesh.members.filter((m) => known.has(m)),
            ...(n.mesh.dstPort ? { dstPort: n.mesh.dstPort } : {}),
          },
        ]
      : [],
  );
  return { hosts, networks };
}

/** Hosts that are members of any mesh (the ones a periodic push visits). */
export function meshedHosts(tx: Tx): string[] {
  return [...new Set(tx.listNetworks().flatMap((n) => n.mesh?.members ?? []))].sort();
}

/**
 * Container MTU on a meshed network when neither the attach nor the network gives one: a 1500-byte underlay minus the
 * overhead (0: not meshed, the host interface's).
 */
export function meshMtu(n: NetworkRecord): number {
  return n.mesh ? tunnelMtu(1500, n.mesh.encap) : 0;
}
