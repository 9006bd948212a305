import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalIdentityPool, startLocalIdentityPool } from '../../src/cognito-identity/index.js';
import { createIdentityPoolServer } from '../../src/cognito-identity/server.js';
import { IdentityPoolStore } from '../../src/cognito-identity/store.js';
import { BodyBudget, listen } from '../../src/http-server.js';
import {
  LocalIdentities,
  type LocalRole,
  MAX_SESSIONS,
  MAX_SESSIONS_PER_HOLDER,
} from '../../src/identity.js';
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

async function credentialsFor(sub: string) {
  const Logins = { [users.providerName]: await users.token(sub, new Date()) };
  const id = (await (await call('GetId', { IdentityPoolId: pool.identityPoolId, Logins })).json()) as {
    IdentityId: string;
  };
  const answer = await call('GetCredentialsForIdentity', { IdentityId: id.IdentityId, Logins });
  return {
    status: answer.status,
    body: (await answer.json()) as { __type?: string; Credentials: { AccessKeyId: string } },
  };
}

describe('the temporary sessions', () => {
  it('one person holds a bounded number, evicting only their own; a full table refuses, evicting no one', async () => {
    const other = await credentialsFor('someone-else');
    expect(other.status).toBe(200);
    const mine: string[] = [];
    for (let i = 0; i < MAX_SESSIONS_PER_HOLDER + 5; i++) {
      const answer = await credentialsFor('greedy');
      expect(answer.status).toBe(200);
      mine.push(answer.body.Credentials.AccessKeyId);
    }
    expect(mine.filter((k) => identities.byAccessKeyId(k)).length).toBe(MAX_SESSIONS_PER_HOLDER);
    expect(identities.byAccessKeyId(mine[0] as string)).toBeUndefined();
    expect(identities.byAccessKeyId(other.body.Credentials.AccessKeyId)).toBeDefined();
    // Fill the table with many holders' sessions: the next one is refused, the others stay.
    for (let i = identities.sessionCount; i < MAX_SESSIONS; i++)
      identities.issueSession({ role, sessionName: `filler-${i}`, seconds: 900, conditionKeys: {} });
    const refused = await credentialsFor('late');
    expect(refused.status).toBe(400);
    expect(refused.body.__type).toBe('TooManyRequestsException');
    expect(identities.byAccessKeyId(other.body.Credentials.AccessKeyId)).toBeDefined();
    expect(identities.sessionCount).toBe(MAX_SESSIONS);
  });
});

describe('request bodies', () => {
  it('share one memory budget: beyond it, a request is refused before its body is read', async () => {
    const budget = new BodyBudget(100_000);
    const server = createIdentityPoolServer({
      context: {
        store: IdentityPoolStore.open(makeDataDir(), REGION),
        identities,
        providers: [],
        authenticatedRole: role,
        credentialSeconds: 900,
        now: () => new Date(),
      },
      bodyBudget: budget,
    });
    const listening = await listen(server, '127.0.0.1', 0);
    const socket = connect(Number(new URL(listening.endpoint).port), '127.0.0.1');
    socket.on('error', () => {});
    try {
      // One slow body holds 60,000 bytes of the budget...
      socket.write(
        'POST / HTTP/1.1\r\nHost: x\r\nx-amz-target: AWSCognitoIdentityService.GetId\r\ncontent-length: 60000\r\n\r\n{',
      );
      await expect.poll(() => budget.stats().reserved).toBe(60_000);
      // ...so another of 60,000 bytes does not fit.
      const answer = await fetch(listening.endpoint, {
        method: 'POST',
        headers: { 'x-amz-target': 'AWSCognitoIdentityService.GetId' },
        body: ' '.repeat(60_000),
      });
      expect(answer.status).toBe(400);
      expect(((await answer.json()) as { __type: string }).__type).toBe('TooManyRequestsException');
    } finally {
      socket.destroy();
      await listening.close();
    }
  });
});
