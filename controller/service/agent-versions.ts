// AgentVersions (fleetnet version): every host's agent asked for its Health now, in parallel, so
// that a version shows what runs there (an agent replaced while the controller kept reaching it
// never looked down, and the stored version is the one it had when it came up).
import type { Logger } from 'pino';
import { describeError } from '../../common/errors.js';
import { unary } from '../../common/rpc/server.js';
import type { AgentVersion, AgentVersionsReply } from '../../proto/gen/fleetnet/v1/controller.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { Store } from '../store/store.js';

const HEALTH_TIMEOUT_MS = 5_000;

export function agentVersionsHandler(store: Store, dispatcher: Pick<Dispatcher, 'linkOf'>, log: Logger) {
  return unary(log, 'AgentVersions', async (): Promise<AgentVersionsReply> => {
    const hosts = await store.read((tx) => tx.listHosts());
    const agents = await Promise.all(
      hosts.map(async (h): Promise<AgentVersion> => {
        const base = { host: h.name, agentAddr: h.agentAddr };
        try {
          const link = await dispatcher.linkOf(h.name);
          if (!link) return { ...base, version: h.agentVersion, state: 'unreachable', error: 'the host was removed' };
          const r = await link.health(HEALTH_TIMEOUT_MS);
          return { ...base, version: r.version, state: 'up', error: '' };
        } catch (err) {
          return { ...base, version: h.agentVersion, state: 'unreachable', error: describeError(err) };
        }
      }),
    );
    return { agents };
  });
}
