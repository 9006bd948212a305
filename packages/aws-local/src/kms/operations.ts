import type { Operation } from './operation.js';
import { aliasOperations } from './ops-aliases.js';
import { asymmetricOperations } from './ops-asymmetric.js';
import { cryptoOperations } from './ops-crypto.js';
import { grantOperations } from './ops-grants.js';
import { importOperations } from './ops-import.js';
import { keyOperations } from './ops-keys.js';
import { macOperations } from './ops-mac.js';
import { rotationAndPolicyOperations } from './ops-rotation-policy.js';

/** Every operation the local KMS implements, by its `X-Amz-Target` name. */
export const OPERATIONS: Readonly<Record<string, Operation>> = Object.freeze({
  ...keyOperations,
  ...aliasOperations,
  ...cryptoOperations,
  ...rotationAndPolicyOperations,
  ...grantOperations,
  ...asymmetricOperations,
  ...macOperations,
  ...importOperations,
});

/**
 * Operations AWS KMS has that the local KMS does not (key agreement, custom key stores,
 * multi-Region keys): they answer UnsupportedOperationException naming the
 * operation, rather than the UnknownOperationException of a name KMS does not know at all.
 */
export const NOT_IMPLEMENTED: ReadonlySet<string> = new Set([
  'ConnectCustomKeyStore',
  'CreateCustomKeyStore',
  'DeleteCustomKeyStore',
  'DeriveSharedSecret',
  'DescribeCustomKeyStores',
  'DisconnectCustomKeyStore',
  'ReplicateKey',
  'UpdateCustomKeyStore',
  'UpdatePrimaryRegion',
]);
