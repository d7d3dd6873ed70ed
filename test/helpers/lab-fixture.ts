// A lab as a test fixture: a unique name per run, taken down after the test (also when it fails),
// with the snapshot scope that covers everything the lab may make.
import { after, before } from 'node:test';
import { ExecRunner } from '../../common/runner.js';
import { labDown } from '../../lab/down.js';
import { labUp, type LabUpOptions, type LabUpResult } from '../../lab/up.js';
import { ensureBuilt } from './build.js';
import { newRunId } from './docker.js';
import type { SnapshotScope } from './snapshot.js';

/** What a snapshot must look at for lab NAME: its namespaces, its run dir, its labelled containers. */
export function labScope(name: string): SnapshotScope {
  return {
    netnsPrefixes: [`${name}-`],
    cmdlineNeedles: [`/run/fleetnet-lab/${name}/`],
    dockerLabels: [`fleetnet.lab=${name}`],
  };
}

/** Builds a lab named PREFIX + random hex and registers its removal with the test context. */
export async function useLab(
  t: { after(fn: () => Promise<unknown>): void },
  opts: Omit<LabUpOptions, 'name'> & { prefix?: string },
): Promise<LabUpResult> {
  const name = newRunId(opts.prefix ?? 'l');
  t.after(() => labDown({ name }));
  return labUp({ ...opts, name });
}

/**
 * For a file whose tests run the built CLI's `lab` commands: the CLI built once before them (`bin()`),
 * and a fresh lab name per `name(prefix)`, every one taken down after the file's tests (also when one fails).
 */
export function labCliRuns(): { runner: ExecRunner; bin: () => string; name: (prefix: string) => string } {
  const runner = new ExecRunner();
  let bin = '';
  const made: string[] = [];
  before(async () => {
    bin = await ensureBuilt(runner);
  });
  after(async () => {
    for (const name of made) await labDown({ name });
  });
  return {
    runner,
    bin: () => bin,
    name: (prefix) => {
      const name = newRunId(prefix);
      made.push(name);
      return name;
    },
  };
}
