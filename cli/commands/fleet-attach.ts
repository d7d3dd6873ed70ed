// attach / detach / ls through the controller (the fleet path). attach.ts, detach.ts and ls.ts
// branch here when a controller is configured; the local-agent path stays theirs.
import type { Command } from 'commander';
import { parseAttachArgs, parseTarget } from '../../common/attach-args.js';
import { FleetnetError, invalid } from '../../common/errors.js';
import { parseIfName } from '../../common/ifname.js';
import type { Attachment } from '../../proto/gen/fleetnet/v1/controller.js';
import type { ControllerChoice } from '../client/controller-address.js';
import { printJson, table } from '../output/table.js';
import { commonRequestFields } from './attach.js';

type Opts = Record<string, string | boolean | undefined>;

const DEFAULT_TIMEOUT_S = 30;

function timeoutMsOf(opts: Opts): number {
  if (opts.timeout === undefined) return DEFAULT_TIMEOUT_S * 1000;
  const s = Number(opts.timeout);
  if (!Number.isFinite(s) || s < 0 || s > 3600) throw invalid(`--timeout ${String(opts.timeout)} is not a number of seconds (0-3600)`);
  return Math.round(s * 1000);
}

function needHost(opts: Opts, what: string): string {
  if (!opts.host) throw invalid(`${what} through the controller needs --host`, 'say where the container runs, e.g. --host h2 (see: fleetnet hosts), or use --local for this host\'s agent');
  return String(opts.host);
}

export function describeAttachment(a: Attachment): string {
  const who = a.container?.name || a.target?.value || '?';
  return `${who} ${a.ifname} ${a.mac} ${a.addresses.join(' ') || 'no address'} on ${a.host} (${a.network}, ${a.hostIf}${a.hostIfname ? `, host side ${a.hostIfname}` : ''})`;
}

/** Exit 0 when up, 1 when the agent failed it, 3 while still pending. */
function settle(a: Attachment, verb: string): void {
  if (a.state === 'failed') throw new FleetnetError('failed', `${verb} failed on ${a.host}: ${a.error}`);
  if (a.state === 'pending' || a.state === 'detaching') {
    throw new FleetnetError('pending', `${verb} is still pending on ${a.host}${a.error ? ` (${a.error})` : ''}; the controller will finish it`, {
      hint: `follow it with: fleetnet ls --host ${a.host}`,
    });
  }
}

export async function fleetAttach(ctl: ControllerChoice, words: string[], opts: Opts): Promise<void> {
  const args = parseAttachArgs(words, { ...(opts.net ? { net: String(opts.net) } : {}) });
  if (args.hostIf) throw invalid(`'${args.hostIf}' names a host interface, but the controller picks it from the network`, 'write: fleetnet attach --host H CONTAINER ADDRESS (or --net N), or use --local with a host interface');
  const host = needHost(opts, 'attach');
  const timeoutMs = timeoutMsOf(opts);
  let mtu = 0;
  if (opts.mtu !== undefined) {
    mtu = Number(opts.mtu);
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw invalid(`--mtu ${String(opts.mtu)} is not an MTU (68-65535)`);
  }
  if (opts.dryRun) throw invalid('--dry-run is answered by an agent', 'use --local on the host to see the commands');
  const { connectController } = await import('../client/controller.js');
  const conn = connectController(ctl.addr);
  try {
    const res = await conn.call(conn.client.fleetAttach, {
      host,
      network: opts.net ? String(opts.net) : '',
      ...commonRequestFields(args, opts),
      mtu,
      attachmentId: '',
      waitMs: timeoutMs,
      keepAddress: Boolean(opts.keepAddress),
    }, timeoutMs + 10_000);
    const a = res.attachment!;
    if (opts.json) printJson(a);
    else if (a.state === 'up') process.stdout.write(`${res.created ? 'attached' : 'already attached'}: ${describeAttachment(a)}\n`);
    else process.stdout.write(`${a.state}: ${describeAttachment(a)}\n`);
    settle(a, 'attach');
  } finally {
    conn.close();
  }
}

export async function fleetDetach(ctl: ControllerChoice, container: string, opts: Opts): Promise<void> {
  const host = needHost(opts, 'detach');
  const target = parseTarget(container);
  const ifname = parseIfName(String(opts.ifname ?? 'eth1'), 'container interface name (-i)');
  const timeoutMs = timeoutMsOf(opts);
  const { connectController } = await import('../client/controller.js');
  const conn = connectController(ctl.addr);
  try {
    const res = await conn.call(conn.client.fleetDetach, { host, target: { kind: target.kind, value: target.value }, ifname, attachmentId: '', waitMs: timeoutMs }, timeoutMs + 10_000);
    if (opts.json) printJson(res);
    else if (!res.found) process.stdout.write(`nothing to detach: ${container} has no ${ifname} on ${host}\n`);
    else if (res.done) process.stdout.write(`detached ${ifname} from ${container} on ${host}\n`);
    if (res.found && !res.done) settle(res.attachment!, 'detach');
  } finally {
    conn.close();
  }
}

export async function fleetLs(ctl: ControllerChoice, opts: Opts): Promise<void> {
  const req = { host: opts.host ? String(opts.host) : '', network: opts.net ? String(opts.net) : '', container: '' };
  const { connectController } = await import('../client/controller.js');
  const conn = connectController(ctl.addr);
  try {
    if (opts.json) {
      await conn.streamJson(req, process.stdout);
      process.stdout.write('\n');
      return;
    }
    const res = await conn.call(conn.client.listAttachments, req);
    const rows = res.attachments.map((a) => [
      a.container?.name || a.target?.value || '', a.host, a.network, a.ifname, a.mac, a.addresses.join(',') || '-', a.state, a.error,
    ]);
    process.stdout.write(table(['CONTAINER', 'HOST', 'NET', 'IF', 'MAC', 'ADDRESSES', 'STATE', 'ERROR'], rows) + '\n');
  } finally {
    conn.close();
  }
}

/** The controller this invocation talks to, or undefined for the local agent. */
export async function controllerOf(cmd: Command): Promise<ControllerChoice | undefined> {
  const { chooseController } = await import('../client/controller-address.js');
  const g = cmd.optsWithGlobals() as { controller?: string; local?: boolean; host?: string; socket?: string };
  // An explicit --socket names an agent: it wins over a controller from the environment or config.
  const ctl = chooseController({ ...g, local: g.local || (Boolean(g.socket) && !g.controller) });
  if (!ctl && g.host) {
    throw invalid('--host needs a controller', 'give --controller ADDR (or FLEETNET_CONTROLLER, or controller: in ~/.config/fleetnet/config.yaml); without --host the local agent answers');
  }
  return ctl;
}
