// fleetnet route <container> ARGS…: `ip route ARGS…` inside the container (pipework's `route`).
// rule.ts and tc.ts register through netCommand() below.
import type { Command } from 'commander';
import { parseTarget } from '../../common/attach-args.js';
import { FleetnetError } from '../../common/errors.js';
import { printJson } from '../output/table.js';

export function netCommand(program: Command, tool: 'route' | 'rule' | 'tc', summary: string, examples: string): void {
  program
    .command(tool)
    .summary(summary)
    .description(
      `${summary}. The arguments pass as separate words (never through a shell); options that would act outside ` +
        `the container (-batch, -n, -netns, -force) are refused${tool === 'tc' ? ', and so are bpf and exec' : ''}.`,
    )
    .usage(`[--json] CONTAINER ARGS...`)
    .argument('<container>', 'as for attach: name, ID, PID, netns:NAME, /path')
    .argument(
      '<args...>',
      tool === 'tc' ? 'tc arguments' : `ip ${tool} arguments (a leading -4 or -6 picks the family)`,
    )
    .option('--json', 'print exit code, output and the argv that ran as JSON')
    .allowUnknownOption()
    .addHelpText('after', `\nExamples:\n${examples}`)
    .action(async (container: string, args: string[], opts: { json?: boolean }, cmd: Command) => {
      const target = parseTarget(container);
      const { connectAgent } = await import('../client/agent.js');
      const conn = connectAgent(cmd.optsWithGlobals().socket as string | undefined);
      try {
        const res = await conn.call(conn.client.containerNetCommand, {
          target: { kind: target.kind, value: target.value },
          tool,
          args,
        });
        if (opts.json) printJson(res);
        else {
          process.stdout.write(res.stdout);
          process.stderr.write(res.stderr);
        }
        if (res.exitCode !== 0) {
          if (opts.json) process.exitCode = 1;
          else throw new FleetnetError('failed', `${tool} failed inside ${container} (exit ${res.exitCode})`);
        }
      } finally {
        conn.close();
      }
    });
}

export function register(program: Command): void {
  netCommand(
    program,
    'route',
    'run ip route inside a container',
    [
      '  fleetnet route web1 add 10.0.5.0/24 via 192.168.2.1',
      '  fleetnet route web1 -6 add default via fd00:1::1',
      '  fleetnet route web1 show',
    ].join('\n'),
  );
}
