// The netlink thread's own code (see netlink-thread.ts): each batch posted to it runs with runBatch
// over sockets this thread opens, and its rows or its failure go back.
import { parentPort } from 'node:worker_threads';
import { FleetnetError } from '../../common/errors.js';
import { runBatch } from './netlink-batch.js';
import type { ThreadReply, ThreadRequest } from './netlink-thread.js';
import { loadRtnl } from './rtnetlink.js';

const port = parentPort!;
const rt = loadRtnl();
const reply = (m: ThreadReply) => port.postMessage(m);
if (typeof rt === 'string') reply({ unavailable: rt });
else
  port.on('message', (m: ThreadRequest) => {
    runBatch(rt, m.netns, m.ops).then(
      (rows) => reply({ id: m.id, rows }),
      (err: unknown) => {
        const e = err instanceof FleetnetError ? err : undefined;
        reply({
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
