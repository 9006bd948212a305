import type { EncryptionContext } from './core/context.js';

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
}

/** KMS operations on keys, by key id, ARN or alias. */
export interface Keys {
  describe(keyId: string): Promise<KeyInfo>;
  encrypt(
    keyId: string,
    plaintext: Uint8Array,
    context: EncryptionContext | undefined,
  ): Promise<{ ciphertext: Uint8Array; keyArn: string }>;
  decrypt(
    ciphertext: Uint8Array,
    context: EncryptionContext | undefined,
    keyId?: string,
  ): Promise<{ plaintext: Uint8Array; keyArn: string }>;
  reEncrypt(input: {
    ciphertext: Uint8Array;
    sourceContext: EncryptionContext | undefined;
    sourceKeyId?: string;
    destinationKeyId: string;
    destinationContext: EncryptionContext | undefined;
  }): Promise<{ ciphertext: Uint8Array; sourceKeyArn: string; keyArn: string }>;
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
  /** Decrypts; the message's context must contain every pair of `context`. */
  decrypt(
    message: Uint8Array,
    context: EncryptionContext | undefined,
  ): Promise<{ plaintext: Buffer; keyArn: string; context: EncryptionContext }>;
}

/** One record per request: who did what to which key, and how it ended. Never a secret. */
export interface AuditRecord {
  requestId: string;
  principal: string;
  action: string;
  keyArn?: string | undefined;
  contextKeys?: string[] | undefined;
  outcome: 'allow' | 'deny' | 'error' | 'success';
  errorCode?: string | undefined;
  latencyMs: number;
  items?: { total: number; failed: number } | undefined;
  reason?: string | undefined;
}

export interface AuditSink {
  record(record: AuditRecord): void;
}

export interface Clock {
  now(): Date;
}
