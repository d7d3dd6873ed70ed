// The netlink thread's own code (see netlink-thread.ts): each batch posted to it runs with runBatch
// over sockets this thread opens, and its rows or its failure go back. Asked to close, it ends once its
// last batch has answered (its port closed: nothing else keeps the thread alive).
import { parentPort } from 'node:worker_threads';
import { FleetnetError } from '../../common/errors.js';
import { runBatch } from './netlink-batch.js';
import type { ThreadReply, ThreadRequest } from './netlink-thread.js';
import { loadRtnl, type Rtnl } from './rtnetlink.js';

const port = parentPort!;
const reply = (m: ThreadReply) => port.postMessage(m);

function serve(rt: Rtnl): void {
  let underWay = 0;
  let closing = false;
  const answered = (m: ThreadReply) => {
    reply(m);
    if (--underWay === 0 && closing) port.close();
  };
  port.on('message', (m: ThreadRequest) => {
    if ('close' in m) {
      closing = true;
      if (underWay === 0) port.close();
      return;
    }
    underWay++;
    runBatch(rt, m.netns, m.ops).then(
      (rows) => answered({ id: m.id, rows }),
      (err: unknown) => {
        const e = err instanceof FleetnetError ? err : undefined;
        answered({
          id: m.id,
          error: {
            kind: e?.kind ?? 'failed',
            message: (err as Error)?.message ?? String(err),
            ...(e?.hint ? { hint: e.hint } : {}),
          },
        });
      },
    );
  });
}

const rt = loadRtnl();
if (typeof rt === 'string') reply({ unavailable: rt });
else serve(rt);
