// dockerode, loaded by the first Docker socket the agent sees: it brings an SSH client with it (ssh2, about 9 MB of
// an agent's memory), which a host without Docker (containerd, LXC, podman) never needs. From node_modules here;
// scripts/build.mjs serves the self-contained agent bundle a require of the inlined package instead (still lazy).
import { createRequire } from 'node:module';
import type Docker from 'dockerode';

export function loadDockerode(): typeof Docker {
  return createRequire(import.meta.url)('dockerode') as typeof Docker;
}
