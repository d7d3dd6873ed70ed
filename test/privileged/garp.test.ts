// After addressing, the agent announces the address (gratuitous ARP) without holding up the reply,
// and the helper that sends it ends on its own.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { parseAttachArgs } from '../../common/attach-args.js';
import { parseIfName } from '../../common/ifname.js';
import { silentLogger } from '../../common/logger.js';
import { Attacher } from '../../agent/attach/attacher.js';
import { RecordStore } from '../../agent/attach/records.js';
import { ContainerResolver, nsKeyOf } from '../../agent/containers/resolve.js';
import { ipExec } from '../../agent/linux/ip.js';
import { addNs, delNs, mountNsSysfs, NsRunner, sh, uniquePrefix } from '../helpers/netns.js';

const P = uniquePrefix('ga');
let sysfs: { classNet: string; release(): Promise<void> };
let stateDir: string;

before(async () => {
  for (const n of ['h', 'peer', 'c']) await addNs(`${P}-${n}`);
  sysfs = await mountNsSysfs(`/run/netns/${P}-h`);
  stateDir = mkdtempSync(join(tmpdir(), 'fleetnet-state-'));
});

after(async () => {
  await sysfs?.release();
  for (const n of ['h', 'peer', 'c']) await delNs(`${P}-${n}`);
  rmSync(stateDir, { recursive: true, force: true });
});

function arpingsIn(nsKey: string): Promise<number[]> {
  const pids: number[] = [];
  return (async () => {
    for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
      try {
        if (!['arping', 'ndptool'].includes(readFileSync(`/proc/${d}/comm`, 'utf8').trim())) continue;
        if ((await nsKeyOf(`/proc/${d}/ns/net`)) === nsKey) pids.push(Number(d));
      } catch {
        /* exited meanwhile */
      }
    }
    return pids;
  })();
}

it('a peer with stale IPv4 and IPv6 neighbour entries learns the new MAC without asking, and no announcing helper is left', async () => {
  const runner = new NsRunner(`/run/netns/${P}-h`);
  const attacher = new Attacher({
    runner,
    ip: ipExec(runner),
    records: new RecordStore(stateDir),
    log: silentLogger(),
    sysClassNet: sysfs.classNet,
    resolver: new ContainerResolver({ runner, docker: () => undefined, netnsDir: '/run/netns' }),
  });
  const mk = (words: string[]) => {
    const a = parseAttachArgs(words);
    return {
      hostIf: parseIfName(a.hostIf!),
      target: a.target,
      ifname: parseIfName('eth1'),
      addresses: a.addresses,
      mac: a.mac,
      dryRun: false,
    };
  };
  await attacher.attach(mk(['br-g', `netns:${P}-peer`, '10.51.0.1/24', 'fd51::1/64']));
  const peer = (...args: string[]) => sh.run('ip', ['-n', `${P}-peer`, ...args]);
  await peer('neigh', 'replace', '10.51.0.2', 'lladdr', '02:00:00:00:00:99', 'dev', 'eth1', 'nud', 'stale');
  await peer('neigh', 'replace', 'fd51::2', 'lladdr', '02:00:00:00:00:99', 'dev', 'eth1', 'nud', 'stale');
  // Watch the peer's wire for ARP requests it sends, for a bounded time.
  const dump = sh.run(
    'timeout',
    ['4', 'nsenter', `--net=/run/netns/${P}-peer`, 'tcpdump', '-nn', '-l', '-i', 'eth1', 'arp'],
    { allowFail: true, timeoutMs: 10_000 },
  );
  await new Promise((r) => setTimeout(r, 500));
  const res = await attacher.attach(mk(['br-g', `netns:${P}-c`, '10.51.0.2/24', 'fd51::2/64', '02:00:00:00:00:22']));
  for (const addr of ['10.51.0.2', 'fd51::2']) {
    let learned = '';
    for (let i = 0; i < 50 && learned !== '02:00:00:00:00:22'; i++) {
      const n = JSON.parse((await peer('-json', 'neigh', 'show', addr, 'dev', 'eth1')).stdout) as { lladdr?: string }[];
      learned = n[0]?.lladdr ?? '';
      if (learned !== '02:00:00:00:00:22') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(learned, '02:00:00:00:00:22', `the peer updated its entry for ${addr} from the announcement`);
  }
  const out = (await dump).stdout;
  assert.match(
    out,
    /Request who-has 10\.51\.0\.2 (\([0-9a-f:]+\) )?tell 10\.51\.0\.2/,
    'the announcement was seen on the wire',
  );
  assert.doesNotMatch(out, /tell 10\.51\.0\.1/, 'the peer never had to ask');
  assert.doesNotMatch(out, /who-has 10\.51\.0\.2 .*tell 10\.51\.0\.1/, 'the peer never had to ask');
  let left = await arpingsIn(res.record.container.nsKey);
  for (let i = 0; i < 30 && left.length; i++) {
    await new Promise((r) => setTimeout(r, 100));
    left = await arpingsIn(res.record.container.nsKey);
  }
  assert.deepEqual(left, [], 'no arping or ndptool outlives the announcement');
  for (const n of ['peer', 'c'])
    await attacher.detach({ target: { kind: 'netns', value: `${P}-${n}` }, ifname: parseIfName('eth1') });
});
