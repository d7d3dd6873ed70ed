// `fleetnet topology`: the fleet's shape — hosts, their bridges (one per network), the tunnels
// between them with their state, and the containers on each network — built once from what the
// controller (or one agent) answers, rendered as a terminal tree, Graphviz DOT, or SVG (DOT through
// Debian's `dot`, run by the Runner).
import type { LsEntry } from '../../common/ls-schema.js';
import type { Runner } from '../../common/runner.js';

export interface TopoContainer {
  name: string;
  ifname: string;
  mac: string;
  addresses: string[];
  state: string;
}
export interface TopoTunnel {
  peer: string;
  port: string;
  state: string;
  detail: string;
}
export interface TopoNetwork {
  name: string;
  bridge: string;
  kind: string;
  mesh: string;
  containers: TopoContainer[];
  tunnels: TopoTunnel[];
}
export interface TopoHost {
  name: string;
  state: string;
  underlay: string;
  networks: TopoNetwork[];
}
export interface Topology {
  hosts: TopoHost[];
}

export interface TopologyInput {
  hosts: { name: string; state: string; underlayIp: string }[];
  networks: {
    name: string;
    bridge: string;
    kind: string;
    parent: string;
    parents: Record<string, string>;
    mesh: string;
    meshHosts: string[];
  }[];
  attachments: LsEntry[];
  tunnels: { host: string; network: string; peer: string; port: string; state: string; detail: string }[];
}

/** The topology: per host, every network it has a container on or is a mesh member of. */
export function buildTopology(i: TopologyInput): Topology {
  const hostNames = [
    ...new Set([...i.hosts.map((h) => h.name), ...i.attachments.map((a) => a.host), ...i.tunnels.map((t) => t.host)]),
  ];
  const netByName = new Map(i.networks.map((n) => [n.name, n]));
  return {
    hosts: hostNames.map((name) => {
      const h = i.hosts.find((x) => x.name === name);
      const atts = i.attachments.filter((a) => a.host === name);
      const tuns = i.tunnels.filter((t) => t.host === name && t.peer);
      const netNames = [
        ...new Set([
          ...i.networks.filter((n) => n.meshHosts.includes(name)).map((n) => n.name),
          ...atts.map((a) => a.network || a.hostIf),
          ...tuns.map((t) => t.network),
        ]),
      ].filter(Boolean);
      return {
        name,
        state: h?.state ?? 'unknown',
        underlay: h?.underlayIp ?? '',
        networks: netNames.map((nn) => {
          const n = netByName.get(nn);
          const mine = atts.filter((a) => (a.network || a.hostIf) === nn);
          return {
            name: nn,
            bridge: n ? n.bridge || n.parents[name] || n.parent || `br-${n.name}` : (mine[0]?.hostIf ?? nn),
            kind: n?.kind ?? mine[0]?.kind ?? '',
            mesh: n?.mesh ?? '',
            containers: mine.map((a) => ({
              name: a.container,
              ifname: a.ifname,
              mac: a.mac,
              addresses: a.addresses,
              state: a.state,
            })),
            tunnels: tuns
              .filter((t) => t.network === nn)
              .map((t) => ({ peer: t.peer, port: t.port, state: t.state, detail: t.detail })),
          };
        }),
      };
    }),
  };
}

const mark = (state: string) => (state === 'up' ? '' : ` [${state}]`);

interface TreeNode {
  label: string;
  children: TreeNode[];
}
const node = (label: string, children: TreeNode[] = []): TreeNode => ({ label, children });

function drawTree(nodes: TreeNode[], prefix: string, out: string[]): void {
  nodes.forEach((n, k) => {
    const last = k === nodes.length - 1;
    out.push(`${prefix}${last ? '└── ' : '├── '}${n.label}`);
    drawTree(n.children, `${prefix}${last ? '    ' : '│   '}`, out);
  });
}

