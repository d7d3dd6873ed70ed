// The bench runs user-path processes (fleetnet and docker CLIs) without this workplace's
// NODE_EXTRA_CA_CERTS, and says so in its notes.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { userEnvNote, userProcessEnv, WORKPLACE_ONLY_ENV } from '../../bench/lib/env.js';

it('userProcessEnv drops NODE_EXTRA_CA_CERTS and keeps everything else', () => {
  const from = { NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt', PATH: '/usr/bin', HOME: '/root' };
  const env = userProcessEnv(from);
  assert.deepEqual(env, { PATH: '/usr/bin', HOME: '/root' });
  assert.equal(from.NODE_EXTRA_CA_CERTS, '/etc/ssl/certs/ca-certificates.crt', 'the source is not changed');
  assert.ok(WORKPLACE_ONLY_ENV.includes('NODE_EXTRA_CA_CERTS'));
});

it('the note names the variable and its value when set, and says so when not', () => {
  assert.match(
    userEnvNote({ NODE_EXTRA_CA_CERTS: '/x.crt' }),
    /without NODE_EXTRA_CA_CERTS \(this workplace sets NODE_EXTRA_CA_CERTS=\/x\.crt\)/,
  );
  assert.match(userEnvNote({}), /not set here either/);
});
