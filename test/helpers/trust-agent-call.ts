// Calls one agent RPC over mTLS as the controller, from inside a namespace; prints the reply as
// JSON (exit 0) or the error (exit 1).
// node --import tsx test/helpers/trust-agent-call.ts CONTROLLER_DIR ADDR HOST METHOD [JSON]
import { callAgent, connectAgentTls } from '../../controller/bootstrap/agent-client.js';
import { openTrust } from '../../controller/pki/controller-dir.js';
import { AttachRequest, DetachRequest, ListRequest } from '../../proto/gen/fleetnet/v1/agent.js';

const REQUEST: Record<string, { fromPartial(o: object): object }> = {
  attach: AttachRequest,
  detach: DetachRequest,
  list: ListRequest,
};

const [dir, addr, host, method, json] = process.argv.slice(2);
if (!dir || !addr || !host || !method) throw new Error('usage: trust-agent-call.ts DIR ADDR HOST METHOD [JSON]');
const trust = await openTrust(dir);
const conn = connectAgentTls(addr, host, trust);
try {
  const client = conn.agent as unknown as Record<string, Parameters<typeof callAgent>[1]>;
  const res = await callAgent(
    conn.agent,
    client[method]!,
    (REQUEST[method] ?? ListRequest).fromPartial(JSON.parse(json ?? '{}') as object),
    60_000,
    host,
  );
  process.stdout.write(JSON.stringify(res) + '\n');
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  conn.close();
}
