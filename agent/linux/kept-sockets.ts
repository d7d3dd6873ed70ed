// Route netlink sockets kept open in the agent's own namespace: a batch there takes an idle one (or
// opens one) and gives it back after, instead of opening and closing a socket per batch. A socket still
// carries one batch at a time, its requests one after another (as a batch's own socket did).
import type { Rtnl, RtSocket } from './rtnetlink.js';

/** Idle sockets kept (as many as batches ran at once in the agent's namespace, up to this). */
const MAX_IDLE = 64;

export function keptSockets(rt: Rtnl): { take(): RtSocket; giveBack(s: RtSocket, clean: boolean): void } {
  const idle: RtSocket[] = [];
  const broken = new WeakSet<RtSocket>();
  return {
    take() {
      const kept = idle.pop();
      if (kept) return kept;
      const s = rt.open(undefined);
      // Not expected of a socket that only sends requests: it is closed once its batch ends.
      s.socket.on('error', () => void broken.add(s));
      return s;
    },
    /** `clean`: every request of the batch was answered (a failed batch's socket is closed, not kept). */
    giveBack(s, clean) {
      if (clean && !broken.has(s) && idle.length < MAX_IDLE) idle.push(s);
      else s.socket.close();
    },
  };
}
