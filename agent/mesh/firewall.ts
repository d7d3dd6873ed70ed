// The one firewall table fleetnet owns (nftables `ip fleetnet`, else an iptables chain): kernel VXLAN devices accept
// packets from any source, so VXLAN (on the ports kernel tunnels use) and GRE from underlay
// addresses that are not peers are dropped before they reach a tunnel. OVS tunnel ports need no
// rule: each port matches its one remote_ip. The table is replaced atomically (`nft -f -`) and
// read back from `nft -j`; it exists only while this host has kernel tunnels.
import { FleetnetError } from '../../common/errors.js';
import type { Runner } from '../../common/runner.js';
import { IptablesFirewall } from './firewall-iptables.js';
import { checkFirewallState, type FirewallState } from './firewall-state.js';

export type { FirewallState };

export const NFT_TABLE = 'fleetnet';

interface NftObj {
  set?: { name: string; table: string; elem?: (string | number)[] };
}

function norm(s: FirewallState): FirewallState {
  return { peers: [...new Set(s.peers)].sort(), ports: [...new Set(s.ports)].sort((a, b) => a - b) };
}

export function sameFirewall(a: FirewallState | undefined, b: FirewallState | undefined): boolean {
  return JSON.stringify(a ? norm(a) : null) === JSON.stringify(b ? norm(b) : null);
}

/** The whole table as `nft -f` input: create-if-absent, delete, define (one atomic transaction). */
export function nftScript(want: FirewallState | undefined): string {
  const head = `table ip ${NFT_TABLE}\ndelete table ip ${NFT_TABLE}\n`;
  if (!want) return head;
  const s = norm(want);
  checkFirewallState(s);
  const elems = (xs: (string | number)[]) => (xs.length ? ` elements = { ${xs.join(', ')} };` : '');
  return (
    head +
    `table ip ${NFT_TABLE} {\n` +
    `  set peers { type ipv4_addr;${elems(s.peers)} }\n` +
    `  set ports { type inet_service;${elems(s.ports)} }\n` +
    '  chain input {\n' +
    '    type filter hook input priority -5; policy accept;\n' +
    '    udp dport @ports ip saddr != @peers counter drop\n' +
    '    ip protocol gre ip saddr != @peers counter drop\n' +
    '  }\n' +
    '}\n'
  );
}

/** nftables backend: the table `ip fleetnet`, read back with `nft -j`. */
export class NftFirewall {
  constructor(private readonly runner: Runner) {}

  /** The table as it is, or undefined when absent. Throws `unsupported` when nft is not installed. */
  async read(): Promise<FirewallState | undefined> {
    const r = await this.runner.run('nft', ['-j', 'list', 'table', 'ip', NFT_TABLE], { allowFail: true });
    // Through nsenter a missing nft is exit 127, not ENOENT.
    if (r.code === 127 || /failed to execute nft/.test(r.stderr))
      throw new FleetnetError('unsupported', 'nft is not installed');
    if (r.code !== 0) return undefined;
    const objs = (JSON.parse(r.stdout) as { nftables: NftObj[] }).nftables;
    const elems = (name: string) => objs.find((o) => o.set?.name === name)?.set?.elem ?? [];
    return norm({ peers: elems('peers').map(String), ports: elems('ports').map(Number) });
  }

  async write(want: FirewallState | undefined): Promise<void> {
    await this.runner.run('nft', ['-f', '-'], { input: nftScript(want) });
  }
}

export interface FirewallBackend {
  read(): Promise<FirewallState | undefined>;
  write(want: FirewallState | undefined): Promise<void>;
}

/**
 * nftables when `nft` is installed, else iptables (chain FLEETNET-MESH); chosen on first use.
 * `backend` forces one (tests).
 */
export class MeshFirewall {
  private chosen: FirewallBackend | undefined;
  constructor(
    private readonly runner: Runner,
    private readonly backend?: 'nft' | 'iptables',
  ) {}

  private async pick(): Promise<{ fw: FirewallBackend; have: FirewallState | undefined }> {
    if (this.chosen) return { fw: this.chosen, have: await this.chosen.read() };
    if (this.backend !== 'iptables') {
      const nft = new NftFirewall(this.runner);
      try {
        const have = await nft.read();
        this.chosen = nft;
        return { fw: nft, have };
      } catch (err) {
        if (this.backend === 'nft' || !(err instanceof FleetnetError && err.kind === 'unsupported')) throw err;
      }
    }
    const ipt = new IptablesFirewall(this.runner);
    try {
      const have = await ipt.read();
      this.chosen = ipt;
      return { fw: ipt, have };
    } catch (err) {
      throw new FleetnetError(
        'unsupported',
        'neither nft nor iptables is installed: fleetnet cannot drop VXLAN/GRE from non-peers on Linux-bridge meshes',
        {
          cause: err,
          hint: 'apt-get install nftables (or mesh the network on OVS, whose tunnel ports need no firewall)',
        },
      );
    }
  }

  /** The backend in use ('nft' | 'iptables'), once chosen. */
  kind(): string | undefined {
    return this.chosen instanceof NftFirewall ? 'nft' : this.chosen ? 'iptables' : undefined;
  }

  /** Makes the firewall what is wanted (undefined: none); true when it changed something. */
  async ensure(want: FirewallState | undefined): Promise<boolean> {
    const { fw, have } = await this.pick();
    if (sameFirewall(have, want)) return false;
    await fw.write(want);
    return true;
  }
}
