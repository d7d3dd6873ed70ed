// fleetnet lab: a simulated fleet on this machine (placeholder until lab/ lands).
import type { Command } from 'commander';

export function register(program: Command): void {
  program.command('lab').summary('a simulated fleet of hosts on this machine, in network namespaces');
}
