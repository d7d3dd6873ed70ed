// fleetnet check: leaks, orphans, duplicates and drift — fleet-wide through the controller
// (`--host H` for one host), or on this host's agent when no controller is configured.
import type { Command } from 'commander';
import type { Finding } from '../../proto/gen/fleetnet/v1/agent.js';
import { printJson, table } from '../output/table.js';

const HELP = `
Compares the controller's store, every agent's live view and Docker/LXC, and lists:
  leak       an address/MAC allocated with no live interface
  orphan     an interface, OVS port or DHCP client fleetnet made that nothing records
  duplicate  an address or MAC held twice
  drift      an interface whose live settings differ from what was asked
  failed     an attachment that could not be made (with its last error)
Only objects carrying fleetnet's ownership marks are ever counted as orphans or removed.

Exit codes: 0 clean (or everything fixed), 1 found something not fixed, 2 bad usage.

Examples:
  fleetnet check                 the whole fleet (or this host without a controller)
  fleetnet check --host h2       one host
  fleetnet check --fix --json    repair, and print what was found and fixed as JSON
`;

export function register(program: Command): void {
  program
    .command('check')
    .summary('find leaks, orphans, duplicates and drift (and fix them with --fix)')
    .option('--host <name>', 'only this fleet host (with a controller)')
    .option('--fix', 'repair: re-apply drift, remove orphans, free leaks; prints what it did')
    .option('--json', 'print JSON for scripts')
    .addHelpText('after', HELP)
    .action(async (opts: { host?: string; fix?: boolean; json?: boolean }, cmd: Command) => {
      const fix = Boolean(opts.fix);
      let findings: Finding[];
      const { controllerOf } = await import('../fleet/common.js');
      const ctl = await controllerOf(cmd);
      if (ctl) {
        const { connectController } = await import('../client/controller.js');
        const conn = connectController(ctl.addr);
        try {
          findings = (await conn.call(conn.client.fleetCheck, { host: opts.host ?? '', fix }, 180_000)).findings;
        } finally {
          conn.close();
        }
      } else {
        const { connectAgent } = await import('../client/agent.js');
        const conn = connectAgent(cmd.optsWithGlobals().socket as string | undefined);
        try {
          findings = (await conn.call(conn.client.check, { fix }, 120_000)).findings;
        } finally {
          conn.close();
        }
      }
      const count = (k: string) => findings.filter((f) => f.kind === k).length;
      const summary = { leaks: count('leak'), orphans: count('orphan'), duplicates: count('duplicate'), drift: count('drift'), failed: count('failed') };
      const unfixed = findings.filter((f) => !f.fixed).length;
      if (opts.json) printJson({ ...summary, unfixed, findings });
      else {
        if (findings.length) {
          const rows = findings.map((f) => [f.kind, f.host, f.subject, f.detail, fix ? (f.fixed ? 'fixed' : 'NOT fixed') : '-']);
          process.stdout.write(table(['KIND', 'HOST', 'WHAT', 'DETAIL', 'FIX'], rows) + '\n');
        }
        process.stdout.write(`${summary.leaks} leaks, ${summary.orphans} orphans, ${summary.duplicates} duplicates, ${summary.drift} drift, ${summary.failed} failed`
          + (fix ? `; ${findings.length - unfixed} fixed, ${unfixed} not fixed` : '') + '\n');
      }
      if (unfixed) process.exitCode = 1;
    });
}
