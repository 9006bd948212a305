import { Argument, type Command } from 'commander';
import { bashScript, fishScript, type Shell, zshScript } from '../completion/scripts.js';
import { commandTree } from '../completion/tree.js';
import type { Runtime } from '../runtime.js';

const INSTRUCTIONS = `
Install:
  bash  eaas completion bash > ~/.local/share/bash-completion/completions/eaas
        (or add to ~/.bashrc: source <(eaas completion bash))
  zsh   add to ~/.zshrc: source <(eaas completion zsh)
  fish  eaas completion fish > ~/.config/fish/completions/eaas.fish
Then open a new shell. The script completes commands, subcommands and options.
`;

const SCRIPTS = { bash: bashScript, zsh: zshScript, fish: fishScript } as const;

/** `eaas completion bash|zsh|fish`: a completion script made from the program's command tree. */
export function register(program: Command, runtime: Runtime): void {
  program
    .command('completion')
    .description('print a shell completion script (bash, zsh or fish)')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh', 'fish']))
    .addHelpText('after', INSTRUCTIONS)
    .action((shell: Shell) => {
      runtime.stdout.write(SCRIPTS[shell](commandTree(program)));
    });
}
