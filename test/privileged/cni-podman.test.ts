// A real container runtime on fleetnet's CNI plugin: podman 4.3 (CNI backend) on two lab hosts
// (namespaces with agents started with --cni-controller, a controller, network `blue` meshed over
// VXLAN). `podman run --network blue` gets fleet-unique addresses from the controller, the
// containers ping each other across the mesh, a restarted container gets a working interface
// again, and `podman rm` releases the addresses (gone from `fleetnet ls`, free for the next one).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { CniDriver } from '../helpers/cni.js';
import { cniRows, startCniFleet } from '../helpers/cni-fleet.js';
import type { TestFleet } from '../helpers/controller-fleet.js';
import { PODMAN_IMAGE, PodmanHost } from '../helpers/podman.js';

let fleet: TestFleet;
/** podman's name of the fleet network `blue` for this run (a conflist name of its own). */
const netName = () => `blue-${fleet.prefix}`;
const CNI_CACHE = '/var/lib/cni/results';
const podmen: PodmanHost[] = [];
const SUBNET = `10.${90 + Math.floor(Math.random() * 10)}.${Math.floor(Math.random() * 250)}`;

const ls = () => cniRows(fleet);

async function pings(h: PodmanHost, container: string, to: string): Promise<boolean> {
  for (let i = 0; i < 20; i++) {
    if ((await h.podman('exec', container, 'ping', '-c', '1', '-W', '1', to)).code === 0) return true;
  }
  return false;
}

async function run(h: PodmanHost, name: string): Promise<string> {
  const r = await h.podman('run', '-d', '--name', name, '--network', netName(), PODMAN_IMAGE, 'sleep', '600');
  assert.equal(r.code, 0, `podman run ${name}: ${r.stderr}`);
  const addr = await h.addressOf(name);
  assert.match(addr, new RegExp(`^${SUBNET.replaceAll('.', '\\.')}\\.\\d+/24$`), `${name} has an address of blue`);
  return addr;
}

/** What `fleetnet cni install` writes, as far as this test reads it. */
interface Conflist {
  cniVersion: string;
}

before(async () => {
  fleet = await startCniFleet('pm', `${SUBNET}.0/24`);
  for (const h of fleet.hosts) {
    const dir = join(fleet.dir, `podman-${h.name}`);
    const cni = await CniDriver.install(dir, h.socket);
    const p = await PodmanHost.create({
      dir,
      netns: h.ns,
      pluginDirs: [cni.binDir, '/usr/lib/cni'],
      agentSocket: h.socket,
    });
    // podman 4.3's CNI library reads configurations up to 1.0.0: the conflist gets the version `cni install` wrote
    // (it wrote 1.1.0, which podman refused); agentSocket: this lab host's agent
    // (podman's cleanup process, which tears the network down when a container exits, has no FLEETNET_AGENT_SOCKET)
    p.writeNetwork(netName(), {
      cniVersion: (JSON.parse(readFileSync(join(dir, 'conf', 'blue.conflist.example'), 'utf8')) as Conflist).cniVersion,
      name: netName(),
      plugins: [{ type: 'fleetnet', network: 'blue', agentSocket: h.socket }],
    });
    podmen.push(p);
  }
});

after(async () => {
  for (const p of podmen) await p.removeAll();
  await fleet?.down();
  // libcni's cache of results (/var/lib/cni/results/NETWORK-ID-IF): DEL removes each entry; this
  // run's network name is its own, so whatever a failed run left there is this run's to remove.
  if (!fleet || !existsSync(CNI_CACHE)) return;
  for (const f of readdirSync(CNI_CACHE))
    if (f.startsWith(`${netName()}-`)) rmSync(join(CNI_CACHE, f), { force: true });
});

it('podman run on two hosts: fleet-unique addresses, ping across the mesh, restart works, rm releases', async () => {
  const [p1, p2] = [podmen[0]!, podmen[1]!];
  const a1 = await run(p1, 'web1');
  const a2 = await run(p2, 'web2');
  assert.notEqual(a1, a2);
  const rows = await ls();
  assert.deepEqual(rows.map((r) => [r.host, r.addresses[0], r.state]).sort(), [
    ['h1', a1, 'up'],
    ['h2', a2, 'up'],
  ]);
  const mac = (await p1.podman('exec', 'web1', 'cat', '/sys/class/net/eth0/address')).stdout.trim();
  assert.equal(mac, rows.find((r) => r.host === 'h1')!.mac, 'the MAC the controller allocated');
  assert.ok(await pings(p1, 'web1', a2.split('/')[0]!), 'web1 (h1) pings web2 (h2) over the mesh');
  assert.ok(await pings(p2, 'web2', a1.split('/')[0]!), 'web2 (h2) pings web1 (h1)');

  // A restart: podman tears the network down (DEL) and sets it up in a new namespace (ADD).
  const re = await p1.podman('restart', '--time', '0', 'web1');
  assert.equal(re.code, 0, re.stderr);
  const again = await p1.addressOf('web1');
  assert.match(again, /\/24$/, 'web1 has an address after the restart');
  assert.ok(await pings(p1, 'web1', a2.split('/')[0]!), 'web1 pings web2 after its restart');
  assert.deepEqual((await ls()).map((r) => r.host).sort(), ['h1', 'h2']);

  // rm releases: the attachment leaves the controller, and the address is free for the next one.
  const rm = await p2.podman('rm', '--force', '--time', '0', 'web2');
  assert.equal(rm.code, 0, rm.stderr);
  assert.deepEqual(
    (await ls()).map((r) => r.host),
    ['h1'],
  );
  const rm1 = await p1.podman('rm', '--force', '--time', '0', 'web1');
  assert.equal(rm1.code, 0, rm1.stderr);
  assert.deepEqual(await ls(), []);
  const check = await fleet.cli('check', '--json');
  assert.equal(check.code, 0, check.stdout + check.stderr);
});
