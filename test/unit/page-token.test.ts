import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  InvalidPageTokenError,
  MAX_PAGE_TOKEN_LENGTH,
  PAGE_TOKEN_TTL_SECONDS,
  type PageBinding,
  PageTokens,
} from '../../src/core/page-token.js';
import { ERROR_STATUS } from '../../src/http/error-status.js';

const USER = 'arn:aws:iam::111122223333:user/myKeyUser';
const OUTSIDER = 'arn:aws:iam::111122223333:user/myOutsider';
const binding: PageBinding = { principal: USER, listing: 'listObjects', params: { prefix: 'a/' } };
const cursor = { after: 'globex/contract.pdf' };

function clock(start = Date.parse('2026-01-01T00:00:00Z')) {
  let now = start;
  return {
    now: () => new Date(now),
    advance: (seconds: number) => {
      now += seconds * 1000;
    },
  };
}

const refusal = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a refusal');
};

describe('page tokens', () => {
  const secret = randomBytes(32);

  it('open to the cursor they sealed, for the same caller, listing and parameters', () => {
    const tokens = new PageTokens(secret);
    const token = tokens.seal(binding, cursor);
    expect(tokens.open(binding, token)).toEqual(cursor);
    // The parameters' order does not matter; their values do.
    const two = { ...binding, params: { prefix: 'a/', keyId: 'k' } };
    expect(tokens.open({ ...binding, params: { keyId: 'k', prefix: 'a/' } }, tokens.seal(two, 1))).toBe(1);
  });

  it('are opaque: neither the cursor nor any name in it can be read from the token', () => {
    const token = new PageTokens(secret).seal(binding, cursor);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    for (const encoding of ['base64url', 'base64', 'latin1', 'utf8'] as const) {
      const decoded = Buffer.from(token, encoding === 'utf8' ? 'utf8' : 'base64url').toString(encoding);
      expect(decoded).not.toContain('globex');
      expect(decoded).not.toContain('contract');
    }
    // Two tokens of the same cursor differ (a fresh salt each time): nothing to compare.
    expect(new PageTokens(secret).seal(binding, cursor)).not.toBe(token);
  });

  it("refuse another caller's token, another listing's, and another prefix's, with InvalidPageToken", () => {
    const tokens = new PageTokens(secret);
    const token = tokens.seal(binding, cursor);
    for (const other of [
      { ...binding, principal: OUTSIDER },
      { ...binding, listing: 'listKeys' },
      { ...binding, params: { prefix: 'b/' } },
      { ...binding, params: {} },
      { ...binding, params: { prefix: 'a/', keyId: 'x' } },
    ]) {
      const error = refusal(() => tokens.open(other, token));
      expect(error).toBeInstanceOf(InvalidPageTokenError);
      expect((error as InvalidPageTokenError).code).toBe('InvalidPageToken');
      expect(ERROR_STATUS[(error as InvalidPageTokenError).code]).toBe(400);
    }
    expect(ERROR_STATUS.InvalidPageToken).toBe(400);
  });

  it('refuse every tampered token: each byte flipped, truncated, extended, re-spelled', () => {
    const tokens = new PageTokens(secret);
    const token = tokens.seal(binding, cursor);
    const raw = Buffer.from(token, 'base64url');
    for (let i = 0; i < raw.length; i++) {
      const changed = Buffer.from(raw);
      changed[i] = (changed[i] ?? 0) ^ 0x01;
      expect(() => tokens.open(binding, changed.toString('base64url')), `byte ${i}`).toThrow(
        InvalidPageTokenError,
      );
    }
    expect(() => tokens.open(binding, token.slice(0, -1))).toThrow(InvalidPageTokenError);
    expect(() => tokens.open(binding, `${token}A`)).toThrow(InvalidPageTokenError);
    expect(() => tokens.open(binding, Buffer.from(token, 'base64url').toString('base64'))).toThrow(
      InvalidPageTokenError,
    );
  });

  it('refuse forgeries: the old base64 JSON cursors, a token under another secret, junk', () => {
    const tokens = new PageTokens(secret);
    const old = Buffer.from(JSON.stringify(['globex/contract.pdf', 0])).toString('base64url');
    const foreign = new PageTokens(randomBytes(32)).seal(binding, cursor);
    for (const forged of [
      old,
      foreign,
      '',
      'not-a-token',
      'AAAA',
      'A'.repeat(MAX_PAGE_TOKEN_LENGTH + 1),
      '%%%',
    ])
      expect(() => tokens.open(binding, forged), forged.slice(0, 20)).toThrow(InvalidPageTokenError);
  });

  it('expire after 24 hours by the injected clock, with a message that says so', () => {
    const c = clock();
    const tokens = new PageTokens(secret, { now: c.now });
    const token = tokens.seal(binding, cursor);
    c.advance(PAGE_TOKEN_TTL_SECONDS);
    expect(tokens.open(binding, token)).toEqual(cursor);
    c.advance(1);
    const error = refusal(() => tokens.open(binding, token)) as InvalidPageTokenError;
    expect(error).toBeInstanceOf(InvalidPageTokenError);
    expect(error.message).toMatch(/expired/);
  });

  it('need a secret of at least 32 bytes', () => {
    expect(() => new PageTokens(randomBytes(31))).toThrow(/32 bytes/);
  });
});
