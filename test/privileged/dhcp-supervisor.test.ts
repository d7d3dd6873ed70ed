// The DHCP supervisor for real: dnsmasq on a bridge in a test namespace, Docker containers
// (--network none, labelled) as targets, a veth from the server's bridge into each container.
// All client kinds run in parallel so the 120 s lease's renewal is waited for only once.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Docker from 'dockerode';
import { HELPER_LABEL } from '../../agent/dhcp/helper-container.js';
import { isSameProcess, ownerOf, processStartTime, waitGone } from '../../agent/dhcp/process.js';
import { DhcpSupervisor } from '../../agent/dhcp/supervisor.js';
import type { DhcpClient, Lease } from '../../agent/dhcp/types.js';
import type { FleetnetError } from '../../common/errors.js';
import { macFromString } from '../../common/mac.js';
import {
  addrsOf,
  killLeftoversInTargets,
  ping,
  processesInNetns,
  processesMentioning,
  quietLog,
  removeTargets,
  sh,
  startDhcpServer,
  startTarget,
  until,
  type DhcpServer,
  type Target,
} from './dhcp-fixture.js';

const KINDS: DhcpClient[] = ['udhcpc', 'dhclient', 'dhcpcd', 'dhcp'];
const docker = new Docker();

interface Run {
  prefix: string;
  srv: DhcpServer;
  state: string;
  sup: DhcpSupervisor;
  resolvBefore: string;
}

async function setUp(tag: string, t: { after(fn: () => Promise<void>): void }): Promise<Run> {
  const prefix = `fndh${tag}${process.pid.toString(36).slice(-3)}${Math.random().toString(36).slice(2, 5)}`;
  const resolvBefore = readFileSync('/etc/resolv.conf', 'utf8');
  const srv = await startDhcpServer(prefix);
  const state = mkdtempSync(join(tmpdir(), `${prefix}-state-`));
  const run: Run = { prefix, srv, state, sup: newSupervisor(state), resolvBefore };
  t.after(async () => {
    run.sup.close();
    await removeTargets(prefix);
    killLeftoversInTargets();
    for (const c of await docker.listContainers({ all: true, filters: { label: [`${HELPER_LABEL}=1`] } })) {
      if (
        c.Labels['fleetnet.owner'] &&
        !(await docker
          .getContainer(c.Labels['fleetnet.owner'])
          .inspect()
          .then(
            () => true,
            () => false,
          ))
      ) {
        await docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined);
      }
    }
    for (const pid of processesMentioning(state)) process.kill(pid, 'SIGKILL');
    await srv.stop();
    rmSync(state, { recursive: true, force: true });
  });
  return run;
}

function newSupervisor(state: string): DhcpSupervisor {
  return new DhcpSupervisor({
    runner: sh,
    log: quietLog,
    stateDir: state,
    docker: () => docker,
    pollMs: 200,
    firstLeaseTimeoutMs: 45_000,
    backoffFirstMs: 200,
  });
}

async function attachTarget(
  r: Run,
  name: string,
  client: DhcpClient,
  mac?: string,
  oneshot = false,
): Promise<{ t: Target; lease: Lease }> {
  const t = await startTarget(`${r.prefix}-${name}`, r.prefix);
  await r.srv.plug(String(t.pid), 'eth1', mac);
  const lease = await r.sup.start({
    key: `${t.id}/eth1`,
    netns: t.netns,
    ifname: 'eth1',
    client,
    options: '',
    hostname: t.name,
    dns: false,
    oneshot,
    owner: await ownerOf({ pid: t.pid, nsKey: t.id, runtime: 'docker', id: t.id }),
  });
  return { t, lease };
}

async function assertClean(r: Run): Promise<void> {
  assert.deepEqual(processesMentioning(r.state), [], 'no client process outlives the test');
  const helpers = await docker.listContainers({
    all: true,
    filters: { label: [`${HELPER_LABEL}=1`, `fleetnet.dhcp-key`] },
  });
  assert.deepEqual(
    helpers.filter((h) => h.Names.some((n) => n.includes(r.prefix)) || r.sup.has(h.Labels['fleetnet.dhcp-key'] ?? '')),
    [],
  );
  assert.equal(
    readFileSync('/proc/self/mountinfo', 'utf8').includes('fleetnet-dhcpcd'),
    false,
    'no dhcpcd mount leaks into the machine',
  );
  assert.equal(readFileSync('/etc/resolv.conf', 'utf8'), r.resolvBefore, "the machine's resolv.conf is untouched");
}

