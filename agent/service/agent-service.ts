// gRPC handlers for the Agent service: proto in, domain call, proto out, errors mapped at the edge.
import type { sendUnaryData, ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { toServiceError } from '../../common/grpc-errors.js';
import type { Attacher } from '../attach/attacher.js';
import type { Capability } from '../linux/capabilities.js';
import { attachOrderFromProto, detachOrderFromProto, interfaceToProto } from './convert.js';

export interface AgentServiceDeps {
  attacher: Attacher;
  capabilities: () => Promise<Capability[]>;
  log: Logger;
  version: string;
  hostName?: string;
  startedAtMs: number;
}

function unary<Req, Res>(log: Logger, name: string, fn: (req: Req) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => {
    fn(call.request).then(
      (res) => cb(null, res),
      (err: unknown) => {
        log.info({ rpc: name, err: err instanceof Error ? err.message : String(err) }, 'request refused or failed');
        cb(toServiceError(err));
      },
    );
  };
}

export function agentService(d: AgentServiceDeps): UntypedServiceImplementation {
  const { attacher, log } = d;
  return {
    health: unary(log, 'Health', async () => ({
      status: 'ok',
      version: d.version,
      hostname: d.hostName ?? hostname(),
      uptimeMs: Date.now() - d.startedAtMs,
    })),
    capabilities: unary(log, 'Capabilities', async () => ({ capabilities: await d.capabilities() })),
    attach: unary(log, 'Attach', async (req: Parameters<typeof attachOrderFromProto>[0]) => {
      const order = attachOrderFromProto(req);
      const res = await attacher.attach(order);
      if (res.changed) log.info({ container: res.record.container.name, ifname: res.record.ifname, hostIf: res.record.hostIf }, 'attached');
      return { interface: interfaceToProto(res.record), changed: res.changed, commands: res.commands };
    }),
    detach: unary(log, 'Detach', async (req: Parameters<typeof detachOrderFromProto>[0]) => {
      const res = await attacher.detach(detachOrderFromProto(req));
      return { removed: res.removed };
    }),
    list: unary(log, 'List', async () => ({ interfaces: attacher.list().map((r) => interfaceToProto(r, attacher.liveState(r))) })),
  };
}
