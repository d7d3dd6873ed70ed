// fleetnet events: what changes in the fleet as it happens (attach, detach, host up/down, tunnel
// up/down), streamed from the controller (WatchEvents) as lines or JSON lines, until interrupted
// or --count events were printed.
import type { Command } from 'commander';
import type { FleetEvent as EventMsg } from '../../proto/gen/fleetnet/v1/controller.js';

const EXAMPLES = `
Examples:
  fleetnet events                           # every change, one line each, until Ctrl-C
  fleetnet events --json | jq .             # one JSON object per line
  fleetnet events --kind host-down,tunnel-down
  fleetnet events --count 1 --kind attach   # wait for the next attach, then exit
Kinds: attach, detach, host-up, host-down, tunnel-up, tunnel-down.`;

const KINDS = ['attach', 'detach', 'host-up', 'host-down', 'tunnel-up', 'tunnel-down'];
/** One watch lasts a day at most (gRPC deadlines have 8 digits); then the next begins. */
const WATCH_MS = 24 * 3600 * 1000;

interface EventOpts {
  json?: boolean;
  count?: string;
  kind?: string;
  host?: string;
}

export function register(program: Command): void {
  program
    .command('events')
    .summary('stream fleet changes: attach, detach, host and tunnel up/down')
    .description(
      'Print what changes in the fleet while this runs, as the controller sees it happen: one line per ' +
        'event (or one JSON object per line with --json). "watching …" on stderr says the watch has begun.',
    )
    .option('--json', 'one JSON object per line')
    .option('--count <n>', 'exit after printing N events')
    .option('--kind <kinds>', 'only these kinds, comma-separated')
    .option('--host <name>', 'only events of this host')
    .addHelpText('after', EXAMPLES)
    .action(async (opts: EventOpts, cmd: Command) => {
      const { invalid } = await import('../../common/errors.js');
      const count = opts.count === undefined ? Infinity : Number(opts.count);
      if (opts.count !== undefined && (!Number.isInteger(count) || count < 1)) {
        throw invalid(`--count ${opts.count}: not a whole number of events`, 'give e.g. --count 1');
      }
      const kinds = opts.kind
        ?.split(',')
        .map((k) => k.trim())
        .filter(Boolean);
      const unknown = kinds?.filter((k) => !KINDS.includes(k)) ?? [];
      if (unknown.length) throw invalid(`--kind ${unknown.join(',')}: unknown event kind`, `use ${KINDS.join(', ')}`);
      const { withController } = await import('../client/controller.js');
      await withController(cmd.optsWithGlobals(), 'events', async (conn) => {
        let printed = 0;
        let done = false;
        while (!done) {
          await conn
            .stream(conn.client.watchEvents, {}, WATCH_MS, (e) => {
              if (done) return;
              if (e.kind === 'watching') {
                process.stderr.write(`watching fleet events at ${conn.addr}\n`);
                return;
              }
              if ((kinds && !kinds.includes(e.kind)) || (opts.host && e.host !== opts.host)) return;
              process.stdout.write(opts.json ? `${JSON.stringify(eventJson(e))}\n` : `${eventLine(e)}\n`);
              if (++printed >= count) {
                done = true;
                conn.close(); // the stream ends here; its error is not one
              }
            })
            .catch((err: unknown) => {
              if (!done) throw err;
            });
        }
      });
    });
}

function eventJson(e: EventMsg): Record<string, string> {
  const out: Record<string, string> = { time: new Date(e.timeUnixMs).toISOString(), kind: e.kind, host: e.host };
  for (const k of ['network', 'container', 'ifname', 'peer', 'attachmentId', 'detail'] as const) {
    if (e[k]) out[k] = e[k];
  }
  return out;
}

/** `TIME KIND HOST key=value …` */
export function eventLine(e: EventMsg): string {
  const named = [
    ['net', e.network],
    ['container', e.container],
    ['ifname', e.ifname],
    ['peer', e.peer],
    ['id', e.attachmentId],
  ] as const;
  const fields = named.filter(([, v]) => v).map(([k, v]) => `${k}=${v}`);
  if (e.detail) fields.push(`detail=${JSON.stringify(e.detail)}`);
  return [new Date(e.timeUnixMs).toISOString(), e.kind.padEnd(11), e.host, ...fields].join(' ');
}
