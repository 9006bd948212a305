import * as S from './schemas.js';

/**
 * The API's routes, in one place: the local gateway routes by this table, `openapi.yaml` is
 * generated from it, and a test checks that `serverless.yml` declares exactly these events.
 */
export type FunctionName = 'crypto' | 'jobs' | 'keys' | 'objects' | 'streams' | 'uploads' | 'whoami';

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD';
  /** API Gateway resource path, with `{param}` segments. */
  path: string;
  function: FunctionName;
  operationId: string;
  summary: string;
  request?: object;
  response: object;
  /** Accepts `{ items: [...] }` of `request`, answered per item. */
  batch?: boolean;
  /**
   * The most items a batch of this route takes, when fewer than MAX_BATCH_ITEMS: the signing
   * routes', whose KMS quota is a tenth of the symmetric one (serverless.yml, signThrottle).
   */
  batchItems?: number;
  /** A valid request body, shown in the contract and sent by its test. */
  example?: Record<string, unknown>;
  query?: Record<string, { description: string; required?: boolean; schema: object }>;
  /**
   * The KMS action the caller needs on the key (key policy or grant), for whoami and the
   * contract; `any caller` routes have none. Crypto routes check more than one in some cases.
   */
  actions?: readonly string[];
  /** The request body is the raw bytes of a document (any media type), not JSON. */
  rawBody?: boolean;
  /** The 200 answer is the raw bytes of a document, not JSON. */
  rawResponse?: boolean;
  /**
   * The integration streams the function's answer (API Gateway `ResponseTransferMode: STREAM`,
   * https://docs.aws.amazon.com/apigateway/latest/developerguide/response-transfer-mode.html):
   * the function is a response-streaming one (`awslambda.streamifyResponse`).
   */
  stream?: boolean;
}

export const FUNCTIONS: Readonly<Record<FunctionName, { description: string }>> = {
  crypto: { description: 'encrypt, decrypt, re-encrypt, data keys, signatures and MACs' },
  jobs: { description: 're-encryption jobs: start, dry-run, progress and report' },
  keys: { description: 'key administration' },
  objects: { description: 'documents stored encrypted in S3' },
  streams: { description: 'documents of any size, decrypted and streamed once authenticated' },
  uploads: { description: 'uploads of any size through the staging bucket' },
  whoami: { description: 'who the caller is, and what it may do on a key' },
};

const keyPath = (rest = '') => `/v1/keys/{keyId}${rest}`;
const paging = {
  limit: {
    description: 'Items per page, 1-100 (default 50).',
    schema: { type: 'string', pattern: '^[0-9]{1,3}$' },
  },
  nextToken: {
    description:
      'The nextToken of the previous page, unchanged: an opaque token, valid 24 hours, for the same caller and the same listing parameters only (400 InvalidPageToken otherwise). A page may hold fewer items than limit, even none, and still have a nextToken.',
    schema: { type: 'string', maxLength: 4096 },
  },
};
/** A route of one function, its options after the summary and response schema. */
const routeOf =
  (fn: FunctionName) =>
  (
    method: Route['method'],
    path: string,
    operationId: string,
    summary: string,
    response: object,
    extra: Partial<Route> = {},
  ): Route => ({ method, path, function: fn, operationId, summary, response, ...extra });
const admin = routeOf('keys');

