import type { EncryptionContext } from '@eaas/aws-rules';
import type { KeyKind } from './core/key-kinds.js';

/**
 * The narrow interfaces the services need. Adapters in `aws/` implement them over the AWS SDK;
 * the services and the core never see an SDK type or exception.
 */

/** Metadata of a KMS key as the service needs it. */
export interface KeyInfo {
  arn: string;
  keyId: string;
  state:
    | 'Enabled'
    | 'Disabled'
    | 'PendingDeletion'
    | 'PendingImport'
    | 'Unavailable'
    | 'Creating'
    | 'Updating'
    | 'PendingReplicaDeletion';
  description: string;
  /** Its spec, usage and origin, as KMS describes them; absent: a symmetric key KMS made. */
  kind?: KeyKind | undefined;
}

/**
 * KMS operations on keys, by key id, ARN or alias. `algorithm` is KMS's EncryptionAlgorithm:
 * absent, SYMMETRIC_DEFAULT; an RSAES_OAEP_* one for an RSA key (whose ciphertext has no header,
 * so Decrypt needs the key and the algorithm, and which takes no encryption context).
 */
export interface Keys {
  /** The key's ARN, state and (when KMS says) kind. */
  describe(keyId: string): Promise<KeyInfo>;
  encrypt(
    keyId: string,
    plaintext: Uint8Array,
    context: EncryptionContext | undefined,
    algorithm?: string,
  ): Promise<{ ciphertext: Uint8Array; keyArn: string; algorithm?: string | undefined }>;
  decrypt(
    ciphertext: Uint8Array,
    context: EncryptionContext | undefined,
    keyId?: string,
    algorithm?: string,
  ): Promise<{ plaintext: Uint8Array; keyArn: string; algorithm?: string | undefined }>;
  reEncrypt(input: {
    ciphertext: Uint8Array;
    sourceContext: EncryptionContext | undefined;
    sourceKeyId?: string;
    destinationKeyId: string;
    destinationContext: EncryptionContext | undefined;
    sourceAlgorithm?: string | undefined;
    destinationAlgorithm?: string | undefined;
  }): Promise<{
    ciphertext: Uint8Array;
    sourceKeyArn: string;
    keyArn: string;
    sourceAlgorithm?: string | undefined;
    destinationAlgorithm?: string | undefined;
  }>;
  generateDataKey(input: {
    keyId: string;
    context: EncryptionContext | undefined;
    numberOfBytes: number;
    includePlaintext: boolean;
  }): Promise<{ ciphertext: Uint8Array; plaintext?: Uint8Array; keyArn: string }>;
}

/** Envelope encryption of payloads larger than KMS Encrypt takes, as AWS Encryption SDK messages. */
export interface EnvelopeCodec {
  encrypt(
    keyId: string,
    plaintext: Uint8Array,
    context: EncryptionContext | undefined,
  ): Promise<{ message: Buffer; keyArn: string }>;
  /**
   * Decrypts; the message's context must be `context`. `beforeKms` runs with the ARN of the key
   * the message names and the whole encryption context KMS is asked to bind (the format's own
   * keys included) before KMS unwraps its data key, and may refuse by throwing.
   */
  decrypt(
    message: Uint8Array,
    context: EncryptionContext | undefined,
    beforeKms?: (keyArn: string, kmsContext: EncryptionContext) => Promise<void>,
  ): Promise<{ plaintext: Buffer; keyArn: string; context: EncryptionContext }>;
}

/** A KMS grant as the service shows it. */
export interface GrantInfo {
  grantId: string;
  keyArn: string;
  name?: string | undefined;
  granteePrincipal: string;
  retiringPrincipal?: string | undefined;
  operations: string[];
  constraints?:
    | {
        EncryptionContextSubset?: Record<string, string> | undefined;
        EncryptionContextEquals?: Record<string, string> | undefined;
      }
    | undefined;
  createdAt?: Date | undefined;
}

/** What authorization reads about a key: its ARN, its policy, and the grants of one grantee. */
export interface AccessSource {
  describe(keyId: string): Promise<KeyInfo>;
  keyPolicy(keyArn: string): Promise<string>;
  /** Every grant on the key whose grantee is `grantee` (all pages). */
  grantsFor(keyArn: string, grantee: string): Promise<GrantInfo[]>;
}

