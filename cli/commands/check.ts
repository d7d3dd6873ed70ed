// fleetnet check: leaks, orphans, duplicates and drift — fleet-wide through the controller
// (`--host H` for one host), or on this host's agent when no controller is configured.
import type { Command } from 'commander';
import type { Finding } from '../../proto/gen/fleetnet/v1/agent.js';
import { addOutputOptions, formatHelp, outputOf } from '../output/format.js';
import type { View } from '../output/render.js';

const HELP = `
Compares the controller's store, every agent's live view and Docker/LXC, and lists:
  leak       an address/MAC allocated with no live interface
  orphan     an interface, OVS port or DHCP client fleetnet made that nothing records
  duplicate  an address or MAC held twice
  drift      an interface whose live settings differ from what was asked
  failed     an attachment that could not be made (with its last error)
Only objects carrying fleetnet's ownership marks are ever counted as orphans or removed.

Exit codes: 0 clean (or everything fixed), 1 found something not fixed, 2 bad usage.
-o json / -o yaml print the summary with the findings; --format and -q go over the findings
(fields: kind, host, subject, detail, fixed).

Examples:
  fleetnet check                 the whole fleet (or this host without a controller)
  fleetnet check --host h2       one host
  fleetnet check --fix --json    repair, and print what was found and fixed as JSON
  fleetnet check -q              one line per finding: KIND HOST SUBJECT
  fleetnet check --format '{{kind}} {{subject}}'
`;

const FINDINGS_VIEW: View<Finding & { fix: string }> = {
  columns: [
    ['KIND', (f) => f.kind],
    ['HOST', (f) => f.host],
    ['WHAT', (f) => f.subject],
    ['DETAIL', (f) => f.detail],
    ['FIX', (f) => f.fix],
  ],
  id: (f) => `${f.kind} ${f.host} ${f.subject}`,
};

export function register(program: Command): void {
  addOutputOptions(program.command('check'), { ids: 'findings (kind, host, subject)' })
    .summary('find leaks, orphans, duplicates and drift (and fix them with --fix)')
    .option('--host <name>', 'only this fleet host (with a controller)')
    .option('--fix', 'repair: re-apply drift, remove orphans, free leaks; prints what it did')
    .addHelpText('after', HELP + formatHelp(['{{kind}} {{host}} {{subject}}']))
    .action(async (opts: { host?: string; fix?: boolean }, cmd: Command) => {
      const fix = Boolean(opts.fix);
      const spec = await outputOf(cmd); // bad output options are refused before anything is asked
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
      const summary = {
        leaks: count('leak'),
        orphans: count('orphan'),
        duplicates: count('duplicate'),
        drift: count('drift'),
        failed: count('failed'),
      };
      const unfixed = findings.filter((f) => !f.fixed).length;
      const items = findings.map((f) => ({ ...f, fix: fix ? (f.fixed ? 'fixed' : 'NOT fixed') : '-' }));
      const { render } = await import('../output/render.js');
      if (spec.kind === 'table' || spec.kind === 'wide') {
        if (findings.length) await render(spec, { items }, FINDINGS_VIEW);
        process.stdout.write(
          `${summary.leaks} leaks, ${summary.orphans} orphans, ${summary.duplicates} duplicates, ` +
            `${summary.drift} drift, ${summary.failed} failed` +
            (fix ? `; ${findings.length - unfixed} fixed, ${unfixed} not fixed` : '') +
            '\n',
        );
      } else
        await render(
          spec,
          { items: findings, whole: { ...summary, unfixed, findings } },
          FINDINGS_VIEW as View<Finding>,
        );
      if (unfixed) process.exitCode = 1;
    });
}