/** Key administration: administrators of a key manage it; users may only describe it. */
const KEY_ROUTES: readonly Route[] = [
  admin(
    'POST',
    '/v1/keys',
    'createKey',
    'Create a key: the caller becomes its administrator',
    S.CreateKeyResponse,
    {
      request: S.CreateKeyRequest,
      example: {
        description: 'payments',
        users: ['arn:aws:iam::111122223333:user/myKeyUser'],
        alias: 'alias/payments',
        tags: { team: 'payments' },
      },
    },
  ),
  admin('GET', '/v1/keys', 'listKeys', 'The keys the caller administers or uses', S.ListKeysResponse, {
    query: paging,
  }),
  admin('GET', keyPath(), 'describeKey', 'Describe a key, with its aliases and tags', S.KeyResponse, {
    actions: ['kms:DescribeKey'],
  }),
  admin('POST', keyPath('/enable'), 'enableKey', 'Enable a key', S.KeyResponse, {
    actions: ['kms:EnableKey'],
  }),
  admin('POST', keyPath('/disable'), 'disableKey', 'Disable a key', S.KeyResponse, {
    actions: ['kms:DisableKey'],
  }),
  admin(
    'DELETE',
    keyPath(),
    'scheduleKeyDeletion',
    'Schedule the deletion of a key, 7-30 days ahead',
    S.KeyResponse,
    {
      actions: ['kms:ScheduleKeyDeletion'],
      query: {
        pendingWindowInDays: {
          description: 'Days before the key is deleted, 7-30 (default 30).',
          schema: { type: 'string', pattern: '^[0-9]{1,2}$' },
        },
      },
    },
  ),
  admin(
    'POST',
    keyPath('/cancel-deletion'),
    'cancelKeyDeletion',
    'Cancel a scheduled deletion; the key stays disabled',
    S.KeyResponse,
    {
      actions: ['kms:CancelKeyDeletion'],
    },
  ),
  admin(
    'GET',
    keyPath('/rotation'),
    'getKeyRotation',
    'Automatic rotation: on or off, period, next date',
    S.RotationResponse,
    {
      actions: ['kms:GetKeyRotationStatus'],
    },
  ),
  admin(
    'PUT',
    keyPath('/rotation'),
    'putKeyRotation',
    'Turn automatic rotation on (with a period) or off',
    S.RotationResponse,
    {
      request: S.RotationRequest,
      actions: ['kms:EnableKeyRotation', 'kms:DisableKeyRotation'],
      example: { enabled: true, periodInDays: 180 },
    },
  ),
  admin('POST', keyPath('/rotate'), 'rotateKey', 'Rotate the key material now', S.RotateResponse, {
    actions: ['kms:RotateKeyOnDemand'],
  }),
  admin('GET', keyPath('/rotations'), 'listKeyRotations', 'Rotation history', S.RotationsResponse, {
    actions: ['kms:ListKeyRotations'],
    query: paging,
  }),
  admin(
    'GET',
    keyPath('/policy'),
    'getKeyPolicy',
    'Administrators, users and the key policy document',
    S.PolicyResponse,
    {
      actions: ['kms:GetKeyPolicy'],
    },
  ),
  admin(
    'PUT',
    keyPath('/policy'),
    'putKeyPolicy',
    'Set administrators and users, or a whole policy document',
    S.PolicyResponse,
    {
      request: S.PolicyRequest,
      actions: ['kms:PutKeyPolicy'],
      example: {
        administrators: ['arn:aws:iam::111122223333:user/myKeyManager'],
        users: ['arn:aws:iam::111122223333:user/myKeyUser'],
      },
    },
  ),
  admin(
    'POST',
    keyPath('/grants'),
    'createGrant',
    'Grant a principal operations, optionally bound to an encryption context',
    S.CreateGrantResponse,
    {
      request: S.CreateGrantRequest,
      actions: ['kms:CreateGrant'],
      example: {
        grantee: 'arn:aws:iam::111122223333:user/myGrantee',
        operations: ['Encrypt', 'Decrypt'],
        constraints: { encryptionContextSubset: { tenant: 'acme' } },
      },
    },
  ),
  admin('GET', keyPath('/grants'), 'listGrants', 'The grants on a key', S.ListGrantsResponse, {
    actions: ['kms:ListGrants'],
    query: paging,
  }),
  admin('DELETE', keyPath('/grants/{grantId}'), 'revokeGrant', 'Revoke a grant', S.RevokeGrantResponse, {
    actions: ['kms:RevokeGrant'],
  }),
  admin(
    'GET',
    keyPath('/import-parameters'),
    'getImportParameters',
    'A wrapping public key and import token for the material of a key created with origin EXTERNAL',
    S.ImportParametersResponse,
    {
      actions: ['kms:GetParametersForImport'],
      query: {
        wrappingKeySpec: {
          description:
            'RSA_2048, RSA_3072 or RSA_4096 (default: RSA_4096, which wraps every kind of material).',
          schema: { type: 'string', enum: ['RSA_2048', 'RSA_3072', 'RSA_4096'] },
        },
        wrappingAlgorithm: {
          description:
            'Default: RSAES_OAEP_SHA_256, or RSA_AES_KEY_WRAP_SHA_256 for RSA key material (which RSA-OAEP cannot wrap).',
          schema: {
            type: 'string',
            enum: [
              'RSAES_OAEP_SHA_256',
              'RSA_AES_KEY_WRAP_SHA_256',
              'RSAES_OAEP_SHA_1',
              'RSA_AES_KEY_WRAP_SHA_1',
            ],
          },
        },
      },
    },
  ),
  admin(
    'PUT',
    keyPath('/material'),
    'importKeyMaterial',
    'Import (or reimport the same) key material, wrapped with the import parameters',
    S.KeyResponse,
    {
      request: S.ImportMaterialRequest,
      actions: ['kms:ImportKeyMaterial'],
      example: {
        importToken: 'OfBsj/cHAGLAs4UypJnHaX74spaVdfeyN8ePpka+PA46o5lybhlpjduPtR0C/XlS',
        encryptedKeyMaterial: 'c29tZSB3cmFwcGVkIGtleSBtYXRlcmlhbA==',
        expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
      },
    },
  ),
  admin(
    'DELETE',
    keyPath('/material'),
    'deleteKeyMaterial',
    'Delete the imported key material: the key goes back to PendingImport until it is reimported',
    S.KeyResponse,
    { actions: ['kms:DeleteImportedKeyMaterial'] },
  ),
  admin(
    'GET',
    '/v1/aliases',
    'listAliases',
    'Aliases of the keys the caller may describe',
    S.ListAliasesResponse,
    {
      query: { keyId: { description: 'Only the aliases of this key.', schema: S.KeyId }, ...paging },
    },
  ),
  admin(
    'PUT',
    '/v1/aliases/{name}',
    'putAlias',
    'Create an alias, or point it at another key',
    S.AliasResponse,
    {
      request: S.PutAliasRequest,
      actions: ['kms:CreateAlias', 'kms:UpdateAlias'],
      example: { keyId: 'alias/eaas-default' },
    },
  ),
  admin('DELETE', '/v1/aliases/{name}', 'deleteAlias', 'Delete an alias', S.AliasResponse, {
    actions: ['kms:DeleteAlias'],
  }),
];

