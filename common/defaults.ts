// Defaults that the agent, the CLI and the installer must agree on (DESIGN.md's table), in one place.

/** The agent's unix socket for the local CLI (root only). */
export const DEFAULT_AGENT_SOCKET = '/run/fleetnet/agent.sock';

/** The controller's TCP port (CLI and agents), when an address names none. */
export const DEFAULT_CONTROLLER_PORT = 7440;
