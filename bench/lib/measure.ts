// Every attach path measured the same way: warm-up, N timed attaches (each checked afterwards,
// untimed), N timed detaches, then checks that nothing is left.
import type { Logger } from 'pino';
import type { BenchEnv } from './env.js';
import { timeMs } from './stats.js';
import { bridgePorts, expectContainerIf, expectContainerIfGone } from './verify.js';

export interface AttachPath {
  /** Row name of the attach; the detach row is `${name} — detach`. */
  name: string;
  /** What the attach clock covers. */
  timed: string;
  detachTimed: string;
  /** Bridge (in the bench netns) that gets one port per attach. */
  bridge: string;
  /** Interface name inside the container; undefined: whichever interface holds the address (Docker). */
  ifname: string | undefined;
  netnsOf(i: number): string;
  /** Address the container interface must hold after attach i (CIDR, or a pattern for allocating IPAM). */
  expectAddr(i: number): string | RegExp;
  attach(i: number): Promise<void>;
  detach(i: number): Promise<void>;
}

export interface PathSamples {
  path: AttachPath;
  attachMs: number[];
  detachMs: number[];
}

/**
 * Measures all paths interleaved: attach i runs on every path before attach i+1 (the starting path
 * rotates), so a burst of load from elsewhere on the machine hits every path alike.
 */
export async function measurePaths(
  env: BenchEnv,
  paths: AttachPath[],
  count: number,
  warmup: number,
  log: Logger,
): Promise<PathSamples[]> {
  const verifyAttached = (p: AttachPath, i: number) =>
    expectContainerIf(env, p.netnsOf(i), p.ifname, p.expectAddr(i), p.name);
  const base = new Map<AttachPath, number>();
  for (const p of paths) base.set(p, (await bridgePorts(env, p.bridge)).length);
  for (const p of paths) {
    for (let i = 0; i < Math.min(warmup, count); i++) {
      await p.attach(i);
      await verifyAttached(p, i);
      await p.detach(i);
    }
  }
  const out = paths.map((path) => ({ path, attachMs: [] as number[], detachMs: [] as number[] }));
  const rotated = (i: number) => out.map((_, k) => out[(k + i) % out.length]!);
  for (let i = 0; i < count; i++) {
    for (const s of rotated(i)) {
      s.attachMs.push(await timeMs(() => s.path.attach(i)));
      await verifyAttached(s.path, i);
    }
  }
  for (const p of paths) {
    const ports = (await bridgePorts(env, p.bridge)).length;
    if (ports !== base.get(p)! + count)
      throw new Error(
        `${p.name}: bridge ${p.bridge} has ${ports} ports after ${count} attaches, expected ${base.get(p)! + count}`,
      );
  }
  for (let i = 0; i < count; i++) for (const s of rotated(i)) s.detachMs.push(await timeMs(() => s.path.detach(i)));
  for (const p of paths) {
    for (let i = 0; i < count; i++) await expectContainerIfGone(env, p.netnsOf(i), p.ifname, p.expectAddr(i), p.name);
    const left = (await bridgePorts(env, p.bridge)).length;
    if (left !== base.get(p)!)
      throw new Error(`${p.name}: bridge ${p.bridge} still has ${left - base.get(p)!} ports after the detaches`);
  }
  log.info({ paths: paths.length, count }, 'paths measured');
  return out;
}

/** Address number i of a /16 bench subnet 10.<second>.0.0/16 (skipping .0-.9 for gateways). */
export function benchAddr(second: number, i: number): string {
  const k = i + 10;
  return `10.${second}.${Math.floor(k / 256)}.${k % 256}`;
}
