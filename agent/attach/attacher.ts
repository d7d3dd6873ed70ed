// Attach and detach: pipework's core, idempotent, undone on any failure, read back before success.
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { AddressSpec } from '../../common/attach-args.js';
import { conflict, FleetnetError, notFound, unsupported } from '../../common/errors.js';
import { hostIfName } from '../../common/ifname.js';
import { KeyedQueue } from '../../common/keyed-queue.js';
import type { Runner } from '../../common/runner.js';
import { UndoStack } from '../../common/undo.js';
import type { ContainerResolver } from '../containers/resolve.js';
import type { ContainerInfo } from '../containers/types.js';
import { line, type IpExec } from '../linux/ip.js';
import { OWNED_ALIAS, readHostLink, type HostLink } from '../linux/sysfs.js';
import { orderFingerprint, type AttachOrder, type DetachOrder, type HostIfKind } from './order.js';
import { parseAddrShow, verifyLink } from './readback.js';
import { recordKey, type AttachmentRecord, type RecordStore, type RouteSnapshot } from './records.js';

export interface AttacherDeps {
  runner: Runner;
  ip: IpExec;
  records: RecordStore;
  resolver: ContainerResolver;
  log: Logger;
  sysClassNet?: string;
  /** Send gratuitous ARP after addressing (off the reply's path). */
  garp?: boolean;
}

export interface AttachResult {
  record: AttachmentRecord;
  changed: boolean;
  commands: string[];
}

type Static = Extract<AddressSpec, { kind: 'static' }>;

export class Attacher {
  private readonly queue = new KeyedQueue();
  /** Attaches under way per host interface: a bridge in use by one of them is never removed. */
  private readonly inflight = new Map<string, number>();
  constructor(private readonly d: AttacherDeps) {}

  async attach(order: AttachOrder): Promise<AttachResult> {
    const container = await this.d.resolver.resolve(order.target);
    const key = recordKey(container.nsKey, order.ifname);
    return this.queue.run(key, () => this.attachLocked(order, container, key));
  }

  private async attachLocked(order: AttachOrder, c: ContainerInfo, key: string): Promise<AttachResult> {
    const fp = orderFingerprint(order);
    const existing = this.d.records.get(key);
    if (existing && !order.dryRun) {
      if (existing.fingerprint !== fp) {
        throw conflict(
          `${describe(c)} already has ${order.ifname} from fleetnet with other settings (${existing.hostIf}, ${existing.addresses.join(' ') || 'no address'}, ${existing.mac})`,
          `detach it first: fleetnet detach ${c.name} -i ${order.ifname}`,
        );
      }
      const live = parseAddrShow((await this.d.ip.inNs(c.netns, [line('addr', 'show', 'dev', order.ifname)]).catch(() => [[]]))[0] ?? []);
      if (live && existing.addresses.every((a) => live.addresses.includes(a))) return { record: existing, changed: false, commands: [] };
      this.d.log.info({ key }, 'recorded interface is gone from the container; making it again');
      this.d.records.delete(key);
    }
    const statics = order.addresses.filter((a): a is Static => a.kind === 'static');
    if (order.addresses.some((a) => a.kind === 'dhcp')) throw unsupported('DHCP addressing is not available in this version of the agent');
    const host = readHostLink(order.hostIf, this.d.sysClassNet);
    const kind = this.decideKind(order, host);
    if (order.id !== undefined) throw unsupported(`@${order.id}: VLANs on a ${kind} are not available in this version of the agent`);
    const createBridge = !host;
    const mtu = order.mtu ?? host?.mtu ?? 1500;
    const hostIfname = order.hostIfname ?? hostIfName(c.runtime, c.id, order.ifname);
    const mac = order.mac.kind === 'auto' ? undefined : order.mac.mac;

    const hostLines = [
      line('link', 'add', hostIfname, 'mtu', mtu, 'type', 'veth', 'peer', 'name', order.ifname, 'mtu', mtu, ...(mac ? ['address', mac] : []), 'netns', c.netns),
      line('link', 'set', hostIfname, 'master', order.hostIf, 'up'),
    ];
    const nsLines = [
      ...statics.map((a) => line('addr', 'add', a.cidr.text, 'dev', order.ifname, ...(a.cidr.addr.family === 6 ? ['nodad'] : []))),
      line('link', 'set', order.ifname, 'up'),
      ...statics.filter((a) => a.gateway).map((a) => line('route', 'replace', 'default', 'via', a.gateway!.text, 'dev', order.ifname)),
      line('addr', 'show', 'dev', order.ifname),
    ];
    const gwFamilies = [...new Set(statics.filter((a) => a.gateway).map((a) => a.cidr.addr.family))];

    if (order.dryRun) {
      const commands = [
        ...(createBridge ? this.d.ip.describe(undefined, bridgeLines(order.hostIf)) : []),
        ...gwFamilies.map((f) => `nsenter --net=${c.netns} ip -${f} -json route show default`),
        ...this.d.ip.describe(undefined, hostLines),
        ...this.d.ip.describe(c.netns, nsLines),
      ];
      return { record: this.makeRecord(order, c, key, fp, kind, hostIfname, mtu, mac ?? '', [], false), changed: false, commands };
    }

    const undo = new UndoStack();
    this.inflight.set(order.hostIf, (this.inflight.get(order.hostIf) ?? 0) + 1);
    try {
      if (createBridge || existingOwned(host)) undo.push('delete created bridge', () => this.deleteOwnedIfUnused(order.hostIf));
      const created = createBridge ? await this.ensureBridge(order.hostIf) : false;
      const replaced: RouteSnapshot[] = [];
      for (const f of gwFamilies) replaced.push(...(await this.readDefaults(c.netns, f)));

      undo.push('delete host veth', () => this.d.runner.run('ip', ['link', 'del', hostIfname], { allowFail: true }));
      await this.d.ip.host(hostLines);
      if (replaced.length) undo.push('restore default routes', () => this.restoreDefaults(c.netns, replaced));
      const out = await this.d.ip.inNs(c.netns, nsLines);
      const live = verifyLink(parseAddrShow(out[out.length - 1] ?? []), {
        ifname: order.ifname,
        addresses: statics.map((a) => a.cidr.text),
        ...(mac ? { mac } : {}),
        mtu,
      });
      const record = this.makeRecord(order, c, key, fp, kind, hostIfname, mtu, live.mac, replaced, created || existingOwned(host));
      record.addresses = live.addresses;
      this.d.records.put(record);
      undo.clear();
      if (this.d.garp !== false) this.announce(c.netns, order.ifname, statics);
      return { record, changed: true, commands: [] };
    } finally {
      this.inflight.set(order.hostIf, (this.inflight.get(order.hostIf) ?? 1) - 1);
      await undo.unwind(this.d.log);
    }
  }

