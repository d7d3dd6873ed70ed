// The controller end to end over gRPC with in-memory agents: desired state, generations, pending
// while an agent is down, nothing created for attach+detach while down; server reflection.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { credentials, loadPackageDefinition, Metadata, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { silentLogger } from '../../common/logger.js';
import { controllerConfig } from '../../controller/config.js';
import { startController } from '../../controller/main.js';
import { fakeFleet } from '../helpers/controller-fake-agent.js';
import { tempStore } from '../helpers/controller-store.js';
import { ControllerClient } from '../../common/rpc/services.js';
import { Network } from '../../proto/gen/fleetnet/v1/controller.js';
import { fleetAttachRequest } from '../helpers/attach-request.js';

type Cb<R> = (e: ServiceError | null, r: R) => void;
const staticAt = (cidr: string) => (cidr ? [{ static: { cidr, gateway: '' } }] : []);

async function setup(t: Parameters<typeof tempStore>[0]) {
  const { store } = tempStore(t);
  const fleet = fakeFleet();
  const cfg = controllerConfig({
    listen: '127.0.0.1:0',
    db: ':unused:',
    resyncMs: 200,
    backoffMinMs: 20,
    backoffMaxMs: 100,
  });
  const ctl = await startController(cfg, silentLogger(), { links: fleet.links, store });
  const client = new ControllerClient(ctl.listen, credentials.createInsecure());
  t.after(async () => {
    client.close();
    await ctl.stop();
  });
  const call = <Req, Res>(fn: (r: Req, md: Metadata, o: object, cb: Cb<Res>) => unknown, req: Req) =>
    new Promise<Res>((res, rej) =>
      fn.call(client, req, new Metadata(), {}, (e: ServiceError | null, r: Res) => (e ? rej(e) : res(r))),
    );
  await call(client.addHost, { name: 'h1', agentAddr: '10.99.0.11', underlayIp: '' });
  await call(client.createNetwork, {
    network: Network.create({ name: 'blue', subnets: ['10.1.1.0/24'], gateways: ['10.1.1.1'], kind: 'bridge' }),
  });
  const attach = (value: string, waitMs: number, cidr = '') =>
    call(
      client.fleetAttach,
      fleetAttachRequest('h1', cidr ? '' : 'blue', value, { addresses: staticAt(cidr), waitMs }),
    );
  const detach = (value: string, waitMs: number) =>
    call(client.fleetDetach, { host: 'h1', target: { kind: 'auto', value }, ifname: '', attachmentId: '', waitMs });
  const agent = () => fleet.agents.get('10.99.0.11:7441')!;
  return { ctl, client, call, attach, detach, agent, fleet };
}

test('attach reaches the agent and comes back up; the same attach again is the same attachment', async (t) => {
  const { attach, agent } = await setup(t);
  const r = await attach('web1', 5000, '10.1.1.50/24');
  assert.equal(r.attachment?.state, 'up');
  assert.equal(r.attachment?.container?.name, 'web1');
  assert.equal(agent().made.size, 1);
  const again = await attach('web1', 5000, '10.1.1.50/24');
  assert.equal(again.created, false);
  assert.equal(again.attachment?.mac, r.attachment?.mac);
  assert.match(r.attachment!.mac, /:63:00:0b:/); // underlay 10.99.0.11
});

test('a gateway outside the subnet is refused with INVALID_ARGUMENT before anything is reserved', async (t) => {
  const { call, client, agent, attach } = await setup(t);
  await attach('warmup', 5000);
  const bad = call(client.fleetAttach, {
    host: 'h1',
    network: '',
    target: { kind: 'auto', value: 'web9' },
    ifname: '',
    addresses: [{ static: { cidr: '10.1.1.60/24', gateway: '10.9.9.1' } }],
    mac: '',
    macString: '',
    vlan: '',
    mtu: 0,
    attachmentId: '',
    waitMs: 5000,
    keepAddress: false,
    reserveOnly: false,
  });
  await assert.rejects(
    bad,
    (e: ServiceError) => e.code === 3 && /10\.9\.9\.1 is outside 10\.1\.1\.0\/24/.test(e.details),
  );
  const ls = (await call(client.listAttachments, { host: '', network: '', container: '' })) as {
    attachments: { target?: { value: string } }[];
  };
  assert.deepEqual(
    ls.attachments.map((a) => a.target?.value),
    ['warmup'],
    'no attachment was recorded',
  );
  assert.equal(agent().made.size, 1, 'the agent was asked for nothing more');
  const ok = await attach('web9', 5000, '10.1.1.60/24');
  assert.equal(ok.attachment?.state, 'up', 'the address was never held');
});

