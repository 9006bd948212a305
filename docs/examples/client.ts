// The typed client (@eaas/client, packages/client): SigV4 for execute-api, the standard AWS credential chain unless
// credentials are given. Run: npx tsx docs/examples/client.ts
import { fromIni } from '@aws-sdk/credential-providers';
import { EaasClient, EaasError } from '@eaas/client';

const api = new EaasClient({
  endpoint: process.env.API_URL ?? 'http://127.0.0.1:3000',
  credentials: fromIni({ profile: 'myKeyUser' }), // from AWS_SHARED_CREDENTIALS_FILE
});

const { ciphertext, format } = await api.encrypt({
  keyId: 'alias/eaas-default',
  plaintext: JSON.stringify({ invoice: 42, total: '99.50' }),
  context: { tenant: 'acme' },
});
const { plaintext } = await api.decrypt({ ciphertext, context: { tenant: 'acme' } });
console.log(format, plaintext.toString());

// Every error answer is an EaasError with the API's code, status and request id.
try {
  await api.decrypt({ ciphertext, context: { tenant: 'globex' } });
} catch (error) {
  if (!(error instanceof EaasError)) throw error;
  console.log(error.status, error.code); // 400 InvalidCiphertext: the context is part of the ciphertext
}
