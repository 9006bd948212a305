import { randomUUID } from 'node:crypto';
import { defaultKeyPolicy, policyDocumentProblem } from '@eaas/aws-rules';
import { z } from 'zod';
import type { LocalAccess } from './access.js';
import { KmsError, validation } from './errors.js';
import { findSpec, KEY_SPECS, type KeyUsage, specInfo } from './key-specs.js';
import { DAY_MS, type KeyRecord, type KeyStore } from './key-store.js';
import { keyMetadata, type Operation, operation, requireNotPendingDeletion, seconds } from './operation.js';
import { cursorPaginate, keyIdShape, limitShape, markerShape, paginate, str, tagShape } from './shapes.js';

const MAX_TAGS = 50;

/** Key specs KMS has that the local KMS does not make (China Regions' SM2, post-quantum ML-DSA). */
const UNSUPPORTED_SPECS = new Set(['SM2', 'ML_DSA_44', 'ML_DSA_65', 'ML_DSA_87']);

/**
 * CreateKey's spec and usage: KeyUsage may be left out only for a symmetric key ("You must set
 * the key usage even though GENERATE_VERIFY_MAC is the only valid key usage value for HMAC KMS
 * keys"; for asymmetric keys, "you must use the KeyUsage parameter"), and must be one the spec
 * allows: https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html
 */
function checkSpecAndUsage(spec: string, requested: string | undefined): KeyUsage {
  if (UNSUPPORTED_SPECS.has(spec) || requested === 'KEY_AGREEMENT') {
    throw new KmsError(
      'UnsupportedOperationException',
      `The local KMS does not make ${requested === 'KEY_AGREEMENT' ? 'KEY_AGREEMENT keys' : `${spec} keys`}.`,
    );
  }
  // An own property only: a name such as `constructor` is not a key spec.
  const info = findSpec(spec);
  if (!info) {
    throw validation(
      `1 validation error detected: Value '${spec}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [${[...Object.keys(KEY_SPECS), ...UNSUPPORTED_SPECS].join(', ')}]`,
    );
  }
  const usage = requested ?? (spec === 'SYMMETRIC_DEFAULT' ? 'ENCRYPT_DECRYPT' : undefined);
  if (usage === undefined) throw validation(`KeyUsage must be specified for KeySpec ${spec}.`);
  if (!(info.usages as readonly string[]).includes(usage))
    throw validation(`KeyUsage ${usage} is not compatible with KeySpec ${spec}.`);
  return usage as KeyUsage;
}

/** EnableKey and DisableKey on a key pending import: KMSInvalidStateException (key-state.html, [5]). */
function requireNotPendingImport(store: KeyStore, key: KeyRecord): void {
  if (key.keyState === 'PendingImport')
    throw new KmsError('KMSInvalidStateException', `${store.keyArn(key.keyId)} is pending import.`);
}

function checkPolicy(policy: string): void {
  const problem = policyDocumentProblem(policy);
  if (problem) throw new KmsError('MalformedPolicyDocumentException', problem);
}

/**
 * KMS's policy lockout safety check: the new policy must let the caller put a policy again, so
 * that no key is left that nobody can manage.
 */
export function requireNoLockout(access: LocalAccess, key: Pick<KeyRecord, 'keyId'>, policy: string): void {
  // The check reads the new key policy alone: the caller must be allowed PutKeyPolicy by it, a
  // statement for the account root counting (IAM may then allow it), as CreateKey's and
  // PutKeyPolicy's references state it ("The key policy must allow the calling principal to make a
  // subsequent PutKeyPolicy request"): https://docs.aws.amazon.com/kms/latest/APIReference/API_PutKeyPolicy.html
  // A later PutKeyPolicy, which would not bypass the check either.
  const later = { 'kms:BypassPolicyLockoutSafetyCheck': ['false'] };
  if (!access.keyPolicyAllows({ keyId: key.keyId, policy }, 'kms:PutKeyPolicy', later)) {
    throw new KmsError(
      'MalformedPolicyDocumentException',
      'The new key policy will not allow you to update the key policy in the future.',
    );
  }
}

/** A request's tags as condition keys: `aws:RequestTag/<key>` for each, and `aws:TagKeys`. */
export function requestTags(tags: KeyRecord['tags']): Record<string, string[]> {
  const out: Record<string, string[]> = { 'aws:TagKeys': tags.map((t) => t.TagKey) };
  for (const t of tags) out[`aws:RequestTag/${t.TagKey}`] = [t.TagValue];
  return out;
}

function mergeTags(existing: KeyRecord['tags'], added: KeyRecord['tags']): KeyRecord['tags'] {
  const seen = new Set<string>();
  for (const t of added) {
    if (seen.has(t.TagKey)) throw new KmsError('TagException', `Duplicate tag key: ${t.TagKey}`);
    if (t.TagKey.startsWith('aws:'))
      throw new KmsError('TagException', 'Tag keys beginning with aws: are reserved');
    seen.add(t.TagKey);
  }
  const merged = existing.filter((t) => !seen.has(t.TagKey)).concat(added);
  if (merged.length > MAX_TAGS) throw new KmsError('TagException', `A key can have at most ${MAX_TAGS} tags`);
  return merged;
}

