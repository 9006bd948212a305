import { randomUUID } from 'node:crypto';
import { normalisePrincipal } from '@eaas/aws-rules';
import { DomainError, ValidationError } from '../../core/errors.js';
import {
  InvalidKeyConfigurationError,
  type KeyOrigin,
  type KeySpec,
  type KeyUsage,
  kindOf,
  rotates,
  SYMMETRIC,
} from '../../core/key-kinds.js';
import { rolesKeyPolicy } from '../../core/key-policy.js';
import type { KeyDetails } from '../../ports.js';
import { aliasName, requireAliasName } from './aliases.js';
import { aliasCheck, creatorOf, keyCheck } from './quota-checks.js';
import {
  aliasTarget,
  CREATOR_TAG,
  DEFAULT_DELETION_WINDOW_DAYS,
  DEFAULT_ROTATION_PERIOD_DAYS,
  guard,
  type KeyMarkerCursor,
  type KeysContext,
  keyView,
  markerFor,
  principals,
  type Requester,
  requireSeparateRoles,
  SERVICE_TAG,
} from './shared.js';

export interface CreateKey {
  description?: string | undefined;
  administrators?: string[] | undefined;
  users?: string[] | undefined;
  tags?: Record<string, string> | undefined;
  alias?: string | undefined;
  rotation?: { enabled: boolean; periodInDays?: number | undefined } | undefined;
  keySpec?: KeySpec | undefined;
  keyUsage?: KeyUsage | undefined;
  origin?: KeyOrigin | undefined;
}

/**
 * Delays before retrying a call on a key just created that KMS refused: the roles reach a key by
 * its reserved tag (aws:ResourceTag/eaas:service), and AWS documents that a tag change may take a
 * while to count in authorization (https://docs.aws.amazon.com/kms/latest/developerguide/abac.html,
 * "Delayed authorization change"). About 8 s in all, well inside the function's 25 s.
 */
export const TAG_PROPAGATION_DELAYS_MS = [250, 500, 1000, 2000, 4000];

/** Runs `call`, retrying an AccessDenied on a key the service just tagged (see above). */
async function whileTagsPropagate<T>(ctx: KeysContext, call: () => Promise<T>): Promise<T> {
  for (const delay of ctx.serviceTag === undefined
    ? []
    : (ctx.tagPropagationDelaysMs ?? TAG_PROPAGATION_DELAYS_MS)) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof DomainError && error.code === 'AccessDenied')) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
  return call();
}

/** Tags a caller may set: `eaas:` keys are the service's own (the creator's quota, the seed's purpose). */
function callerTags(tags: Record<string, string> | undefined): Record<string, string> {
  const own = Object.keys(tags ?? {}).find((k) => k.toLowerCase().startsWith('eaas:'));
  if (own !== undefined)
    throw new ValidationError(`Tag keys beginning with eaas: are the service's own (${own}).`, [
      { path: `/tags/${own}`, message: 'is reserved' },
    ]);
  return { ...tags };
}

/**
 * A key's life: creation (with its policy, rotation and alias, counted in its creator's quota),
 * description, enabling and disabling, deletion and its cancellation, and rotation.
 */
export class KeyLifecycle {
  constructor(private readonly ctx: KeysContext) {}

