// The AWS SDK's own clients against the local KMS and S3, unchanged but for the endpoint.
// Run: npx tsx docs/examples/sdk-clients.ts
import { DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { fromIni } from '@aws-sdk/credential-providers';

const credentials = fromIni({ profile: 'myKeyUser' }); // from AWS_SHARED_CREDENTIALS_FILE

const kms = new KMSClient({
  endpoint: process.env.KMS_URL ?? 'http://127.0.0.1:4599',
  region: 'us-east-1',
  credentials,
});
const { CiphertextBlob } = await kms.send(
  new EncryptCommand({ KeyId: 'alias/eaas-default', Plaintext: Buffer.from('hi') }),
);
const { Plaintext } = await kms.send(new DecryptCommand({ CiphertextBlob }));
console.log(Buffer.from(Plaintext ?? []).toString());

const s3 = new S3Client({
  endpoint: process.env.S3_URL ?? 'http://127.0.0.1:4569',
  region: 'us-east-1',
  forcePathStyle: true, // the local S3 takes path-style addressing only
  credentials,
});
const listing = await s3.send(new ListObjectsV2Command({ Bucket: 'eaas-vault', MaxKeys: 5 }));
console.log((listing.Contents ?? []).map((o) => o.Key));
