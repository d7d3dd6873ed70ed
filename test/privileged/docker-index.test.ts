// The Docker index follows container events; the resolver answers from it without asking Docker,
// and re-checks every hit against the live process.
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import Docker from 'dockerode';
import { silentLogger } from '../../common/logger.js';
import { FakeRunner } from '../../common/runner.js';
import { DockerIndex } from '../../agent/containers/docker-index.js';
import { ContainerResolver } from '../../agent/containers/resolve.js';
import { removeContainers, startContainer } from '../helpers/docker.js';
import { sh, uniquePrefix } from '../helpers/netns.js';

const P = uniquePrefix('di');
after(() => removeContainers(P));

async function until(what: string, fn: () => boolean): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting until ${what}`);
}

it('indexes started containers, forgets stopped ones, and resolves names without an inspect', async () => {
  const docker = new Docker({ socketPath: '/var/run/docker.sock' });
  let inspects = 0;
  const counting = new Proxy(docker, {
    get(target, prop, recv) {
      if (prop === 'getContainer') {
        return (id: string) => {
          const c = target.getContainer(id);
          return new Proxy(c, {
            get: (t, p) =>
              p === 'inspect'
                ? (...a: []) => {
                    inspects++;
                    return t.inspect(...a);
                  }
                : Reflect.get(t, p),
          });
        };
      }
      return Reflect.get(target, prop, recv);
    },
  });
  const index = new DockerIndex(docker, silentLogger());
  await index.start();
  try {
    const c = await startContainer(`${P}-a`, P);
    await until('the index knows the new container', () => index.lookup(c.name)?.pid === c.pid);
    assert.equal(index.lookup(c.id.slice(0, 12))?.name, c.name);
    const resolver = new ContainerResolver({
      runner: new FakeRunner(),
      docker: () => counting as Docker,
      dockerIndex: () => index,
      netnsDir: '/run/netns',
    });
    const info = await resolver.resolve({ kind: 'docker', value: c.name });
    assert.deepEqual([info.id, info.pid, info.netns], [c.id, c.pid, `/proc/${c.pid}/ns/net`]);
    assert.equal(inspects, 0, 'answered from the index');
    await sh.run('docker', ['stop', '-t', '0', c.id]);
    await until('the index forgets the stopped container', () => index.lookup(c.name) === undefined);
    await assert.rejects(resolver.resolve({ kind: 'docker', value: c.name }), /is not running/);
    assert.equal(inspects, 1, 'a miss asks Docker');
  } finally {
    index.stop();
  }
});
