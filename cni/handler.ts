// The agent's side of a CNI call: ADD, DEL, CHECK, GC and STATUS for `fleetnet` (interface and
// addresses) and `fleetnet-ipam` (addresses only). The interface is made by the agent's own
// Attacher, in-process; addresses come from the fleet controller when the agent has one
// (./fleet-link.ts), else from a local pool (./reservations.ts). Every failure is a CniError.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { FleetnetError } from '../common/errors.js';
import { hostIfName, parseIfName } from '../common/ifname.js';
import { parseAddr, parseIfAddr } from '../common/ip.js';
import type { AttachOrder } from '../agent/attach/order.js';
import type { Attacher } from '../agent/attach/attacher.js';
import type { Runner } from '../common/runner.js';
import type { FleetLink } from './fleet-link.js';
import { parseNetConf, type NetConf } from './netconf.js';
import type { Reservation, Reservations } from './reservations.js';
import { CniCode, CniError, compareVersions, renderResult, type CniResult } from './spec.js';

export interface CniCall {
  plugin: 'fleetnet' | 'fleetnet-ipam';
  command: string;
  containerId: string;
  netns: string;
  ifname: string;
  config: Uint8Array;
}

export interface CniHandlerDeps {
  attacher: Pick<Attacher, 'attach' | 'detach'>;
  reservations: Reservations;
  runner: Runner;
  log: Logger;
  /** The fleet controller, when the agent has one: addresses and MACs come from it. */
  fleet?: FleetLink;
}

/** The attachment id of one CNI attachment: stable across calls, so DEL and CHECK find ADD's work. */
export function cniAttachmentId(network: string, containerId: string, ifname: string): string {
  return `cni-${createHash('sha256').update([network, containerId, ifname].join('\0')).digest('hex').slice(0, 20)}`;
}

/** A FleetnetError (or anything) as the CNI error a runtime reads. */
export function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  if (err instanceof FleetnetError) {
    const details = err.hint ?? '';
    switch (err.kind) {
      case 'invalid':
        return new CniError(CniCode.invalidConfig, err.message, details);
      case 'not_found':
        return new CniError(CniCode.containerUnknown, err.message, details);
      case 'conflict':
        return new CniError(CniCode.conflict, err.message, details);
      case 'unavailable':
      case 'pending':
        return new CniError(CniCode.tryAgainLater, err.message, details);
      default:
        return new CniError(CniCode.attachFailed, err.message, details);
    }
  }
  return new CniError(CniCode.attachFailed, (err as Error).message ?? String(err));
}

export class CniHandler {
  constructor(private readonly d: CniHandlerDeps) {}

  /** One call; resolves to stdout text (may be empty) or rejects with a CniError. */
  async handle(call: CniCall): Promise<string> {
    let raw: unknown;
    try {
      raw = JSON.parse(Buffer.from(call.config).toString('utf8'));
    } catch (err) {
      throw new CniError(CniCode.decodeFailure, 'cannot decode the network configuration', (err as Error).message);
    }
    const conf = parseNetConf(call.plugin, raw);
    if ((call.command === 'GC' || call.command === 'STATUS') && compareVersions(conf.cniVersion, '1.1.0') < 0) {
      throw new CniError(
        CniCode.incompatibleVersion,
        `${call.command} needs cniVersion 1.1.0 (the configuration says ${conf.cniVersion})`,
      );
    }
    if (call.ifname) parseIfNameCni(call.ifname);
    switch (call.command) {
      case 'ADD':
        return JSON.stringify(renderResult(await this.add(conf, call)));
      case 'DEL':
        await this.del(conf, call);
        return '';
      case 'CHECK':
        await this.check(conf, call);
        return '';
      case 'GC':
        await this.gc(conf);
        return '';
      case 'STATUS':
        await this.status(conf);
        return '';
      default:
        throw new CniError(CniCode.invalidEnv, `CNI_COMMAND '${call.command}' is not handled by the agent`);
    }
  }

  private async add(conf: NetConf, call: CniCall): Promise<CniResult> {
    const net = conf.pool.network;
    const id = cniAttachmentId(net, call.containerId, call.ifname);
    if (conf.link) await this.refuseRepeatedAdd(net, id, call);
    if (this.d.fleet) return conf.link ? this.d.fleet.add(conf, call, id) : this.d.fleet.reserve(conf, call, id);
    const { res, fresh } = await this.d.reservations.locked(net, async () => {
      const have = this.d.reservations.get(net, id);
      if (have) return { res: have, fresh: false };
      const r: Reservation = {
        id,
        containerId: call.containerId,
        ifname: call.ifname,
        netns: call.netns,
        plugin: conf.plugin,
        addresses: [this.d.reservations.nextFree(conf.pool)],
        ...(conf.pool.gateway ? { gateway: conf.pool.gateway.text } : {}),
        createdMs: Date.now(),
      };
      this.d.reservations.put(net, r);
      return { res: r, fresh: true };
    });
    if (!conf.link) return this.result(conf, res);
    try {
      if (!fresh) {
        // The same container and ifname again, in another namespace (a restart without DEL) or with its interface
        // gone: what is left of the old one goes, and the interface is made anew with the reserved address and MAC.
        await this.d.attacher.detach({
          target: { kind: 'path', value: res.netns },
          ifname: parseIfName(call.ifname),
          attachmentId: id,
        });
      }
      const made = await this.d.attacher.attach(this.order(conf, call, id, res));
      const r: Reservation = { ...res, netns: call.netns, mac: made.record.mac };
      await this.d.reservations.locked(net, () => this.d.reservations.put(net, r));
      return this.result(conf, r, made.record.hostIfname);
    } catch (err) {
      if (fresh) await this.d.reservations.locked(net, () => this.d.reservations.delete(net, id));
      // With the namespace there, what was not found is something the configuration names (its bridge or
      // master): the spec's invalid-config code, not "container unknown".
      if (err instanceof FleetnetError && err.kind === 'not_found' && existsSync(call.netns))
        throw new CniError(CniCode.invalidConfig, err.message, err.hint ?? '');
      throw toCniError(err);
    }
  }

