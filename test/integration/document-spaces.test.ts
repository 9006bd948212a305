import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadDocument, EaasClient, uploadDocument } from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGE_KEY_ALIAS } from '../../local/emulator-options.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * Each person's document space through the local stack over HTTP: two people with the identity
 * pool's credentials (PeopleRole sessions with their Cognito identity, as GetCredentialsForIdentity
 * issues them), whose requests the local gateway hands to the functions with
 * `requestContext.identity.cognito*` filled, as API Gateway does. The page key's policy decides;
 * the gateway refuses the routes PeopleRole may not invoke.
 */

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack();
});
afterAll(() => t.stop());

interface Person {
  identityId: string;
  client: EaasClient;
}

function signIn(sub: string): Person {
  const region = t.config.region;
  const identityId = `${region}:${randomUUID()}`;
  const provider = `cognito-idp.${region}.amazonaws.com/${region}_Spaces123`;
  const signInEntry = `${provider}:CognitoSignIn:${sub}`;
  const identityPoolId = t.stack.identityPool.identityPoolId;
  const credentials = t.stack.kms.identities.issueSession({
    role: t.stack.peopleRole,
    sessionName: 'CognitoIdentityCredentials',
    seconds: 3600,
    conditionKeys: {
      'cognito-identity.amazonaws.com:sub': [identityId],
      'cognito-identity.amazonaws.com:aud': [identityPoolId],
      'cognito-identity.amazonaws.com:amr': ['authenticated', provider, signInEntry],
    },
    cognito: { identityId, identityPoolId, authenticationProvider: `${provider},${signInEntry}` },
  });
  return { identityId, client: new EaasClient({ endpoint: t.api, region, credentials }) };
}

const listed = async (c: EaasClient, prefix = '') => {
  const res = await c.raw('GET', '/v1/objects', undefined, { prefix });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return (res.body as { objects: { key: string }[] }).objects.map((o) => o.key);
};

describe('document spaces through the local stack', () => {
  it("person B cannot list, read, replace, delete, download or start jobs on person A's documents", async () => {
    const a = signIn('alice-sub');
    const b = signIn('bob-sub');
    const sealed = await uploadDocument(
      a.client,
      { key: 'notes/a.txt', keyId: PAGE_KEY_ALIAS, bytes: Buffer.from('from A') },
      { sealTimeoutMs: 30_000 },
    );
    expect(sealed).toMatchObject({ key: 'notes/a.txt', state: 'sealed' });
    expect(await listed(a.client)).toEqual(['notes/a.txt']);
    const dir = mkdtempSync(join(tmpdir(), 'spaces-'));
    await downloadDocument(a.client, 'notes/a.txt', join(dir, 'a.txt'));
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('from A');

    // B, through the routes PeopleRole may invoke: nothing of A's.
    expect(await listed(b.client)).toEqual([]);
    expect((await b.client.raw('POST', '/v1/downloads', { key: 'notes/a.txt' })).status).toBe(404);
    expect((await b.client.raw('DELETE', '/v1/objects/notes/a.txt')).status).toBe(404);
    for (const method of ['GET', 'DELETE'])
      expect((await b.client.raw(method, `/v1/uploads/${sealed.id}`)).status).toBe(404);
    // ...and the routes it may not invoke are refused by the gateway (execute-api:Invoke).
    expect(
      (await b.client.rawBytes('PUT', '/v1/objects/notes/a.txt', Buffer.from('x'), { keyId: PAGE_KEY_ALIAS }))
        .status,
    ).toBe(403);
    expect((await b.client.rawBytes('GET', '/v1/objects/notes/a.txt')).status).toBe(403);
    const job = await b.client.raw('POST', '/v1/jobs/re-encrypt', {
      olderThanRotation: true,
      destinationKeyId: PAGE_KEY_ALIAS,
    });
    expect(job.status).toBe(403);

    // B's upload of the same name is B's own document; A's stays A's.
    await uploadDocument(
      b.client,
      { key: 'notes/a.txt', keyId: PAGE_KEY_ALIAS, bytes: Buffer.from('from B') },
      { sealTimeoutMs: 30_000 },
    );
    await downloadDocument(a.client, 'notes/a.txt', join(dir, 'again.txt'));
    expect(readFileSync(join(dir, 'again.txt'), 'utf8')).toBe('from A');
    await downloadDocument(b.client, 'notes/a.txt', join(dir, 'b.txt'));
    expect(readFileSync(join(dir, 'b.txt'), 'utf8')).toBe('from B');

    // An operator without a Cognito identity reads no one's space under the page key.
    expect(await listed(t.client(), 'people/')).toEqual([]);

    // A deletes its own.
    expect((await a.client.raw('DELETE', '/v1/objects/notes/a.txt')).status).toBe(200);
    expect(await listed(a.client)).toEqual([]);
    expect(await listed(b.client)).toEqual(['notes/a.txt']);
  });

  it('whoami shows a person its identity id and space; eaas:space in a context is refused', async () => {
    const a = signIn('carol-sub');
    const who = await a.client.raw('GET', '/v1/whoami');
    expect(who.body).toMatchObject({
      person: { identityId: a.identityId, space: { prefix: `people/${a.identityId}/` } },
    });
    const refused = await a.client.raw('POST', '/v1/uploads', {
      key: 'x',
      keyId: PAGE_KEY_ALIAS,
      size: 1,
      context: { 'eaas:space': 'someone-else' },
    });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({
      error: 'ValidationError',
      message: expect.stringContaining('eaas:space'),
    });
  });
});
