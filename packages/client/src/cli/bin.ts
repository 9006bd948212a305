// The `eaas` command line from its source (`tsx --conditions=eaas-source src/cli/bin.ts ...`, and
// the tests' bundle of it); installed, bin/eaas.js runs the built dist/cli/main.js.
import { main } from './main.js';

await main(process.argv.slice(2));