/** Full metadata of a key, for the admin routes. */
export interface KeyDetails extends KeyInfo {
  createdAt: Date;
  deletionDate?: Date | undefined;
  pendingWindowInDays?: number | undefined;
  encryptionAlgorithms?: string[] | undefined;
  signingAlgorithms?: string[] | undefined;
  macAlgorithms?: string[] | undefined;
  /** Imported material: whether it expires, and when. */
  expirationModel?: string | undefined;
  validTo?: Date | undefined;
}

/**
 * KMS's asymmetric and HMAC operations, by key ARN, with the service's own identity. An invalid
 * signature or MAC is an answer (`valid: false`), not an error.
 */
export interface SigningKeys {
  sign(input: {
    keyId: string;
    message: Uint8Array;
    messageType: 'RAW' | 'DIGEST';
    algorithm: string;
  }): Promise<{ signature: Uint8Array; keyArn: string }>;
  verify(input: {
    keyId: string;
    message: Uint8Array;
    messageType: 'RAW' | 'DIGEST';
    signature: Uint8Array;
    algorithm: string;
  }): Promise<{ valid: boolean; keyArn: string }>;
  generateMac(input: {
    keyId: string;
    message: Uint8Array;
    algorithm: string;
  }): Promise<{ mac: Uint8Array; keyArn: string }>;
  verifyMac(input: {
    keyId: string;
    message: Uint8Array;
    mac: Uint8Array;
    algorithm: string;
  }): Promise<{ valid: boolean; keyArn: string }>;
  /** The public key of an asymmetric key: a DER SubjectPublicKeyInfo. */
  publicKey(keyId: string): Promise<{ publicKey: Uint8Array; keyArn: string }>;
}

/** Key material a key's owner brings (origin EXTERNAL), with the service's own identity. */
export interface KeyMaterial {
  /** A wrapping public key (DER) and import token, valid until `validTo` (24 hours in KMS). */
  importParameters(
    keyArn: string,
    wrappingKeySpec: string,
    wrappingAlgorithm: string,
  ): Promise<{ publicKey: Uint8Array; importToken: Uint8Array; validTo?: Date | undefined }>;
  importMaterial(
    keyArn: string,
    input: {
      importToken: Uint8Array;
      encryptedKeyMaterial: Uint8Array;
      expirationModel: 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE';
      validTo?: Date | undefined;
    },
  ): Promise<{ keyMaterialId?: string | undefined }>;
  deleteMaterial(keyArn: string): Promise<void>;
}

export interface Page<T> {
  items: T[];
  nextToken?: string | undefined;
}

export interface RotationStatus {
  enabled: boolean;
  periodInDays?: number | undefined;
  nextRotationDate?: Date | undefined;
}

export interface RotationInfo {
  keyMaterialId?: string | undefined;
  rotationDate?: Date | undefined;
  rotationType?: string | undefined;
  current: boolean;
}

export interface AliasInfo {
  name: string;
  arn: string;
  targetKeyId?: string | undefined;
}

export interface NewGrant {
  granteePrincipal: string;
  operations: string[];
  constraints?: GrantInfo['constraints'];
  name?: string | undefined;
  retiringPrincipal?: string | undefined;
}

