// Kinds whose interface lives only in the container (macvlan, IPoIB, dummy): made straight into its
// namespace under a temporary unique name and renamed there — no move (about 20 ms), and no clash
// with a host interface that has the container interface's name.
import type { ContainerInfo } from '../../containers/types.js';
import type { LinkOp } from '../../linux/link-ops.js';
import type { AttachOrder } from '../order.js';
import type { AttachmentRecord, OwnedRef } from '../records.js';
import { deleteInNs, type KindEnv, type KindPlan, type Need } from './types.js';

export interface InContainerSpec {
  needs: Need[];
  /** The operation that makes the interface straight into the container, named `tmpName`. */
  addOp: LinkOp;
  tmpName: string;
  parent?: string;
  prepareCommands?: string[];
  prepare?: KindPlan['prepare'];
  /** The kernel's refusal of `addOp` in the kind's own words (undefined: it stands as it is). */
  explain?: (err: unknown) => Error | undefined;
}

export function inContainerPlan(env: KindEnv, order: AttachOrder, c: ContainerInfo, s: InContainerSpec): KindPlan {
  let renameSent = false;
  return {
    needs: s.needs,
    uses: s.parent && s.parent !== order.hostIf ? [s.parent] : [],
    nsName: s.tmpName,
    // Marked with the agent's alias once named: an agent that lost its records finds it as its own.
    nsPrelude: [
      { t: 'set', name: s.tmpName, rename: order.ifname },
      ...(env.ownerMark ? [{ t: 'set', name: order.ifname, alias: env.ownerMark } as const] : []),
    ],
    ...(s.parent ? { parent: s.parent } : {}),
    prepareCommands: s.prepareCommands ?? [],
    commands: env.ip.describe(undefined, [s.addOp]),
    prepare: s.prepare ?? (async (): Promise<OwnedRef[]> => []),
    beforeNsBatch() {
      renameSent = true;
    },
    async apply(undo) {
      // Pushed before the add (it may act and still report failure). The container's own interface
      // named like ours is never touched: eth1 is deleted only when our temporary name is gone
      // because the rename ran.
      undo.push(`delete ${s.tmpName}`, async () => {
        const r = await env.runner.run('nsenter', [`--net=${c.netns}`, 'ip', 'link', 'del', s.tmpName], {
          allowFail: true,
        });
        if (r.code !== 0 && renameSent) await deleteInNs(env, c.netns, order.ifname);
      });
      await env.ip.host([s.addOp]).catch((err: unknown) => {
        throw s.explain?.(err) ?? err;
      });
      return { hostIfname: '', ...(s.parent ? { parent: s.parent } : {}) };
    },
  };
}

export async function removeInContainer(env: KindEnv, r: AttachmentRecord): Promise<void> {
  await deleteInNs(env, r.container.netns, r.ifname);
}
