import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEY_USER } from '@eaas/aws-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, finished, runCli, startCli } from '../helpers/cli-docs-run.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * `eaas put/get/ls/head/rm` as processes against the local stack: round trips through files and
 * pipes, JSON answers, errors on standard error only, and a put killed half-way that the next run
 * resumes, sending only the parts S3 does not hold.
 */

let t: TestStack;
let home: string;
let env: NodeJS.ProcessEnv;
const MiB = 1024 * 1024;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  t = await startTestStack();
  home = mkdtempSync(join(tmpdir(), 'eaas-cli-docs-'));
  env = { ...cliEnv(t, KEY_USER, home), EAAS_KEY_ID: 'alias/eaas-default' };
});
afterAll(async () => {
  await t.stop();
  rmSync(home, { recursive: true, force: true });
});

const json = (out: Buffer) => JSON.parse(out.toString('utf8'));

describe('eaas put and get', () => {
  it('round-trips empty, 1 byte, 4 KiB, 4 KiB + 1 and 5 MiB through files and pipes', async () => {
    await Promise.all(
      [0, 1, 4096, 4097, 5 * MiB].map(async (size) => {
        const bytes = randomBytes(size);
        const file = join(home, `in-${size}`);
        writeFileSync(file, bytes);
        const [put, fromStdin] = await Promise.all([
          runCli(['put', file, `cli/rt-${size}`, '--context', 'tenant=acme'], env),
          runCli(['put', '-', `cli/stdin-${size}`], env, bytes),
        ]);
        expect([put.code, put.stderr, fromStdin.code]).toEqual([0, '', 0]);
        expect(json(put.stdout)).toMatchObject({ key: `cli/rt-${size}`, size });
        const copy = join(home, `out-${size}`);
        const [got, piped] = await Promise.all([
          runCli(['get', `cli/rt-${size}`, copy], env),
          runCli(['get', `cli/stdin-${size}`, '-'], env),
        ]);
        expect([got.code, got.stderr, piped.code]).toEqual([0, '', 0]);
        expect(sha(readFileSync(copy))).toBe(sha(bytes));
        expect(statSync(copy).mode & 0o777).toBe(0o600);
        expect(sha(piped.stdout)).toBe(sha(bytes));
      }),
    );
  });

  it('round-trips a multipart document (20 MiB) from a file and from a pipe', async () => {
    const bytes = randomBytes(20 * MiB);
    const file = join(home, 'big.bin');
    writeFileSync(file, bytes);
    const put = await runCli(['put', file, 'cli/big.bin'], env);
    expect([put.code, put.stderr]).toEqual([0, '']);
    expect(json(put.stdout)).toMatchObject({
      key: 'cli/big.bin',
      size: bytes.length,
      format: 's3ec-v3',
      resumedParts: 0,
    });
    expect(sha((await runCli(['get', 'cli/big.bin', '-'], env)).stdout)).toBe(sha(bytes));
    const piped = await runCli(['put', '-', 'cli/big-stdin.bin'], env, file);
    expect([piped.code, piped.stderr]).toEqual([0, '']);
    const copy = join(home, 'big-copy.bin');
    expect((await runCli(['get', 'cli/big-stdin.bin', copy], env)).code).toBe(0);
    expect(sha(readFileSync(copy))).toBe(sha(bytes));
    // Nothing of the uploads is kept once they are sealed.
    expect(readdirSync(join(home, 'state', 'eaas', 'uploads'))).toEqual([]);
  });
});

describe('eaas ls, head, rm', () => {
  it('lists every page as JSON, describes, deletes, and answers a missing document with exit 5', async () => {
    const puts = await Promise.all(
      [1, 2, 3].map((n) => runCli(['put', '-', `cli-ls/doc-${n}`], env, Buffer.from(`doc ${n}`))),
    );
    expect(puts.map((r) => r.code)).toEqual([0, 0, 0]);
    const all = await runCli(['ls', 'cli-ls/', '-o', 'json'], env);
    expect(all.code).toBe(0);
    expect(json(all.stdout).objects.map((o: { key: string }) => o.key)).toEqual([
      'cli-ls/doc-1',
      'cli-ls/doc-2',
      'cli-ls/doc-3',
    ]);
    const limited = json((await runCli(['ls', 'cli-ls/', '--limit', '2'], env)).stdout);
    expect(limited.objects).toHaveLength(2);
    expect(typeof limited.nextToken).toBe('string');
    const rest = json((await runCli(['ls', 'cli-ls/', '--next-token', limited.nextToken], env)).stdout);
    expect(rest.objects.map((o: { key: string }) => o.key)).toEqual(['cli-ls/doc-3']);
    const head = json((await runCli(['head', 'cli-ls/doc-2'], env)).stdout);
    expect(head).toMatchObject({ key: 'cli-ls/doc-2', size: 5, format: 's3ec-v3' });
    expect(json((await runCli(['rm', 'cli-ls/doc-2'], env)).stdout)).toMatchObject({
      key: 'cli-ls/doc-2',
      deleted: true,
    });
    for (const args of [
      ['head', 'cli-ls/doc-2'],
      ['get', 'cli-ls/doc-2', '-'],
      ['rm', 'cli-ls/doc-2'],
    ]) {
      const r = await runCli(args, env);
      expect(r.code).toBe(5);
      expect(r.stdout.length).toBe(0);
      expect(r.stderr).toMatch(/^eaas: NotFound: /);
    }
    const taken = await runCli(['put', '-', 'cli-ls/doc-1', '--no-overwrite'], env, Buffer.from('again'));
    expect([taken.code, taken.stdout.length]).toEqual([6, 0]);
    expect(taken.stderr).toMatch(/^eaas: PreconditionFailed: /);
    const missingFile = await runCli(['put', join(home, 'nope'), 'cli-ls/x'], env);
    expect([missingFile.code, missingFile.stdout.length]).toEqual([2, 0]);
    expect(missingFile.stderr).toMatch(/^eaas: NoSuchFile: /);
  });
});

