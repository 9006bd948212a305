import {
  ENCRYPTION_ALGORITHMS,
  KEY_ORIGINS,
  KEY_SPECS,
  KEY_USAGES,
  MAC_ALGORITHMS,
  SIGNING_ALGORITHMS,
} from '../core/key-kinds.js';
import { SERVICE_GRANT_OPERATIONS } from '../core/key-policy.js';

/**
 * JSON Schemas (2020-12, as OpenAPI 3.1 uses) of every request and response body. The handlers
 * validate with these at the edge and `openapi.yaml` is generated from them, so the two agree.
 */

export const MAX_BATCH_ITEMS = 100;
/**
 * Items of a /v1/sign or /v1/verify batch: each is a call on KMS's asymmetric quota (1,000 a
 * second by default for RSA keys, and as many for ECC keys, against 10,000 or more for symmetric
 * operations: https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html), so
 * these routes take smaller batches under a throttle of their own (serverless.yml, signThrottle).
 */
export const MAX_SIGN_BATCH_ITEMS = 10;

const base64 = (description: string) =>
  ({
    type: 'string',
    minLength: 1,
    format: 'byte',
    contentEncoding: 'base64',
    description,
  }) as const;

export const KeyId = {
  type: 'string',
  minLength: 1,
  maxLength: 2048,
  description: 'Key id, key ARN, alias name (alias/x) or alias ARN.',
  examples: ['alias/eaas-default'],
} as const;

export const EncryptionContext = {
  type: 'object',
  description:
    'Non-secret pairs bound to the ciphertext; decrypt needs the same pairs. Up to 32 pairs, keys 1-128 characters, values up to 1024, 4096 bytes in all; keys starting with aws:, aws-crypto- or aws-kms are reserved.',
  maxProperties: 32,
  propertyNames: { minLength: 1, maxLength: 128 },
  additionalProperties: { type: 'string', maxLength: 1024 },
  examples: [{ tenant: 'acme', purpose: 'invoice' }],
} as const;

export const GrantTokens = {
  type: 'array',
  maxItems: 10,
  items: { type: 'string', minLength: 1, maxLength: 8192 },
  description:
    "Grant tokens from POST /v1/keys/{keyId}/grants: after a refusal from the cache, the caller's grants are read again (at most once a second per key), so a new grant works at once.",
} as const;

export const Format = {
  type: 'string',
  enum: ['kms', 'aws-encryption-sdk'],
  description:
    'kms: a KMS ciphertext blob (plaintext up to 4096 bytes); aws-encryption-sdk: an AWS Encryption SDK message.',
} as const;

const EncryptionAlgorithm = {
  type: 'string',
  enum: [...ENCRYPTION_ALGORITHMS],
  description:
    'SYMMETRIC_DEFAULT (the default): a symmetric key. RSAES_OAEP_SHA_256 or RSAES_OAEP_SHA_1 (OAEP with MGF1 of the same hash): an RSA key for ENCRYPT_DECRYPT, which needs one named (there is no default: decrypting needs the same one), takes no encryption context, and encrypts at most 190/214 bytes (RSA_2048, SHA-256/SHA-1), 318/342 (RSA_3072) or 446/470 (RSA_4096). An algorithm the key does not take is 400 InvalidKeyUsage.',
} as const;

const AnsweredAlgorithm = {
  type: 'string',
  enum: [...ENCRYPTION_ALGORITHMS],
  description: 'The encryption algorithm of the key used.',
} as const;

export const EncryptRequest = {
  type: 'object',
  required: ['keyId', 'plaintext'],
  additionalProperties: false,
  properties: {
    grantTokens: GrantTokens,
    keyId: KeyId,
    plaintext: base64(
      "Base64 of the bytes to encrypt: up to 4096 bytes go to KMS Encrypt, larger up to 4 MiB become an Encryption SDK message. Under an RSA key, at most the algorithm's limit (413 PayloadTooLarge beyond), never an SDK message.",
    ),
    context: EncryptionContext,
    encryptionAlgorithm: EncryptionAlgorithm,
  },
} as const;

export const EncryptResponse = {
  type: 'object',
  required: ['ciphertext', 'keyId', 'format', 'encryptionAlgorithm'],
  properties: {
    ciphertext: base64('Base64 ciphertext (for an RSA key, the bare RSAES-OAEP output).'),
    keyId: { type: 'string', description: 'ARN of the key used.' },
    format: Format,
    encryptionAlgorithm: AnsweredAlgorithm,
  },
} as const;

export const DecryptRequest = {
  type: 'object',
  required: ['ciphertext'],
  additionalProperties: false,
  properties: {
    grantTokens: GrantTokens,
    ciphertext: base64(
      "Base64 ciphertext as /v1/encrypt returned it (either format), or made with an RSA key's public key anywhere (with encryptionAlgorithm and keyId).",
    ),
    context: EncryptionContext,
    keyId: {
      ...KeyId,
      description:
        'When given, decryption succeeds only under this key. Required with an RSA encryptionAlgorithm (an RSA ciphertext names no key).',
    },
    encryptionAlgorithm: {
      ...EncryptionAlgorithm,
      description:
        'RSAES_OAEP_SHA_256 or RSAES_OAEP_SHA_1: the ciphertext is RSAES-OAEP under the RSA key keyId, with that hash for OAEP and MGF1 (no context). Default SYMMETRIC_DEFAULT.',
    },
  },
} as const;

