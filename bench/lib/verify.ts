// Untimed end-state checks shared by every path: what the container and the bench bridge hold.
import type { BenchEnv } from './env.js';

interface AddrJson {
  ifname?: string;
  operstate?: string;
  flags?: string[];
  addr_info?: { family?: string; local?: string; prefixlen?: number }[];
}

const v4 = (row: AddrJson) =>
  (row.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
const matches = (cidr: string, want: string | RegExp) => (typeof want === 'string' ? cidr === want : want.test(cidr));

async function addrDump(env: BenchEnv, netnsPath: string, ifname?: string): Promise<AddrJson[] | undefined> {
  const r = await env.runner.run(
    'nsenter',
    [`--net=${netnsPath}`, 'ip', '-json', 'addr', 'show', ...(ifname ? ['dev', ifname] : [])],
    { allowFail: true },
  );
  return r.code === 0 ? (JSON.parse(r.stdout || '[]') as AddrJson[]) : undefined;
}

/**
 * The container interface is up and holds an address matching `want`. Without an ifname, any
 * interface holding it counts (Docker numbers a reconnected interface eth2, eth3, …).
 */
export async function expectContainerIf(
  env: BenchEnv,
  netnsPath: string,
  ifname: string | undefined,
  want: string | RegExp,
  who: string,
): Promise<void> {
  const rows = await addrDump(env, netnsPath, ifname);
  if (!rows) throw new Error(`${who}: ${ifname} is missing in the container after attach`);
  const row = rows.find((r) => v4(r).some((c) => matches(c, want)));
  if (!row)
    throw new Error(
      `${who}: ${ifname ?? 'no interface'} in the container holds ${String(want)} ` +
        `(it has ${rows.flatMap(v4).join(', ') || 'no IPv4 address'})`,
    );
  if (!row.flags?.includes('UP') || row.operstate !== 'UP')
    throw new Error(`${who}: ${row.ifname} is not up (operstate ${row.operstate ?? '?'})`);
}

export async function expectContainerIfGone(
  env: BenchEnv,
  netnsPath: string,
  ifname: string | undefined,
  want: string | RegExp,
  who: string,
): Promise<void> {
  const rows = await addrDump(env, netnsPath, ifname);
  if (ifname && rows) throw new Error(`${who}: ${ifname} is still in the container after detach`);
  if (!ifname && rows?.some((r) => v4(r).some((c) => matches(c, want))))
    throw new Error(`${who}: the container still holds ${String(want)} after detach`);
}

/** Names of the ports of a bridge in the bench netns. */
export async function bridgePorts(env: BenchEnv, bridge: string): Promise<string[]> {
  const r = await env.runner.run('ip', ['-n', env.netns, '-json', 'link', 'show', 'master', bridge]);
  return (JSON.parse(r.stdout || '[]') as { ifname: string }[]).map((x) => x.ifname);
}

export async function ensureBridge(env: BenchEnv, name: string): Promise<void> {
  await env.runner.run('ip', ['-n', env.netns, 'link', 'add', name, 'type', 'bridge']);
  await env.runner.run('ip', ['-n', env.netns, 'link', 'set', name, 'up']);
}
