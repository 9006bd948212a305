import { randomUUID } from 'node:crypto';
import {
  contextProblems,
  type EncryptionContext,
  type GrantLike,
  grantNarrows,
  isPrincipalArn,
  normalisePrincipal,
  parseJsonStrict,
  policyDocumentProblem,
} from '@eaas/aws-rules';
import { aliasNameRefusal } from '../core/alias-names.js';
import { DomainError, ValidationError } from '../core/errors.js';
import { type PolicyRoles, rolesKeyPolicy, rolesOf } from '../core/key-policy.js';
import { InvalidPageTokenError } from '../core/page-token.js';
import { type DualRole, dualRolePrincipals, mayManage } from '../core/separation-of-duties.js';
import type { AliasInfo, AuditDecision, GrantInfo, KeyAdmin, KeyDetails, NewGrant } from '../ports.js';
import {
  AccessControl,
  accessDenied,
  asGrantLike,
  auditDecision,
  type Caller,
  isKeyNotFound,
} from './access.js';
import type { QuotaCheck, QuotaLedger, Verdict } from './quotas.js';
import { isScanCursor, type ScanCursor, SOURCE_PAGE, scan } from './scan.js';

/** Who is asking, and where their authorization decisions are recorded. */
export interface Requester {
  caller: Caller;
  record(decision: AuditDecision): void;
}

export const DEFAULT_DELETION_WINDOW_DAYS = 30;
export const DEFAULT_ROTATION_PERIOD_DAYS = 365;
const MAX_POLICY_BYTES = 32_768;
/** The tag naming who created a key through the API, whose keys quota it counts in. */
export const CREATOR_TAG = 'eaas:created-by';

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