  /**
   * A second ADD for a container and interface whose interface ADD made is still there: the spec says a plugin
   * MUST refuse an interface name that exists in the container (a runtime should DEL before it ADDs again).
   */
  private async refuseRepeatedAdd(net: string, id: string, call: CniCall): Promise<void> {
    const have = this.d.reservations.get(net, id);
    if (!have || have.netns !== call.netns || !(await this.liveAddresses(call.netns, call.ifname))) return;
    throw new CniError(
      CniCode.conflict,
      `interface ${call.ifname} already exists in ${call.netns}: an earlier ADD of container ${call.containerId} ` +
        `on network ${net} made it (${have.addresses.join(', ') || 'no address'})`,
      'a runtime ADDs a container and interface once until its DEL: DEL it first, or CHECK it',
    );
  }

  order(conf: NetConf, call: CniCall, id: string, r: Pick<Reservation, 'addresses' | 'gateway' | 'mac'>): AttachOrder {
    const l = conf.link!;
    const gw = r.gateway && l.defaultRoute ? parseAddr(r.gateway) : undefined;
    return {
      hostIf: l.hostIf,
      kind: l.kind,
      target: { kind: 'path', value: call.netns },
      ifname: parseIfName(call.ifname),
      hostIfname: hostIfName('cni', call.containerId, call.ifname),
      addresses: r.addresses.map((a) => ({
        kind: 'static' as const,
        cidr: parseIfAddr(a),
        ...(gw && parseIfAddr(a).addr.family === gw.family ? { gateway: gw } : {}),
      })),
      mac: r.mac ? { kind: 'explicit', mac: r.mac as never } : { kind: 'auto' },
      ...(l.vlan ? { id: String(l.vlan) } : {}),
      ...(l.mtu ? { mtu: l.mtu } : {}),
      ...(l.macvlanMode ? { macvlanMode: l.macvlanMode } : {}),
      ...(l.ovsDatapath ? { ovsDatapath: l.ovsDatapath } : {}),
      dryRun: false,
      attachmentId: id,
    };
  }

  result(conf: NetConf, r: Reservation, hostIfname = ''): CniResult {
    const ifaces = conf.link
      ? [
          ...(hostIfname ? [{ name: hostIfname }] : []),
          { name: r.ifname, ...(r.mac ? { mac: r.mac } : {}), sandbox: r.netns },
        ]
      : [];
    const routes = [...conf.pool.routes];
    if (conf.link?.defaultRoute && r.gateway)
      routes.push({ dst: r.gateway.includes(':') ? '::/0' : '0.0.0.0/0', gw: r.gateway });
    return {
      cniVersion: conf.cniVersion,
      ...(conf.link ? { interfaces: ifaces } : {}),
      ips: r.addresses.map((a) => ({
        address: a,
        ...(r.gateway ? { gateway: r.gateway } : {}),
        ...(conf.link ? { interface: ifaces.length - 1 } : {}),
      })),
      ...(routes.length ? { routes } : {}),
      ...(conf.dns ? { dns: conf.dns } : {}),
    };
  }

  private async del(conf: NetConf, call: CniCall): Promise<void> {
    const net = conf.pool.network;
    const id = cniAttachmentId(net, call.containerId, call.ifname);
    await this.release(conf, net, id, call.netns, call.ifname, call.containerId);
  }

  /** Removes what an attachment has (interface, then reservation); nothing there is no error. */
  private async release(
    conf: NetConf,
    net: string,
    id: string,
    netns: string,
    ifname: string,
    containerId: string,
  ): Promise<void> {
    const had = this.d.reservations.get(net, id);
    if (this.d.fleet && (had?.controller ?? true)) {
      return this.d.fleet.del(
        conf,
        { plugin: conf.plugin, command: 'DEL', containerId, netns, ifname, config: new Uint8Array() },
        id,
      );
    }
    if (conf.link) {
      await this.d.attacher
        .detach({
          target: { kind: 'path', value: netns || '/nonexistent' },
          ifname: parseIfName(ifname),
          attachmentId: id,
        })
        .catch((err: unknown) => {
          throw toCniError(err);
        });
    }
    await this.d.reservations.locked(net, () => this.d.reservations.delete(net, id));
  }

