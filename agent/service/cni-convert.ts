// CNI calls in, the handler's answer (stdout, or a CNI error) out: for the Cni RPC and for the
// plugin's CNI socket (./cni-socket.ts). CNI errors travel in the reply, not as a transport status:
// the plugin prints them as they are.
import type { Logger } from 'pino';
import { toCniError, type CniCall, type CniHandler } from '../../cni/handler.js';
import type { HandlerReply } from '../../cni/call.js';
import type { CniReply, CniRequest } from '../../proto/gen/fleetnet/v1/agent.js';

/** One call through the handler; never rejects. */
export async function answerCni(h: CniHandler, call: CniCall, log: Logger): Promise<HandlerReply> {
  try {
    return { result: await h.handle(call), code: 0, msg: '', details: '' };
  } catch (err) {
    const e = toCniError(err);
    log.info(
      { command: call.command, containerId: call.containerId, ifname: call.ifname, code: e.code, err: e.message },
      'cni call refused',
    );
    return { result: '', code: e.code, msg: e.message, details: e.details };
  }
}

export async function cniReply(h: CniHandler, req: CniRequest, log: Logger): Promise<CniReply> {
  const plugin = req.plugin === 'fleetnet-ipam' ? 'fleetnet-ipam' : 'fleetnet';
  const r = await answerCni(
    h,
    {
      plugin,
      command: req.command,
      containerId: req.containerId,
      netns: req.netns,
      ifname: req.ifname,
      config: req.config,
    },
    log,
  );
  return { ...r, result: Buffer.from(r.result) };
}
