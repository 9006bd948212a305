import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The workspace's client package is read from its TypeScript source here, as its `eaas-source`
 * export condition says (tsconfig's customConditions and tsx's --conditions likewise); people who
 * install it get the built `dist/`.
 */
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
      { resolve, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' } },
      // The upload page's own logic (credential renewal, sign-out), with fakes for the browser's storage.
      { resolve, test: { name: 'web', include: ['web/test/**/*.test.ts'], environment: 'node' } },
      // The workspace packages' own tests: AWS's rules, and the emulators with their conformance suite.
      {
        resolve,
        test: {
          name: 'aws-rules',
          include: ['packages/aws-rules/test/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        resolve,
        test: { name: 'client', include: ['packages/client/test/**/*.test.ts'], environment: 'node' },
      },
      {
        resolve,
        test: {
          name: 'aws-local',
          include: ['packages/aws-local/test/**/*.test.ts'],
          environment: 'node',
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
