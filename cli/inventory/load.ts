// loadInventory: an Ansible inventory file (INI or YAML) → the hosts fleetnet acts on, each with
// its resolved SSH address, user, port and key file. The one entry point of cli/inventory/.
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { FleetnetError, invalid } from '../../common/errors.js';
import { parseAgentAddr } from '../../common/host-spec.js';
import { parseControllerList } from '../../common/rpc/controller-addresses.js';
import { SSH_ADDRESS, SSH_USER } from '../bootstrap/ssh-target.js';
import { parseIniInventory } from './ini.js';
import { assignment, type InventoryData, type InventoryFormat, type VarDef } from './model.js';
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
export const inventoryFormat = (file: string): InventoryFormat =>
  ['.yml', '.yaml', '.json'].includes(extname(file).toLowerCase()) ? 'yaml' : 'ini';

export function parseInventory(text: string, file: string): InventoryData {
  const format = inventoryFormat(file);
  wrongFormat(text, file, format);
  return format === 'yaml' ? parseYamlInventory(text, file) : parseIniInventory(text, file);
}

/**
 * A file written in the other format than its name says (a YAML inventory named `hosts`): its first line already
 * tells, and the fix is its name, not what the other format's reader would say about its lines.
 */
function wrongFormat(text: string, file: string, format: InventoryFormat): void {
  const lines = text.split(/\r?\n/);
  const n = lines.findIndex((l) => l.trim() && !/^\s*[#;]/.test(l) && l.trim() !== '---');
  const first = n < 0 ? '' : lines[n]!.trim();
  const name = basename(file);
  if (format === 'ini' && /^[^\s:=[\]#]+:\s*(#.*)?$/.test(first))
    throw invalid(
      `${file}:${n + 1}: '${first}' is YAML, but ${name} is read as an INI inventory (its name does not end in ` +
        '.yml, .yaml or .json, which is how Ansible tells a YAML inventory)',
      `rename it to ${name}.yml`,
    );
  if (format === 'yaml' && /^\[[^\]\s,]+\]\s*([#;].*)?$/.test(first))
    throw invalid(
      `${file}:${n + 1}: '${first}' is an INI section, but ${name} is read as a YAML inventory (its name ends in ` +
        `${extname(file)})`,
      `rename it to ${name.slice(0, -extname(name).length)}.ini`,
    );
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
    throw invalid(
      `${file} lists no hosts`,
      inv.format === 'yaml'
        ? 'name them under hosts: of a group, e.g. all: {hosts: {h1: {ansible_host: 10.0.0.11}}}'
        : 'name them one per line, under a [GROUP] section or before any: h1 ansible_host=10.0.0.11',
    );
  return selectHosts(inv, opts.limit).map((name) => resolveHost(inv, name));
}

function str(f: InventoryFormat, v: VarDef | undefined, name: string, host: string): string | undefined {
  if (v === undefined || v.value === null) return undefined;
  if (typeof v.value === 'string' || typeof v.value === 'number') return String(v.value);
  throw invalid(
    `${v.origin.file}:${v.origin.line}: ${name} of host ${host} is not a string`,
    `write ${assignment(f, name, 'VALUE')}`,
  );
}

/** A value fleetnet acts on, refused here (exit 2 naming file and line) rather than on the host, mid-run. */
function refuse(v: VarDef | undefined, name: string, host: string, why: string, fix: string): never {
  const at = v ? `${v.origin.file}:${v.origin.line}: ` : '';
  throw invalid(`${at}${name} of host ${host}: ${why}`, fix);
}

/** parse(value), its error refused as above. */
function parsed<T>(v: VarDef | undefined, name: string, host: string, parse: () => T, fix: string): T {
  try {
    return parse();
  } catch (err) {
    return refuse(v, name, host, err instanceof Error ? err.message : String(err), fix);
  }
}

export function resolveHost(inv: InventoryData, name: string): ResolvedHost {
  const vars = inv.hostVars(name);
  const f = inv.format;
  // Ansible still honours the ansible_ssh_* spellings of Ansible 1; the short ones win.
  const def = (k: string) => vars.get(`ansible_${k}`) ?? vars.get(`ansible_ssh_${k}`);
  const get = (k: string) => str(f, def(k), `ansible_${k}`, name);
  const portText = get('port');
  const port = portText === undefined ? 22 : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    const o = (vars.get('ansible_port') ?? vars.get('ansible_ssh_port'))!.origin;
    throw invalid(`${o.file}:${o.line}: ansible_port '${portText}' of host ${name} is not a TCP port`, 'give 1-65535');
  }
  const ovs = vars.get('fleetnet_ovs');
  if (ovs && typeof ovs.value !== 'boolean')
    throw invalid(
      `${ovs.origin.file}:${ovs.origin.line}: fleetnet_ovs of host ${name} must be true or false`,
      `write ${assignment(f, 'fleetnet_ovs', f === 'yaml' ? 'true' : 'True')}`,
    );
  const keyFile = str(
    f,
    vars.get('ansible_ssh_private_key_file') ?? vars.get('ansible_private_key_file'),
    'ansible_ssh_private_key_file',
    name,
  );
  const address = get('host') ?? name;
  const user = get('user') ?? 'root';
  if (!SSH_ADDRESS.test(address) || address.startsWith('-'))
    refuse(
      def('host'),
      'ansible_host',
      name,
      `'${address}' is not an IP address or a host name`,
      `write ${assignment(f, 'ansible_host', '10.0.0.11')} (or a DNS name)`,
    );
  if (!SSH_USER.test(user))
    refuse(
      def('user'),
      'ansible_user',
      name,
      `'${user}' is not a user name`,
      `write ${assignment(f, 'ansible_user', 'root')}`,
    );
  const own = (k: string) => vars.get(k);
  const text = (k: string) => str(f, own(k), k, name);
  const listenText = text('fleetnet_listen');
  const listen =
    listenText === undefined
      ? undefined
      : parsed(
          own('fleetnet_listen'),
          'fleetnet_listen',
          name,
          () => parseAgentAddr(listenText).addr,
          `give the agent's IP address (and port): ${assignment(f, 'fleetnet_listen', '10.0.0.11:7441')}`,
        );
  const controller = text('fleetnet_controller');
  if (controller !== undefined)
    parsed(
      own('fleetnet_controller'),
      'fleetnet_controller',
      name,
      () => parseControllerList(controller, 'the inventory'),
      `give the controller's address: ${assignment(f, 'fleetnet_controller', '10.0.0.2:7440')}`,
    );
  const agentConfig = text('fleetnet_agent_config');
  return {
    name,
    address,
    user,
    port,
    ...(keyFile ? { keyFile } : {}),
    ...(listen ? { listen } : {}),
    ovs: ovs?.value === true,
    ...(controller ? { controller } : {}),
    ...(agentConfig ? { agentConfig } : {}),
    groups: inv.groupsOf(name),
  };
}
