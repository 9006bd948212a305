// The layering the design relies on (docs: "architecture"), checked by `npm run lint:deps`.
// Paths are relative to the repository root; npm modules resolve to node_modules/<name>/...,
// Node's own to their bare names, and the workspace packages (@eaas/*) to packages/<name>/....

/** Node's built-ins that do I/O or start processes: the pure core uses none of them. */
const NODE_IO = [
  'child_process',
  'cluster',
  'dgram',
  'dns',
  'fs',
  'http',
  'http2',
  'https',
  'inspector',
  'module',
  'net',
  'os',
  'process',
  'readline',
  'repl',
  'tls',
  'tty',
  'v8',
  'vm',
  'worker_threads',
];
const nodeIo = `^(node:)?(${NODE_IO.join('|')})(/|$)`;

/** An npm package by name, wherever the resolver finds it. */
const npm = (names) => `(^|/)node_modules/(${names})(/|$)`;

/** The AWS SDK, its Smithy runtime and the Encryption SDK: only adapters (src/aws) bind them. */
const AWS_SDK = npm('@aws-sdk/[^/]+|@smithy/[^/]+|@aws-crypto/[^/]+');
/** Lambda's runtime, types and middleware: only handlers and function entries know them. */
const LAMBDA = npm('@aws-lambda-powertools/[^/]+|@middy/[^/]+|@types/aws-lambda|aws-lambda');

/**
 * Development-only code production never loads: the emulators' package (by path or through its
 * workspace link), the local stack, tests, benchmarks, scripts, the page, and the deployment
 * tooling (deploy/: the framework's plugin and the policy check, which loads aws-cdk-lib).
 */
const DEV_ONLY = [
  '^packages/aws-local/',
  npm('@eaas/aws-local'),
  '^local/',
  '^deploy/',
  '^test/',
  '^bench/',
  '^scripts/',
  '^web/',
];