describe('an interrupted put', () => {
  it('resumes from the parts already uploaded when run again', async () => {
    const bytes = randomBytes(40 * MiB);
    const file = join(home, 'resume.bin');
    writeFileSync(file, bytes);
    const args = ['put', file, 'cli/resume.bin', '--concurrency', '1', '--seal', 'service'];
    // 8 MiB parts at 16 MiB/s: the first run is killed once two parts are in S3.
    const child = await startCli([...args, '--max-rate', String(16 * MiB)], env);
    const done = finished(child);
    const states = join(home, 'state', 'eaas', 'uploads');
    let held = 0;
    for (let i = 0; i < 200 && held < 2; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const names = (() => {
        try {
          return readdirSync(states);
        } catch {
          return [];
        }
      })().filter((n) => n.endsWith('.json'));
      const name = names[0];
      if (!name) continue;
      const { uploadId } = JSON.parse(readFileSync(join(states, name), 'utf8'));
      held = (await t.client(KEY_USER).documents.resumeUpload(uploadId)).uploaded.length;
    }
    child.kill('SIGKILL');
    const first = await done;
    expect(first.signal).toBe('SIGKILL');
    expect(held).toBeGreaterThanOrEqual(2);
    const [stateFile] = readdirSync(states);
    expect(statSync(join(states, stateFile ?? '')).mode & 0o777).toBe(0o600);
    const kept = readFileSync(join(states, stateFile ?? ''), 'utf8');
    expect(Object.keys(JSON.parse(kept)).sort()).toEqual(['expiresAt', 'uploadId', 'v']);

    const second = await runCli(args, env);
    expect([second.code, second.stderr]).toEqual([0, '']);
    const out = json(second.stdout);
    expect(out.resumedParts).toBeGreaterThanOrEqual(held);
    expect(out.resumedParts).toBeLessThan(5);
    expect(readdirSync(states)).toEqual([]);
    expect(sha((await runCli(['get', 'cli/resume.bin', '-'], env)).stdout)).toBe(sha(bytes));
  });
});

describe('a put sealed in the client (the default)', () => {
  const states = () => {
    try {
      return readdirSync(join(home, 'state', 'eaas', 'uploads')).filter((n) => n.endsWith('.json'));
    } catch {
      return [];
    }
  };

  it('is encrypted here into the vault; killed half-way it leaves nothing, and the next run cancels it and starts over', async () => {
    const bytes = randomBytes(24 * MiB);
    const file = join(home, 'sealed-here.bin');
    writeFileSync(file, bytes);
    const args = ['put', file, 'cli/sealed-here.bin', '--concurrency', '1'];
    // 8 MiB parts at 8 MiB/s: killed once the upload exists, before its last part.
    const child = await startCli([...args, '--max-rate', String(8 * MiB)], env);
    const done = finished(child);
    for (let i = 0; i < 200 && states().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    const [name] = states();
    const { uploadId } = JSON.parse(readFileSync(join(home, 'state', 'eaas', 'uploads', name ?? ''), 'utf8'));
    const api = t.client(KEY_USER).documents;
    expect((await api.getUpload(uploadId)).state).toBe('pending');
    // Nothing at the name until it completes.
    const head = await runCli(['head', 'cli/sealed-here.bin'], env);
    expect(head.code).toBe(5);

    const second = await runCli(args, env);
    expect([second.code, second.stderr]).toEqual([0, '']);
    const out = json(second.stdout);
    expect(out).toMatchObject({
      key: 'cli/sealed-here.bin',
      size: bytes.length,
      format: 's3ec-v3',
      resumedParts: 0,
    });
    expect(out.uploadId).not.toBe(uploadId);
    expect(await api.getUpload(uploadId)).toMatchObject({ state: 'failed', error: { code: 'Cancelled' } });
    expect(states()).toEqual([]);
    expect(sha((await runCli(['get', 'cli/sealed-here.bin', '-'], env)).stdout)).toBe(sha(bytes));
  });

  it('refuses a --seal it does not know', async () => {
    const file = join(home, 'seal-bogus.bin');
    writeFileSync(file, randomBytes(10));
    const run = await runCli(['put', file, 'cli/seal-bogus.bin', '--seal', 'nobody'], env);
    expect([run.code, run.stdout.length]).toEqual([2, 0]);
    expect(run.stderr).toMatch(/--seal is client or service/);
  });
});
