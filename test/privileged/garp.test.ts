// After addressing, the kernel itself announces the new addresses as the container interface comes
// up (arp_notify / ndisc_notify set while it was down): a gratuitous ARP and an unsolicited neighbour
// advertisement reach the segment, a peer with stale entries learns the new MAC, and no helper process
// (arping, ndptool) runs. Both renderers: in-process netlink and the `ip -batch` execs.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseIfName } from '../../common/ifname.js';
import { silentLogger } from '../../common/logger.js';
import { RecordingRunner } from '../../common/runner.js';
import { Attacher } from '../../agent/attach/attacher.js';
import { RecordStore } from '../../agent/attach/records.js';
import { ContainerResolver } from '../../agent/containers/resolve.js';
import { ipExec } from '../../agent/linux/ip.js';
import { netlinkIp } from '../../agent/linux/ip-netlink.js';
import { loadRtnl, type Rtnl } from '../../agent/linux/rtnetlink.js';
import { addNs, delNs, mountNsSysfs, NsRunner, sh, uniquePrefix } from '../helpers/netns.js';
import { attachOrder as order } from '../helpers/attach-order.js';

const P = uniquePrefix('ga');
const NAMES = ['h', 'peer', 'c', 'q', 'v', 'cn', 'qn', 'vn'];
let sysfs: { classNet: string; release(): Promise<void> };
let stateDir: string;
const captures: ChildProcess[] = [];

before(async () => {
  for (const n of NAMES) await addNs(`${P}-${n}`);
  sysfs = await mountNsSysfs(`/run/netns/${P}-h`);
  stateDir = mkdtempSync(join(tmpdir(), 'fleetnet-state-'));
  // The peer on the segment (bridge br-g in the test host), with neighbour entries to be corrected.
  const runner = new NsRunner(`/run/netns/${P}-h`);
  const a = new Attacher({
    runner,
    ip: ipExec(runner),
    records: new RecordStore(stateDir),
    log: silentLogger(),
    sysClassNet: sysfs.classNet,
    resolver: new ContainerResolver({ runner, docker: () => undefined, netnsDir: '/run/netns' }),
  });
  await a.attach(order(['br-g', `netns:${P}-peer`, '10.51.0.1/24', 'fd51::1/64']));
  // Its own announcement (a MAC change) flushes the peer's neighbour entries: over before the test sets them.
  await a.announcementsSent();
});

after(async () => {
  for (const p of captures) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await sysfs?.release();
  for (const n of NAMES) await delNs(`${P}-${n}`);
  rmSync(stateDir, { recursive: true, force: true });
});

/**
 * tcpdump on the peer's eth1 (ARP, and neighbour advertisements), started and listening; `until(lines)`
 * resolves once `want` holds of what it printed, or after `ms` (then the capture so far).
 */
async function capture(ms: number): Promise<{ until(want: (out: string) => boolean): Promise<string> }> {
  const p = sh.start(
    'timeout',
    [
      String(ms / 1000),
      'nsenter',
      `--net=/run/netns/${P}-peer`,
      'tcpdump',
      '-e',
      '-nn',
      '-l',
      '-i',
      'eth1',
      'arp or (icmp6 and ip6[40] == 136)',
    ],
    { stdio: 'pipe' },
  );
  captures.push(p);
  let out = '';
  p.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  await new Promise<void>((resolve, reject) => {
    let err = '';
    p.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      if (err.includes('listening on')) resolve();
    });
    p.once('exit', () => reject(new Error(`tcpdump ended before listening: ${err}`)));
  });
  return {
    until: (want) =>
      new Promise((resolve) => {
        const check = () => {
          if (want(out)) {
            p.kill('SIGTERM');
            resolve(out);
          }
        };
        p.stdout!.on('data', check);
        p.once('exit', () => resolve(out));
        check();
      }),
  };
}

const sysctlIn = async (ns: string, key: string) =>
  (await sh.run('ip', ['netns', 'exec', `${P}-${ns}`, 'sysctl', '-n', key])).stdout.trim();

