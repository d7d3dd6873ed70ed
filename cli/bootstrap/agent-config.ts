// host add --ssh --agent-config FILE (or an inventory's fleetnet_agent_config): the agent's settings
// file, checked here with the agent's own schema before anything is sent, then installed on the
// host as /etc/fleetnet/agent.yaml. Keys the install sets itself (the agent's command line in its
// unit) are refused: on the command line they would override the file without a word.
import { existsSync, readFileSync } from 'node:fs';
import { invalid } from '../../common/errors.js';

const SET_BY_INSTALL: Readonly<Record<string, string>> = {
  listen: 'give --listen ADDR:PORT to host add (or fleetnet_listen in the inventory)',
  controller: 'give --advertise ADDR:PORT to host add (or fleetnet_controller in the inventory)',
  'host-name': "the host's name is the NAME given to host add",
  socket: 'the install uses /run/fleetnet/agent.sock',
  'state-dir': 'the install uses /var/lib/fleetnet/agent',
  'ca-file': 'the install writes the fleet CA to /etc/fleetnet/agent/ca.crt',
  'join-token-file': 'the install writes the join token to /etc/fleetnet/agent/join-token',
};

/** The file's text, once it parses and passes the agent's schema (exit 2 naming file, line and key). */
export async function readAgentConfig(path: string, what = '--agent-config'): Promise<string> {
  if (!existsSync(path)) {
    throw invalid(
      `${what} ${path} does not exist`,
      "give the path of the agent's YAML settings file (see fleetnet agent run --help)",
    );
  }
  const [{ AgentConfigSchema }, { fileSchemaOf, kebab, parseConfigText }] = await Promise.all([
    import('../../agent/config.js'),
    import('../../common/config-file.js'),
  ]);
  const text = readFileSync(path, 'utf8');
  const values = parseConfigText(text, path, fileSchemaOf(AgentConfigSchema.shape), 'fleetnet agent run --help');
  for (const k of Object.keys(values).map(kebab)) {
    const why = SET_BY_INSTALL[k];
    if (why) throw invalid(`${path}: key '${k}' is set by the install, not by the settings file`, `remove it: ${why}`);
  }
  return text;
}
