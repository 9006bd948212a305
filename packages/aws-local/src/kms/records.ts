import { z } from 'zod';

/**
 * The records the local KMS keeps: keys (with their material versions, wrapped under the root
 * key), aliases and grants, and the previous on-disk format (one `state.json` holding them all).
 */

const KEY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const GRANT_ID = /^[0-9a-f]{64}$/;

/**
 * A material version. Imported material (keys of origin EXTERNAL) also has its expiration and
 * description; its `wrapped` is absent once deleted (DeleteImportedKeyMaterial) or expired, until
 * the same material is imported again.
 */
const materialSchema = z.object({
  id: z.string(),
  createdAt: z.number(),
  rotationType: z.enum(['AUTOMATIC', 'ON_DEMAND']).optional(),
  wrapped: z.string().optional(),
  expirationModel: z.enum(['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE']).optional(),
  validTo: z.number().optional(),
  description: z.string().optional(),
});
const tagSchema = z.object({ TagKey: z.string(), TagValue: z.string() });
export const keySchema = z.object({
  keyId: z.string().regex(KEY_ID),
  createdAt: z.number(),
  description: z.string(),
  keyState: z.enum(['Enabled', 'Disabled', 'PendingDeletion', 'PendingImport']),
  /** Absent in records of earlier versions: SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT, AWS_KMS (see `specOf`). */
  keySpec: z.string().optional(),
  keyUsage: z.enum(['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'GENERATE_VERIFY_MAC']).optional(),
  origin: z.enum(['AWS_KMS', 'EXTERNAL']).optional(),
  deletionDate: z.number().optional(),
  pendingWindowInDays: z.number().optional(),
  policy: z.string(),
  tags: z.array(tagSchema),
  rotation: z.object({ enabled: z.boolean(), periodDays: z.number(), nextRotationAt: z.number().optional() }),
  materials: z.array(materialSchema),
  /**
   * Imported material not yet rotated to (KeyMaterialState PENDING_ROTATION): symmetric EXTERNAL
   * keys only; RotateKeyOnDemand makes the newest of them the current version.
   */
  pendingMaterials: z.array(materialSchema).optional(),
});
export const aliasSchema = z.object({
  name: z.string().min(1),
  targetKeyId: z.string().regex(KEY_ID),
  createdAt: z.number(),
  updatedAt: z.number(),
});
const contextMap = z.record(z.string(), z.string());
export const grantSchema = z.object({
  grantId: z.string().regex(GRANT_ID),
  keyId: z.string().regex(KEY_ID),
  name: z.string().optional(),
  createdAt: z.number(),
  grantee: z.string(),
  retiring: z.string().optional(),
  issuingAccount: z.string(),
  operations: z.array(z.string()),
  constraints: z
    .object({
      EncryptionContextSubset: contextMap.optional(),
      EncryptionContextEquals: contextMap.optional(),
    })
    .optional(),
  tokenHash: z.string(),
});

/** The single-file format of earlier versions (`kms/state.json`), read once to migrate it. */
export const stateV1Schema = z.object({
  version: z.literal(1),
  keys: z.array(keySchema),
  aliases: z.array(aliasSchema),
  grants: z.array(grantSchema),
});

export type KeyRecord = z.infer<typeof keySchema>;
export type KeyState = KeyRecord['keyState'];
export type MaterialRecord = KeyRecord['materials'][number];
export type AliasRecord = z.infer<typeof aliasSchema>;
export type GrantRecord = z.infer<typeof grantSchema>;

/** A key's spec, usage and origin, with the defaults of records written before keys had them. */
export function specOf(key: Pick<KeyRecord, 'keySpec' | 'keyUsage' | 'origin'>) {
  return {
    keySpec: key.keySpec ?? 'SYMMETRIC_DEFAULT',
    keyUsage: key.keyUsage ?? 'ENCRYPT_DECRYPT',
    origin: key.origin ?? 'AWS_KMS',
  } as const;
}
