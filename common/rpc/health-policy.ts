// Who may call grpc.health.v1 (./health.ts): anyone. Probes carry no client certificate. Apart
// from health.ts so that the policy tables import it without loading the health package.
import type { Rule } from '../pki/authorize.js';

export const HEALTH_POLICY: Readonly<Record<string, Rule>> = Object.freeze({
  '/grpc.health.v1.Health/Check': { kind: 'public' },
  '/grpc.health.v1.Health/Watch': { kind: 'public' },
});