  async create(r: Requester, input: CreateKey) {
    const { ctx } = this;
    const { admin, quotas } = ctx;
    const me = normalisePrincipal(r.caller.arn);
    // Precondition: a kind KMS makes, and rotation only for a key KMS rotates.
    const kind = kindOf(input);
    if (input.rotation?.enabled && !rotates(kind))
      throw new InvalidKeyConfigurationError(
        `KMS rotates only symmetric encryption keys whose material it makes; a ${kind.spec} key for ${kind.usage} with origin ${kind.origin} takes no automatic rotation (rotation: {"enabled": false}).`,
      );
    const administrators = [...new Set([me, ...principals(input.administrators, 'administrators')])];
    const users = principals(input.users, 'users');
    requireSeparateRoles(administrators, users);
    const tags = callerTags(input.tags);
    // The deployment's reserved tag: without it, the functions' roles may not use the key.
    if (ctx.serviceTag !== undefined) tags[SERVICE_TAG] = ctx.serviceTag;
    const alias = input.alias === undefined ? undefined : aliasName(input.alias);
    if (alias !== undefined) requireAliasName(ctx, r.caller, alias);
    if (alias !== undefined && (await aliasTarget(admin, alias)) !== undefined)
      throw new DomainError('AlreadyExists', `The alias ${alias} already exists.`);
    const policy = rolesKeyPolicy({
      accountId: ctx.accountId,
      administrators,
      users,
      serviceRoles: ctx.serviceRoles,
      adminRoles: ctx.adminRoles,
      kind,
    });
    // Precondition: the caller is under its keys (and aliases) quota. The slots are taken before
    // KMS is asked, so that concurrent creates cannot pass it together, and given back on failure.
    const reservation = `reserved:${randomUUID()}`;
    const taken: ['keys' | 'aliases', string][] = [];
    let key: KeyDetails;
    try {
      if (quotas) {
        await quotas.reserve(me, 'keys', reservation, keyCheck(ctx));
        taken.push(['keys', reservation]);
        if (alias !== undefined) {
          await quotas.reserve(me, 'aliases', alias, aliasCheck(ctx));
          taken.push(['aliases', alias]);
        }
        // The creator, whose quota the key counts in whoever schedules its deletion (at most 256 characters).
        if (me.length <= 256) tags[CREATOR_TAG] = me;
      }
      key = await admin.createKey({
        policy: JSON.stringify(policy),
        description: input.description ?? '',
        tags,
        kind,
      });
    } catch (error) {
      for (const [kind, id] of taken) await quotas?.release(me, kind, id).catch(() => undefined);
      throw error;
    }
    // The slot now names the key (best effort: an unbound reservation lapses, the key then uncounted).
    await quotas?.bind(me, 'keys', reservation, key.arn).catch(() => undefined);
    r.record({ action: 'kms:CreateKey', keyArn: key.arn, allowed: true, reason: 'any-caller' });
    const rotation = input.rotation ?? { enabled: rotates(kind) };
    try {
      if (rotation.enabled)
        await whileTagsPropagate(ctx, () =>
          admin.enableRotation(key.arn, rotation.periodInDays ?? DEFAULT_ROTATION_PERIOD_DAYS),
        );
      if (alias !== undefined) await whileTagsPropagate(ctx, () => admin.createAlias(alias, key.arn));
    } catch (error) {
      // A key half set up (the alias taken meanwhile, rotation refused) must not linger unused.
      const scheduled = await admin.scheduleDeletion(key.arn, 7).then(
        () => true,
        () => false,
      );
      if (scheduled) await quotas?.keyPendingDeletion(me, key.arn).catch(() => undefined);
      if (alias !== undefined) await quotas?.release(me, 'aliases', alias).catch(() => undefined);
      throw error;
    }
    return {
      key: keyView(key),
      administrators,
      users,
      rotation: {
        enabled: rotation.enabled,
        ...(rotation.enabled ? { periodInDays: rotation.periodInDays ?? DEFAULT_ROTATION_PERIOD_DAYS } : {}),
      },
      ...(alias !== undefined ? { alias } : {}),
    };
  }

  async describe(r: Requester, keyId: string) {
    const { admin, access } = this.ctx;
    const arn = await guard(this.ctx, r, keyId, 'kms:DescribeKey');
    // Tags go to those who may read them (administrators), not to every user of the key.
    const mayReadTags = (await access.decide(r.caller, { keyId: arn, action: 'kms:ListResourceTags' }))
      .decision.allowed;
    const [d, aliases, tags] = await Promise.all([
      admin.describeKey(arn),
      admin.aliases(arn),
      mayReadTags ? admin.tags(arn) : Promise.resolve(undefined),
    ]);
    return { key: { ...keyView(d), aliases: aliases.map((a) => a.name), ...(tags ? { tags } : {}) } };
  }

  async enable(r: Requester, keyId: string) {
    const arn = await guard(this.ctx, r, keyId, 'kms:EnableKey');
    await this.ctx.admin.enable(arn);
    return { key: keyView(await this.ctx.admin.describeKey(arn)) };
  }

  async disable(r: Requester, keyId: string) {
    const arn = await guard(this.ctx, r, keyId, 'kms:DisableKey');
    await this.ctx.admin.disable(arn);
    return { key: keyView(await this.ctx.admin.describeKey(arn)) };
  }

  async scheduleDeletion(r: Requester, keyId: string, days = DEFAULT_DELETION_WINDOW_DAYS) {
    const { ctx } = this;
    if (!Number.isInteger(days) || days < 7 || days > 30)
      throw new ValidationError('pendingWindowInDays must be a whole number of days from 7 to 30.');
    const arn = await guard(ctx, r, keyId, 'kms:ScheduleKeyDeletion');
    await ctx.admin.scheduleDeletion(arn, days);
    // The key no longer counts in its creator's quota, whoever scheduled it (best effort: the
    // creator's next check against KMS finds it pending deletion anyway).
    const creator = await creatorOf(ctx, arn).catch(() => undefined);
    if (creator) await ctx.quotas?.keyPendingDeletion(creator, arn).catch(() => undefined);
    return { key: keyView(await ctx.admin.describeKey(arn)) };
  }

