// A network as the controller stores it: the user's description checked once (common/network-spec.ts, which
// the CLI runs too before it connects), with what only the controller adds (creation time, allocation
// cursors, the mesh's members).
import { checkNetwork, type NetworkInput } from '../../common/network-spec.js';
import type { NetworkRecord } from '../store/types.js';

export function buildNetwork(i: NetworkInput, nowMs: number): NetworkRecord {
  const { mesh, ...n } = checkNetwork(i);
  return { ...n, createdMs: nowMs, cursors: {}, ...(mesh ? { mesh: { ...mesh, members: [] } } : {}) };
}
