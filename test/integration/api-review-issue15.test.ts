import { CreateGrantCommand } from '@aws-sdk/client-kms';
import { KEY_MANAGER, KEY_USER } from '@eaas/aws-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
