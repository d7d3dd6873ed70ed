// The CLI's light client lists every Agent RPC under the path grpc-js serves it on.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { AGENT_METHODS } from '../../cli/client/agent.js';
import { AgentService } from '../../common/rpc/services.js';

it('AGENT_METHODS matches the generated Agent service', () => {
  const fromService = Object.fromEntries(Object.entries(AgentService).map(([k, v]) => [k, v.path]));
  const fromLite = Object.fromEntries(Object.entries(AGENT_METHODS).map(([k, v]) => [k, v.path]));
  assert.deepEqual(fromLite, fromService);
});