  private async check(conf: NetConf, call: CniCall): Promise<void> {
    if (!conf.prevResult)
      throw new CniError(
        CniCode.invalidConfig,
        'invalid network configuration: prevResult: CHECK needs the result of ADD',
        'the runtime passes it',
      );
    const net = conf.pool.network;
    const id = cniAttachmentId(net, call.containerId, call.ifname);
    const r = this.d.fleet ? await this.d.fleet.reservation(conf, call, id) : this.d.reservations.get(net, id);
    if (!r)
      throw new CniError(
        CniCode.checkFailed,
        `no reservation for container ${call.containerId} (${call.ifname}) on network ${net}`,
        'ADD it again',
      );
    const prev = new Set((conf.prevResult.ips ?? []).map((ip) => ip.address));
    const mine = r.addresses.filter((a) => !prev.has(a));
    if (mine.length)
      throw new CniError(
        CniCode.invalidConfig,
        `invalid network configuration: prevResult.ips: does not hold ${mine.join(', ')}, reserved for this container`,
        `prevResult has ${[...prev].join(', ') || 'no address'}`,
      );
    const live = await this.liveAddresses(call.netns, call.ifname);
    if (!live) throw new CniError(CniCode.checkFailed, `interface ${call.ifname} is missing from ${call.netns}`);
    if (conf.link && r.mac && live.mac !== r.mac)
      throw new CniError(CniCode.checkFailed, `interface ${call.ifname} has MAC ${live.mac}, ADD gave it ${r.mac}`);
    const gone = r.addresses.filter((a) => !live.addresses.includes(a));
    if (gone.length)
      throw new CniError(
        CniCode.checkFailed,
        `interface ${call.ifname} in ${call.netns} lacks ${gone.join(', ')}`,
        `it has ${live.addresses.join(', ') || 'no address'}`,
      );
  }

  /** The interface's MAC and addresses inside a namespace; undefined when it is not there. */
  private async liveAddresses(
    netns: string,
    ifname: string,
  ): Promise<{ mac: string; addresses: string[] } | undefined> {
    const out = await this.d.runner.run('nsenter', [`--net=${netns}`, 'ip', '-j', 'addr', 'show', 'dev', ifname], {
      allowFail: true,
    });
    if (out.code !== 0) return undefined;
    const [link] = JSON.parse(out.stdout || '[]') as {
      address?: string;
      addr_info?: { local: string; prefixlen: number }[];
    }[];
    if (!link) return undefined;
    return { mac: link.address ?? '', addresses: (link.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`) };
  }

  private async gc(conf: NetConf): Promise<void> {
    // A GC without its list is a malformed call, never "nothing is valid" (which would tear every attachment down).
    if (!conf.validAttachments)
      throw new CniError(
        CniCode.invalidConfig,
        'GC needs cni.dev/valid-attachments',
        'the runtime passes the attachments still in use (an empty list means none); nothing was released',
      );
    const net = conf.pool.network;
    const valid = new Set(conf.validAttachments.map((v) => cniAttachmentId(net, v.containerID, v.ifname)));
    const stale = this.d.reservations.all(net).filter((r) => r.plugin === conf.plugin && !valid.has(r.id));
    for (const r of stale) {
      this.d.log.info(
        { network: net, containerId: r.containerId, ifname: r.ifname },
        'cni gc: releasing an attachment not in the valid list',
      );
      await this.release(conf, net, r.id, r.netns, r.ifname, r.containerId);
    }
    if (!this.d.fleet) return;
    // What the controller holds for this host that this agent's own file does not know (a lost state folder).
    const released = new Set(stale.map((r) => r.id));
    for (const id of await this.d.fleet.held(conf)) {
      if (valid.has(id) || released.has(id)) continue;
      this.d.log.info({ network: net, id }, 'cni gc: releasing a controller attachment not in the valid list');
      const call: CniCall = {
        plugin: conf.plugin,
        command: 'DEL',
        containerId: '',
        netns: '',
        ifname: '',
        config: new Uint8Array(),
      };
      await this.d.fleet.del(conf, call, id);
    }
  }

  private async status(conf: NetConf): Promise<void> {
    if (this.d.fleet) return this.d.fleet.status(conf);
    if (!conf.pool.subnet) return; // nothing to allocate from: ADD will say so with the field
    const free = await this.d.reservations.locked(conf.pool.network, () => this.d.reservations.hasFree(conf.pool));
    if (!free)
      throw new CniError(
        CniCode.notAvailable,
        `network ${conf.pool.network} has no free address`,
        'DEL unused containers, or widen the range',
      );
  }
}

function parseIfNameCni(s: string): void {
  try {
    parseIfName(s, 'CNI_IFNAME');
  } catch (err) {
    throw new CniError(CniCode.invalidEnv, (err as Error).message);
  }
}
