// grpc-js services and clients made from the generated service definitions (proto/gen: ts-proto's
// generic definitions, which import nothing from grpc-js, so that the CLI can read the same
// definitions without loading it). Everything here is grpc-js's public API: a ServiceDefinition
// for Server.addService, and makeGenericClientConstructor for clients.
import {
  makeGenericClientConstructor,
  type CallOptions,
  type ChannelCredentials,
  type ChannelOptions,
  type Client,
  type ClientReadableStream,
  type ClientUnaryCall,
  type Metadata,
  type MethodDefinition,
  type ServiceError,
} from '@grpc/grpc-js';
import { AdminDefinition } from '../../proto/gen/fleetnet/v1/admin.js';
import { AgentDefinition } from '../../proto/gen/fleetnet/v1/agent.js';
import { methodPath, type GenericService, type ReqOf, type ResOf } from './definitions.js';
import { ControllerDefinition } from '../../proto/gen/fleetnet/v1/controller.js';
import { AgentTrustDefinition, EnrollmentDefinition } from '../../proto/gen/fleetnet/v1/enroll.js';

/** A message type of the generated code: what a codec needs. */
interface MessageType<M> {
  encode(m: M): { finish(): Uint8Array };
  decode(b: Uint8Array): M;
}

/** The grpc-js ServiceDefinition of a generated definition, keyed like it (camelCase). */
export type GrpcServiceOf<D extends GenericService> = {
  [K in keyof D['methods']]: MethodDefinition<ReqOf<D['methods'][K]>, ResOf<D['methods'][K]>>;
};

/**
 * The encoded bytes as a Buffer without copying them: the generated encoders' finish() returns a
 * fresh array of its own (a slice of the writer's), which the Buffer can simply view. Buffer.from(array)
 * would copy it once more, element by element: for the 1 MiB chunks of `ls --json` that copy was the
 * controller's largest cost after the garbage it made.
 */
const bufferOf = (u8: Uint8Array): Buffer => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);

/**
 * A reply encoded once and then sent as it is, any number of times: the serializers pass its bytes
 * through. `ls --json` of a fleet that did not change sends the same chunks again without encoding
 * (copying) 30 MB into new arrays each time, whose garbage the controller then has to collect.
 */
export class EncodedMessage {
  private constructor(readonly bytes: Buffer) {}

  static of<M>(type: MessageType<M>, m: M): EncodedMessage {
    return new EncodedMessage(bufferOf(type.encode(m).finish()));
  }
}

export function grpcService<D extends GenericService>(d: D): GrpcServiceOf<D> {
  const out: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [key, m] of Object.entries(d.methods)) {
    const req = m.requestType as MessageType<unknown>;
    const res = m.responseType as MessageType<unknown>;
    out[key] = {
      path: methodPath(d, m),
      requestStream: m.requestStream,
      responseStream: m.responseStream,
      requestSerialize: (v) => bufferOf(req.encode(v).finish()),
      requestDeserialize: (b) => req.decode(b),
      responseSerialize: (v) => (v instanceof EncodedMessage ? v.bytes : bufferOf(res.encode(v).finish())),
      responseDeserialize: (b) => res.decode(b),
      originalName: m.name,
    };
  }
  return out as GrpcServiceOf<D>;
}

type Cb<Res> = (err: ServiceError | null, res: Res) => void;
/** A unary method of a client, with grpc-js's overloads (the full one last: what `.call` sees). */
export interface UnaryMethod<Req, Res> {
  (req: Req, cb: Cb<Res>): ClientUnaryCall;
  (req: Req, md: Metadata, cb: Cb<Res>): ClientUnaryCall;
  (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: Cb<Res>): ClientUnaryCall;
}
type StreamMethod<Req, Res> = (req: Req, md?: Metadata, opts?: Partial<CallOptions>) => ClientReadableStream<Res>;

/** A client of a generated definition, its methods typed from the definition. */
export type GrpcClientOf<D extends GenericService> = Client & {
  [K in keyof D['methods']]: D['methods'][K] extends { responseStream: true }
    ? StreamMethod<ReqOf<D['methods'][K]>, ResOf<D['methods'][K]>>
    : UnaryMethod<ReqOf<D['methods'][K]>, ResOf<D['methods'][K]>>;
};
export type GrpcClientConstructor<D extends GenericService> = new (
  address: string,
  creds: ChannelCredentials,
  options?: ChannelOptions,
) => GrpcClientOf<D>;

function grpcClient<D extends GenericService>(d: D, svc: GrpcServiceOf<D>): GrpcClientConstructor<D> {
  return makeGenericClientConstructor(svc as never, d.name) as unknown as GrpcClientConstructor<D>;
}

export const AgentService = grpcService(AgentDefinition);
export const ControllerService = grpcService(ControllerDefinition);
export const EnrollmentService = grpcService(EnrollmentDefinition);
export const AgentTrustService = grpcService(AgentTrustDefinition);
export const AdminService = grpcService(AdminDefinition);

export const AgentClient = grpcClient(AgentDefinition, AgentService);
export type AgentClient = GrpcClientOf<typeof AgentDefinition>;
export const ControllerClient = grpcClient(ControllerDefinition, ControllerService);
export type ControllerClient = GrpcClientOf<typeof ControllerDefinition>;
export const EnrollmentClient = grpcClient(EnrollmentDefinition, EnrollmentService);
export type EnrollmentClient = GrpcClientOf<typeof EnrollmentDefinition>;
export const AgentTrustClient = grpcClient(AgentTrustDefinition, AgentTrustService);
export type AgentTrustClient = GrpcClientOf<typeof AgentTrustDefinition>;
export const AdminClient = grpcClient(AdminDefinition, AdminService);
export type AdminClient = GrpcClientOf<typeof AdminDefinition>;
