// One batch of typed link operations carried out over route netlink against one socket, in order:
// the first failure stops it, as `ip -batch` does. Runs on the agent's main thread (tests with an
// OpHook) or on its netlink thread (netlink-thread.ts), the same code either way.
import { closeSync } from 'node:fs';
import { failed } from '../../common/errors.js';
import { formatAddr, type IpAddr } from '../../common/ip.js';
import { commandText, devconfSettings, renderOp, VETH_QUEUES, type LinkOp } from './link-ops.js';
import type { Rtnl, RtSocket } from './rtnetlink.js';

/** AF_INET in IFLA_AF_SPEC, and IPV4_DEVCONF_ARP_NOTIFY in its IFLA_INET_CONF (linux/ip.h). */
const AF_INET = 2;
const IPV4_DEVCONF_ARP_NOTIFY = 22;
/** AF_INET6 in IFLA_AF_SPEC. */
const AF_INET6 = 10;

/** An address as the kernel's bytes (network order). */
export function addrBytes(a: IpAddr): Buffer {
  const n = a.family === 4 ? 4 : 16;
  const b = Buffer.alloc(n);
  for (let i = n - 1, v = a.value; i >= 0; i--, v >>= 8n) b[i] = Number(v & 0xffn);
  return b;
}

function opt<K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [k]: v }) as { [P in K]?: V };
}

/** Where the in-process path may be made to fail (tests inject failures here, as FailAtRunner does for execs). */
export interface OpHook {
  before?(op: LinkOp, line: string): void;
  after?(op: LinkOp, line: string): void;
}

/** Every request gives up after this long (the kernel answers in microseconds; this only bounds a wedged socket). */
const TIMEOUT_MS = 10_000;

/**
 * The options of every request on socket `s`: the timeout, and the socket's own address in each header,
 * read once (left out, each request asks the socket for it).
 */
export function requestOptions(s: RtSocket): { timeout: number; localPort: number } {
  return { timeout: TIMEOUT_MS, localPort: s.socket.socket.address().port };
}

const OPER = ['UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP'];
const SCOPE: Record<number, string> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };

/** The kernel's bytes of an address as text (family AF_INET or AF_INET6). */
export function ntop(family: number, b: Buffer): string {
  if (family === 2) return [...b].join('.');
  return formatAddr(6, BigInt(`0x${b.toString('hex')}`));
}

export function macText(b: Buffer | undefined): string {
  return b ? [...b].map((x) => x.toString(16).padStart(2, '0')).join(':') : '';
}

/** A MAC of the attach contract (already parsed) as the kernel's six bytes. */
const macBuf = (m: string) => Buffer.from(m.replace(/:/g, ''), 'hex');

/** A batch's operations against one socket, in order; the first failure stops it, as `ip -batch` does. */
export class Batch {
  private readonly index = new Map<string, number>();
  /**
   * Options of every request: the socket's own address goes in each header as given here, read once
   * (left out, the netlink package asks the socket for it, a getsockname(2), on every request).
   */
  private readonly T: { timeout: number; localPort: number };
  constructor(
    private readonly rt: Rtnl,
    private readonly s: RtSocket,
    private readonly netns: string | undefined,
  ) {
    this.T = requestOptions(s);
  }

  /**
   * How a request names a link: by its index once this batch knows it, else by name (the kernel looks
   * a link up by IFLA_IFNAME when the index is 0), which saves the request that would ask for the index.
   */
  private linkRef(name: string): { data: { index?: number }; attrs: { ifname?: string } } {
    const index = this.index.get(name);
    return index ? { data: { index }, attrs: {} } : { data: {}, attrs: { ifname: name } };
  }

  private buf(data: Parameters<InstanceType<Rtnl['nl']['AttrStream']>['emit']>[0]): Buffer {
    const out = new this.rt.nl.AttrStream();
    out.emit(data);
    return Buffer.concat(out.bufs);
  }

