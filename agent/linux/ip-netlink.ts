// The agent's `ip -batch` lines carried out in-process over route netlink instead of by two execs.
// Only the forms fleetnet itself writes are understood (below); a batch holding any other line runs
// through `ip` as before, so what an attach does never depends on which path ran it. --dry-run
// still prints the iproute2 commands: they are the exact equivalent an operator can run by hand.
import { closeSync } from 'node:fs';
import { failed } from '../../common/errors.js';
import { parseIfAddr, tryParseAddr } from '../../common/ip.js';
import { parseMac } from '../../common/mac.js';
import type { IpExec } from './ip.js';
import type { Rtnl, RtSocket } from './rtnetlink.js';

interface Addr { family: 4 | 6; bytes: Buffer; prefix: number }

export type Op =
  | { t: 'veth'; name: string; mtu?: number; mac?: string; peer: { name: string; mtu?: number; mac?: string; netns?: string } }
  | { t: 'bridge'; name: string; mac?: string }
  | { t: 'set'; name: string; master?: string; up?: boolean; alias?: string; rename?: string; mtu?: number; mac?: string }
  | { t: 'del'; name: string }
  | { t: 'addr-add'; addr: Addr; dev: string; nodad: boolean }
  | { t: 'default-via'; gw: Addr; dev: string }
  | { t: 'addr-show'; dev: string };

function addrBytes(family: 4 | 6, value: bigint): Buffer {
  const n = family === 4 ? 4 : 16;
  const b = Buffer.alloc(n);
  for (let i = n - 1, v = value; i >= 0; i--, v >>= 8n) b[i] = Number(v & 0xffn);
  return b;
}

const num = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined);

/** Keyword/value pairs up to `stop`; undefined when a word is not one we know. */
function pairs(words: string[], known: readonly string[], flags: readonly string[] = []): Map<string, string> | undefined {
  const m = new Map<string, string>();
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (flags.includes(w)) m.set(w, '');
    else if (known.includes(w) && words[i + 1] !== undefined) m.set(w, words[++i]!);
    else return undefined;
  }
  return m;
}

/** One batch line as an operation, or undefined when it is not a form handled here. */
export function parseLine(line: string): Op | undefined {
  const w = line.split(' ');
  const [obj, verb, ...rest] = w;
  if (obj === 'link' && verb === 'add' && rest[0]) {
    const name = rest[0];
    const ti = rest.indexOf('type');
    if (ti < 0) return undefined;
    const own = pairs(rest.slice(1, ti), ['mtu', 'address']);
    if (!own) return undefined;
    const kind = rest[ti + 1];
    if (kind === 'bridge' && ti + 2 === rest.length && !own.has('mtu')) return { t: 'bridge', name, ...opt('mac', own.get('address')) };
    if (kind !== 'veth' || rest[ti + 2] !== 'peer' || rest[ti + 3] !== 'name' || !rest[ti + 4]) return undefined;
    const p = pairs(rest.slice(ti + 5), ['mtu', 'address', 'netns']);
    if (!p) return undefined;
    return {
      t: 'veth', name, ...opt('mtu', num(own.get('mtu'))), ...opt('mac', own.get('address')),
      peer: { name: rest[ti + 4]!, ...opt('mtu', num(p.get('mtu'))), ...opt('mac', p.get('address')), ...opt('netns', p.get('netns')) },
    };
  }
  if (obj === 'link' && verb === 'set' && rest[0]) {
    const p = pairs(rest.slice(1), ['master', 'alias', 'name', 'mtu', 'address'], ['up', 'down']);
    if (!p || (p.has('up') && p.has('down'))) return undefined;
    return {
      t: 'set', name: rest[0], ...opt('master', p.get('master')), ...opt('alias', p.get('alias')), ...opt('rename', p.get('name')),
      ...opt('mtu', num(p.get('mtu'))), ...opt('mac', p.get('address')), ...(p.has('up') ? { up: true } : p.has('down') ? { up: false } : {}),
    };
  }
  if (obj === 'link' && verb === 'del' && rest.length === 1) return { t: 'del', name: rest[0]! };
  if (obj === 'addr' && verb === 'add' && rest[1] === 'dev' && rest[2] && (rest.length === 3 || (rest.length === 4 && rest[3] === 'nodad'))) {
    const c = parseIfAddr(rest[0]!);
    return { t: 'addr-add', addr: { family: c.addr.family, bytes: addrBytes(c.addr.family, c.addr.value), prefix: c.prefix }, dev: rest[2], nodad: rest.length === 4 };
  }
  if (obj === 'addr' && verb === 'show' && rest[0] === 'dev' && rest.length === 2) return { t: 'addr-show', dev: rest[1]! };
  if (obj === 'route' && verb === 'replace' && rest[0] === 'default' && rest[1] === 'via' && rest[3] === 'dev' && rest.length === 5) {
    const g = tryParseAddr(rest[2]!);
    if (!g) return undefined;
    return { t: 'default-via', gw: { family: g.family, bytes: addrBytes(g.family, g.value), prefix: 0 }, dev: rest[4]! };
  }
  return undefined;
}

