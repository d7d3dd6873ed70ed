// The fleet side of `fleetnet inspect`: the controller's attachments in DESIGN.md's inventory schema.
import type { Command } from 'commander';
import { parseTarget } from '../../common/attach/target.js';
import { notFound } from '../../common/errors.js';
import { fleetInventory } from '../../common/inventory.js';
import type { OutputSpec } from '../output/format.js';
import { render } from '../output/render.js';
import { INSPECT_VIEW } from '../output/views.js';

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
    // always an array, as from a host's agent: a script need not know how many hosts matched
    await render(spec, { items: fleetInventory(container, res.attachments) }, INSPECT_VIEW);
  });
}
