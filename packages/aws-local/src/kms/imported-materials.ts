import type { AddedMaterial, KeyMaterial } from './key-material.js';
import type { KeyRecord, MaterialRecord } from './records.js';

/**
 * Imported key material (keys of origin EXTERNAL): importing it as a key's first version, back
 * at its version (reimported after deletion or expiry, or with a new expiration), or as material
 * pending rotation; deleting it; its expiry on the store's clock; on-demand rotation to it. Every
 * change is saved through the store's `updateKey` (restored in memory if the save fails).
 */

/** Where ImportKeyMaterial puts material: see `ImportedMaterials.import`. */
export type ImportTarget =
  | { kind: 'first' }
  | { kind: 'version'; index: number }
  | { kind: 'pending'; id?: string };

/** An imported material's identifier, expiration and (when given) description. */
export interface ImportedMaterialInfo {
  id: string;
  expirationModel: 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE';
  validTo?: number;
  description?: string;
}

function setImportInfo(m: MaterialRecord, info: ImportedMaterialInfo): void {
  m.id = info.id;
  m.expirationModel = info.expirationModel;
  if (info.validTo === undefined) delete m.validTo;
  else m.validTo = info.validTo;
  // "If you do not specify a key material description, KMS retains the value you specified when you
  // last imported the same key material" (API_ImportKeyMaterial.html).
  if (info.description !== undefined) m.description = info.description;
}

export class ImportedMaterials {
  constructor(
    private readonly keyMaterial: KeyMaterial,
    private readonly update: (key: KeyRecord, change: (key: KeyRecord) => void) => void,
    private readonly now: () => Date,
  ) {}

  /** Runs a change that adds material; if it fails (a save), the plaintext it added is zeroed, not kept. */
  private saving(added: AddedMaterial[], change: () => void): void {
    try {
      change();
    } catch (error) {
      this.keyMaterial.discard(added);
      throw error;
    }
  }

  /** The identifier imported material has in this key (`KeyMaterial.importedId`): the same for the same material, so a reimport is recognised. */
  idOf(keyId: string, material: Buffer): string {
    return this.keyMaterial.importedId(keyId, material);
  }

  /** The soonest ValidTo of the key's imported material still held (current or pending), if any. */
  nextExpiry(key: KeyRecord): number | undefined {
    let next: number | undefined;
    for (const m of [...key.materials, ...(key.pendingMaterials ?? [])]) {
      if (m.wrapped !== undefined && m.validTo !== undefined && (next === undefined || m.validTo < next))
        next = m.validTo;
    }
    return next;
  }

  /**
   * Deletes the imported material whose ValidTo time has passed: "When the key material expires,
   * AWS KMS deletes the key material and the KMS key becomes unusable" (PendingImport, unless it is
   * pending deletion) until the same material is imported again
   * (https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-import-key-material.html).
   */
  expire(key: KeyRecord): KeyRecord {
    const now = this.now().getTime();
    const due = (m: MaterialRecord) => m.wrapped !== undefined && m.validTo !== undefined && m.validTo <= now;
    const expired = key.materials.flatMap((m, i) => (due(m) ? [i] : []));
    if (expired.length === 0 && !(key.pendingMaterials ?? []).some(due)) return key;
    this.update(key, (k) => {
      for (const m of [...k.materials, ...(k.pendingMaterials ?? [])]) {
        if (due(m)) {
          delete m.wrapped;
          delete m.validTo;
        }
      }
      if (expired.length > 0 && k.keyState !== 'PendingDeletion') k.keyState = 'PendingImport';
    });
    for (const i of expired) this.keyMaterial.drop(key.keyId, i);
    return key;
  }

  /**
   * Imports material into an EXTERNAL key: as its first version (`first`), back at the version it
   * is (`version`: reimported, deleted or expired or to change its expiration), or as material
   * pending rotation (`pending`, new or reimported). A key whose every version has its material
   * again leaves PendingImport for Enabled.
   */
  import(key: KeyRecord, material: Buffer, target: ImportTarget, info: ImportedMaterialInfo): void {
    const added: AddedMaterial[] = [];
    this.saving(added, () =>
      this.update(key, (k) => {
        const now = this.now().getTime();
        if (target.kind === 'first') {
          const a = this.keyMaterial.add(k, now, undefined, material);
          added.push(a);
          setImportInfo(k.materials[a.index] as MaterialRecord, info);
        } else if (target.kind === 'version') {
          const m = k.materials[target.index] as MaterialRecord;
          if (m.wrapped === undefined) added.push(this.keyMaterial.restore(k, target.index, material));
          setImportInfo(m, info);
        } else {
          const pending = k.pendingMaterials ?? [];
          let m = pending.find((p) => p.id === target.id);
          if (!m) {
            m = { id: info.id, createdAt: now };
            pending.push(m);
          }
          m.wrapped ??= this.keyMaterial.wrapPending(k.keyId, info.id, material);
          setImportInfo(m, info);
          k.pendingMaterials = pending;
        }
        if (k.keyState === 'PendingImport' && k.materials.every((m) => m.wrapped !== undefined))
          k.keyState = 'Enabled';
      }),
    );
    this.keyMaterial.keep(key.keyId, added);
  }

  /**
   * Deletes imported material: a version's material (the key becomes PendingImport, unless it is
   * pending deletion), or material pending rotation (forgotten: "You can delete this key material and
   * import different key material in its place", API_RotationsListEntry).
   */
  delete(key: KeyRecord, where: { index: number } | { pendingId: string }): void {
    this.update(key, (k) => {
      if ('pendingId' in where) {
        const rest = (k.pendingMaterials ?? []).filter((p) => p.id !== where.pendingId);
        if (rest.length > 0) k.pendingMaterials = rest;
        else delete k.pendingMaterials;
        return;
      }
      const m = k.materials[where.index] as MaterialRecord;
      delete m.wrapped;
      delete m.validTo;
      if (k.keyState !== 'PendingDeletion') k.keyState = 'PendingImport';
    });
    if ('index' in where) this.keyMaterial.drop(key.keyId, where.index);
  }

  /**
   * On-demand rotation of a symmetric EXTERNAL key: the newest imported material pending rotation
   * becomes the new current version (its id, expiration and description kept); undefined when
   * there is none.
   */
  rotateToImported(key: KeyRecord): string | undefined {
    const pending = [...(key.pendingMaterials ?? [])].reverse().find((p) => p.wrapped !== undefined);
    if (!pending) return undefined;
    const plain = this.keyMaterial.openPending(key.keyId, pending);
    const added: AddedMaterial[] = [];
    try {
      this.saving(added, () =>
        this.update(key, (k) => {
          const a = this.keyMaterial.add(k, this.now().getTime(), 'ON_DEMAND', plain);
          added.push(a);
          const m = k.materials[a.index] as MaterialRecord;
          m.id = pending.id;
          if (pending.expirationModel) m.expirationModel = pending.expirationModel;
          if (pending.validTo !== undefined) m.validTo = pending.validTo;
          if (pending.description !== undefined) m.description = pending.description;
          const rest = (k.pendingMaterials ?? []).filter((p) => p.id !== pending.id);
          if (rest.length > 0) k.pendingMaterials = rest;
          else delete k.pendingMaterials;
        }),
      );
    } finally {
      plain.fill(0);
    }
    this.keyMaterial.keep(key.keyId, added);
    return pending.id;
  }
}
