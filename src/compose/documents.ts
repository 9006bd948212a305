import type { S3Client } from '@aws-sdk/client-s3';
import { S3ObjectStore } from '../aws/s3.js';
import type { Config } from '../config.js';
import type { ObjectsDeps } from '../handlers/objects.js';
import type { StreamsDeps } from '../handlers/streams.js';
import { DocumentService } from '../services/documents.js';
import type { KeyAccess } from './key-access.js';
import { type PageTokenOptions, pageTokensFor } from './page-tokens.js';

/** The objects function's services: documents in the vault behind the object prefix, and the listing's tokens. */
export function objectsServices(
  config: Config,
  { admin, access }: KeyAccess,
  s3: S3Client,
  tokens: PageTokenOptions = {},
): Pick<ObjectsDeps, 'documents' | 'access' | 'pageTokens'> {
  const store = new S3ObjectStore(s3, config.vaultBucket, config.objectPrefix);
  return {
    access,
    documents: new DocumentService(admin, store, {
      version: config.envelopeVersion,
      urlSeconds: config.uploadUrlSeconds,
      listScanObjects: config.listScanObjects,
    }),
    pageTokens: pageTokensFor(config, tokens),
  };
}

/** The streams function's services: documents in the vault behind the object prefix, read only. */
export function streamsServices(
  config: Config,
  { admin, access }: KeyAccess,
  s3: S3Client,
): Pick<StreamsDeps, 'documents' | 'access'> {
  const store = new S3ObjectStore(s3, config.vaultBucket, config.objectPrefix);
  return { access, documents: new DocumentService(admin, store, { version: config.envelopeVersion }) };
}
