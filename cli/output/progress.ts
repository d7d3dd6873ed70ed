// Step-by-step progress for host bootstraps. On a terminal: a live view, one line per host,
// redrawn in place. Elsewhere (logs, CI, pipes): one plain line per event.
import { STEPS, type ProgressEvent, type Step } from '../bootstrap/steps.js';

export interface ProgressView {
  on(e: ProgressEvent): void;
  end(): void;
}

const MARK = { start: '…', done: '✓', failed: '✗' } as const;

export function progressView(
  hosts: string[],
  out: NodeJS.WriteStream = process.stderr,
  steps: readonly Step[] = STEPS,
): ProgressView {
  if (!out.isTTY) {
    return {
      on: (e) =>
        out.write(
          `${e.host}: ${e.step} ${e.state === 'start' ? 'started' : e.state}${e.detail ? ` — ${e.detail}` : ''}\n`,
        ),
      end: () => undefined,
    };
  }
  const state = new Map<string, { step: Step; state: ProgressEvent['state']; detail: string }>(
    hosts.map((h) => [h, { step: 'connect', state: 'start', detail: 'waiting' }]),
  );
  const width = Math.max(...hosts.map((h) => h.length));
  let drawn = 0;
  const draw = () => {
    if (drawn) out.write(`\x1b[${drawn}A`);
    for (const [h, s] of state) {
      const n = steps.indexOf(s.step) + (s.state === 'done' ? 1 : 0);
      const line =
        `${h.padEnd(width)}  [${'#'.repeat(n)}${'.'.repeat(steps.length - n)}] ` +
        `${MARK[s.state]} ${s.step} ${s.detail}`;
      out.write(`\x1b[2K${line.slice(0, (out.columns || 120) - 1)}\n`);
    }
    drawn = state.size;
  };
  draw();
  return {
    on: (e) => {
      state.set(e.host, { step: e.step, state: e.state, detail: e.detail ?? '' });
      draw();
    },
    end: draw,
  };
}

export interface WaitView {
  /** Ends the view: a last line saying how it went. */
  end(result: string): void;
  /** Ends the view with no last line (the request was refused: its error says why); a spinner is erased. */
  drop(): void;
}

const SPIN = ['|', '/', '-', '\\'];

/**
 * Progress for one long request with no steps to report (mesh add: the controller pushes every
 * member's tunnels and waits for their agents). On a terminal: a spinner with the seconds waited,
 * redrawn in place; elsewhere one line when it starts and one when it ends.
 */
export function waitView(
  label: string,
  out: NodeJS.WriteStream = process.stderr,
  now: () => number = Date.now,
): WaitView {
  const t0 = now();
  const secs = () => `${Math.round((now() - t0) / 100) / 10}s`;
  if (!out.isTTY) {
    out.write(`${label}…\n`);
    return { end: (result) => out.write(`${label}: ${result} (${secs()})\n`), drop: () => {} };
  }
  let i = 0;
  const draw = () => out.write(`\r\x1b[2K${SPIN[i++ % SPIN.length]} ${label}… ${secs()}`);
  draw();
  const timer = setInterval(draw, 200);
  timer.unref();
  return {
    end: (result) => {
      clearInterval(timer);
      out.write(`\r\x1b[2K${label}: ${result} (${secs()})\n`);
    },
    drop: () => {
      clearInterval(timer);
      out.write('\r\x1b[2K');
    },
  };
}
