import {
  constants,
  createCipheriv,
  createDecipheriv,
  generateKeyPairSync,
  type KeyObject,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  randomUUID,
} from 'node:crypto';
import type { EncryptionContext } from '@eaas/aws-rules';
import { DomainError, InvalidCiphertextError, KeyNotFoundError } from '../../src/core/errors.js';
import type { KeyKind, KeySpec } from '../../src/core/key-kinds.js';
import type {
  AliasInfo,
  GrantInfo,
  KeyAdmin,
  KeyDetails,
  Keys,
  NewGrant,
  Page,
  RotationInfo,
  RotationStatus,
} from '../../src/ports.js';

export const ACCOUNT = '111122223333';
const REGION = 'us-east-1';

interface StoredKey {
  details: KeyDetails;
  policy: string;
  tags: Record<string, string>;
  rotation: RotationStatus;
  rotations: RotationInfo[];
  grants: GrantInfo[];
}

/**
 * KMS key administration in memory, for unit tests of the services: keys named by id, ARN, alias
 * name or alias ARN as KMS resolves them, their policies, tags, grants, aliases and rotations.
 * It decides nothing about who may call it (the service's own role may do everything); a key or
 * alias that does not exist is the service's KeyNotFound, as the KMS adapter answers.
 * `calls` counts each operation; `fail` makes the next call of an operation throw.
 */
export class MemoryKms implements KeyAdmin {
  readonly keys = new Map<string, StoredKey>();
  readonly aliasTargets = new Map<string, string>();
  readonly calls: Record<string, number> = {};
  private readonly failures = new Map<string, Error>();

  /** Makes the next call of `operation` throw `error`. */
  fail(operation: keyof KeyAdmin, error: Error): void {
    this.failures.set(operation, error);
  }

  private enter(operation: keyof KeyAdmin): void {
    this.calls[operation] = (this.calls[operation] ?? 0) + 1;
    const error = this.failures.get(operation);
    if (error) {
      this.failures.delete(operation);
      throw error;
    }
  }

  private key(keyId: string): StoredKey {
    const name = keyId.startsWith(`arn:aws:kms:${REGION}:${ACCOUNT}:alias/`)
      ? keyId.split(':').at(-1)
      : keyId;
    const id = name?.startsWith('alias/') ? this.aliasTargets.get(name) : keyId.split('/').at(-1);
    const found = id === undefined ? undefined : this.keys.get(id);
    if (!found) throw new KeyNotFoundError(keyId);
    return found;
  }

