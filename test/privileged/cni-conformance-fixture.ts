// The lab of the cni-conformance-*.test.ts files: a host namespace with a real agent (local pools, no
// controller) and `fleetnet cni install`'s plugins; containers are namespaces. cniConformanceLab() makes it
// before the file's tests and removes every namespace, the agent and the folder after them, also on failure.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { startAgentIn, type AgentProc } from '../helpers/agent-process.js';
import { CniDriver } from '../helpers/cni.js';
import { addNs, delNs, sh, uniquePrefix } from '../helpers/netns.js';

export let P = '';
export let HOST = '';
const BR = 'br-cn';
export const made: string[] = [];
export let agent: AgentProc;
export let dir: string;
export let cni: CniDriver;

/** Makes the lab before this file's tests, under a namespace prefix of its own (`tag`); removes it after them. */
export function cniConformanceLab(tag: string): void {
  P = uniquePrefix(tag);
  HOST = `${P}-h`;
  before(async () => {
    await addNs(HOST);
    dir = mkdtempSync(join(tmpdir(), 'fleetnet-cni-'));
    agent = await startAgentIn(HOST, join(dir, 'agent'));
    cni = await CniDriver.install(dir, agent.socket, HOST);
  });

  after(async () => {
    await agent?.stop();
    for (const n of [...made, HOST]) await delNs(n);
    rmSync(dir, { recursive: true, force: true });
  });
}

export const conf = (extra: Record<string, unknown> = {}) => ({
  cniVersion: '1.1.0',
  name: 'cnt',
  type: 'fleetnet',
  bridge: BR,
  subnet: '10.61.0.0/24',
  gateway: '10.61.0.254',
  ...extra,
});
export const ns = async (i: number | string) => {
  const n = `${P}-c${i}`;
  made.push(n);
  return addNs(n);
};
export const add = (netns: string, id: string, c: unknown = conf(), ifname = 'eth0') =>
  cni.call('fleetnet', { command: 'ADD', containerId: id, netns, ifname }, c);
export const del = (netns: string | undefined, id: string, c: unknown = conf(), ifname = 'eth0') =>
  cni.call('fleetnet', { command: 'DEL', containerId: id, ifname, ...(netns ? { netns } : {}) }, c);
export const reservations = (net = 'cnt') => {
  try {
    return Object.values(
      (
        JSON.parse(readFileSync(join(agent.stateDir, 'cni', `${net}.json`), 'utf8')) as {
          reservations: Record<string, { addresses: string[]; containerId: string }>;
        }
      ).reservations,
    );
  } catch {
    return [];
  }
};
export const hostLinks = async () =>
  (JSON.parse((await sh.run('ip', ['-n', HOST, '-j', 'link', 'show'])).stdout) as { ifname: string }[])
    .map((l) => l.ifname)
    .filter((n) => n.startsWith('fn'))
    .sort();
export const ipOf = (r: { out?: Record<string, unknown> }) =>
  ((r.out?.ips as { address: string }[] | undefined) ?? [])[0]?.address ?? '';