const use = routeOf('crypto');

/** Signatures and MACs: use of asymmetric (SIGN_VERIFY) and HMAC keys, by their users and grantees. */
const SIGNING_ROUTES: readonly Route[] = [
  use(
    'POST',
    '/v1/sign',
    'sign',
    'Sign a message (over 4 KiB: its digest, computed by the service) with an asymmetric key',
    S.SignResponse,
    {
      request: S.SignRequest,
      batch: true,
      batchItems: S.MAX_SIGN_BATCH_ITEMS,
      actions: ['kms:Sign'],
      example: { keyId: 'alias/signing', message: 'aGVsbG8sIHdvcmxk', algorithm: 'ECDSA_SHA_256' },
    },
  ),
  use(
    'POST',
    '/v1/verify',
    'verify',
    'Verify a signature of a message; an invalid one is the answer valid: false',
    S.VerifyResponse,
    {
      request: S.VerifyRequest,
      batch: true,
      batchItems: S.MAX_SIGN_BATCH_ITEMS,
      actions: ['kms:Verify'],
      example: {
        keyId: 'alias/signing',
        message: 'aGVsbG8sIHdvcmxk',
        signature: 'MEUCIQC8Ym9ndXMgc2lnbmF0dXJlIGZvciB0aGUgZXhhbXBsZQIgZXhhbXBsZQ==',
        algorithm: 'ECDSA_SHA_256',
      },
    },
  ),
  use(
    'GET',
    keyPath('/public-key'),
    'getPublicKey',
    'The public key of an asymmetric key (DER and PEM), with its usage and algorithms',
    S.PublicKeyResponse,
    { actions: ['kms:GetPublicKey'] },
  ),
  use(
    'POST',
    '/v1/mac',
    'generateMac',
    'The HMAC of a message (up to 4 KiB) under an HMAC key',
    S.MacResponse,
    {
      request: S.MacRequest,
      batch: true,
      actions: ['kms:GenerateMac'],
      example: { keyId: 'alias/hmac', message: 'aGVsbG8sIHdvcmxk' },
    },
  ),
  use(
    'POST',
    '/v1/verify-mac',
    'verifyMac',
    'Check the HMAC of a message; a wrong one is the answer valid: false',
    S.VerifyMacResponse,
    {
      request: S.VerifyMacRequest,
      batch: true,
      actions: ['kms:VerifyMac'],
      example: {
        keyId: 'alias/hmac',
        message: 'aGVsbG8sIHdvcmxk',
        mac: 'dd4u26sRtUF/S827lT6HoHtLJMwAsEyFNxIeoh37fCQ=',
      },
    },
  ),
];

