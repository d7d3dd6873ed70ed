// fleetnet ls through the controller (the fleet inventory); ls.ts branches here when a controller
// is configured.
import { Writable } from 'node:stream';
import type { LsEntry } from '../../common/ls-schema.js';
import type { ListAttachmentsRequest } from '../../proto/gen/fleetnet/v1/controller.js';
import type { ControllerChoice } from '../client/controller-address.js';
import { connectController, type ControllerConn } from '../client/controller.js';
import type { Opts } from '../fleet/common.js';
import type { OutputSpec } from '../output/format.js';
import { render } from '../output/render.js';
import { LS_VIEW } from '../output/views.js';

/** The controller's attachments in the ls schema (the same JSON -o json streams through). */
export async function lsEntries(conn: ControllerConn, req: ListAttachmentsRequest): Promise<LsEntry[]> {
  const chunks: Buffer[] = [];
  const sink = new Writable({ write: (c: Buffer, _e, done) => done(void chunks.push(c)) });
  await conn.streamJson(req, sink);
  await new Promise((resolve) => sink.end(resolve)); // every chunk written has reached chunks
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as LsEntry[];
}

export async function fleetLs(ctl: ControllerChoice, opts: Opts, spec: OutputSpec): Promise<void> {
  const req = { host: opts.host ? String(opts.host) : '', network: opts.net ? String(opts.net) : '', container: '' };
  const conn = connectController(ctl.addr);
  try {
    // -o json: the controller's pre-rendered JSON (common/ls-schema.ts) goes out as it arrives, unparsed
    if (spec.kind === 'json') {
      await conn.streamJson(req, process.stdout);
      process.stdout.write('\n');
      return;
    }
    await render(spec, { items: await lsEntries(conn, req) }, LS_VIEW);
  } finally {
    conn.close();
  }
}
