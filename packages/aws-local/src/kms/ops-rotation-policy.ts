import { z } from 'zod';
import { KmsError, notFound } from './errors.js';
import { DAY_MS, type KeyRecord, type KeyStore, MAX_ON_DEMAND_ROTATIONS } from './key-store.js';
import { type Operation, operation, requireUsable, seconds } from './operation.js';
import { checkPolicy, requireNoLockout } from './ops-keys.js';
import { specOf } from './records.js';
import { keyIdShape, limitShape, markerShape, paginate, str } from './shapes.js';

/**
 * "Automatic key rotation is supported only on symmetric encryption KMS keys. You cannot enable
 * automatic rotation of asymmetric KMS keys, HMAC KMS keys, KMS keys with imported key material,
 * or KMS keys in a custom key store": https://docs.aws.amazon.com/kms/latest/APIReference/API_EnableKeyRotation.html
 * On-demand rotation also takes symmetric keys with imported material (new material imported
 * first), which `allowImported` admits: https://docs.aws.amazon.com/kms/latest/APIReference/API_RotateKeyOnDemand.html
 */
function requireRotatable(store: KeyStore, key: KeyRecord, allowImported = false): void {
  const { keySpec, origin } = specOf(key);
  if (keySpec !== 'SYMMETRIC_DEFAULT' || (origin === 'EXTERNAL' && !allowImported)) {
    throw new KmsError(
      'UnsupportedOperationException',
      `${store.keyArn(key.keyId)} key spec is ${keySpec} and origin is ${origin}: this operation is not supported for such a key.`,
    );
  }
}

const policyNameShape = str(1, 128)
  .regex(/^[\w]+$/)
  .optional();

function checkPolicyName(name: string | undefined): void {
  if (name !== undefined && name !== 'default')
    throw notFound(`Policy ${name} does not exist; the only policy name is "default".`);
}