const objectPath = '/v1/objects/{key+}';
const objectRoute = routeOf('objects');

/** Documents: envelope-encrypted into the vault bucket in the S3 Encryption Client format. */
const OBJECT_ROUTES: readonly Route[] = [
  objectRoute(
    'PUT',
    objectPath,
    'putObject',
    'Store a document (raw body up to 4 MiB, its Content-Type a media type) encrypted under a key',
    S.PutObjectResponse,
    {
      rawBody: true,
      actions: ['kms:Encrypt'],
      query: {
        keyId: { description: 'The key to encrypt under.', required: true, schema: S.KeyId },
        context: {
          description:
            'URL-encoded JSON encryption context (printable ASCII), e.g. {"tenant":"acme"}; keys starting with aws:, aws-crypto- or aws-kms, and kms_cmk_id, are refused.',
          schema: { type: 'string', maxLength: 8192 },
        },
        overwrite: {
          description: 'false: refuse (412) when the key already holds an object.',
          schema: { type: 'string', enum: ['true', 'false'] },
        },
      },
    },
  ),
  objectRoute(
    'GET',
    objectPath,
    'getObject',
    'A document, decrypted and authenticated; ?metadata for its metadata view',
    S.ObjectView,
    {
      rawResponse: true,
      actions: ['kms:Decrypt'],
      query: {
        metadata: {
          description: 'Present: answer the metadata view as JSON instead of the body.',
          schema: { type: 'string' },
        },
      },
    },
  ),
  objectRoute(
    'HEAD',
    objectPath,
    'headObject',
    "A document's metadata view, as x-eaas-* headers",
    S.ObjectView,
    {
      rawResponse: true,
      actions: ['kms:Decrypt'],
    },
  ),
  objectRoute(
    'DELETE',
    objectPath,
    'deleteObject',
    'Delete a document (and its instruction file)',
    S.DeleteObjectResponse,
    {
      actions: ['kms:Encrypt'],
    },
  ),
  objectRoute(
    'POST',
    '/v1/downloads',
    'createDownload',
    "A presigned GET of a document's ciphertext and its content key: for documents of any size, decrypted by the caller",
    S.DownloadResponse,
    {
      request: S.DownloadRequest,
      actions: ['kms:Decrypt'],
      example: { key: 'contracts/2026/acme.pdf' },
    },
  ),
  objectRoute(
    'GET',
    '/v1/objects',
    'listObjects',
    'The documents under a prefix that the caller may decrypt',
    S.ListObjectsResponse,
    {
      query: {
        prefix: { description: 'Only keys starting with this.', schema: { type: 'string', maxLength: 1024 } },
        ...paging,
      },
    },
  ),
];

/**
 * A document of any size, streamed: its own resource and function, because an API Gateway method
 * has one integration, and so one transfer mode.
 */
