// The CNI handler's fleet controller over gRPC: ADD is a FleetAttach for this host (the controller
// reserves a fleet-unique address and MAC, records the attachment and orders this very agent to
// make it, then answers once the agent reported it up); DEL is a FleetDetach by attachment id.
// So a CNI attachment is a fleet attachment like any other: `fleetnet ls`, resync, release.
import { credentials, Metadata, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { FleetnetError } from '../common/errors.js';
import { fromServiceError } from '../common/grpc-errors.js';
import { CONTROLLER_NAME } from '../common/pki/identity.js';
import { clientCredentials, expectServerName, type Credential } from '../common/pki/tls.js';
import { ControllerClient, type Attachment } from '../proto/gen/fleetnet/v1/controller.js';
import type { FleetLink } from './fleet-link.js';
import type { CniCall } from './handler.js';
import type { NetConf } from './netconf.js';
import type { Reservation, Reservations } from './reservations.js';
import { CniCode, CniError, type CniResult } from './spec.js';

export interface GrpcFleetLinkOptions {
  controller: string;
  /** This host's name in the fleet (the agent's --host-name). */
  hostName: string;
  reservations: Reservations;
  /** The agent's mTLS credential when it is enrolled; plain TCP otherwise (labs). */
  credential?: Credential;
  log: Logger;
  /** How long ADD/DEL wait for the controller and the agent's own attach. */
  waitMs?: number;
}

type Unary<Req, Res> = (req: Req, md: Metadata, opts: { deadline: number }, cb: (err: ServiceError | null, res: Res) => void) => unknown;

export class GrpcFleetLink implements FleetLink {
  private readonly client: ControllerClient;
  private readonly waitMs: number;

  constructor(private readonly o: GrpcFleetLinkOptions) {
    const creds: ChannelCredentials = o.credential ? clientCredentials(o.credential.caPem, o.credential) : credentials.createInsecure();
    this.client = new ControllerClient(o.controller, creds, o.credential ? expectServerName(CONTROLLER_NAME) : {});
    this.waitMs = o.waitMs ?? 30_000;
  }

  close(): void {
    this.client.close();
  }

  private call<Req, Res>(fn: Unary<Req, Res>, req: Req, timeoutMs: number): Promise<Res> {
    return new Promise((resolve, reject) =>
      fn.call(this.client, req, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(fromServiceError(err, `the controller at ${this.o.controller}`)) : resolve(res))),
    );
  }

  async add(conf: NetConf, call: CniCall, id: string): Promise<CniResult> {
    const net = conf.pool.network;
    const have = this.o.reservations.get(net, id);
    // The same container and ifname in a new namespace (restart without DEL): the old attachment goes first.
    if (have && have.netns !== call.netns) await this.detach(id);
    const reply = await this.call(this.client.fleetAttach, {
      host: this.o.hostName, network: net, target: { kind: 'path', value: call.netns }, ifname: call.ifname, addresses: [], mac: '', macString: '',
      vlan: '', mtu: 0, attachmentId: id, waitMs: this.waitMs,
    }, this.waitMs + 5000).catch((err: unknown) => {
      // The network is the one thing of the request the controller can find wrong.
      if (err instanceof FleetnetError && (err.kind === 'invalid' || err.kind === 'not_found')) {
        throw new CniError(CniCode.invalidConfig, `invalid network configuration: network: ${err.message}`, err.hint ?? '');
      }
      throw err;
    });
    const a = reply.attachment;
    if (!a) throw new CniError(CniCode.attachFailed, 'the controller answered without an attachment');
    if (a.state === 'failed') {
      await this.detach(id).catch(() => undefined); // nothing half made: its address and MAC go back
      throw new CniError(CniCode.attachFailed, `the attach failed: ${a.error}`);
    }
    if (a.state !== 'up') throw new CniError(CniCode.tryAgainLater, `the attachment is ${a.state} (the agent has not confirmed it yet)`, 'retry the ADD');
    const r = this.reservationOf(a, call);
    await this.o.reservations.locked(net, () => this.o.reservations.put(net, r));
    const ifaces = [...(a.hostIfname ? [{ name: a.hostIfname }] : []), { name: a.ifname, mac: a.mac, sandbox: call.netns }];
    return {
      cniVersion: conf.cniVersion,
      interfaces: ifaces,
      ips: a.addresses.map((cidr, i) => ({ address: cidr, ...(a.gateways[i] ? { gateway: a.gateways[i] } : {}), interface: ifaces.length - 1 })),
      ...(conf.pool.routes.length ? { routes: conf.pool.routes } : {}),
      ...(conf.dns ? { dns: conf.dns } : {}),
    };
  }

  private reservationOf(a: Attachment, call: CniCall): Reservation {
    return {
      id: a.id, containerId: call.containerId, ifname: call.ifname, netns: call.netns, plugin: 'fleetnet', addresses: a.addresses,
      ...(a.gateways[0] ? { gateway: a.gateways[0] } : {}), mac: a.mac, controller: true, createdMs: Date.now(),
    };
  }

  private async detach(id: string): Promise<void> {
    await this.call(this.client.fleetDetach, { host: '', ifname: '', attachmentId: id, waitMs: this.waitMs }, this.waitMs + 5000);
  }

  async del(conf: NetConf, _call: CniCall, id: string): Promise<void> {
    await this.detach(id);
    const net = conf.pool.network;
    await this.o.reservations.locked(net, () => this.o.reservations.delete(net, id));
  }

  async reservation(conf: NetConf, _call: CniCall, id: string): Promise<Reservation | undefined> {
    return this.o.reservations.get(conf.pool.network, id);
  }

  async status(): Promise<void> {
    try {
      await this.call(this.client.controllerHealth, {}, 2000);
    } catch (err) {
      throw new CniError(CniCode.notAvailable, `the fleet controller at ${this.o.controller} does not answer: no address can be allocated`, (err as Error).message);
    }
  }
}
