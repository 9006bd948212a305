import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AWS_CLI } from '@eaas/aws-local/testing/aws-cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DocsRun,
  docFiles,
  extractBlocks,
  REPO,
  rewritePorts,
  staticProblems,
} from '../../scripts/docs-commands.js';

/** The docs' commands need the AWS CLI and curl, which `.ci/run` installs: skipped without them, except in CI. */
const toolsAvailable = (existsSync(AWS_CLI) && existsSync('/usr/bin/curl')) || process.env.CI === 'true';

describe('the docs runner', () => {
  it('runs sh blocks, lists no-run blocks with their reason, and checks file= blocks', () => {
    // Prepare
    const markdown = [
      'Text.',
      '```sh',
      'echo one',
      '```',
      '```sh no-run (needs AWS credentials)',
      'npx osls deploy',
      '```',
      '```ts file=docs/examples/client.ts',
      'code',
      '```',
      '```text',
      'output',
      '```',
    ].join('\n');

    // Act
    const blocks = extractBlocks(markdown, 'x.md');

    // Assess
    expect(blocks.map((b) => [b.kind, b.line, b.note])).toEqual([
      ['run', 2, undefined],
      ['no-run', 5, '(needs AWS credentials)'],
      ['file', 8, 'docs/examples/client.ts'],
      ['other', 11, undefined],
    ]);
  });

  it('moves the documented default endpoints to the ports of the run', () => {
    expect(
      rewritePorts(
        'API_URL=http://127.0.0.1:3000 KMS=localhost:4599 S3=127.0.0.1:4569 LOGS=127.0.0.1:4586 BATCH=127.0.0.1:4570 x:30000',
        {
          api: 1,
          kms: 2,
          s3: 3,
          logs: 4,
          s3control: 5,
        },
      ),
    ).toBe(
      'API_URL=http://127.0.0.1:1 KMS=localhost:2 S3=127.0.0.1:3 LOGS=127.0.0.1:4 BATCH=127.0.0.1:5 x:30000',
    );
  });

  it('keeps the README short and leading with a walk that runs', () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    expect(readme.split('\n').length).toBeLessThanOrEqual(200);
    expect(extractBlocks(readme, 'README.md').filter((b) => b.kind === 'run').length).toBeGreaterThanOrEqual(
      5,
    );
  });

  it('finds every example shown in the docs equal to its file, and every relative link inside the repository', () => {
    expect(docFiles().flatMap(staticProblems)).toEqual([]);
  });
});

describe.skipIf(!toolsAvailable)('every command shown in README.md and docs/*.md', () => {
  let run: DocsRun;
  beforeAll(async () => {
    run = await DocsRun.start();
  }, 180_000);
  afterAll(async () => {
    await run?.stop();
  }, 30_000);

  for (const file of docFiles()) {
    it(`runs the shell blocks of ${file} in order against npm start`, { timeout: 360_000 }, async () => {
      // Throws, naming the block and its output, when a block exits non-zero.
      const result = await run.runFile(file);
      // The blocks not run are counted and listed, with the reason given in their fence.
      for (const block of result.notRun) console.log(`not run: ${file}:${block.line} ${block.note}`);
    });
  }
});
