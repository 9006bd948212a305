import type { KeyAdmin, KeyMaterial } from '../ports.js';
import type { AccessControl } from './access.js';
import { KeyAliases } from './keys/aliases.js';
import { KeyGrants } from './keys/grants.js';
import { KeyLifecycle } from './keys/lifecycle.js';
import { KeyMaterials } from './keys/material.js';
import { KeyPolicies } from './keys/policy.js';
import { KeyRoles } from './keys/roles.js';
import type { KeysContext } from './keys/shared.js';
import type { QuotaLedger } from './quotas.js';

export { type AliasCursor, aliasName, isAliasCursor } from './keys/aliases.js';
export { grantView } from './keys/grants.js';
export {
  CREATOR_TAG,
  DEFAULT_DELETION_WINDOW_DAYS,
  DEFAULT_ROTATION_PERIOD_DAYS,
  isKeyMarkerCursor,
  type KeyMarkerCursor,
  type Requester,
} from './keys/shared.js';

export interface KeyServiceOptions {
  /** The value of the reserved tag `eaas:service` on every key created (EAAS_SERVICE_TAG). */
  serviceTag?: string | undefined;
  /** The roles the key policies name for the service's own use (EAAS_SERVICE_ROLE_ARNS). */
  serviceRoles?: readonly string[] | undefined;
  /** The administration roles the key policies name for grants and PutKeyPolicy (EAAS_ADMIN_ROLE_ARNS). */
  adminRoles?: readonly string[] | undefined;
  /** The waits of a retry while a new key's tags reach authorization (tests shorten them). */
  tagPropagationDelaysMs?: readonly number[] | undefined;
  /** Per-caller quotas on keys and aliases; none when absent. */
  quotas?: QuotaLedger | undefined;
  /** Principals that may claim any alias name; everyone else names aliases under its own prefix. */
  aliasOperators?: readonly string[] | undefined;
  /** Imported key material, for keys created with origin EXTERNAL. */
  material?: KeyMaterial | undefined;
}

/**
 * Key administration for IAM callers: every use case decides the caller's right with the key's
 * policy and grants, then acts with the service's own KMS identity. The use cases live by
 * responsibility under `keys/` (a key's life and rotation, its policy, grants, aliases, what a
 * caller is to a key); this is the one object the handlers are given.
 */
export class KeyService {
  readonly lifecycle: KeyLifecycle;
  readonly policies: KeyPolicies;
  readonly grants: KeyGrants;
  readonly aliases: KeyAliases;
  readonly roles: KeyRoles;
  readonly materials: KeyMaterials;

  constructor(admin: KeyAdmin, access: AccessControl, accountId: string, options: KeyServiceOptions = {}) {
    const ctx: KeysContext = {
      admin,
      material: options.material,
      access,
      accountId,
      quotas: options.quotas,
      aliasOperators: options.aliasOperators ?? [],
      serviceTag: options.serviceTag,
      serviceRoles: options.serviceRoles ?? [],
      adminRoles: options.adminRoles ?? [],
      tagPropagationDelaysMs: options.tagPropagationDelaysMs,
    };
    this.lifecycle = new KeyLifecycle(ctx);
    this.policies = new KeyPolicies(ctx);
    this.grants = new KeyGrants(ctx);
    this.aliases = new KeyAliases(ctx);
    this.roles = new KeyRoles(ctx);
    this.materials = new KeyMaterials(ctx);
  }

  create: KeyLifecycle['create'] = (r, input) => this.lifecycle.create(r, input);
  describe: KeyLifecycle['describe'] = (r, keyId) => this.lifecycle.describe(r, keyId);
  enable: KeyLifecycle['enable'] = (r, keyId) => this.lifecycle.enable(r, keyId);
  disable: KeyLifecycle['disable'] = (r, keyId) => this.lifecycle.disable(r, keyId);
  scheduleDeletion: KeyLifecycle['scheduleDeletion'] = (r, keyId, days) =>
    this.lifecycle.scheduleDeletion(r, keyId, days);
  cancelDeletion: KeyLifecycle['cancelDeletion'] = (r, keyId) => this.lifecycle.cancelDeletion(r, keyId);
  rotation: KeyLifecycle['rotation'] = (r, keyId) => this.lifecycle.rotation(r, keyId);
  putRotation: KeyLifecycle['putRotation'] = (r, keyId, input) => this.lifecycle.putRotation(r, keyId, input);
  rotate: KeyLifecycle['rotate'] = (r, keyId) => this.lifecycle.rotate(r, keyId);
  rotations: KeyLifecycle['rotations'] = (r, keyId, limit, cursor) =>
    this.lifecycle.rotations(r, keyId, limit, cursor);
  importParameters: KeyMaterials['parameters'] = (r, keyId, input) =>
    this.materials.parameters(r, keyId, input);
  importMaterial: KeyMaterials['import'] = (r, keyId, input) => this.materials.import(r, keyId, input);
  deleteMaterial: KeyMaterials['delete'] = (r, keyId) => this.materials.delete(r, keyId);
  policy: KeyPolicies['get'] = (r, keyId) => this.policies.get(r, keyId);
  putPolicy: KeyPolicies['put'] = (r, keyId, input) => this.policies.put(r, keyId, input);
  createGrant: KeyGrants['create'] = (r, keyId, input) => this.grants.create(r, keyId, input);
  listGrants: KeyGrants['list'] = (r, keyId, limit, cursor) => this.grants.list(r, keyId, limit, cursor);
  revokeGrant: KeyGrants['revoke'] = (r, keyId, grantId) => this.grants.revoke(r, keyId, grantId);
  putAlias: KeyAliases['put'] = (r, name, keyId) => this.aliases.put(r, name, keyId);
  deleteAlias: KeyAliases['delete'] = (r, name) => this.aliases.delete(r, name);
  listAliases: KeyAliases['list'] = (r, keyId, limit, cursor) => this.aliases.list(r, keyId, limit, cursor);
  list: KeyRoles['list'] = (r, limit, cursor) => this.roles.list(r, limit, cursor);
  rolesOfCaller: KeyRoles['of'] = (caller, keyArn) => this.roles.of(caller, keyArn);
  explain: KeyRoles['explain'] = (r, keyId, actions, context) =>
    this.roles.explain(r, keyId, actions, context);
}
