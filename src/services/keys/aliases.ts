import { normalisePrincipal } from '@eaas/aws-rules';
import { aliasNameRefusal } from '../../core/alias-names.js';
import { DomainError, ValidationError } from '../../core/errors.js';
import { InvalidPageTokenError } from '../../core/page-token.js';
import type { AliasInfo } from '../../ports.js';
import { accessDenied, type Caller } from '../access.js';
import { isScanCursor, type ScanCursor, SOURCE_PAGE, scan } from '../scan.js';
import { aliasCheck } from './quota-checks.js';
import { aliasTarget, guard, type KeysContext, type Requester } from './shared.js';

/** `alias/x` for `x` or `alias/x`; refuses names KMS reserves or would refuse. */
export function aliasName(name: string): string {
  const full = name.startsWith('alias/') ? name : `alias/${name}`;
  if (!/^alias\/[a-zA-Z0-9/_-]{1,250}$/.test(full))
    throw new ValidationError(
      'An alias name is 1-250 characters of a-z, A-Z, 0-9, /, _ and -, after "alias/".',
    );
  if (full.startsWith('alias/aws/'))
    throw new ValidationError('Alias names beginning with alias/aws/ are reserved for AWS managed keys.');
  return full;
}

/** Precondition of claiming an alias name (creating it, or pointing it elsewhere): the naming rule. */
export function requireAliasName(ctx: KeysContext, caller: Caller, alias: string): void {
  const refusal = aliasNameRefusal(alias, caller.arn, {
    accountId: ctx.accountId,
    operators: ctx.aliasOperators,
  });
  if (refusal) throw new DomainError('AccessDenied', refusal);
}

/** Where an alias listing resumes; with the key's ARN for the aliases of one key. */
export interface AliasCursor extends ScanCursor {
  keyArn?: string;
}

export function isAliasCursor(value: unknown): value is AliasCursor {
  const c = value as AliasCursor | null;
  return isScanCursor(c) && (c?.keyArn === undefined || typeof c.keyArn === 'string');
}

/**
 * Aliases: creating, moving and deleting them needs the right on every key involved, and a name
 * the caller may claim (`core/alias-names.ts`); a refusal about the key an alias names names the
 * alias, not the key (which is for those who may describe it).
 */
export class KeyAliases {
  constructor(private readonly ctx: KeysContext) {}

  /** Creates the alias, or points it at another key; the caller must administer every key involved. */
  async put(r: Requester, name: string, keyId: string) {
    const { ctx } = this;
    const alias = aliasName(name);
    requireAliasName(ctx, r.caller, alias);
    const current = await aliasTarget(ctx.admin, alias);
    if (current === undefined) {
      const arn = await guard(ctx, r, keyId, 'kms:CreateAlias');
      // Precondition: the caller is under its aliases quota.
      const me = normalisePrincipal(r.caller.arn);
      await ctx.quotas?.reserve(me, 'aliases', alias, aliasCheck(ctx));
      try {
        await ctx.admin.createAlias(alias, arn);
      } catch (error) {
        await ctx.quotas?.release(me, 'aliases', alias).catch(() => undefined);
        throw error;
      }
      ctx.access.invalidateNames();
      return { alias, keyId: arn, created: true };
    }
    await guard(ctx, r, current, 'kms:UpdateAlias', alias);
    const arn = await guard(ctx, r, keyId, 'kms:UpdateAlias');
    await ctx.admin.updateAlias(alias, arn);
    ctx.access.invalidateNames();
    return { alias, keyId: arn, created: false };
  }

  async delete(r: Requester, name: string) {
    const { ctx } = this;
    const alias = aliasName(name);
    const current = await aliasTarget(ctx.admin, alias);
    // An alias that does not exist is refused as one of a key the caller may not manage.
    if (current === undefined) throw accessDenied(r.caller, 'kms:DeleteAlias', alias);
    const arn = await guard(ctx, r, current, 'kms:DeleteAlias', alias);
    await ctx.admin.deleteAlias(alias);
    ctx.access.invalidateNames();
    // Frees the slot if the caller created it; another creator's check against KMS finds it gone.
    await ctx.quotas?.release(normalisePrincipal(r.caller.arn), 'aliases', alias).catch(() => undefined);
    return { alias, keyId: arn, deleted: true };
  }

  /**
   * Aliases of the keys the caller may describe, or of one key: up to `limit`, of at most
   * `SCAN_BUDGET` aliases of the account examined per call (one decision per key they name), so
   * that a call costs the same whatever the account holds (scan.ts).
   */
  async list(r: Requester, keyId: string | undefined, limit: number, cursor?: AliasCursor) {
    const { admin, access } = this.ctx;
    if (keyId !== undefined) {
      const arn = await guard(this.ctx, r, keyId, 'kms:DescribeKey');
      // Precondition: a cursor of one key's aliases resumes that key's listing only.
      if (cursor !== undefined && cursor.keyArn !== arn) throw new InvalidPageTokenError();
      const out = await scan({
        fetch: (marker) => admin.aliasPage(SOURCE_PAGE, marker, arn),
        cursor,
        limit,
        keep: async (a: AliasInfo) => ({ name: a.name, keyId: arn }),
      });
      return { aliases: out.items, ...(out.next ? { next: { ...out.next, keyArn: arn } } : {}) };
    }
    if (cursor?.keyArn !== undefined) throw new InvalidPageTokenError();
    // One decision per key named, shared by the aliases of this call that name it.
    const visible = new Map<string, Promise<string | undefined>>();
    const arnIfVisible = (target: string) => {
      let known = visible.get(target);
      if (!known) {
        known = access.decide(r.caller, { keyId: target, action: 'kms:DescribeKey' }).then(
          (d) => (d.decision.allowed ? d.keyArn : undefined),
          () => undefined,
        );
        visible.set(target, known);
      }
      return known;
    };
    const out = await scan({
      fetch: (marker) => admin.aliasPage(SOURCE_PAGE, marker),
      cursor,
      limit,
      keep: async (a: AliasInfo) => {
        const arn = a.targetKeyId ? await arnIfVisible(a.targetKeyId) : undefined;
        return arn ? { name: a.name, keyId: arn } : undefined;
      },
    });
    return { aliases: out.items, ...(out.next ? { next: out.next } : {}) };
  }
}
