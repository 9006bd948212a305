import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RefreshingCredentials, renewLead, type TemporaryCredentials } from '../src/credentials.js';

/** A fake identity pool: numbered credentials that live `lifetimeMs` from the moment they are issued. */
function fakePool(lifetimeMs: number) {
  let issued = 0;
  const fetch = vi.fn(async (): Promise<TemporaryCredentials> => {
    issued++;
    return {
      accessKeyId: `ASIA${issued}`,
      secretAccessKey: `secret-${issued}`,
      sessionToken: `token-${issued}`,
      expiration: new Date(Date.now() + lifetimeMs),
    };
  });
  return { fetch };
}

describe('RefreshingCredentials', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2026-12-05T12:00:00Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('renews a few minutes before the end of an hour, a quarter of a short lifetime before its end', () => {
    expect(renewLead(3_600_000)).toBe(300_000);
    expect(renewLead(20_000)).toBe(5_000);
    expect(renewLead(0)).toBe(500);
  });

  it('reuses credentials until they are due, then renews on its own before they expire, with no request needed', async () => {
    const pool = fakePool(20_000);
    const creds = new RefreshingCredentials(pool.fetch);
    expect((await creds.provider()).accessKeyId).toBe('ASIA1');
    await vi.advanceTimersByTimeAsync(14_000);
    expect((await creds.provider()).accessKeyId).toBe('ASIA1');
    expect(pool.fetch).toHaveBeenCalledTimes(1);
    // At 15 s (20 s less a quarter) the timer renews them, though nobody asked.
    await vi.advanceTimersByTimeAsync(1_100);
    expect(pool.fetch).toHaveBeenCalledTimes(2);
    expect((await creds.provider()).accessKeyId).toBe('ASIA2');
    expect(creds.expiresAt?.getTime()).toBe(Date.parse('2026-12-05T12:00:35Z'));
    creds.clear();
  });

  it('signs every request of a long upload with unexpired credentials, though each lives 20 s', async () => {
    const pool = fakePool(20_000);
    const creds = new RefreshingCredentials(pool.fetch);
    // A status poll every 700 ms for two minutes, as the page follows an upload.
    for (let t = 0; t < 120_000; t += 700) {
      const used = await creds.provider();
      expect(used.expiration?.getTime() ?? 0).toBeGreaterThan(Date.now() + 2_000);
      await vi.advanceTimersByTimeAsync(700);
    }
    // About one renewal per 15 s, not one per request.
    expect(pool.fetch.mock.calls.length).toBeGreaterThanOrEqual(8);
    expect(pool.fetch.mock.calls.length).toBeLessThanOrEqual(10);
    creds.clear();
  });

  it('asks the pool once for requests signed at the same time', async () => {
    const pool = fakePool(60_000);
    const creds = new RefreshingCredentials(pool.fetch);
    const all = await Promise.all([creds.provider(), creds.provider(), creds.provider()]);
    expect(new Set(all.map((c) => c.accessKeyId))).toEqual(new Set(['ASIA1']));
    expect(pool.fetch).toHaveBeenCalledTimes(1);
    creds.clear();
  });

  it('keeps using credentials still valid when a renewal fails, tries again before they expire, and reports the failure', async () => {
    const pool = fakePool(20_000);
    const failures: unknown[] = [];
    const creds = new RefreshingCredentials(pool.fetch, (e) => failures.push(e));
    await creds.provider();
    pool.fetch.mockRejectedValueOnce(new Error('network down'));
    pool.fetch.mockRejectedValueOnce(new Error('network down'));
    await vi.advanceTimersByTimeAsync(15_100);
    expect(failures).toHaveLength(1);
    // A request now tries to renew, fails, and signs with the credentials held.
    expect((await creds.provider()).accessKeyId).toBe('ASIA1');
    // The retry comes within the 5 s left, and succeeds.
    await vi.advanceTimersByTimeAsync(3_000);
    expect((await creds.provider()).accessKeyId).toBe('ASIA2');
    creds.clear();
  });

  it('refuses to sign with credentials past their end when no new ones come', async () => {
    const pool = fakePool(10_000);
    const creds = new RefreshingCredentials(pool.fetch);
    await creds.provider();
    pool.fetch.mockRejectedValue(new Error('refresh token revoked'));
    await vi.advanceTimersByTimeAsync(9_000);
    await expect(creds.provider()).rejects.toThrow('refresh token revoked');
    creds.clear();
  });

  it('forgets everything on clear(): no timer left, and a fetch that answers after sign-out is dropped', async () => {
    let answer: ((c: TemporaryCredentials) => void) | undefined;
    const fetch = vi.fn(
      () =>
        new Promise<TemporaryCredentials>((resolve) => {
          answer = resolve;
        }),
    );
    const creds = new RefreshingCredentials(fetch);
    const late = creds.provider();
    creds.clear();
    answer?.({ accessKeyId: 'ASIALATE', secretAccessKey: 's', expiration: new Date(Date.now() + 60_000) });
    await expect(late).rejects.toThrow('Signed out.');
    expect(creds.expiresAt).toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
  });
});
