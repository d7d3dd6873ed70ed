// `host add --inventory FILE --list-hosts`: the hosts it would act on, as `ansible --list-hosts`
// lists them, with what fleetnet resolved for each (address, user, port, key file).
import type { ResolvedHost } from '../inventory/load.js';
import { printJson, table } from './table.js';

export function printListHosts(hosts: readonly ResolvedHost[], json: boolean): void {
  if (json) return printJson(hosts);
  const rows = hosts.map((h) => [
    h.name,
    h.address,
    h.user,
    String(h.port),
    h.keyFile ?? '(ssh-agent)',
    h.groups.filter((g) => g !== 'all').join(',') || '-',
  ]);
  process.stdout.write(
    `  hosts (${hosts.length}):\n` +
      table(['HOST', 'ADDRESS', 'USER', 'PORT', 'KEY', 'GROUPS'], rows).replace(/^/gm, '    ') +
      '\n',
  );
}
