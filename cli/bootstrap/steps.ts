// The steps of the work the CLI does on a host over SSH, as the progress view shows them.

export type Step = 'connect' | 'check' | 'upload' | 'configure' | 'start' | 'restart' | 'register';
/** host add --ssh. */
export const STEPS: readonly Step[] = ['connect', 'check', 'upload', 'configure', 'start', 'register'];
/** host upgrade: the configuration and the certificate stay as they are. */
export const UPGRADE_STEPS: readonly Step[] = ['connect', 'check', 'upload', 'restart', 'register'];

export interface ProgressEvent {
  host: string;
  step: Step;
  state: 'start' | 'done' | 'failed';
  detail?: string;
}

/** Runs one step of one host, reporting start, done (with a detail) or failed. */
export function stepper(host: string, progress?: (e: ProgressEvent) => void) {
  let current: Step | undefined;
  return {
    get current(): Step | undefined {
      return current;
    },
    async run<T>(s: Step, fn: () => Promise<T>, detail?: (t: T) => string): Promise<T> {
      current = s;
      progress?.({ host, step: s, state: 'start' });
      const t = await fn();
      progress?.({ host, step: s, state: 'done', ...(detail ? { detail: detail(t) } : {}) });
      return t;
    },
    failed(err: unknown): void {
      const detail = err instanceof Error ? err.message : String(err);
      if (current) progress?.({ host, step: current, state: 'failed', detail });
    },
  };
}