test(
  'every client kind: lease, ping, renewal before expiry, kill -9 restart, adoption, reaping',
  { timeout: 240_000 },
  async (t) => {
    const r = await setUp('a', t);
    const got = await Promise.all(KINDS.map((k) => attachTarget(r, k, k)));

    // Each gets a lease (all on eth1 at once, in four containers), holds it, and reaches the server.
    const addrs = got.map((g) => g.lease.address);
    assert.equal(new Set(addrs).size, KINDS.length, `distinct addresses: ${addrs.join(' ')}`);
    for (const g of got) {
      assert.deepEqual(await addrsOf(g.t.netns, 'eth1'), [g.lease.address]);
      assert.ok(await ping(g.t.netns, r.srv.serverIp), `${g.lease.client} pings the server`);
      assert.equal(g.lease.leaseSeconds, 120);
      assert.match(
        r.srv.leases(),
        new RegExp(`${g.lease.address.split('/')[0]!.replace(/\./g, '\\.')} ${g.t.name}`),
        `${g.lease.client} sent the container name as host name`,
      );
    }

    // dhcpcd's private mount namespace pins no other namespace (no nsfs mount copied into it).
    // (dhcpcd chroots itself, so its mount table is read from inside its mount namespace.)
    const dhcpcdPid = got.find((g) => g.lease.client === 'dhcpcd')!.lease.clientPid;
    const mounts = (await sh.run('nsenter', [`--mount=/proc/${dhcpcdPid}/ns/mnt`, 'cat', '/proc/self/mountinfo']))
      .stdout;
    assert.doesNotMatch(mounts, / - nsfs /);
    assert.match(mounts, / \/run .* - tmpfs fleetnet-dhcpcd /);
    assert.notEqual(readFileSync('/proc/self/mountinfo', 'utf8').includes('fleetnet-dhcpcd'), true);

    // Renewal: no signal is sent; each client renews by itself before the 120 s lease runs out,
    // and the address never leaves the interface meanwhile.
    const acks = (ip: string) =>
      r.srv
        .log()
        .split('\n')
        .filter((l) => l.includes('DHCPACK') && l.includes(ip)).length;
    const renewed = new Set<string>();
    const deadline = Date.now() + 110_000;
    while (renewed.size < got.length && Date.now() < deadline) {
      for (const g of got) {
        assert.deepEqual(await addrsOf(g.t.netns, 'eth1'), [g.lease.address], `${g.lease.client} keeps its address`);
        if (
          acks(g.lease.address.split('/')[0]!) >= 2 &&
          r.sup.lease(g.lease.key)!.obtainedUnixMs > g.lease.obtainedUnixMs
        )
          renewed.add(g.lease.client);
      }
      await new Promise((res) => setTimeout(res, 1000));
    }
    assert.deepEqual([...renewed].sort(), [...KINDS].sort(), 'every client renewed before expiry');

    // kill -9 of the client: restarted, same address.
    await Promise.all(
      got.map(async (g) => {
        const before = r.sup.lease(g.lease.key)!;
        process.kill(before.clientPid, 'SIGKILL');
        await until(
          `${g.lease.client} restarted`,
          () => {
            const l = r.sup.lease(g.lease.key);
            return !!l && l.clientPid !== before.clientPid;
          },
          60_000,
        );
        assert.equal(r.sup.lease(g.lease.key)!.address, g.lease.address, `${g.lease.client} got the same address back`);
        assert.deepEqual(await addrsOf(g.t.netns, 'eth1'), [g.lease.address]);
      }),
    );

    // The agent goes away without stopping anything; one client dies meanwhile. A new supervisor adopts
    // the live client processes (same PIDs) and restarts the dead one, which asks for its address again.
    const pids = new Map(got.map((g) => [g.lease.key, r.sup.lease(g.lease.key)!.clientPid]));
    r.sup.close();
    const dead = got.find((g) => g.lease.client === 'udhcpc')!.lease.key;
    const deadStart = await processStartTime(pids.get(dead)!);
    process.kill(pids.get(dead)!, 'SIGKILL');
    // SIGKILL is delivered asynchronously: on a busy machine the client can still run for a moment.
    assert.ok(await waitGone(pids.get(dead)!, deadStart ?? '', 10_000), 'the killed client is gone');
    r.sup = newSupervisor(r.state);
    const events: string[] = [];
    r.sup.on('event', (ev) => events.push(`${ev.type}:${'key' in ev ? ev.key : ev.lease.key}`));
    const adopted = await r.sup.adopt();
    assert.deepEqual(adopted.adopted.sort(), [...pids.keys()].filter((k) => k !== dead).sort());
    assert.deepEqual(adopted.restarted, [dead]);
    for (const [key, pid] of pids)
      if (key !== dead) assert.equal(r.sup.lease(key)?.clientPid, pid, 'same client PID after the restart');
    await until(
      'the dead client restarted with a lease',
      () => (r.sup.lease(dead)?.clientPid ?? pids.get(dead)) !== pids.get(dead),
      30_000,
    );
    assert.equal(
      r.sup.lease(dead)!.address,
      got.find((g) => g.lease.key === dead)!.lease.address,
      'same address after the restart',
    );
    assert.ok(events.includes(`lease:${dead}`), 'lease changes are reported as events');
    pids.set(dead, r.sup.lease(dead)!.clientPid);

    // Container removed: its client is gone within seconds and the lease released.
    await Promise.all(
      got.map(async (g) => {
        const pid = pids.get(g.lease.key)!;
        const start = (await processStartTime(pid))!;
        await sh.run('docker', ['rm', '-f', g.t.id]);
        await until(
          `${g.lease.client} reaped`,
          async () => !(await isSameProcess(pid, start)) && !r.sup.has(g.lease.key),
          15_000,
        );
        // Nothing of ours keeps the namespace (the host peer itself is the agent's to delete, see dhcp-agent.test.ts:
        // another program's mount namespace may hold the namespace, and with it the veth, for a while).
        assert.deepEqual(
          processesInNetns(g.t.nsLink).filter((h) => !h.startsWith('mount:') && !h.startsWith('nothing')),
          [],
          `${g.lease.client}: nothing of ours holds the namespace`,
        );
        await until(
          `${g.lease.client}'s lease released`,
          () => !r.srv.leases().includes(` ${g.lease.address.split('/')[0]} `),
          15_000,
        );
      }),
    );
    await assertClean(r);
  },
);

