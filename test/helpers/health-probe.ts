// Asks an agent for Health and prints the reply as JSON. Tests run it inside a lab host's namespace
// (`ip netns exec L-h2 node --import tsx test/helpers/health-probe.ts 10.99.0.11:7441`) to show that
// an agent answers over the underlay from another host.
import { agentHealth } from '../../lab/agents.js';

const address = process.argv[2];
if (!address) {
  process.stderr.write('usage: health-probe.ts ADDRESS   (host:port or a socket path)\n');
  process.exit(2);
}
try {
  process.stdout.write(JSON.stringify(await agentHealth(address, 5000)) + '\n');
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