  private async ifindex(name: string): Promise<number> {
    const known = this.index.get(name);
    if (known) return known;
    const [l] = await this.s.getLink({}, { ifname: name }, this.T);
    const i = l?.data.index;
    if (!i) throw new Error(`Cannot find device "${name}"`);
    this.index.set(name, i);
    return i;
  }

  async run(op: LinkOp): Promise<unknown[] | undefined> {
    const nl = this.rt.nl;
    const T = this.T;
    const create = { flags: nl.FlagsNew.CREATE | nl.FlagsNew.EXCL, ...T };
    switch (op.t) {
      case 'veth': {
        const fd = op.peer.netns ? this.rt.nsFd(op.peer.netns) : undefined;
        try {
          const peer = Buffer.concat([
            this.buf(nl.rt.formatLink({})),
            this.buf(
              nl.ifla.formatLinkAttrs({
                ifname: op.peer.name,
                numTxQueues: VETH_QUEUES,
                numRxQueues: VETH_QUEUES,
                ...opt('mtu', op.peer.mtu),
                ...opt('address', op.peer.mac ? macBuf(op.peer.mac) : undefined),
                ...opt('netNsFd', fd),
              }),
            ),
          ]);
          const linkinfo = this.buf(
            nl.ifla.formatInfo({ kind: 'veth', data: this.buf(nl.ifla.formatVethInfo({ peer })) }),
          );
          await this.s.newLink(
            {},
            {
              ifname: op.name,
              numTxQueues: VETH_QUEUES,
              numRxQueues: VETH_QUEUES,
              ...opt('mtu', op.mtu),
              ...opt('address', op.mac ? macBuf(op.mac) : undefined),
              linkinfo,
            },
            create,
          );
        } finally {
          if (fd !== undefined) closeSync(fd);
        }
        return undefined;
      }
      case 'bridge': {
        const linkinfo = this.buf(nl.ifla.formatInfo({ kind: 'bridge' }));
        await this.s.newLink(
          {},
          { ifname: op.name, ...opt('address', op.mac ? macBuf(op.mac) : undefined), linkinfo },
          create,
        );
        return undefined;
      }
      case 'set': {
        // A rename names the link by its index (IFLA_IFNAME is then the new name); otherwise by name.
        const ref = op.rename ? { data: { index: await this.ifindex(op.name) }, attrs: {} } : this.linkRef(op.name);
        const master = op.master ? await this.ifindex(op.master) : undefined;
        await this.s.setLink(
          {
            ...ref.data,
            ...(op.up !== undefined ? { flags: op.up ? { up: true } : {}, change: { up: true } } : {}),
          },
          {
            ...ref.attrs,
            ...opt('master', master),
            ...opt('ifalias', op.alias),
            ...opt('ifname', op.rename),
            ...opt('mtu', op.mtu),
            ...opt('address', op.mac ? macBuf(op.mac) : undefined),
            ...opt('afSpec', op.addrGenMode ? this.noLinkLocal() : undefined),
          },
          T,
        );
        if (op.rename) {
          this.index.delete(op.name);
          this.index.set(op.rename, ref.data.index!);
        }
        return undefined;
      }
      case 'del': {
        const ref = this.linkRef(op.name);
        await this.s.delLink(ref.data, ref.attrs, T);
        this.index.delete(op.name);
        return undefined;
      }
      case 'addr-add': {
        const index = await this.ifindex(op.dev);
        const bytes = addrBytes(op.cidr.addr);
        await this.s.newAddress(
          {
            family: op.cidr.addr.family === 4 ? 2 : 10,
            prefixlen: op.cidr.prefix,
            index,
            ...(op.nodad ? { flags: { nodad: true } } : {}),
          },
          { local: bytes, address: bytes },
          create,
        );
        return undefined;
      }
      case 'default-via': {
        const oif = await this.ifindex(op.dev);
        await this.s.newRoute(
          {
            family: op.gw.family === 4 ? 2 : 10,
            dstLen: 0,
            table: 254,
            protocol: 'BOOT',
            scope: 'UNIVERSE',
            type: 'UNICAST',
          },
          { gateway: addrBytes(op.gw), oif, table: 254 },
          { flags: nl.FlagsNew.CREATE | nl.FlagsNew.REPLACE, ...T },
        );
        return undefined;
      }
      case 'addr-show':
        return [await this.show(op.dev)];
      case 'devconf': {
        if (op.arpNotify) {
          const ref = this.linkRef(op.dev);
          // RTM_SETLINK, IFLA_AF_SPEC → AF_INET → IFLA_INET_CONF { ARP_NOTIFY: 1 } (net/ipv4/devinet.c).
          const conf = new nl.AttrStream();
          conf.push(IPV4_DEVCONF_ARP_NOTIFY, nl.putU32(1));
          const inet = this.buf(nl.ifla.formatLinkProtocolInfoInet({ conf: Buffer.concat(conf.bufs) }));
          await this.s.setLink(ref.data, { ...ref.attrs, afSpec: new Map([[AF_INET, inet]]) }, T);
        }
        // The kernel takes no IPv6 devconf over netlink (only the token and the address generation mode).
        const v6 = devconfSettings({ ...op, arpNotify: false });
        if (v6.length) this.rt.writeSysctl(this.netns, v6);
        return undefined;
      }
      default:
        throw new Error(`${op.t} is not carried out over netlink here`);
    }
  }

