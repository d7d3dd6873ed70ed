// The fake host of the mesh-agent-argv-*.test.ts files: three hosts' plans, a FakeRunner that plays a
// host (OVS listing, links, a failing ip -batch), a Mesher on it with its own state folder (removed by
// removeStateDirs, which each file runs after its tests), and which recorded calls write. Also the two
// mesh networks the mesh tests plan (blueNet, greenNet), for the plan and privileged mesh tests too.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../common/logger.js';
import { FakeRunner, type RecordedCall } from '../../common/runner.js';
import { Mesher } from '../../agent/mesh/mesher.js';
import type { MeshSpec } from '../../agent/mesh/spec.js';
import { planMesh, type MeshNetwork } from '../../common/mesh/plan.js';

/** The tests' OVS network: GRE key 100 on ovs-blue, meshing h1..h3 unless a test says otherwise. */
export const blueNet = (over: Partial<MeshNetwork> = {}): MeshNetwork => ({
  name: 'blue',
  kind: 'ovs',
  encap: 'gre',
  key: 100,
  bridge: 'ovs-blue',
  members: ['h1', 'h2', 'h3'],
  ...over,
});

/** The tests' Linux-bridge network: kernel VXLAN VNI 42 on br-green, meshing h1..h3 unless a test says otherwise. */
export const greenNet = (over: Partial<MeshNetwork> = {}): MeshNetwork => ({
  name: 'green',
  kind: 'bridge',
  encap: 'vxlan',
  key: 42,
  bridge: 'br-green',
  members: ['h1', 'h2', 'h3'],
  ...over,
});

export const hosts = [1, 2, 3].map((i) => ({ name: `h${i}`, underlayIp: `10.99.0.${10 + i}` }));

export function specFor(host: number, nets: MeshNetwork[], generation = 1, datapathType?: string): MeshSpec {
  const p = planMesh(hosts, nets)[host - 1]!;
  return { generation, networks: p.networks.map((n) => ({ ...n, ...(datapathType ? { datapathType } : {}) })) };
}

const dirs: string[] = [];
export const removeStateDirs = () => dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
export function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'fleetnet-mesh-unit-'));
  dirs.push(d);
  return d;
}

/**
 * A host as the FakeRunner plays it: `ovs-vsctl list` prints ovs() (no ovs(): no OVS database), `ovsdb-client
 * transact` commits unless a port it inserts is named in ovs() (as OVSDB's name index refuses), `ip -json`
 * prints these links, fleetnet has no nft table yet, an `ip -batch` fails with batchError; the rest succeeds.
 */
export function fakeHost(o: { ovs?: () => string; links?: string; batchError?: string } = {}): FakeRunner {
  return new FakeRunner((c) => {
    if (c.cmd === 'ovs-vsctl')
      return !o.ovs ? { code: 1, stderr: 'no db' } : c.args.includes('list') ? { stdout: o.ovs() } : {};
    if (c.cmd === 'ovsdb-client' && c.args.includes('transact')) {
      if (!o.ovs) return { code: 1, stderr: 'ovsdb-client: failed to connect' };
      const listed = o.ovs();
      const names = [...(c.args.at(-1) ?? '').matchAll(/"table":"Port"[^}]*?"name":"([^"]+)"/g)].map((m) => m[1]!);
      const taken = names.some((n) => listed.includes(`"${n}"`));
      return { stdout: taken ? '[{},{"error":"constraint violation"}]' : '[{}]' };
    }
    if (c.cmd === 'ip' && c.args[0] === '-json') return { stdout: o.links ?? '[]' };
    if (c.cmd === 'ip' && c.args[0] === '-batch' && o.batchError) return { code: 1, stderr: o.batchError };
    return c.cmd === 'nft' && c.args[0] === '-j' ? { code: 1 } : {};
  });
}

/** A Mesher on that host with its own state folder; gretap only where the test says the kernel has it. */
export function mesher(
  runner: FakeRunner,
  o: { ovsDb?: string; gretap?: boolean; dir?: string; bfdDecayMs?: number } = {},
): Mesher {
  const hasGretap = async () => o.gretap ?? false;
  const decay = o.bfdDecayMs === undefined ? {} : { bfdDecayMs: o.bfdDecayMs };
  return new Mesher({
    runner,
    ovsDb: o.ovsDb,
    stateDir: o.dir ?? stateDir(),
    log: silentLogger(),
    hasGretap,
    ...decay,
  });
}

export const isWrite = (c: RecordedCall) =>
  (c.cmd === 'ovs-vsctl' && c.args.some((a) => a === 'add-port' || a === 'del-port' || a === 'add-br')) ||
  (c.cmd === 'ovsdb-client' && c.args.includes('transact')) ||
  (c.cmd === 'ip' && c.args.includes('-batch')) ||
  (c.cmd === 'bridge' && (c.args[0] === '-batch' || (c.args[0] === 'fdb' && c.args[1] !== 'show'))) ||
  (c.cmd === 'nft' && c.args[0] === '-f') ||
  (c.cmd === 'ip' && c.args[0] === 'link' && c.args[1] === 'del');