export const DecryptResponse = {
  type: 'object',
  required: ['plaintext', 'keyId', 'format', 'encryptionAlgorithm'],
  properties: {
    plaintext: base64('Base64 plaintext.'),
    keyId: { type: 'string' },
    format: Format,
    encryptionAlgorithm: AnsweredAlgorithm,
  },
} as const;

export const ReEncryptRequest = {
  type: 'object',
  required: ['ciphertext', 'destinationKeyId'],
  additionalProperties: false,
  properties: {
    grantTokens: GrantTokens,
    ciphertext: base64('Base64 ciphertext (either format).'),
    destinationKeyId: KeyId,
    context: { ...EncryptionContext, description: 'The context the ciphertext was made with.' },
    destinationContext: {
      ...EncryptionContext,
      description: 'The context of the new ciphertext; defaults to `context`.',
    },
    sourceKeyId: {
      ...KeyId,
      description:
        'When given, the ciphertext must be under this key. Required with an RSA sourceEncryptionAlgorithm.',
    },
    sourceEncryptionAlgorithm: {
      ...EncryptionAlgorithm,
      description:
        'The RSA algorithm of an RSA ciphertext (with sourceKeyId, and no context); default SYMMETRIC_DEFAULT.',
    },
    destinationEncryptionAlgorithm: {
      ...EncryptionAlgorithm,
      description:
        'RSAES_OAEP_SHA_256 or RSAES_OAEP_SHA_1 to re-encrypt under an RSA destination key (no destinationContext; context is not carried over); default SYMMETRIC_DEFAULT.',
    },
  },
} as const;

export const ReEncryptResponse = {
  type: 'object',
  required: [
    'ciphertext',
    'sourceKeyId',
    'keyId',
    'format',
    'sourceEncryptionAlgorithm',
    'destinationEncryptionAlgorithm',
  ],
  properties: {
    ciphertext: base64('Base64 ciphertext under the destination key.'),
    sourceKeyId: { type: 'string' },
    keyId: { type: 'string' },
    format: Format,
    sourceEncryptionAlgorithm: AnsweredAlgorithm,
    destinationEncryptionAlgorithm: AnsweredAlgorithm,
  },
} as const;

export const DataKeyRequest = {
  type: 'object',
  required: ['keyId'],
  additionalProperties: false,
  properties: {
    grantTokens: GrantTokens,
    keyId: KeyId,
    keySpec: {
      type: 'string',
      enum: ['AES_256', 'AES_128'],
      description: 'Default AES_256 when numberOfBytes is absent.',
    },
    numberOfBytes: { type: 'integer', minimum: 1, maximum: 1024 },
    context: EncryptionContext,
    includePlaintext: { type: 'boolean', default: true, description: 'false returns only the wrapped key.' },
  },
  not: { required: ['keySpec', 'numberOfBytes'] },
} as const;

export const DataKeyResponse = {
  type: 'object',
  required: ['ciphertext', 'keyId'],
  properties: {
    ciphertext: base64('Base64 KMS ciphertext blob of the data key.'),
    plaintext: base64('Base64 data key; zero it once used.'),
    keyId: { type: 'string' },
  },
} as const;

const Decision = {
  type: 'object',
  required: ['action', 'allowed', 'reason', 'explanation'],
  properties: {
    route: { type: 'string', description: 'The API route this action is checked for.' },
    action: { type: 'string', examples: ['kms:Encrypt'] },
    allowed: { type: 'boolean' },
    reason: {
      type: 'string',
      enum: ['key-policy', 'grant', 'explicit-deny', 'implicit-deny', 'separation-of-duties'],
    },
    by: { type: 'string', description: 'The policy statement (Sid or #index) or the grant id that decided.' },
    explanation: { type: 'string' },
    conditionalGrants: {
      type: 'array',
      items: { type: 'string' },
      description: 'Grants that would allow it with another encryption context.',
    },
  },
} as const;

export const WhoAmIResponse = {
  type: 'object',
  required: ['principal', 'callerArn', 'accountId'],
  properties: {
    principal: {
      type: 'string',
      description: 'The caller, an assumed-role session normalised to its role ARN.',
    },
    callerArn: { type: 'string', description: 'The caller ARN as authenticated.' },
    accountId: { type: 'string' },
    person: {
      type: 'object',
      description:
        'A person signed in through the identity pool: its Cognito identity and its document space (document names in the API are relative to it).',
      required: ['identityId', 'identityPoolId', 'space'],
      properties: {
        identityId: { type: 'string', description: 'The Cognito identity id, <region>:<uuid>.' },
        identityPoolId: { type: 'string' },
        space: {
          type: 'object',
          required: ['prefix', 'context'],
          properties: {
            prefix: {
              type: 'string',
              description: 'Where its documents are in the vault: people/<identityId>/.',
            },
            context: {
              ...EncryptionContext,
              description: 'The pair every document it writes is bound to: eaas:space = <identityId>.',
            },
          },
        },
      },
    },
    key: {
      type: 'object',
      properties: { keyId: { type: 'string' }, arn: { type: 'string' }, state: { type: 'string' } },
    },
    access: {
      type: 'object',
      description: 'With keyId: what the caller may do on the key, and which statement or grant decides.',
      properties: {
        context: EncryptionContext,
        operations: { type: 'array', items: Decision },
        grants: { type: 'array', items: { type: 'object' } },
      },
    },
  },
} as const;

