// The `eaas` command line from its TypeScript source, for process tests (test/helpers/cli-docs-run.ts).
import { main } from '../../packages/client/src/cli/main.js';

await main(process.argv.slice(2));
