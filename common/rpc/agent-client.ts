// The one client of an agent's gRPC services (Agent, AgentTrust) on grpc-js's public API, shared
// by the controller's dispatch (orders), mesh push and bootstrap (wait, rotate). Every call has a
// deadline and may carry an AbortSignal (cancelling the call); a failure is a FleetnetError with
// the grpc-js error as its `cause`.
import {
  credentials,
  Metadata,
  type ChannelCredentials,
  type ChannelOptions,
  type Client,
  type ServiceError,
} from '@grpc/grpc-js';
import { FleetnetError } from '../errors.js';
import {
  type AttachReply,
  type AttachRequest,
  type CapabilitiesReply,
  type CheckReply,
  type CheckRequest,
  type DetachReply,
  type DetachRequest,
  type HealthReply,
  type ListReply,
  type MeshReply,
  type MeshSpec,
  type MeshStatusReply,
} from '../../proto/gen/fleetnet/v1/agent.js';
import { type RotateCertificateReply } from '../../proto/gen/fleetnet/v1/enroll.js';
import { fromServiceError } from './status.js';
import { AgentClient, AgentTrustClient } from './services.js';

/** How to reach an agent: credentials (mutual TLS, or plain TCP in a lab) and channel options. */
export interface RpcChannel {
  creds: ChannelCredentials;
  options: ChannelOptions;
}

export const insecureChannel = (): RpcChannel => ({ creds: credentials.createInsecure(), options: {} });

type Unary<Req, Res> = (
  req: Req,
  md: Metadata,
  opts: { deadline: number },
  cb: (err: ServiceError | null, res: Res) => void,
) => { cancel(): void };

/** One unary call on a grpc-js client: a promise, a deadline, an optional signal, typed errors. */
export function callAgent<Req, Res>(
  client: Client,
  fn: Unary<Req, Res>,
  req: Req,
  timeoutMs: number,
  peer: string,
  signal?: AbortSignal,
): Promise<Res> {
  const cancelled = (cause: unknown) =>
    new FleetnetError('unavailable', `the call to ${peer} was cancelled`, { cause });
  if (signal?.aborted) return Promise.reject(cancelled(signal.reason));
  return new Promise((resolve, reject) => {
    const onAbort = () => call.cancel();
    const call = fn.call(client, req, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(signal?.aborted ? cancelled(err) : fromServiceError(err, peer));
      else resolve(res);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Reconnect quickly to an agent that restarts: orders wait on it. */
const RECONNECT = { 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 2000 };

export class AgentRpcClient {
  /** The generated grpc-js clients, for a caller that needs a method by name (tests). */
  readonly agent: AgentClient;
  readonly trust: AgentTrustClient;
  readonly peer: string;

  constructor(
    readonly addr: string,
    channel: RpcChannel = insecureChannel(),
    peer?: string,
  ) {
    const options = { ...channel.options, ...RECONNECT };
    this.agent = new AgentClient(addr, channel.creds, options);
    // the same channel: grpc-js shares one subchannel between clients with equal target and options
    this.trust = new AgentTrustClient(addr, channel.creds, options);
    this.peer = peer ?? `the agent at ${addr}`;
  }

  health(timeoutMs: number, signal?: AbortSignal): Promise<HealthReply> {
    return callAgent(this.agent, this.agent.health, {}, timeoutMs, this.peer, signal);
  }

  capabilities(timeoutMs: number, signal?: AbortSignal): Promise<CapabilitiesReply> {
    return callAgent(this.agent, this.agent.capabilities, {}, timeoutMs, this.peer, signal);
  }

  list(timeoutMs: number, signal?: AbortSignal): Promise<ListReply> {
    return callAgent(this.agent, this.agent.list, {}, timeoutMs, this.peer, signal);
  }

  attach(req: AttachRequest, timeoutMs: number, signal?: AbortSignal): Promise<AttachReply> {
    return callAgent(this.agent, this.agent.attach, req, timeoutMs, this.peer, signal);
  }

  detach(req: DetachRequest, timeoutMs: number, signal?: AbortSignal): Promise<DetachReply> {
    return callAgent(this.agent, this.agent.detach, req, timeoutMs, this.peer, signal);
  }

  check(req: CheckRequest, timeoutMs: number, signal?: AbortSignal): Promise<CheckReply> {
    return callAgent(this.agent, this.agent.check, req, timeoutMs, this.peer, signal);
  }

  applyMesh(spec: MeshSpec, timeoutMs: number, signal?: AbortSignal): Promise<MeshReply> {
    return callAgent(this.agent, this.agent.applyMesh, spec, timeoutMs, this.peer, signal);
  }

  /** The tunnels' states now, or (waitUpMs) once they are all up; timeoutMs should leave room for the wait. */
  meshStatus(
    timeoutMs: number,
    signal?: AbortSignal,
    q: { network?: string; waitUpMs?: number } = {},
  ): Promise<MeshStatusReply> {
    const req = { network: q.network ?? '', waitUpMs: q.waitUpMs ?? 0 };
    return callAgent(this.agent, this.agent.meshStatus, req, timeoutMs, this.peer, signal);
  }

  rotateCertificate(timeoutMs: number, signal?: AbortSignal): Promise<RotateCertificateReply> {
    return callAgent(this.trust, this.trust.rotateCertificate, {}, timeoutMs, this.peer, signal);
  }

  close(): void {
    this.agent.close();
    this.trust.close();
  }
}

/** The agent could not be reached (as opposed to: it answered and refused). */
export function isUnreachable(err: unknown): boolean {
  return err instanceof FleetnetError && err.kind === 'unavailable';
}
