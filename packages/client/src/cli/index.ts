/**
 * The command line as a library (`@eaas/client/cli`): run it in-process with your own streams
 * (`main(argv, runtime)`), build its program, or reuse its parts (settings, output, exit codes,
 * completion scripts). The `eaas` bin is `main(process.argv.slice(2))`.
 */
export { finish as finishWatchedJob } from './commands/jobs.js';
export { bashScript, fishScript, type Shell, zshScript } from './completion/scripts.js';
export { commandTree, type Node as CommandNode } from './completion/tree.js';
export { type ConfigFile, configPath, type GlobalOptions, resolveSettings, type Settings } from './config.js';
export { CliError, EXIT, type ExitCode, exitCodeOf, UsageError } from './exit-codes.js';
export { parseContext } from './input.js';
export { FINISHED as FINISHED_JOB_STATES, watchJob } from './jobs/watch.js';
export { describeError, main } from './main.js';
export { fields, type OutputFormat, outputFormatOf, Printer, table } from './output.js';
export { createProgram } from './program.js';
export { type CommandContext, contextOf, processRuntime, type Runtime } from './runtime.js';
