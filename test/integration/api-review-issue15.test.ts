import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  CreateGrantCommand,
  DeleteImportedKeyMaterialCommand,
  GetParametersForImportCommand,
} from '@aws-sdk/client-kms';
import { KEY_MANAGER, KEY_USER } from '@eaas/aws-local';
import { wrapKeyMaterial } from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readApiSettings } from '../../local/api-settings.js';
import { MAX_BATCH_ITEMS, MAX_SIGN_BATCH_ITEMS } from '../../src/http/schemas.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * The security review of issue 15's API, through the API over HTTP (the typed client's `raw`)
 * and the local KMS (the real SDK), against the local stack; nothing mocked.
 */

let t: TestStack;
const USER = `arn:aws:iam::111122223333:user/${KEY_USER}`;
const GRANTEE = 'arn:aws:iam::111122223333:user/myGrantee';

beforeAll(async () => {
  t = await startTestStack({ env: { EAAS_AUTHZ_CACHE_SECONDS: '0' } });
});
afterAll(() => t.stop());

const createKey = async (body: Record<string, unknown>) =>
  (await t.client(KEY_MANAGER).createKey({ users: [USER], ...body })).key.keyId;

describe('grant constraints on keys without an encryption context', () => {
  it('the API refuses a constrained grant on a signing or HMAC key with 400 ValidationError; KMS refuses it too', async () => {
    const manager = t.client(KEY_MANAGER);
    for (const spec of [{ keySpec: 'ECC_NIST_P256' }, { keySpec: 'HMAC_256' }]) {
      const keyId = await createKey(spec);
      const operations = spec.keySpec === 'HMAC_256' ? ['GenerateMac'] : ['Sign'];
      const r = await manager.raw('POST', `/v1/keys/${keyId}/grants`, {
        grantee: GRANTEE,
        operations,
        constraints: { encryptionContextSubset: { tenant: 'acme' } },
      });
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({
        error: 'ValidationError',
        message: expect.stringContaining('takes no encryption context'),
      });
      const listed = await manager.raw('GET', `/v1/keys/${keyId}/grants`);
      expect((listed.body as { grants: unknown[] }).grants).toEqual([]);
      // The local KMS, asked directly, refuses it as CreateGrant's reference says.
      await expect(
        t.kms(KEY_MANAGER).send(
          new CreateGrantCommand({
            KeyId: keyId,
            GranteePrincipal: GRANTEE,
            Operations: operations as never,
            Constraints: { EncryptionContextSubset: { tenant: 'acme' } },
          }),
        ),
      ).rejects.toMatchObject({ name: 'ValidationException' });
    }
  });
});

describe('throttles sized to the KMS quotas the routes draw on', () => {
  // KMS's default request quotas (developerguide/requests-per-second.html): 1,000 a second shared
  // by Sign, Verify and GetPublicKey for RSA keys (as many for ECC keys); GenerateMac and VerifyMac
  // count on the symmetric quota.
  const ASYMMETRIC_QUOTA = 1000;

  it('sign and verify have their own throttle and batches of 10, within the asymmetric quota', () => {
    const api = readApiSettings();
    const sign = api.methodThrottles['POST /v1/sign'];
    const verify = api.methodThrottles['POST /v1/verify'];
    expect(sign).toEqual({ rate: 20, burst: 40 });
    expect(verify).toEqual(sign);
    expect(api.methodThrottles['POST /v1/mac']).toEqual({ rate: 25, burst: 50 });
    expect(api.methodThrottles['POST /v1/verify-mac']).toEqual({ rate: 25, burst: 50 });
    expect(api.methodThrottles['POST /v1/sign']).not.toEqual(api.methodThrottles['POST /v1/encrypt']);
    // Sign + Verify at their rate, whole batches, and GetPublicKey at the stage's: under the quota.
    const publicKey = api.methodThrottles['GET /v1/keys/{keyId}/public-key'] ?? api.throttle;
    expect(2 * (sign?.rate ?? 0) * MAX_SIGN_BATCH_ITEMS + publicKey.rate).toBeLessThanOrEqual(
      ASYMMETRIC_QUOTA,
    );
    expect(MAX_SIGN_BATCH_ITEMS).toBeLessThan(MAX_BATCH_ITEMS);
  });

  it('a sign or verify batch of more than 10 items is 400 ValidationError; a MAC batch still takes 100', async () => {
    const keyId = await createKey({ keySpec: 'ECC_NIST_P256' });
    const hmac = await createKey({ keySpec: 'HMAC_256' });
    const user = t.client(KEY_USER);
    const item = { keyId, message: 'aGk=' };
    const ok = await user.raw('POST', '/v1/sign', { items: Array(10).fill(item) });
    expect(ok.status).toBe(200);
    for (const path of ['/v1/sign', '/v1/verify']) {
      const r = await user.raw('POST', path, {
        items: Array(11).fill(path === '/v1/sign' ? item : { ...item, signature: 'AAAA' }),
      });
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({
        error: 'ValidationError',
        message: expect.stringContaining('10 items'),
      });
    }
    const macs = await user.raw('POST', '/v1/mac', {
      items: Array(11).fill({ keyId: hmac, message: 'aGk=' }),
    });
    expect(macs.status).toBe(200);
  });
});

describe('signing conditions, digestedBy and the audit record', () => {
  it('a raw policy denying Sign of DIGESTs refuses a caller\'s digest only; long messages are signed and say digestedBy: "service"', async () => {
    const manager = t.client(KEY_MANAGER);
    const user = t.client(KEY_USER);
    const keyId = await createKey({ keySpec: 'ECC_NIST_P256' });
    const { policy } = (await manager.raw('GET', `/v1/keys/${keyId}/policy`)).body as {
      policy: { Statement: unknown[] };
    };
    policy.Statement.push({
      Sid: 'MessagesOnly',
      Effect: 'Deny',
      Principal: { AWS: USER },
      Action: 'kms:Sign',
      Resource: '*',
      Condition: { StringEquals: { 'kms:MessageType': 'DIGEST' } },
    });
    const put = await manager.raw('PUT', `/v1/keys/${keyId}/policy`, { policy: JSON.stringify(policy) });
    expect(put.status).toBe(200);
    const raw = await user.raw('POST', '/v1/sign', { keyId, message: 'aGk=' });
    expect(raw.status).toBe(200);
    expect(raw.body).toMatchObject({ messageType: 'RAW', algorithm: 'ECDSA_SHA_256' });
    expect(raw.body).not.toHaveProperty('digestedBy');
    const message = Buffer.alloc(5000, 1);
    const long = await user.raw('POST', '/v1/sign', { keyId, message: message.toString('base64') });
    expect(long.status).toBe(200);
    expect(long.body).toMatchObject({ messageType: 'DIGEST', digestedBy: 'service' });
    const digest = createHash('sha256').update(message).digest().toString('base64');
    const own = await user.raw('POST', '/v1/sign', { keyId, message: digest, messageType: 'DIGEST' });
    expect(own.status).toBe(403);
    const verified = await user.raw('POST', '/v1/verify', {
      keyId,
      message: digest,
      messageType: 'DIGEST',
      signature: (long.body as { signature: string }).signature,
    });
    expect(verified.body).toMatchObject({ valid: true, messageType: 'DIGEST', digestedBy: 'caller' });
    // The audit records carry the caller's message type and the algorithm.
    const records = readFileSync(t.stack.auditLog, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const byId = (id: unknown) => records.find((r) => r.requestId === id);
    expect(byId((long.body as { requestId: string }).requestId)).toMatchObject({
      messageType: 'RAW',
      algorithm: 'ECDSA_SHA_256',
    });
    expect(byId((own.body as { requestId: string }).requestId)).toMatchObject({
      outcome: 'deny',
      messageType: 'DIGEST',
    });
    expect(byId((verified.body as { requestId: string }).requestId)).toMatchObject({
      messageType: 'DIGEST',
      algorithm: 'ECDSA_SHA_256',
    });
  });
});

describe('key states and rotation through the API', () => {
  it('rotating an Enabled imported key, or a signing key, is 400 UnsupportedOperation, not 409 KeyDisabled', async () => {
    const manager = t.client(KEY_MANAGER);
    const ext = await createKey({ origin: 'EXTERNAL' });
    await manager.importKey(ext, Buffer.alloc(32, 7));
    expect(((await manager.raw('GET', `/v1/keys/${ext}`)).body as { key: { state: string } }).key.state).toBe(
      'Enabled',
    );
    const ecc = await createKey({ keySpec: 'ECC_NIST_P256' });
    for (const keyId of [ext, ecc]) {
      const r = await manager.raw('POST', `/v1/keys/${keyId}/rotate`);
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ error: 'UnsupportedOperation' });
      const auto = await manager.raw('PUT', `/v1/keys/${keyId}/rotation`, { enabled: true });
      expect(auto.status).toBe(400);
      expect(auto.body).toMatchObject({ error: 'UnsupportedOperation' });
    }
  });

  it('a first import of material of the wrong spec is refused without claiming the key had other material', async () => {
    const manager = t.client(KEY_MANAGER);
    const p521 = await createKey({ keySpec: 'ECC_NIST_P521', origin: 'EXTERNAL' });
    const params = (await manager.raw('GET', `/v1/keys/${p521}/import-parameters`)).body as {
      publicKey: string;
      importToken: string;
      wrappingAlgorithm: string;
    };
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      format: 'der',
      type: 'pkcs8',
    });
    const r = await manager.raw('PUT', `/v1/keys/${p521}/material`, {
      importToken: params.importToken,
      encryptedKeyMaterial: wrapKeyMaterial(
        p256,
        params.publicKey,
        params.wrappingAlgorithm as never,
      ).toString('base64'),
    });
    expect(r.status).toBe(400);
    expect((r.body as { message: string }).message).not.toMatch(
      /first imported into it; this is other material/,
    );
  });
});

