// The CNI handler's fleet controller over gRPC: ADD is a FleetAttach for this host (the controller
// reserves a fleet-unique address and MAC, records the attachment and orders this very agent to
// make it, then answers once the agent reported it up); DEL is a FleetDetach by attachment id.
// So a CNI attachment is a fleet attachment like any other: `fleetnet ls`, `fleetnet check`,
// resync, release. The agent calls as itself: its host certificate, `host` naming its own host
// (the controller's HOST_SCOPED_POLICY refuses any other host).
import type { Logger } from 'pino';
import { credentials } from '@grpc/grpc-js';
import { FleetnetError } from '../common/errors.js';
import { CONTROLLER_NAME } from '../common/pki/identity.js';
import { clientCredentials, expectServerName, type Credential } from '../common/pki/tls.js';
import { callAgent } from '../common/rpc/agent-client.js';
import { connectFirstLive } from '../common/rpc/failover.js';
import { TlsHandshakeError } from '../common/rpc/tls-failure.js';
import { ControllerClient } from '../common/rpc/services.js';
import { FleetAttachRequest, type Attachment } from '../proto/gen/fleetnet/v1/controller.js';
import type { FleetLink } from './fleet-link.js';
import type { CniCall } from './handler.js';
import type { NetConf } from './netconf.js';
import type { Reservation, Reservations } from './reservations.js';
import { CniCode, CniError, type CniResult } from './spec.js';

export interface GrpcFleetLinkOptions {
  /** ADDR:PORT of the controller, or several comma-separated (the first that answers). */
  controller: string;
  /** This host's name in the fleet (the agent's --host-name). */
  hostName: string;
  reservations: Reservations;
  /** The agent's credential as it stands (it renews itself); undefined: plain TCP (labs without a CA). */
  credential: () => Credential | undefined;
  /** Where the credential's CA is kept (named in the fix of a controller it did not sign). */
  caFile?: string;
  log: Logger;
  /** How long ADD/DEL wait for the controller and the agent's own attach. */
  waitMs?: number;
  /** How long finding a controller that answers may take (STATUS, and the first call). */
  connectMs?: number;
}

/** The reply's margin over the wait the controller is asked for. */
const REPLY_MARGIN_MS = 5000;

export class GrpcFleetLink implements FleetLink {
  private conn?: { client: ControllerClient; certPem: string; addr: string };
  private readonly waitMs: number;
  private readonly connectMs: number;

  constructor(private readonly o: GrpcFleetLinkOptions) {
    this.waitMs = o.waitMs ?? 30_000;
    this.connectMs = o.connectMs ?? 5000;
  }

  close(): void {
    this.conn?.client.close();
    this.conn = undefined;
  }

  /** A connected client with the current credential (a renewed certificate means a new channel). */
  private async client(): Promise<{ client: ControllerClient; addr: string }> {
    const cred = this.o.credential();
    const certPem = cred?.certPem ?? '';
    if (this.conn && this.conn.certPem === certPem) return this.conn;
    this.close();
    const make = (addr: string) =>
      cred
        ? new ControllerClient(addr, clientCredentials(cred.caPem, cred), expectServerName(CONTROLLER_NAME))
        : new ControllerClient(addr, credentials.createInsecure());
    const trust = this.o.caFile ? { caFile: this.o.caFile } : undefined;
    const from = '--cni-controller';
    const { client, addr } = await connectFirstLive(this.o.controller, make, this.connectMs, from, trust);
    this.conn = { client, certPem, addr };
    return this.conn;
  }

  private async call<Req, Res>(
    pick: (c: ControllerClient) => Parameters<typeof callAgent<Req, Res>>[1],
    req: Req,
    timeoutMs: number,
  ): Promise<Res> {
    const { client, addr } = await this.client();
    try {
      return await callAgent(client, pick(client), req, timeoutMs, `the controller at ${addr}`);
    } catch (err) {
      if (err instanceof FleetnetError && err.kind === 'unavailable') this.close(); // the next call looks again
      throw err;
    }
  }

  /** The main plugin's attach (the agent is ordered to make it), or IPAM's reservation (nothing to make). */
  private fleetAttach(conf: NetConf, call: CniCall, id: string, reserveOnly = false) {
    const waitMs = reserveOnly ? 0 : this.waitMs;
    return this.call(
      (c) => c.fleetAttach,
      FleetAttachRequest.fromPartial({
        host: this.o.hostName,
        network: conf.pool.network,
        target: { kind: 'path', value: call.netns },
        ifname: call.ifname,
        attachmentId: id,
        waitMs,
        reserveOnly,
      }),
      waitMs + REPLY_MARGIN_MS,
    );
  }

  /** fleetnet-ipam: a fleet-unique address held at the controller; the interface is another plugin's. */
  async reserve(conf: NetConf, call: CniCall, id: string): Promise<CniResult> {
    const net = conf.pool.network;
    const a = (await this.fleetAttach(conf, call, id, true).catch(cniOfController)).attachment;
    if (!a) throw new CniError(CniCode.attachFailed, 'the controller answered without an attachment');
    const r = { ...this.reservationOf(a, call), plugin: 'fleetnet-ipam' as const };
    await this.o.reservations.locked(net, () => this.o.reservations.put(net, r));
    return {
      cniVersion: conf.cniVersion,
      ips: a.addresses.map((cidr, i) => ({ address: cidr, ...(a.gateways[i] ? { gateway: a.gateways[i] } : {}) })),
      ...(conf.pool.routes.length ? { routes: conf.pool.routes } : {}),
      ...(conf.dns ? { dns: conf.dns } : {}),
    };
  }

