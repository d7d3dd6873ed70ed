// Addresses from the fleet for CNI: an agent calls FleetAttach, FleetDetach and ListAttachments on
// the controller with its host certificate, for its own host only. A real controller with mutual
// TLS on a unix socket (no agent answers: attaches stay pending, which is all this needs).
import assert from 'node:assert/strict';
import { Client, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import pino from 'pino';
import { CONTROLLER_NAME } from '../../common/pki/identity.js';
import { clientCredentials, expectServerName, type Credential } from '../../common/pki/tls.js';
import { ControllerService } from '../../common/rpc/services.js';
import { controllerConfig } from '../../controller/config.js';
import { startController, type ControllerHandle } from '../../controller/main.js';
import { makeTestFleet, type TestFleet } from '../helpers/pki.js';
import { agentConfig } from '../../agent/config.js';
import { cniFleetLink } from '../../agent/main.js';
import { agentTlsFiles, saveAgentCredential } from '../../agent/trust/credentials.js';
import { parseNetConf } from '../../cni/netconf.js';
import { Reservations } from '../../cni/reservations.js';
import { CniError } from '../../cni/spec.js';
import { FleetAttachRequest, Network } from '../../proto/gen/fleetnet/v1/controller.js';

let fleet: TestFleet;
let ctl: ControllerHandle;
let addr: string;
const creds: Record<string, Credential> = {};

type Method = {
  path: string;
  requestSerialize: (x: never) => Buffer;
  requestDeserialize: (b: Buffer) => object;
  responseDeserialize: (b: Buffer) => unknown;
};

async function call(
  who: string,
  m: unknown,
  req: object,
): Promise<{ code: number; details: string; res?: Record<string, unknown> }> {
  const method = m as Method;
  const client = new Client(
    addr,
    clientCredentials(fleet.trust.ca.certPem, creds[who]),
    expectServerName(CONTROLLER_NAME),
  );
  try {
    return await new Promise((resolve) => {
      client.makeUnaryRequest(
        method.path,
        method.requestSerialize as (x: object) => Buffer,
        method.responseDeserialize,
        { ...method.requestDeserialize(Buffer.alloc(0)), ...req },
        new Metadata(),
        { deadline: Date.now() + 15_000 },
        (err: ServiceError | null, res?: unknown) =>
          resolve(
            err
              ? { code: err.code, details: err.details }
              : { code: 0, details: '', res: res as Record<string, unknown> },
          ),
      );
    });
  } finally {
    client.close();
  }
}

const attachReq = (host: string, id: string) =>
  FleetAttachRequest.fromPartial({
    host,
    network: 'blue',
    target: { kind: 'path', value: `/run/netns/${id}` },
    ifname: 'eth0',
    attachmentId: id,
  });

before(async () => {
  fleet = await makeTestFleet();
  addr = `unix://${join(fleet.dir, 'ctl.sock')}`;
  ctl = await startController(
    controllerConfig({
      listen: addr,
      db: join(fleet.dir, 'state.db'),
      trustDir: join(fleet.dir, 'ctl'),
      logLevel: 'silent',
    }),
    pino({ level: 'silent' }),
  );
  creds.admin = await fleet.cred('cli', 'admin');
  creds.ha = await fleet.cred('host', 'ha');
  creds.hb = await fleet.cred('host', 'hb');
  for (const [i, h] of ['ha', 'hb'].entries()) {
    const r = await call('admin', ControllerService.addHost, {
      name: h,
      agentAddr: `127.0.0.1:${9 + i}`,
      underlayIp: `10.0.0.${i + 1}`,
    });
    assert.equal(r.code, 0, r.details);
  }
  const net = await call('admin', ControllerService.createNetwork, {
    network: Network.create({ name: 'blue', subnets: ['10.5.0.0/24'], bridge: 'br-blue', kind: 'bridge' }),
  });
  assert.equal(net.code, 0, net.details);
});

after(async () => {
  await ctl?.stop();
  fleet?.cleanup();
});

it('a host certificate attaches, lists and detaches for its own host', async () => {
  const a = await call('ha', ControllerService.fleetAttach, attachReq('ha', 'cni-own'));
  assert.equal(a.code, 0, a.details);
  assert.match(String((a.res!.attachment as { addresses: string[] }).addresses[0]), /^10\.5\.0\.\d+\/24$/);
  const l = await call('ha', ControllerService.listAttachments, { host: 'ha', network: 'blue', container: '' });
  assert.equal(l.code, 0, l.details);
  assert.deepEqual(
    (l.res!.attachments as { id: string }[]).map((x) => x.id),
    ['cni-own'],
  );
  const d = await call('ha', ControllerService.fleetDetach, {
    host: 'ha',
    ifname: '',
    attachmentId: 'cni-own',
    waitMs: 0,
  });
  assert.equal(d.code, 0, d.details);
});

it('a host certificate may not act for another host, list the fleet, or call anything else', async () => {
  // a user may, for any host
  assert.equal((await call('admin', ControllerService.fleetAttach, attachReq('hb', 'cni-b'))).code, 0);
  const other = await call('ha', ControllerService.fleetAttach, attachReq('hb', 'cni-x'));
  assert.equal(other.code, status.PERMISSION_DENIED);
  assert.match(other.details, /host ha's certificate may not act for host hb/);
  assert.equal(
    (await call('ha', ControllerService.listAttachments, { host: '', network: '', container: '' })).code,
    status.PERMISSION_DENIED,
  );
  assert.equal(
    (await call('ha', ControllerService.listAttachments, { host: 'hb', network: '', container: '' })).code,
    status.PERMISSION_DENIED,
  );
  // Another host's attachment by its id, naming itself as the host: refused by the controller.
  const steal = await call('ha', ControllerService.fleetDetach, {
    host: 'ha',
    ifname: '',
    attachmentId: 'cni-b',
    waitMs: 0,
  });
  assert.equal(steal.code, status.PERMISSION_DENIED, steal.details);
  assert.match(steal.details, /attachment cni-b is on host hb, not ha/);
  assert.equal(
    (await call('ha', ControllerService.fleetDetach, { host: '', ifname: '', attachmentId: 'cni-b', waitMs: 0 })).code,
    status.PERMISSION_DENIED,
  );
  for (const m of [
    ControllerService.createNetwork,
    ControllerService.removeHost,
    ControllerService.fleetCheck,
    ControllerService.fleetAttachBatch,
  ]) {
    assert.equal((await call('hb', m, {})).code, status.PERMISSION_DENIED, (m as unknown as Method).path);
  }
  assert.equal(
    (await call('hb', ControllerService.fleetDetach, { host: 'hb', ifname: '', attachmentId: 'cni-b', waitMs: 0 }))
      .code,
    0,
  );
});

it('a reservation (fleetnet-ipam): up at once with nothing ordered, freed at once by FleetDetach', async () => {
  const r = await call('ha', ControllerService.fleetAttach, { ...attachReq('ha', 'cni-ipam'), reserveOnly: true });
  assert.equal(r.code, 0, r.details);
  const a = r.res!.attachment as { state: string; reserveOnly: boolean; addresses: string[] };
  assert.deepEqual([a.state, a.reserveOnly], ['up', true]);
  const twice = await call('ha', ControllerService.fleetAttach, { ...attachReq('ha', 'cni-ipam'), reserveOnly: true });
  assert.deepEqual((twice.res!.attachment as { addresses: string[] }).addresses, a.addresses);
  const asMain = await call('ha', ControllerService.fleetAttach, attachReq('ha', 'cni-ipam'));
  assert.equal(asMain.code, status.ALREADY_EXISTS, asMain.details); // the same id as an interface: a conflict
  const d = await call('ha', ControllerService.fleetDetach, {
    host: 'ha',
    ifname: '',
    attachmentId: 'cni-ipam',
    waitMs: 5000,
  });
  assert.deepEqual([d.code, d.res?.found, d.res?.done], [0, true, true]);
  const l = await call('ha', ControllerService.listAttachments, { host: 'ha', network: 'blue', container: '' });
  assert.deepEqual(
    (l.res!.attachments as { id: string }[]).filter((x) => x.id === 'cni-ipam'),
    [],
  );
});

it('the agent side: cniFleetLink picks the enrolled controller, calls with the host cert as it stands', async () => {
  const stateDir = join(fleet.dir, 'agent-ha');
  const files = agentTlsFiles(stateDir);
  const base = { stateDir, hostName: 'ha', logLevel: 'silent' as const };
  const log = pino({ level: 'silent' });
  assert.equal(
    cniFleetLink(agentConfig(base), new Reservations(stateDir), log),
    undefined,
    'not enrolled, no --cni-controller: local pools',
  );
  saveAgentCredential(files, creds.ha!, addr);
  assert.equal(
    cniFleetLink(agentConfig({ ...base, cniController: 'none' }), new Reservations(stateDir), log),
    undefined,
  );
  const link = cniFleetLink(agentConfig(base), new Reservations(stateDir), log)!;
  try {
    const conf = parseNetConf('fleetnet-ipam', {
      cniVersion: '1.1.0',
      name: 'blue',
      type: 'bridge',
      ipam: { type: 'fleetnet-ipam', network: 'blue' },
    });
    const call = {
      plugin: 'fleetnet-ipam' as const,
      command: 'ADD',
      containerId: 'c1',
      netns: '/run/netns/x1',
      ifname: 'eth0',
      config: new Uint8Array(),
    };
    await link.status();
    const res = await link.reserve(conf, call, 'cni-link');
    assert.match(res.ips[0]!.address, /^10\.5\.0\.\d+\/24$/);
    // A renewed certificate: the next call opens a new channel with it.
    saveAgentCredential(files, await fleet.cred('host', 'ha'));
    assert.deepEqual(await link.held(conf), ['cni-link']);
    await link.del(conf, call, 'cni-link');
    assert.deepEqual(await link.held(conf), []);
    // Another host's certificate in this agent's files: the controller refuses to act for ha.
    saveAgentCredential(files, creds.hb!);
    await assert.rejects(
      link.reserve(conf, call, 'cni-link2'),
      (e: unknown) => e instanceof CniError && /may not act for host ha/.test(e.message),
    );
  } finally {
    link.close();
  }
});
