// The kernel's refusals of a new macvlan ("Invalid argument", "Device or resource busy"), through a FakeRunner
// that answers as the kernel does: said in fleetnet's words with a hint, the kernel's text kept, nothing left.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FleetnetError } from '../../common/errors.js';
import { fakeAttacher, type FakeAttacherOptions } from './parity-fixtures.js';

const EINVAL = { match: /type macvlan/, stderr: 'RTNETLINK answers: Invalid argument\nCommand failed -:1\n' };
const EBUSY = { match: /type macvlan/, stderr: 'RTNETLINK answers: Device or resource busy\nCommand failed -:1\n' };

const refused = (kind: string, re: RegExp) => (e: unknown) =>
  e instanceof FleetnetError &&
  e.kind === kind &&
  re.test(`${e.message}\n${e.hint ?? ''}`) &&
  /RTNETLINK answers/.test(String((e.cause as Error)?.message));

test('passthru on a parent that has a macvlan already: named, with the hint (exit 1)', async () => {
  const f = fakeAttacher({ fail: EINVAL });
  await assert.rejects(
    f.attach({ hostIf: 'eth0', macvlanMode: 'passthru' }),
    refused(
      'conflict',
      /eth0 already has a macvlan: a passthru macvlan must be the only one on its parent \(the kernel answered: Inv/,
    ),
  );
  await assert.rejects(
    f.attach({ hostIf: 'eth0', macvlanMode: 'passthru' }),
    refused('conflict', /answered: Invalid argument\)\n.*--macvlan-mode bridge/),
  );
  assert.deepEqual(f.attacher.list(), []);
});

test('a macvlan on a parent that carries a passthru one: the holder and its detach named', async () => {
  const opts: FakeAttacherOptions = {};
  const f = fakeAttacher(opts);
  await f.attach({ hostIf: 'eth0', macvlanMode: 'passthru' });
  opts.fail = EINVAL;
  await assert.rejects(
    f.attach({ hostIf: 'eth0', ifname: 'eth2' }),
    refused(
      'conflict',
      /eth0 carries a passthru macvlan \(pid 4242 \(eth1\)\), which takes no other[^]*detach 4242 -i eth1/,
    ),
  );
  await assert.rejects(
    f.attach({ hostIf: 'eth0', ifname: 'eth3', macvlanMode: 'passthru' }),
    refused('conflict', /eth0 already has a macvlan \(pid 4242 \(eth1\)\)[^]*fleetnet detach 4242 -i eth1/),
  );
});

test("an MTU above the parent's (exit 2), a parent that is a bridge port; other errors stand as they are", async () => {
  const f = fakeAttacher({ fail: EINVAL });
  await assert.rejects(
    f.attach({ hostIf: 'eth0', mtu: 9000 }),
    refused('invalid', /MTU 9000 is above eth0's \(1500\)[^]*--mtu 1500 or less/),
  );
  const g = fakeAttacher({ fail: EBUSY });
  await assert.rejects(
    g.attach({ hostIf: 'up0' }),
    refused('conflict', /up0 is a port of br9: a macvlan cannot hang off it[^]*fleetnet attach br9/),
  );
  const h = fakeAttacher({ fail: { match: /type macvlan/, stderr: 'RTNETLINK answers: No buffer space available' } });
  await assert.rejects(h.attach({ hostIf: 'eth0' }), (e: Error) =>
    /^ip -json -batch -: .*No buffer space/.test(e.message),
  );
});
