// Docker for tests: the local busybox image (lab/image.ts makes it; there is no registry), a run
// label on every container, removal by that label afterwards, and a clear reason (not a crash,
// nothing started) when no Docker daemon answers.
import { randomBytes } from 'node:crypto';
import { ExecRunner, type Runner } from '../../common/runner.js';
import {
  BUSYBOX_IMAGE,
  checkDocker,
  ensureBusyboxImage,
  removeContainers as removeIds,
  runBusybox,
} from '../../lab/image.js';
import { LAB_LABEL } from '../../lab/down.js';

export { BUSYBOX_IMAGE };
export const TEST_IMAGE = BUSYBOX_IMAGE;
export const TEST_LABEL = 'fleetnet.test';

/** undefined when Docker answers, else why not (for the test's skip message). */
export async function dockerUnavailable(runner: Runner = new ExecRunner()): Promise<string | undefined> {
  try {
    await checkDocker(runner);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

export async function dockerAvailable(runner: Runner = new ExecRunner()): Promise<boolean> {
  return (await dockerUnavailable(runner)) === undefined;
}

export function newRunId(prefix = 't'): string {
  return `${prefix}${randomBytes(3).toString('hex')}`;
}

/** Makes the local image once; later calls find it. */
export async function ensureTestImage(runner: Runner = new ExecRunner()): Promise<string> {
  return ensureBusyboxImage(runner);
}

export interface TestContainer {
  name: string;
  id: string;
  pid: number;
}

/** Starts a container with no network (`--network none`) labelled fleetnet.test=LABEL; returns its PID too. */
export async function startContainer(
  name: string,
  label: string,
  runner: Runner = new ExecRunner(),
): Promise<TestContainer> {
  await ensureBusyboxImage(runner);
  const id = await runBusybox(runner, { name, labels: [`${TEST_LABEL}=${label}`], cmd: ['sleep', '3600'] });
  const p = await runner.run('docker', ['inspect', '-f', '{{.State.Pid}}', id]);
  return { name, id, pid: Number(p.stdout.trim()) };
}

/** Removes every container labelled fleetnet.test=LABEL. */
export async function removeContainers(label: string, runner: Runner = new ExecRunner()): Promise<void> {
  const r = await runner.run('docker', ['ps', '-aq', '--no-trunc', '--filter', `label=${TEST_LABEL}=${label}`], {
    allowFail: true,
  });
  await removeIds(
    runner,
    r.stdout
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean),
  );
}

/** The containers of one test run: started labelled fleetnet.test=RUN (and fleetnet.lab=L), removed by cleanup(). */
export class TestContainers {
  readonly runLabel: string;
  private readonly ids: string[] = [];
  constructor(
    readonly runId: string,
    private readonly runner: Runner = new ExecRunner(),
  ) {
    this.runLabel = `${TEST_LABEL}=${runId}`;
  }

  async ensureImage(): Promise<string> {
    return ensureBusyboxImage(this.runner);
  }

  /** Starts a busybox container with --network none; its name is prefixed with the run id. */
  async start(name: string, opts: { lab?: string; cmd?: string[] } = {}): Promise<{ id: string; name: string }> {
    const full = `${this.runId}-${name}`;
    const labels = [this.runLabel, ...(opts.lab ? [`${LAB_LABEL}=${opts.lab}`] : [])];
    const id = await runBusybox(this.runner, { name: full, labels, ...(opts.cmd ? { cmd: opts.cmd } : {}) });
    this.ids.push(id);
    return { id, name: full };
  }

  /** Removes every container carrying this run's label (also ones a crashed step did not report). */
  async cleanup(): Promise<void> {
    const r = await this.runner.run('docker', ['ps', '-aq', '--no-trunc', '--filter', `label=${this.runLabel}`], {
      allowFail: true,
    });
    const ids = new Set([
      ...this.ids,
      ...r.stdout
        .split('\n')
        .map((s) => s.trim())
        .filter(Boolean),
    ]);
    await removeIds(this.runner, [...ids]);
    this.ids.length = 0;
  }
}
