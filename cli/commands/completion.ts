// fleetnet completion bash|zsh|fish: a completion script generated from the command tree.
import { Argument, type Command } from 'commander';

const HELP = `
Load it into this shell, or install it for good:
  bash:  source <(fleetnet completion bash)     fleetnet completion bash > /etc/bash_completion.d/fleetnet
  zsh:   source <(fleetnet completion zsh)      fleetnet completion zsh > "\${fpath[1]}/_fleetnet"   (after compinit)
  fish:  fleetnet completion fish | source      fleetnet completion fish > ~/.config/fish/completions/fleetnet.fish`;

export function register(program: Command): void {
  program
    .command('completion')
    .summary('print a shell completion script (bash, zsh, fish)')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(['bash', 'zsh', 'fish']))
    .addHelpText('after', HELP)
    .action(async (shell: 'bash' | 'zsh' | 'fish') => {
      const c = await import('../output/completion.js');
      const tree = c.completionTree(program);
      process.stdout.write(
        shell === 'bash' ? c.bashScript(tree) : shell === 'zsh' ? c.zshScript(tree) : c.fishScript(tree),
      );
    });
}
