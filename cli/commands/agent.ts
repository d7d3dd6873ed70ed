// fleetnet agent run: the per-host root agent; agent supervise: the same without systemd.
import type { Command } from 'commander';
import { wholeNumber as int } from '../../common/flag-values.js';
import { nameProcess } from '../../common/process-title.js';

const CONFIG_HELP = `
Settings file: /etc/fleetnet/agent.yaml (or --config FILE), keys named like the flags, e.g.
  listen: 10.0.0.12:7441
  ovs-datapath: netdev
  mesh-resync-ms: 10000          # also: docker-socket, netns-dir
Flags given on the command line override the file. A mistake in the file (unknown key, wrong
type, bad YAML) stops the agent before it starts, naming the file, the line and the key (exit 2).`;
import { DEFAULT_AGENT_SOCKET } from '../../common/defaults.js';

export function register(program: Command): void {
  const agent = program.command('agent').summary('run the per-host agent');
  agent
    .command('run')
    .summary('serve attach/detach/list for this host')
    .description(
      'Run the agent. With no flags it serves the local CLI on ' +
        DEFAULT_AGENT_SOCKET +
        ' (root only), so that `fleetnet attach` works on this host with no configuration.',
    )
    .option('--config <file>', 'settings file (default /etc/fleetnet/agent.yaml when it exists)')
    .option('--socket <path>', `unix socket for the local CLI (default ${DEFAULT_AGENT_SOCKET})`)
    .option('--listen <addr:port>', 'also listen on TCP for the controller (an address this host holds)')
    .option('--state-dir <dir>', 'where the agent keeps what it made', '/var/lib/fleetnet/agent')
    .option('--ovs-db <socket>', 'Open vSwitch database socket (default: what ovs-vsctl finds)')
    .option(
      '--ovs-datapath <type>',
      'datapath of OVS bridges the agent creates: system or netdev (user space)',
      'system',
    )
    .option('--host-name <name>', 'name this host reports (default: the hostname)')
    .option('--log-level <level>', 'trace, debug, info, warn, error', 'info')
    // the CLI's global --controller takes the value where one exists, hence optsWithGlobals below
    .option(
      '--controller <addr:port,...>',
      'enroll with this controller (mTLS) before serving TCP; several comma-separated: the first that answers',
    )
    .option('--join-token-file <file>', 'single-use join token for enrollment', '/etc/fleetnet/agent/join-token')
    .option('--ca-file <file>', 'the fleet CA to pin for enrollment', '/etc/fleetnet/agent/ca.crt')
    .option(
      '--ip-path <path>',
      'auto, netlink (in-process, no exec per attach) or exec (ip -batch, two execs per attach)',
      'auto',
    )
    .option(
      '--cni-controller <addr:port,...|none>',
      'CNI addresses from this controller (default: the one it enrolls with); none: local pools',
    )
    .option('--insecure-tcp', 'serve TCP without TLS or authorization (labs not yet on mTLS only)')
    .option(
      '--mesh-resync-ms <ms>',
      "period of the mesh's reconcile pass (0: only when the controller pushes; see README, the tunnel mesh)",
    )
    .option(
      '--mesh-bfd-decay-ms <ms>',
      "an idle OVS tunnel's BFD interval (bfd:decay_min_rx; 0: always OVS's 1 s; default 5000)",
    )
    .option('--docker-socket <path>', 'the Docker daemon whose containers this agent follows', '/var/run/docker.sock')
    .option(
      '--lifecycle-pass-ms <ms>',
      'period of the full pass that repairs missed container events and removes orphans',
      '10000',
    )
    .option('--metrics <addr:port>', 'serve Prometheus metrics on http://ADDR:PORT/metrics (default: off)')
    .addHelpText('after', CONFIG_HELP)
    .action(async (opts: Record<string, string | boolean | undefined>, cmd: Command) => {
      const [
        { agentConfig, AgentConfigSchema, DEFAULT_AGENT_CONFIG },
        { readConfigFile, fileSchemaOf, mergeFlags },
        { startAgent },
        { makeLogger, runUntilSignal },
        { notifyReady },
      ] = await Promise.all([
        import('../../agent/config.js'),
        import('../../common/config-file.js'),
        import('../../agent/main.js'),
        import('../../common/logger.js'),
        import('../../common/readiness.js'),
      ]);
      const file = readConfigFile({
        // --config after `agent run` is read by the program's own --config (same meaning here)
        explicit: (opts.config ?? cmd.optsWithGlobals().config) as string | undefined,
        defaultPath: DEFAULT_AGENT_CONFIG,
        schema: fileSchemaOf(AgentConfigSchema.shape),
        helpCmd: 'fleetnet agent run --help',
      });
      const g = cmd.optsWithGlobals();
      const { config: _file, ...given } = opts;
      const flags = {
        ...given,
        socket: g.socket,
        controller: opts.controller ?? g.controller,
        insecureTcp: opts.insecureTcp === undefined ? undefined : Boolean(opts.insecureTcp),
        meshResyncMs: int(opts.meshResyncMs as string | undefined, '--mesh-resync-ms'),
        meshBfdDecayMs: int(opts.meshBfdDecayMs as string | undefined, '--mesh-bfd-decay-ms'),
        lifecyclePassMs: int(opts.lifecyclePassMs as string | undefined, '--lifecycle-pass-ms'),
      };
      const cfg = agentConfig(mergeFlags(file.values, flags, (k) => cmd.getOptionValueSourceWithGlobals(k)));
      nameProcess('fleetnet-agent');
      const log = makeLogger(cfg.logLevel, 'agent');
      if (file.path) log.info({ config: file.path }, 'settings file read');
      const handle = await startAgent(cfg, log);
      await notifyReady(log, `serving on ${cfg.socket}${cfg.listen ? ` and ${cfg.listen}` : ''}`);
      await runUntilSignal(log, handle);
    });
  agent
    .command('supervise')
    .summary('run `agent run` and restart it when it dies (hosts without systemd)')
    .description(
      'Keep an agent running where there is no systemd: restart it with backoff when it exits, and write its log ' +
        'to a size-rotated file (FILE, FILE.1 … FILE.N; SIGHUP reopens FILE for an outside logrotate).',
    )
    .requiredOption('--pid-file <file>', 'where the supervisor writes its pid')
    .requiredOption('--log <file>', "the agent's output goes here")
    .option('--log-max-bytes <n>', 'rotate the log before it passes this size', String(10 * 1024 * 1024))
    .option('--log-keep <n>', 'rotated log files to keep', '5')
    .argument('<args...>', 'after --: the agent run arguments')
    .action(async (args: string[], opts: { pidFile: string; log: string; logMaxBytes: string; logKeep: string }) => {
      const { supervise } = await import('../../agent/supervise.js');
      nameProcess('fleetnet-supervise');
      await supervise({
        pidFile: opts.pidFile,
        log: opts.log,
        args,
        logMaxBytes: int(opts.logMaxBytes, '--log-max-bytes'),
        logKeep: int(opts.logKeep, '--log-keep'),
      });
    });
}