export const ErrorResponse = {
  type: 'object',
  required: ['error', 'message', 'requestId'],
  properties: {
    error: { type: 'string', description: 'Stable error code.' },
    message: { type: 'string' },
    requestId: { type: 'string' },
    details: {
      type: 'array',
      items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } },
    },
  },
} as const;

/** A batch: the same request several times; each item is answered on its own. */
export function batchOf(itemSchema: object, maxItems: number = MAX_BATCH_ITEMS): object {
  return {
    type: 'object',
    required: ['items'],
    additionalProperties: false,
    properties: { items: { type: 'array', minItems: 1, maxItems, items: itemSchema } },
  };
}

export function batchResponseOf(itemSchema: object): object {
  return {
    type: 'object',
    required: ['items', 'requestId'],
    properties: {
      requestId: { type: 'string' },
      items: {
        type: 'array',
        items: {
          oneOf: [
            itemSchema,
            {
              type: 'object',
              required: ['error', 'message'],
              properties: { error: { type: 'string' }, message: { type: 'string' } },
            },
          ],
        },
      },
    },
  };
}

// ---- Key administration ----

const PrincipalArn = {
  type: 'string',
  minLength: 20,
  maxLength: 1024,
  pattern: '^arn:aws[a-z-]*:(iam|sts)::\\d{12}:',
  description: 'An IAM user, role or account ARN; an assumed-role session ARN counts as its role.',
  examples: ['arn:aws:iam::111122223333:user/myKeyUser'],
} as const;

const Principals = { type: 'array', maxItems: 20, uniqueItems: true, items: PrincipalArn } as const;

/**
 * A key's tags as callers give them: 48 at most (KMS allows 50; the service adds eaas:service and
 * eaas:created-by), keys in ASCII letters, digits, spaces and `_.:/=+-@` (a subset of KMS's, so
 * that no look-alike of the reserved `eaas:` prefix passes), never `aws:`.
 */
const Tags = {
  type: 'object',
  maxProperties: 48,
  propertyNames: { minLength: 1, maxLength: 128, pattern: '^(?![aA][wW][sS]:)[A-Za-z0-9 _.:/=+@-]+$' },
  additionalProperties: { type: 'string', maxLength: 256 },
} as const;

const AliasName = {
  type: 'string',
  minLength: 1,
  maxLength: 256,
  pattern: '^(alias/)?[a-zA-Z0-9/_-]+$',
  examples: ['alias/payments'],
} as const;

export const Key = {
  type: 'object',
  required: ['keyId', 'arn', 'state', 'createdAt'],
  properties: {
    keyId: { type: 'string' },
    arn: { type: 'string' },
    description: { type: 'string' },
    state: {
      type: 'string',
      enum: ['Enabled', 'Disabled', 'PendingDeletion', 'PendingImport'],
      description:
        'PendingImport: a key created with origin EXTERNAL, whose material is not imported (or was deleted, or expired).',
    },
    createdAt: { type: 'string', format: 'date-time' },
    deletionDate: { type: 'string', format: 'date-time' },
    pendingWindowInDays: { type: 'integer' },
    keySpec: { type: 'string', enum: [...KEY_SPECS] },
    keyUsage: { type: 'string', enum: [...KEY_USAGES] },
    origin: { type: 'string', enum: [...KEY_ORIGINS] },
    encryptionAlgorithms: { type: 'array', items: { type: 'string' } },
    signingAlgorithms: { type: 'array', items: { type: 'string' } },
    macAlgorithms: { type: 'array', items: { type: 'string' } },
    expirationModel: {
      type: 'string',
      enum: ['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE'],
      description: 'Imported material: whether it expires.',
    },
    validTo: { type: 'string', format: 'date-time', description: 'When imported material expires.' },
    aliases: { type: 'array', items: { type: 'string' } },
    tags: Tags,
    access: {
      type: 'object',
      properties: { administer: { type: 'boolean' }, use: { type: 'boolean' } },
    },
  },
} as const;

export const KeyResponse = { type: 'object', required: ['key'], properties: { key: Key } } as const;

const Rotation = {
  type: 'object',
  required: ['enabled'],
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean' },
    periodInDays: { type: 'integer', minimum: 90, maximum: 2560, default: 365 },
  },
} as const;

