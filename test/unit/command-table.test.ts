// cli/command-table.ts: a process registers only the command it runs; for each command that must
// give exactly what registering every command gives under that name.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Command } from 'commander';
import {
  ALL_COMMANDS,
  COMMAND_MODULES,
  commandModules,
  commandWord,
  type CommandModule,
} from '../../cli/command-table.js';

interface Shape {
  name: string;
  aliases: string[];
  options: string[];
  args: string[];
  summary: string;
  commands: Shape[];
}
const shape = (c: Command): Shape => ({
  name: c.name(),
  aliases: c.aliases(),
  options: c.options.map((o) => `${o.flags} ${o.description} ${String(o.defaultValue)}`),
  args: c.registeredArguments.map((a) => `${a.name()} ${String(a.required)} ${String(a.variadic)}`),
  summary: c.summary(),
  commands: c.commands.map(shape),
});

function programWith(mods: readonly CommandModule[]): Command {
  const p = new Command('fleetnet');
  for (const m of mods) m.register(p);
  return p;
}

it('each command registered alone is the same command as in the full registration', () => {
  const full = programWith(ALL_COMMANDS);
  const names = full.commands.map((c) => c.name());
  assert.deepEqual([...names].sort(), Object.keys(COMMAND_MODULES).sort(), 'every top-level command is in the table');
  for (const name of names) {
    const alone = programWith(COMMAND_MODULES[name]!);
    // host-bootstrap, registered with host, also makes a bare `controller` to extend: never run then.
    // completion describes every command, so it registers them all
    if (name !== 'completion')
      assert.ok(alone.commands.length < full.commands.length, `${name}: fewer commands registered than all`);
    const mine = alone.commands.find((c) => c.name() === name);
    assert.ok(mine, `${name} is registered`);
    assert.deepEqual(
      shape(mine),
      shape(full.commands.find((c) => c.name() === name)!),
      `${name}: same subcommands, options and help`,
    );
  }
});

it('finds the command word after the global options; anything unclear registers every command', () => {
  assert.equal(commandWord(['attach', 'br1', 'web1', '10.1.1.5/24']), 'attach');
  assert.equal(commandWord(['--socket', '/run/x.sock', 'attach', 'br1']), 'attach');
  assert.equal(commandWord(['--controller', '10.0.0.1:7440', '--local', 'ls', '--json']), 'ls');
  assert.equal(commandWord(['--socket=/run/x.sock', 'detach', 'web1']), 'detach');
  assert.equal(commandWord(['--version']), undefined);
  assert.equal(commandWord(['--', 'attach']), undefined);
  assert.equal(commandModules(['attach', 'x']), COMMAND_MODULES.attach);
  assert.equal(commandModules(['host', 'add', 'h1']), COMMAND_MODULES.host);
  for (const args of [[], ['--help'], ['help', 'attach'], ['atach', 'br1'], ['constructor'], ['--socket']]) {
    assert.equal(commandModules(args), ALL_COMMANDS, JSON.stringify(args));
  }
});
