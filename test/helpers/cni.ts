// Drives CNI plugins as a runtime does: the spec's environment variables and the network
// configuration on stdin, stdout parsed as the result or the error JSON.
import { join } from 'node:path';
import { ExecRunner, type Runner } from '../../common/runner.js';
import { FLEETNET } from './agent-process.js';

export interface CniEnv {
  command: 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS' | 'VERSION';
  containerId?: string;
  netns?: string;
  ifname?: string;
  /** Extra or overriding variables; a value of undefined removes one. */
  extra?: Record<string, string | undefined>;
}

export interface CniOutcome {
  code: number;
  /** stdout parsed; undefined when empty. */
  out?: Record<string, unknown>;
  stdout: string;
  stderr: string;
}

export class CniDriver {
  constructor(
    /** Where `fleetnet cni install` put the plugins (CNI_PATH). */
    readonly binDir: string,
    readonly socket: string,
    private readonly runner: Runner = new ExecRunner(),
    /** Run plugins inside this network namespace (a host's), like a runtime living there. */
    private readonly hostNs?: string,
  ) {}

  /** `fleetnet cni install` into `dir`; `args` are more of its options (--node-plugin). */
  static async install(
    dir: string,
    socket: string,
    hostNs?: string,
    runner: Runner = new ExecRunner(),
    args: string[] = [],
  ): Promise<CniDriver> {
    const binDir = join(dir, 'bin');
    await runner.run('node', [
      FLEETNET,
      'cni',
      'install',
      '--cni-bin-dir',
      binDir,
      '--cni-config-dir',
      join(dir, 'conf'),
      ...args,
    ]);
    return new CniDriver(binDir, socket, runner, hostNs);
  }

  env(e: CniEnv): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      CNI_COMMAND: e.command,
      CNI_PATH: this.binDir,
      FLEETNET_AGENT_SOCKET: this.socket,
      ...(e.containerId ? { CNI_CONTAINERID: e.containerId } : {}),
      ...(e.netns ? { CNI_NETNS: e.netns } : {}),
      ...(e.ifname ? { CNI_IFNAME: e.ifname } : {}),
    };
    for (const [k, v] of Object.entries(e.extra ?? {})) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    return env;
  }

  /** Runs one plugin (`fleetnet`, `fleetnet-ipam`, or a path such as /usr/lib/cni/bridge). */
  async call(plugin: string, e: CniEnv, conf: unknown): Promise<CniOutcome> {
    const exe = plugin.startsWith('/') ? plugin : join(this.binDir, plugin);
    const [cmd, args] = this.hostNs ? ['ip', ['netns', 'exec', this.hostNs, exe]] : [exe, []];
    const r = await this.runner.run(cmd, args as string[], {
      input: typeof conf === 'string' ? conf : JSON.stringify(conf),
      env: this.env(e),
      allowFail: true,
      timeoutMs: 120_000,
    });
    let out: Record<string, unknown> | undefined;
    if (r.stdout.trim()) out = JSON.parse(r.stdout) as Record<string, unknown>;
    return { code: r.code, ...(out ? { out } : {}), stdout: r.stdout, stderr: r.stderr };
  }
}