export const rotationAndPolicyOperations: Record<string, Operation> = {
  EnableKeyRotation: operation(
    z.object({ KeyId: keyIdShape, RotationPeriodInDays: z.number().int().min(90).max(2560).optional() }),
    (input, { store, access }) => {
      const key = store.resolve(input.KeyId, false);
      access.require(key, 'kms:EnableKeyRotation');
      requireRotatable(store, key);
      requireUsable(store, key);
      const period = input.RotationPeriodInDays ?? 365;
      store.updateKey(key, (k) => {
        k.rotation = {
          enabled: true,
          periodDays: period,
          nextRotationAt: store.now().getTime() + period * DAY_MS,
        };
      });
      return {};
    },
  ),

  DisableKeyRotation: operation(z.object({ KeyId: keyIdShape }), (input, { store, access }) => {
    const key = store.resolve(input.KeyId, false);
    access.require(key, 'kms:DisableKeyRotation');
    requireRotatable(store, key);
    requireUsable(store, key);
    store.updateKey(key, (k) => {
      k.rotation = { enabled: false, periodDays: k.rotation.periodDays };
    });
    return {};
  }),

  GetKeyRotationStatus: operation(z.object({ KeyId: keyIdShape }), (input, { store, access }) => {
    const key = store.resolve(input.KeyId, false);
    access.require(key, 'kms:GetKeyRotationStatus');
    return {
      KeyRotationEnabled: key.rotation.enabled,
      KeyId: store.keyArn(key.keyId),
      ...(key.rotation.enabled
        ? {
            RotationPeriodInDays: key.rotation.periodDays,
            ...(key.rotation.nextRotationAt !== undefined
              ? { NextRotationDate: seconds(key.rotation.nextRotationAt) }
              : {}),
          }
        : {}),
    };
  }),

  RotateKeyOnDemand: operation(z.object({ KeyId: keyIdShape }), (input, { store, access }) => {
    const key = store.resolve(input.KeyId, false);
    access.require(key, 'kms:RotateKeyOnDemand');
    requireRotatable(store, key, true);
    requireUsable(store, key);
    const done = key.materials.filter((m) => m.rotationType === 'ON_DEMAND').length;
    if (done >= MAX_ON_DEMAND_ROTATIONS) {
      throw new KmsError(
        'LimitExceededException',
        `A key can be rotated on demand at most ${MAX_ON_DEMAND_ROTATIONS} times.`,
      );
    }
    if (specOf(key).origin === 'EXTERNAL') {
      // "When you initiate on-demand key rotation on a symmetric encryption KMS key with imported key
      // material, you must have already imported new key material and that key material's state
      // should be PENDING_ROTATION" (https://docs.aws.amazon.com/kms/latest/APIReference/API_RotateKeyOnDemand.html).
      if (store.imported.rotateToImported(key) === undefined) {
        throw new KmsError(
          'KMSInvalidStateException',
          `${store.keyArn(key.keyId)} has no imported key material in PENDING_ROTATION state to rotate to.`,
        );
      }
    } else store.rotate(key, 'ON_DEMAND');
    return { KeyId: key.keyId };
  }),

  ListKeyRotations: operation(
    z.object({
      KeyId: keyIdShape,
      IncludeKeyMaterial: z.enum(['ALL_KEY_MATERIAL', 'ROTATIONS_ONLY']).optional(),
      Limit: limitShape(1000),
      Marker: markerShape,
    }),
    (input, { store, access }) => {
      const key = store.resolve(input.KeyId, false);
      access.require(key, 'kms:ListKeyRotations');
      // ALL_KEY_MATERIAL "adds the first key material and any imported key material pending rotation".
      const pending = new Set(key.pendingMaterials ?? []);
      const materials =
        input.IncludeKeyMaterial === 'ALL_KEY_MATERIAL'
          ? [...key.materials, ...pending]
          : key.materials.filter((m) => m.rotationType);
      const { page, truncated, nextMarker } = paginate(materials, input.Limit, input.Marker, 100);
      const current = key.materials[key.materials.length - 1];
      const { keySpec, origin } = specOf(key);
      // ImportState, ExpirationModel, ValidTo and KeyMaterialDescription: "only present for symmetric
      // encryption KMS keys with EXTERNAL origin" (https://docs.aws.amazon.com/kms/latest/APIReference/API_RotationsListEntry.html).
      const imported = origin === 'EXTERNAL' && keySpec === 'SYMMETRIC_DEFAULT';
      return {
        Rotations: page.map((m) => ({
          KeyId: key.keyId,
          KeyMaterialId: m.id,
          ...(imported
            ? {
                ...(m.description !== undefined ? { KeyMaterialDescription: m.description } : {}),
                ImportState: m.wrapped !== undefined ? 'IMPORTED' : 'PENDING_IMPORT',
                ...(m.expirationModel ? { ExpirationModel: m.expirationModel } : {}),
                ...(m.validTo !== undefined ? { ValidTo: seconds(m.validTo) } : {}),
              }
            : {}),
          KeyMaterialState: pending.has(m) ? 'PENDING_ROTATION' : m === current ? 'CURRENT' : 'NON_CURRENT',
          ...(m.rotationType ? { RotationDate: seconds(m.createdAt), RotationType: m.rotationType } : {}),
        })),
        Truncated: truncated,
        ...(nextMarker ? { NextMarker: nextMarker } : {}),
      };
    },
  ),

  GetKeyPolicy: operation(
    z.object({ KeyId: keyIdShape, PolicyName: policyNameShape }),
    (input, { store, access }) => {
      const key = store.resolve(input.KeyId, false);
      access.require(key, 'kms:GetKeyPolicy');
      checkPolicyName(input.PolicyName);
      return { Policy: key.policy, PolicyName: 'default' };
    },
  ),

  PutKeyPolicy: operation(
    z.object({
      KeyId: keyIdShape,
      PolicyName: policyNameShape,
      Policy: str(1, 32768),
      BypassPolicyLockoutSafetyCheck: z.boolean().optional(),
    }),
    (input, { store, access }) => {
      const key = store.resolve(input.KeyId, false);
      access.require(key, 'kms:PutKeyPolicy', undefined, {
        'kms:BypassPolicyLockoutSafetyCheck': [String(input.BypassPolicyLockoutSafetyCheck === true)],
      });
      checkPolicyName(input.PolicyName);
      // No key-state check: the key-state table lets PutKeyPolicy change a key in every state.
      checkPolicy(input.Policy);
      if (!input.BypassPolicyLockoutSafetyCheck) requireNoLockout(access, key, input.Policy);
      store.updateKey(key, (k) => {
        k.policy = input.Policy;
      });
      return {};
    },
  ),

  ListKeyPolicies: operation(
    z.object({ KeyId: keyIdShape, Limit: limitShape(1000), Marker: markerShape }),
    (input, { store, access }) => {
      access.require(store.resolve(input.KeyId, false), 'kms:ListKeyPolicies');
      const { page, truncated, nextMarker } = paginate(['default'], input.Limit, input.Marker, 100);
      return { PolicyNames: page, Truncated: truncated, ...(nextMarker ? { NextMarker: nextMarker } : {}) };
    },
  ),
};
