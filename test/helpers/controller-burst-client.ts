// One client process of the burst test: sends `count` FleetAttach requests (allocation from a
// network, no wait for the agent), retrying each until the controller acknowledges it (the
// controller may be killed and restarted meanwhile), then asks for every one again.
// Prints one JSON line per acknowledgement: {phase, target, id, addresses, mac}.
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { type FleetAttachReply } from '../../proto/gen/fleetnet/v1/controller.js';
import { ControllerClient } from '../../common/rpc/services.js';
import { attachOnce } from './ha-fleet.js';

const [addr, host, net, prefix, countText] = process.argv.slice(2);
const count = Number(countText);
const DEADLINE_MS = Date.now() + 90_000;

async function attach(client: ControllerClient, value: string): Promise<FleetAttachReply> {
  for (;;) {
    try {
      return await attachOnce(client, host!, net!, value);
    } catch (err) {
      const code = (err as ServiceError).code;
      if ((code !== status.UNAVAILABLE && code !== status.DEADLINE_EXCEEDED) || Date.now() > DEADLINE_MS) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const client = new ControllerClient(addr!, credentials.createInsecure(), { 'grpc.max_reconnect_backoff_ms': 200 });
try {
  for (const phase of ['first', 'retry']) {
    for (let i = 0; i < count; i++) {
      const value = `${prefix}-${i}`;
      const r = await attach(client, value);
      const a = r.attachment!;
      process.stdout.write(
        JSON.stringify({ phase, target: value, id: a.id, addresses: a.addresses, mac: a.mac }) + '\n',
      );
    }
  }
} finally {
  client.close();
}
