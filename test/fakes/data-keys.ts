import { randomBytes } from 'node:crypto';
import type { EncryptionContext } from '@eaas/aws-rules';
import { DomainError, InvalidCiphertextError } from '../../src/core/errors.js';
import type { Keys } from '../../src/ports.js';

/**
 * KMS's data keys in memory, for unit tests of the document and upload services: a wrapped key
 * is `<key arn>|<context>|<data key in hex>` (not a secret here: only the shape matters), and
 * Decrypt opens it only under the same key and encryption context, as KMS does. `fail` makes
 * the next GenerateDataKey fail.
 */
export class MemoryDataKeys implements Pick<Keys, 'generateDataKey' | 'decrypt'> {
  generated = 0;
  decrypted = 0;
  private failure: Error | undefined;

  fail(error: Error): void {
    this.failure = error;
  }

  async generateDataKey(input: Parameters<Keys['generateDataKey']>[0]) {
    const error = this.failure;
    this.failure = undefined;
    if (error) throw error;
    this.generated++;
    const plaintext = randomBytes(input.numberOfBytes);
    const ciphertext = Buffer.from(`${input.keyId}|${canonical(input.context)}|${plaintext.toString('hex')}`);
    return { ciphertext, plaintext: input.includePlaintext ? plaintext : undefined, keyArn: input.keyId };
  }

  async decrypt(ciphertext: Uint8Array, context: EncryptionContext | undefined, keyId?: string) {
    this.decrypted++;
    const [keyArn, bound, hex] = Buffer.from(ciphertext).toString().split('|');
    if (keyArn === undefined || hex === undefined || bound !== canonical(context))
      throw new InvalidCiphertextError();
    if (keyId !== undefined && keyId !== keyArn)
      throw new DomainError('InvalidCiphertext', 'The ciphertext is under another key.');
    return { plaintext: Buffer.from(hex, 'hex'), keyArn };
  }

  /** As the `Keys` port, for services that only generate and decrypt data keys. */
  get asKeys(): Keys {
    return this as unknown as Keys;
  }
}

const canonical = (context: EncryptionContext | undefined) =>
  JSON.stringify(Object.entries(context ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)));