  /** IFLA_AF_SPEC → AF_INET6 → IFLA_INET6_ADDR_GEN_MODE none (`ip link set … addrgenmode none`). */
  private noLinkLocal(): Map<number, Buffer> {
    const nl = this.rt.nl;
    return new Map([
      [AF_INET6, this.buf(nl.ifla.formatLinkProtocolInfoInet6({ addrGenMode: nl.ifla.In6AddrGenMode.NONE }))],
    ]);
  }

  /** The fields of `ip -json addr show dev X` that the agent reads back. */
  private async show(dev: string): Promise<unknown> {
    const index = await this.ifindex(dev);
    const [l] = await this.s.getLink({ index }, {}, this.T);
    const addrs = await this.s.getAddresses({}, {}, this.T);
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
  EEXIST: 'File exists',
  ENODEV: 'No such device',
  ENOENT: 'No such file or directory',
  EINVAL: 'Invalid argument',
  EBUSY: 'Device or resource busy',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ENETUNREACH: 'Network is unreachable',
  EOPNOTSUPP: 'Operation not supported',
  EPERM: 'Operation not permitted',
  ERANGE: 'Numerical result out of range',
};

function describeError(err: unknown): string {
  const m = /Request rejected: (\w+)/.exec(String((err as Error)?.message ?? err));
  return m ? `RTNETLINK answers: ${ERRNO_TEXT[m[1]!] ?? m[1]}` : String((err as Error)?.message ?? err);
}

/** The text a hook sees: the `ip -batch` line, or the `sysctl` command of a devconf. */
const hookLine = (op: LinkOp) => (op.t === 'devconf' ? commandText(op) : renderOp(op));

/**
 * The operations of one batch in `netns` (the thread's own namespace when undefined), over a socket
 * opened for it there: the rows the read-backs return, or a failure naming the command that failed.
 */
export async function runBatch(
  rt: Rtnl,
  netns: string | undefined,
  ops: LinkOp[],
  hook?: OpHook,
): Promise<unknown[][]> {
  const sock = rt.open(netns);
  try {
    const b = new Batch(rt, sock, netns);
    const out: unknown[][] = [];
    for (const op of ops) {
      // The text is for the hook and the message only (what runs is the operation): rendered when needed.
      try {
        hook?.before?.(op, hookLine(op));
        const rows = await b.run(op);
        hook?.after?.(op, hookLine(op));
        if (rows) out.push(rows);
      } catch (err) {
        throw failed(`${commandText(op)}${netns ? ` (in ${netns})` : ''}: ${describeError(err)}`, err);
      }
    }
    return out;
  } finally {
    sock.socket.close();
  }
}
