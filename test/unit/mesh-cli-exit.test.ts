// `mesh add/rm` exit codes: a member that did not take the push is pending (3) unless --wait then saw
// every tunnel of the network up (0: the controller's retries got through); a tunnel not up is 1.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { memberExitCode } from '../../cli/commands/mesh.js';

const ok = { error: '' };
const late = { error: 'the agent at 10.0.0.3:7441 does not answer (deadline exceeded)' };
const up = { state: 'up' };

it('without --wait: 0 when every member took the change, 3 when one did not', () => {
  assert.equal(memberExitCode([ok, ok]), 0);
  assert.equal(memberExitCode([ok, late]), 3);
});

it('with --wait: the tunnels decide, a late member whose tunnels came up is not pending', () => {
  assert.equal(memberExitCode([ok, late], [up, up]), 0);
  assert.equal(memberExitCode([ok, ok], [up, { state: 'down' }]), 1);
  assert.equal(memberExitCode([ok, late], [up, { state: 'unreachable' }]), 1);
});
