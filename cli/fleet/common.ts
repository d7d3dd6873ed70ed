// What the controller halves of attach, detach and ls share: which controller answers, --host,
// --timeout, and how an attachment's state becomes an exit code.
import type { Command } from 'commander';
import { FleetnetError, invalid } from '../../common/errors.js';
import { parseHostName } from '../../common/host-spec.js';
import type { Attachment } from '../../proto/gen/fleetnet/v1/controller.js';
import { chooseController, type ControllerChoice } from '../client/controller-address.js';

export type Opts = Record<string, string | boolean | undefined>;

const DEFAULT_TIMEOUT_S = 30;

export function timeoutMsOf(opts: Opts): number {
  if (opts.timeout === undefined) return DEFAULT_TIMEOUT_S * 1000;
  const s = Number(opts.timeout);
  if (!Number.isFinite(s) || s < 0 || s > 3600)
    throw invalid(`--timeout ${String(opts.timeout)} is not a number of seconds (0-3600)`);
  return Math.round(s * 1000);
}

export function needHost(opts: Opts, what: string): string {
  if (!opts.host) {
    throw invalid(
      `${what} through the controller needs --host`,
      "say where the container runs, e.g. --host h2 (see: fleetnet hosts), or use --local for this host's agent",
    );
  }
  return parseHostName(String(opts.host)); // a name no host can have: exit 2 before connecting
}

export function describeAttachment(a: Attachment): string {
  const who = a.container?.name || a.target?.value || '?';
  const side = a.hostIfname ? `, host side ${a.hostIfname}` : '';
  return (
    `${who} ${a.ifname} ${a.mac} ${a.addresses.join(' ') || 'no address'} on ` +
    `${a.host} (${a.network}, ${a.hostIf}${side})`
  );
}

/** Exit 0 when up, 1 when the agent failed it, 3 while still pending (or its host's agent is unreachable). */
export function settle(a: Attachment, verb: string): void {
  if (a.state === 'failed') {
    // the controller keeps what was asked (and its addresses) and tries again; detach is how it goes
    const i = a.ifname === 'eth1' ? '' : ` -i ${a.ifname}`;
    const drop = `fleetnet detach --host ${a.host}${i} ${a.container?.name || a.target?.value}`;
    throw new FleetnetError('failed', `${verb} failed on ${a.host}: ${a.error}`, {
      hint:
        verb === 'attach'
          ? `it stays recorded, holding its address, and is tried again (e.g. once the container exists); ` +
            `to drop it: ${drop}`
          : `follow it with: fleetnet ls --host ${a.host}`,
    });
  }
  if (a.state === 'pending' || a.state === 'detaching' || a.state === 'unreachable') {
    const why = a.error ? ` (${a.error})` : '';
    throw new FleetnetError('pending', `${verb} is still pending on ${a.host}${why}; the controller will finish it`, {
      hint: `follow it with: fleetnet ls --host ${a.host}`,
    });
  }
}

/** The controller this invocation talks to, or undefined for the local agent. */
export async function controllerOf(cmd: Command): Promise<ControllerChoice | undefined> {
  return controllerFor(cmd.optsWithGlobals());
}

/** controllerOf from a command's options merged with the program's (commander's optsWithGlobals()). */
export async function controllerFor(opts: Opts): Promise<ControllerChoice | undefined> {
  const g = opts as { controller?: string; local?: boolean; host?: string; socket?: string };
  // An explicit --socket names an agent: it wins over a controller from the environment or config.
  const ctl = await chooseController({ ...g, local: g.local || (Boolean(g.socket) && !g.controller) });
  if (!ctl && g.host) {
    throw invalid(
      '--host needs a controller',
      'give --controller ADDR (or FLEETNET_CONTROLLER, or controller: in ' +
        '~/.config/fleetnet/config.yaml); without --host the local agent answers',
    );
  }
  return ctl;
}

/**
 * While a change waits on the controller, Ctrl-C ends only the wait: say what becomes of the change (it stays
 * recorded, if it arrived, and is carried out) and how to follow or undo it. Returns the disposer.
 */
export function noteInterrupt(what: string, host: string, undo: string): () => void {
  const onInt = () => {
    process.stderr.write(
      `\nfleetnet: interrupted: only the wait ended. The ${what} stays recorded on the controller (if it arrived ` +
        `there) and is carried out when ${host}'s agent answers.\n  follow it with: fleetnet ls --host ${host}` +
        `\n  undo it with: ${undo}\n`,
    );
    process.exit(130);
  };
  process.once('SIGINT', onInt);
  return () => process.off('SIGINT', onInt);
}
