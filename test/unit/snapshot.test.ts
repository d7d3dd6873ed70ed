// The snapshot comparison judges only what a test could have made (issue 15: a brand-new machine's
// first `mount` creates /run/mount, which must not fail the test that happened to run first).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { equalSnapshots, type Snapshot } from '../helpers/snapshot.js';

const empty = (): Snapshot => ({ netns: [], links: [], processes: [], containers: [], mounts: [], files: [] });

test("the machine's own changes are reported as foreign and not judged", () => {
  const before = empty();
  const after = { ...empty(), files: ['/run/mount', '/run/mount/utab'], mounts: ['/run/docker/x nsfs nsfs'] };
  const d = equalSnapshots(before, after, ['fnt-abc']);
  assert.equal(d.equal, true);
  assert.deepEqual(d.foreign, ['mounts: /run/docker/x nsfs nsfs', 'files: /run/mount', 'files: /run/mount/utab']);
});

test('a leak that names the test fails, with a readable diff', () => {
  const before = { ...empty(), netns: ['other'] };
  const after = { ...empty(), netns: ['other', 'fnt-abc-h1'], links: ['12 fnt-abc-u1 ether 02:00:00:00:00:01'] };
  const d = equalSnapshots(before, after, ['fnt-abc']);
  assert.equal(d.equal, false);
  assert.equal(d.text, 'netns:\n  + fnt-abc-h1\nlinks:\n  + 12 fnt-abc-u1 ether 02:00:00:00:00:01');
});

test("scoped kinds (the lab's processes, labelled containers) are judged whatever they are named", () => {
  const d = equalSnapshots(empty(), { ...empty(), processes: ['77 dnsmasq: dnsmasq --keep-in-foreground'] }, [
    'fnt-abc',
  ]);
  assert.equal(d.equal, false);
  assert.match(d.text, /processes:\n {2}\+ 77 dnsmasq/);
});

test('a removal is judged like an addition, and no marks judges everything', () => {
  assert.equal(equalSnapshots({ ...empty(), files: ['/var/lib/fleetnet/fnt-abc'] }, empty(), ['fnt-abc']).equal, false);
  assert.equal(equalSnapshots(empty(), { ...empty(), files: ['/run/mount'] }, []).equal, false);
});