export const CreateKeyRequest = {
  type: 'object',
  additionalProperties: false,
  properties: {
    description: { type: 'string', maxLength: 8192 },
    administrators: {
      ...Principals,
      description: 'Besides the caller, who always administers the key it creates.',
    },
    users: Principals,
    tags: Tags,
    alias: AliasName,
    rotation: {
      ...Rotation,
      description:
        'Automatic rotation; on, every 365 days, unless said otherwise, for a symmetric key whose material KMS makes; other keys have none (asking for it is 400 InvalidKeyConfiguration).',
    },
    keySpec: {
      type: 'string',
      enum: [...KEY_SPECS],
      default: 'SYMMETRIC_DEFAULT',
      description:
        'SYMMETRIC_DEFAULT (AES-256-GCM, encryption), RSA_* (encryption or signing), ECC_* (signing), HMAC_* (MACs).',
    },
    keyUsage: {
      type: 'string',
      enum: [...KEY_USAGES],
      description:
        "What the key is for; by default the spec's only usage. An RSA key must say (ENCRYPT_DECRYPT or SIGN_VERIFY); a usage the spec does not take is 400 InvalidKeyConfiguration.",
    },
    origin: {
      type: 'string',
      enum: [...KEY_ORIGINS],
      default: 'AWS_KMS',
      description:
        'EXTERNAL: the key is created without material (state PendingImport) and its administrators import it (GET .../import-parameters, PUT .../material).',
    },
  },
} as const;

export const CreateKeyResponse = {
  type: 'object',
  required: ['key', 'administrators', 'users', 'rotation'],
  properties: {
    key: Key,
    administrators: { type: 'array', items: { type: 'string' } },
    users: { type: 'array', items: { type: 'string' } },
    rotation: Rotation,
    alias: { type: 'string' },
  },
} as const;

export const ListKeysResponse = {
  type: 'object',
  required: ['keys'],
  properties: { keys: { type: 'array', items: Key }, nextToken: { type: 'string' } },
} as const;

export const RotationRequest = Rotation;

export const RotationResponse = {
  type: 'object',
  required: ['keyId', 'enabled'],
  properties: {
    keyId: { type: 'string' },
    enabled: { type: 'boolean' },
    periodInDays: { type: 'integer' },
    nextRotationDate: { type: 'string', format: 'date-time' },
  },
} as const;

export const RotateResponse = {
  type: 'object',
  required: ['keyId'],
  properties: { keyId: { type: 'string' } },
} as const;

export const RotationsResponse = {
  type: 'object',
  required: ['keyId', 'rotations'],
  properties: {
    keyId: { type: 'string' },
    rotations: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          keyMaterialId: { type: 'string' },
          current: { type: 'boolean' },
          rotationType: { type: 'string', enum: ['AUTOMATIC', 'ON_DEMAND'] },
          rotationDate: { type: 'string', format: 'date-time' },
        },
      },
    },
    nextToken: { type: 'string' },
  },
} as const;

export const PolicyRequest = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    administrators: Principals,
    users: Principals,
    policy: {
      type: ['object', 'string'],
      description: 'A whole key policy document, instead of administrators and users.',
    },
  },
} as const;

export const PolicyResponse = {
  type: 'object',
  required: ['keyId', 'administrators', 'users', 'managed', 'outdated', 'policy'],
  properties: {
    keyId: { type: 'string' },
    administrators: { type: 'array', items: { type: 'string' } },
    users: { type: 'array', items: { type: 'string' } },
    managed: { type: 'boolean', description: 'Whether the policy is exactly as this service writes it.' },
    outdated: {
      type: 'boolean',
      description:
        "Whether the policy is one this service wrote in an earlier version, or naming other roles: a PUT of the same administrators and users brings it to today's (`eaas keys policy upgrade`).",
    },
    policy: { type: ['object', 'string'], description: 'The key policy document.' },
  },
} as const;

const GrantConstraints = {
  type: 'object',
  additionalProperties: false,
  maxProperties: 1,
  properties: { encryptionContextSubset: EncryptionContext, encryptionContextEquals: EncryptionContext },
} as const;

export const CreateGrantRequest = {
  type: 'object',
  required: ['grantee', 'operations'],
  additionalProperties: false,
  properties: {
    grantee: PrincipalArn,
    operations: {
      type: 'array',
      minItems: 1,
      maxItems: SERVICE_GRANT_OPERATIONS.length,
      uniqueItems: true,
      items: { type: 'string', enum: [...SERVICE_GRANT_OPERATIONS] },
    },
    constraints: GrantConstraints,
    name: { type: 'string', minLength: 1, maxLength: 256, pattern: '^[a-zA-Z0-9:/_-]+$' },
    retiringPrincipal: PrincipalArn,
  },
} as const;

export const CreateGrantResponse = {
  type: 'object',
  required: ['keyId', 'grantId', 'grantToken'],
  properties: { keyId: { type: 'string' }, grantId: { type: 'string' }, grantToken: { type: 'string' } },
} as const;

