import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ACCOUNT_ID } from '../../src/defaults.js';
import { KEY_USER } from '../../src/identity.js';
import { startTestBatch, type TestBatch } from '../helpers/local-s3control.js';
import { rawS3 } from '../helpers/s3-raw.js';

/** What the SDK never sends: every bad request gets a 4xx with S3 Control's code, never a 500. */

let t: TestBatch;
beforeAll(async () => {
  t = await startTestBatch({});
});
afterAll(async () => {
  await t?.stop();
});

const send = (
  path: string,
  init: { method?: string; body?: string; headers?: Record<string, string>; signed?: boolean } = {},
) =>
  rawS3({
    endpoint: t.control.endpoint,
    principal: init.signed === false ? undefined : t.identities.byName(KEY_USER),
    method: init.method ?? 'GET',
    path,
    headers: { 'x-amz-account-id': DEFAULT_ACCOUNT_ID, ...init.headers },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });

describe('the local S3 Control refuses malformed requests with its codes', () => {
  it.each([
    ['not XML', '<CreateJobRequest'],
    ['another root', '<?xml version="1.0"?><Other/>'],
    ['a DOCTYPE', '<!DOCTYPE x [<!ENTITY e "x">]><CreateJobRequest/>'],
  ])('CreateJob with %s: 400 MalformedXML', async (_, body) => {
    const r = await send('/v20180820/jobs', { method: 'POST', body });
    expect(r.status).toBe(400);
    expect(r.text).toContain('<Code>MalformedXML</Code>');
  });

  it('CreateJob without its fields: 400 InvalidRequest', async () => {
    const r = await send('/v20180820/jobs', {
      method: 'POST',
      body: '<CreateJobRequest></CreateJobRequest>',
    });
    expect(r.status).toBe(400);
    expect(r.text).toContain('<Code>InvalidRequest</Code>');
  });

  it('a job id that does not decode: 400 InvalidRequest', async () => {
    const r = await send('/v20180820/jobs/%E0%A4%A');
    expect(r.status).toBe(400);
    expect(r.text).toContain('<Code>InvalidRequest</Code>');
  });

  it('an unknown path: 501 NotImplemented; a wrong method: 405', async () => {
    expect((await send('/v20180820/accesspoint')).status).toBe(501);
    expect((await send('/v20180820/jobs/abc', { method: 'DELETE' })).status).toBe(405);
  });

  it('no account: 400; another account: 403; unsigned: 403', async () => {
    const none = await rawS3({
      endpoint: t.control.endpoint,
      principal: t.identities.byName(KEY_USER),
      method: 'GET',
      path: '/v20180820/jobs',
    });
    expect(none.status).toBe(400);
    expect((await send('/v20180820/jobs', { headers: { 'x-amz-account-id': '222233334444' } })).status).toBe(
      403,
    );
    const unsigned = await send('/v20180820/jobs', { signed: false });
    expect(unsigned.status).toBe(403);
    expect(unsigned.text).toContain('<Code>AccessDenied</Code>');
  });

  it('bad query values: 400 InvalidRequest', async () => {
    const queries: Record<string, string>[] = [
      { maxResults: '5000' },
      { jobStatuses: 'Sleeping' },
      { nextToken: 'bm9wZQ' },
    ];
    for (const query of queries) {
      const r = await rawS3({
        endpoint: t.control.endpoint,
        principal: t.identities.byName(KEY_USER),
        method: 'GET',
        path: '/v20180820/jobs',
        query,
        headers: { 'x-amz-account-id': DEFAULT_ACCOUNT_ID },
      });
      expect(r.status, JSON.stringify(query)).toBe(400);
      expect(r.text).toContain('<Code>InvalidRequest</Code>');
    }
  });
});
