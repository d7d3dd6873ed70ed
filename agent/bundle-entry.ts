// The agent's own executable, bundled into ONE file (dist/fleetnet-agent.mjs) that
// `fleetnet host add --ssh` uploads: `agent run` and, for hosts without systemd, `agent supervise`.
import { Command, CommanderError } from 'commander';
import { describeError, exitCodeOf } from '../common/errors.js';
import { VERSION } from '../common/version.js';
import * as agent from '../cli/commands/agent.js';

const program = new Command('fleetnet-agent').version(VERSION).exitOverride();
agent.register(program);
// `agent supervise` (hosts without systemd) is registered by the same module.
for (const c of program.commands) c.exitOverride();

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exitCode = err.exitCode === 0 ? 0 : 2;
  else {
    process.stderr.write(`fleetnet-agent: ${describeError(err)}\n`);
    process.exitCode = exitCodeOf(err);
  }
}
