// Ctrl-C during host add --ssh: the bootstrap's signal aborts; the waits (SSH connect, enrollment) end at
// once, no next step begins, and what the run made is undone as a failure undoes it (the join token voided,
// what was issued since revoked, the agent uninstalled, a registration this run made taken back). The error
// says where it stopped and what was undone.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import pino from 'pino';
import { bootstrapHost, type FleetAuthority } from '../../cli/bootstrap/bootstrap.js';
import { REMOTE } from '../../cli/bootstrap/install.js';
import type { RemoteHost } from '../../cli/bootstrap/ssh-session.js';
import { FakeRunner } from '../../common/runner.js';

const silent = pino({ level: 'silent' });
const ISSUED_AT = 1234;

/** The controller's side, recording each call; `on` runs inside the named call (to interrupt there). */
function authorityOf(calls: string[], on: Partial<Record<'waitEnrolled' | 'register', () => Promise<void>>> = {}) {
  const authority: FleetAuthority = {
    hostToken: async () => (calls.push('hostToken'), { token: 'fnj_x', caPem: 'CA', issuedAtUnixMs: ISSUED_AT }),
    dropToken: async (t) => void calls.push(`dropToken ${t}`),
    waitEnrolled: async () => (calls.push('waitEnrolled'), on.waitEnrolled?.()),
    revokeSince: async (h, since) => void calls.push(`revokeSince ${h} ${since}`),
    register: async () => (calls.push('register'), await on.register?.(), { addedUnixMs: ISSUED_AT + 1 }),
    unregister: async () => void calls.push('unregister'),
  };
  return authority;
}

/** A host reached over a fake SSH session: no agent yet, Node.js 24 of its own, systemd. */
function fakeHost() {
  const runner = new FakeRunner((c) => {
    if (c.cmd === 'test' && c.args[1] === REMOTE.bundle) return { code: 1 };
    if (c.cmd === 'uname') return { stdout: `6.1.0 ${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}\n` };
    if (c.cmd === 'sh' && c.args[1]?.includes('command -v node'))
      return { stdout: `/usr/bin/node\n${process.version}\n` };
    return undefined;
  });
  const host: RemoteHost = {
    run: (cmd, args, o) => runner.run(cmd, args, o),
    start: () => runner.start('ssh', []),
    putFile: async (_local, remote) => void runner.calls.push({ cmd: 'put', args: [remote] }),
    dispose: () => undefined,
    hostKey: { ok: true, fingerprint: 'SHA256:x', pinnedNow: false },
  };
  return { runner, connect: async () => host };
}

const req = (port: number) => ({
  hostId: 'h9',
  ssh: { user: 'root', addr: '127.0.0.1', port, knownHostsFile: '/nonexistent/hi-kh', acceptNew: false },
  controller: '127.0.0.1:7440',
});
const uninstalled = (r: FakeRunner) => r.calls.some((c) => c.cmd === 'systemctl' && c.args[0] === 'disable');

describe('host add --ssh, interrupted (Ctrl-C)', () => {
  it('while SSH connects (the host does not answer): the token is voided at once, nothing else made', async (t) => {
    const held: Socket[] = [];
    const server = createServer((s) => void held.push(s)); // accepts, never speaks SSH
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => (held.forEach((s) => s.destroy()), server.close()));
    const ac = new AbortController();
    const calls: string[] = [];
    const events: string[] = [];
    const progress = (e: { step: string; state: string; detail?: string }) =>
      void events.push(`${e.step} ${e.state}${e.detail ? `: ${e.detail}` : ''}`);
    setTimeout(() => ac.abort(), 200);
    const t0 = Date.now();
    const port = (server.address() as { port: number }).port;
    await assert.rejects(
      bootstrapHost(req(port), { authority: authorityOf(calls), log: silent, progress, signal: ac.signal }),
      /^FleetnetError: h9: interrupted at connect; undone: join token voided, certificates issued since revoked$/,
    );
    assert.ok(Date.now() - t0 < 5000, 'not after the SSH timeout (20 s)');
    assert.deepEqual(calls, ['hostToken', 'dropToken fnj_x', `revokeSince h9 ${ISSUED_AT}`]);
    const said = 'h9: interrupted at connect; undone: join token voided, certificates issued since revoked';
    assert.deepEqual(events, ['connect start', `connect failed: ${said}`], 'the progress line (stderr) says it');
  });

  it('while it waits for the enrollment: the wait ends, the agent is uninstalled, the token voided', async () => {
    const ac = new AbortController();
    const calls: string[] = [];
    const { runner, connect } = fakeHost();
    const waitEnrolled = () => (setTimeout(() => ac.abort(), 50), new Promise<void>(() => {})); // never enrolls
    await assert.rejects(
      bootstrapHost(req(22), {
        authority: authorityOf(calls, { waitEnrolled }),
        log: silent,
        signal: ac.signal,
        connect,
      }),
      /h9: interrupted at register; undone: agent uninstalled, join token voided, certificates issued since revoked$/,
    );
    assert.deepEqual(calls, ['hostToken', 'waitEnrolled', 'dropToken fnj_x', `revokeSince h9 ${ISSUED_AT}`]);
    assert.ok(uninstalled(runner), 'what was installed is removed');
  });

  it('while it registers: the registration this run made is taken back too; no step after', async () => {
    const ac = new AbortController();
    const calls: string[] = [];
    const { runner, connect } = fakeHost();
    const registered = async () => void calls.push('registered');
    const authority = { ...authorityOf(calls, { register: async () => ac.abort() }), registered };
    await assert.rejects(
      bootstrapHost(req(22), { authority, log: silent, signal: ac.signal, connect }),
      /undone: registration taken back, agent uninstalled, join token voided, certificates issued since revoked$/,
    );
    assert.deepEqual(calls, [
      'hostToken',
      'waitEnrolled',
      'register',
      'unregister',
      'dropToken fnj_x',
      `revokeSince h9 ${ISSUED_AT}`,
    ]);
    assert.ok(uninstalled(runner));
  });

  it('before it begins (a later host of an inventory): nothing is asked of anyone', async () => {
    const calls: string[] = [];
    await assert.rejects(
      bootstrapHost(req(22), { authority: authorityOf(calls), log: silent, signal: AbortSignal.abort() }),
      /^FleetnetError: h9: interrupted; nothing was made yet$/,
    );
    assert.deepEqual(calls, []);
  });
});
