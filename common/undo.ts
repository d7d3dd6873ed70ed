// A multi-step change carries its undo stack: a failure leaves nothing half made.
import type { Logger } from 'pino';

type Step = { what: string; fn: () => Promise<unknown> };

export class UndoStack {
  private steps: Step[] = [];
  push(what: string, fn: () => Promise<unknown>): void {
    this.steps.push({ what, fn });
  }
  /** The change succeeded: keep what it made. */
  clear(): void {
    this.steps = [];
  }
  /** Runs the pending undo steps newest first; each step runs even when one before it failed. */
  async unwind(log?: Logger): Promise<void> {
    await this.unwindSaying(log);
  }
  /** unwind, saying which steps ran and which failed (each by its `what`). */
  async unwindSaying(log?: Logger): Promise<{ done: string[]; failed: string[] }> {
    const steps = this.steps.reverse();
    this.steps = [];
    const out = { done: [] as string[], failed: [] as string[] };
    for (const s of steps) {
      try {
        await s.fn();
        out.done.push(s.what);
      } catch (err) {
        log?.warn({ err, step: s.what }, 'undo step failed');
        out.failed.push(s.what);
      }
    }
    return out;
  }
}