for (const path of ['exec', 'netlink'] as const)
  describe(`address announcements (${path})`, () => {
    const sfx = path === 'netlink' ? 'n' : '';
    const c = `${P}-c${sfx}`;
    const q = `${P}-q${sfx}`;
    let rec: RecordingRunner;
    const attacher = (garp: boolean) => {
      rec = new RecordingRunner(new NsRunner(`/run/netns/${P}-h`));
      const exec = ipExec(rec);
      let ip: ReturnType<typeof ipExec> = exec;
      if (path === 'netlink') {
        const rt = loadRtnl();
        assert.notEqual(typeof rt, 'string', `in-process netlink must load here: ${String(rt)}`);
        ip = netlinkIp(rt as Rtnl, exec, { hostNetns: `/run/netns/${P}-h` });
      }
      return new Attacher({
        runner: rec,
        ip,
        records: new RecordStore(stateDir),
        log: silentLogger(),
        sysClassNet: sysfs.classNet,
        resolver: new ContainerResolver({ runner: rec, docker: () => undefined, netnsDir: '/run/netns' }),
        garp,
      });
    };
    const peer = (...args: string[]) => sh.run('ip', ['-n', `${P}-peer`, ...args]);

    it('a peer with stale IPv4 and IPv6 entries learns the new MAC from the kernel, and no helper runs', async () => {
      const a = attacher(true);
      // IPv6 off by default in the container, as Docker leaves it: the attach turns it on for eth1 only.
      await sh.run('ip', ['netns', 'exec', c, 'sysctl', '-q', '-w', 'net.ipv6.conf.default.disable_ipv6=1']);
      const last = path === 'exec' ? '2' : '3';
      const [v4, v6, mac] = [`10.51.0.${last}`, `fd51::${last}`, `02:00:00:00:00:2${last}`];
      await peer('neigh', 'replace', v4, 'lladdr', '02:00:00:00:00:99', 'dev', 'eth1', 'nud', 'stale');
      await peer('neigh', 'replace', v6, 'lladdr', '02:00:00:00:00:99', 'dev', 'eth1', 'nud', 'stale');
      const arp = new RegExp(
        `^\\S+ ${mac} > ff:ff:ff:ff:ff:ff, .*Request who-has ` +
          `${v4.replaceAll('.', '\\.')} tell ${v4.replaceAll('.', '\\.')},`,
        'm',
      );
      const na = new RegExp(
        `^\\S+ ${mac} > 33:33:00:00:00:01, .*${v6} > ff02::1: ICMP6, neighbor advertisement, tgt is ${v6},`,
        'm',
      );
      const dump = await capture(8000);
      const seen = dump.until((o) => arp.test(o) && na.test(o));
      const calls = rec.calls.length;
      await a.attach(order(['br-g', `netns:${c}`, `${v4}/24`, `${v6}/64`, mac]));
      const out = await seen;
      assert.match(out, arp, 'a gratuitous ARP: sender IP = target IP = the new address, from the new MAC');
      assert.match(out, na, 'an unsolicited neighbour advertisement for the new IPv6 address');
      for (const addr of [v4, v6]) {
        const n = JSON.parse((await peer('-json', 'neigh', 'show', addr, 'dev', 'eth1')).stdout) as {
          lladdr?: string;
        }[];
        assert.equal(n[0]?.lladdr, mac, `the peer updated its entry for ${addr} without asking`);
      }
      assert.doesNotMatch(out, /tell 10\.51\.0\.1,/, 'the peer never had to ask');
      const v4e = v4.replaceAll('.', '\\.');
      assert.doesNotMatch(out, new RegExp(`^\\S+ (?!${mac})\\S+ > .*tell ${v4e},`, 'm'), 'announced with no other MAC');
      const ran = rec.calls.slice(calls).map((x) => `${[x.cmd, ...x.args].join(' ')}${x.input ? ` ${x.input}` : ''}`);
      assert.deepEqual(
        ran.filter((x) => /arping|ndptool/.test(x)),
        [],
        'no announcing helper was run',
      );
      const enter = `nsenter --net=/run/netns/${c}`;
      assert.deepEqual(
        ran.filter((x) => x.startsWith(enter)).map((x) => x.replace(/address \S+/, 'address X')),
        path === 'exec'
          ? [
              `${enter} sysctl -q -w net/ipv6/conf/eth1/disable_ipv6=0`,
              `${enter} ip -json -batch - addr add ${v4}/24 dev eth1\naddr add ${v6}/64 dev eth1 nodad\n` +
                'link set eth1 up\naddr show dev eth1\n',
              `${enter} sysctl -q -w net/ipv4/conf/eth1/arp_notify=1 net/ipv6/conf/eth1/ndisc_notify=1`,
              `${enter} ip -json -batch - link set eth1 address X\n`,
            ]
          : [],
        path === 'exec' ? 'the text path: sysctl and ip in the container' : 'netlink: no process in the container',
      );
      const link = JSON.parse((await sh.run('ip', ['-n', c, '-json', 'link', 'show', 'eth1'])).stdout);
      assert.equal(link[0].address, mac, 'eth1 ends with its own MAC');
      assert.deepEqual(
        await Promise.all(
          ['net.ipv4.conf.eth1.arp_notify', 'net.ipv6.conf.eth1.ndisc_notify', 'net.ipv6.conf.eth1.disable_ipv6'].map(
            (k) => sysctlIn(`c${sfx}`, k),
          ),
        ),
        ['1', '1', '0'],
      );
      assert.equal(await sysctlIn(`c${sfx}`, 'net.ipv6.conf.default.disable_ipv6'), '1', 'only eth1 got IPv6');
    });

    it('garp off: the interface announces nothing (arp_notify and ndisc_notify stay off)', async () => {
      const a = attacher(false);
      await a.attach(order(['br-g', `netns:${q}`, `10.51.1.${sfx ? 3 : 2}/24`, `fd51:1::${sfx ? 3 : 2}/64`]));
      assert.deepEqual(
        await Promise.all(
          ['net.ipv4.conf.eth1.arp_notify', 'net.ipv6.conf.eth1.ndisc_notify', 'net.ipv6.conf.eth1.disable_ipv6'].map(
            (k) => sysctlIn(`q${sfx}`, k),
          ),
        ),
        ['0', '0', '0'],
      );
      for (const ns of [c, q]) await a.detach({ target: { kind: 'netns', value: ns }, ifname: parseIfName('eth1') });
    });

    it('IPv4 only: the gratuitous ARP comes from the real MAC, none from any other', async () => {
      // arp_notify goes on before the MAC is set again (to the same value): nothing is announced earlier.
      const a = attacher(true);
      const v = `${P}-v${sfx}`;
      const last = path === 'exec' ? '4' : '5';
      const [v4, mac] = [`10.51.0.${last}`, `02:00:00:00:00:3${last}`];
      const e = v4.replaceAll('.', '\\.');
      const arp = new RegExp(`^\\S+ ${mac} > ff:ff:ff:ff:ff:ff, .*Request who-has ${e} tell ${e},`, 'm');
      const dump = await capture(8000);
      const seen = dump.until((o) => arp.test(o));
      await a.attach(order(['br-g', `netns:${v}`, `${v4}/24`, mac]));
      await a.announcementsSent();
      const out = await seen;
      assert.match(out, arp, 'a gratuitous ARP from the real MAC');
      assert.doesNotMatch(out, new RegExp(`^\\S+ (?!${mac})\\S+ > .*tell ${e},`, 'm'), 'announced with no other MAC');
      const link = JSON.parse((await sh.run('ip', ['-n', v, '-json', 'link', 'show', 'eth1'])).stdout);
      assert.equal(link[0].address, mac, 'eth1 ends with its own MAC');
      assert.equal(await sysctlIn(`v${sfx}`, 'net.ipv4.conf.eth1.arp_notify'), '1');
      await a.detach({ target: { kind: 'netns', value: v }, ifname: parseIfName('eth1') });
    });
  });
