// An agent AttachRequest as the tests send it: the message's own defaults (proto3: empty, zero,
// false), a bridge br1, the container web1 and 10.1.1.5/24, with what a test changes laid over it.
// And the controller's FleetAttachRequest the tests and benchmarks send: HOST, NETWORK, target VALUE.
import { AttachRequest } from '../../proto/gen/fleetnet/v1/agent.js';
import { FleetAttachRequest } from '../../proto/gen/fleetnet/v1/controller.js';

export function attachRequest(over: Partial<AttachRequest> = {}): AttachRequest {
  return {
    ...AttachRequest.create(),
    hostIf: 'br1',
    target: { kind: 'auto', value: 'web1' },
    addresses: [{ static: { cidr: '10.1.1.5/24', gateway: '' } }],
    ...over,
  };
}

/** FleetAttach of container (or netns) VALUE on HOST, from NETWORK (empty: the network holding the given address). */
export function fleetAttachRequest(
  host: string,
  network: string,
  value: string,
  over: Partial<FleetAttachRequest> = {},
): FleetAttachRequest {
  return { ...FleetAttachRequest.create(), host, network, target: { kind: 'auto', value }, ...over };
}