export const Grant = {
  type: 'object',
  required: ['grantId', 'grantee', 'operations'],
  properties: {
    grantId: { type: 'string' },
    name: { type: 'string' },
    grantee: { type: 'string' },
    retiringPrincipal: { type: 'string' },
    operations: { type: 'array', items: { type: 'string' } },
    constraints: GrantConstraints,
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

export const ListGrantsResponse = {
  type: 'object',
  required: ['keyId', 'grants'],
  properties: {
    keyId: { type: 'string' },
    grants: { type: 'array', items: Grant },
    nextToken: { type: 'string' },
  },
} as const;

export const RevokeGrantResponse = {
  type: 'object',
  required: ['keyId', 'grantId', 'revoked'],
  properties: { keyId: { type: 'string' }, grantId: { type: 'string' }, revoked: { type: 'boolean' } },
} as const;

export const PutAliasRequest = {
  type: 'object',
  required: ['keyId'],
  additionalProperties: false,
  properties: { keyId: KeyId },
} as const;

export const AliasResponse = {
  type: 'object',
  required: ['alias', 'keyId'],
  properties: {
    alias: { type: 'string' },
    keyId: { type: 'string' },
    created: { type: 'boolean' },
    deleted: { type: 'boolean' },
  },
} as const;

export const ListAliasesResponse = {
  type: 'object',
  required: ['aliases'],
  properties: {
    aliases: {
      type: 'array',
      items: { type: 'object', properties: { name: { type: 'string' }, keyId: { type: 'string' } } },
    },
    nextToken: { type: 'string' },
  },
} as const;

// ---- Documents ----

/** A document's context: printable ASCII (S3 metadata), and the S3 Encryption Client's own keys reserved. */
const DocumentContext = {
  ...EncryptionContext,
  description:
    "The document's encryption context: printable ASCII, up to 32 pairs, keys 1-128 characters, values up to 1024, 4096 bytes in all; keys starting with aws:, aws-crypto- or aws-kms, and kms_cmk_id (the S3 Encryption Client's), are refused (400 ValidationError).",
} as const;

export const ObjectView = {
  type: 'object',
  required: ['key', 'format', 'size', 'storedSize', 'context', 'lastModified', 'etag'],
  properties: {
    key: { type: 'string' },
    format: { type: 'string', enum: ['s3ec-v2', 's3ec-v3'] },
    keyId: { type: 'string', description: 'ARN of the key the data key is wrapped under.' },
    size: { type: 'integer', description: 'Plaintext bytes.' },
    storedSize: { type: 'integer', description: 'Bytes stored: the ciphertext and its 16-byte tag.' },
    context: {
      ...EncryptionContext,
      description:
        'The stored encryption context, as KMS binds it but for aws:x-amz-cek-alg (which the format fixes).',
    },
    owner: { type: 'string', description: 'The principal that stored it.' },
    contentType: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    lastModified: { type: 'string', format: 'date-time' },
    etag: { type: 'string' },
    instructionFile: { type: 'boolean', description: 'Whether the header is in <key>.instruction.' },
  },
} as const;

export const PutObjectResponse = {
  type: 'object',
  required: ['key', 'keyId', 'format', 'size', 'etag'],
  properties: {
    key: { type: 'string' },
    keyId: { type: 'string' },
    format: { type: 'string', enum: ['s3ec-v2', 's3ec-v3'] },
    size: { type: 'integer' },
    etag: { type: 'string' },
  },
} as const;

export const DeleteObjectResponse = {
  type: 'object',
  required: ['key', 'deleted'],
  properties: { key: { type: 'string' }, deleted: { type: 'boolean' } },
} as const;

export const ListObjectsResponse = {
  type: 'object',
  required: ['objects'],
  properties: { objects: { type: 'array', items: ObjectView }, nextToken: { type: 'string' } },
} as const;

export const DownloadRequest = {
  type: 'object',
  required: ['key'],
  additionalProperties: false,
  properties: {
    key: { type: 'string', minLength: 1, maxLength: 1024, description: 'The document to download.' },
  },
} as const;

export const DownloadResponse = {
  type: 'object',
  required: [...ObjectView.required, 'url', 'expiresAt', 'cipher'],
  properties: {
    ...ObjectView.properties,
    url: {
      type: 'string',
      description: 'A presigned GET of the stored body: the ciphertext, then the 16-byte tag.',
    },
    expiresAt: { type: 'string', format: 'date-time' },
    cipher: {
      type: 'object',
      required: ['algorithm', 'key', 'iv', 'aad', 'tagLength'],
      description:
        "The object's own AES-256-GCM content key (for S3EC V3 derived from the data key once its commitment checked), IV and additional data. Open the body with plain AES-256-GCM; release nothing before the tag checks.",
      properties: {
        algorithm: { type: 'string', enum: ['AES-256-GCM'] },
        key: { type: 'string', contentEncoding: 'base64' },
        iv: { type: 'string', contentEncoding: 'base64' },
        aad: { type: 'string', contentEncoding: 'base64', description: 'May be empty.' },
        tagLength: { type: 'integer', enum: [16] },
      },
    },
  },
} as const;

// ---- Uploads ----

const UploadId = { type: 'string', pattern: '^[0-9a-f]{32}$' } as const;

export const CreateUploadRequest = {
  type: 'object',
  required: ['key', 'keyId', 'size'],
  additionalProperties: false,
  properties: {
    key: {
      type: 'string',
      minLength: 1,
      maxLength: 1024,
      description:
        'Where the document will be stored: at most 1,012 bytes of UTF-8 less the object prefix, so that <key>.instruction fits in an S3 key.',
    },
    keyId: KeyId,
    size: { type: 'integer', minimum: 0, description: 'The exact size of the document, in bytes.' },
    context: DocumentContext,
    contentType: {
      type: 'string',
      minLength: 1,
      maxLength: 256,
      description:
        'A media type (RFC 9110), e.g. application/pdf; served back with Content-Disposition: attachment.',
    },
    overwrite: {
      type: 'boolean',
      description: 'false: the upload fails (Conflict) when the key holds an object.',
    },
    sealedBy: {
      type: 'string',
      enum: ['service', 'client'],
      description:
        "Who encrypts. service (default): PUT the plaintext to the staging URLs; the seal encrypts it into the vault. client: the answer holds the object's AES-256-GCM content key, IV and AAD (cipher); encrypt the document with them, append the 16-byte tag and PUT that ciphertext, cut into the planned parts, straight into the vault; then complete. Not resumable: the content key is handed out once.",
    },
    verify: {
      type: 'boolean',
      description:
        'sealedBy client only (else 400 ValidationError): the parts complete at a hidden pending name, and the seal authenticates the stored object whole (GCM tag and key commitment, releasing nothing) before copying it to the key; the upload stays pending until then (poll it): sealed, or failed/VerifyFailed when the object does not authenticate (nothing is listed or replaced). At most 5 GiB - 16 bytes (one CopyObject).',
    },
  },
} as const;

export const UploadStatus = {
  type: 'object',
  required: ['id', 'key', 'keyId', 'state', 'size', 'createdAt', 'expiresAt'],
  properties: {
    id: UploadId,
    key: { type: 'string' },
    keyId: { type: 'string', description: 'ARN of the key the document is sealed under.' },
    state: { type: 'string', enum: ['pending', 'sealed', 'failed'] },
    size: { type: 'integer' },
    createdAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: 'string', format: 'date-time', description: 'When the upload URLs stop working.' },
    sealedAt: { type: 'string', format: 'date-time' },
    object: {
      type: 'object',
      properties: { etag: { type: 'string' }, format: { type: 'string', enum: ['s3ec-v2', 's3ec-v3'] } },
    },
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: {
          type: 'string',
          enum: [
            'Expired',
            'TooLarge',
            'SizeMismatch',
            'Cancelled',
            'Conflict',
            'SealFailed',
            'VerifyFailed',
          ],
        },
        message: { type: 'string' },
      },
    },
  },
} as const;

