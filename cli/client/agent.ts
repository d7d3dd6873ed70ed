// The CLI's connection to an agent: the local unix socket (or plain TCP to a lab host), promises,
// typed errors. It uses the small HTTP/2 gRPC client and the messages-only generated code, so a
// `fleetnet attach` process never loads @grpc/grpc-js.
import * as pb from '../../proto/gen/messages/fleetnet/v1/agent.js';
import { GrpcLite, method, type Method } from './grpc-lite.js';

export const DEFAULT_AGENT_SOCKET = '/run/fleetnet/agent.sock';

export function agentAddress(socket?: string): string {
  const s = socket ?? process.env.FLEETNET_AGENT_SOCKET ?? DEFAULT_AGENT_SOCKET;
  return s.includes('/') ? `unix://${s}` : s;
}

const svc = '/fleetnet.v1.Agent/';
/** Every Agent RPC; test/unit/agent-methods.test.ts checks this against the service definition. */
export const AGENT_METHODS = {
  health: method(`${svc}Health`, pb.HealthRequest, pb.HealthReply),
  capabilities: method(`${svc}Capabilities`, pb.CapabilitiesRequest, pb.CapabilitiesReply),
  attach: method(`${svc}Attach`, pb.AttachRequest, pb.AttachReply),
  detach: method(`${svc}Detach`, pb.DetachRequest, pb.DetachReply),
  list: method(`${svc}List`, pb.ListRequest, pb.ListReply),
  applyMesh: method(`${svc}ApplyMesh`, pb.MeshSpec, pb.MeshReply),
  meshStatus: method(`${svc}MeshStatus`, pb.MeshStatusRequest, pb.MeshStatusReply),
  containerNetCommand: method(`${svc}ContainerNetCommand`, pb.ContainerNetCommandRequest, pb.ContainerNetCommandReply),
  check: method(`${svc}Check`, pb.CheckRequest, pb.CheckReply),
};

export interface AgentConn {
  client: typeof AGENT_METHODS;
  addr: string;
  call<Req, Res>(m: Method<Req, Res>, req: Req, timeoutMs?: number): Promise<Res>;
  close(): void;
}

export function connectAgent(socket?: string): AgentConn {
  const addr = agentAddress(socket);
  const lite = new GrpcLite(addr, addr.replace(/^unix:\/\//, ''));
  return {
    client: AGENT_METHODS,
    addr,
    call: (m, req, timeoutMs = 60_000) => lite.unary(m, req, timeoutMs),
    close: () => lite.close(),
  };
}
