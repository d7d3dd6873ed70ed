// The attach rules with a real agent in a test namespace: each refusal exits 2 from the CLI (or
// is INVALID_ARGUMENT on a raw gRPC request that skips the CLI's checks), and nothing is made —
// the host's and the container's links, addresses and routes are as before, and no record exists.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { connectAgent } from '../../cli/client/agent.js';
import { FleetnetError } from '../../common/errors.js';
import type { AttachRequest } from '../../proto/gen/fleetnet/v1/agent.js';
import { attachRequest } from '../helpers/attach-request.js';
import { cli, startAgentIn, type AgentProc } from '../helpers/agent-process.js';
import { addNs, delNs, dumpNs, sh, uniquePrefix } from '../helpers/netns.js';

const P = uniquePrefix('rf');
const HOST = `${P}-h`;
const CONT = `${P}-c`;
let agent: AgentProc;
let dir: string;

before(async () => {
  await addNs(HOST);
  await addNs(CONT);
  // An interface the container has that fleetnet did not make.
  await sh.run('ip', ['-n', CONT, 'link', 'add', 'eth6', 'type', 'veth', 'peer', 'name', 'eth6p']);
  dir = mkdtempSync(join(tmpdir(), 'fleetnet-agent-'));
  agent = await startAgentIn(HOST, dir);
});

after(async () => {
  await agent?.stop();
  await delNs(HOST);
  await delNs(CONT);
  rmSync(dir, { recursive: true, force: true });
});

const state = async () => `${await dumpNs(`/run/netns/${HOST}`)}\n${await dumpNs(`/run/netns/${CONT}`)}`;
const target = `netns:${CONT}`;

// [words, what stderr must name]
const CLI_CASES: [string[], RegExp][] = [
  [['br-r', target, '10.53.0.5/24@10.9.9.1'], /10\.9\.9\.1 is outside 10\.53\.0\.0\/24/],
  [['br-r', target, '10.53.0.0/24'], /network address/],
  [['br-r', target, '10.53.0.255/24'], /broadcast address/],
  [['-i', '$(id)', 'br-r', target, '10.53.0.5/24'], /'\$\(id\)'/],
  [['-i', 'a;b', 'br-r', target, '10.53.0.5/24'], /'a;b'/],
  [['-i', 'ëth1', 'br-r', target, '10.53.0.5/24'], /'ëth1'/],
  [['-l', '$(id)', 'br-r', target, '10.53.0.5/24'], /'\$\(id\)'/],
  [['-l', 'a;b', 'br-r', target, '10.53.0.5/24'], /'a;b'/],
  [['-l', 'ëth1', 'br-r', target, '10.53.0.5/24'], /'ëth1'/],
  [['--mtu', '67', 'br-r', target, '10.53.0.5/24'], /67/],
  [['br-r', target, '0/0', '10.53.0.5/24'], /0\/0/],
  // Accepted by the CLI (the host interface may exist), refused by the agent once it sees the bridge would be new.
  [['br;x', target, '10.53.0.5/24'], /'br;x'/],
  [['brë', target, '10.53.0.5/24'], /'brë'/],
  [['--kind', 'ovs', 'ovs$(id)', target, '10.53.0.5/24'], /'ovs\$\(id\)'/],
  // Refused before anything is made, instead of the kernel's "File exists" or "Cannot assign requested address".
  [['br-r', target, '10.53.0.5/24', '10.53.0.5/24'], /10\.53\.0\.5 is given twice/],
  [['br-r', target, '::1/128'], /::1\/128 is a loopback address/],
  [['br-r', target, '127.0.0.5/8'], /127\.0\.0\.5\/8 is a loopback address/],
  [['lo', target, '10.53.0.5/24'], /'lo' is the loopback interface/],
  [['-i', 'lo', 'br-r', target, '10.53.0.5/24'], /'lo', its loopback interface/],
  // Malformed addresses are named as addresses, not as "no address", a container or a MAC.
  [['br-r', target, '10.53.0.300/24'], /'10\.53\.0\.300\/24' is not a valid address/],
  [['br-r', target, '10.53.0.300/24', '10.53.0.6/24'], /'10\.53\.0\.300\/24' is not a valid address/],
  [['br-r', target, '10.53.0.6/24', 'fd00::zz/64'], /'fd00::zz\/64' is not a valid address/],
  [['br-r', target, 'dhcp6'], /'dhcp6' is not a valid address/],
  [['br-r', target, '10.53.0.5/24@20'], /gateway '20'.*\n.*10\.53\.0\.5\/24 @20/],
  // The container's own interface of that name: the agent names it (the bridge it made for this goes again).
  [['-i', 'eth6', 'br-r', target, '10.53.0.5/24'], /already has an interface eth6 .*that fleetnet did not make/],
];

const REQ = attachRequest({
  hostIf: 'br-r',
  target: { kind: 'netns', value: CONT },
  addresses: [{ static: { cidr: '10.53.0.5/24', gateway: '' } }],
});
const RPC_CASES: Partial<AttachRequest>[] = [
  { addresses: [{ static: { cidr: '10.53.0.5/24', gateway: '10.9.9.1' } }] },
  { addresses: [{ static: { cidr: '10.53.0.255/24', gateway: '' } }] },
  { ifname: '$(id)' },
  { hostIfname: 'a;b' },
  { hostIf: 'br;x' },
  { mtu: 65536 },
];

it(
  'every refused attach exits 2 (CLI) or is INVALID_ARGUMENT (gRPC, read by the CLI client as invalid), ' +
    'naming the value, and makes nothing',
  async () => {
    const beforeState = await state();
    for (const [words, names] of CLI_CASES) {
      const r = await cli(agent.socket, 'attach', ...words);
      assert.equal(r.code, 2, `${words.join(' ')}: exit ${r.code}\n${r.stdout}${r.stderr}`);
      assert.match(r.stderr, names, words.join(' '));
      assert.match(r.stderr, /hint: /, `${words.join(' ')}: a hint says the fix`);
    }
    const conn = connectAgent(agent.socket);
    try {
      for (const patch of RPC_CASES) {
        await assert.rejects(
          conn.call(conn.client.attach, { ...REQ, ...patch }),
          (e: unknown) => e instanceof FleetnetError && e.kind === 'invalid',
          JSON.stringify(patch),
        );
      }
      assert.deepEqual((await conn.call(conn.client.list, {})).interfaces, [], 'no record');
    } finally {
      conn.close();
    }
    assert.equal(await state(), beforeState, 'nothing was made in the host or the container');
    // The same words with valid values work: the refusals were about the values, not the setup.
    const ok = await cli(agent.socket, 'attach', '-i', 'eth.1_x', 'br-r', target, '10.53.0.5/24@10.53.0.1');
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((await cli(agent.socket, 'detach', target, '-i', 'eth.1_x')).code, 0);
  },
);

it('bad input is named before "already has eth1 from fleetnet with other settings"', async () => {
  const ok = await cli(agent.socket, 'attach', 'br-r', target, '10.53.0.7/24');
  assert.equal(ok.code, 0, ok.stderr);
  try {
    const bad = await cli(agent.socket, 'attach', 'br;x', target, '10.53.0.8/24');
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /'br;x'/);
    assert.doesNotMatch(bad.stderr, /other settings/);
    const other = await cli(agent.socket, 'attach', 'br-r', target, '10.53.0.8/24');
    assert.equal(other.code, 1, 'valid input with other settings is still the conflict');
    assert.match(other.stderr, /already has eth1 from fleetnet with other settings/);
  } finally {
    assert.equal((await cli(agent.socket, 'detach', target)).code, 0);
  }
});
