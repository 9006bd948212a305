import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/core/errors.js';
import { ALICE, callerOf, KEY_A, recordOf, uploadWorld } from '../helpers/upload-world.js';

/** The sweep over pending uploads, against in-memory buckets and data keys. */

const alice = callerOf(ALICE, [KEY_A]);

describe('the sweep', () => {
  it('seals what a dead seal left, expires what nobody uploaded, and drops the markers of finished uploads', async () => {
    const world = uploadWorld();
    const { uploads, staging, clock } = world;
    const left = await uploads.create(alice, { key: 'left', keyId: KEY_A, size: 2 });
    staging.set(`incoming/${left.id}`, 'hi');
    const idle = await uploads.create(alice, { key: 'idle', keyId: KEY_A, size: 2 });
    const done = await uploads.create(alice, { key: 'done', keyId: KEY_A, size: 2 });
    staging.set(`incoming/${done.id}`, 'ok');
    expect(await uploads.seal(done.id)).toBe('sealed');
    // The marker of an upload finished by a step that died before removing it.
    staging.set(`pending/${done.id}`, '');
    staging.set('pending/not-an-id', '');
    clock.advance(901);
    expect(await uploads.sweep()).toEqual({ sealed: 1, expired: 1, failed: 0, oldestUnsealedSeconds: 0 });
    expect(recordOf(staging, left.id).state).toBe('sealed');
    expect(recordOf(staging, idle.id).error.code).toBe('Expired');
    expect([...staging.objects.keys()].filter((k) => k.startsWith('pending/'))).toEqual([
      'pending/not-an-id',
    ]);
    expect(await uploads.sweep()).toEqual({ sealed: 0, expired: 0, failed: 0, oldestUnsealedSeconds: 0 });
  });

  it('leaves pending uploads in time alone, and one a live seal holds', async () => {
    const { uploads, staging } = uploadWorld();
    const waiting = await uploads.create(alice, { key: 'waiting', keyId: KEY_A, size: 2 });
    const held = await uploads.create(alice, { key: 'held', keyId: KEY_A, size: 2 });
    staging.set(`incoming/${held.id}`, 'hi');
    const record = recordOf(staging, held.id);
    staging.set(
      `records/${held.id}.json`,
      JSON.stringify({ ...record, leaseUntil: '2026-05-01T10:01:00.000Z' }),
    );
    expect(await uploads.sweep()).toEqual({ sealed: 0, expired: 0, failed: 0, oldestUnsealedSeconds: 0 });
    expect(recordOf(staging, waiting.id).state).toBe('pending');
    expect(recordOf(staging, held.id).state).toBe('pending');
  });

  it('logs an upload it could not seal (its id and error, no content) and goes on with the others', async () => {
    const world = uploadWorld();
    const { uploads, staging, keys } = world;
    const ids: string[] = [];
    for (const key of ['a', 'b']) {
      const { id } = await uploads.create(alice, { key, keyId: KEY_A, size: 2 });
      staging.set(`incoming/${id}`, 'hi');
      ids.push(id);
    }
    keys.fail(new DomainError('DependencyFailure', 'KMS did not answer.'));
    const logged: Record<string, unknown>[] = [];
    expect(await uploads.sweep((_message, extra) => logged.push(extra))).toEqual({
      sealed: 1,
      expired: 0,
      failed: 1,
      oldestUnsealedSeconds: 0,
    });
    const first = [...ids].sort()[0];
    expect(logged).toEqual([
      { uploadId: first, error: expect.stringContaining('DependencyFailure'), reason: 'KMS did not answer.' },
    ]);
    expect(await uploads.sweep()).toEqual({ sealed: 1, expired: 0, failed: 0, oldestUnsealedSeconds: 0 });
  });

  it('walks every page of markers', async () => {
    const { uploads, staging } = uploadWorld();
    for (let i = 0; i < 205; i++) await uploads.create(alice, { key: `k${i}`, keyId: KEY_A, size: 1 });
    const lists = staging.calls.list;
    await uploads.sweep();
    expect(staging.calls.list - lists).toBe(3);
  });
});
