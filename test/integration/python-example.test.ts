import { execFile, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { KEY_USER } from '@eaas/aws-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/** docs/examples/python/eaas_example.py, run as the docs say, against the local stack. */
const exec = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const hasBotocore = (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import botocore.auth'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
// CI installs python3-botocore: there a missing one is a failure, not a skip.
const skip = !hasBotocore && process.env.CI !== 'true';

let stack: TestStack;
beforeAll(async () => {
  if (!skip) stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

describe.skipIf(skip)('the Python example (botocore SigV4)', () => {
  it('signs for execute-api and runs encrypt, decrypt, a data key and a document round trip', async () => {
    const user = stack.principal(KEY_USER);
    const { stdout, stderr } = await exec(PYTHON, ['docs/examples/python/eaas_example.py'], {
      env: {
        PATH: process.env.PATH,
        EAAS_ENDPOINT: stack.api,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: user.accessKeyId,
        AWS_SECRET_ACCESS_KEY: user.secretAccessKey,
        AWS_CONFIG_FILE: '/nonexistent',
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
      },
    });
    expect(stderr).toBe('');
    expect(stdout.trim().split('\n')).toEqual([
      `whoami: arn:aws:iam::111122223333:user/${KEY_USER}`,
      'encrypt: kms',
      'decrypt: round trip ok',
      'decrypt with another context: 400 InvalidCiphertext',
      expect.stringMatching(/^data key: 32 bytes, wrapped in \d+$/),
      'put: 200 s3ec-v3',
      'get: 200 text/plain 14 bytes',
      'stream: 200 14 bytes',
      'delete: True',
    ]);
  });

  it('refuses plain http to another machine, and a redirect (which would carry the signed headers away)', async () => {
    const user = stack.principal(KEY_USER);
    const run = (endpoint: string) =>
      exec(PYTHON, ['docs/examples/python/eaas_example.py'], {
        env: {
          PATH: process.env.PATH,
          EAAS_ENDPOINT: endpoint,
          AWS_ACCESS_KEY_ID: user.accessKeyId,
          AWS_SECRET_ACCESS_KEY: user.secretAccessKey,
          AWS_CONFIG_FILE: '/nonexistent',
          AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
        },
      }).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
      );

    const plain = await run('http://api.example.com');
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toContain('must be https://');

    // An endpoint that redirects to a second server: the second never sees a request.
    const reached: string[] = [];
    const target = createServer((req, res) => {
      reached.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      res.end('{}');
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const to = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
    const redirecting = createServer((req, res) => {
      res.writeHead(307, { location: `${to}${req.url}` });
      res.end();
    });
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
    try {
      const redirected = await run(`http://127.0.0.1:${(redirecting.address() as AddressInfo).port}`);
      expect(redirected.code).not.toBe(0);
      expect(redirected.stderr).toContain('ApiError: 307');
      expect(reached).toEqual([]);
    } finally {
      await Promise.all([target, redirecting].map((s) => new Promise((r) => s.close(r))));
    }
  });
});
