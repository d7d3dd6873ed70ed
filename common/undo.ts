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
    const steps = this.steps.reverse();
    this.steps = [];
    for (const s of steps) {
      try {
        await s.fn();
      } catch (err) {
        log?.warn({ err, step: s.what }, 'undo step failed');
      }
    }
  }
}
