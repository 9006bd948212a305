import type { Transform } from 'node:stream';
import type { EncryptionContext } from '@eaas/aws-rules';
import {
  EAAS_METADATA,
  type EnvelopeHeader,
  type EnvelopeVersion,
  encodeHeader,
  kmsContextFor,
  METADATA_LIMIT_BYTES,
  metadataBytes,
  sealer,
} from '../core/envelope/index.js';
import type { Keys } from '../ports.js';

/**
 * A fresh data key for one object (never shared: KMS GenerateDataKey under the object's context)
 * and what writing the object needs: the transform that seals its body, its metadata (the S3EC
 * header and this service's own keys) and, when the header does not fit in S3's 2 KB of
 * metadata, the instruction file to write first. The plaintext data key is zeroed by the sealer.
 */
export async function newEnvelope(
  keys: Keys,
  input: {
    version: EnvelopeVersion;
    keyArn: string;
    userContext: EncryptionContext;
    plaintextLength: number;
    /** This service's own metadata keys (owner, times, upload id). */
    ours: Record<string, string>;
  },
): Promise<{ keyArn: string; stream: Transform; metadata: Record<string, string>; instruction?: string }> {
  const kmsContext = kmsContextFor(input.version, input.userContext);
  const dataKey = await keys.generateDataKey({
    keyId: input.keyArn,
    context: kmsContext,
    numberOfBytes: 32,
    includePlaintext: true,
  });
  const plainKey = Buffer.from(dataKey.plaintext ?? new Uint8Array());
  dataKey.plaintext?.fill(0);
  const { header, stream } = sealer({
    version: input.version,
    dataKey: plainKey,
    wrappedKey: Buffer.from(dataKey.ciphertext),
    kmsContext,
    plaintextLength: input.plaintextLength,
  });
  return { keyArn: dataKey.keyArn, stream, ...objectMetadata(header, dataKey.keyArn, input.ours) };
}

/**
 * An object's metadata: its S3EC header and this service's own keys; when the header does not fit
 * in S3's 2 KB of metadata, the header goes to the instruction file answered (written by the caller).
 */
export function objectMetadata(
  header: EnvelopeHeader,
  keyArn: string,
  own: Record<string, string>,
): { metadata: Record<string, string>; instruction?: string } {
  const ours = {
    ...own,
    [EAAS_METADATA.keyArn]: keyArn,
    [EAAS_METADATA.wrappedAt]: new Date().toISOString(),
  };
  let encoded = encodeHeader(header);
  if (metadataBytes({ ...encoded.metadata, ...ours }) > METADATA_LIMIT_BYTES)
    encoded = encodeHeader(header, { instructionFile: true });
  return {
    metadata: { ...encoded.metadata, ...ours },
    ...(encoded.instruction !== undefined ? { instruction: encoded.instruction } : {}),
  };
}
