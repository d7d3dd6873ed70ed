// The shape of a generated service definition (proto/gen: ts-proto's generic definitions) and what
// its types say about each method. No @grpc/grpc-js here: the CLI's client reads definitions too.

/** Any generated message type (its own type erased). */
export type AnyMessageType = { encode(m: never): { finish(): Uint8Array }; decode(b: Uint8Array): unknown };

/** One method of a generated service definition. */
export interface GenericMethod {
  name: string;
  requestType: AnyMessageType;
  responseType: AnyMessageType;
  requestStream: boolean;
  responseStream: boolean;
}

/** A generated service definition (`AgentDefinition`, `ControllerDefinition`, …). */
export interface GenericService {
  name: string;
  fullName: string;
  methods: Readonly<Record<string, GenericMethod>>;
}

type Msg<T> = T extends { decode(b: never, ...rest: never[]): infer M } ? M : never;
export type ReqOf<M> = M extends { requestType: infer T } ? Msg<T> : never;
export type ResOf<M> = M extends { responseType: infer T } ? Msg<T> : never;

/** The method's path on the wire, `/fleetnet.v1.Agent/Attach`. */
export const methodPath = (svc: GenericService, m: GenericMethod): string => `/${svc.fullName}/${m.name}`;