export const CreateUploadResponse = {
  type: 'object',
  required: [...UploadStatus.required, 'method'],
  properties: {
    ...UploadStatus.properties,
    method: { type: 'string', enum: ['PUT', 'multipart'] },
    sealedBy: {
      type: 'string',
      enum: ['client'],
      description: 'Present for an upload sealed by the client: the parts are of the ciphertext and its tag.',
    },
    verify: {
      type: 'boolean',
      enum: [true],
      description: 'Present for a verified upload: after the completion, poll it until sealed or failed.',
    },
    cipher: {
      ...DownloadResponse.properties.cipher,
      description:
        "sealedBy client: the new object's own AES-256-GCM content key (S3EC V3: derived from its data key), IV and additional data. Encrypt the whole document as one GCM message, append the tag: that is the body (size + 16 bytes) to cut into the parts. Keep the key in memory only.",
    },
    url: { type: 'string', description: 'method PUT: PUT the document here, with exactly its size.' },
    headers: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: 'Headers to send with the PUT.',
    },
    partSize: { type: 'integer' },
    parts: {
      type: 'array',
      description: "method multipart: PUT each part here; keep each answer's ETag for the completion.",
      items: {
        type: 'object',
        required: ['partNumber', 'url', 'size'],
        properties: { partNumber: { type: 'integer' }, url: { type: 'string' }, size: { type: 'integer' } },
      },
    },
  },
} as const;

export const CompleteUploadRequest = {
  type: 'object',
  required: ['parts'],
  additionalProperties: false,
  properties: {
    parts: {
      type: 'array',
      minItems: 1,
      maxItems: 10000,
      items: {
        type: 'object',
        required: ['partNumber', 'etag'],
        additionalProperties: false,
        properties: {
          partNumber: { type: 'integer', minimum: 1, maximum: 10000 },
          etag: { type: 'string', minLength: 1, maxLength: 128 },
        },
      },
    },
  },
} as const;

/** POST /v1/uploads/{id}/parts: which parts to sign again (default: every part S3 does not hold). */
export const ResumeUploadRequest = {
  type: 'object',
  additionalProperties: false,
  properties: {
    partNumbers: {
      type: 'array',
      minItems: 1,
      maxItems: 1000,
      uniqueItems: true,
      description: 'The parts to sign URLs for (default: every part not uploaded yet).',
      items: { type: 'integer', minimum: 1, maximum: 10000 },
    },
  },
} as const;

export const ResumeUploadResponse = {
  type: 'object',
  required: [...UploadStatus.required, 'partSize', 'parts', 'uploaded'],
  properties: {
    ...UploadStatus.properties,
    partSize: { type: 'integer' },
    parts: {
      type: 'array',
      description: 'Fresh URLs (valid until expiresAt) of the parts asked for; PUT each, keep its ETag.',
      items: CreateUploadResponse.properties.parts.items,
    },
    uploaded: {
      type: 'array',
      description: 'The parts S3 already holds, with their ETags for the completion.',
      items: {
        type: 'object',
        required: ['partNumber', 'etag', 'size'],
        properties: { partNumber: { type: 'integer' }, etag: { type: 'string' }, size: { type: 'integer' } },
      },
    },
  },
} as const;

