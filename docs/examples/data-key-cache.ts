// Data-key caching in the typed client (@eaas/client): many small Encryption SDK messages under one
// data key from the API, within bounds. OFF unless a DataKeyCache is passed; read the trade-off in
// docs/security.md first. Run: npx tsx docs/examples/data-key-cache.ts
import { fromIni } from '@aws-sdk/credential-providers';
import { DataKeyCache, decryptMessage, EaasClient, encryptMessage } from '@eaas/client';

const api = new EaasClient({
  endpoint: process.env.API_URL ?? 'http://127.0.0.1:3000',
  credentials: fromIni({ profile: 'myKeyUser' }), // from AWS_SHARED_CREDENTIALS_FILE
});

// Made once per process and passed to every call: a cache that lives for one message saves nothing.
const cache = new DataKeyCache({
  maxAgeSeconds: 60, // required: a data key is used for at most a minute,
  maxMessagesEncrypted: 100, // for at most 100 messages,
  maxBytesEncrypted: 10 * 1024 * 1024, // and for at most 10 MiB of plaintext
});

// onKey is called each time the API makes or unwraps a data key: the calls the cache saved are the rest.
let dataKeys = 0;
const messages: Buffer[] = [];
for (let i = 0; i < 100; i++) {
  const { ciphertext } = await encryptMessage(api, {
    keyId: 'alias/eaas-default',
    plaintext: JSON.stringify({ event: i }),
    encryptionContext: { tenant: 'acme' },
    cache,
    onKey: () => dataKeys++,
  });
  messages.push(ciphertext);
}
console.log(`100 messages, ${dataKeys} data key from the API`); // 1

// The reading side caches unwrapped data keys the same way (its own cache, its own bounds).
const readCache = new DataKeyCache({ maxAgeSeconds: 60 });
let unwraps = 0;
for (const [i, ciphertext] of messages.entries()) {
  const { plaintext } = await decryptMessage(api, {
    ciphertext,
    context: { tenant: 'acme' }, // checked before any data key is used, cached or not
    cache: readCache,
    onKey: () => unwraps++,
  });
  if (JSON.parse(plaintext.toString()).event !== i) throw new Error('not the message written');
}
console.log(`read back with ${unwraps} unwrap`); // 1
