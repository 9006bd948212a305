// Upload a file of any size through the API, wait until it is sealed into the vault, and
// download it again, decrypted, through the typed client:
//   npx tsx docs/examples/large-file.ts <file> <document key> <downloaded copy>
import { fromIni } from '@aws-sdk/credential-providers';
import { downloadDocument, EaasClient, uploadDocument } from '@eaas/client';

const [file, key, copy] = process.argv.slice(2);
if (!file || !key || !copy) throw new Error('usage: large-file.ts <file> <document key> <downloaded copy>');

const api = new EaasClient({
  endpoint: process.env.API_URL ?? 'http://127.0.0.1:3000',
  credentials: fromIni({ profile: 'myKeyUser' }), // from AWS_SHARED_CREDENTIALS_FILE
});

// Presigned parts straight to the staging bucket, four at a time; the seal function encrypts into the vault.
const sealed = await uploadDocument(
  api,
  { key, keyId: 'alias/eaas-default', file, context: { tenant: 'acme' } },
  {
    onProgress: ({ sentBytes, totalBytes }) => process.stdout.write(`\r${sentBytes} of ${totalBytes} bytes`),
  },
);
console.log(`\n${key}: ${sealed.state}`);

// A presigned GET of the ciphertext and the object's content key; decrypted into a temporary file
// that becomes `copy` only once the whole body has authenticated.
const { size } = await downloadDocument(api, key, copy);
console.log(`${copy}: ${size} bytes`);
