import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CognitoIdentityClient,
  GetCredentialsForIdentityCommand,
  GetIdCommand,
} from '@aws-sdk/client-cognito-identity';
import { KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { LocalRole } from '@eaas/aws-local';
import { Browser, csrfOf, pkce } from '@eaas/aws-local/testing/local-user-pool';
import { signedFetch } from '@eaas/aws-local/testing/signed-fetch';
import { EaasClient } from '@eaas/client';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { SERVERLESS_YML } from '../../local/api-settings.js';
import { localValues } from '../../local/emulator-options.js';
import { readRole } from '../../local/template-roles.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * Sign-in through the local stack as the page does it: the seeded person signs in on the local
 * managed login (authorization code with PKCE, a new password at the first sign-in), the ID token
 * becomes PeopleRole's temporary credentials at the local identity pool (the real
 * `@aws-sdk/client-cognito-identity`), and a signed API call reaches the function with the Cognito
 * identity in `requestContext.identity`, as API Gateway gives it. The same credentials are
 * refused by the gateway, KMS and S3 once expired, and a route PeopleRole does not list is refused
 * by the gateway's `execute-api:Invoke` check.
 */

const ACCOUNT = '111122223333';
let offset = 0;
const now = () => new Date(Date.now() + offset);
const events: APIGatewayProxyEvent[] = [];
let t: TestStack;

/** PeopleRole as the stack runs it here: GET /v1/whoami only (serverless.yml's grants the page's routes). */
const peopleRole: LocalRole = {
  name: 'eaas-local-people',
  arn: `arn:aws:iam::${ACCOUNT}:role/eaas-local-people`,
  policies: [
    {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'execute-api:Invoke',
          Resource: `arn:aws:execute-api:us-east-1:${ACCOUNT}:local/local/GET/v1/whoami`,
        },
      ],
    },
  ],
};

