// `mesh add/rm` exit codes: a member that did not take the push is pending (3) unless --wait then saw
// every tunnel of the network up (0: the controller's retries got through); a tunnel not up is 1. A member's
// error that waiting will not mend (the configuration refused, a host that cannot do it) is 1, or 2 for bad
// input, with or without --wait.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { hopelessMember, memberExitCode } from '../../cli/commands/mesh.js';

const ok = { host: 'h1', error: '' };
const late = {
  host: 'h2',
  error: 'the agent at 10.0.0.3:7441 does not answer (deadline exceeded)',
  errorKind: 'unavailable',
};
const up = { state: 'up' };

it('without --wait: 0 when every member took the change, 3 when one did not', () => {
  assert.equal(memberExitCode([ok, ok]), 0);
  assert.equal(memberExitCode([ok, late]), 3);
  assert.equal(memberExitCode([ok, { ...late, errorKind: 'failed' }]), 3);
});

it('with --wait: the tunnels decide, a late member whose tunnels came up is not pending', () => {
  assert.equal(memberExitCode([ok, late], [up, up]), 0);
  assert.equal(memberExitCode([ok, ok], [up, { state: 'down' }]), 1);
  assert.equal(memberExitCode([ok, late], [up, { state: 'unreachable' }]), 1);
});

it('an error that waiting will not mend: 1 (2 for bad input), not pending, with or without --wait', () => {
  const gretap = { host: 'h3', error: 'network green asks for GRE … no gretap', errorKind: 'unsupported' };
  const refused = { host: 'h3', error: 'network green: MTU 70000 is not 576..65535', errorKind: 'invalid' };
  assert.equal(memberExitCode([ok, late, gretap]), 1);
  assert.equal(memberExitCode([ok, gretap], [up, up]), 1);
  assert.equal(memberExitCode([ok, refused]), 2);
  assert.equal(memberExitCode([ok, refused], [{ state: 'missing' }]), 2);
  assert.equal(hopelessMember([ok, late, gretap]), gretap);
  assert.equal(hopelessMember([ok, late]), undefined);
});
