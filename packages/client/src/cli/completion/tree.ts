import type { Command } from 'commander';

/** One command of the tree as completion sees it: its path, subcommands and options. */
export interface Node {
  /** Space-separated names from the program down ('' for the program itself). */
  path: string;
  description: string;
  children: { name: string; description: string }[];
  options: { flag: string; short?: string; description: string; takesValue: boolean }[];
}

/** Every command of the program, the program first; the program's options count everywhere. */
export function commandTree(program: Command): Node[] {
  const globals = optionsOf(program);
  const nodes: Node[] = [];
  const walk = (command: Command, path: string) => {
    const own = path === '' ? [] : optionsOf(command);
    // `--version` is the program's alone; the other options of the program count everywhere.
    const inherited = path === '' ? globals : globals.filter((o) => o.flag !== '--version');
    nodes.push({
      path,
      description: command.description(),
      children: command.commands.map((c) => ({ name: c.name(), description: c.description() })),
      options: [
        ...own,
        ...inherited,
        { flag: '--help', short: '-h', description: 'display help', takesValue: false },
      ],
    });
    for (const sub of command.commands) walk(sub, path === '' ? sub.name() : `${path} ${sub.name()}`);
  };
  walk(program, '');
  return nodes;
}

function optionsOf(command: Command): Node['options'] {
  return command.options
    .filter((o) => o.long && !o.hidden)
    .map((o) => ({
      flag: o.long as string,
      ...(o.short ? { short: o.short } : {}),
      description: o.description,
      takesValue: o.required || o.optional,
    }));
}

/** Text safe inside single quotes of any of the three shells. */
export const quoted = (text: string): string => `'${text.replace(/'/g, "'\\''")}'`;
