// The lab's underlay: one switch namespace holding a Linux bridge, and a veth from it into each
// namespace that joins it (hosts, etcd members, controllers).
import type { Runner } from '../common/runner.js';
import { UNDERLAY_IF, type LabLayout } from './layout.js';
import type { LabStateFile } from './state.js';

export async function buildSwitch(runner: Runner, lab: LabLayout, state: LabStateFile): Promise<void> {
  state.addNetns(lab.switchNetns); // recorded first: a kill between the two lines leaves nothing unrecorded
  await runner.run('ip', ['netns', 'add', lab.switchNetns]);
  await runner.run('ip', ['-n', lab.switchNetns, '-batch', '-'], {
    input: `link set lo up\nlink add ${lab.switchBridge} type bridge\nlink set ${lab.switchBridge} up\n`,
  });
}

/**
 * A new namespace NETNS with a veth to the switch: SWITCHPORT on the switch's bridge (up), UNDERLAY_IF
 * in NETNS (left down, for the caller to address). Both ends are made where they live: nothing ever
 * appears in the root namespace.
 */
export async function plugIntoSwitch(
  runner: Runner,
  lab: LabLayout,
  n: { netns: string; switchPort: string },
  state: LabStateFile,
): Promise<void> {
  state.addNetns(n.netns);
  await runner.run('ip', ['netns', 'add', n.netns]);
  await runner.run('ip', [
    '-n',
    lab.switchNetns,
    'link',
    'add',
    n.switchPort,
    'type',
    'veth',
    'peer',
    'name',
    UNDERLAY_IF,
    'netns',
    n.netns,
  ]);
  await runner.run('ip', ['-n', lab.switchNetns, 'link', 'set', n.switchPort, 'master', lab.switchBridge, 'up']);
}
