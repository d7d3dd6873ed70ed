// The whole local path: the `fleetnet` CLI → the agent's unix socket → namespaces, with exit codes.
import { LsEntry, LsOutput } from '../../common/ls-schema.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectAgent } from '../../cli/client/agent.js';
import { attachRequest } from '../helpers/attach-request.js';
import { cli, startAgentIn, type AgentProc } from '../helpers/agent-process.js';
import { addNs, delNs, sh, uniquePrefix } from '../helpers/netns.js';

const P = uniquePrefix('cl');
const NS = ['h', 'a', 'b'].map((n) => `${P}-${n}`);
let agent: AgentProc;
let dir: string;

before(async () => {
  for (const n of NS) await addNs(n);
  dir = mkdtempSync(join(tmpdir(), 'fleetnet-agent-'));
  agent = await startAgentIn(NS[0]!, dir);
});

after(async () => {
  await agent?.stop();
  for (const n of NS) await delNs(n);
  rmSync(dir, { recursive: true, force: true });
});

describe('fleetnet CLI against a local agent', () => {
  it('serves on a root-only socket', () => {
    assert.equal(statSync(agent.socket).mode & 0o777, 0o600);
  });

  it('is named fleetnet-agent in ps, top and pgrep (Node 24 would say MainThread), with its arguments', () => {
    const pid = agent.proc.pid!;
    assert.equal(readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), 'fleetnet-agent');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+/g, ' ').trim();
    assert.ok(cmdline.startsWith(`fleetnet-agent agent run --socket ${agent.socket} `), cmdline);
  });

  it('attach, ls, detach, with human and JSON output', async () => {
    const a = await cli(agent.socket, 'attach', 'br-c', `netns:${P}-a`, '10.52.0.1/24');
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /^attached: .* eth1 .* 10\.52\.0\.1\/24 on br-c/);
    const b = await cli(
      agent.socket,
      'attach',
      '--json',
      '-i',
      'eth7',
      'br-c',
      `netns:${P}-b`,
      '10.52.0.2/24',
      'U:myhost.foo.com',
    );
    assert.equal(b.code, 0, b.stderr);
    const bj = JSON.parse(b.stdout);
    assert.equal(bj.mac, '02:72:6c:cd:9b:8d');
    assert.equal(bj.ifname, 'eth7');
    assert.equal(
      (await sh.run('ip', ['netns', 'exec', `${P}-a`, 'ping', '-c', '1', '-W', '2', '10.52.0.2'], { allowFail: true }))
        .code,
      0,
    );
    const ls = LsOutput.parse(JSON.parse((await cli(agent.socket, 'ls', '--json')).stdout)); // the one ls schema
    assert.equal(ls.length, 2);
    assert.deepEqual(
      ls.map((i) => i.state),
      ['up', 'up'],
    );
    const lb = ls.find((i) => i.ifname === 'eth7')!;
    assert.deepEqual([lb.container, lb.hostIf, lb.addresses, lb.mtu], [`${P}-b`, 'br-c', ['10.52.0.2/24'], 1500]);
    // attach --json: the attachment as its ls --json row, and whether it changed anything.
    const { changed, ...row } = bj as Record<string, unknown>;
    assert.equal(changed, true);
    assert.deepEqual(LsEntry.parse(row), lb);
    const table = (await cli(agent.socket, 'ls')).stdout;
    assert.match(table, /^CONTAINER\s+HOST\s+NET\s+IF/);
    assert.equal(
      (await cli(agent.socket, 'detach', `netns:${P}-b`, '-i', 'eth7')).stdout,
      `detached eth7 from netns:${P}-b\n`,
    );
    assert.match((await cli(agent.socket, 'detach', `netns:${P}-b`, '-i', 'eth7')).stdout, /nothing to detach/);
  });

  it('survives an agent restart: records kept, a repeated attach changes nothing', async () => {
    await agent.stop();
    agent = await startAgentIn(NS[0]!, dir);
    const again = await cli(agent.socket, 'attach', 'br-c', `netns:${P}-a`, '10.52.0.1/24');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^already attached/);
  });

  it('20 identical gRPC attaches at once: one interface, identical replies', async () => {
    const conn = connectAgent(agent.socket);
    const req = attachRequest({
      hostIf: 'br-c',
      target: { kind: 'netns', value: `${P}-b` },
      ifname: 'eth3',
      addresses: [{ static: { cidr: '10.52.0.3/24', gateway: '' } }],
    });
    try {
      const res = await Promise.all(Array.from({ length: 20 }, () => conn.call(conn.client.attach, req)));
      assert.equal(res.filter((r) => r.changed).length, 1);
      assert.ok(res.every((r) => JSON.stringify(r.interface) === JSON.stringify(res[0]!.interface)));
      const links = JSON.parse((await sh.run('ip', ['-n', `${P}-b`, '-json', 'link', 'show'])).stdout) as {
        ifname: string;
      }[];
      assert.equal(links.filter((l) => l.ifname === 'eth3').length, 1);
    } finally {
      conn.close();
    }
  });

  it(
    'exit codes: 2 for bad input (nothing sent), 2 for a missing container, 1 for a conflict, ' +
      '1 with a hint when no agent answers',
    async () => {
      const nowhere = join(dir, 'no-such.sock');
      for (const args of [
        ['attach', 'br-c', 'web1', '10.1.1.5'],
        ['attach', 'br-c', 'web1', '10.1.1.5/24', 'U:a b'],
        ['attach', 'br-c', 'web1', '10.1.1.5/24', '@5000'],
        ['attach', 'br/c', 'web1', '10.1.1.5/24'],
        ['attach', 'br-c', 'web1', '10.1.1.5/24', '01:00:5e:00:00:01'],
        ['attach', '-i', 'a'.repeat(16), 'br-c', 'web1', '10.1.1.5/24'],
        ['attach', 'br-c', 'web1'],
        ['attach', '--bogus', 'br-c', 'web1', '10.1.1.5/24'],
        ['detach', 'pid:x'],
      ]) {
        const r = await cli(nowhere, ...args);
        assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.stderr}`);
        assert.match(r.stderr, /^fleetnet: /);
      }
      const missing = await cli(agent.socket, 'attach', 'br-c', `netns:${P}-nosuch`, '10.52.0.9/24');
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /does not exist/);
      const clash = await cli(agent.socket, 'attach', 'br-c', `netns:${P}-a`, '10.52.0.7/24');
      assert.equal(clash.code, 1);
      assert.match(clash.stderr, /other settings[\s\S]*hint: detach it first/);
      const down = await cli(nowhere, 'attach', 'br-c', `netns:${P}-a`, '10.52.0.1/24');
      assert.equal(down.code, 1);
      assert.match(down.stderr, /no agent answers[\s\S]*fleetnet agent run/);
    },
  );

  it('--dry-run prints the commands and changes nothing', async () => {
    const r = await cli(agent.socket, 'attach', '--dry-run', 'br-dry', `netns:${P}-b`, '10.52.1.2/24@10.52.1.1');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ip link add br-dry address [0-9a-f]{2}(:[0-9a-f]{2}){5} type bridge$/m);
    assert.match(r.stdout, /ip route replace default via 10\.52\.1\.1 dev eth1$/m);
    assert.notEqual((await sh.run('ip', ['-n', `${P}-h`, 'link', 'show', 'br-dry'], { allowFail: true })).code, 0);
  });

  it('Capabilities names what this kernel lacks and the config option', async () => {
    const conn = connectAgent(agent.socket);
    try {
      const caps = (await conn.call(conn.client.capabilities, {})).capabilities;
      const by = new Map(caps.map((c) => [c.name, c]));
      assert.equal(by.get('bridge')?.available, true);
      assert.equal(by.get('veth')?.available, true);
      // setup.sh installs iputils-arping: a joining host's underlay announcement (mesh) has it.
      assert.equal(by.get('arping')?.available, true, by.get('arping')?.detail);
      assert.match(by.get('arping')!.detail, /\/arping$/);
      const dummy = by.get('dummy')!;
      if (!dummy.available) assert.match(dummy.detail, /no dummy support \(CONFIG_DUMMY\)/);
      // Run from the package (node_modules present), the agent attaches over in-process netlink.
      assert.deepEqual(
        [by.get('netlink')?.available, by.get('netlink')?.detail],
        [true, 'in-process route netlink for attaches (setns through koffi), on a thread of its own'],
      );
    } finally {
      conn.close();
    }
  });
});
