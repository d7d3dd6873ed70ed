// After an attach: the new addresses announced to the segment (gratuitous ARP for IPv4, unsolicited
// neighbour advertisement for IPv6), in the background — the reply does not wait for it, and each
// helper ends on its own.
import type { Logger } from 'pino';
import type { AddressSpec } from '../../common/attach-args.js';
import type { Runner } from '../../common/runner.js';

type Static = Extract<AddressSpec, { kind: 'static' }>;

const ANNOUNCE_DELAY_MS = 5;

export function announceAddresses(runner: Runner, log: Logger, netns: string, ifname: string, statics: Static[]): void {
  // Spawning blocks the event loop for a fork; start the helpers once the reply is on its way.
  setTimeout(() => {
    for (const a of statics) {
      const ip = a.cidr.addr.text;
      const argv =
        a.cidr.addr.family === 4
          ? ['arping', '-q', '-U', '-c', '1', '-I', ifname, '-s', ip, ip]
          : ['ndptool', '-t', 'na', '-U', '-i', ifname, '-T', ip, 'send'];
      runner
        .run('nsenter', [`--net=${netns}`, ...argv], { allowFail: true, timeoutMs: 3000 })
        .catch((err: unknown) => log.debug({ err, ip }, 'address not announced'));
    }
  }, ANNOUNCE_DELAY_MS);
}