describe("an imported key's material: not for every IAM principal of the account", () => {
  it('a principal whose IAM policy allows kms:* (not the administration role) cannot delete or import material; the API still can', async () => {
    const manager = t.client(KEY_MANAGER);
    const keyId = await createKey({ origin: 'EXTERNAL' });
    await manager.importKey(keyId, Buffer.alloc(32, 9));
    // eaas-service: kms:* in its IAM policy, named in the key policy for use only.
    const iamStar = t.kms('eaas-service');
    await expect(iamStar.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    await expect(
      iamStar.send(
        new GetParametersForImportCommand({
          KeyId: keyId,
          WrappingAlgorithm: 'RSAES_OAEP_SHA_256',
          WrappingKeySpec: 'RSA_2048',
        }),
      ),
    ).rejects.toMatchObject({ name: 'AccessDeniedException' });
    // Through the API (the keys function's role), the administrator still deletes it.
    const deleted = await manager.raw('DELETE', `/v1/keys/${keyId}/material`);
    expect(deleted.status).toBe(200);
    expect((deleted.body as { key: { state: string } }).key.state).toBe('PendingImport');
  });
});

describe('validation of the import and verify requests', () => {
  it('import-parameters: a wrapping key spec or algorithm outside the contract is 400 ValidationError naming the choices', async () => {
    const manager = t.client(KEY_MANAGER);
    const keyId = await createKey({ origin: 'EXTERNAL' });
    for (const query of [
      { wrappingKeySpec: 'RSA_1024' } as Record<string, string>,
      { wrappingKeySpec: 'SM2' },
      { wrappingAlgorithm: 'RSAES_PKCS1_V1_5' },
    ]) {
      const r = await manager.raw('GET', `/v1/keys/${keyId}/import-parameters`, undefined, query);
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({
        error: 'ValidationError',
        message: expect.stringContaining('must be one of'),
      });
    }
    const ok = await manager.raw('GET', `/v1/keys/${keyId}/import-parameters`, undefined, {
      wrappingKeySpec: 'RSA_2048',
      wrappingAlgorithm: 'RSAES_OAEP_SHA_1',
    });
    expect(ok.status).toBe(200);
  });

  it('validTo without a time zone is 400 ValidationError; with Z or an offset it is taken', async () => {
    const manager = t.client(KEY_MANAGER);
    const keyId = await createKey({ origin: 'EXTERNAL' });
    const params = (await manager.raw('GET', `/v1/keys/${keyId}/import-parameters`)).body as {
      publicKey: string;
      importToken: string;
    };
    const wrapped = wrapKeyMaterial(randomBytes(32), params.publicKey, 'RSAES_OAEP_SHA_256').toString(
      'base64',
    );
    const inTenDays = new Date(Date.now() + 10 * 86_400_000).toISOString();
    for (const validTo of [
      inTenDays.replace('Z', ''),
      inTenDays.slice(0, 10),
      `${inTenDays.slice(0, 19)} +01:00`,
    ]) {
      const r = await manager.raw('PUT', `/v1/keys/${keyId}/material`, {
        importToken: params.importToken,
        encryptedKeyMaterial: wrapped,
        validTo,
      });
      expect(r.status, validTo).toBe(400);
      expect(r.body).toMatchObject({ error: 'ValidationError' });
    }
    const ok = await manager.raw('PUT', `/v1/keys/${keyId}/material`, {
      importToken: params.importToken,
      encryptedKeyMaterial: wrapped,
      validTo: inTenDays.replace('Z', '+05:00'),
    });
    expect(ok.status).toBe(200);
  });

  it('a signature or MAC longer than KMS takes is the answer valid: false, not a KMS-worded 400', async () => {
    const user = t.client(KEY_USER);
    const ecc = await createKey({ keySpec: 'ECC_NIST_P256' });
    const hmac = await createKey({ keySpec: 'HMAC_256' });
    const big = randomBytes(6145).toString('base64');
    const sig = await user.raw('POST', '/v1/verify', { keyId: ecc, message: 'aGk=', signature: big });
    expect([sig.status, (sig.body as { valid?: boolean }).valid]).toEqual([200, false]);
    const mac = await user.raw('POST', '/v1/verify-mac', { keyId: hmac, message: 'aGk=', mac: big });
    expect([mac.status, (mac.body as { valid?: boolean }).valid]).toEqual([200, false]);
    const batch = await user.raw('POST', '/v1/verify-mac', {
      items: [
        { keyId: hmac, message: 'aGk=', mac: big },
        { keyId: hmac, message: 'aGk=', mac: 'AA==' },
      ],
    });
    expect((batch.body as { items: { valid: boolean }[] }).items.map((i) => i.valid)).toEqual([false, false]);
  });
});
