// The network configuration fleetnet's plugins accept, validated once (zod) into a frozen value.
// Errors name the field (`ipam.subnet`, `prevResult.ips[0].address`) and carry CNI code 7.
import { z } from 'zod';
import { FleetnetError } from '../common/errors.js';
import { parseAddr, parseIfAddr, parseNetwork, contains, type Cidr, type IpAddr } from '../common/ip.js';
import { parseIfName, type IfName } from '../common/ifname.js';
import { CniCode, CniError, type CniResult } from './spec.js';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

const route = z.object({ dst: z.string(), gw: z.string().optional() });
const dns = z.object({
  nameservers: z.array(z.string()).optional(),
  domain: z.string().optional(),
  search: z.array(z.string()).optional(),
  options: z.array(z.string()).optional(),
});

/** Addressing: local pool settings (used when the agent has no controller) and what goes into the result. */
const addressing = {
  /** The fleetnet network; default: the configuration's name. */
  network: z.string().regex(NAME_RE).optional(),
  subnet: z.string().optional(),
  gateway: z.string().optional(),
  rangeStart: z.string().optional(),
  rangeEnd: z.string().optional(),
  routes: z.array(route).optional(),
};

const prevResult = z.looseObject({
  cniVersion: z.string().optional(),
  interfaces: z
    .array(z.looseObject({ name: z.string(), mac: z.string().optional(), sandbox: z.string().optional() }))
    .optional(),
  ips: z
    .array(
      z.looseObject({
        address: z.string(),
        gateway: z.string().optional(),
        interface: z.number().int().min(0).optional(),
      }),
    )
    .optional(),
  routes: z.array(route).optional(),
  dns: dns.optional(),
});

const validAttachment = z.object({ containerID: z.string().min(1), ifname: z.string().min(1) });

const common = {
  cniVersion: z.string(),
  name: z.string().regex(NAME_RE, 'must start with a letter or digit, then letters, digits, _ . -'),
  type: z.string(),
  dns: dns.optional(),
  prevResult: prevResult.optional(),
  'cni.dev/valid-attachments': z.array(validAttachment).optional(),
};

const pluginSchema = z.looseObject({
  ...common,
  ...addressing,
  kind: z.enum(['bridge', 'ovs', 'macvlan']).default('bridge'),
  bridge: z.string().optional(),
  master: z.string().optional(),
  mode: z.enum(['bridge', 'private', 'vepa', 'passthru']).optional(),
  vlan: z.number().int().min(1).max(4094).optional(),
  mtu: z.number().int().min(68).max(65535).optional(),
  ovsDatapath: z.enum(['system', 'netdev']).optional(),
  /** Replace the container's default route with one via the gateway. */
  defaultRoute: z.boolean().default(false),
});

const ipamSchema = z.looseObject({
  ...common,
  ipam: z.looseObject({ type: z.string(), ...addressing }),
});

export interface Pool {
  /** The fleetnet network the addresses come from. */
  network: string;
  /** Local pool (no controller): the subnet and the range handed out. */
  subnet?: Cidr;
  gateway?: IpAddr;
  first?: bigint;
  last?: bigint;
  routes: { dst: string; gw?: string }[];
}

export interface NetConf {
  cniVersion: string;
  name: string;
  plugin: 'fleetnet' | 'fleetnet-ipam';
  pool: Pool;
  dns?: z.infer<typeof dns>;
  prevResult?: CniResult;
  validAttachments?: { containerID: string; ifname: string }[];
  /** fleetnet (main plugin) only. */
  link?: {
    kind: 'bridge' | 'ovs' | 'macvlan';
    hostIf: IfName;
    macvlanMode?: 'bridge' | 'private' | 'vepa' | 'passthru';
    vlan?: number;
    mtu?: number;
    ovsDatapath?: 'system' | 'netdev';
    defaultRoute: boolean;
  };
}

function fieldOf(path: readonly PropertyKey[]): string {
  return (
    path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('') || '(top level)'
  );
}

function invalidField(field: string, msg: string, details = ''): CniError {
  return new CniError(CniCode.invalidConfig, `invalid network configuration: ${field}: ${msg}`, details);
}

/** Runs a common/ parser, turning its error into code 7 naming the field. */
function at<T>(field: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof FleetnetError) throw invalidField(field, err.message, err.hint ?? '');
    throw err;
  }
}

