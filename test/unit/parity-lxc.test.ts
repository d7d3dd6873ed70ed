// LXC cgroup parsing on v1, v2 and hybrid samples (test/unit/fixtures/cgroup/README.md says where they come from).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  lxcCgroupProcFiles,
  lxcNameOfCgroup,
  lxcPidFromCgroups,
  parseCgroupMounts,
} from '../../agent/containers/lxc.js';

const sample = (f: string) => readFileSync(new URL(`./fixtures/cgroup/${f}`, import.meta.url), 'utf8');

test('cgroup mounts: v1, v2 and hybrid', () => {
  assert.deepEqual(parseCgroupMounts(sample('v2-mountinfo.txt')), [
    { mountPoint: '/sys/fs/cgroup', version: 2, controllers: [] },
  ]);
  const v1 = parseCgroupMounts(sample('v1-mountinfo.txt'));
  assert.deepEqual(
    v1.map((m) => [m.mountPoint, m.controllers.join(',')]),
    [
      ['/sys/fs/cgroup/systemd', 'name=systemd'],
      ['/sys/fs/cgroup/cpu,cpuacct', 'cpu,cpuacct'],
      ['/sys/fs/cgroup/memory', 'memory'],
      ['/sys/fs/cgroup/pids', 'pids'],
      ['/sys/fs/cgroup/cpuset', 'cpuset'],
    ],
  );
  const hy = parseCgroupMounts(sample('hybrid-mountinfo.txt'));
  assert.equal(hy.filter((m) => m.version === 1).length, 9);
  assert.deepEqual(
    hy.filter((m) => m.version === 2).map((m) => m.mountPoint),
    ['/sys/fs/cgroup/unified'],
  );
});

test('which LXC container a process is in, from /proc/PID/cgroup', () => {
  for (const f of ['v1-proc-cgroup.txt', 'v2-proc-cgroup.txt', 'hybrid-proc-cgroup.txt'])
    assert.equal(lxcNameOfCgroup(sample(f)), 'web1', f);
  assert.equal(lxcNameOfCgroup('0::/system.slice/docker-abc.scope\n'), undefined);
  assert.equal(lxcNameOfCgroup('4:memory:/process_api/f47dd8\n0::/\n'), undefined);
});

test('a container first process from its cgroup: v2 first, then v1 pids/memory/cpuset/systemd', () => {
  const hy = lxcCgroupProcFiles('web1', parseCgroupMounts(sample('hybrid-mountinfo.txt')));
  assert.equal(hy[0], '/sys/fs/cgroup/unified/lxc.payload.web1/cgroup.procs');
  assert.equal(hy[3], '/sys/fs/cgroup/pids/lxc.payload.web1/cgroup.procs');
  const files: Record<string, string> = { '/sys/fs/cgroup/pids/lxc/web1/cgroup.procs': '812\n799\n' };
  assert.equal(
    lxcPidFromCgroups('web1', sample('v1-mountinfo.txt'), (f) => files[f]),
    799,
  );
  assert.equal(
    lxcPidFromCgroups('web1', sample('v2-mountinfo.txt'), (f) =>
      f === '/sys/fs/cgroup/lxc.payload.web1/cgroup.procs' ? '4242\n' : undefined,
    ),
    4242,
  );
  assert.equal(
    lxcPidFromCgroups('web2', sample('v2-mountinfo.txt'), () => undefined),
    undefined,
  );
});
