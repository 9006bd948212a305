import { describe, expect, it } from 'vitest';
import { matchesBinaryMediaType } from '../../local/api-settings.js';
import { MethodThrottles } from '../../local/throttle.js';

/** API Gateway's matching of a Content-Type or first Accept type against binaryMediaTypes (api-gateway-payload-encodings.html). */
describe('binary media type matching', () => {
  it.each([
    [['*/*'], 'text/plain', true],
    [['*/*'], undefined, true],
    [['image/*'], 'image/png', true],
    [['image/*'], 'application/png', false],
    [['application/octet-stream'], 'Application/Octet-Stream; charset=binary', true],
    [['application/octet-stream'], 'application/json', false],
    [['application/octet-stream'], undefined, false],
    // Only the first Accept type counts.
    [['application/octet-stream'], 'application/json, application/octet-stream', false],
    [['application/octet-stream'], 'application/octet-stream, application/json', true],
    [[], 'application/octet-stream', false],
  ])('%j against %s: %s', (list, header, expected) => {
    expect(matchesBinaryMediaType(list, header)).toBe(expected);
  });
});

describe('method throttles', () => {
  it('refill at the rate up to the burst, a bucket per method, the stage numbers for a method without its own', () => {
    let now = 0;
    const t = new MethodThrottles(
      { rate: 1, burst: 2 },
      { 'POST /v1/encrypt': { rate: 10, burst: 1 } },
      () => now,
    );
    expect([t.take('GET /v1/whoami'), t.take('GET /v1/whoami'), t.take('GET /v1/whoami')]).toEqual([
      true,
      true,
      false,
    ]);
    expect(t.take('GET /v1/keys')).toBe(true);
    expect([t.take('POST /v1/encrypt'), t.take('POST /v1/encrypt')]).toEqual([true, false]);
    now = 100; // 0.1 s: one token at 10/s, none yet at 1/s
    expect(t.take('POST /v1/encrypt')).toBe(true);
    expect(t.take('GET /v1/whoami')).toBe(false);
    now = 10_000; // never more than the burst
    expect([t.take('GET /v1/whoami'), t.take('GET /v1/whoami'), t.take('GET /v1/whoami')]).toEqual([
      true,
      true,
      false,
    ]);
  });
});
