// The mesh firewall where nft is not installed: one iptables chain fleetnet owns,
// FLEETNET-MESH, jumped to from INPUT. Peers RETURN first; then VXLAN (the kernel tunnels'
// ports) and GRE are dropped. Rewritten in one `iptables-restore --noflush` transaction.
import type { Runner } from '../../common/runner.js';
import { checkFirewallState, type FirewallState } from './firewall-state.js';

export const IPT_CHAIN = 'FLEETNET-MESH';

/** `iptables-restore --noflush` input that makes the chain exactly `want`. */
export function iptablesRestoreInput(want: FirewallState): string {
  checkFirewallState(want);
  return [
    '*filter',
    `:${IPT_CHAIN} - [0:0]`,
    `-F ${IPT_CHAIN}`,
    ...[...new Set(want.peers)].sort().map((p) => `-A ${IPT_CHAIN} -s ${p}/32 -j RETURN`),
    ...[...new Set(want.ports)].sort((a, b) => a - b).map((p) => `-A ${IPT_CHAIN} -p udp -m udp --dport ${p} -j DROP`),
    `-A ${IPT_CHAIN} -p gre -j DROP`,
    'COMMIT',
    '',
  ].join('\n');
}

/** The chain's peers and ports from `iptables -S FLEETNET-MESH`. */
export function parseIptablesChain(out: string): FirewallState {
  const peers: string[] = [];
  const ports: number[] = [];
  for (const l of out.split('\n')) {
    const src = new RegExp(`^-A ${IPT_CHAIN} -s (\\S+?)(?:/32)? -j RETURN$`).exec(l.trim());
    if (src) peers.push(src[1]!);
    const port = new RegExp(`^-A ${IPT_CHAIN} -p udp -m udp --dport (\\d+) -j DROP$`).exec(l.trim());
    if (port) ports.push(Number(port[1]));
  }
  return { peers: peers.sort(), ports: ports.sort((a, b) => a - b) };
}

export class IptablesFirewall {
  constructor(private readonly runner: Runner) {}

  async read(): Promise<FirewallState | undefined> {
    const r = await this.runner.run('iptables', ['-w', '-S', IPT_CHAIN], { allowFail: true });
    if (r.code !== 0) return undefined;
    const jump = await this.runner.run('iptables', ['-w', '-C', 'INPUT', '-j', IPT_CHAIN], { allowFail: true });
    // A chain nobody jumps to filters nothing: report it as absent so that it is made whole again.
    return jump.code === 0 ? parseIptablesChain(r.stdout) : undefined;
  }

  async write(want: FirewallState | undefined): Promise<void> {
    const jumped =
      (await this.runner.run('iptables', ['-w', '-C', 'INPUT', '-j', IPT_CHAIN], { allowFail: true })).code === 0;
    if (!want) {
      if (jumped) await this.runner.run('iptables', ['-w', '-D', 'INPUT', '-j', IPT_CHAIN]);
      await this.runner.run('iptables', ['-w', '-F', IPT_CHAIN], { allowFail: true });
      await this.runner.run('iptables', ['-w', '-X', IPT_CHAIN], { allowFail: true });
      return;
    }
    await this.runner.run('iptables-restore', ['-w', '--noflush'], { input: iptablesRestoreInput(want) });
    if (!jumped) await this.runner.run('iptables', ['-w', '-I', 'INPUT', '1', '-j', IPT_CHAIN]);
  }
}