const STREAM_ROUTES: readonly Route[] = [
  routeOf('streams')(
    'GET',
    '/v1/streams/{key+}',
    'streamObject',
    'A document of any size, decrypted and streamed once the whole of it has been authenticated',
    S.ObjectView,
    { rawResponse: true, stream: true, actions: ['kms:Decrypt'] },
  ),
];

const upload = routeOf('uploads');
const uploadPath = (rest = '') => `/v1/uploads/{id}${rest}`;

/** Uploads of any size: presigned URLs into staging; the seal encrypts into the vault. */
const UPLOAD_ROUTES: readonly Route[] = [
  upload(
    'POST',
    '/v1/uploads',
    'createUpload',
    'Start an upload: presigned URL(s) into the staging bucket, sealed into the vault once uploaded; or, sealedBy client, the content key and presigned parts of the vault object the caller encrypts itself',
    S.CreateUploadResponse,
    {
      request: S.CreateUploadRequest,
      actions: ['kms:Encrypt'],
      example: {
        key: 'contracts/2026/acme.pdf',
        keyId: 'alias/eaas-default',
        size: 1048576,
        context: { tenant: 'acme' },
      },
    },
  ),
  upload('GET', uploadPath(), 'getUpload', "The state of one of the caller's uploads", S.UploadStatus),
  upload(
    'POST',
    uploadPath('/complete'),
    'completeUpload',
    "Complete a multipart upload with its parts' ETags",
    S.UploadStatus,
    {
      request: S.CompleteUploadRequest,
      example: { parts: [{ partNumber: 1, etag: '"9b2cf535f27731c974343645a3985328"' }] },
    },
  ),
  upload(
    'POST',
    uploadPath('/parts'),
    'resumeUpload',
    'Resume a pending multipart upload: fresh URLs for the parts not uploaded yet, and the parts S3 holds',
    S.ResumeUploadResponse,
    {
      request: S.ResumeUploadRequest,
      example: { partNumbers: [3, 4] },
    },
  ),
  upload(
    'DELETE',
    uploadPath(),
    'cancelUpload',
    'Cancel a pending upload; its staging data is removed',
    S.UploadStatus,
  ),
];

const job = routeOf('jobs');

/** Re-encryption jobs: re-wrap stored data keys onto another key, or onto current key material. */
const JOB_ROUTES: readonly Route[] = [
  job(
    'POST',
    '/v1/jobs/re-encrypt',
    'startReEncryptJob',
    'Start (or dry-run) a job re-wrapping the data keys of stored documents; the documents are never read',
    S.JobView,
    {
      request: S.StartJobRequest,
      // Administration of the destination key and, for a cross-key job, of the source key too.
      actions: ['kms:PutKeyPolicy'],
      example: {
        sourceKeyId: 'alias/old-key',
        destinationKeyId: 'alias/eaas-default',
        prefix: 'reports/',
        dryRun: true,
      },
    },
  ),
  job(
    'GET',
    '/v1/jobs',
    'listJobs',
    "The caller's own jobs, newest first (those whose keys it still administers); no other caller's job, and no count",
    S.ListJobsResponse,
    { query: paging },
  ),
  job(
    'GET',
    '/v1/jobs/{id}',
    'getJob',
    "A job's state, phase, times and final report; no object name and no count of objects",
    S.JobView,
    {
      actions: ['kms:PutKeyPolicy'],
    },
  ),
  job(
    'POST',
    '/v1/jobs/{id}/cancel',
    'cancelJob',
    'Cancel a job (either engine): it stops, objects already re-wrapped stay so; a cancelled job answers as it is, a finished one 409 InvalidState',
    S.JobView,
    {
      // The same right as viewing the job: administration of its keys.
      actions: ['kms:PutKeyPolicy'],
    },
  ),
];