function opt<K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [k]: v }) as { [P in K]?: V };
}

/** Where the in-process path may be made to fail (tests inject failures here, as FailAtRunner does for execs). */
export interface OpHook {
  before?(op: Op, line: string): void;
  after?(op: Op, line: string): void;
}

/** Every request gives up after this long (the kernel answers in microseconds; this only bounds a wedged socket). */
const T = { timeout: 10_000 };

const OPER = ['UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP'];
const SCOPE: Record<number, string> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };

function ntop(family: number, b: Buffer): string {
  if (family === 2) return [...b].join('.');
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  return parseIfAddr(`${groups.map((g) => g.toString(16)).join(':')}/128`).addr.text;
}

function macText(b: Buffer | undefined): string {
  return b ? [...b].map((x) => x.toString(16).padStart(2, '0')).join(':') : '';
}

const macBuf = (m: string) => Buffer.from(parseMac(m).replace(/:/g, ''), 'hex');

/** A batch's operations against one socket, in order; the first failure stops it, as `ip -batch` does. */
class Batch {
  private readonly index = new Map<string, number>();
  constructor(private readonly rt: Rtnl, private readonly s: RtSocket) {}

  private buf(data: Parameters<InstanceType<Rtnl['nl']['AttrStream']>['emit']>[0]): Buffer {
    const out = new this.rt.nl.AttrStream();
    out.emit(data);
    return Buffer.concat(out.bufs);
  }

  private async ifindex(name: string): Promise<number> {
    const known = this.index.get(name);
    if (known) return known;
    const [l] = await this.s.getLink({}, { ifname: name }, T);
    const i = l?.data.index;
    if (!i) throw new Error(`Cannot find device "${name}"`);
    this.index.set(name, i);
    return i;
  }

  async run(op: Op): Promise<unknown[] | undefined> {
    const nl = this.rt.nl;
    const create = { flags: nl.FlagsNew.CREATE | nl.FlagsNew.EXCL, ...T };
    switch (op.t) {
      case 'veth': {
        const fd = op.peer.netns ? this.rt.nsFd(op.peer.netns) : undefined;
        try {
          const peer = Buffer.concat([
            this.buf(nl.rt.formatLink({})),
            this.buf(nl.ifla.formatLinkAttrs({ ifname: op.peer.name, ...opt('mtu', op.peer.mtu), ...opt('address', op.peer.mac ? macBuf(op.peer.mac) : undefined), ...opt('netNsFd', fd) })),
          ]);
          const linkinfo = this.buf(nl.ifla.formatInfo({ kind: 'veth', data: this.buf(nl.ifla.formatVethInfo({ peer })) }));
          await this.s.newLink({}, { ifname: op.name, ...opt('mtu', op.mtu), ...opt('address', op.mac ? macBuf(op.mac) : undefined), linkinfo }, create);
        } finally {
          if (fd !== undefined) closeSync(fd);
        }
        return undefined;
      }
      case 'bridge': {
        const linkinfo = this.buf(nl.ifla.formatInfo({ kind: 'bridge' }));
        await this.s.newLink({}, { ifname: op.name, ...opt('address', op.mac ? macBuf(op.mac) : undefined), linkinfo }, create);
        return undefined;
      }
      case 'set': {
        const index = await this.ifindex(op.name);
        const master = op.master ? await this.ifindex(op.master) : undefined;
        await this.s.setLink(
          { index, ...(op.up !== undefined ? { flags: op.up ? { up: true } : {}, change: { up: true } } : {}) },
          { ...opt('master', master), ...opt('ifalias', op.alias), ...opt('ifname', op.rename), ...opt('mtu', op.mtu), ...opt('address', op.mac ? macBuf(op.mac) : undefined) },
          T,
        );
        if (op.rename) {
          this.index.delete(op.name);
          this.index.set(op.rename, index);
        }
        return undefined;
      }
      case 'del': {
        await this.s.delLink({ index: await this.ifindex(op.name) }, {}, T);
        this.index.delete(op.name);
        return undefined;
      }
      case 'addr-add': {
        const index = await this.ifindex(op.dev);
        await this.s.newAddress(
          { family: op.addr.family === 4 ? 2 : 10, prefixlen: op.addr.prefix, index, ...(op.nodad ? { flags: { nodad: true } } : {}) },
          { local: op.addr.bytes, address: op.addr.bytes },
          create,
        );
        return undefined;
      }
      case 'default-via': {
        const oif = await this.ifindex(op.dev);
        await this.s.newRoute(
          { family: op.gw.family === 4 ? 2 : 10, dstLen: 0, table: 254, protocol: 'BOOT', scope: 'UNIVERSE', type: 'UNICAST' },
          { gateway: op.gw.bytes, oif, table: 254 },
          { flags: nl.FlagsNew.CREATE | nl.FlagsNew.REPLACE, ...T },
        );
        return undefined;
      }
      case 'addr-show':
        return [await this.show(op.dev)];
    }
  }

