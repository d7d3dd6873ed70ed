// gRPC handlers for the Agent service: proto in, domain call, proto out, errors mapped at the edge.
import type { sendUnaryData, ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { toServiceError } from '../../common/grpc-errors.js';
import type { Attacher } from '../attach/attacher.js';
import type { Capability } from '../linux/capabilities.js';
import type { TargetRef } from '../../common/attach-args.js';
import { unsupported } from '../../common/errors.js';
import type { Runner } from '../../common/runner.js';
import type { ContainerNetCommandRequest } from '../../proto/gen/fleetnet/v1/agent.js';
import type { ContainerInfo } from '../containers/types.js';
import { netCommandArgv, runNetCommand } from '../linux/net-command.js';
import { attachOrderFromProto, detachOrderFromProto, interfaceToProto, targetFromProto } from './convert.js';

export interface AgentServiceDeps {
  attacher: Attacher;
  /** For route/rule/tc; without them that RPC answers "unsupported". */
  resolve?: (t: TargetRef) => Promise<ContainerInfo>;
  runner?: Runner;
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
      return { interface: interfaceToProto(res.record, 'up', attacher.lease(res.record.key)), changed: res.changed, commands: res.commands };
    }),
    detach: unary(log, 'Detach', async (req: Parameters<typeof detachOrderFromProto>[0]) => {
      const res = await attacher.detach(detachOrderFromProto(req));
      return { removed: res.removed };
    }),
    list: unary(log, 'List', async () => ({ interfaces: attacher.list().map((r) => interfaceToProto(r, attacher.liveState(r), attacher.lease(r.key))) })),
    containerNetCommand: unary(log, 'ContainerNetCommand', async (req: ContainerNetCommandRequest) => {
      netCommandArgv(req.tool, req.args); // refuse bad input before resolving anything
      if (!d.resolve || !d.runner) throw unsupported('this agent does not run route/rule/tc');
      const c = await d.resolve(targetFromProto(req.target));
      return runNetCommand(d.runner, c.netns, req.tool, req.args);
    }),
  };
}
