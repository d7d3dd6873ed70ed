// common/ip.ts checks address syntax by hand (node:net's IPv6 regular expression costs a new CLI
// process ~5 ms to compile); it must accept exactly what node:net accepts, %zone aside.
import assert from 'node:assert/strict';
import { isIPv4, isIPv6 } from 'node:net';
import { it } from 'node:test';
import { isIPv4Text, isIPv6Text } from '../../common/ip.js';

/** A small deterministic generator, so that a failure names a string that comes back on rerun. */
function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => (x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;
}

const HAND = [
  '',
  '::',
  ':::',
  '::1',
  '1::',
  '1:2:3:4:5:6:7:8',
  '1:2:3:4:5:6:7::',
  '::2:3:4:5:6:7:8',
  '1:2:3:4:5:6:7:8:9',
  '1::2::3',
  '::ffff:1.2.3.4',
  '1:2:3:4:5:6:1.2.3.4',
  '1:2:3:4:5:6::1.2.3.4',
  '1:2:3:4:5::1.2.3.4',
  '::1.2.3.4',
  '1.2.3.4::',
  '1.2.3.4',
  'fe80::1',
  'FE80::ABCD',
  'fe80::1%eth0',
  'fe80::g',
  '12345::',
  ':1:2:3:4:5:6:7',
  '1:2:3:4:5:6:7:',
  'fd00:1::5',
  '::01.2.3.4',
  '\x10::1',
  '1:\x19::',
  '\u0660.1.1.1',
  'ff\u0130::',
  '0.0.0.0',
  '255.255.255.255',
  '256.1.1.1',
  '01.1.1.1',
  '1.1.1',
  '1.1.1.1.1',
  '1..1.1',
  ' 1.1.1.1',
  '1.1.1.1 ',
  '+1.1.1.1',
  '1e1.1.1.1',
];

it('hand-picked strings: the same answers as node:net', () => {
  for (const s of HAND) {
    assert.equal(isIPv4Text(s), isIPv4(s), `isIPv4(${JSON.stringify(s)})`);
    assert.equal(isIPv6Text(s), isIPv6(s) && !s.includes('%'), `isIPv6(${JSON.stringify(s)})`);
  }
});

it('random and address-like strings: the same answers as node:net', () => {
  const r = rng(20261123);
  const pick = <T>(a: readonly T[] | string) => a[Math.floor(r() * a.length)]! as T;
  const hex = () =>
    r() < 0.1
      ? pick(['g', '12345', '0x1', ''])
      : Array.from({ length: 1 + Math.floor(r() * 4) }, () => pick('0123456789abcdefABCDEF')).join('');
  const dec = () =>
    String(pick([0, 1, 9, 10, 99, 100, 199, 200, 249, 250, 255, 256, 300, 999])).padStart(pick([1, 1, 1, 2, 3]), '0');
  const v4 = () => Array.from({ length: pick([3, 4, 4, 4, 5]) }, dec).join('.');
  let accepted6 = 0;
  let accepted4 = 0;
  for (let i = 0; i < 60_000; i++) {
    let s: string;
    const kind = i % 3;
    if (kind === 0)
      s = Array.from({ length: Math.floor(r() * 46) }, () => pick('0123456789abcdefABCDEF:.:%g')).join('');
    else if (kind === 1) s = v4();
    else {
      const groups = Array.from({ length: Math.floor(r() * 10) }, hex);
      if (r() < 0.3) groups.push(v4());
      s = groups.join(':');
      if (r() < 0.6) {
        const at = Math.floor(r() * (s.length + 1));
        s = `${s.slice(0, at)}${pick(['::', ':', ':::'])}${s.slice(at)}`;
      }
    }
    const want6 = isIPv6(s) && !s.includes('%');
    assert.equal(isIPv4Text(s), isIPv4(s), `isIPv4(${JSON.stringify(s)})`);
    assert.equal(isIPv6Text(s), want6, `isIPv6(${JSON.stringify(s)})`);
    if (want6) accepted6++;
    if (isIPv4(s)) accepted4++;
  }
  // The generator must reach both answers often, or the comparison proves little.
  assert.ok(accepted6 > 2000, `only ${accepted6} valid IPv6 strings generated`);
  assert.ok(accepted4 > 2000, `only ${accepted4} valid IPv4 strings generated`);
});
