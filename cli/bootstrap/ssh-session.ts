// An SSH session to a host being bootstrapped (node-ssh): the host key is checked against
// known_hosts before authentication completes, so a mismatch aborts before anything runs.
// Remote commands are argv arrays; `shellQuote` is the one place they become a string, because
// the remote side of SSH always hands the command to a shell.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { NodeSSH } from 'node-ssh';
import { FleetnetError } from '../../common/errors.js';
import { CommandError, type RunOptions, type RunResult, type Runner } from '../../common/runner.js';
import { knownHostsName, verifyHostKey, type HostKeyVerdict } from './known-hosts.js';

export function shellQuote(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export interface SshTarget {
  user: string;
  addr: string;
  port: number;
  identityFile?: string;
  knownHostsFile: string;
  acceptNew: boolean;
}

export { parseSshTarget } from './ssh-target.js';

/** What a bootstrap does with a host: run commands, send files, know its key (an SshSession, or a fake). */
export type RemoteHost = Pick<SshSession, 'run' | 'start' | 'putFile' | 'dispose' | 'hostKey'>;

export class SshSession implements Runner {
  private constructor(
    private readonly ssh: NodeSSH,
    readonly hostKey: Extract<HostKeyVerdict, { ok: true }>,
  ) {}

  static async connect(t: SshTarget, timeoutMs = 20_000): Promise<SshSession> {
    const ssh = new NodeSSH();
    let verdict: HostKeyVerdict | undefined;
    const name = knownHostsName(t.addr, t.port);
    try {
      await ssh.connect({
        host: t.addr,
        port: t.port,
        username: t.user,
        readyTimeout: timeoutMs,
        ...(t.identityFile
          ? { privateKey: readFileSync(t.identityFile, 'utf8') }
          : { agent: process.env.SSH_AUTH_SOCK }),
        hostVerifier: (key: Buffer) => {
          verdict = verifyHostKey(t.knownHostsFile, name, key, t.acceptNew);
          return verdict.ok;
        },
      });
    } catch (err) {
      ssh.dispose();
      if (verdict && !verdict.ok && verdict.reason === 'mismatch') {
        throw new FleetnetError(
          'permission',
          `host key of ${name} does not match ${t.knownHostsFile} (it offered ${verdict.fingerprint}); nothing was run`,
          {
            cause: err,
            hint:
              'if the host was reinstalled, remove its line: ssh-keygen -R ' +
              name +
              ' -f ' +
              t.knownHostsFile +
              '; otherwise treat it as an attack',
          },
        );
      }
      if (verdict && !verdict.ok) {
        throw new FleetnetError(
          'permission',
          `host key of ${name} is not in ${t.knownHostsFile} (it offered ${verdict.fingerprint}); nothing was run`,
          { cause: err, hint: 'check the fingerprint, then pass --accept-new to pin it, or --known-hosts FILE' },
        );
      }
      throw new FleetnetError('unavailable', `cannot SSH to ${t.user}@${name}: ${(err as Error).message}`, {
        cause: err,
        hint: 'check the address, --port, --identity and that sshd runs there',
      });
    }
    if (!verdict?.ok) throw new FleetnetError('permission', 'host key was not verified');
    return new SshSession(ssh, verdict);
  }

  async run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const line = shellQuote([cmd, ...args]);
    const r = await this.ssh.execCommand(line, {
      ...(opts.input !== undefined ? { stdin: opts.input } : {}),
      noTrim: true,
    });
    const res = { stdout: r.stdout, stderr: r.stderr, code: r.code ?? 255 };
    if (res.code !== 0 && !opts.allowFail) throw new CommandError(cmd, args, res.code, res.stderr);
    return res;
  }

  start(): ChildProcess {
    throw new FleetnetError(
      'unsupported',
      'long-running processes are started on the host by its supervisor, not over SSH',
    );
  }

  putFile(local: string, remote: string): Promise<void> {
    return this.ssh.putFile(local, remote);
  }

  dispose(): void {
    this.ssh.dispose();
  }
}