test("the agent's own error marks the attachment failed", async (t) => {
  const { attach, agent } = await setup(t);
  await attach('warmup', 5000);
  agent().missing.add('ghost');
  const r = await attach('ghost', 5000);
  assert.equal(r.attachment?.state, 'failed');
  assert.match(r.attachment!.error, /no container named ghost/);
});

const ALL = { host: '', network: '', container: '' };

test('agent down: attach stays pending, then completes when the agent is back', async (t) => {
  const { attach, agent, call, client } = await setup(t);
  await attach('warmup', 5000);
  agent().down = true;
  const r = await attach('web2', 300);
  assert.equal(r.attachment?.state, 'pending');
  const hosts = await call(client.listHosts, {});
  assert.equal(hosts.hosts[0]?.state, 'unreachable');
  // Partition: what was up shows unreachable (not up), its address still held; nothing pending is lost.
  const during = (await call(client.listAttachments, ALL)).attachments;
  const states = during.map((a) => [a.target?.value, a.state]).sort();
  assert.deepEqual(states, [
    ['warmup', 'unreachable'],
    ['web2', 'pending'],
  ]);
  assert.match(during.find((a) => a.target?.value === 'warmup')!.error, /agent unreachable/);
  agent().down = false;
  const done = await attach('web2', 5000);
  assert.equal(done.attachment?.state, 'up');
  assert.equal(done.attachment?.addresses[0], r.attachment?.addresses[0]);
  const statesNow = async () => (await call(client.listAttachments, ALL)).attachments.map((a) => a.state);
  for (let i = 0; i < 100 && (await statesNow()).some((s) => s !== 'up'); i++) {
    await new Promise((res) => setTimeout(res, 20));
  }
  assert.deepEqual(await statesNow(), ['up', 'up'], 'converged when the agent is back');
});

