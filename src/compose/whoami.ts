import type { Config } from '../config.js';
import type { WhoAmIDeps } from '../handlers/whoami.js';
import { KeyService } from '../services/keys.js';
import type { KeyAccess } from './key-access.js';

/** The whoami function's services: the key service's explanation of a caller's rights; no S3. */
export function whoamiServices(
  config: Config,
  { admin, access }: KeyAccess,
): Pick<WhoAmIDeps, 'keys' | 'admin' | 'access'> {
  return { admin, access, keys: new KeyService(admin, access, config.accountId) };
}