/** KMS key administration, performed with the service's own identity. */
export interface KeyAdmin extends AccessSource {
  createKey(input: {
    policy: string;
    description: string;
    tags: Record<string, string>;
    /** Absent: a symmetric encryption key whose material KMS makes. */
    kind?: KeyKind | undefined;
  }): Promise<KeyDetails>;
  listKeys(limit: number, nextToken?: string): Promise<Page<{ keyId: string; arn: string }>>;
  describeKey(keyId: string): Promise<KeyDetails>;
  tags(keyArn: string): Promise<Record<string, string>>;
  enable(keyArn: string): Promise<void>;
  disable(keyArn: string): Promise<void>;
  scheduleDeletion(keyArn: string, days: number): Promise<{ deletionDate?: Date | undefined }>;
  cancelDeletion(keyArn: string): Promise<void>;
  rotationStatus(keyArn: string): Promise<RotationStatus>;
  enableRotation(keyArn: string, periodInDays?: number): Promise<void>;
  disableRotation(keyArn: string): Promise<void>;
  rotateNow(keyArn: string): Promise<void>;
  rotations(keyArn: string, limit: number, nextToken?: string): Promise<Page<RotationInfo>>;
  putKeyPolicy(keyArn: string, policy: string): Promise<void>;
  createGrant(keyArn: string, grant: NewGrant): Promise<{ grantId: string; grantToken: string }>;
  listGrants(keyArn: string, limit: number, nextToken?: string): Promise<Page<GrantInfo>>;
  revokeGrant(keyArn: string, grantId: string): Promise<void>;
  /** Aliases of one key, or of every key. */
  aliases(keyArn?: string): Promise<AliasInfo[]>;
  /** One KMS ListAliases page (of one key, or of the account), without AWS managed aliases. */
  aliasPage(limit: number, marker?: string, keyArn?: string): Promise<Page<AliasInfo>>;
  createAlias(name: string, keyArn: string): Promise<void>;
  updateAlias(name: string, keyArn: string): Promise<void>;
  deleteAlias(name: string): Promise<void>;
}

/** A stored object's headers, as S3 answers HeadObject. */
export interface StoredObjectInfo {
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
  contentType?: string | undefined;
  /** User metadata, without the `x-amz-meta-` prefix, keys lower-cased. */
  metadata: Record<string, string>;
}

/**
 * The vault as a re-encryption job sees it: listings, heads, small conditional reads and writes,
 * metadata copies. For the documents (keys behind the object prefix) and the job records alike.
 */
export interface JobObjects {
  /** Keys under `prefix` after `startAfter`, ascending, at most `limit`. */
  listAfter(
    prefix: string,
    startAfter: string | undefined,
    limit: number,
  ): Promise<{ keys: string[]; truncated: boolean }>;
  head(key: string): Promise<StoredObjectInfo | undefined>;
  /** A small object with its ETag and metadata (instruction files, job records); undefined when absent. */
  read(key: string): Promise<{ text: string; etag: string; metadata: Record<string, string> } | undefined>;
  /**
   * An object of any size streamed from byte `start` (a large one: a completion report's results
   * file), never held whole; undefined when absent, empty when `start` is at or past its end.
   * Ending the iteration early (break) releases the body.
   */
  readFrom(key: string, start: number): Promise<AsyncIterable<Uint8Array> | undefined>;
  write(
    key: string,
    text: string,
    options: {
      metadata?: Record<string, string> | undefined;
      contentType: string;
      ifMatch?: string | undefined;
      ifNoneMatch?: '*' | undefined;
    },
  ): Promise<{ etag: string }>;
  /** Replaces an object's metadata by an in-place server-side copy, if its ETag is still `ifMatch`. */
  replaceMetadata(
    key: string,
    metadata: Record<string, string>,
    options: { ifMatch: string; contentType?: string | undefined },
  ): Promise<{ etag: string }>;
}

/** S3 as the document service needs it: conditional writes, streamed reads, listing. */
export interface ObjectStore {
  /** What the store puts in front of every key: S3 bounds the whole key, this prefix included, to 1,024 bytes. */
  readonly keyPrefix: string;
  /** Writes an object; `ifNoneMatch: '*'` refuses to overwrite (Conflict), `ifMatch` requires that ETag. */
  put(
    key: string,
    body: Uint8Array | NodeJS.ReadableStream,
    options: {
      metadata: Record<string, string>;
      contentType?: string | undefined;
      contentLength?: number | undefined;
      ifNoneMatch?: '*' | undefined;
      ifMatch?: string | undefined;
    },
  ): Promise<{ etag: string }>;
  head(key: string): Promise<StoredObjectInfo | undefined>;
  /** Whether an object exists, by listing (needs s3:ListBucket only, never the right to read it). */
  exists(key: string): Promise<boolean>;
  /** Streams an object's body; `ifMatch` pins the version read (Conflict when it changed). */
  get(
    key: string,
    options?: { ifMatch?: string | undefined },
  ): Promise<StoredObjectInfo & { body: NodeJS.ReadableStream }>;
  /** The whole (small) object, e.g. an instruction file; undefined when absent. */
  getText(key: string): Promise<string | undefined>;
  /** The same with its ETag and metadata (an instruction file's marks); undefined when absent. */
  readText(
    key: string,
  ): Promise<{ text: string; etag: string; metadata: Record<string, string> } | undefined>;
  delete(key: string): Promise<void>;
  /** Keys under `prefix`, ascending; from S3's `nextToken`, or after the key `startAfter`. */
  list(
    prefix: string,
    limit: number,
    nextToken?: string,
    startAfter?: string,
  ): Promise<Page<{ key: string; size: number; lastModified: Date; etag: string }>>;
}

