// The fleet side of `fleetnet inspect`: the controller's attachments in DESIGN.md's inventory schema.
import type { Command } from 'commander';
import { parseTarget } from '../../common/attach/target.js';
import { notFound } from '../../common/errors.js';
import type { Attachment } from '../../proto/gen/fleetnet/v1/controller.js';
import { compatOf, lsEntryOfAttachment } from '../../common/inventory.js';
import type { OutputSpec } from '../output/format.js';
import { render } from '../output/render.js';
import { INSPECT_VIEW, type InspectItem } from '../output/views.js';

export function inventoryOf(container: string, atts: Attachment[]): unknown[] {
  const byHost = new Map<string, Attachment[]>();
  for (const a of atts) byHost.set(a.host, [...(byHost.get(a.host) ?? []), a]);
  return [...byHost].map(([host, list]) => ({
    container: list[0]!.container?.name || list[0]!.target?.value || container,
    host,
    interfaces: list.map((a) => {
      // Its ls --json row without what the entry says once for all of them (container, host).
      const { host: _h, container: _c, containerId: _i, pid: _p, generation: _g, ...fields } = lsEntryOfAttachment(a);
      return { ...fields, compat: compatOf(a) }; // the same compat fields as the local inspect
    }),
  }));
}

export async function fleetInspect(
  cmd: Command,
  container: string,
  host: string | undefined,
  spec: OutputSpec,
): Promise<void> {
  parseTarget(container); // bad input is exit 2 before the controller is asked (it reads every form attach takes)
  const { withController } = await import('../client/controller.js');
  await withController(cmd.optsWithGlobals(), 'inspect', async (conn) => {
    const res = await conn.call(conn.client.listAttachments, { host: host ?? '', network: '', container });
    if (!res.attachments.length)
      throw notFound(`no attachment for ${container}${host ? ` on ${host}` : ''}`, 'see them all with: fleetnet ls');
    const inv = inventoryOf(container, res.attachments) as InspectItem[];
    await render(spec, { items: inv, whole: inv.length === 1 ? inv[0] : inv }, INSPECT_VIEW);
  });
}
