// DHCP through the whole local path: `fleetnet attach … dhclient` → the agent (running inside the
// DHCP server's namespace, so its bridge is that of dnsmasq) → a supervised client in a Docker
// container; List/ls/inspect show the lease; kill -9 of the agent → the same client is adopted;
// a restarted container gets the same lease back (same MAC); detach releases; a removed container's
// client is reaped with its helper and host peer.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Docker from 'dockerode';
import { HELPER_LABEL } from '../../agent/dhcp/helper-container.js';
import { isSameProcess, processStartTime } from '../../agent/dhcp/process.js';
import { cli, startAgentIn } from '../helpers/agent-process.js';
import {
  addrsOf,
  killLeftoversInTargets,
  ping,
  processesInNetns,
  processesMentioning,
  removeTargets,
  sh,
  startDhcpServer,
  startTarget,
  until,
} from './dhcp-fixture.js';

const docker = new Docker();

interface LeaseJson {
  address: string;
  router: string;
  dns: string[];
  clientPid: number;
  client: string;
}
interface IfJson {
  container: { name: string };
  ifname: string;
  hostIfname: string;
  lease?: LeaseJson;
}

test(
  'attach with DHCP through the CLI and the agent; agent kill -9; detach; container removed',
  { timeout: 180_000 },
  async (t) => {
    const prefix = `fnda${process.pid.toString(36).slice(-3)}${Math.random().toString(36).slice(2, 5)}`;
    const resolvBefore = readFileSync('/etc/resolv.conf', 'utf8');
    const srv = await startDhcpServer(prefix);
    const dir = mkdtempSync(join(tmpdir(), `${prefix}-agent-`));
    let agent: Awaited<ReturnType<typeof startAgentIn>> | undefined;
    t.after(async () => {
      if (agent && agent.proc.exitCode === null) agent.proc.kill('SIGKILL');
      await removeTargets(prefix);
      killLeftoversInTargets();
      for (const pid of processesMentioning(dir)) process.kill(pid, 'SIGKILL');
      await srv.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    agent = await startAgentIn(srv.ns, dir);
    const a = await startTarget(`${prefix}-a`, prefix);
    // ls --json has the fleet's one schema (addresses, no lease detail); inspect --all has each lease
    const list = async () =>
      (
        JSON.parse((await cli(agent!.socket, 'inspect', '--all')).stdout) as {
          container: { name: string };
          interfaces: IfJson[];
        }[]
      ).flatMap((e) => e.interfaces.map((i) => ({ ...i, container: e.container })));

    // Options that fight the supervisor: exit 2, nothing made.
    const bad = await cli(agent.socket, 'attach', 'br0', a.name, 'udhcpc:-q');
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /-q is refused: it quits after the lease; use --dhcp-oneshot/);
    assert.deepEqual(await list(), []);

    // dhclient with a U: MAC and --dhcp-dns.
    const at = await cli(agent.socket, 'attach', '--json', '--dhcp-dns', 'br0', a.name, 'dhclient-f', `U:${prefix}.a`);
    assert.equal(at.code, 0, at.stderr);
    const ai = JSON.parse(at.stdout) as IfJson;
    assert.equal(ai.lease?.client, 'dhclient');
    assert.match(ai.lease!.address, new RegExp(`^${srv.subnet.replace(/\./g, '\\.')}\\.\\d+/24$`));
    assert.deepEqual(await addrsOf(a.netns, 'eth1'), [ai.lease!.address]);
    assert.ok(await ping(a.netns, srv.serverIp));
    await until("the container's resolv.conf", async () =>
      (await sh.run('docker', ['exec', a.id, 'cat', '/etc/resolv.conf'])).stdout.includes(`nameserver ${srv.serverIp}`),
    );
    assert.equal(readFileSync('/etc/resolv.conf', 'utf8'), resolvBefore);

    // inspect: the inventory schema with network-wrapper's compat fields.
    const ins = await cli(agent.socket, 'inspect', a.name);
    assert.equal(ins.code, 0, ins.stderr);
    const [inv] = JSON.parse(ins.stdout) as {
      container: { name: string };
      interfaces: { compat: Record<string, unknown> }[];
    }[];
    if (!inv) throw new Error('inspect: an empty array');
    assert.equal(inv.container.name, a.name);
    assert.deepEqual(inv.interfaces[0]!.compat, {
      HWAddr: (await list())[0]!.lease ? JSON.parse(at.stdout).mac : '',
      Bridge: 'br0',
      IPAddress: ai.lease!.address.split('/')[0],
      IPPrefixLen: 24,
      Gateway: srv.serverIp,
      DNS: [srv.serverIp],
      DHCP_PID: ai.lease!.clientPid,
    });
    assert.equal((await cli(agent.socket, 'inspect', `${prefix}-nothing`)).code, 2);

    // kill -9 of the agent: the client keeps running; the next agent adopts the same PID.
    const pid = ai.lease!.clientPid;
    const start = (await processStartTime(pid))!;
    agent.proc.kill('SIGKILL');
    await until('agent gone', () => agent!.proc.exitCode !== null || agent!.proc.signalCode !== null);
    assert.ok(await isSameProcess(pid, start), 'the client outlives the agent');
    agent = await startAgentIn(
      srv.ns,
      dir,
      process.env.FLEETNET_TEST_LOG ? ['--log-level', process.env.FLEETNET_TEST_LOG] : [],
    );
    const after = (await list()).find((i) => i.container.name === a.name)!;
    assert.equal(after.lease?.clientPid, pid, 'same client PID adopted');
    assert.equal(after.lease?.address, ai.lease!.address);
    assert.ok(await ping(a.netns, srv.serverIp));

    // The busybox helper container (`dhcp`) for b. (b starts after the agent's restart: the test runs the
    // agent under `ip netns exec`, whose mount namespace would keep copies of Docker's netns mounts of
    // that moment, and so keep b's namespace alive after b is removed. A systemd agent has no such copy.)
    const b = await startTarget(`${prefix}-b`, prefix);
    const bt = await cli(agent.socket, 'attach', '--json', 'br0', b.name, 'dhcp');
    assert.equal(bt.code, 0, bt.stderr);
    const bi = JSON.parse(bt.stdout) as IfJson;
    assert.ok(await ping(b.netns, srv.serverIp));
    const helpers = () =>
      docker.listContainers({ all: true, filters: { label: [`${HELPER_LABEL}=1`, `fleetnet.owner=${b.id}`] } });
    assert.equal((await helpers()).length, 1);

    // --dhcp-oneshot through the CLI: one lease, the address stays, no client keeps running.
    const c = await startTarget(`${prefix}-c`, prefix);
    const ct = await cli(agent.socket, 'attach', '--json', '--dhcp-oneshot', 'br0', c.name, 'udhcpc');
    assert.equal(ct.code, 0, ct.stderr);
    const ci = JSON.parse(ct.stdout) as IfJson;
    assert.equal(ci.lease?.clientPid, 0);
    assert.deepEqual(await addrsOf(c.netns, 'eth1'), [ci.lease!.address]);
    assert.equal((await cli(agent.socket, 'detach', c.name)).code, 0);

    // docker restart: the agent makes eth1 again with the same MAC and a new client, which asks for and
    // gets the same lease.
    const macOf = async () => {
      const r = await sh.run('docker', ['exec', a.id, 'cat', '/sys/class/net/eth1/address'], { allowFail: true });
      return r.stdout.trim();
    };
    const macBefore = await macOf();
    await sh.run('docker', ['restart', '-t', '0', a.id]);
    await until(
      'a leased again after its restart',
      async () => {
        const l = (await list()).find((i) => i.container.name === a.name)?.lease;
        return !!l && l.clientPid !== pid && l.address === ai.lease!.address;
      },
      30_000,
      () => JSON.stringify(srv.leases()),
    );
    assert.equal(await macOf(), macBefore, 'same MAC (so the same client id)');
    const newPid = (await list()).find((i) => i.container.name === a.name)!.lease!.clientPid;
    const newStart = (await processStartTime(newPid))!;
    assert.equal(await isSameProcess(pid, start), false, 'the old client went with the old namespace');

    // Detach: DHCPRELEASE, client gone.
    const de = await cli(agent.socket, 'detach', a.name);
    assert.equal(de.code, 0, de.stderr);
    assert.equal(await isSameProcess(newPid, newStart), false);
    await until('a released', () => !srv.leases().includes(` ${ai.lease!.address.split('/')[0]} `));

    // Container removed: helper gone within seconds, host peer gone, lease released.
    await sh.run('docker', ['rm', '-f', b.id]);
    await until('helper removed', async () => (await helpers()).length === 0, 15_000);
    await until(
      'host peer gone',
      async () => (await sh.run('ip', ['-n', srv.ns, 'link', 'show', bi.hostIfname], { allowFail: true })).code !== 0,
      15_000,
      () => processesInNetns(b.nsLink).join('; '),
    );
    await until(
      'b released',
      () => !srv.leases().includes(` ${bi.lease!.address.split('/')[0]} `),
      15_000,
      () =>
        `leases: ${srv.leases()} log: ${srv
          .log()
          .split('\n')
          .filter((l) => l.includes(bi.lease!.address.split('/')[0]!))
          .join(' | ')}`,
    );

    assert.deepEqual(processesMentioning(`${dir}/state/dhcp`), [], 'no client outlives its container');
    assert.equal(readFileSync('/etc/resolv.conf', 'utf8'), resolvBefore);
    await agent.stop();
  },
);