/** Server-side copies within one bucket (the body never passes through the function). */
export interface ObjectCopies {
  /**
   * Copies `from` (a key at the root of this store's bucket, whatever the store's prefix) to
   * `to` (a key of this store), replacing the metadata with `metadata`;
   * `sourceIfMatch` pins the version copied, `ifNoneMatch: '*'` / `ifMatch` condition the
   * destination (a failed condition is PreconditionFailed). Objects up to 5 GB (CopyObject).
   */
  copy(
    from: string,
    to: string,
    options: {
      metadata: Record<string, string>;
      contentType?: string | undefined;
      sourceIfMatch: string;
      ifNoneMatch?: '*' | undefined;
      ifMatch?: string | undefined;
    },
  ): Promise<{ etag: string }>;
}

/** Writes of any size and presigned reads: what uploads and downloads add to an object store. */
export interface LargeObjects {
  /**
   * Streams a body of unknown length into an object by multipart upload: nothing is visible until
   * it completes, and the upload is aborted on any failure. `ifNoneMatch: '*'` refuses to overwrite,
   * `ifMatch` to overwrite any other version.
   */
  putStream(
    key: string,
    body: AsyncIterable<Uint8Array>,
    options: {
      metadata: Record<string, string>;
      contentType?: string | undefined;
      ifNoneMatch?: '*' | undefined;
      /** Replaces only the object of this ETag (a failed condition is PreconditionFailed). */
      ifMatch?: string | undefined;
      partSize?: number | undefined;
    },
  ): Promise<{ etag: string; size: number }>;
  /** A URL that GETs the object for `expiresIn` seconds without further credentials. */
  presignGet(key: string, expiresIn: number): Promise<string>;
}

/** The staging area uploads go to: presigned writes that bind the size, and multipart uploads. */
export interface StagingArea extends ObjectStore {
  /**
   * A URL that PUTs exactly `size` bytes to `key` within `expiresIn` seconds; with `ifNoneMatch`
   * it also signs `If-None-Match: *` (the caller must send it), so it never writes over an object.
   */
  presignPut(
    key: string,
    size: number,
    expiresIn: number,
    options?: { ifNoneMatch?: boolean },
  ): Promise<string>;
  /** Starts a multipart upload; the object it completes into gets `metadata` (set here, never by a part). */
  startMultipart(key: string, contentType?: string, metadata?: Record<string, string>): Promise<string>;
  /** A URL that uploads part `partNumber` of exactly `size` bytes. */
  presignPart(
    key: string,
    uploadId: string,
    partNumber: number,
    size: number,
    expiresIn: number,
  ): Promise<string>;
  /** `ifNoneMatch: '*'` completes only if the key is free, `ifMatch` only over that version (else PreconditionFailed). */
  completeMultipart(
    key: string,
    uploadId: string,
    parts: { partNumber: number; etag: string }[],
    conditions?: { ifNoneMatch?: '*' | undefined; ifMatch?: string | undefined },
  ): Promise<{ etag: string }>;
  abortMultipart(key: string, uploadId: string): Promise<void>;
  /** The parts S3 holds of a multipart upload, in order; NotFound when the upload is gone. */
  listParts(key: string, uploadId: string): Promise<{ partNumber: number; etag: string; size: number }[]>;
}

/** One authorization decision, as the audit record names it. */
export interface AuditDecision {
  action: string;
  keyArn: string;
  allowed: boolean;
  /** `key-policy`, `grant`, `explicit-deny`, `implicit-deny`; `any-caller` for creating a key. */
  reason: string;
  /** The statement (Sid, or `#index`) or grant id that decided it. */
  by?: string | undefined;
}

