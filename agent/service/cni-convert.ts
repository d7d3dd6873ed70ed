// The Cni RPC: the plugin's request in, the handler's answer (stdout, or a CNI error) out. CNI
// errors travel in the reply, not as gRPC status: the plugin prints them as they are.
import type { Logger } from 'pino';
import { toCniError, type CniHandler } from '../../cni/handler.js';
import type { CniReply, CniRequest } from '../../proto/gen/fleetnet/v1/agent.js';

export async function cniReply(h: CniHandler, req: CniRequest, log: Logger): Promise<CniReply> {
  const plugin = req.plugin === 'fleetnet-ipam' ? 'fleetnet-ipam' : 'fleetnet';
  try {
    const out = await h.handle({ plugin, command: req.command, containerId: req.containerId, netns: req.netns, ifname: req.ifname, config: req.config });
    return { result: Buffer.from(out), code: 0, msg: '', details: '' };
  } catch (err) {
    const e = toCniError(err);
    log.info({ command: req.command, containerId: req.containerId, ifname: req.ifname, code: e.code, msg: e.message }, 'cni call refused');
    return { result: Buffer.alloc(0), code: e.code, msg: e.message, details: e.details };
  }
}