export const ROUTES: readonly Route[] = [
  {
    method: 'POST',
    path: '/v1/encrypt',
    function: 'crypto',
    operationId: 'encrypt',
    summary: 'Encrypt a payload under a key (KMS for up to 4 KiB, an Encryption SDK message up to 4 MiB)',
    request: S.EncryptRequest,
    response: S.EncryptResponse,
    batch: true,
    actions: ['kms:Encrypt'],
    example: { keyId: 'alias/eaas-default', plaintext: 'aGVsbG8sIHdvcmxk', context: { tenant: 'acme' } },
  },
  {
    method: 'POST',
    path: '/v1/decrypt',
    function: 'crypto',
    operationId: 'decrypt',
    summary: 'Decrypt a ciphertext of either format',
    request: S.DecryptRequest,
    response: S.DecryptResponse,
    batch: true,
    actions: ['kms:Decrypt'],
    example: {
      ciphertext:
        'AUxmMWI5ZGE1Zi1mNjY4LTQ5NDUtOGFkZi1jNjdjY2EyYzI4ZGEAAAAAGHtuvst+oUxUP1fMi0US3VTTacz5rQC+7XnPohs1xSrL',
      context: { tenant: 'acme' },
    },
  },
  {
    method: 'POST',
    path: '/v1/re-encrypt',
    function: 'crypto',
    operationId: 'reEncrypt',
    summary: 'Move a ciphertext to another key or context; the plaintext never leaves the service',
    request: S.ReEncryptRequest,
    response: S.ReEncryptResponse,
    batch: true,
    actions: ['kms:ReEncryptFrom', 'kms:ReEncryptTo'],
    example: {
      ciphertext:
        'AUxmMWI5ZGE1Zi1mNjY4LTQ5NDUtOGFkZi1jNjdjY2EyYzI4ZGEAAAAAGHtuvst+oUxUP1fMi0US3VTTacz5rQC+7XnPohs1xSrL',
      destinationKeyId: 'alias/eaas-default',
      context: { tenant: 'acme' },
    },
  },
  {
    method: 'POST',
    path: '/v1/data-keys',
    function: 'crypto',
    operationId: 'generateDataKey',
    summary: 'Generate a data key: the wrapped key, and the plaintext key unless includePlaintext is false',
    request: S.DataKeyRequest,
    response: S.DataKeyResponse,
    batch: true,
    actions: ['kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext'],
    example: { keyId: 'alias/eaas-default', keySpec: 'AES_256', context: { tenant: 'acme' } },
  },
  ...SIGNING_ROUTES,
  {
    method: 'GET',
    path: '/v1/whoami',
    function: 'whoami',
    operationId: 'whoAmI',
    summary: "The caller's principal and, with keyId, what it may do on the key and why",
    response: S.WhoAmIResponse,
    query: {
      keyId: { description: "A key to explain the caller's rights on.", schema: S.KeyId },
      context: {
        description:
          'URL-encoded JSON encryption context to evaluate grant constraints and conditions with, e.g. {"tenant":"acme"}.',
        schema: { type: 'string', maxLength: 8192 },
      },
    },
  },
  ...KEY_ROUTES,
  ...OBJECT_ROUTES,
  ...STREAM_ROUTES,
  ...UPLOAD_ROUTES,
  ...JOB_ROUTES,
];

/** Each route's path template as a regular expression and its parameter names, built once. */
const COMPILED = ROUTES.map((route) => {
  const names: string[] = [];
  const pattern = route.path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    names.push(name.replace(/\+$/, ''));
    return name.endsWith('+') ? '(.+)' : '([^/]+)';
  });
  return { route, names, regex: new RegExp(`^${pattern}$`) };
});

/** Finds the route of a request; `path` is the concrete path, matched against `{param}` templates. */
export function matchRoute(
  method: string,
  path: string,
): { route: Route; pathParameters: Record<string, string> } | undefined {
  for (const { route, names, regex } of COMPILED) {
    if (route.method !== method) continue;
    const m = regex.exec(path);
    if (!m) continue;
    const pathParameters: Record<string, string> = Object.create(null);
    names.forEach((n, i) => {
      pathParameters[n] = decodeURIComponent(m[i + 1] ?? '');
    });
    return { route, pathParameters };
  }
  return undefined;
}
