// The fleet of the trust-mtls-*.test.ts files, in one process over unix sockets (no network needed): a
// controller endpoint (a stand-in Controller service) and two agents, ha and hb, that enroll with join
// tokens; trustMtlsFleet() makes it before the file's tests and stops and removes it after them, also on
// failure. callCode() makes one raw call of any method as any kind of client.
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before } from 'node:test';
import pino from 'pino';
import { agentConfig } from '../../agent/config.js';
import { startAgent, type AgentHandle } from '../../agent/main.js';
import { unary } from '../../common/rpc/server.js';
import { clientCredentials, expectServerName, type Credential } from '../../common/pki/tls.js';
import { startControllerEndpoint, type ControllerEndpoint } from '../../controller/pki/endpoint.js';
import { makeTestFleet, type TestFleet } from '../helpers/pki.js';
import { AgentService, AgentTrustService } from '../../common/rpc/services.js';

export const log = pino({ level: 'silent' });
export let fleet: TestFleet;
let ctl: ControllerEndpoint;
export const agents: Record<string, { handle: AgentHandle; tcp: string; stateDir: string; tokenFile: string }> = {};
export let ctlAddr: string;

export type Method = {
  path: string;
  requestSerialize: (x: never) => Buffer;
  requestDeserialize: (b: Buffer) => object;
  responseDeserialize: (b: Buffer) => unknown;
};

/** One raw unary call of any method: returns the status code (0 = OK). */
export async function callCode(
  addr: string,
  serverName: string,
  cred: Credential | 'none' | 'plaintext',
  m: Method,
  req: object = {},
): Promise<{ code: number; details: string; res?: unknown }> {
  const caPem = fleet.trust.ca.certPem;
  const creds =
    cred === 'plaintext'
      ? credentials.createInsecure()
      : cred === 'none'
        ? clientCredentials(caPem)
        : clientCredentials(caPem, cred);
  const client = new Client(addr, creds, expectServerName(serverName));
  try {
    return await new Promise((resolve) => {
      client.makeUnaryRequest(
        m.path,
        m.requestSerialize as (x: object) => Buffer,
        m.responseDeserialize,
        { ...m.requestDeserialize(Buffer.alloc(0)), ...req },
        new Metadata(),
        { deadline: Date.now() + 15_000 },
        (err: ServiceError | null, res?: unknown) =>
          resolve(err ? { code: err.code, details: err.details } : { code: 0, details: '', res }),
      );
    });
  } finally {
    client.close();
  }
}

export async function startHostAgent(name: string, extra: { insecureTcp?: boolean } = {}): Promise<void> {
  const d = join(fleet.dir, name);
  mkdirSync(d, { recursive: true });
  const tokenFile = join(d, 'join-token');
  writeFileSync(tokenFile, (await fleet.trust.tokens.issue(name)).token, { mode: 0o600 });
  const tcp = `unix://${d}/tcp.sock`;
  const cfg = agentConfig({
    socket: join(d, 'agent.sock'),
    stateDir: join(d, 'state'),
    listen: tcp,
    controller: ctlAddr,
    hostName: name,
    caFile: join(fleet.dir, 'ctl', 'ca.crt'),
    joinTokenFile: tokenFile,
    logLevel: 'silent',
    ...extra,
  });
  agents[name] = { handle: await startAgent(cfg, log), tcp, stateDir: join(d, 'state'), tokenFile };
}

/** The controller endpoint and agents ha and hb, before this file's tests; all stopped and removed after them. */
export function trustMtlsFleet(): void {
  before(async () => {
    fleet = await makeTestFleet();
    ctlAddr = `unix://${fleet.dir}/ctl.sock`;
    // a stand-in for the Controller service: any method without a rule of its own is CLI/controller only
    // list through grpc-js and its interceptor; capabilities (a `unary` handler) on node:http2 directly
    const stub = {
      list: (_c: unknown, cb: (e: null, r: object) => void) => cb(null, { interfaces: [], labelled: [] }),
      capabilities: unary(log, 'Capabilities', async () => ({ capabilities: [] })),
    };
    ctl = await startControllerEndpoint({
      trust: fleet.trust,
      listen: ctlAddr,
      log,
      services: [{ def: AgentService, impl: stub as never }],
    });
    await startHostAgent('ha');
    await startHostAgent('hb');
  });

  after(async () => {
    for (const a of Object.values(agents)) await a.handle.stop();
    await ctl?.stop();
    fleet?.cleanup();
  });
}

export const DENIED = [status.UNAUTHENTICATED, status.PERMISSION_DENIED];
export const agentMethods = [
  ...Object.values(AgentService),
  ...Object.values(AgentTrustService),
] as unknown as (Method & {
  path: string;
})[];

export async function revokedHost(): Promise<Credential> {
  const c = await fleet.cred('host', 'ha');
  fleet.trust.revocations.revoke({ serial: c.serial, name: 'ha', reason: 'test' });
  return c;
}
