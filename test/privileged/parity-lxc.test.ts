// Real LXC containers (lxc-create -t busybox, lxc.net.0.type = empty): found by name through
// lxc-info and through their cgroups, and attached by name next to a Docker container.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { lxcNameOfCgroup, lxcPidFromCgroups } from '../../agent/containers/lxc.js';
import { container, inContainer, lxcContainer, scope, testHost, uniq } from './parity-env.js';

test('LXC cgroups on this (hybrid) host: the container is found by name, and a process by its cgroup', async (tc) => {
  const t = scope(tc);
  const name = `${uniq()}-lxc`;
  const { pid } = await lxcContainer(t, name);
  const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : undefined);
  assert.equal(lxcPidFromCgroups(name, readFileSync('/proc/self/mountinfo', 'utf8'), read), pid);
  assert.equal(lxcNameOfCgroup(readFileSync(`/proc/${pid}/cgroup`, 'utf8')), name);
});

test('LXC by name: lxc:NAME attaches and pings a Docker container on the same bridge', async (tc) => {
  const { t, p, ns, agent } = await testHost(tc);
  const name = `${p}-lxc`;
  // The monitor answers lxc-info on an abstract socket of its network namespace: start it where the agent runs.
  const { lxc } = await lxcContainer(t, name, ns);
  const d = await container(t, `${p}-d`, p);
  let r = await agent.cli(['attach', 'br0', `lxc:${name}`, '10.11.0.1/24']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`attached: ${name} eth1`));
  r = await agent.cli(['attach', 'br0', d.name, '10.11.0.2/24']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await inContainer(d.name, ['ping', '-c', '1', '-W', '2', '10.11.0.1'])).code, 0);
  assert.equal((await lxc('lxc-attach', ['-n', name, '--', 'ping', '-c', '1', '-W', '2', '10.11.0.2'])).code, 0);
  assert.match((await agent.cli(['inspect', '--all'])).stdout, /"runtime": "lxc"/);
  assert.equal((await agent.cli(['detach', `lxc:${name}`])).code, 0);
  assert.equal((await agent.cli(['detach', d.name])).code, 0);
});
