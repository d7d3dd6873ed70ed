// Default routes an @gateway replaces: read before, restored on detach and on undo.
import type { Logger } from 'pino';
import type { Runner } from '../../common/runner.js';
import type { RouteSnapshot } from './records.js';

export async function readDefaults(runner: Runner, netns: string, family: 4 | 6): Promise<RouteSnapshot[]> {
  const r = await runner.run('nsenter', [`--net=${netns}`, 'ip', `-${family}`, '-json', 'route', 'show', 'default']);
  const rows = JSON.parse(r.stdout || '[]') as { gateway?: string; dev?: string }[];
  return rows.map((x) => ({ family, ...(x.gateway ? { gateway: x.gateway } : {}), ...(x.dev ? { dev: x.dev } : {}) }));
}

export async function restoreDefaults(
  runner: Runner,
  log: Logger,
  netns: string,
  routes: RouteSnapshot[],
): Promise<void> {
  for (const r of routes) {
    const args = [
      'route',
      'replace',
      'default',
      ...(r.gateway ? ['via', r.gateway] : []),
      ...(r.dev ? ['dev', r.dev] : []),
    ];
    const res = await runner.run('nsenter', [`--net=${netns}`, 'ip', `-${r.family}`, ...args], { allowFail: true });
    if (res.code !== 0) log.warn({ netns, route: r, stderr: res.stderr.trim() }, 'could not restore a default route');
  }
}