function poolOf(
  a: {
    network?: string | undefined;
    subnet?: string | undefined;
    gateway?: string | undefined;
    rangeStart?: string | undefined;
    rangeEnd?: string | undefined;
    routes?: { dst: string; gw?: string | undefined }[] | undefined;
  },
  name: string,
  prefix: string,
): Pool {
  const pool: Pool = {
    network: a.network ?? name,
    routes: (a.routes ?? []).map((r) => ({ dst: r.dst, ...(r.gw ? { gw: r.gw } : {}) })),
  };
  for (const [i, r] of pool.routes.entries()) {
    at(`${prefix}routes[${i}].dst`, () => parseNetwork(r.dst));
    if (r.gw) at(`${prefix}routes[${i}].gw`, () => parseAddr(r.gw!));
  }
  if (!a.subnet) {
    for (const k of ['gateway', 'rangeStart', 'rangeEnd'] as const)
      if (a[k]) throw invalidField(`${prefix}${k}`, 'needs a subnet beside it', `add ${prefix}subnet`);
    return pool;
  }
  const subnet = at(`${prefix}subnet`, () => parseNetwork(a.subnet!));
  const bits = subnet.addr.family === 4 ? 32 : 128;
  const size = 1n << BigInt(bits - subnet.prefix);
  // The network address and (IPv4) the broadcast address are never handed out.
  let first = subnet.addr.value + 1n;
  let last = subnet.addr.value + size - (subnet.addr.family === 4 && subnet.prefix < 31 ? 2n : 1n);
  const inSubnet = (k: 'gateway' | 'rangeStart' | 'rangeEnd'): IpAddr | undefined => {
    if (!a[k]) return undefined;
    const ip = at(`${prefix}${k}`, () => parseAddr(a[k]!));
    if (!contains(subnet, ip)) throw invalidField(`${prefix}${k}`, `${ip.text} is not in ${subnet.text}`);
    return ip;
  };
  const gateway = inSubnet('gateway');
  first = inSubnet('rangeStart')?.value ?? first;
  last = inSubnet('rangeEnd')?.value ?? last;
  if (last < first) throw invalidField(`${prefix}rangeEnd`, 'is before rangeStart');
  return { ...pool, subnet, first, last, ...(gateway ? { gateway } : {}) };
}

function checkPrevResult(p: z.infer<typeof prevResult> | undefined): CniResult | undefined {
  if (!p) return undefined;
  for (const [i, ip] of (p.ips ?? []).entries()) at(`prevResult.ips[${i}].address`, () => parseIfAddr(ip.address));
  return p as unknown as CniResult;
}

/** Parses the configuration a runtime sent; a CniError (code 7) naming the field when it is wrong. */
export function parseNetConf(plugin: 'fleetnet' | 'fleetnet-ipam', raw: unknown): NetConf {
  const r = (plugin === 'fleetnet' ? pluginSchema : ipamSchema).safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw invalidField(
      fieldOf(issue.path),
      issue.message,
      r.error.issues
        .slice(1)
        .map((i) => `${fieldOf(i.path)}: ${i.message}`)
        .join('; '),
    );
  }
  const base = {
    cniVersion: r.data.cniVersion,
    name: r.data.name,
    plugin,
    ...(r.data.dns ? { dns: r.data.dns } : {}),
    ...(r.data.prevResult ? { prevResult: checkPrevResult(r.data.prevResult)! } : {}),
    ...(r.data['cni.dev/valid-attachments'] ? { validAttachments: r.data['cni.dev/valid-attachments'] } : {}),
  };
  if (plugin === 'fleetnet-ipam') {
    const d = r.data as z.infer<typeof ipamSchema>;
    return Object.freeze({ ...base, pool: poolOf(d.ipam, d.name, 'ipam.') });
  }
  const d = r.data as z.infer<typeof pluginSchema>;
  const hostIfText = d.kind === 'macvlan' ? d.master : (d.bridge ?? `br-${d.network ?? d.name}`.slice(0, 15));
  if (!hostIfText) throw invalidField('master', 'kind macvlan needs the parent interface', 'add "master": "eth0"');
  const hostIf = at(d.kind === 'macvlan' ? 'master' : 'bridge', () => parseIfName(hostIfText));
  if (d.vlan && d.kind !== 'ovs') throw invalidField('vlan', `is for kind ovs (this network is ${d.kind})`);
  if (d.mode && d.kind !== 'macvlan') throw invalidField('mode', `is for kind macvlan (this network is ${d.kind})`);
  return Object.freeze({
    ...base,
    pool: poolOf(d, d.name, ''),
    link: {
      kind: d.kind,
      hostIf,
      defaultRoute: d.defaultRoute,
      ...(d.mode ? { macvlanMode: d.mode } : {}),
      ...(d.vlan ? { vlan: d.vlan } : {}),
      ...(d.mtu ? { mtu: d.mtu } : {}),
      ...(d.ovsDatapath ? { ovsDatapath: d.ovsDatapath } : {}),
    },
  });
}