/** One record per request: who did what to which key, and how it ended. Never a secret. */
export interface AuditRecord {
  requestId: string;
  principal: string;
  /**
   * A person signed in through the identity pool: every person shares the people's role (so
   * `principal` is the same for all), and this tells them apart. Never a token.
   */
  person?: { identityId: string; identityPoolId: string } | undefined;
  action: string;
  keyArn?: string | undefined;
  contextKeys?: string[] | undefined;
  outcome: 'allow' | 'deny' | 'error' | 'success';
  errorCode?: string | undefined;
  latencyMs: number;
  items?: { total: number; failed: number } | undefined;
  /** Sign and Verify: the message type as the caller sent it (RAW unless a digest; comma-separated in a mixed batch). */
  messageType?: string | undefined;
  /** Sign, Verify, GenerateMac, VerifyMac: the algorithm (comma-separated in a mixed batch). */
  algorithm?: string | undefined;
  reason?: string | undefined;
  /** Every authorization decision taken for the request. */
  decisions?: AuditDecision[] | undefined;
}

export interface AuditSink {
  record(record: AuditRecord): void;
  /**
   * Delivers what was recorded, before the invocation answers (a Lambda environment may be frozen
   * or ended right after). Never rejects: what cannot be delivered goes to a fallback.
   */
  flush?(): Promise<void>;
}

/**
 * Small per-caller records (the quota ledger, `services/quotas.ts`), read with their version and
 * written only if still at that version, so that concurrent writers cannot lose each other's
 * changes.
 */
export interface QuotaStore {
  /** The caller's record and its version; undefined when it has none yet. */
  read(principal: string): Promise<{ text: string; version: string } | undefined>;
  /**
   * Writes the caller's record if it is still at `version` (undefined: if it has none yet).
   * False when another writer changed it first; the caller reads again and retries.
   */
  write(principal: string, text: string, version: string | undefined): Promise<boolean>;
}

export interface Clock {
  now(): Date;
}

/**
 * S3 Batch Operations as the re-encryption jobs use it (the batch engine): a job that invokes
 * the per-object function on every object a manifest generator lists, and its progress. The AWS
 * adapter is `src/aws/s3-batch-jobs.ts` (`@aws-sdk/client-s3-control`); unit tests use an
 * in-memory fake; the local stack's emulator speaks the same API.
 */
export interface BatchJobs {
  /**
   * Creates the S3 job (CreateJob, ConfirmationRequired false): idempotent on
   * `clientRequestToken` (the eaas job id), so a creation retried after a lost answer makes no
   * second job. Answers S3's job id.
   */
  create(request: BatchJobRequest): Promise<{ jobId: string }>;
  /** The job's status and progress (DescribeJob); undefined when S3 knows no such job. */
  describe(jobId: string): Promise<BatchJobDescription | undefined>;
  /** UpdateJobStatus to Cancelled (`reason` in StatusUpdateReason). */
  cancel(jobId: string, reason: string): Promise<void>;
}

export interface BatchJobRequest {
  /** ClientRequestToken: the eaas job id. */
  clientRequestToken: string;
  /** Names the eaas job, for whoever reads S3's console or ListJobs. */
  description: string;
  priority: number;
  /** The role S3 Batch Operations assumes. */
  roleArn: string;
  /** LambdaInvoke of this function, invocation schema 2.0, with these user arguments. */
  functionArn: string;
  userArguments: Record<string, string>;
  /** The manifest generator: every current object of `bucket` whose key starts with `prefix`. */
  manifest: { bucket: string; prefix: string };
  /** The completion report (all tasks, CSV) and the generated manifest, under this bucket and prefix. */
  report: { bucket: string; prefix: string };
}

/** S3's job statuses (DescribeJob `Status`). */
export type BatchJobStatus =
  | 'New'
  | 'Preparing'
  | 'Suspended'
  | 'Ready'
  | 'Active'
  | 'Pausing'
  | 'Paused'
  | 'Completing'
  | 'Complete'
  | 'Cancelling'
  | 'Cancelled'
  | 'Failing'
  | 'Failed';

export interface BatchJobDescription {
  status: BatchJobStatus;
  /** ProgressSummary: tasks in the manifest (once known), succeeded and failed so far. */
  tasks: { total?: number | undefined; succeeded: number; failed: number };
  /** Where the completion report goes (the request's), for reading it once the job is complete. */
  report?: { bucket: string; prefix: string } | undefined;
}