  /** The fields of `ip -json addr show dev X` that the agent reads back. */
  private async show(dev: string): Promise<unknown> {
    const index = await this.ifindex(dev);
    const [l] = await this.s.getLink({ index }, {}, T);
    const addrs = await this.s.getAddresses({}, {}, T);
    return {
      ifindex: index,
      ifname: l?.attrs.ifname,
      mtu: l?.attrs.mtu,
      operstate: OPER[l?.attrs.operstate ?? 0] ?? 'UNKNOWN',
      address: macText(l?.attrs.address),
      addr_info: addrs
        .filter((a) => a.data.index === index)
        .map((a) => ({
          family: a.data.family === 2 ? 'inet' : 'inet6',
          local: ntop(a.data.family ?? 0, (a.attrs.local ?? a.attrs.address)!),
          prefixlen: a.data.prefixlen,
          scope: SCOPE[a.data.scope ?? 0] ?? String(a.data.scope),
        })),
    };
  }
}

const ERRNO_TEXT: Record<string, string> = {
  EEXIST: 'File exists', ENODEV: 'No such device', ENOENT: 'No such file or directory', EINVAL: 'Invalid argument',
  EBUSY: 'Device or resource busy', EADDRNOTAVAIL: 'Cannot assign requested address', ENETUNREACH: 'Network is unreachable',
  EOPNOTSUPP: 'Operation not supported', EPERM: 'Operation not permitted', ERANGE: 'Numerical result out of range',
};

function describeError(err: unknown): string {
  const m = /Request rejected: (\w+)/.exec(String((err as Error)?.message ?? err));
  return m ? `RTNETLINK answers: ${ERRNO_TEXT[m[1]!] ?? m[1]}` : String((err as Error)?.message ?? err);
}

/**
 * An IpExec that carries out the lines fleetnet writes over route netlink (a socket per batch, in
 * the batch's namespace), falling back to `fallback` (execs of `ip`) for any other batch.
 * `hostNetns`: the namespace host() acts in (the agent's own when undefined; tests give a test host's).
 */
export function netlinkIp(rt: Rtnl, fallback: IpExec, opts: { hostNetns?: string; hook?: OpHook } = {}): IpExec & { inProcess: number; execs: number } {
  const stats = { inProcess: 0, execs: 0 };
  const run = async (netns: string | undefined, lines: string[], viaExec: () => Promise<unknown[][]>): Promise<unknown[][]> => {
    const ops = lines.map(parseLine);
    if (ops.some((o) => o === undefined)) {
      stats.execs++;
      return viaExec();
    }
    stats.inProcess++;
    const sock = rt.open(netns);
    try {
      const b = new Batch(rt, sock);
      const out: unknown[][] = [];
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i]!;
        try {
          opts.hook?.before?.(op, lines[i]!);
          const rows = await b.run(op);
          opts.hook?.after?.(op, lines[i]!);
          if (rows) out.push(rows);
        } catch (err) {
          throw failed(`ip ${lines[i]}${netns ? ` (in ${netns})` : ''}: ${describeError(err)}`, err);
        }
      }
      return out;
    } finally {
      sock.socket.close();
    }
  };
  return Object.assign(stats, {
    host: (lines: string[]) => run(opts.hostNetns, lines, () => fallback.host(lines)),
    inNs: (netns: string, lines: string[], o: { family?: 4 | 6 } = {}) => (o.family ? fallback.inNs(netns, lines, o) : run(netns, lines, () => fallback.inNs(netns, lines, o))),
    describe: fallback.describe.bind(fallback),
  });
}
