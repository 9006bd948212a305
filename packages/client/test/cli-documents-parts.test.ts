import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { byteMeter } from '../src/cli/commands/documents/progress.js';
import { readState, statePath, writeState } from '../src/cli/commands/documents/resume-state.js';
import { HeldSink, spoolInput } from '../src/cli/commands/documents/spool.js';
import type { CommandContext } from '../src/cli/runtime.js';

/** The documents commands' parts: the progress bar, the resume state file, held plaintext. */

describe('the progress bar', () => {
  it('draws bytes, rate and ETA on a terminal, and nothing when progress is off', async () => {
    const stderr = Object.assign(new PassThrough(), { isTTY: true, columns: 120 });
    let text = '';
    stderr.on('data', (c: Buffer) => {
      text += c.toString('utf8');
    });
    const ctx = (progress: boolean) => ({ progress, runtime: { stderr } }) as unknown as CommandContext;
    const meter = await byteMeter(ctx(true), 'put');
    meter.total(8 * 1024 * 1024);
    meter.update(4 * 1024 * 1024);
    meter.stop();
    expect(text).toMatch(/put .*50% \| 4\.0 MiB of 8\.0 MiB \| .*\/s \| ETA/);
    text = '';
    const quiet = await byteMeter(ctx(false), 'put');
    quiet.total(10);
    quiet.update(5);
    quiet.stop();
    expect(text).toBe('');
  });
});

describe('the resume state', () => {
  it('is one 0600 file per file and destination, holding only the id and expiry', async () => {
    const home = mkdtempSync(join(tmpdir(), 'eaas-state-'));
    try {
      const env = { XDG_STATE_HOME: home };
      const of = { path: '/a', size: 1, mtimeMs: 2, key: 'k', keyId: 'alias/x', endpoint: 'http://e' };
      const path = statePath(env, of);
      expect(path.startsWith(join(home, 'eaas', 'uploads'))).toBe(true);
      expect(statePath(env, { ...of, mtimeMs: 3 })).not.toBe(path);
      expect(statePath(env, { ...of, key: 'other' })).not.toBe(path);
      const entry = {
        v: 1 as const,
        uploadId: 'a'.repeat(32),
        expiresAt: new Date(Date.now() + 60_000).toISOString(),
      };
      await writeState(path, join(home, 'eaas', 'uploads'), entry);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(statSync(join(home, 'eaas', 'uploads')).mode & 0o777).toBe(0o700);
      expect(await readState(path)).toEqual(entry);
      expect(await readState(path, Date.now() + 120_000)).toBeUndefined();
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('held plaintext', () => {
  it('is kept in memory up to the limit, in a temporary file beyond, and released whole', async () => {
    for (const size of [10, 100]) {
      const sink = new HeldSink(32);
      const bytes = Buffer.alloc(size, 7);
      await new Promise<void>((resolve, reject) => sink.end(bytes, () => resolve()).on('error', reject));
      const out = new PassThrough();
      const chunks: Buffer[] = [];
      out.on('data', (c: Buffer) => chunks.push(c));
      await sink.release(out);
      await sink.discard();
      expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
    }
    const spooled = await spoolInput(Readable.from([Buffer.alloc(20), Buffer.alloc(20)]), 32);
    expect('handle' in spooled && spooled.size).toBe(40);
    if ('handle' in spooled) await spooled.handle.close();
    const kept = await spoolInput(Readable.from([Buffer.alloc(20)]), 32);
    expect('bytes' in kept && kept.bytes.length).toBe(20);
  });
});