function principals(list: readonly string[] | undefined, field: string): string[] {
  const out: string[] = [];
  for (const [i, p] of (list ?? []).entries()) {
    if (!isPrincipalArn(p))
      throw new ValidationError(`${field}[${i}] is not an IAM user, role or account ARN.`, [
        { path: `${field}/${i}`, message: 'must be an IAM principal ARN' },
      ]);
    out.push(normalisePrincipal(p));
  }
  return [...new Set(out)];
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

function checkContext(ctx: EncryptionContext | undefined, name: string): void {
  if (ctx === undefined) return;
  const problems = contextProblems(ctx, name);
  if (problems.length > 0)
    throw new ValidationError(`Invalid ${name}: ${problems[0]?.path} ${problems[0]?.message}.`, problems);
}

function requireSeparateRoles(administrators: readonly string[], users: readonly string[]): void {
  const both = administrators.filter((a) => users.includes(a));
  if (both.length > 0)
    throw new DomainError(
      'SeparationOfDuties',
      `${both.join(', ')} cannot be both an administrator and a user of a key.`,
    );
}

/** Grants read for the separation-of-duties check of a policy; past this, any grant may exist. */
const MAX_GRANT_PAGES = 10;

/** A refusal naming who could both manage and use the key, and how. */
function separationOfDuties(mixed: readonly DualRole[]): DomainError {
  const how: Record<DualRole['via'], string> = {
    policy: 'a statement of the policy may allow it, under some encryption context',
    grant: 'it holds a grant for it',
    'account root statement': 'the account root statement lets its IAM policies allow it',
    'grant it could be given': 'a grant could give it, and no statement denies it',
  };
  const cases = mixed.slice(0, 3).map((m) => `${m.principal} may ${m.manages} and ${m.uses} (${how[m.via]})`);
  if (mixed.length > 3) cases.push(`${mixed.length - 3} more`);
  return new DomainError(
    'SeparationOfDuties',
    `The policy could let a principal both manage and use the key: ${cases.join('; ')}. Deny the administrators every cryptographic operation with a statement without conditions (as the policies this service writes do), and keep them out of the users.`,
  );
}

/** The verdict of each id, eight KMS calls at a time; an id whose call failed is left out (kept as it is). */
async function eachOf(ids: readonly string[], verdict: (id: string) => Promise<Verdict>) {
  const verdicts = new Map<string, Verdict>();
  const queue = [...ids];
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      const v = await verdict(id).catch(() => undefined);
      if (v !== undefined) verdicts.set(id, v);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return verdicts;
}

/** The operations that make a caller a user of a key (for listings and whoami). */
const USE_ACTIONS = [
  'kms:Encrypt',
  'kms:Decrypt',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
];

/** A key as the admin routes show it. */
function keyView(d: KeyDetails) {
  return {
    keyId: d.keyId,
    arn: d.arn,
    description: d.description,
    state: d.state,
    createdAt: d.createdAt.toISOString(),
    ...(d.deletionDate ? { deletionDate: d.deletionDate.toISOString() } : {}),
    ...(d.pendingWindowInDays ? { pendingWindowInDays: d.pendingWindowInDays } : {}),
  };
}

export function grantView(g: GrantInfo) {
  return {
    grantId: g.grantId,
    ...(g.name ? { name: g.name } : {}),
    grantee: g.granteePrincipal,
    ...(g.retiringPrincipal ? { retiringPrincipal: g.retiringPrincipal } : {}),
    operations: g.operations,
    ...(g.constraints?.EncryptionContextSubset
      ? { constraints: { encryptionContextSubset: g.constraints.EncryptionContextSubset } }
      : g.constraints?.EncryptionContextEquals
        ? { constraints: { encryptionContextEquals: g.constraints.EncryptionContextEquals } }
        : {}),
    ...(g.createdAt ? { createdAt: g.createdAt.toISOString() } : {}),
  };
}

/** Where a listing of one key (grants, rotations) resumes: KMS's marker, for that key only. */
export interface KeyMarkerCursor {
  keyArn: string;
  marker: string;
}

export function isKeyMarkerCursor(value: unknown): value is KeyMarkerCursor {
  const c = value as KeyMarkerCursor | null;
  return typeof c === 'object' && c !== null && typeof c.keyArn === 'string' && typeof c.marker === 'string';
}

/** Where an alias listing resumes; with the key's ARN for the aliases of one key. */
export interface AliasCursor extends ScanCursor {
  keyArn?: string;
}

export function isAliasCursor(value: unknown): value is AliasCursor {
  const c = value as AliasCursor | null;
  return isScanCursor(c) && (c?.keyArn === undefined || typeof c.keyArn === 'string');
}

/** KMS's marker in a cursor, once the cursor is found to be of this key's listing. */
function markerFor(cursor: KeyMarkerCursor | undefined, keyArn: string): string | undefined {
  // Precondition: a cursor of one key's listing resumes that key's listing only.
  if (cursor !== undefined && cursor.keyArn !== keyArn) throw new InvalidPageTokenError();
  return cursor?.marker;
}

/**
 * Key administration for IAM callers: every use case decides the caller's right with the key's
 * policy and grants, then acts with the service's own KMS identity.
 */
export interface KeyServiceOptions {
  /** Per-caller quotas on keys and aliases; none when absent. */
  quotas?: QuotaLedger | undefined;
  /** Principals that may claim any alias name; everyone else names aliases under its own prefix. */
  aliasOperators?: readonly string[] | undefined;
}

export class KeyService {
  private readonly quotas: QuotaLedger | undefined;
  private readonly aliasOperators: readonly string[];

  constructor(
    private readonly admin: KeyAdmin,
    private readonly access: AccessControl,
    private readonly accountId: string,
    options: KeyServiceOptions = {},
  ) {
    this.quotas = options.quotas;
    this.aliasOperators = options.aliasOperators ?? [];
  }

  private guard(r: Requester, keyId: string, action: string): Promise<string> {
    return this.access.require(r.caller, { keyId, action }, r.record);
  }

  /**
   * The guard on the key an alias names, refusing in the alias's name: the key it resolves to is
   * for those who may describe it.
   */
  private async guardViaAlias(r: Requester, alias: string, keyId: string, action: string): Promise<string> {
    try {
      return await this.guard(r, keyId, action);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'AccessDenied')
        throw accessDenied(r.caller, action, alias);
      throw error;
    }
  }

  /** Precondition of claiming an alias name (creating it, or pointing it elsewhere): the naming rule. */
  private requireAliasName(caller: Caller, alias: string): void {
    const refusal = aliasNameRefusal(alias, caller.arn, {
      accountId: this.accountId,
      operators: this.aliasOperators,
    });
    if (refusal) throw new DomainError('AccessDenied', refusal);
  }

  /** The quota check of keys: each listed key's state in KMS; a deleted (or never made) one is absent. */
  private readonly keyCheck: QuotaCheck = (ids) =>
    eachOf(ids, async (id) => {
      if (!id.startsWith('arn:')) return 'absent';
      try {
        return (await this.admin.describeKey(id)).state === 'PendingDeletion' ? 'pending-deletion' : 'live';
      } catch (error) {
        if (isKeyNotFound(error)) return 'absent';
        throw error;
      }
    });

  /** The quota check of aliases: which of the listed names still exist. */
  private readonly aliasCheck: QuotaCheck = (ids) =>
    eachOf(ids, async (id) => ((await this.aliasTarget(id)) === undefined ? 'absent' : 'live'));

  /** Who created a key through the API (its tag), whose keys quota it counts in. */
  private async creatorOf(keyArn: string): Promise<string | undefined> {
    if (!this.quotas) return undefined;
    return (await this.admin.tags(keyArn))[CREATOR_TAG];
  }

  async create(
    r: Requester,
    input: {
      description?: string | undefined;
      administrators?: string[] | undefined;
      users?: string[] | undefined;
      tags?: Record<string, string> | undefined;
      alias?: string | undefined;
      rotation?: { enabled: boolean; periodInDays?: number | undefined } | undefined;
    },
  ) {
    const me = normalisePrincipal(r.caller.arn);
    const administrators = [...new Set([me, ...principals(input.administrators, 'administrators')])];
    const users = principals(input.users, 'users');
    requireSeparateRoles(administrators, users);
    const tags = callerTags(input.tags);
    const alias = input.alias === undefined ? undefined : aliasName(input.alias);
    if (alias !== undefined) this.requireAliasName(r.caller, alias);
    if (alias !== undefined && (await this.aliasTarget(alias)) !== undefined)
      throw new DomainError('AlreadyExists', `The alias ${alias} already exists.`);
    const policy = rolesKeyPolicy({ accountId: this.accountId, administrators, users });
    // Precondition: the caller is under its keys (and aliases) quota. The slots are taken before
    // KMS is asked, so that concurrent creates cannot pass it together, and given back on failure.
    const reservation = `reserved:${randomUUID()}`;
    const taken: ['keys' | 'aliases', string][] = [];
    let key: KeyDetails;
    try {
      if (this.quotas) {
        await this.quotas.reserve(me, 'keys', reservation, this.keyCheck);
        taken.push(['keys', reservation]);
        if (alias !== undefined) {
          await this.quotas.reserve(me, 'aliases', alias, this.aliasCheck);
          taken.push(['aliases', alias]);
        }
        // The creator, whose quota the key counts in whoever schedules its deletion (at most 256 characters).
        if (me.length <= 256) tags[CREATOR_TAG] = me;
      }
      key = await this.admin.createKey({
        policy: JSON.stringify(policy),
        description: input.description ?? '',
        tags,
      });
    } catch (error) {
      for (const [kind, id] of taken) await this.quotas?.release(me, kind, id).catch(() => undefined);
      throw error;
    }
    // The slot now names the key (best effort: an unbound reservation lapses, the key then uncounted).
    await this.quotas?.bind(me, 'keys', reservation, key.arn).catch(() => undefined);
    r.record({ action: 'kms:CreateKey', keyArn: key.arn, allowed: true, reason: 'any-caller' });
    const rotation = input.rotation ?? { enabled: true };
    try {
      if (rotation.enabled) {
        await this.admin.enableRotation(key.arn, rotation.periodInDays ?? DEFAULT_ROTATION_PERIOD_DAYS);
      }
      if (alias !== undefined) await this.admin.createAlias(alias, key.arn);
    } catch (error) {
      // A key half set up (the alias taken meanwhile, rotation refused) must not linger unused.
      const scheduled = await this.admin.scheduleDeletion(key.arn, 7).then(
        () => true,
        () => false,
      );
      if (scheduled) await this.quotas?.keyPendingDeletion(me, key.arn).catch(() => undefined);
      if (alias !== undefined) await this.quotas?.release(me, 'aliases', alias).catch(() => undefined);
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

  /**
   * The keys the caller may describe (administers, uses, or may describe): up to `limit`, of at
   * most `SCAN_BUDGET` keys of the account examined per call (scan.ts). `next` is where the
   * following call starts; the handler seals it into a page token.
   */
  async list(r: Requester, limit: number, cursor?: ScanCursor) {
    const out = await scan({
      fetch: (marker) => this.admin.listKeys(SOURCE_PAGE, marker),
      cursor,
      limit,
      keep: async (k: { arn: string }) => {
        const roles = await this.rolesOfCaller(r.caller, k.arn).catch(() => undefined);
        if (!roles || (!roles.administer && !roles.use && !roles.describe)) return undefined;
        const d = await this.admin.describeKey(k.arn).catch(() => undefined);
        return d && { ...keyView(d), access: { administer: roles.administer, use: roles.use } };
      },
    });
    return { keys: out.items, ...(out.next ? { next: out.next } : {}) };
  }

  /** What the caller is to a key: administrator, user, or one who may at least describe it. */
  async rolesOfCaller(caller: Caller, keyArn: string) {
    const can = async (action: string) =>
      (await this.access.decide(caller, { keyId: keyArn, action })).decision.allowed;
    const grants = await this.access.grantsOf(caller, keyArn);
    const [administer, describe, ...uses] = await Promise.all(
      ['kms:PutKeyPolicy', 'kms:DescribeKey', ...USE_ACTIONS].map(can),
    );
    // A grant may hold a context constraint, so it counts as use without a context to try. Not an
    // administrator's: the key policy denies administrators every cryptographic operation.
    const usingGrant = !administer && grants.some((g) => g.operations.some((op) => op !== 'DescribeKey'));
    return { administer, use: uses.some(Boolean) || usingGrant, describe };
  }

  async describe(r: Requester, keyId: string) {
    const arn = await this.guard(r, keyId, 'kms:DescribeKey');
    // Tags go to those who may read them (administrators), not to every user of the key.
    const mayReadTags = (await this.access.decide(r.caller, { keyId: arn, action: 'kms:ListResourceTags' }))
      .decision.allowed;
    const [d, aliases, tags] = await Promise.all([
      this.admin.describeKey(arn),
      this.admin.aliases(arn),
      mayReadTags ? this.admin.tags(arn) : Promise.resolve(undefined),
    ]);
    return { key: { ...keyView(d), aliases: aliases.map((a) => a.name), ...(tags ? { tags } : {}) } };
  }

  async enable(r: Requester, keyId: string) {
    const arn = await this.guard(r, keyId, 'kms:EnableKey');
    await this.admin.enable(arn);
    return { key: keyView(await this.admin.describeKey(arn)) };
  }

  async disable(r: Requester, keyId: string) {
    const arn = await this.guard(r, keyId, 'kms:DisableKey');
    await this.admin.disable(arn);
    return { key: keyView(await this.admin.describeKey(arn)) };
  }

  async scheduleDeletion(r: Requester, keyId: string, days = DEFAULT_DELETION_WINDOW_DAYS) {
    if (!Number.isInteger(days) || days < 7 || days > 30)
      throw new ValidationError('pendingWindowInDays must be a whole number of days from 7 to 30.');
    const arn = await this.guard(r, keyId, 'kms:ScheduleKeyDeletion');
    await this.admin.scheduleDeletion(arn, days);
    // The key no longer counts in its creator's quota, whoever scheduled it (best effort: the
    // creator's next check against KMS finds it pending deletion anyway).
    const creator = await this.creatorOf(arn).catch(() => undefined);
    if (creator) await this.quotas?.keyPendingDeletion(creator, arn).catch(() => undefined);
    return { key: keyView(await this.admin.describeKey(arn)) };
  }

  async cancelDeletion(r: Requester, keyId: string) {
    const arn = await this.guard(r, keyId, 'kms:CancelKeyDeletion');
    // Precondition: the key counts again in its creator's quota, which must have room for it.
    const creator = await this.creatorOf(arn);
    const counted = creator ? await this.quotas?.keyBack(creator, arn, this.keyCheck) : false;
    try {
      await this.admin.cancelDeletion(arn);
    } catch (error) {
      if (creator && counted) await this.quotas?.keyPendingDeletion(creator, arn).catch(() => undefined);
      throw error;
    }
    // KMS leaves a key whose deletion was cancelled disabled; enable it to use it again.
    return { key: keyView(await this.admin.describeKey(arn)) };
  }

  async rotation(r: Requester, keyId: string) {
    const arn = await this.guard(r, keyId, 'kms:GetKeyRotationStatus');
    const s = await this.admin.rotationStatus(arn);
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
    const arn = await this.guard(r, keyId, action);
    if (input.enabled) await this.admin.enableRotation(arn, input.periodInDays);
    else await this.admin.disableRotation(arn);
    return this.rotation(r, arn);
  }

  async rotate(r: Requester, keyId: string) {
    const arn = await this.guard(r, keyId, 'kms:RotateKeyOnDemand');
    await this.admin.rotateNow(arn);
    return { keyId: arn };
  }

  async rotations(r: Requester, keyId: string, limit: number, cursor?: KeyMarkerCursor) {
    const arn = await this.guard(r, keyId, 'kms:ListKeyRotations');
    const page = await this.admin.rotations(arn, limit, markerFor(cursor, arn));
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

  async policy(r: Requester, keyId: string) {
    const arn = await this.guard(r, keyId, 'kms:GetKeyPolicy');
    const text = await this.admin.keyPolicy(arn);
    let doc: unknown;
    try {
      doc = parseJsonStrict(text);
    } catch {
      doc = undefined;
    }
    const roles: PolicyRoles = rolesOf(doc, this.accountId);
    return { keyId: arn, ...roles, policy: doc ?? text };
  }

  /**
   * Replaces the key policy: from administrators and users (the service writes the whole
   * document), or a raw document. The new policy must still let the caller manage the key.
   */
  async putPolicy(
    r: Requester,
    keyId: string,
    input: { administrators?: string[] | undefined; users?: string[] | undefined; policy?: unknown },
  ) {
    const arn = await this.guard(r, keyId, 'kms:PutKeyPolicy');
    let text: string;
    if (input.policy !== undefined) {
      if (input.administrators !== undefined || input.users !== undefined)
        throw new ValidationError('Give either administrators and users, or a policy document, not both.');
      text = typeof input.policy === 'string' ? input.policy : JSON.stringify(input.policy);
      if (Buffer.byteLength(text) > MAX_POLICY_BYTES)
        throw new ValidationError(`A key policy is at most ${MAX_POLICY_BYTES} bytes.`);
      const problem = policyDocumentProblem(text);
      if (problem) throw new ValidationError(`The policy document is not valid: ${problem}`);
    } else {
      const administrators = principals(input.administrators, 'administrators');
      const users = principals(input.users, 'users');
      requireSeparateRoles(administrators, users);
      text = JSON.stringify(rolesKeyPolicy({ accountId: this.accountId, administrators, users }));
    }
    // Precondition: no principal the policy lets manage the key could use it, under any context,
    // by a statement, a grant it holds or one it could be given (directly in KMS too).
    const { grants, complete } = await this.allGrants(arn);
    const mixed = dualRolePrincipals({
      policy: parseJsonStrict(text),
      keyArn: arn,
      keyAccountId: this.accountId,
      grants,
      moreGrants: !complete,
    });
    if (mixed.length > 0) throw separationOfDuties(mixed);
    // Precondition: the caller can still manage the key afterwards (KMS's lockout check, for the caller).
    const probe = new AccessControl(
      {
        describe: async () => ({ arn, keyId: arn, state: 'Enabled', description: '' }),
        keyPolicy: async () => text,
        grantsFor: async () => [],
      },
      { ttlMs: 0 },
    );
    const after = await probe.decide(r.caller, { keyId: arn, action: 'kms:PutKeyPolicy' });
    if (!after.decision.allowed)
      throw new DomainError(
        'PolicyLockout',
        'The new policy would not let you manage the key any more; keep yourself among its administrators.',
      );
    await this.admin.putKeyPolicy(arn, text);
    this.access.invalidate(arn);
    return this.policy(r, arn);
  }

  async createGrant(
    r: Requester,
    keyId: string,
    input: {
      grantee: string;
      operations: string[];
      constraints?: {
        encryptionContextSubset?: EncryptionContext;
        encryptionContextEquals?: EncryptionContext;
      };
      name?: string | undefined;
      retiringPrincipal?: string | undefined;
    },
  ) {
    const [grantee] = principals([input.grantee], 'grantee');
    const retiring =
      input.retiringPrincipal === undefined
        ? undefined
        : principals([input.retiringPrincipal], 'retiringPrincipal')[0];
    const c = input.constraints;
    if (c?.encryptionContextSubset !== undefined && c.encryptionContextEquals !== undefined)
      throw new ValidationError('Give encryptionContextSubset or encryptionContextEquals, not both.');
    checkContext(c?.encryptionContextSubset, 'constraints.encryptionContextSubset');
    checkContext(c?.encryptionContextEquals, 'constraints.encryptionContextEquals');
    const { keyArn: arn, decision } = await this.access
      .decide(r.caller, { keyId, action: 'kms:CreateGrant' })
      .catch((error: unknown) => {
        // A key that does not exist is refused as one the caller may not manage.
        if (!isKeyNotFound(error)) throw error;
        r.record({ action: 'kms:CreateGrant', keyArn: keyId, allowed: false, reason: 'implicit-deny' });
        throw accessDenied(r.caller, 'kms:CreateGrant', keyId);
      });
    r.record(auditDecision('kms:CreateGrant', arn, decision));
    if (!decision.allowed) throw accessDenied(r.caller, 'kms:CreateGrant', keyId);
    const operations = [...new Set(input.operations)];
    const constraints = c?.encryptionContextSubset
      ? { EncryptionContextSubset: c.encryptionContextSubset }
      : c?.encryptionContextEquals
        ? { EncryptionContextEquals: c.encryptionContextEquals }
        : undefined;
    // A grant that allows CreateGrant may only hand on a narrower grant, as KMS requires.
    if (decision.reason === 'grant') {
      const parent = (await this.access.grantsOf(r.caller, arn)).find((g) => g.grantId === decision.grantId);
      if (!parent || !grantNarrows(asGrantLike(parent), { operations, constraints }))
        throw new DomainError(
          'AccessDenied',
          'A grant made under your grant may only have the same or fewer operations and the same or stricter constraints.',
        );
    }
    // Precondition: who may manage the key does not use it, not even through a grant: the grantee,
    // any session of it (a role) or any principal of it (an account), under any context.
    if (operations.some((op) => op !== 'DescribeKey') && (await this.administers(grantee as string, arn)))
      throw new DomainError(
        'SeparationOfDuties',
        `${grantee} may manage the key (or one who acts as it may) and may not be granted its cryptographic operations.`,
      );
    const grant: NewGrant = {
      granteePrincipal: grantee as string,
      operations,
      ...(constraints ? { constraints } : {}),
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(retiring !== undefined ? { retiringPrincipal: retiring } : {}),
    };
    const out = await this.admin.createGrant(arn, grant);
    this.access.invalidate(arn);
    return { keyId: arn, grantId: out.grantId, grantToken: out.grantToken };
  }

  /** Whether the key's policy, as it is now, may let the principal manage the key. */
  private async administers(principal: string, keyArn: string): Promise<boolean> {
    const text = await this.admin.keyPolicy(keyArn);
    let policy: unknown;
    try {
      policy = parseJsonStrict(text);
    } catch {
      // A policy that cannot be read: assume the worst.
      return true;
    }
    return mayManage(policy, principal, keyArn);
  }

  /** The key's grants, up to MAX_GRANT_PAGES pages; `complete` false when there are more. */
  private async allGrants(keyArn: string): Promise<{ grants: GrantLike[]; complete: boolean }> {
    const grants: GrantLike[] = [];
    let token: string | undefined;
    for (let page = 0; page < MAX_GRANT_PAGES; page++) {
      const out = await this.admin.listGrants(keyArn, 100, token);
      grants.push(...out.items.map(asGrantLike));
      token = out.nextToken;
      if (token === undefined) return { grants, complete: true };
    }
    return { grants, complete: false };
  }

  async listGrants(r: Requester, keyId: string, limit: number, cursor?: KeyMarkerCursor) {
    const arn = await this.guard(r, keyId, 'kms:ListGrants');
    const page = await this.admin.listGrants(arn, limit, markerFor(cursor, arn));
    return {
      keyId: arn,
      grants: page.items.map(grantView),
      ...(page.nextToken ? { next: { keyArn: arn, marker: page.nextToken } } : {}),
    };
  }

  async revokeGrant(r: Requester, keyId: string, grantId: string) {
    const arn = await this.guard(r, keyId, 'kms:RevokeGrant');
    await this.admin.revokeGrant(arn, grantId);
    this.access.invalidate(arn);
    return { keyId: arn, grantId, revoked: true };
  }

  /** The key an alias names, or undefined: one DescribeKey, not a listing of every alias of the account. */
  private async aliasTarget(alias: string): Promise<string | undefined> {
    try {
      return (await this.admin.describeKey(alias)).arn;
    } catch (error) {
      if (isKeyNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Creates the alias, or points it at another key; the caller must administer every key involved. */
  async putAlias(r: Requester, name: string, keyId: string) {
    const alias = aliasName(name);
    this.requireAliasName(r.caller, alias);
    const current = await this.aliasTarget(alias);
    if (current === undefined) {
      const arn = await this.guard(r, keyId, 'kms:CreateAlias');
      // Precondition: the caller is under its aliases quota.
      const me = normalisePrincipal(r.caller.arn);
      await this.quotas?.reserve(me, 'aliases', alias, this.aliasCheck);
      try {
        await this.admin.createAlias(alias, arn);
      } catch (error) {
        await this.quotas?.release(me, 'aliases', alias).catch(() => undefined);
        throw error;
      }
      this.access.invalidateNames();
      return { alias, keyId: arn, created: true };
    }
    await this.guardViaAlias(r, alias, current, 'kms:UpdateAlias');
    const arn = await this.guard(r, keyId, 'kms:UpdateAlias');
    await this.admin.updateAlias(alias, arn);
    this.access.invalidateNames();
    return { alias, keyId: arn, created: false };
  }

  async deleteAlias(r: Requester, name: string) {
    const alias = aliasName(name);
    const current = await this.aliasTarget(alias);
    // An alias that does not exist is refused as one of a key the caller may not manage.
    if (current === undefined) throw accessDenied(r.caller, 'kms:DeleteAlias', alias);
    const arn = await this.guardViaAlias(r, alias, current, 'kms:DeleteAlias');
    await this.admin.deleteAlias(alias);
    this.access.invalidateNames();
    // Frees the slot if the caller created it; another creator's check against KMS finds it gone.
    await this.quotas?.release(normalisePrincipal(r.caller.arn), 'aliases', alias).catch(() => undefined);
    return { alias, keyId: arn, deleted: true };
  }

  /**
   * Aliases of the keys the caller may describe, or of one key: up to `limit`, of at most
   * `SCAN_BUDGET` aliases of the account examined per call (one decision per key they name), so
   * that a call costs the same whatever the account holds (scan.ts).
   */
  async listAliases(r: Requester, keyId: string | undefined, limit: number, cursor?: AliasCursor) {
    if (keyId !== undefined) {
      const arn = await this.guard(r, keyId, 'kms:DescribeKey');
      // Precondition: a cursor of one key's aliases resumes that key's listing only.
      if (cursor !== undefined && cursor.keyArn !== arn) throw new InvalidPageTokenError();
      const out = await scan({
        fetch: (marker) => this.admin.aliasPage(SOURCE_PAGE, marker, arn),
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
        known = this.access.decide(r.caller, { keyId: target, action: 'kms:DescribeKey' }).then(
          (d) => (d.decision.allowed ? d.keyArn : undefined),
          () => undefined,
        );
        visible.set(target, known);
      }
      return known;
    };
    const out = await scan({
      fetch: (marker) => this.admin.aliasPage(SOURCE_PAGE, marker),
      cursor,
      limit,
      keep: async (a: AliasInfo) => {
        const arn = a.targetKeyId ? await arnIfVisible(a.targetKeyId) : undefined;
        return arn ? { name: a.name, keyId: arn } : undefined;
      },
    });
    return { aliases: out.items, ...(out.next ? { next: out.next } : {}) };
  }

  /**
   * For whoami: each decision, with the statement or grant behind it. Precondition: the caller may
   * see the key, by the rule of GET /v1/keys (it administers the key, uses it by the policy or a
   * grant, or may describe it); otherwise AccessDenied, as the key routes answer, naming neither
   * the key's ARN nor anything of its policy or grants. A key that does not exist is KeyNotFound,
   * as on the key routes (the key is resolved the same way, before any decision).
   */
  async explain(r: Requester, keyId: string, actions: readonly string[], context?: EncryptionContext) {
    const refused = () =>
      new DomainError(
        'AccessDenied',
        `${normalisePrincipal(r.caller.arn)} may not describe the key ${keyId}: it neither administers nor uses it, and may not kms:DescribeKey on it.`,
      );
    // A key that does not exist is answered as one the caller may not see, as the key routes do.
    const found = await this.access.decide(r.caller, { keyId, action: 'kms:DescribeKey' }).catch((error) => {
      if (!isKeyNotFound(error)) throw error;
      r.record({ action: 'kms:DescribeKey', keyArn: keyId, allowed: false, reason: 'implicit-deny' });
      throw refused();
    });
    const { keyArn, decision: describe } = found;
    const roles = await this.rolesOfCaller(r.caller, keyArn);
    if (!roles.administer && !roles.use && !roles.describe) {
      r.record(auditDecision('kms:DescribeKey', keyArn, describe));
      throw refused();
    }
    const results = [];
    for (const action of actions) {
      const { decision } = await this.access.decide(r.caller, { keyId: keyArn, action, context });
      results.push({ action, decision: auditDecision(action, keyArn, decision), raw: decision });
    }
    const grants = await this.access.grantsOf(r.caller, keyArn);
    return { keyArn, results, grants };
  }
}