  /** A key made straight in KMS (not through the service), with this policy. */
  addKey(
    policy: string,
    options: { description?: string; tags?: Record<string, string>; kind?: KeyKind | undefined } = {},
  ): string {
    const keyId = randomUUID();
    const arn = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${keyId}`;
    this.keys.set(keyId, {
      details: {
        arn,
        keyId,
        state: 'Enabled',
        description: options.description ?? '',
        createdAt: new Date(Date.UTC(2026, 0, 1)),
        ...(options.kind ? { kind: options.kind } : {}),
        ...(options.kind?.origin === 'EXTERNAL' ? { state: 'PendingImport' as const } : {}),
      },
      policy,
      tags: { ...options.tags },
      rotation: { enabled: false },
      rotations: [],
      grants: [],
    });
    return arn;
  }

  async createKey(input: {
    policy: string;
    description: string;
    tags: Record<string, string>;
    kind?: KeyKind | undefined;
  }) {
    this.enter('createKey');
    const arn = this.addKey(input.policy, input);
    return { ...this.key(arn).details };
  }

  async listKeys(limit: number, nextToken?: string): Promise<Page<{ keyId: string; arn: string }>> {
    this.enter('listKeys');
    const all = [...this.keys.values()].map((k) => ({ keyId: k.details.keyId, arn: k.details.arn }));
    return pageOf(all, limit, nextToken);
  }

  async describe(keyId: string) {
    this.enter('describe');
    const { arn, keyId: id, state, description } = this.key(keyId).details;
    return { arn, keyId: id, state, description };
  }

  async describeKey(keyId: string): Promise<KeyDetails> {
    this.enter('describeKey');
    return { ...this.key(keyId).details };
  }

  async tags(keyArn: string) {
    this.enter('tags');
    return { ...this.key(keyArn).tags };
  }

  async enable(keyArn: string) {
    this.enter('enable');
    this.key(keyArn).details.state = 'Enabled';
  }

  async disable(keyArn: string) {
    this.enter('disable');
    this.key(keyArn).details.state = 'Disabled';
  }

  async scheduleDeletion(keyArn: string, days: number) {
    this.enter('scheduleDeletion');
    const k = this.key(keyArn);
    const deletionDate = new Date(Date.now() + days * 86_400_000);
    Object.assign(k.details, { state: 'PendingDeletion', deletionDate, pendingWindowInDays: days });
    return { deletionDate };
  }

  async cancelDeletion(keyArn: string) {
    this.enter('cancelDeletion');
    const k = this.key(keyArn);
    if (k.details.state !== 'PendingDeletion')
      throw new DomainError('InvalidState', `The key ${keyArn} is not pending deletion.`);
    Object.assign(k.details, { state: 'Disabled', deletionDate: undefined, pendingWindowInDays: undefined });
  }

  async rotationStatus(keyArn: string) {
    this.enter('rotationStatus');
    return { ...this.key(keyArn).rotation };
  }

  async enableRotation(keyArn: string, periodInDays = 365) {
    this.enter('enableRotation');
    this.key(keyArn).rotation = { enabled: true, periodInDays };
  }

  async disableRotation(keyArn: string) {
    this.enter('disableRotation');
    this.key(keyArn).rotation = { enabled: false };
  }

  async rotateNow(keyArn: string) {
    this.enter('rotateNow');
    const k = this.key(keyArn);
    for (const r of k.rotations) r.current = false;
    k.rotations.push({
      keyMaterialId: randomUUID(),
      rotationDate: new Date(),
      rotationType: 'ON_DEMAND',
      current: true,
    });
  }

  async rotations(keyArn: string, limit: number, nextToken?: string) {
    this.enter('rotations');
    return pageOf(this.key(keyArn).rotations, limit, nextToken);
  }

  async keyPolicy(keyArn: string) {
    this.enter('keyPolicy');
    return this.key(keyArn).policy;
  }

  async putKeyPolicy(keyArn: string, policy: string) {
    this.enter('putKeyPolicy');
    this.key(keyArn).policy = policy;
  }

  async createGrant(keyArn: string, grant: NewGrant) {
    this.enter('createGrant');
    const k = this.key(keyArn);
    const grantId = randomUUID();
    k.grants.push({ grantId, keyArn: k.details.arn, createdAt: new Date(), ...grant });
    return { grantId, grantToken: `token-${grantId}` };
  }

  async listGrants(keyArn: string, limit: number, nextToken?: string) {
    this.enter('listGrants');
    return pageOf(this.key(keyArn).grants, limit, nextToken);
  }

  async grantsFor(keyArn: string, grantee: string) {
    this.enter('grantsFor');
    return this.key(keyArn).grants.filter((g) => g.granteePrincipal === grantee);
  }

  async revokeGrant(keyArn: string, grantId: string) {
    this.enter('revokeGrant');
    const k = this.key(keyArn);
    const before = k.grants.length;
    k.grants = k.grants.filter((g) => g.grantId !== grantId);
    if (k.grants.length === before) throw new DomainError('NotFound', `Grant ${grantId} does not exist.`);
  }

  private aliasList(keyArn?: string): AliasInfo[] {
    const keyId = keyArn === undefined ? undefined : this.key(keyArn).details.keyId;
    return [...this.aliasTargets.entries()]
      .filter(([, target]) => keyId === undefined || target === keyId)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, target]) => ({
        name,
        arn: `arn:aws:kms:${REGION}:${ACCOUNT}:${name}`,
        targetKeyId: target,
      }));
  }

  async aliases(keyArn?: string) {
    this.enter('aliases');
    return this.aliasList(keyArn);
  }

  async aliasPage(limit: number, marker?: string, keyArn?: string) {
    this.enter('aliasPage');
    return pageOf(this.aliasList(keyArn), limit, marker);
  }

  async createAlias(name: string, keyArn: string) {
    this.enter('createAlias');
    if (this.aliasTargets.has(name))
      throw new DomainError('AlreadyExists', `An alias with the name ${name} already exists.`);
    this.aliasTargets.set(name, this.key(keyArn).details.keyId);
  }

  async updateAlias(name: string, keyArn: string) {
    this.enter('updateAlias');
    if (!this.aliasTargets.has(name)) throw new KeyNotFoundError(name);
    this.aliasTargets.set(name, this.key(keyArn).details.keyId);
  }

  async deleteAlias(name: string) {
    this.enter('deleteAlias');
    if (!this.aliasTargets.delete(name)) throw new KeyNotFoundError(name);
  }
}

/** A page of `items` from the position `marker`, as KMS pages its listings. */
function pageOf<T>(items: readonly T[], limit: number, marker?: string): Page<T> {
  const start = marker === undefined ? 0 : Number(marker);
  const next = start + limit;
  return { items: items.slice(start, next), ...(next < items.length ? { nextToken: String(next) } : {}) };
}

/**
 * KMS's cryptographic operations in memory (the `Keys` port), for unit tests of the crypto
 * service: symmetric keys seal with AES-256-GCM into a blob naming the key; RSA keys for
 * ENCRYPT_DECRYPT encrypt with RSAES-OAEP (SHA-1 or SHA-256, node:crypto) as KMS does: a bare
 * ciphertext, Decrypt needs the key and the algorithm, no encryption context, the documented
 * plaintext limits. Failures are the service's own errors, as the KMS adapter answers them.
 */
export class MemoryCryptoKeys implements Keys {
  private readonly symmetric = new Map<string, Buffer>();
  private readonly rsa = new Map<string, { spec: KeySpec; privateKey: KeyObject; publicKey: KeyObject }>();
  readonly calls: Record<string, number> = {};

  private count(op: string) {
    this.calls[op] = (this.calls[op] ?? 0) + 1;
  }

  static arnOf(id: string) {
    return `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}`;
  }

  addSymmetric(): string {
    const id = randomUUID();
    this.symmetric.set(id, randomBytes(32));
    return MemoryCryptoKeys.arnOf(id);
  }

  addRsa(spec: 'RSA_2048' | 'RSA_3072' | 'RSA_4096' = 'RSA_2048'): string {
    const id = randomUUID();
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: Number(spec.slice(4)) });
    this.rsa.set(id, { spec, privateKey, publicKey });
    return MemoryCryptoKeys.arnOf(id);
  }

  publicKeyOf(arn: string): KeyObject {
    const k = this.rsa.get(arn.split('/').at(-1) ?? '');
    if (!k) throw new Error('not an RSA key');
    return k.publicKey;
  }

  private idOf(keyId: string): string {
    const id = keyId.split('/').at(-1) ?? '';
    if (!this.symmetric.has(id) && !this.rsa.has(id)) throw new KeyNotFoundError(keyId);
    return id;
  }

  async describe(keyId: string) {
    this.count('describe');
    const id = this.idOf(keyId);
    const rsa = this.rsa.get(id);
    return {
      arn: MemoryCryptoKeys.arnOf(id),
      keyId: id,
      state: 'Enabled' as const,
      description: '',
      kind: rsa
        ? { spec: rsa.spec, usage: 'ENCRYPT_DECRYPT' as const, origin: 'AWS_KMS' as const }
        : {
            spec: 'SYMMETRIC_DEFAULT' as const,
            usage: 'ENCRYPT_DECRYPT' as const,
            origin: 'AWS_KMS' as const,
          },
    };
  }

  private static oaepHash(algorithm: string | undefined): 'sha1' | 'sha256' {
    if (algorithm === 'RSAES_OAEP_SHA_1') return 'sha1';
    if (algorithm === 'RSAES_OAEP_SHA_256') return 'sha256';
    throw new DomainError(
      'InvalidKeyUsage',
      `Algorithm ${algorithm ?? 'SYMMETRIC_DEFAULT'} is incompatible.`,
    );
  }

  async encrypt(
    keyId: string,
    plaintext: Uint8Array,
    context: EncryptionContext | undefined,
    algorithm?: string,
  ) {
    this.count('encrypt');
    const id = this.idOf(keyId);
    const rsa = this.rsa.get(id);
    if (rsa) {
      const oaepHash = MemoryCryptoKeys.oaepHash(algorithm);
      if (context && Object.keys(context).length > 0) throw new DomainError('ValidationError', 'No context.');
      const max = Number(rsa.spec.slice(4)) / 8 - 2 * (oaepHash === 'sha1' ? 20 : 32) - 2;
      if (plaintext.byteLength > max) throw new DomainError('ValidationError', 'Plaintext too long.');
      const ciphertext = publicEncrypt(
        { key: rsa.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash },
        plaintext,
      );
      return { ciphertext, keyArn: MemoryCryptoKeys.arnOf(id), algorithm };
    }
    if (algorithm !== undefined && algorithm !== 'SYMMETRIC_DEFAULT')
      throw new DomainError('InvalidKeyUsage', `${algorithm} is not for a symmetric key.`);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.symmetric.get(id) as Buffer, iv);
    cipher.setAAD(Buffer.from(JSON.stringify(context ?? {})));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const ciphertext = Buffer.concat([Buffer.from(`${id}:`), iv, cipher.getAuthTag(), body]);
    return { ciphertext, keyArn: MemoryCryptoKeys.arnOf(id), algorithm: 'SYMMETRIC_DEFAULT' };
  }

  async decrypt(
    ciphertext: Uint8Array,
    context: EncryptionContext | undefined,
    keyId?: string,
    algorithm?: string,
  ) {
    this.count('decrypt');
    const named = keyId === undefined ? undefined : this.idOf(keyId);
    const rsa = named === undefined ? undefined : this.rsa.get(named);
    if (rsa) {
      const oaepHash = MemoryCryptoKeys.oaepHash(algorithm);
      try {
        const plaintext = privateDecrypt(
          { key: rsa.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash },
          ciphertext,
        );
        return { plaintext, keyArn: MemoryCryptoKeys.arnOf(named as string), algorithm };
      } catch {
        throw new InvalidCiphertextError();
      }
    }
    if (algorithm !== undefined && algorithm !== 'SYMMETRIC_DEFAULT')
      throw new DomainError('InvalidKeyUsage', `${algorithm} is not for a symmetric key.`);
    const blob = Buffer.from(ciphertext);
    const id = blob.subarray(0, 36).toString();
    const key = this.symmetric.get(id);
    if (!key || blob[36] !== 0x3a || (named !== undefined && named !== id))
      throw new InvalidCiphertextError();
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, blob.subarray(37, 49));
      decipher.setAuthTag(blob.subarray(49, 65));
      decipher.setAAD(Buffer.from(JSON.stringify(context ?? {})));
      const plaintext = Buffer.concat([decipher.update(blob.subarray(65)), decipher.final()]);
      return { plaintext, keyArn: MemoryCryptoKeys.arnOf(id), algorithm: 'SYMMETRIC_DEFAULT' };
    } catch {
      throw new InvalidCiphertextError();
    }
  }

  async reEncrypt(input: Parameters<Keys['reEncrypt']>[0]) {
    this.count('reEncrypt');
    const opened = await this.decrypt(
      input.ciphertext,
      input.sourceContext,
      input.sourceKeyId,
      input.sourceAlgorithm,
    );
    try {
      const sealed = await this.encrypt(
        input.destinationKeyId,
        opened.plaintext,
        input.destinationContext,
        input.destinationAlgorithm,
      );
      return {
        ciphertext: sealed.ciphertext,
        sourceKeyArn: opened.keyArn,
        keyArn: sealed.keyArn,
        sourceAlgorithm: opened.algorithm,
        destinationAlgorithm: sealed.algorithm,
      };
    } finally {
      opened.plaintext.fill(0);
    }
  }

  async generateDataKey(): Promise<never> {
    throw new Error('not used by these tests');
  }
}
