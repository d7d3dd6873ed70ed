// loadInventory: an Ansible inventory file (INI or YAML) → the hosts fleetnet acts on, each with
// its resolved SSH address, user, port and key file. The one entry point of cli/inventory/.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { FleetnetError, invalid } from '../../common/errors.js';
import { parseIniInventory } from './ini.js';
import type { InventoryData, VarDef } from './model.js';
import { selectHosts } from './pattern.js';
import { checkVarNames } from './var-names.js';
import { parseYamlInventory } from './yaml.js';

export interface ResolvedHost {
  name: string;
  /** ansible_host, else the inventory name. */
  address: string;
  /** ansible_user, else root. */
  user: string;
  /** ansible_port, else 22. */
  port: number;
  /** ansible_ssh_private_key_file, when set (else the ssh-agent). */
  keyFile?: string;
  /** fleetnet_listen: the agent's TCP address. */
  listen?: string;
  /** fleetnet_ovs: a network on this host uses Open vSwitch. */
  ovs: boolean;
  /** fleetnet_controller: the controller address the agent enrolls with. */
  controller?: string;
  /** fleetnet_agent_config: the agent settings file (YAML) to install as /etc/fleetnet/agent.yaml. */
  agentConfig?: string;
  /** Every group the host is in (all included). */
  groups: string[];
}

export interface LoadOptions {
  /** An Ansible host pattern (--limit). */
  limit?: string;
}

/** .yml/.yaml/.json are YAML inventories (as Ansible's yaml plugin decides); anything else is INI. */
export function parseInventory(text: string, file: string): InventoryData {
  return ['.yml', '.yaml', '.json'].includes(extname(file).toLowerCase())
    ? parseYamlInventory(text, file)
    : parseIniInventory(text, file);
}

export function loadInventory(file: string, opts: LoadOptions = {}): ResolvedHost[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FleetnetError(
      'invalid',
      `cannot read inventory ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      { cause: err, hint: 'give the path of an Ansible inventory (INI, or YAML ending in .yml/.yaml)' },
    );
  }
  const inv = parseInventory(text, file);
  checkVarNames(inv);
  if (!inv.hosts.size)
    throw invalid(`${file} lists no hosts`, 'an inventory names its hosts under [GROUP] (INI) or hosts: (YAML)');
  return selectHosts(inv, opts.limit).map((name) => resolveHost(inv, name));
}

function str(v: VarDef | undefined, name: string, host: string): string | undefined {
  if (v === undefined || v.value === null) return undefined;
  if (typeof v.value === 'string' || typeof v.value === 'number') return String(v.value);
  throw invalid(`${v.origin.file}:${v.origin.line}: ${name} of host ${host} is not a string`, `write ${name}=VALUE`);
}

export function resolveHost(inv: InventoryData, name: string): ResolvedHost {
  const vars = inv.hostVars(name);
  // Ansible still honours the ansible_ssh_* spellings of Ansible 1; the short ones win.
  const get = (k: string) => str(vars.get(`ansible_${k}`) ?? vars.get(`ansible_ssh_${k}`), `ansible_${k}`, name);
  const portText = get('port');
  const port = portText === undefined ? 22 : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    const o = (vars.get('ansible_port') ?? vars.get('ansible_ssh_port'))!.origin;
    throw invalid(`${o.file}:${o.line}: ansible_port '${portText}' of host ${name} is not a TCP port`, 'give 1-65535');
  }
  const ovs = vars.get('fleetnet_ovs');
  if (ovs && typeof ovs.value !== 'boolean')
    throw invalid(`${ovs.origin.file}:${ovs.origin.line}: fleetnet_ovs of host ${name} must be true or false`);
  const keyFile = str(
    vars.get('ansible_ssh_private_key_file') ?? vars.get('ansible_private_key_file'),
    'ansible_ssh_private_key_file',
    name,
  );
  const listen = str(vars.get('fleetnet_listen'), 'fleetnet_listen', name);
  const controller = str(vars.get('fleetnet_controller'), 'fleetnet_controller', name);
  const agentConfig = str(vars.get('fleetnet_agent_config'), 'fleetnet_agent_config', name);
  return {
    name,
    address: get('host') ?? name,
    user: get('user') ?? 'root',
    port,
    ...(keyFile ? { keyFile } : {}),
    ...(listen ? { listen } : {}),
    ovs: ovs?.value === true,
    ...(controller ? { controller } : {}),
    ...(agentConfig ? { agentConfig } : {}),
    groups: inv.groupsOf(name),
  };
}
