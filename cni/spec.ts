// The CNI contract as fleetnet speaks it (spec 1.1.0): versions, well-known error codes, the
// error JSON and the result shape. Pure and dependency-free: the plugin executables load it on
// every call, so it must cost nothing to import.

export const CNI_VERSION = '1.1.0';
/** What VERSION reports; GC and STATUS exist only from 1.1.0 on. */
export const SUPPORTED_VERSIONS = ['0.4.0', '1.0.0', '1.1.0'] as const;

/** The spec's well-known error codes, and fleetnet's own from 100 on. */
export const CniCode = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  containerUnknown: 3,
  invalidEnv: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  notAvailable: 50,
  limitedConnectivity: 51,
  /** fleetnet: the interface could not be made (a step failed; nothing was left behind). */
  attachFailed: 100,
  /** fleetnet: CHECK found the interface or its addresses not as ADD made them. */
  checkFailed: 101,
  /** fleetnet: the network has no free address. */
  poolExhausted: 102,
  /** fleetnet: the address or interface is held by someone else (conflict). */
  conflict: 103,
} as const;

export class CniError extends Error {
  constructor(
    readonly code: number,
    msg: string,
    readonly details = '',
  ) {
    super(msg);
    this.name = 'CniError';
  }
}

export interface CniErrorJson {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

export function errorJson(version: string, e: { code: number; msg: string; details?: string }): CniErrorJson {
  return { cniVersion: version, code: e.code, msg: e.msg, ...(e.details ? { details: e.details } : {}) };
}

export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'] as const;
export type CniCommand = (typeof COMMANDS)[number];

/** The environment variables each command must have (CNI_PATH is only informative to fleetnet). */
export const REQUIRED_ENV: Record<CniCommand, readonly string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  GC: [],
  STATUS: [],
  VERSION: [],
};

/** -1, 0, 1 as a < b, a = b, a > b for x.y.z versions. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return Math.sign(d);
  }
  return 0;
}

export function isSupportedVersion(v: unknown): v is string {
  return typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

export interface CniInterface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
}
export interface CniIp {
  address: string;
  gateway?: string;
  interface?: number;
}
export interface CniRoute {
  dst: string;
  gw?: string;
}
export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}
export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips: CniIp[];
  routes?: CniRoute[];
  dns?: CniDns;
}

/** The result as the asked version writes it: 0.4.0 carries `version` on each IP. */
export function renderResult(r: CniResult): Record<string, unknown> {
  if (compareVersions(r.cniVersion, '1.0.0') >= 0) return { ...r };
  return { ...r, ips: r.ips.map((ip) => ({ version: ip.address.includes(':') ? '6' : '4', ...ip })) };
}
