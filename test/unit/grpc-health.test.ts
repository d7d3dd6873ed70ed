// grpc.health.v1 on the controller's and the agent's gRPC endpoints, asked through the
// `grpc-health-check` package's own client definition (what grpc_health_probe speaks).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ServiceError } from '@grpc/grpc-js';
import { silentLogger } from '../../common/logger.js';
import { agentTlsFiles } from '../../agent/trust/credentials.js';
import { startAgentTcp } from '../../agent/trust/tcp-endpoint.js';
import { CONTROLLER_NAME } from '../../common/pki/identity.js';
import { controllerConfig } from '../../controller/config.js';
import { startController } from '../../controller/main.js';
import { fakeFleet } from '../helpers/controller-fake-agent.js';
import { controllerWithCli } from '../helpers/controller-cli.js';
import { tempStore } from '../helpers/controller-store.js';
import { makeTestFleet } from '../helpers/pki.js';
import { healthCheck as check } from '../helpers/grpc-health.js';

async function agentTcp(t: { after(fn: () => unknown): void }, insecureTcp: boolean): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'fleetnet-health-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const addr = `unix:${dir}/agent.sock`;
  const tcp = await startAgentTcp({
    listen: addr,
    agentImpl: {},
    credential: undefined,
    files: agentTlsFiles(dir),
    insecureTcp,
    log: silentLogger(),
  });
  t.after(() => tcp.stop());
  return addr;
}

test(
  'controller: grpc.health.v1 says SERVING for the server and the Controller service, ' + 'NOT_FOUND for others',
  async (t) => {
    const { sock } = await controllerWithCli(t);
    assert.equal(await check(sock, ''), 'SERVING');
    assert.equal(await check(sock, 'fleetnet.v1.Controller'), 'SERVING');
    await assert.rejects(check(sock, 'no.such.Service'), (e: ServiceError) => e.code === 5);
  },
);

test(
  'agent TCP endpoint, not enrolled: health answers through the authorization interceptor; ' + 'Agent NOT_SERVING',
  async (t) => {
    const addr = await agentTcp(t, false);
    assert.equal(await check(addr, ''), 'SERVING');
    assert.equal(await check(addr, 'fleetnet.v1.Agent'), 'NOT_SERVING');
  },
);

test('agent TCP endpoint opened by --insecure-tcp: Agent SERVING', async (t) => {
  const addr = await agentTcp(t, true);
  assert.equal(await check(addr, 'fleetnet.v1.Agent'), 'SERVING');
});

test(
  'mutual TLS endpoints: ' +
    'a probe with no client certificate gets the health answer (controller and enrolled agent)',
  async (t) => {
    const fleet = await makeTestFleet();
    t.after(() => fleet.cleanup());
    const { store } = tempStore(t);
    const cfg = controllerConfig({ listen: '127.0.0.1:0', db: ':unused:', trustDir: join(fleet.dir, 'ctl') });
    const ctl = await startController(cfg, silentLogger(), { links: fakeFleet().links, store });
    t.after(() => ctl.stop());
    const ca = fleet.trust.ca.certPem;
    assert.equal(await check(ctl.listen, '', { caPem: ca, serverName: CONTROLLER_NAME }), 'SERVING');
    assert.equal(
      await check(ctl.listen, 'fleetnet.v1.Controller', { caPem: ca, serverName: CONTROLLER_NAME }),
      'SERVING',
    );
    const dir = mkdtempSync(join(tmpdir(), 'fleetnet-health-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const credential = await fleet.cred('host', 'h1');
    const addr = `unix:${dir}/agent.sock`;
    const tcp = await startAgentTcp({
      listen: addr,
      agentImpl: {},
      credential,
      files: agentTlsFiles(dir),
      insecureTcp: false,
      log: silentLogger(),
    });
    t.after(() => tcp.stop());
    assert.equal(await check(addr, 'fleetnet.v1.Agent', { caPem: ca, serverName: 'h1' }), 'SERVING');
  },
);
