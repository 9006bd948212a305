import type { KMSClient } from '@aws-sdk/client-kms';
import { KmsSigning } from '../aws/kms-signing.js';
import type { Config } from '../config.js';
import type { CryptoDeps } from '../handlers/crypto.js';
import type { EnvelopeCodec } from '../ports.js';
import { CryptoService, INLINE_LIMIT } from '../services/crypto.js';
import { SigningService } from '../services/signing.js';
import type { KeyAccess } from './key-access.js';

/**
 * The Encryption SDK's envelope, loaded on its first use: only payloads over KMS's direct limit
 * and Encryption SDK messages need it, and its modules (with the big-number and ASN.1 libraries
 * its signing suites verify with) are most of what the crypto function would otherwise evaluate
 * at start. The bundle still holds them; they run only when a request needs them.
 */
export function lazyEsdkEnvelope(
  kms: KMSClient,
  maxMessageBytes: number,
  discovery?: { accountIDs: string[]; partition: string },
): EnvelopeCodec {
  let loaded: Promise<EnvelopeCodec> | undefined;
  const envelope = () => {
    loaded ??= import('../aws/esdk.js').then(
      ({ EsdkEnvelope }) => new EsdkEnvelope(kms, maxMessageBytes, discovery),
    );
    return loaded;
  };
  return {
    encrypt: async (keyId, plaintext, context) => (await envelope()).encrypt(keyId, plaintext, context),
    decrypt: async (message, context, beforeKms) => (await envelope()).decrypt(message, context, beforeKms),
  };
}

/** The partition of a region's ARNs. */
export const partitionOf = (region: string) =>
  region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';

/**
 * The crypto function's services: encryption through KMS and the Encryption SDK, whose messages
 * are read only under keys of the service's own account; signatures and MACs through KMS.
 */
export function cryptoServices(
  { kms, admin, access }: KeyAccess,
  config: Pick<Config, 'accountId' | 'region'>,
): Pick<CryptoDeps, 'crypto' | 'access' | 'signing'> {
  const discovery = { accountIDs: [config.accountId], partition: partitionOf(config.region) };
  return {
    access,
    crypto: new CryptoService(admin, lazyEsdkEnvelope(kms, INLINE_LIMIT * 2, discovery)),
    signing: new SigningService(new KmsSigning(kms), admin),
  };
}
