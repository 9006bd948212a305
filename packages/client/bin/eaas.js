#!/usr/bin/env node
// The `eaas` command line: the compiled entry, built by `npm run build` (npm runs it on install).
import('../dist/cli/main.js').then(
  ({ main }) => main(process.argv.slice(2)),
  (error) => {
    process.stderr.write(
      `eaas: the command line is not built (${error.message}); run npm run build in its package.\n`,
    );
    process.exitCode = 70;
  },
);
