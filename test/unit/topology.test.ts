// cli/output/topology.ts: the fleet's shape from hosts, networks, attachments and tunnels; the tree,
// and DOT that Graphviz's `dot` renders (through the Runner, as `-o svg` does).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { ExecRunner } from '../../common/runner.js';
import type { LsEntry } from '../../common/ls-schema.js';
import {
  buildTopology,
  topologyDot,
  topologySvg,
  topologyTree,
  type TopologyInput,
} from '../../cli/output/topology.js';

const att = (host: string, container: string, addr: string, state = 'up'): LsEntry => ({
  id: `${host}-${container}`,
  host,
  network: 'blue',
  container,
  containerId: '',
  pid: 0,
  ifname: 'eth1',
  hostIf: 'br-blue',
  hostIfname: '',
  kind: 'bridge',
  mac: '02:00:00:00:00:01',
  addresses: [addr],
  gateways: [],
  mtu: 1500,
  vlan: '',
  state,
  error: '',
  generation: 1,
});

const input: TopologyInput = {
  hosts: [
    { name: 'h1', state: 'up', underlayIp: '10.99.0.11' },
    { name: 'h2', state: 'unreachable', underlayIp: '10.99.0.12' },
  ],
  networks: [
    { name: 'blue', bridge: 'ovs-blue', kind: 'ovs', parent: '', parents: {}, mesh: 'gre', meshHosts: ['h1', 'h2'] },
  ],
  attachments: [att('h1', 'web1', '10.1.1.5/24'), att('h2', 'web"2', '10.1.1.6/24', 'pending')],
  tunnels: [
    { host: 'h1', network: 'blue', peer: 'h2', port: 'gblue-h2', state: 'up', detail: '' },
    { host: 'h2', network: 'blue', peer: 'h1', port: 'gblue-h1', state: 'down', detail: 'no carrier' },
  ],
};

it('the tree shows hosts, bridges, tunnels with state, containers per network', () => {
  assert.equal(
    topologyTree(buildTopology(input)),
    [
      'fleet',
      '├── h1 10.99.0.11',
      '│   └── blue: ovs-blue (ovs, gre mesh)',
      '│       ├── <-> h2 up',
      '│       └── web1 eth1 10.1.1.5/24',
      '└── h2 10.99.0.12 [unreachable]',
      '    └── blue: ovs-blue (ovs, gre mesh)',
      '        ├── <-> h1 down (no carrier)',
      '        └── web"2 eth1 10.1.1.6/24 [pending]',
      '',
    ].join('\n'),
  );
});

it('the DOT renders with Graphviz dot: one tunnel edge per pair, in its worse state', async (t) => {
  const dot = topologyDot(buildTopology(input));
  assert.equal(dot.match(/ -- "h\d\/blue" \[label/g)?.length, 1);
  assert.match(dot, /"h1\/blue" -- "h2\/blue" \[label="gre down", color=red, style=dashed\]/);
  const runner = new ExecRunner();
  if ((await runner.run('dot', ['-V'], { allowFail: true }).catch(() => ({ code: 127 }))).code !== 0) {
    if (process.env.CI) throw new Error('graphviz is missing in CI: scripts/setup.sh installs it');
    return t.skip('graphviz (dot) is not installed');
  }
  const svg = await topologySvg(buildTopology(input), runner);
  assert.match(svg, /<svg[\s\S]*web&quot;2 eth1[\s\S]*<\/svg>/);
});

it("the README's example is what the CLI prints for it (h2's agent not answering: its host unreachable)", () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const after = readme.slice(readme.indexOf('**`fleetnet topology`**'));
  const example = /```\n(fleet\n[\s\S]*?)```/.exec(after)![1];
  // As the controller answers then: h2 unreachable, and for its tunnels one row without a peer (no answer).
  const now: TopologyInput = {
    ...input,
    attachments: [att('h1', 'web1', '10.1.1.5/24')],
    tunnels: [
      { host: 'h1', network: 'blue', peer: 'h2', port: 'fg1', state: 'up', detail: '' },
      { host: 'h2', network: 'blue', peer: '', port: '', state: 'unreachable', detail: 'does not answer' },
    ],
  };
  assert.equal(topologyTree(buildTopology(now)), example);
});
