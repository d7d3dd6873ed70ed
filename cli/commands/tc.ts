// fleetnet tc <container> ARGS…: `tc ARGS…` inside the container (pipework's `tc`).
import type { Command } from 'commander';
import { netCommand } from './route.js';

export function register(program: Command): void {
  netCommand(
    program,
    'tc',
    'run tc inside a container',
    [
      '  fleetnet tc web1 qdisc add dev eth1 root tbf rate 1mbit burst 32kbit latency 400ms',
      '  fleetnet tc web1 qdisc show dev eth1',
    ].join('\n'),
  );
}