  private decideKind(order: AttachOrder, host: HostLink | undefined): HostIfKind {
    if (!host) {
      if (order.kind === 'bridge' || (!order.kind && order.hostIf.startsWith('br'))) return 'bridge';
      if (order.kind) throw unsupported(`creating a missing ${order.kind} host interface is not available in this version of the agent`);
      throw notFound(
        `host interface '${order.hostIf}' does not exist`,
        `create it first, or name a bridge br* (or pass --kind bridge) to have fleetnet create one`,
      );
    }
    if (host.kind === 'bridge') {
      if (order.kind && order.kind !== 'bridge') throw conflict(`'${order.hostIf}' is a Linux bridge, not ${order.kind}`);
      return 'bridge';
    }
    throw unsupported(`'${order.hostIf}' is not a Linux bridge; attaching to other host interfaces is not available in this version of the agent`);
  }

  private async ensureBridge(name: string): Promise<boolean> {
    return this.queue.run(`hostif:${name}`, async () => {
      if (readHostLink(name, this.d.sysClassNet)) return false;
      try {
        await this.d.ip.host(bridgeLines(name));
      } catch (err) {
        // It did not exist a moment ago and nobody else creates it (this queue): remove what the batch left.
        await this.d.runner.run('ip', ['link', 'del', name], { allowFail: true });
        throw err;
      }
      return true;
    });
  }

  /** Removes a host interface that fleetnet created, once no attachment uses it. What it found stays. */
  private async deleteOwnedIfUnused(name: string): Promise<void> {
    await this.queue.run(`hostif:${name}`, async () => {
      if ((this.inflight.get(name) ?? 0) > 0 || this.d.records.find((r) => r.hostIf === name).length) return;
      const h = readHostLink(name, this.d.sysClassNet);
      if (!h || h.alias !== OWNED_ALIAS) return;
      await this.d.runner.run('ip', ['link', 'del', name], { allowFail: true });
    });
  }

  private async readDefaults(netns: string, family: 4 | 6): Promise<RouteSnapshot[]> {
    const r = await this.d.runner.run('nsenter', [`--net=${netns}`, 'ip', `-${family}`, '-json', 'route', 'show', 'default']);
    const rows = JSON.parse(r.stdout || '[]') as { gateway?: string; dev?: string }[];
    return rows.map((x) => ({ family, ...(x.gateway ? { gateway: x.gateway } : {}), ...(x.dev ? { dev: x.dev } : {}) }));
  }

  private async restoreDefaults(netns: string, routes: RouteSnapshot[]): Promise<void> {
    for (const r of routes) {
      const args = ['route', 'replace', 'default', ...(r.gateway ? ['via', r.gateway] : []), ...(r.dev ? ['dev', r.dev] : [])];
      const res = await this.d.runner.run('nsenter', [`--net=${netns}`, 'ip', `-${r.family}`, ...args], { allowFail: true });
      if (res.code !== 0) this.d.log.warn({ netns, route: r, stderr: res.stderr.trim() }, 'could not restore a default route');
    }
  }