async function signInAsAlice(): Promise<string> {
  const { userPool, webOrigin } = t.stack;
  const seeded = userPool.seeded;
  if (!seeded) throw new Error('the first start seeds alice');
  const browser = new Browser(userPool.endpoint);
  const { verifier, challenge } = pkce();
  const redirectUri = `${webOrigin}/`;
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: userPool.clientId,
    redirect_uri: redirectUri,
    state: 's1',
    scope: 'openid email profile',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  expect((await browser.get(`/oauth2/authorize?${q}`)).headers.get('location')).toBe('/login');
  const form = await (await browser.get('/login')).text();
  const change = await browser.post('/login', {
    _csrf: csrfOf(form),
    username: seeded.username,
    password: seeded.temporaryPassword,
  });
  const newPassword = `N3w-${randomBytes(9).toString('base64url')}!`;
  const done = await browser.post('/login', {
    _csrf: csrfOf(await change.text()),
    new_password: newPassword,
    confirm_password: newPassword,
  });
  const code = new URL(done.headers.get('location') ?? '').searchParams.get('code');
  expect(code).toBeTruthy();
  const res = await fetch(`${userPool.endpoint}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: userPool.clientId,
      code: code ?? '',
      redirect_uri: redirectUri,
      code_verifier: verifier,
    }).toString(),
  });
  const tokens = (await res.json()) as { id_token?: string };
  if (!tokens.id_token) throw new Error(`no id token: ${res.status}`);
  return tokens.id_token;
}

beforeAll(async () => {
  t = await startTestStack({
    peopleRole,
    credentialSeconds: 900,
    now,
    onApiEvent: (e) => events.push(e),
    env: { EAAS_ACCOUNT_ID: ACCOUNT },
  });
});

afterAll(async () => {
  await t?.stop();
});

describe('a person signed in with the local user pool and identity pool', () => {
  let identityId: string;
  let credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string };

  it('gets PeopleRole credentials for an ID token, and calls the API as a Cognito identity', async () => {
    const idToken = await signInAsAlice();
    const { userPool, identityPool } = t.stack;
    const cognito = new CognitoIdentityClient({
      endpoint: identityPool.endpoint,
      region: 'us-east-1',
      maxAttempts: 1,
    });
    const Logins = { [userPool.providerName]: idToken };
    const got = await cognito.send(new GetIdCommand({ IdentityPoolId: identityPool.identityPoolId, Logins }));
    identityId = got.IdentityId ?? '';
    const answer = await cognito.send(
      new GetCredentialsForIdentityCommand({ IdentityId: identityId, Logins }),
    );
    cognito.destroy();
    const c = answer.Credentials;
    credentials = {
      accessKeyId: c?.AccessKeyId ?? '',
      secretAccessKey: c?.SecretKey ?? '',
      sessionToken: c?.SessionToken ?? '',
    };
    expect(credentials.accessKeyId).toMatch(/^ASIA/);

    const api = new EaasClient({ endpoint: t.api, region: 'us-east-1', credentials });
    const sessionArn = `arn:aws:sts::${ACCOUNT}:assumed-role/eaas-local-people/CognitoIdentityCredentials`;
    expect(await api.whoami()).toMatchObject({ callerArn: sessionArn });
    const identity = events.at(-1)?.requestContext.identity;
    const sub = JSON.parse(Buffer.from(idToken.split('.')[1] ?? '', 'base64url').toString()).sub as string;
    expect(identity).toMatchObject({
      accessKey: credentials.accessKeyId,
      cognitoIdentityId: identityId,
      cognitoIdentityPoolId: identityPool.identityPoolId,
      cognitoAuthenticationType: 'authenticated',
      cognitoAuthenticationProvider: `${userPool.providerName},${userPool.providerName}:CognitoSignIn:${sub}`,
      userArn: sessionArn,
    });
    expect(identity?.caller).toMatch(/^AROA[A-Z2-7]{17}:CognitoIdentityCredentials$/);
    expect(identity?.user).toBe(identity?.caller);
  });

  it('is refused a route PeopleRole does not list, as API Gateway refuses execute-api:Invoke', async () => {
    const session = t.stack.kms.identities.byAccessKeyId(credentials.accessKeyId);
    if (!session) throw new Error('no session');
    const res = await signedFetch({
      endpoint: t.api,
      principal: session,
      service: 'execute-api',
      method: 'GET',
      path: '/v1/keys',
      headers: { 'x-amz-security-token': credentials.sessionToken },
      body: '',
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')).toBe('AccessDeniedException');
    expect(res.json).toEqual({
      Message: `User: ${session.arn} is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:${ACCOUNT}:local/local/GET/v1/keys`,
    });
  });

  it('is refused by the gateway, KMS and S3 once the credentials expire', async () => {
    const session = t.stack.kms.identities.byAccessKeyId(credentials.accessKeyId);
    if (!session) throw new Error('no session');
    offset = 900_000;
    try {
      const res = await signedFetch({
        endpoint: t.api,
        principal: session,
        service: 'execute-api',
        method: 'GET',
        path: '/v1/whoami',
        headers: { 'x-amz-security-token': credentials.sessionToken },
        body: '',
        signingDate: now(),
      });
      expect([res.status, res.headers.get('x-amzn-errortype'), res.json]).toEqual([
        403,
        'ExpiredTokenException',
        { message: 'The security token included in the request is expired' },
      ]);
      const kms = new KMSClient({
        endpoint: t.stack.kms.endpoint,
        region: 'us-east-1',
        credentials,
        maxAttempts: 1,
        systemClockOffset: offset,
      });
      await expect(kms.send(new ListKeysCommand({}))).rejects.toMatchObject({
        name: 'ExpiredTokenException',
      });
      kms.destroy();
      const s3 = new S3Client({
        endpoint: t.stack.s3.endpoint,
        region: 'us-east-1',
        credentials,
        forcePathStyle: true,
        maxAttempts: 1,
        systemClockOffset: offset,
      });
      await expect(s3.send(new ListObjectsV2Command({ Bucket: t.config.vaultBucket }))).rejects.toMatchObject(
        {
          name: 'ExpiredToken',
        },
      );
      s3.destroy();
    } finally {
      offset = 0;
    }
  });
});

describe('PeopleRole read from the template', () => {
  it('resolves its RoleName and its execute-api ARNs with the local values', () => {
    // A copy of serverless.yml with a PeopleRole as the deployment declares it.
    const root = parse(readFileSync(SERVERLESS_YML, 'utf8')) as {
      resources: { Resources: Record<string, unknown> };
    };
    root.resources.Resources.PeopleRole = {
      Type: 'AWS::IAM::Role',
      Properties: {
        RoleName: 'eaas-${sls:stage}-people',
        Policies: [
          {
            PolicyName: 'invoke',
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                {
                  Effect: 'Allow',
                  Action: 'execute-api:Invoke',
                  Resource: {
                    'Fn::Sub':
                      'arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${ApiGatewayRestApi}/${sls:stage}/GET/v1/whoami',
                  },
                },
              ],
            },
          },
        ],
      },
    };
    const file = join(mkdtempSync(join(tmpdir(), 'eaas-sls-')), 'serverless.yml');
    writeFileSync(file, stringify(root));
    const role = readRole(localValues(t.config), 'PeopleRole', file);
    expect(role.name).toBe('eaas-local-people');
    expect(role.arn).toBe(`arn:aws:iam::${ACCOUNT}:role/eaas-local-people`);
    expect(role.policies).toEqual(peopleRole.policies);
  });
});
