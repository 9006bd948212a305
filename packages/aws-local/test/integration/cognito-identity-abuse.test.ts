import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalIdentityPool, startLocalIdentityPool } from '../../src/cognito-identity/index.js';
import { LocalIdentities, type LocalRole } from '../../src/identity.js';
import { type FakeUserPool, fakeUserPool } from '../helpers/id-tokens.js';
import { makeDataDir } from '../helpers/local-kms.js';

/**
 * The local identity pool against callers who mean harm: input that must not reach a header,
 * many bodies at once, and one person's many sign-ins.
 */

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const role: LocalRole = { name: 'people', arn: `arn:aws:iam::${ACCOUNT}:role/people`, policies: [] };
let pool: LocalIdentityPool;
let users: FakeUserPool;
let identities: LocalIdentities;

beforeAll(async () => {
  const dataDir = makeDataDir();
  identities = LocalIdentities.open(dataDir, ACCOUNT, REGION);
  users = await fakeUserPool(REGION);
  pool = await startLocalIdentityPool({
    dataDir,
    accountId: ACCOUNT,
    region: REGION,
    host: '127.0.0.1',
    port: 0,
    identities,
    providers: [
      {
        providerName: users.providerName,
        issuer: users.issuer,
        clientIds: [users.clientId],
        jwks: users.jwks,
      },
    ],
    authenticatedRole: role,
    credentialSeconds: 900,
  });
});

afterAll(async () => {
  await pool?.close();
});

function call(target: string, body: unknown) {
  return fetch(pool.endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `AWSCognitoIdentityService.${target}`,
    },
    body: JSON.stringify(body),
  });
}

describe('the identity pool’s error answers', () => {
  it('never put a caller’s raw value in a header, and the server stays up', async () => {
    const answer = await call('GetCredentialsForIdentity', { IdentityId: `x\u0100${'y'.repeat(500)}\n` });
    expect(answer.status).toBe(400);
    const message = answer.headers.get('x-amzn-errormessage') ?? '';
    expect(message).toMatch(/^[\x20-\x7e]+$/);
    const body = (await answer.json()) as { __type: string; message: string };
    expect(body.__type).toBe('InvalidParameterException');
    expect(body.message).not.toContain('\u0100');
    expect(body.message.length).toBeLessThan(300);
    const unknown = await fetch(pool.endpoint, {
      method: 'POST',
      headers: { 'x-amz-target': 'AWSCognitoIdentityService.Nope\u00ff' },
      body: '{}',
    });
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get('x-amzn-errormessage')).toMatch(/^[\x20-\x7e]+$/);
    // Still answering.
    expect((await call('GetId', {})).status).toBe(400);
  });
});