export const keyOperations: Record<string, Operation> = {
  CreateKey: operation(
    z.object({
      Policy: str(1, 32768).optional(),
      Description: str(0, 8192).optional(),
      KeyUsage: z.enum(['SIGN_VERIFY', 'ENCRYPT_DECRYPT', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT']).optional(),
      CustomerMasterKeySpec: z.string().optional(),
      KeySpec: z.string().optional(),
      Origin: z.enum(['AWS_KMS', 'EXTERNAL', 'AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE']).optional(),
      CustomKeyStoreId: z.string().optional(),
      BypassPolicyLockoutSafetyCheck: z.boolean().optional(),
      Tags: z.array(tagShape).optional(),
      MultiRegion: z.boolean().optional(),
      XksKeyId: z.string().optional(),
    }),
    async (input, { store, access }) => {
      const spec = input.KeySpec ?? input.CustomerMasterKeySpec ?? 'SYMMETRIC_DEFAULT';
      // CreateKey's condition keys (conditions-kms.html): its key's spec, usage, origin, region
      // kind, the lockout check's bypass, and the tags it asks for.
      access.requireIam('kms:CreateKey', '*', {
        'kms:KeySpec': [spec],
        'kms:KeyUsage': [input.KeyUsage ?? 'ENCRYPT_DECRYPT'],
        'kms:KeyOrigin': [input.Origin ?? 'AWS_KMS'],
        'kms:MultiRegion': [String(input.MultiRegion === true)],
        'kms:BypassPolicyLockoutSafetyCheck': [String(input.BypassPolicyLockoutSafetyCheck === true)],
        ...requestTags(input.Tags ?? []),
      });
      // "To add tags when creating a KMS key, the caller must have kms:TagResource permission in an
      // IAM policy. At a minimum, the permission must cover all KMS keys in the account and Region."
      // (https://docs.aws.amazon.com/kms/latest/developerguide/manage-tags-api.html)
      if ((input.Tags ?? []).length > 0)
        access.requireIam('kms:TagResource', store.keyArn('*'), requestTags(input.Tags ?? []));
      const usage = checkSpecAndUsage(spec, input.KeyUsage);
      const origin = input.Origin ?? 'AWS_KMS';
      if (
        (origin !== 'AWS_KMS' && origin !== 'EXTERNAL') ||
        input.CustomKeyStoreId !== undefined ||
        input.MultiRegion
      ) {
        throw new KmsError(
          'UnsupportedOperationException',
          'The local KMS supports only single-Region keys with Origin AWS_KMS or EXTERNAL in the default key store.',
        );
      }
      const policy = input.Policy ?? JSON.stringify(defaultKeyPolicy(store.accountId), null, 2);
      checkPolicy(policy);
      // The default policy (the account root) needs no check; a given one must not lock the caller out.
      const tags = mergeTags([], input.Tags ?? []);
      if (input.Policy !== undefined && !input.BypassPolicyLockoutSafetyCheck)
        requireNoLockout(access, { keyId: randomUUID() }, policy);
      // Material of a spec other than symmetric is made first, off the event loop (an RSA key pair
      // takes up to a second); the store keeps a wrapped copy and this one is zeroed.
      const material =
        origin === 'EXTERNAL' || spec === 'SYMMETRIC_DEFAULT' ? undefined : await specInfo(spec).generate();
      let key: KeyRecord;
      try {
        key = store.createKey({
          description: input.Description ?? '',
          policy,
          tags,
          spec: { keySpec: spec, keyUsage: usage, origin },
          ...(material ? { material } : {}),
        });
      } finally {
        material?.fill(0);
      }
      return { KeyMetadata: keyMetadata(store, key) };
    },
  ),

  DescribeKey: operation(
    z.object({ KeyId: keyIdShape, GrantTokens: z.array(z.string()).optional() }),
    (input, { store, access }) => {
      const key = store.resolve(input.KeyId, true);
      access.require(key, 'kms:DescribeKey');
      return { KeyMetadata: keyMetadata(store, key) };
    },
  ),

  ListKeys: operation(
    z.object({ Limit: limitShape(1000), Marker: markerShape }),
    (input, { store, access }) => {
      access.requireIam('kms:ListKeys');
      const { page, truncated, nextMarker } = cursorPaginate(
        store.markers,
        'keys',
        input.Limit,
        input.Marker,
        100,
        (after, limit) => store.listKeys(after, limit),
        (k) => k.keyId,
      );
      return {
        Keys: page.map((k) => ({ KeyId: k.keyId, KeyArn: store.keyArn(k.keyId) })),
        Truncated: truncated,
        ...(nextMarker ? { NextMarker: nextMarker } : {}),
      };
    },
  ),

  EnableKey: operation(z.object({ KeyId: keyIdShape }), (input, { store, access }) => {
    const key = store.resolve(input.KeyId, false);
    access.require(key, 'kms:EnableKey');
    requireNotPendingDeletion(store, key);
    requireNotPendingImport(store, key);
    store.updateKey(key, (k) => {
      k.keyState = 'Enabled';
    });
    return {};
  }),

  DisableKey: operation(z.object({ KeyId: keyIdShape }), (input, { store, access }) => {
    const key = store.resolve(input.KeyId, false);
    access.require(key, 'kms:DisableKey');
    requireNotPendingDeletion(store, key);
    requireNotPendingImport(store, key);
    store.updateKey(key, (k) => {
      k.keyState = 'Disabled';
    });
    return {};
  }),

  ScheduleKeyDeletion: operation(
    z.object({ KeyId: keyIdShape, PendingWindowInDays: z.number().int().min(1).max(365).optional() }),
    (input, { store, access }) => {
      const key = store.resolve(input.KeyId, false);
      access.require(key, 'kms:ScheduleKeyDeletion');
      const days = input.PendingWindowInDays ?? 30;
      if (days < 7 || days > 30) {
        throw validation(
          `1 validation error detected: Value '${days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30`,
        );
      }
      requireNotPendingDeletion(store, key);
      const deletionDate = store.now().getTime() + days * DAY_MS;
      store.updateKey(key, (k) => {
        k.keyState = 'PendingDeletion';
        k.deletionDate = deletionDate;
        k.pendingWindowInDays = days;
      });
      return {
        KeyId: store.keyArn(key.keyId),
        DeletionDate: seconds(deletionDate),
        KeyState: 'PendingDeletion',
        PendingWindowInDays: days,
      };
    },
  ),

  CancelKeyDeletion: operation(z.object({ KeyId: keyIdShape }), (input, { store, access }) => {
    const key = store.resolve(input.KeyId, false);
    access.require(key, 'kms:CancelKeyDeletion');
    if (key.keyState !== 'PendingDeletion') {
      throw new KmsError('KMSInvalidStateException', `${store.keyArn(key.keyId)} is not pending deletion.`);
    }
    // A key without its key material (imported material never imported, deleted or expired) goes
    // back to PendingImport, not Disabled (https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html).
    const withoutMaterial = key.materials.length === 0 || key.materials.some((m) => m.wrapped === undefined);
    store.updateKey(key, (k) => {
      k.keyState = withoutMaterial ? 'PendingImport' : 'Disabled';
      delete k.deletionDate;
      delete k.pendingWindowInDays;
    });
    return { KeyId: store.keyArn(key.keyId) };
  }),

  UpdateKeyDescription: operation(
    z.object({ KeyId: keyIdShape, Description: str(0, 8192) }),
    (input, { store, access }) => {
      const key = store.resolve(input.KeyId, false);
      access.require(key, 'kms:UpdateKeyDescription');
      requireNotPendingDeletion(store, key);
      store.updateKey(key, (k) => {
        k.description = input.Description;
      });
      return {};
    },
  ),

  TagResource: operation(
    z.object({ KeyId: keyIdShape, Tags: z.array(tagShape) }),
    (input, { store, access }) => {
      const key = store.resolve(input.KeyId, false);
      access.require(key, 'kms:TagResource', undefined, requestTags(input.Tags));
      requireNotPendingDeletion(store, key);
      const tags = mergeTags(key.tags, input.Tags);
      store.updateKey(key, (k) => {
        k.tags = tags;
      });
      return {};
    },
  ),

  UntagResource: operation(
    z.object({ KeyId: keyIdShape, TagKeys: z.array(str(1, 128)) }),
    (input, { store, access }) => {
      const key = store.resolve(input.KeyId, false);
      access.require(key, 'kms:UntagResource', undefined, { 'aws:TagKeys': input.TagKeys });
      requireNotPendingDeletion(store, key);
      const removed = new Set(input.TagKeys);
      store.updateKey(key, (k) => {
        k.tags = k.tags.filter((t) => !removed.has(t.TagKey));
      });
      return {};
    },
  ),

  ListResourceTags: operation(
    z.object({ KeyId: keyIdShape, Limit: limitShape(50), Marker: markerShape }),
    (input, { store, access }) => {
      const key = store.resolve(input.KeyId, false);
      access.require(key, 'kms:ListResourceTags');
      const { page, truncated, nextMarker } = paginate(key.tags, input.Limit, input.Marker, 50);
      return { Tags: page, Truncated: truncated, ...(nextMarker ? { NextMarker: nextMarker } : {}) };
    },
  ),
};

export { checkPolicy };