/** The terminal tree; wide adds MACs and tunnel ports. */
export function topologyTree(t: Topology, wide = false): string {
  const tree = t.hosts.map((h) =>
    node(
      `${h.name}${h.underlay ? ` ${h.underlay}` : ''}${mark(h.state)}`,
      h.networks.map((n) =>
        node(`${n.name}: ${n.bridge}${n.kind ? ` (${n.kind}${n.mesh ? `, ${n.mesh} mesh` : ''})` : ''}`, [
          ...n.tunnels.map((x) =>
            node(
              `<-> ${x.peer}${wide ? ` via ${x.port}` : ''} ` +
                `${x.state}${x.state !== 'up' && x.detail ? ` (${x.detail})` : ''}`,
            ),
          ),
          ...n.containers.map((c) =>
            node(`${c.name} ${c.ifname} ${c.addresses.join(' ') || '-'}${wide ? ` ${c.mac}` : ''}${mark(c.state)}`),
          ),
        ]),
      ),
    ),
  );
  const out = ['fleet'];
  drawTree(tree, '', out);
  return out.join('\n') + '\n';
}

const q = (s: string) => `"${s.replace(/[\\"]/g, '\\$&')}"`;
const COLOR: Record<string, string> = { up: 'darkgreen', down: 'red', missing: 'red', unreachable: 'orange' };

/** Graphviz DOT: a cluster per host, a box per bridge, an ellipse per container, an edge per tunnel pair. */
export function topologyDot(t: Topology): string {
  const out = [
    'graph fleetnet {',
    '  graph [rankdir=LR, fontname="sans-serif"];',
    '  node [fontname="sans-serif"];',
    '  edge [fontname="sans-serif"];',
  ];
  for (const [hi, h] of t.hosts.entries()) {
    out.push(
      `  subgraph ${q(`cluster_${hi}`)} {`,
      `    label=${q(`${h.name}${h.underlay ? `\n${h.underlay}` : ''}${mark(h.state)}`)};`,
      `    color=${h.state === 'up' ? 'black' : 'red'};`,
    );
    for (const n of h.networks) {
      const br = `${h.name}/${n.name}`;
      out.push(`    ${q(br)} [shape=box, label=${q(`${n.bridge}\n${n.name}`)}];`);
      for (const c of n.containers) {
        const id = `${br}/${c.name}/${c.ifname}`;
        const label = q(`${c.name} ${c.ifname}\n${c.addresses.join(' ') || '-'}`);
        out.push(`    ${q(id)} [shape=ellipse, label=${label}${c.state === 'up' ? '' : ', color=red'}];`);
        out.push(`    ${q(br)} -- ${q(id)};`);
      }
    }
    out.push('  }');
  }
  const seen = new Set<string>();
  for (const h of t.hosts) {
    for (const n of h.networks) {
      for (const x of n.tunnels) {
        const key = [h.name, x.peer].sort().join('|') + `|${n.name}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const back = t.hosts
          .find((p) => p.name === x.peer)
          ?.networks.find((m) => m.name === n.name)
          ?.tunnels.find((y) => y.peer === h.name);
        const state =
          x.state === 'up' && (!back || back.state === 'up') ? 'up' : x.state !== 'up' ? x.state : back!.state;
        out.push(
          `  ${q(`${h.name}/${n.name}`)} -- ${q(`${x.peer}/${n.name}`)} ` +
            `[label=${q(`${n.mesh || 'tunnel'} ${state}`)}, ` +
            `color=${COLOR[state] ?? 'gray'}${state === 'up' ? '' : ', style=dashed'}];`,
        );
      }
    }
  }
  out.push('}');
  return out.join('\n') + '\n';
}

/** SVG from the DOT, by Graphviz's `dot` (Debian's graphviz). */
export async function topologySvg(t: Topology, runner: Runner): Promise<string> {
  return (await runner.run('dot', ['-Tsvg'], { input: topologyDot(t), timeoutMs: 30_000 })).stdout;
}
