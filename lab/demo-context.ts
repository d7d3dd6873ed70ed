// What every act of the lab demo gets (lab/demo.ts runs the acts, lab/demo-fleet.ts is one), in a
// module of its own so that the acts and the runner do not import each other.
import type { Logger } from 'pino';
import type { Runner } from '../common/runner.js';
import type { LabUpResult } from './up.js';

export interface DemoOptions {
  name: string;
  hosts: number;
  out: (line: string) => void;
  signal?: AbortSignal;
  runner?: Runner;
  log?: Logger;
}

export interface DemoContext {
  opts: DemoOptions;
  runner: Runner;
  lab: LabUpResult;
  bin: string;
  say: (line: string) => void;
  /** Runs the fleetnet CLI, shows the command line and its output. */
  fleetnet: (args: string[]) => Promise<string>;
}

/** A command's output, indented under the line that ran it. */
export function indent(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}