  async add(conf: NetConf, call: CniCall, id: string): Promise<CniResult> {
    const net = conf.pool.network;
    const have = this.o.reservations.get(net, id);
    // The same container and ifname in a new namespace (restart without DEL): the old attachment goes first.
    if (have && have.netns !== call.netns) await this.detach(id);
    let reply = await this.fleetAttach(conf, call, id).catch(cniOfController);
    if (reply.attachment && reply.attachment.target?.value !== call.netns) {
      // The controller still holds it in an old namespace (this agent's own record was lost): move it.
      await this.detach(id);
      reply = await this.fleetAttach(conf, call, id).catch(cniOfController);
    }
    const a = reply.attachment;
    if (!a) throw new CniError(CniCode.attachFailed, 'the controller answered without an attachment');
    if (a.state === 'failed') {
      await this.detach(id).catch(() => undefined); // nothing half made: its address and MAC go back
      throw new CniError(CniCode.attachFailed, `the attach failed: ${a.error}`);
    }
    if (a.state !== 'up') {
      const why = `the attachment is ${a.state} (this agent has not confirmed it in ${this.waitMs} ms)`;
      throw new CniError(CniCode.tryAgainLater, why, 'retry the ADD');
    }
    const r = this.reservationOf(a, call);
    await this.o.reservations.locked(net, () => this.o.reservations.put(net, r));
    const ifaces = [
      ...(a.hostIfname ? [{ name: a.hostIfname }] : []),
      { name: a.ifname, mac: a.mac, sandbox: call.netns },
    ];
    const routes = [...conf.pool.routes];
    const gw = a.gateways[0];
    if (conf.link?.defaultRoute && gw) routes.push({ dst: gw.includes(':') ? '::/0' : '0.0.0.0/0', gw });
    return {
      cniVersion: conf.cniVersion,
      interfaces: ifaces,
      ips: a.addresses.map((cidr, i) => ({
        address: cidr,
        ...(a.gateways[i] ? { gateway: a.gateways[i] } : {}),
        interface: ifaces.length - 1,
      })),
      ...(routes.length ? { routes } : {}),
      ...(conf.dns ? { dns: conf.dns } : {}),
    };
  }

  private reservationOf(a: Attachment, call: CniCall): Reservation {
    return {
      id: a.id,
      containerId: call.containerId,
      ifname: call.ifname,
      netns: call.netns,
      plugin: 'fleetnet',
      addresses: a.addresses,
      ...(a.gateways[0] ? { gateway: a.gateways[0] } : {}),
      mac: a.mac,
      controller: true,
      createdMs: Date.now(),
    };
  }

  private async detach(id: string): Promise<void> {
    const r = await this.call(
      (c) => c.fleetDetach,
      {
        host: this.o.hostName,
        target: undefined,
        ifname: '',
        attachmentId: id,
        waitMs: this.waitMs,
      },
      this.waitMs + REPLY_MARGIN_MS,
    ).catch(cniOfController);
    if (!r.done) {
      const why = r.attachment?.error || 'the agent has not confirmed it';
      throw new CniError(CniCode.tryAgainLater, `the detach of ${id} is still pending (${why})`, 'retry the DEL');
    }
  }

  async del(conf: NetConf, _call: CniCall, id: string): Promise<void> {
    await this.detach(id);
    const net = conf.pool.network;
    await this.o.reservations.locked(net, () => this.o.reservations.delete(net, id));
  }

  /** What this agent noted at ADD, while the controller still holds it (CHECK: no reservation otherwise). */
  async reservation(conf: NetConf, _call: CniCall, id: string): Promise<Reservation | undefined> {
    const r = this.o.reservations.get(conf.pool.network, id);
    return r && (await this.held(conf)).includes(id) ? r : undefined;
  }

  /** The ids of this host's CNI attachments on a network, as the controller holds them (GC). */
  async held(conf: NetConf): Promise<string[]> {
    const req = { host: this.o.hostName, network: conf.pool.network, container: '' };
    const r = await this.call((c) => c.listAttachments, req, 10_000).catch(cniOfController);
    // The main plugin's attachments, or IPAM's reservations: each GC frees its own kind.
    return r.attachments.filter((a) => a.id.startsWith('cni-') && a.reserveOnly === !conf.link).map((a) => a.id);
  }

  async status(): Promise<void> {
    try {
      await this.call((c) => c.controllerHealth, {}, this.connectMs);
    } catch (err) {
      if (err instanceof TlsHandshakeError) cniOfController(err);
      const msg = `the fleet controller at ${this.o.controller} does not answer: no address can be allocated`;
      throw new CniError(CniCode.notAvailable, msg, (err as Error).message);
    }
  }
}

/**
 * A controller refusal as the CNI error a runtime reads: the network is what it can find wrong. A TLS handshake that
 * fails (a controller this agent's CA did not sign, or one without TLS) is no refusal: no ADD can be served until it
 * is fixed, the spec's 50 (plugin not available), said as the agent and the CLI say it.
 */
function cniOfController(err: unknown): never {
  if (err instanceof TlsHandshakeError) throw new CniError(CniCode.notAvailable, err.message, err.hint);
  if (!(err instanceof FleetnetError)) throw err;
  const hint = err.hint ?? '';
  switch (err.kind) {
    case 'invalid':
    case 'not_found':
      throw new CniError(CniCode.invalidConfig, `invalid network configuration: network: ${err.message}`, hint);
    case 'unavailable':
      throw new CniError(
        CniCode.tryAgainLater,
        err.message,
        hint || 'start the controller, or check this host reaches it',
      );
    case 'permission':
      throw new CniError(CniCode.attachFailed, `the controller refused: ${err.message}`, hint);
    default:
      throw err;
  }
}
