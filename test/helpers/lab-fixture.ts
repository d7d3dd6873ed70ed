// A lab as a test fixture: a unique name per run, taken down after the test (also when it fails),
// with the snapshot scope that covers everything the lab may make.
import { labDown } from '../../lab/down.js';
import { labUp, type LabUpOptions, type LabUpResult } from '../../lab/up.js';
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