  /**
   * Announces the addresses (gratuitous ARP for IPv4, unsolicited neighbour advertisement for
   * IPv6) in the background: the reply does not wait for it, and each helper ends on its own.
   */
  private announce(netns: string, ifname: string, statics: Static[]): void {
    for (const a of statics) {
      const ip = a.cidr.addr.text;
      const argv = a.cidr.addr.family === 4
        ? ['arping', '-q', '-U', '-c', '1', '-I', ifname, '-s', ip, ip]
        : ['ndptool', '-t', 'na', '-U', '-i', ifname, '-T', ip, 'send'];
      this.d.runner
        .run('nsenter', [`--net=${netns}`, ...argv], { allowFail: true, timeoutMs: 3000 })
        .catch((err: unknown) => this.d.log.debug({ err, ip }, 'address not announced'));
    }
  }

  private makeRecord(
    order: AttachOrder, c: ContainerInfo, key: string, fp: string, kind: HostIfKind,
    hostIfname: string, mtu: number, mac: string, replaced: RouteSnapshot[], createdHostIf: boolean,
  ): AttachmentRecord {
    const statics = order.addresses.filter((a): a is Static => a.kind === 'static');
    return {
      key, attachmentId: order.attachmentId ?? key, fingerprint: fp, container: c, ifname: order.ifname, hostIfname,
      hostIf: order.hostIf, kind, mac, addresses: statics.map((a) => a.cidr.text),
      gateways: statics.flatMap((a) => (a.gateway ? [a.gateway.text] : [])), mtu, vlan: order.id ?? '',
      createdHostIf, replacedDefaults: replaced, createdAtMs: Date.now(),
    };
  }

  async detach(order: DetachOrder): Promise<{ removed: boolean }> {
    const matches = await this.findForDetach(order);
    let removed = false;
    for (const r of matches) {
      await this.queue.run(r.key, async () => {
        if (!this.d.records.get(r.key)) return;
        if (r.hostIfname) await this.d.runner.run('ip', ['link', 'del', r.hostIfname], { allowFail: true });
        else await this.d.runner.run('nsenter', [`--net=${r.container.netns}`, 'ip', 'link', 'del', r.ifname], { allowFail: true });
        if (r.replacedDefaults.length && (await nsAlive(r.container))) await this.restoreDefaults(r.container.netns, r.replacedDefaults);
        this.d.records.delete(r.key);
        removed = true;
      });
      if (r.createdHostIf) await this.deleteOwnedIfUnused(r.hostIf);
    }
    return { removed };
  }

  private async findForDetach(order: DetachOrder): Promise<AttachmentRecord[]> {
    if (order.attachmentId) return this.d.records.find((r) => r.attachmentId === order.attachmentId);
    try {
      const c = await this.d.resolver.resolve(order.target);
      const r = this.d.records.get(recordKey(c.nsKey, order.ifname));
      if (r) return [r];
      // The same container may have been attached under an earlier namespace (it restarted).
      return this.d.records.find((x) => x.ifname === order.ifname && x.container.runtime === c.runtime && x.container.id === c.id);
    } catch (err) {
      if (!(err instanceof FleetnetError)) throw err;
      if (err.kind === 'invalid' || err.kind === 'ambiguous') throw err;
      // The container is gone or stopped: CNI DEL semantics, remove what we recorded for it.
      const v = order.target.value;
      return this.d.records.find(
        (x) => x.ifname === order.ifname && (x.container.name === v || x.container.id === v || (v.length >= 12 && x.container.id.startsWith(v)) || String(x.container.pid) === v),
      );
    }
  }

  list(): AttachmentRecord[] {
    return this.d.records.all();
  }

  /** What is true now of a recorded interface, read from sysfs and /proc (no process is run). */
  liveState(r: AttachmentRecord): 'up' | 'missing' | 'container-gone' {
    if (!existsSync(r.container.netns)) return 'container-gone';
    if (r.hostIfname && !readHostLink(r.hostIfname, this.d.sysClassNet)) return 'missing';
    return 'up';
  }
}

function bridgeLines(name: string): string[] {
  return [line('link', 'add', name, 'type', 'bridge'), line('link', 'set', name, 'alias', OWNED_ALIAS), line('link', 'set', name, 'up')];
}

function existingOwned(h: HostLink | undefined): boolean {
  return h?.alias === OWNED_ALIAS;
}

async function nsAlive(c: ContainerInfo): Promise<boolean> {
  return existsSync(c.netns);
}

function describe(c: ContainerInfo): string {
  return c.runtime === 'docker' ? `container ${c.name}` : c.runtime === 'netns' ? `netns ${c.name}` : `${c.runtime} ${c.name}`;
}