test(
  'same U: MAC → same address after detach and attach; oneshot keeps the address and stops the client',
  { timeout: 120_000 },
  async (t) => {
    const r = await setUp('b', t);
    const mac = macFromString(`${r.prefix}.example.com`);
    // One client kind after the other: a released address is offered again from the server's hash of the
    // MAC, and a second client asking at the same time can take it (the likely cause of one CI failure).
    for (const k of ['udhcpc', 'dhcpcd'] as DhcpClient[]) {
      const kmac = k === 'udhcpc' ? mac : macFromString(`${r.prefix}.dhcpcd`);
      const first = await attachTarget(r, `${k}1`, k, kmac);
      await r.sup.stop(first.lease.key, { release: true });
      await until('released', () => !r.srv.leases().includes(` ${first.lease.address.split('/')[0]} `));
      await sh.run('docker', ['rm', '-f', first.t.id]);
      const again = await attachTarget(r, `${k}2`, k, kmac);
      assert.equal(again.lease.address, first.lease.address, `${k}: the same U: MAC gets the same address`);
      await r.sup.stop(again.lease.key, { release: true });
    }

    const one = await attachTarget(r, 'oneshot', 'udhcpc', undefined, true);
    assert.equal(one.lease.clientPid, 0);
    assert.deepEqual(await addrsOf(one.t.netns, 'eth1'), [one.lease.address]);
    assert.deepEqual(processesMentioning(r.state), [], 'the oneshot client is gone');
    await r.sup.stop(one.lease.key, { release: false });
    await assertClean(r);
  },
);

test(
  'no lease → a clear error and nothing left running; bad options refused before anything runs',
  { timeout: 60_000 },
  async (t) => {
    const r = await setUp('c', t);
    const tg = await startTarget(`${r.prefix}-nolease`, r.prefix);
    await sh.run('ip', [
      '-n',
      r.srv.ns,
      'link',
      'add',
      'lonely',
      'type',
      'veth',
      'peer',
      'name',
      'eth1',
      'netns',
      String(tg.pid),
    ]); // not on the bridge
    const sup = new DhcpSupervisor({
      runner: sh,
      log: quietLog,
      stateDir: r.state,
      docker: () => docker,
      pollMs: 200,
      firstLeaseTimeoutMs: 4000,
    });
    t.after(() => sup.close());
    const spec = {
      key: `${tg.id}/eth1`,
      netns: tg.netns,
      ifname: 'eth1',
      client: 'udhcpc' as const,
      options: '',
      dns: false,
      oneshot: false,
      owner: await ownerOf({ pid: tg.pid, nsKey: '', runtime: 'docker', id: tg.id }),
    };
    // the hint carries what the client said (its folder goes with the failed start), not a path to it
    await assert.rejects(
      sup.start(spec),
      (e: FleetnetError) =>
        /got no DHCP lease on eth1 within 4 s/.test(e.message) &&
        /the client's last words:\n {4}\S/.test(e.hint ?? '') &&
        !/client\.log/.test(e.hint ?? ''),
    );
    await assert.rejects(sup.start({ ...spec, options: '-q' }), /-q is refused/);
    await assert.rejects(
      sup.start({ ...spec, client: 'dhcp', owner: { nsKey: 'x' } }),
      /helper container next to a Docker container/,
    );
    assert.equal(sup.has(spec.key), false);
    await assertClean(r);
  },
);
