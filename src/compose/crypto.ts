import { EsdkEnvelope } from '../aws/esdk.js';
import type { CryptoDeps } from '../handlers/crypto.js';
import { CryptoService, INLINE_LIMIT } from '../services/crypto.js';
import type { KeyAccess } from './key-access.js';

/** The crypto function's services: encryption through KMS and the Encryption SDK. */
export function cryptoServices({ kms, admin, access }: KeyAccess): Pick<CryptoDeps, 'crypto' | 'access'> {
  return { access, crypto: new CryptoService(admin, new EsdkEnvelope(kms, INLINE_LIMIT * 2)) };
}