export const StartJobRequest = {
  type: 'object',
  required: ['destinationKeyId'],
  additionalProperties: false,
  properties: {
    sourceKeyId: {
      ...KeyId,
      description: 'Re-wrap the objects whose data key is under this key; the caller must administer it too.',
    },
    olderThanRotation: {
      type: 'boolean',
      const: true,
      description:
        "Instead of sourceKeyId: re-wrap the objects under destinationKeyId whose data key was wrapped before the key's last rotation.",
    },
    destinationKeyId: { ...KeyId, description: 'The key to re-wrap onto; the caller must administer it.' },
    prefix: {
      type: 'string',
      maxLength: 1024,
      description: 'Only object keys starting with this (default all).',
    },
    dryRun: { type: 'boolean', description: 'Count what the job would do; change nothing.' },
    concurrency: {
      type: 'integer',
      minimum: 1,
      maximum: 32,
      description: 'Objects re-wrapped at once (default 4).',
    },
    engine: {
      type: 'string',
      enum: ['scheduled', 'batch', 'auto'],
      description:
        "Which engine runs the job: the service's scheduled worker, S3 Batch Operations (where deployed), or `auto` (the default): batch when deployed and the prefix holds at least EAAS_BATCH_THRESHOLD documents, else scheduled.",
    },
  },
} as const;

export const JobView = {
  type: 'object',
  description:
    'A job as its administrators see it: its spec, state and creation time, with no object name, no count of objects at all and no progress times (administrators may decrypt none of them, and a count over a guessed prefix, or the times its pages take, would reveal which documents exist). Operators read the counts and times in the job record and the log line `re-encryption job page`.',
  required: ['id', 'state', 'phase', 'mode', 'destinationKeyId', 'createdAt'],
  properties: {
    id: { type: 'string' },
    state: {
      type: 'string',
      enum: ['pending', 'running', 'succeeded', 'completed-with-failures', 'failed', 'cancelled'],
      description:
        "`completed-with-failures` when objects under the job's keys failed (the one bit the documents decide, and only by failing), else `succeeded`; a batch job may also end `failed` (S3 Batch Operations failed it) or `cancelled`.",
    },
    phase: {
      type: 'string',
      enum: ['pending', 'running', 'succeeded', 'completed-with-failures', 'failed', 'cancelled'],
      description:
        'The same as `state`: which pass a running job is in is not shown (it follows the objects it scans).',
    },
    mode: { type: 'string', enum: ['source-key', 'older-than-rotation'] },
    sourceKeyId: { type: 'string' },
    destinationKeyId: { type: 'string' },
    prefix: { type: 'string' },
    dryRun: { type: 'boolean' },
    concurrency: { type: 'integer' },
    engine: {
      type: 'string',
      enum: ['scheduled', 'batch', 'auto'],
      description:
        'The engine the starter asked for; what `auto` picked is not shown (it would say whether the prefix holds more documents than the threshold).',
    },
    rotatedAt: { type: 'string', format: 'date-time' },
    createdBy: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    report: {
      type: 'object',
      description: 'Once finished: a fixed sentence per outcome, with no number and no name.',
      required: ['summary'],
      properties: { summary: { type: 'string' } },
    },
    requestId: { type: 'string' },
  },
} as const;

export const ListJobsResponse = {
  type: 'object',
  required: ['jobs'],
  properties: {
    jobs: {
      type: 'array',
      items: JobView,
      description: "The caller's own jobs, newest first; never another caller's, nor a count of them.",
    },
    nextToken: { type: 'string' },
  },
} as const;

// ---- Signatures and MACs ----

const Message = base64(
  "Base64 of the message. Up to 4 MiB: over 4,096 bytes it is signed as its digest, which the service computes with the algorithm's hash (messageType DIGEST in the answer).",
);
const MessageType = {
  type: 'string',
  enum: ['RAW', 'DIGEST'],
  default: 'RAW',
  description:
    "DIGEST: `message` is already the digest of the algorithm's hash (32, 48 or 64 bytes). RAW: the message itself.",
} as const;
const SigningAlgorithm = {
  type: 'string',
  enum: SIGNING_ALGORITHMS,
  description:
    "Default: the key's first (ECDSA_SHA_256/384/512 by curve, RSASSA_PSS_SHA_256 for RSA). One the key does not take is 400 InvalidKeyUsage.",
} as const;
const MacAlgorithm = {
  type: 'string',
  enum: [...MAC_ALGORITHMS],
  description: "Default: the key's only one (HMAC_256: HMAC_SHA_256).",
} as const;

export const SignRequest = {
  type: 'object',
  required: ['keyId', 'message'],
  additionalProperties: false,
  properties: {
    grantTokens: GrantTokens,
    keyId: KeyId,
    message: Message,
    messageType: MessageType,
    algorithm: SigningAlgorithm,
  },
} as const;

/** Who made the digest KMS signed (only with messageType DIGEST). */
const DigestedBy = {
  type: 'string',
  enum: ['service', 'caller'],
  description:
    'With messageType DIGEST: "service" when the service hashed a message over 4,096 bytes (the signature is of the whole message), "caller" when the caller sent the digest.',
} as const;

