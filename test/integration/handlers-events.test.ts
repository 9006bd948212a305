import { SERVICE } from '@eaas/aws-local';
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EsdkEnvelope } from '../../src/aws/esdk.js';
import { KmsKeyAdmin } from '../../src/aws/kms-admin.js';
import { KmsSigning } from '../../src/aws/kms-signing.js';
import { makeHandler as cryptoHandler } from '../../src/handlers/crypto.js';
import { makeHandler as whoamiHandler } from '../../src/handlers/whoami.js';
import type { AuditRecord } from '../../src/ports.js';
import { AccessControl } from '../../src/services/access.js';
import { CryptoService, INLINE_LIMIT } from '../../src/services/crypto.js';
import { KeyService } from '../../src/services/keys.js';
import { SigningService } from '../../src/services/signing.js';
import { sampleEvent } from '../helpers/events.js';
import { startTestKms, type TestKms } from '../helpers/local-kms.js';

let t: TestKms;
const records: AuditRecord[] = [];
const errors: unknown[] = [];
let crypto: ReturnType<typeof cryptoHandler>;
let whoami: ReturnType<typeof whoamiHandler>;
const context = { awsRequestId: 'test', getRemainingTimeInMillis: () => 29_000 } as unknown as Context;

beforeAll(async () => {
  t = await startTestKms();
  const kms = t.client(SERVICE);
  const deps = {
    audit: { record: (r: AuditRecord) => records.push(r) },
    logger: { error: (...a: unknown[]) => errors.push(a) },
  };
  const admin = new KmsKeyAdmin(kms);
  const access = new AccessControl(admin);
  crypto = cryptoHandler({
    ...deps,
    access,
    crypto: new CryptoService(admin, new EsdkEnvelope(kms, INLINE_LIMIT * 2)),
    signing: new SigningService(new KmsSigning(kms), admin),
  });
  whoami = whoamiHandler({ ...deps, admin, access, keys: new KeyService(admin, access, t.config.accountId) });
});
afterAll(() => t.stop());

const bodyOf = (r: APIGatewayProxyResult) => JSON.parse(r.body) as Record<string, unknown>;

describe('the Lambda handlers with the sample events in events/', () => {
  it('encrypt.json: 200 with a KMS ciphertext, one audit record', async () => {
    const before = records.length;
    const res = await crypto(sampleEvent('encrypt'), context);
    expect(res.statusCode).toBe(200);
    expect(bodyOf(res)).toMatchObject({ format: 'kms', requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef' });
    expect(records.length).toBe(before + 1);
    expect(records.at(-1)).toMatchObject({
      principal: 'arn:aws:iam::111122223333:user/myKeyUser',
      action: 'encrypt',
      outcome: 'success',
      contextKeys: ['tenant'],
      keyArn: expect.stringMatching(/^arn:aws:kms:/),
    });
  });

  it('encrypt-batch.json: 200 with one success and one refusal (its key does not exist)', async () => {
    const res = await crypto(sampleEvent('encrypt-batch'), context);
    expect(res.statusCode).toBe(200);
    const items = bodyOf(res).items as Array<Record<string, unknown>>;
    expect(items[0]).toHaveProperty('ciphertext');
    expect(items[1]).toMatchObject({ error: 'AccessDenied', index: 1 });
    expect(records.at(-1)?.items).toEqual({ total: 2, failed: 1 });
  });

  it('decrypt.json (a ciphertext no key made): 400 InvalidCiphertext, audited as an error', async () => {
    const res = await crypto(sampleEvent('decrypt'), context);
    expect(res.statusCode).toBe(400);
    expect(bodyOf(res)).toMatchObject({ error: 'InvalidCiphertext' });
    expect(records.at(-1)).toMatchObject({ outcome: 'error', errorCode: 'InvalidCiphertext' });
  });

  it('re-encrypt.json: 400 InvalidCiphertext', async () => {
    const res = await crypto(sampleEvent('re-encrypt'), context);
    expect(bodyOf(res)).toMatchObject({ error: 'InvalidCiphertext' });
  });

  it('data-keys.json: the wrapped key only', async () => {
    const res = await crypto(sampleEvent('data-keys'), context);
    expect(res.statusCode).toBe(200);
    expect(bodyOf(res)).toHaveProperty('ciphertext');
    expect(bodyOf(res)).not.toHaveProperty('plaintext');
  });

  it('whoami.json: the caller and the key', async () => {
    const res = await whoami(sampleEvent('whoami'), context);
    expect(res.statusCode).toBe(200);
    expect(bodyOf(res)).toMatchObject({
      principal: 'arn:aws:iam::111122223333:user/myKeyUser',
      key: { state: 'Enabled' },
    });
  });

  it('an assumed-role session is normalised to its role', async () => {
    const event = sampleEvent('whoami', 'arn:aws:sts::111122223333:assumed-role/app-role/session-42');
    // app-role has no right on the sample's key, so whoami would tell it nothing of it (issue 12, finding 8).
    event.queryStringParameters = null;
    event.multiValueQueryStringParameters = null;
    const res = await whoami(event, context);
    expect(res.statusCode).toBe(200);
    expect(bodyOf(res)).toMatchObject({
      principal: 'arn:aws:iam::111122223333:role/app-role',
      callerArn: 'arn:aws:sts::111122223333:assumed-role/app-role/session-42',
    });
  });

  it('an event without an IAM identity is refused with 403', async () => {
    const event = sampleEvent('encrypt');
    event.requestContext.identity.userArn = null;
    const res = await crypto(event, context);
    expect(res.statusCode).toBe(403);
    expect(bodyOf(res)).toMatchObject({ error: 'AccessDenied' });
    expect(records.at(-1)).toMatchObject({ outcome: 'deny', principal: 'anonymous' });
  });

  it('logged no unhandled error', () => {
    expect(errors).toEqual([]);
  });
});
