// The mesh's neighbour work (agent/mesh/tunnel-neigh.ts) on a real kernel, through both
// NeighIo: in-process route netlink (a socket opened in the test host's namespace) and `ip` execs run
// there. A test host and a peer joined by a veth: the peer's address asked for turns REACHABLE with the
// peer's MAC, a known (STALE) entry is probed back to REACHABLE, a PERMANENT entry is left as it was,
// and an address nobody answers is asked about and stays unanswered.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { execNeighIo, type NeighAsk, type NeighEntry, type NeighIo } from '../../agent/linux/neigh-io.js';
import { netlinkNeighIo } from '../../agent/linux/neigh-netlink.js';
import { loadRtnl, type Rtnl } from '../../agent/linux/rtnetlink.js';
import { askPeers, findUnderlay } from '../../agent/mesh/tunnel-neigh.js';
import { addNs, delNs, NsRunner, sh, uniquePrefix } from '../helpers/netns.js';

const P = uniquePrefix('nb');
const KINDS = ['netlink', 'exec'] as const;
const SELF = '10.61.0.1';
const PEER = '10.61.0.2';
const SILENT = '10.61.0.3'; // on the link, nobody has it
const STATIC = '10.61.0.4'; // a PERMANENT entry, nobody has it either
const STATIC_MAC = '02:00:00:61:00:04';
const OFF_LINK = '10.9.0.1';
let rt: Rtnl;

const hostNs = (k: string) => `${P}-${k[0]}h`;
const peerNs = (k: string) => `${P}-${k[0]}p`;

before(async () => {
  const r = loadRtnl();
  assert.equal(typeof r, 'object', `in-process netlink must load here: ${String(r)}`);
  rt = r as Rtnl;
  for (const k of KINDS) {
    const [h, p] = [hostNs(k), peerNs(k)];
    await addNs(h);
    await addNs(p);
    await sh.run('ip', ['-n', h, 'link', 'add', 'und0', 'type', 'veth', 'peer', 'name', 'und1', 'netns', p]);
    await sh.run('ip', ['-n', h, 'addr', 'add', `${SELF}/24`, 'dev', 'und0']);
    await sh.run('ip', ['-n', p, 'addr', 'add', `${PEER}/24`, 'dev', 'und1']);
    await sh.run('ip', ['-n', h, 'link', 'set', 'und0', 'up']);
    await sh.run('ip', ['-n', p, 'link', 'set', 'und1', 'up']);
    await sh.run('ip', ['-n', h, 'neigh', 'add', STATIC, 'lladdr', STATIC_MAC, 'dev', 'und0', 'nud', 'permanent']);
  }
});

after(async () => {
  for (const k of KINDS) {
    await delNs(hostNs(k));
    await delNs(peerNs(k));
  }
});

const peerMac = async (k: string) =>
  (
    JSON.parse((await sh.run('ip', ['-n', peerNs(k), '-json', 'link', 'show', 'und1'])).stdout) as { address: string }[]
  )[0]!.address;

/** The fields both ways give (`ip -json` also names the address). */
const pick = (e: NeighEntry | undefined) => e && { lladdr: e.lladdr, state: e.state };

/** A NeighIo of the test host that also records what it was asked to resolve. */
function open(k: (typeof KINDS)[number], asked: NeighAsk[]): NeighIo {
  const ns = `/run/netns/${hostNs(k)}`;
  const io = k === 'netlink' ? netlinkNeighIo(rt, ns) : execNeighIo(new NsRunner(ns));
  return { ...io, resolve: (dev, asks) => (asked.push(...asks), io.resolve(dev, asks)) };
}

/** The entry of `ip` once it is REACHABLE (the kernel's answer came), or as it is after 3 s. */
async function answered(io: NeighIo, ip: string): Promise<NeighEntry | undefined> {
  for (let i = 0; ; i++) {
    const e = (await io.neighbours('und0')).get(ip);
    if (e?.state?.includes('REACHABLE') || i >= 300) return e;
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const k of KINDS) {
  describe(`tunnel peers resolved over ${k}`, () => {
    it('the peer asked for answers with its MAC, a silent one does not, the static entry is left alone', async () => {
      const asked: NeighAsk[] = [];
      const io = open(k, asked);
      try {
        const u = await findUnderlay(io, SELF, [PEER, SILENT, STATIC, OFF_LINK, SELF]);
        assert.deepEqual(u, { dev: 'und0', onLink: [PEER, SILENT, STATIC] });
        assert.deepEqual(await askPeers(io, u!), [PEER, SILENT]);
        assert.deepEqual(asked, [
          { peer: PEER, known: false },
          { peer: SILENT, known: false },
        ]);
        assert.deepEqual(pick(await answered(io, PEER)), { lladdr: await peerMac(k), state: ['REACHABLE'] });
        const seen = await io.neighbours('und0');
        assert.deepEqual(pick(seen.get(STATIC)), { lladdr: STATIC_MAC, state: ['PERMANENT'] });
        assert.ok(seen.has(SILENT), 'the kernel was asked about the silent address');
        assert.ok(!seen.get(SILENT)!.state!.includes('REACHABLE'));
      } finally {
        io.close();
      }
    });

    it('a known entry (STALE, with its MAC) is probed, and answers', async () => {
      const mac = await peerMac(k);
      await sh.run('ip', ['-n', hostNs(k), 'neigh', 'replace', PEER, 'lladdr', mac, 'dev', 'und0', 'nud', 'stale']);
      const asked: NeighAsk[] = [];
      const io = open(k, asked);
      try {
        assert.deepEqual(pick((await io.neighbours('und0')).get(PEER)), { lladdr: mac, state: ['STALE'] });
        // A STALE entry turns REACHABLE only on an answer: the probe's.
        assert.deepEqual(await askPeers(io, { dev: 'und0', onLink: [PEER, STATIC] }), [PEER]);
        assert.deepEqual(asked, [{ peer: PEER, known: true }]);
        assert.deepEqual(pick(await answered(io, PEER)), { lladdr: mac, state: ['REACHABLE'] });
      } finally {
        io.close();
      }
    });
  });
}

it('both ways read the same neighbour table alike', async () => {
  const ns = `/run/netns/${hostNs('netlink')}`;
  const nl = netlinkNeighIo(rt, ns);
  try {
    const viaExec = await execNeighIo(new NsRunner(ns)).neighbours('und0');
    const viaNl = await nl.neighbours('und0');
    for (const ip of [PEER, STATIC]) assert.deepEqual(pick(viaNl.get(ip)), pick(viaExec.get(ip)), ip);
    assert.ok(viaNl.get(PEER)?.lladdr);
    assert.deepEqual(
      (await nl.addresses()).filter((a) => a.ifname !== 'lo'),
      [{ ifname: 'und0', local: SELF, prefixlen: 24 }],
    );
  } finally {
    nl.close();
  }
});
