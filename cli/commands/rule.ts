// fleetnet rule <container> ARGS…: `ip rule ARGS…` inside the container (pipework's `rule`).
import type { Command } from 'commander';
import { netCommand } from './route.js';

export function register(program: Command): void {
  netCommand(
    program,
    'rule',
    'run ip rule inside a container',
    ['  fleetnet rule web1 add from 10.1.1.5 table 100', '  fleetnet rule web1 show'].join('\n'),
  );
}
