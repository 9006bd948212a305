import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The workspace's client package is read from its TypeScript source here, as its `eaas-source`
 * export condition says (tsconfig's customConditions and tsx's --conditions likewise); people who
 * install it get the built `dist/`.
 */
/**
 * Test files of a project share one module graph (`isolate: false`): with one worker on a 2-CPU
 * machine the files run one after another, and loading the AWS SDK, the emulators and the service
 * again for each of ~150 files took a quarter of the suite's time. Each file still starts its own
 * stack on its own ports and data dir (test/helpers/local-stack.ts), so no state is shared but the
 * modules'. The browser and `npm start` tests (e2e) keep a fresh process each.
 */
const shared = { isolate: false } as const;

const resolve = {
  alias: [
    {
      find: /^@eaas\/client\/cli$/,
      replacement: fileURLToPath(new URL('./packages/client/src/cli/index.ts', import.meta.url)),
    },
    {
      find: /^@eaas\/client$/,
      replacement: fileURLToPath(new URL('./packages/client/src/index.ts', import.meta.url)),
    },
  ],
};

export default defineConfig({
  test: {
    projects: [
      {
        resolve,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node', ...shared },
      },
      // The upload page's own logic (credential renewal, sign-out), with fakes for the browser's storage.
      { resolve, test: { name: 'web', include: ['web/test/**/*.test.ts'], environment: 'node', ...shared } },
      // The workspace packages' own tests: AWS's rules, and the emulators with their conformance suite.
      {
        resolve,
        test: {
          name: 'aws-rules',
          include: ['packages/aws-rules/test/**/*.test.ts'],
          environment: 'node',
          ...shared,
        },
      },
      {
        resolve,
        test: {
          name: 'client',
          include: ['packages/client/test/**/*.test.ts'],
          environment: 'node',
          ...shared,
        },
      },
      {
        resolve,
        test: {
          name: 'aws-local',
          include: ['packages/aws-local/test/**/*.test.ts'],
          environment: 'node',
          ...shared,
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        resolve,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          ...shared,
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        resolve,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // The upload page is built once before the e2e tests that load it in a browser.
          globalSetup: ['test/e2e/web-build.setup.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
