import { KEY_USER } from '@eaas/aws-local';
import { signedFetch } from '@eaas/aws-local/testing/signed-fetch';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LambdaHandler, startGateway } from '../../local/gateway.js';
import type { FunctionName } from '../../src/http/routes.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * Browsers send a host's cookies to every port of it: the local user pool's session cookie, or
 * any other 127.0.0.1 site's, arrives at the local gateway too. The functions never read cookies,
 * so the gateway hands them none.
 */

let t: TestStack;
let gateway: Awaited<ReturnType<typeof startGateway>>;
const events: APIGatewayProxyEvent[] = [];

beforeAll(async () => {
  t = await startTestStack();
  const record: LambdaHandler = async (event) => {
    events.push(event);
    return { statusCode: 200, body: '{}' };
  };
  const functions = Object.fromEntries(
    (['crypto', 'jobs', 'keys', 'objects', 'uploads', 'whoami'] satisfies FunctionName[]).map((n) => [
      n,
      record,
    ]),
  ) as Record<FunctionName, LambdaHandler>;
  gateway = await startGateway({
    host: '127.0.0.1',
    port: 0,
    region: t.config.region,
    accountId: t.config.accountId,
    identities: t.stack.kms.identities,
    functions,
    maxSkewSeconds: t.config.sigv4MaxSkewSeconds,
  });
});
afterAll(async () => {
  await gateway?.close();
  await t?.stop();
});

describe('the local gateway', () => {
  it('drops the Cookie header from the event the functions get', async () => {
    const res = await signedFetch({
      endpoint: gateway.endpoint,
      principal: t.principal(KEY_USER),
      service: 'execute-api',
      method: 'GET',
      path: '/v1/whoami',
      headers: { cookie: 'eaas-local-cognito-session=secret; other=1', 'x-seen': 'yes' },
      body: '',
    });
    expect(res.status).toBe(200);
    const event = events.at(-1);
    expect(event?.headers['x-seen']).toBe('yes');
    expect(event?.headers.cookie).toBeUndefined();
    expect(event?.multiValueHeaders.cookie).toBeUndefined();
  });
});