  async cancelDeletion(r: Requester, keyId: string) {
    const { ctx } = this;
    const arn = await guard(ctx, r, keyId, 'kms:CancelKeyDeletion');
    // Precondition: the key counts again in its creator's quota, which must have room for it.
    const creator = await creatorOf(ctx, arn);
    const counted = creator ? await ctx.quotas?.keyBack(creator, arn, keyCheck(ctx)) : false;
    try {
      await ctx.admin.cancelDeletion(arn);
    } catch (error) {
      if (creator && counted) await ctx.quotas?.keyPendingDeletion(creator, arn).catch(() => undefined);
      throw error;
    }
    // KMS leaves a key whose deletion was cancelled disabled; enable it to use it again.
    return { key: keyView(await ctx.admin.describeKey(arn)) };
  }

  async rotation(r: Requester, keyId: string) {
    const arn = await guard(this.ctx, r, keyId, 'kms:GetKeyRotationStatus');
    const s = await this.ctx.admin.rotationStatus(arn);
    return {
      keyId: arn,
      enabled: s.enabled,
      ...(s.periodInDays ? { periodInDays: s.periodInDays } : {}),
      ...(s.nextRotationDate ? { nextRotationDate: s.nextRotationDate.toISOString() } : {}),
    };
  }

  async putRotation(
    r: Requester,
    keyId: string,
    input: { enabled: boolean; periodInDays?: number | undefined },
  ) {
    const action = input.enabled ? 'kms:EnableKeyRotation' : 'kms:DisableKeyRotation';
    const arn = await guard(this.ctx, r, keyId, action);
    if (input.enabled) {
      // Precondition, as for rotating now: KMS rotates automatically only the keys it makes material for.
      const kind = (await this.ctx.admin.describeKey(arn)).kind ?? SYMMETRIC;
      if (!rotates(kind))
        throw new DomainError(
          'UnsupportedOperation',
          `KMS rotates automatically only symmetric encryption keys whose material it makes; the key ${keyId} is a ${kind.spec} key for ${kind.usage} with origin ${kind.origin}.`,
        );
    }
    if (input.enabled) await this.ctx.admin.enableRotation(arn, input.periodInDays);
    else await this.ctx.admin.disableRotation(arn);
    return this.rotation(r, arn);
  }

  async rotate(r: Requester, keyId: string) {
    const arn = await guard(this.ctx, r, keyId, 'kms:RotateKeyOnDemand');
    // Precondition: a symmetric key whose material KMS makes. KMS rotates an imported key only to
    // new material imported for it beforehand (ImportType NEW_KEY_MATERIAL), which this API does
    // not offer, and never an asymmetric or HMAC key
    // (https://docs.aws.amazon.com/kms/latest/APIReference/API_RotateKeyOnDemand.html).
    const kind = (await this.ctx.admin.describeKey(arn)).kind ?? SYMMETRIC;
    if (!rotates(kind))
      throw new DomainError(
        'UnsupportedOperation',
        kind.origin === 'EXTERNAL'
          ? `The key ${keyId} has imported material: KMS cannot rotate it to material of its own. Rotate by creating a new key and re-encrypting (POST /v1/jobs).`
          : `The key ${keyId} is a ${kind.spec} key for ${kind.usage}: only symmetric encryption keys rotate.`,
      );
    await this.ctx.admin.rotateNow(arn);
    return { keyId: arn };
  }

  async rotations(r: Requester, keyId: string, limit: number, cursor?: KeyMarkerCursor) {
    const arn = await guard(this.ctx, r, keyId, 'kms:ListKeyRotations');
    const page = await this.ctx.admin.rotations(arn, limit, markerFor(cursor, arn));
    return {
      keyId: arn,
      rotations: page.items.map((m) => ({
        ...(m.keyMaterialId ? { keyMaterialId: m.keyMaterialId } : {}),
        current: m.current,
        ...(m.rotationType ? { rotationType: m.rotationType } : {}),
        ...(m.rotationDate ? { rotationDate: m.rotationDate.toISOString() } : {}),
      })),
      ...(page.nextToken ? { next: { keyArn: arn, marker: page.nextToken } } : {}),
    };
  }
}
