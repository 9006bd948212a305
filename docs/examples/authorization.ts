// The authorization worked example: an administrator, a grant with an encryption-context
// constraint, a refusal, and whoami's explanation. Run: npx tsx docs/examples/authorization.ts
import { fromIni } from '@aws-sdk/credential-providers';
import { EaasClient, EaasError } from '@eaas/client';

const as = (profile: string) =>
  new EaasClient({
    endpoint: process.env.API_URL ?? 'http://127.0.0.1:3000',
    credentials: fromIni({ profile }), // from AWS_SHARED_CREDENTIALS_FILE
  });
const manager = as('myKeyManager');
const grantee = as('myGrantee');
const refused = (e: unknown) => {
  if (e instanceof EaasError) return `${e.status} ${e.code}`;
  throw e;
};

// 1. myKeyManager creates a key and is its administrator.
const created = await manager.raw('POST', '/v1/keys', {
  description: 'acme documents',
  alias: 'alias/acme-demo',
});
if (created.status !== 200) throw new Error(JSON.stringify(created.body)); // 409 AlreadyExists on a second run
const { key, administrators, users } = created.body as {
  key: { keyId: string };
  administrators: string[];
  users: string[];
};
console.log(created.status, key.keyId, administrators, users);

// 2. It grants myGrantee Encrypt and Decrypt, only with tenant=acme in the encryption context.
const grant = await manager.raw('POST', `/v1/keys/${key.keyId}/grants`, {
  grantee: 'arn:aws:iam::111122223333:user/myGrantee',
  operations: ['Encrypt', 'Decrypt'],
  constraints: { encryptionContextSubset: { tenant: 'acme' } },
});
console.log(grant.status, grant.body);

// 3. myGrantee may encrypt and decrypt for tenant acme, not for tenant globex.
const keyId = 'alias/acme-demo';
const sealed = await grantee.encrypt({ keyId, plaintext: 'invoice 42', context: { tenant: 'acme' } });
const opened = await grantee.decrypt({ ciphertext: sealed.ciphertext, context: { tenant: 'acme' } });
console.log(sealed.format, opened.plaintext.toString());
console.log(
  await grantee.encrypt({ keyId, plaintext: 'invoice 43', context: { tenant: 'globex' } }).catch(refused),
);

// 4. The administrator manages the key but may not use it.
console.log(
  await manager.encrypt({ keyId, plaintext: 'invoice 44', context: { tenant: 'acme' } }).catch(refused),
);

// 5. whoami, a dry run: what myGrantee may do on the key under a context, and what decides it.
for (const context of ['{"tenant":"acme"}', '{"tenant":"globex"}']) {
  const why = await grantee.raw('GET', '/v1/whoami', undefined, { keyId, context });
  const { access } = why.body as { access: { operations: { action: string; explanation: string }[] } };
  for (const op of access.operations)
    if (op.action === 'kms:Encrypt' || op.action === 'kms:PutKeyPolicy')
      console.log(context, op.action, op.explanation);
}
