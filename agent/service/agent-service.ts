// gRPC handlers for the Agent service: proto in, domain call, proto out, errors mapped at the edge.
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { unary } from '../../common/rpc/server.js';
import type { Attacher } from '../attach/attacher.js';
import { findForTarget } from '../attach/find-records.js';
import type { Capability } from '../linux/capabilities.js';
import type { Mesher } from '../mesh/mesher.js';
import type { TargetRef } from '../../common/attach-args.js';
import { unsupported } from '../../common/errors.js';
import type { Runner } from '../../common/runner.js';
import type {
  CniRequest,
  ContainerNetCommandRequest,
  InspectRequest,
  MeshStatusRequest,
} from '../../proto/gen/fleetnet/v1/agent.js';
import type { ContainerInfo } from '../containers/types.js';
import { netCommandArgv, runNetCommand } from '../linux/net-command.js';
import type { Finding } from '../lifecycle/check.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import { attachOrderFromProto, detachOrderFromProto, interfaceToProto, targetFromProto } from './convert.js';
import type { CniHandler } from '../../cni/handler.js';
import { cniReply } from './cni-convert.js';
import { meshReplyToProto, meshSpecFromProto, meshStatusQuery, meshStatusToProto } from './mesh-convert.js';

export interface AgentServiceDeps {
  attacher: Attacher;
  /** Absent: the mesh RPCs answer `unsupported`. */
  mesher?: Mesher;
  /** For route/rule/tc; without them that RPC answers "unsupported". */
  resolve?: (t: TargetRef) => Promise<ContainerInfo>;
  runner?: Runner;
  capabilities: () => Promise<Capability[]>;
  log: Logger;
  version: string;
  hostName?: string;
  startedAtMs: number;
  /** CNI plugin calls (cni/handler.ts); absent: the Cni RPC answers "unsupported". */
  cni?: CniHandler;
  /** Containers' lives (labels, check); absent in tests that drive the attacher alone. */
  lifecycle?: Lifecycle;
  check?: (fix: boolean) => Promise<Finding[]>;
}

function mesherOf(d: AgentServiceDeps): Mesher {
  if (!d.mesher) throw unsupported('this agent was started without the mesh', 'start it with fleetnet agent run');
  return d.mesher;
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
    attach: unary(log, 'Attach', async (req: Parameters<typeof attachOrderFromProto>[0], ctx) => {
      const order = attachOrderFromProto(req);
      const opts = { signal: ctx.signal, ...(req.keepAddress ? { keepAddress: true } : {}) };
      const res = await attacher.attach(order, opts);
      if (res.changed)
        log.info(
          { container: res.record.container.name, ifname: res.record.ifname, hostIf: res.record.hostIf },
          'attached',
        );
      return {
        interface: interfaceToProto(res.record, 'up', attacher.lease(res.record.key)),
        changed: res.changed,
        commands: res.commands,
      };
    }),
    detach: unary(log, 'Detach', async (req: Parameters<typeof detachOrderFromProto>[0]) => {
      const res = await attacher.detach(detachOrderFromProto(req));
      return { removed: res.removed };
    }),
    list: unary(log, 'List', async () => ({
      interfaces: attacher.list().map((r) => interfaceToProto(r, attacher.liveState(r), attacher.lease(r.key))),
      labelled: (d.lifecycle?.labels() ?? []).map((l) => ({
        id: l.id,
        name: l.container,
        errors: l.errors,
        attach: l.fleet.map((f) => ({ ifname: f.ifname, network: f.net, addresses: f.addresses })),
      })),
    })),
    inspect: unary(log, 'Inspect', async (req: InspectRequest) => {
      if (!d.resolve) throw unsupported('this agent does not resolve containers');
      const found = await findForTarget(attacher.list(), { resolve: d.resolve }, targetFromProto(req.target));
      return { interfaces: found.map((r) => interfaceToProto(r, attacher.liveState(r), attacher.lease(r.key))) };
    }),
    check: unary(log, 'Check', async (req: { fix: boolean }) => {
      if (!d.check) throw unsupported('this agent does not run checks');
      const host = d.hostName ?? hostname();
      return { findings: (await d.check(req.fix)).map((f) => ({ ...f, host })) };
    }),
    applyMesh: unary(log, 'ApplyMesh', async (req: Parameters<typeof meshSpecFromProto>[0]) =>
      meshReplyToProto(await mesherOf(d).apply(meshSpecFromProto(req))),
    ),
    meshStatus: unary(log, 'MeshStatus', async (req: MeshStatusRequest, ctx) => {
      const m = mesherOf(d);
      const tunnels = await m.status({ ...meshStatusQuery(req), signal: ctx.signal });
      return meshStatusToProto(m.current().generation, tunnels);
    }),
    containerNetCommand: unary(log, 'ContainerNetCommand', async (req: ContainerNetCommandRequest, ctx) => {
      netCommandArgv(req.tool, req.args); // refuse bad input before resolving anything
      if (!d.resolve || !d.runner) throw unsupported('this agent does not run route/rule/tc');
      const c = await d.resolve(targetFromProto(req.target));
      return runNetCommand(d.runner, c.netns, req.tool, req.args, ctx.signal);
    }),
    cni: unary(log, 'Cni', async (req: CniRequest) => {
      if (!d.cni) throw unsupported('this agent does not serve CNI calls');
      return cniReply(d.cni, req, log);
    }),
  };
}
