// The agent's own credential, under <state-dir>/tls (0700): host.key (0600), host.crt, ca.crt
// (the pinned fleet CA) and controller.json (where to renew).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSecureFile } from '../../common/pki/keys.js';
import type { Credential } from '../../common/pki/tls.js';

export interface AgentTlsFiles {
  dir: string;
  key: string;
  cert: string;
  ca: string;
  controller: string;
  revoked: string;
}

export function agentTlsFiles(stateDir: string): AgentTlsFiles {
  const dir = join(stateDir, 'tls');
  return {
    dir,
    key: join(dir, 'host.key'),
    cert: join(dir, 'host.crt'),
    ca: join(dir, 'ca.crt'),
    controller: join(dir, 'controller.json'),
    revoked: join(dir, 'revoked.json'),
  };
}

export function loadAgentCredential(f: AgentTlsFiles): Credential | undefined {
  if (!existsSync(f.key) || !existsSync(f.cert) || !existsSync(f.ca)) return undefined;
  return {
    keyPem: readFileSync(f.key, 'utf8'),
    certPem: readFileSync(f.cert, 'utf8'),
    caPem: readFileSync(f.ca, 'utf8'),
  };
}

/** Key first, then certificate: a crash in between leaves an unusable pair, never a mismatched one in use. */
export function saveAgentCredential(f: AgentTlsFiles, c: Credential, controllerAddr?: string): void {
  writeSecureFile(f.key, c.keyPem, 0o600);
  writeSecureFile(f.cert, c.certPem, 0o644);
  writeSecureFile(f.ca, c.caPem, 0o644);
  if (controllerAddr) writeSecureFile(f.controller, JSON.stringify({ addr: controllerAddr }) + '\n', 0o600);
}

export function savedControllerAddr(f: AgentTlsFiles): string | undefined {
  if (!existsSync(f.controller)) return undefined;
  return (JSON.parse(readFileSync(f.controller, 'utf8')) as { addr?: string }).addr;
}
