// The SSH target's grammar (USER@ADDRESS), apart from the session (ssh-session.ts) so that an
// inventory is checked without loading the SSH client. Nothing that could become an option or a
// shell word passes.
import { FleetnetError } from '../../common/errors.js';

/** A login name as useradd takes it. */
export const SSH_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
/** An IPv4 or IPv6 address, or a host name. */
export const SSH_ADDRESS = /^(?:[0-9a-fA-F:.]+|[a-zA-Z0-9.-]+)$/;

/** `root@10.99.0.13` → user, addr; refuses what could become an option or a shell word. */
export function parseSshTarget(s: string): { user: string; addr: string } {
  const at = s.lastIndexOf('@');
  const user = at < 0 ? 'root' : s.slice(0, at);
  const addr = s.slice(at + 1);
  if (!SSH_USER.test(user) || !SSH_ADDRESS.test(addr) || addr.startsWith('-'))
    throw new FleetnetError('invalid', `--ssh "${s}" is not USER@ADDRESS`, { hint: 'e.g. --ssh root@10.99.0.13' });
  return { user, addr };
}
