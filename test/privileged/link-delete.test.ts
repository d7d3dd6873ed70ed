// A watched link delete (agent/linux/link-delete.ts) answers once the kernel announced the link
// gone: by then both veth ends, the bridge port and the name are gone, even while the `ip` exec
// that deleted it has not been heard back from. A link that is not there fails as `ip` says.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ipExec } from '../../agent/linux/ip.js';
import { netlinkIp } from '../../agent/linux/ip-netlink.js';
import { deleteLinkWatched } from '../../agent/linux/link-delete.js';
import { loadRtnl, type Rtnl } from '../../agent/linux/rtnetlink.js';
import { delNs, hostWithBridge, NsRunner, sh, uniquePrefix } from '../helpers/netns.js';

const P = uniquePrefix('ld');
const HOST = `${P}-h`;
const CTR = `${P}-c`;
let rt: Rtnl;

before(async () => {
  const r = loadRtnl();
  await hostWithBridge(r, HOST, CTR);
  rt = r as Rtnl;
});
after(async () => {
  await delNs(HOST);
  await delNs(CTR);
});

async function vethOnBridge(name: string, peer: string): Promise<void> {
  await sh.run('ip', ['-n', HOST, 'link', 'add', name, 'type', 'veth', 'peer', 'name', peer, 'netns', CTR]);
  await sh.run('ip', ['-n', HOST, 'link', 'set', name, 'master', 'br0', 'up']);
}

const exists = async (ns: string, dev: string) =>
  (await sh.run('ip', ['-n', ns, 'link', 'show', 'dev', dev], { allowFail: true })).code === 0;
const ports = async () =>
  (
    JSON.parse((await sh.run('ip', ['-n', HOST, '-json', 'link', 'show', 'master', 'br0'])).stdout || '[]') as {
      ifname: string;
    }[]
  ).map((l) => l.ifname);

test('the answer comes when the link is gone, not when its exec returns', { timeout: 30_000 }, async () => {
  await vethOnBridge('fnv1', 'eth1');
  const exec = ipExec(new NsRunner(`/run/netns/${HOST}`));
  let execEnded = false;
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  // The exec deletes the link for real, but is heard back from only when the test says so.
  const viaExec = async () => {
    const out = await exec.host([{ t: 'del', name: 'fnv1' }]);
    await held;
    execEnded = true;
    return out;
  };
  await deleteLinkWatched(rt, `/run/netns/${HOST}`, 'fnv1', viaExec);
  assert.equal(execEnded, false, "answered on the kernel's announcement");
  assert.equal(await exists(HOST, 'fnv1'), false, 'the host end is gone');
  assert.equal(await exists(CTR, 'eth1'), false, 'the container end is gone');
  assert.deepEqual(await ports(), [], 'the bridge has no port left');
  release();
});

test('through the netlink IpExec: a lone delete is watched; a missing link fails as ip says', async () => {
  await vethOnBridge('fnv2', 'eth2');
  const ip = netlinkIp(rt, ipExec(new NsRunner(`/run/netns/${HOST}`)), { hostNetns: `/run/netns/${HOST}` });
  await ip.host([{ t: 'del', name: 'fnv2' }]);
  assert.equal(await exists(HOST, 'fnv2'), false);
  assert.equal(await exists(CTR, 'eth2'), false);
  assert.equal(ip.execs, 1, 'one exec of ip, no in-process delete');
  await assert.rejects(ip.host([{ t: 'del', name: 'fnv2' }]), /Cannot find device "fnv2"/);
  // An attach's own batches still run in-process.
  await vethOnBridge('fnv3', 'eth3');
  await ip.host([{ t: 'set', name: 'fnv3', up: false }]);
  assert.equal(ip.inProcess, 1);
});