export const SignResponse = {
  type: 'object',
  required: ['signature', 'keyId', 'algorithm', 'messageType'],
  properties: {
    signature: base64('Base64 signature (DER ECDSA-Sig-Value for ECDSA, as OpenSSL writes it).'),
    keyId: { type: 'string', description: 'ARN of the key used.' },
    algorithm: { type: 'string' },
    messageType: {
      type: 'string',
      enum: ['RAW', 'DIGEST'],
      description:
        'What KMS signed: DIGEST when the message was over 4,096 bytes (the service hashed it) or given as a digest.',
    },
    digestedBy: DigestedBy,
  },
} as const;

export const VerifyRequest = {
  type: 'object',
  required: ['keyId', 'message', 'signature'],
  additionalProperties: false,
  properties: {
    grantTokens: GrantTokens,
    keyId: KeyId,
    message: Message,
    messageType: MessageType,
    signature: base64(
      "Base64 signature, as /v1/sign answered it or any signer of the key's algorithm made it.",
    ),
    algorithm: SigningAlgorithm,
  },
} as const;

export const VerifyResponse = {
  type: 'object',
  required: ['valid', 'keyId', 'algorithm', 'messageType'],
  properties: {
    valid: {
      type: 'boolean',
      description: 'false: the signature is not of this message under this key and algorithm.',
    },
    keyId: { type: 'string' },
    algorithm: { type: 'string' },
    messageType: { type: 'string', enum: ['RAW', 'DIGEST'] },
    digestedBy: DigestedBy,
  },
} as const;

const MacMessage = base64(
  "Base64 of the message, up to 4,096 bytes (KMS's limit; an HMAC has no digest form).",
);

export const MacRequest = {
  type: 'object',
  required: ['keyId', 'message'],
  additionalProperties: false,
  properties: { grantTokens: GrantTokens, keyId: KeyId, message: MacMessage, algorithm: MacAlgorithm },
} as const;

export const MacResponse = {
  type: 'object',
  required: ['mac', 'keyId', 'algorithm'],
  properties: {
    mac: base64('Base64 MAC: a secret of its own, as the key is (never logged).'),
    keyId: { type: 'string' },
    algorithm: { type: 'string' },
  },
} as const;

export const VerifyMacRequest = {
  type: 'object',
  required: ['keyId', 'message', 'mac'],
  additionalProperties: false,
  properties: {
    grantTokens: GrantTokens,
    keyId: KeyId,
    message: MacMessage,
    mac: base64('Base64 MAC to check.'),
    algorithm: MacAlgorithm,
  },
} as const;

export const VerifyMacResponse = {
  type: 'object',
  required: ['valid', 'keyId', 'algorithm'],
  properties: {
    valid: { type: 'boolean', description: 'false: the MAC is not of this message under this key.' },
    keyId: { type: 'string' },
    algorithm: { type: 'string' },
  },
} as const;

export const PublicKeyResponse = {
  type: 'object',
  required: ['keyId', 'publicKey', 'publicKeyPem', 'keySpec', 'keyUsage'],
  properties: {
    keyId: { type: 'string' },
    publicKey: base64('Base64 DER SubjectPublicKeyInfo.'),
    publicKeyPem: { type: 'string', description: 'The same key as PEM (-----BEGIN PUBLIC KEY-----).' },
    keySpec: { type: 'string' },
    keyUsage: { type: 'string' },
    signingAlgorithms: { type: 'array', items: { type: 'string' } },
    encryptionAlgorithms: { type: 'array', items: { type: 'string' } },
  },
} as const;

// ---- Key material its owner brings ----

export const ImportParametersResponse = {
  type: 'object',
  required: ['keyId', 'wrappingKeySpec', 'wrappingAlgorithm', 'publicKey', 'publicKeyPem', 'importToken'],
  properties: {
    keyId: { type: 'string' },
    wrappingKeySpec: { type: 'string' },
    wrappingAlgorithm: { type: 'string' },
    publicKey: base64('Base64 DER SubjectPublicKeyInfo of the RSA wrapping key.'),
    publicKeyPem: { type: 'string' },
    importToken: base64('Base64 import token: send it back with the material it wrapped.'),
    parametersValidTo: {
      type: 'string',
      format: 'date-time',
      description: 'The wrapping key and token work until then (24 hours).',
    },
  },
} as const;

export const ImportMaterialRequest = {
  type: 'object',
  required: ['importToken', 'encryptedKeyMaterial'],
  additionalProperties: false,
  properties: {
    importToken: base64('The importToken of GET .../import-parameters.'),
    encryptedKeyMaterial: base64(
      "Base64 of the key material wrapped with that answer's public key and algorithm (the typed client's wrapKeyMaterial, or openssl).",
    ),
    expirationModel: {
      type: 'string',
      enum: ['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE'],
      description: 'Default: KEY_MATERIAL_EXPIRES with validTo, else KEY_MATERIAL_DOES_NOT_EXPIRE.',
    },
    validTo: {
      type: 'string',
      maxLength: 64,
      pattern:
        '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$',
      description:
        'When the material expires (the key goes back to PendingImport), an RFC 3339 date-time with Z or an offset (2026-01-31T12:00:00Z): in the future, at most 365 days.',
    },
  },
} as const;
