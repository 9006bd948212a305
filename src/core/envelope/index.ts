/**
 * Envelope encryption of stored objects in the S3 Encryption Client formats V2 and V3: the
 * header in object metadata (or an instruction file), the body as one AES-256-GCM stream.
 * No AWS SDK here: the caller wraps and unwraps data keys with KMS.
 */
export * from './kdf.js';
export * from './metadata.js';
export * from './object-format.js';
export * from './stream.js';
