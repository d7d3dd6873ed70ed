// Replays the reviewed fixtures' host commands (test/unit/parity-fixtures.ts) in throwaway
// namespaces: what needs a missing kernel feature must fail with the kernel's own error
// ("Unknown device type", "Operation not supported"), never with an iproute2 usage error — so
// the argv is right and only the kernel is missing. Everything else must succeed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EXPECTED, NETNS } from '../unit/parity-fixtures.js';
import { netns, scope, sh, uniq } from './parity-env.js';

// (`bridge vlan del … vid 1` succeeds even without VLAN filtering: nothing to delete.)
const NEEDS_MISSING = /type (vlan|dummy|ipoib)\b|vlan_filtering 1|^vlan add /;
const KERNEL_ERROR = /Unknown device type|Operation not supported/;
const USAGE_ERROR =
  /Usage:|Garbage|is wrong|not complete|Try "|Error: argument|invalid argument|Unknown command|does not match/i;

/** The interfaces the fixtures take as found: eth0 (NIC), ib0 (stands in for the IB parent), br9 with port up0. */
async function hostLike(ns: string): Promise<void> {
  const ip = (...a: string[]) => sh('ip', ['-n', ns, ...a]);
  await ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p');
  await ip('link', 'add', 'ib0', 'type', 'veth', 'peer', 'name', 'ib0p');
  await ip('link', 'add', 'br9', 'type', 'bridge');
  await ip('link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up0p');
  await ip('link', 'set', 'up0', 'master', 'br9');
}

for (const [name, { argv }] of Object.entries(EXPECTED)) {
  const hostLines = argv.flatMap((a) => {
    const m = /^(ip|bridge) -?\S* ?-batch - <<< (.*)$/.exec(a.replace('ip -json -batch', 'ip -batch'));
    return m ? m[2]!.split(' | ').map((l) => ({ tool: m[1]!, tokens: l.split(' ') })) : [];
  });
  if (!hostLines.some((l) => NEEDS_MISSING.test(l.tokens.join(' ')))) continue;
  test(`kernel, not usage: ${name}`, async (tc) => {
    const t = scope(tc);
    const p = uniq();
    const host = await netns(t, `${p}-h`);
    const cont = await netns(t, `${p}-c`);
    await hostLike(host);
    const missing = new Set<string>();
    let sawKernelError = false;
    for (const { tool, tokens } of hostLines) {
      const args = tokens.map((x) => (x === NETNS ? `/run/netns/${cont}` : x));
      const text = args.join(' ');
      const refersToMissing = args.some((x) => missing.has(x));
      const r = await sh(tool, ['-n', host, ...args], true);
      const made = args[0] === 'link' && args[1] === 'add' ? (args[2] === 'link' ? args[5] : args[2]) : undefined;
      if (NEEDS_MISSING.test(text)) {
        assert.notEqual(r.code, 0, `${tool} ${text} should fail here: this kernel lacks it`);
        assert.match(r.stderr, KERNEL_ERROR, `${tool} ${text}`);
        assert.doesNotMatch(r.stderr, USAGE_ERROR, `${tool} ${text}`);
        sawKernelError = true;
        if (made) missing.add(made);
      } else if (refersToMissing) {
        assert.doesNotMatch(r.stderr, USAGE_ERROR, `${tool} ${text}`);
        if (made) missing.add(made);
      } else {
        assert.equal(r.code, 0, `${tool} ${text}: ${r.stderr}`);
      }
    }
    assert.ok(sawKernelError);
  });
}
