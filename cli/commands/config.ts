// fleetnet config: the CLI's settings file (~/.config/fleetnet/config.yaml): its contexts, which
// one is current, and which controller the CLI would use now (flags and environment included).
import type { Command } from 'commander';
import { addOutputOptions, formatHelp, outputOf } from '../output/format.js';

const FILE_HELP = `
The file (--config FILE, env FLEETNET_CONFIG, default ~/.config/fleetnet/config.yaml):
  current-context: prod
  contexts:
    prod:
      controllers: [10.0.0.2:7440, 10.0.0.3:7440]
    lab:
      controllers: [10.99.0.2:7440]
The controller used: --controller, else FLEETNET_CONTROLLER, else the context named by --context
or FLEETNET_CONTEXT, else current-context, else \`controller:\` in the file, else the local agent.`;

interface ContextRow {
  name: string;
  current: boolean;
  controllers: string[];
  description: string;
}

export function register(program: Command): void {
  const c = program
    .command('config')
    .summary("show the CLI's settings file, choose its current context")
    .description("The CLI's settings file: named contexts, each a fleet's controllers, and the current one.")
    .addHelpText('after', FILE_HELP);

  addOutputOptions(c.command('view'), { ids: 'context names' })
    .summary("the settings file's contexts and the controller in use")
    .addHelpText('after', formatHelp(['{{name}} {{join controllers ","}}']))
    .action(async (_opts: unknown, cmd: Command) => {
      const spec = await outputOf(cmd);
      const [{ loadCliConfig, chooseController, configFilePath }, { render }] = await Promise.all([
        import('../client/controller-address.js'),
        import('../output/render.js'),
      ]);
      const g = cmd.optsWithGlobals();
      const cfg = await loadCliConfig(g);
      const inUse = await chooseController(g);
      const items: ContextRow[] = Object.entries(cfg?.contexts ?? {}).map(([name, x]) => ({
        name,
        current: name === cfg?.currentContext,
        controllers: x.controllers,
        description: x.description ?? '',
      }));
      const file = cfg?.path ?? configFilePath(process.env, g.config as string | undefined).path;
      const whole = {
        file,
        exists: cfg !== undefined,
        currentContext: cfg?.currentContext ?? null,
        contexts: items,
        controller: cfg?.controller ?? null,
        inUse: inUse ? { controllers: inUse.addrs, from: inUse.from } : null,
      };
      const using = inUse ? `${inUse.addr} (from ${inUse.from})` : "none: commands go to this host's agent";
      const heading = `file: ${file}${cfg ? '' : ' (absent)'}\ncontroller in use: ${using}`;
      await render(
        spec,
        { items, whole, heading },
        {
          columns: [
            ['CURRENT', (r) => (r.current ? '*' : '')],
            ['NAME', (r) => r.name],
            ['CONTROLLERS', (r) => r.controllers.join(',')],
            ['DESCRIPTION', (r) => r.description],
          ],
          id: (r) => r.name,
        },
      );
    });

  c.command('use-context')
    .argument('<name>', 'a context of the settings file')
    .summary('make NAME the current context (the rest of the file stays as written)')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const [{ configFilePath }, { useContext }] = await Promise.all([
        import('../client/controller-address.js'),
        import('../client/cli-config.js'),
      ]);
      const { existsSync } = await import('node:fs');
      const { invalid } = await import('../../common/errors.js');
      const path = configFilePath(process.env, cmd.optsWithGlobals().config as string | undefined).path;
      if (!existsSync(path)) {
        throw invalid(`there is no settings file ${path}`, 'make it with contexts: first (see fleetnet config --help)');
      }
      useContext(path, name);
      process.stdout.write(`current context: ${name} (${path})\n`);
    });

  c.command('current-context')
    .summary("print the current context's name")
    .action(async (_opts: unknown, cmd: Command) => {
      const { loadCliConfig } = await import('../client/controller-address.js');
      const cfg = await loadCliConfig(cmd.optsWithGlobals());
      if (!cfg?.currentContext) {
        const { invalid } = await import('../../common/errors.js');
        throw invalid('no current context is set', 'choose one with: fleetnet config use-context NAME');
      }
      process.stdout.write(`${cfg.currentContext}\n`);
    });
}