/** Production code: what Lambda bundles. */
const PRODUCTION = { path: '^src/' };

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'No import cycles anywhere, type-only imports included: a cycle means two modules are one ' +
        'idea in two files, or one of them holds a port or a helper that belongs lower down.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-is-pure',
      severity: 'error',
      comment:
        'src/core is the pure domain: no AWS SDK, Smithy or Encryption SDK, nothing of Lambda, no ' +
        "Node I/O. node:crypto and node:stream stay allowed: the envelope's AES-GCM, HKDF and " +
        'key-commitment code and its streaming seal/open are computation on bytes (no I/O, no ' +
        'process state), the same on Lambda as in tests, and node:crypto is what runs them at full ' +
        'speed; node:buffer, node:util and node:events are allowed for the same reason.',
      from: { path: '^src/core/' },
      to: { path: [AWS_SDK, LAMBDA, nodeIo] },
    },
    {
      name: 'core-imports-only-core',
      severity: 'error',
      comment:
        'src/core is the bottom layer: it imports nothing else from src/ (ports, services, adapters, ' +
        'HTTP and handlers all build on it, not the other way round). The shared AWS rules ' +
        '(packages/aws-rules) are below it and allowed.',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: '^src/core/' },
    },
    {
      name: 'services-reach-aws-through-ports',
      severity: 'error',
      comment:
        'Use cases see AWS only through the interfaces of src/ports.ts: no AWS SDK, Smithy or ' +
        'Encryption SDK, no adapter of src/aws, nothing of Lambda. The composition root hands them ' +
        'the adapters; unit tests hand them in-memory fakes.',
      from: { path: '^src/services/' },
      to: { path: [AWS_SDK, LAMBDA, '^src/aws/'] },
    },
    {
      name: 'services-below-http',
      severity: 'error',
      comment:
        'Use cases know nothing of HTTP, handlers, function entries or the composition root: those ' +
        'call services, never the reverse.',
      from: { path: '^src/services/' },
      to: { path: '^src/(http|handlers|functions|compose)([./]|$)' },
    },
    {
      name: 'ports-are-interfaces',
      severity: 'error',
      comment:
        'src/ports.ts declares the interfaces services and adapters share; it may name core types ' +
        'and nothing else of src/, so that both sides can import it without a cycle.',
      from: { path: '^src/ports\\.ts$' },
      to: { path: '^src/', pathNot: ['^src/core/', '^src/ports\\.ts$'] },
    },
    {
      name: 'adapters-implement-ports',
      severity: 'error',
      comment:
        'src/aws adapters implement ports over the AWS SDK: they import ports and core, never a ' +
        'service (a port declared in a service belongs in src/ports.ts), HTTP, a handler or the ' +
        'composition root.',
      from: { path: '^src/aws/' },
      to: { path: '^src/(services|http|handlers|functions|compose)([./]|$)' },
    },
    {
      name: 'adapters-only-from-composition-root',
      severity: 'error',
      comment:
        'Only the composition root (src/compose.ts or src/compose/) builds adapters; handlers take ' +
        'their services as an argument and function entries call the root, so each function bundles ' +
        'only what it uses.',
      from: { path: '^src/', pathNot: ['^src/aws/', '^src/compose([./]|$)'] },
      to: { path: '^src/aws/' },
    },
    {
      name: 'production-never-imports-dev-code',
      severity: 'error',
      comment:
        'What Lambda bundles (src/) never imports the emulators (packages/aws-local, ' +
        '@eaas/aws-local), the local stack (local/), tests, benchmarks, scripts, the page or the ' +
        'deployment tooling (deploy/).',
      from: PRODUCTION,
      to: { path: DEV_ONLY },
    },
    {
      name: 'production-no-dev-dependencies',
      severity: 'error',
      comment:
        'esbuild bundles whatever src/ imports, devDependencies included, without a word: production ' +
        'code imports only `dependencies` (type-only imports such as aws-lambda types are erased).',
      from: PRODUCTION,
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'production-validates-with-ajv-only',
      severity: 'error',
      comment:
        'One validation library in production: ajv (src/http/schemas.ts is the table). zod may stay ' +
        'in the emulators package and the local stack, which Lambda never bundles.',
      from: PRODUCTION,
      to: { path: npm('zod') },
    },
    {
      name: 'local-stack-is-development-only',
      severity: 'error',
      comment:
        'The local stack (local/) wires the service (src/) to the emulators (@eaas/aws-local); it ' +
        'imports no tests, benchmarks, scripts or page sources (it serves the built page as files).',
      from: { path: '^local/' },
      to: { path: '^(test|bench|scripts|web)/' },
    },
    {
      name: 'packages-through-their-names',
      severity: 'error',
      comment:
        'Code outside a workspace package reaches it by its name (@eaas/aws-local, ' +
        '@eaas/aws-local/testing/..., @eaas/aws-rules), through the exports of its package.json, ' +
        'never by a relative path into packages/: what a package exports is what it offers.',
      from: { pathNot: '^packages/' },
      to: { path: '^packages/', dependencyTypesNot: ['aliased-workspace'] },
    },
    {
      name: 'packages-stand-alone',
      severity: 'error',
      comment:
        'Workspace packages (packages/*) import nothing from the service, the local stack, tests, ' +
        'benchmarks, scripts or the page: they take option objects instead.',
      from: { path: '^packages/' },
      to: { path: '^(src|local|test|bench|scripts|web)/' },
    },
    {
      name: 'aws-rules-below-aws-local',
      severity: 'error',
      comment:
        "@eaas/aws-rules is AWS's documented rules, shared by the service and the emulators: it must " +
        'not depend on the emulators it serves.',
      from: { path: '^packages/aws-rules/' },
      to: { path: ['^packages/aws-local/', npm('@eaas/aws-local')] },
    },
    {
      name: 'web-page-imports-no-runtime-code-from-src',
      severity: 'error',
      comment:
        'The upload page (web/src) runs in browsers and talks to the service over HTTP: from src/ it ' +
        "may only share the API's shapes as type-only imports (erased at build, so nothing of Node " +
        'or AWS reaches the page).',
      from: { path: '^web/src/' },
      to: { path: '^src/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'web-page-shares-only-the-api-shapes',
      severity: 'error',
      comment:
        "Even type-only, the page names only the API's shapes: src/http (routes, schemas, answers) " +
        'and src/core/errors.ts (the error codes).',
      from: { path: '^web/src/' },
      to: { path: '^src/', pathNot: ['^src/http/', '^src/core/errors\\.ts$'] },
    },
    {
      name: 'web-page-no-node-built-ins',
      severity: 'error',
      comment: 'Browser code imports no Node built-in (web/build.ts, which runs esbuild, is not page code).',
      from: { path: '^web/src/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'web-page-no-dev-code',
      severity: 'error',
      comment: 'The page imports no emulator, local stack, test, benchmark or script code.',
      from: { path: '^web/src/' },
      to: { path: DEV_ONLY.filter((dir) => dir !== '^web/') },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'Every import resolves (a typo or a moved file shows here, not at run time).',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|coverage|\\.serverless|\\.esbuild|\\.eaas|test-artifacts)/' },
    // Type-only imports count: a port imported for its type still ties two layers together.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: { text: { highlightFocused: true } },
  },
};
