/**
 * JSON Schemas (2020-12, as OpenAPI 3.1 uses) of every request and response body. The handlers
 * validate with these at the edge and `openapi.yaml` is generated from them, so the two agree.
 */

export const MAX_BATCH_ITEMS = 100;

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

export const Format = {
  type: 'string',
  enum: ['kms', 'aws-encryption-sdk'],
  description:
    'kms: a KMS ciphertext blob (plaintext up to 4096 bytes); aws-encryption-sdk: an AWS Encryption SDK message.',
} as const;

export const EncryptRequest = {
  type: 'object',
  required: ['keyId', 'plaintext'],
  additionalProperties: false,
  properties: {
    keyId: KeyId,
    plaintext: base64(
      'Base64 of the bytes to encrypt: up to 4096 bytes go to KMS Encrypt, larger up to 4 MiB become an Encryption SDK message.',
    ),
    context: EncryptionContext,
  },
} as const;

export const EncryptResponse = {
  type: 'object',
  required: ['ciphertext', 'keyId', 'format'],
  properties: {
    ciphertext: base64('Base64 ciphertext.'),
    keyId: { type: 'string', description: 'ARN of the key used.' },
    format: Format,
  },
} as const;

export const DecryptRequest = {
  type: 'object',
  required: ['ciphertext'],
  additionalProperties: false,
  properties: {
    ciphertext: base64('Base64 ciphertext as /v1/encrypt returned it (either format).'),
    context: EncryptionContext,
    keyId: { ...KeyId, description: 'When given, decryption succeeds only under this key.' },
  },
} as const;

export const DecryptResponse = {
  type: 'object',
  required: ['plaintext', 'keyId', 'format'],
  properties: { plaintext: base64('Base64 plaintext.'), keyId: { type: 'string' }, format: Format },
} as const;

export const ReEncryptRequest = {
  type: 'object',
  required: ['ciphertext', 'destinationKeyId'],
  additionalProperties: false,
  properties: {
    ciphertext: base64('Base64 ciphertext (either format).'),
    destinationKeyId: KeyId,
    context: { ...EncryptionContext, description: 'The context the ciphertext was made with.' },
    destinationContext: {
      ...EncryptionContext,
      description: 'The context of the new ciphertext; defaults to `context`.',
    },
    sourceKeyId: { ...KeyId, description: 'When given, the ciphertext must be under this key.' },
  },
} as const;

export const ReEncryptResponse = {
  type: 'object',
  required: ['ciphertext', 'sourceKeyId', 'keyId', 'format'],
  properties: {
    ciphertext: base64('Base64 ciphertext under the destination key.'),
    sourceKeyId: { type: 'string' },
    keyId: { type: 'string' },
    format: Format,
  },
} as const;

export const DataKeyRequest = {
  type: 'object',
  required: ['keyId'],
  additionalProperties: false,
  properties: {
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
    key: {
      type: 'object',
      properties: { keyId: { type: 'string' }, arn: { type: 'string' }, state: { type: 'string' } },
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
export function batchOf(itemSchema: object): object {
  return {
    type: 'object',
    required: ['items'],
    additionalProperties: false,
    properties: { items: { type: 'array', minItems: 1, maxItems: MAX_BATCH_ITEMS, items: itemSchema } },
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
