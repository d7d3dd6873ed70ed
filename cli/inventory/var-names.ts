// Which inventory variables are "unknown" (exit 2). An inventory carries variables for many tools,
// so a name fleetnet does not read is fine; what is refused is a name that looks like one it reads
// and is not, because then fleetnet would silently use a default (root, port 22, the host name as
// address) and reach the wrong machine:
//   - fleetnet_*: fleetnet's own namespace: only the names below.
//   - ansible_*: a name within two edits of one fleetnet reads (ansible_hots, ansible_usr,
//     ansible_ssh_private_keyfile) that is not itself a variable Ansible knows.
import { invalid } from '../../common/errors.js';
import type { InventoryData, VarDef } from './model.js';

/** The variables fleetnet reads from an inventory. */
export const READ_VARS = ['ansible_host', 'ansible_user', 'ansible_port', 'ansible_ssh_private_key_file'] as const;
export const FLEETNET_VARS = [
  'fleetnet_listen',
  'fleetnet_ovs',
  'fleetnet_controller',
  'fleetnet_agent_config',
] as const;

/** Ansible's own connection variables that lie close to the ones above (never misspellings). */
const ANSIBLE_KNOWN = new Set([
  ...READ_VARS,
  'ansible_ssh_host',
  'ansible_ssh_port',
  'ansible_ssh_user',
  'ansible_private_key_file',
  'ansible_ssh_pass',
  'ansible_password',
  'ansible_become_user',
  'ansible_shell',
  'ansible_shell_type',
  'ansible_remote_user',
  'ansible_connection',
  'ansible_group_priority',
  'ansible_python_interpreter',
  'ansible_become',
  'ansible_ssh_args',
  'ansible_sftp_extra_args',
  'ansible_ssh_common_args',
  'ansible_ssh_extra_args',
  'ansible_scp_extra_args',
  'ansible_ssh_pipelining',
  'ansible_ssh_executable',
]);

/** Damerau-Levenshtein distance (optimal string alignment), enough to tell a typo. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The variable a name was probably meant to be, when it is an unknown one; else undefined. */
export function misspeltVar(name: string): string | undefined {
  if (name.startsWith('fleetnet_')) {
    if ((FLEETNET_VARS as readonly string[]).includes(name)) return undefined;
    return [...FLEETNET_VARS].sort((x, y) => editDistance(name, x) - editDistance(name, y))[0];
  }
  if (!name.startsWith('ansible_') || ANSIBLE_KNOWN.has(name)) return undefined;
  return READ_VARS.find((v) => editDistance(name, v) <= 2);
}

/** Exit 2 at the first unknown variable, naming file, line and the variable meant. */
export function checkVarNames(inv: InventoryData): void {
  const check = (vars: Map<string, VarDef>, owner: string) => {
    for (const [k, v] of vars) {
      const meant = misspeltVar(k);
      if (meant)
        throw invalid(
          `${v.origin.file}:${v.origin.line}: unknown variable '${k}' on ${owner}`,
          `did you mean ${meant}? (fleetnet reads ${[...READ_VARS, ...FLEETNET_VARS].join(', ')})`,
        );
    }
  };
  for (const g of inv.groups.values()) check(g.vars, `group ${g.name}`);
  for (const h of inv.hosts.values()) check(h.vars, `host ${h.name}`);
}