test('attach then detach while the agent is down: nothing is ever created, the address is free again', async (t) => {
  const { attach, detach, agent, call, client } = await setup(t);
  await attach('warmup', 5000);
  agent().down = true;
  const a = await attach('web3', 100, '10.1.1.77/24');
  assert.equal(a.attachment?.state, 'pending');
  const d = await detach('web3', 100);
  assert.equal(d.found, true);
  assert.equal(d.done, false);
  agent().down = false;
  const deadline = Date.now() + 5000;
  let left = 1;
  while (left && Date.now() < deadline) {
    left = (await call(client.listAttachments, { host: 'h1', network: '', container: 'web3' })).attachments.length;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(left, 0);
  assert.ok(!agent().log.some((l) => l.includes('web3')), agent().log.join('\n'));
  const b = await attach('other', 5000, '10.1.1.77/24');
  assert.equal(b.attachment?.state, 'up');
});

test('detach with the agent up removes the interface and releases the address', async (t) => {
  const { attach, detach, agent } = await setup(t);
  const a = await attach('web4', 5000);
  const d = await detach('web4', 5000);
  assert.equal(d.done, true);
  assert.equal(agent().made.size, 0);
  assert.equal((await detach('web4', 5000)).found, false);
  const b = await attach('web5', 5000, a.attachment!.addresses[0]);
  assert.equal(b.attachment?.state, 'up');
});

test('server reflection lists the Controller service', async (t) => {
  const { ctl } = await setup(t);
  const dir = join(dirname(createRequire(import.meta.url).resolve('@grpc/reflection')), '..', 'proto');
  const def = loadSync('grpc/reflection/v1/reflection.proto', { includeDirs: [dir] });
  const pkg = loadPackageDefinition(def) as unknown as {
    grpc: {
      reflection: {
        v1: {
          ServerReflection: new (
            a: string,
            c: ReturnType<typeof credentials.createInsecure>,
          ) => { serverReflectionInfo(): NodeJS.EventEmitter & { write(m: object): void; end(): void }; close(): void };
        };
      };
    };
  };
  const rc = new pkg.grpc.reflection.v1.ServerReflection(ctl.listen, credentials.createInsecure());
  t.after(() => rc.close());
  const names = await new Promise<string[]>((resolve, reject) => {
    const s = rc.serverReflectionInfo();
    s.on('data', (m: { listServicesResponse?: { service: { name: string }[] } }) => {
      resolve(m.listServicesResponse?.service.map((x) => x.name) ?? []);
      s.end();
    });
    s.on('error', reject);
    s.write({ listServices: '*' });
  });
  assert.ok(names.includes('fleetnet.v1.Controller'), names.join(', '));
  assert.ok(!names.includes('fleetnet.v1.Agent'), 'the controller does not serve the Agent service');
});

test('20 identical attaches at once: one attachment, one interface, identical replies', async (t) => {
  const { attach, agent } = await setup(t);
  const replies = await Promise.all(Array.from({ length: 20 }, () => attach('same', 5000)));
  assert.equal(replies.filter((r) => r.created).length, 1);
  assert.equal(
    new Set(replies.map((r) => `${r.attachment?.id} ${r.attachment?.addresses.join()} ${r.attachment?.mac}`)).size,
    1,
  );
  assert.ok(replies.every((r) => r.attachment?.state === 'up'));
  assert.equal(agent().made.size, 1);
  assert.equal(agent().log.filter((l) => l.startsWith('attach')).length, 1, agent().log.join('\n'));
});

test('FleetAttachBatch: each item decided on its own, replies in order, a refused item alone', async (t) => {
  const { call, client, attach, agent } = await setup(t);
  await attach('holder', 5000, '10.1.1.60/24');
  const item = (value: string, cidr = '') =>
    fleetAttachRequest('h1', cidr ? '' : 'blue', value, { addresses: staticAt(cidr), waitMs: 5000 });
  const r = await call(client.fleetAttachBatch, {
    requests: [item('b1'), item('b2', '10.1.1.60/24'), item('b3'), item('b1')],
  });
  assert.deepEqual(
    r.items.map((i) => i.errorKind),
    ['', 'conflict', '', ''],
  );
  assert.match(r.items[1]!.error, /holder/);
  const [b1, , b3, b1again] = r.items.map((i) => i.reply?.attachment);
  assert.equal(b1?.container?.name, 'b1');
  assert.equal(b3?.container?.name, 'b3');
  assert.ok(b1?.state === 'up' && b3?.state === 'up');
  assert.notEqual(b1?.addresses[0], b3?.addresses[0]);
  assert.equal(b1again?.id, b1?.id, 'the same attach twice in a batch is one attachment');
  assert.equal(agent().made.size, 3); // holder, b1, b3
  await assert.rejects(
    call(client.fleetAttachBatch, { requests: Array.from({ length: 1001 }, (_, i) => item(`x${i}`)) }),
    /too large/,
  );
});

test('a DHCP lease the agent reports shows in the fleet inventory after the next pass', async (t) => {
  const { attach, agent, call, client } = await setup(t);
  const r = await attach('dhcpweb', 5000, '10.1.1.60/24');
  assert.equal(r.attachment?.state, 'up');
  // The agent's DHCP client got a lease on the same interface (as List reports it).
  const made = agent().made.get(r.attachment!.id)!;
  made.lease = {
    address: '10.1.1.150/24',
    router: '10.1.1.1',
    dns: ['10.1.1.1'],
    leaseSeconds: 120,
    expiresUnixMs: Date.now() + 120_000,
    clientPid: 4242,
    client: 'udhcpc',
  };
  let addrs: string[] = [];
  for (let i = 0; i < 50 && !addrs.includes('10.1.1.150/24'); i++) {
    const ls = await call(client.listAttachments, { host: 'h1', network: '', container: 'dhcpweb' });
    addrs = ls.attachments[0]?.addresses ?? [];
    if (!addrs.includes('10.1.1.150/24')) await new Promise((res) => setTimeout(res, 100));
  }
  assert.deepEqual(addrs, ['10.1.1.60/24', '10.1.1.150/24']);
});
