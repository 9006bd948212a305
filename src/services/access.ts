import {
  type AuthzRequest,
  authorize,
  type Decision,
  type EncryptionContext,
  type GrantLike,
  grantAllows,
  normalisePrincipal,
  parseJsonStrict,
} from '@eaas/aws-rules';
import { withoutAdminDeny } from '../core/admin-deny.js';
import { aliasNameMeant } from '../core/alias-names.js';
import { DomainError } from '../core/errors.js';
import { CRYPTO_ACTIONS, MANAGE_ACTIONS } from '../core/key-policy.js';
import { mayManage } from '../core/separation-of-duties.js';
import type { AccessSource, AuditDecision, GrantInfo } from '../ports.js';
import type { KeyGuard, RequestConditions } from './crypto.js';
import { MAX_CACHE_ENTRIES, TtlCache } from './ttl-cache.js';

/**
 * The API's authorization: before the service calls KMS with its own role, it decides whether the
 * IAM caller may do the operation on the key, from the key's policy (GetKeyPolicy) and the
 * caller's grants (ListGrants filtered by grantee), with the evaluator in `core/authz.ts`.
 *
 * Lookups are cached for `ttlMs` (30 s by default): a changed policy, a revoked grant or a moved
 * alias takes effect within that time on every instance, at once on the instance that made the
 * change. A caller passing grant tokens has its grants read again after a refusal from the cache
 * (at most once a second per caller and key), so a fresh grant works at once.
 *
 * A key policy statement naming the account root delegates to IAM. The service cannot evaluate
 * the caller's IAM policies, so such a statement never allows anything here: callers must be named
 * in the key policy or hold a grant.
 */

export const DEFAULT_ACCESS_TTL_MS = 30_000;
/** How often grant tokens may make one caller's grants on one key be read afresh. */
export const GRANT_TOKEN_REFRESH_MS = 1000;

export interface Caller {
  /** The caller's ARN as authenticated (an assumed-role session stays a session here). */
  arn: string;
  /**
   * The condition keys of the caller's session (`personConditions`: the Cognito identity's), in
   * every decision taken for it, so that policy variables in key policies resolve.
   */
  conditions?: Readonly<Record<string, readonly string[]>> | undefined;
}

export interface AccessRequest {
  keyId: string;
  action: string;
  context?: EncryptionContext | undefined;
  /** Grant tokens the caller passed: the grants cache is skipped. */
  grantTokens?: readonly string[] | undefined;
  /** The request's further condition keys (Sign's kms:MessageType...), from the resolved key. */
  conditions?: RequestConditions | undefined;
}

/** How `require` records its decisions and names the key in a refusal. */
export interface RequireOptions {
  /** Where each decision goes, allowed or not (the audit record of the request). */
  record?: ((decision: AuditDecision) => void) | undefined;
  /**
   * The name a refusal gives the key: by default as the request named it. An alias, when the
   * request is for the key the alias resolved to: that key is for those who may describe it.
   */
  nameKeyAs?: string | undefined;
}

export interface AccessResult {
  keyArn: string;
  decision: Decision;
}

/** A decision in the audit record's terms. */
export function auditDecision(action: string, keyArn: string, d: Decision): AuditDecision {
  const by =
    d.reason === 'grant'
      ? d.grantId
      : d.reason === 'implicit-deny' || d.reason === 'separation-of-duties'
        ? undefined
        : (d.statement.sid ?? `#${d.statement.index}`);
  return { action, keyArn, allowed: d.allowed, reason: d.reason, ...(by !== undefined ? { by } : {}) };
}

export interface AccessControlOptions {
  ttlMs?: number;
  now?: () => number;
}

const CRYPTO = new Set(CRYPTO_ACTIONS.map((a) => a.toLowerCase()));
const isCryptoAction = (action: string) => CRYPTO.has(action.toLowerCase());

export const isKeyNotFound = (error: unknown) => error instanceof DomainError && error.code === 'KeyNotFound';

/**
 * An API caller's request as the evaluator sees it (never a grant for an AWS resource): the one
 * place a caller's decisions are built, its session's condition keys and the request's together.
 */
function requestOf(
  caller: Caller,
  keyArn: string,
  action: string,
  context?: EncryptionContext,
  conditions?: Readonly<Record<string, readonly string[]>>,
): AuthzRequest {
  return {
    principal: caller.arn,
    action,
    keyArn,
    keyAccountId: accountOfKeyArn(keyArn),
    encryptionContext: context,
    grantIsForAWSResource: false,
    ...(caller.conditions || conditions ? { conditions: { ...caller.conditions, ...conditions } } : {}),
  };
}

const accountOfKeyArn = (arn: string) => /^arn:aws[a-z-]*:kms:[^:]*:(\d{12}):/.exec(arn)?.[1] ?? '';

export class AccessControl {
  readonly ttlMs: number;
  private readonly now: () => number;
  private readonly arns: TtlCache<string>;
  private readonly policies: TtlCache<unknown>;
  private readonly grants: TtlCache<GrantInfo[]>;

  constructor(
    private readonly source: AccessSource,
    options: AccessControlOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? DEFAULT_ACCESS_TTL_MS;
    const now = options.now ?? Date.now;
    this.now = now;
    this.arns = new TtlCache(this.ttlMs, now);
    this.policies = new TtlCache(this.ttlMs, now);
    this.grants = new TtlCache(this.ttlMs, now);
  }

  /** The ARN a key id, ARN or alias names (KeyNotFound when none). */
  keyArn(keyId: string): Promise<string> {
    return this.arns.get(keyId, async () => {
      const { arn } = await this.source.describe(keyId);
      // The ARN names the same key for as long: a decision on the resolved key (which looks its
      // ARN up again) does not describe it a second time.
      if (arn !== keyId) void this.arns.get(arn, async () => arn);
      return arn;
    });
  }

  private policy(keyArn: string, fresh = false): Promise<unknown> {
    return this.policies.get(
      keyArn,
      async () => {
        const text = await this.source.keyPolicy(keyArn);
        try {
          return parseJsonStrict(text);
        } catch {
          // A policy the evaluator cannot read allows nothing.
          return undefined;
        }
      },
      fresh,
    );
  }

  /**
   * Decisions for one caller on one key from the key policy as it is now: read afresh (the cache
   * is refreshed, not consulted), then any number of decisions, one per action and encryption
   * context, at no further cost. For checks that must not lean on a cached answer, such as a
   * re-encryption job re-checking its starter before each page. Grants are not read: this is for
   * what only a key policy decides, administration (`kms:PutKeyPolicy` is granted by the key
   * policy alone and is no grant operation:
   * https://docs.aws.amazon.com/kms/latest/APIReference/API_PutKeyPolicy.html) and explicit Deny
   * statements (grants only allow).
   */
  async policyDecisions(
    caller: Caller,
    keyArn: string,
  ): Promise<(action: string, context?: EncryptionContext, only?: 'except-admin-deny') => Decision> {
    const policy = await this.policy(keyArn, true);
    const exceptAdminDeny = withoutAdminDeny(policy);
    return (action, context, only) =>
      authorize(
        only === 'except-admin-deny' ? exceptAdminDeny : policy,
        [],
        requestOf(caller, keyArn, action, context),
      );
  }

  /** The caller's grants on the key: as authenticated, and as its role when it is a role session. */
  async grantsOf(caller: Caller, keyArn: string, fresh = false): Promise<GrantInfo[]> {
    const names = [...new Set([caller.arn, normalisePrincipal(caller.arn)])];
    const lists = await Promise.all(
      names.map((n) => this.grants.get(`${keyArn}\n${n}`, () => this.source.grantsFor(keyArn, n), fresh)),
    );
    return lists.flat();
  }

  /** Decides without throwing; the key must exist. */
  async decide(caller: Caller, req: AccessRequest): Promise<AccessResult> {
    return this.decideOn(caller, await this.keyArn(req.keyId), req);
  }

  /** Decides on the key `keyArn` (the one `req.keyId` names). */
  private async decideOn(caller: Caller, keyArn: string, req: AccessRequest): Promise<AccessResult> {
    const [policy, grants, conditions] = await Promise.all([
      this.policy(keyArn),
      this.grantsOf(caller, keyArn),
      req.conditions?.(keyArn),
    ]);
    const decideWith = (list: readonly GrantInfo[]) =>
      authorize(
        policy,
        list.map(asGrantLike),
        requestOf(caller, keyArn, req.action, req.context, conditions),
      );
    let used = grants;
    let decision = decideWith(used);
    // A caller holding grant tokens may have a grant newer than the cache: read the grants again,
    // at most once a second per caller and key, so that tokens cannot flood ListGrants.
    if (
      decision.reason === 'implicit-deny' &&
      (req.grantTokens?.length ?? 0) > 0 &&
      this.mayRefresh(`${keyArn}\n${caller.arn}`)
    ) {
      used = await this.grantsOf(caller, keyArn, true);
      decision = decideWith(used);
    }
    // Precondition of every cryptographic use through the API: the caller may not manage the key.
    // The policies the service writes deny administrators every cryptographic operation, but a
    // policy put straight in KMS (PutKeyPolicy, CreateKey) can allow both; the API refuses anyway.
    // Judged on the grants the decision was made from (a fresh grant of CreateGrant counts).
    if (decision.allowed && isCryptoAction(req.action) && this.manages(policy, used, caller, keyArn))
      decision = { allowed: false, reason: 'separation-of-duties' };
    return { keyArn, decision };
  }

  /**
   * Whether the caller may manage the key: the key policy may allow it a managing action under
   * some encryption context (KMS's management calls carry none, and a condition on one must not
   * hide an administrator: `mayManage` over-approximates, so it also covers what the evaluator
   * allows), or a grant allows it one (a grant of `CreateGrant` hands the key's use on). The
   * policy's answer is kept per cached policy document and caller: this runs on every allowed
   * cryptographic request.
   */
  private manages(policy: unknown, grants: readonly GrantInfo[], caller: Caller, keyArn: string): boolean {
    const byGrant = grants.some((g) =>
      MANAGE_ACTIONS.some((action) => grantAllows(asGrantLike(g), requestOf(caller, keyArn, action))),
    );
    if (byGrant) return true;
    if (policy === null || typeof policy !== 'object') return mayManage(policy, caller.arn, keyArn);
    let answers = this.managers.get(policy);
    if (!answers) {
      answers = new Map();
      this.managers.set(policy, answers);
    }
    const key = `${keyArn}\n${caller.arn}`;
    let answer = answers.get(key);
    if (answer === undefined) {
      answer = mayManage(policy, caller.arn, keyArn);
      if (answers.size < MAX_CACHE_ENTRIES) answers.set(key, answer);
    }
    return answer;
  }

  /** `mayManage` answers by policy document (as cached) and caller. */
  private readonly managers = new WeakMap<object, Map<string, boolean>>();

  private readonly refreshed = new Map<string, number>();

  private mayRefresh(key: string): boolean {
    const t = this.now();
    const last = this.refreshed.get(key);
    if (last !== undefined && t - last < GRANT_TOKEN_REFRESH_MS) return false;
    if (this.refreshed.size >= MAX_CACHE_ENTRIES) this.refreshed.clear();
    this.refreshed.set(key, t);
    return true;
  }

  /**
   * The ARN a key id, ARN or alias names, for a request of `action` on it. A key that does not
   * exist is refused (and recorded) as one the caller may not do `action` on: which names and ids
   * exist is for those who may describe them.
   */
  async resolve(
    caller: Caller,
    keyId: string,
    action: string,
    options: RequireOptions = {},
  ): Promise<string> {
    try {
      return await this.keyArn(keyId);
    } catch (error) {
      if (!isKeyNotFound(error)) throw error;
      options.record?.({ action, keyArn: keyId, allowed: false, reason: 'implicit-deny' });
      throw accessDenied(caller, action, options.nameKeyAs ?? keyId);
    }
  }

  /**
   * Precondition of every keyed route: the caller may do the action on the key. Records the
   * decision with `options.record`, allowed or not; throws AccessDenied, naming the key as
   * `options.nameKeyAs` (by default as the request named it), when it is not allowed or does not
   * exist. Answers the allowing decision.
   */
  async require(caller: Caller, req: AccessRequest, options: RequireOptions = {}): Promise<AccessResult> {
    const keyArn = await this.resolve(caller, req.keyId, req.action, options);
    const result = await this.decideOn(caller, keyArn, req);
    options.record?.(auditDecision(req.action, keyArn, result.decision));
    if (!result.decision.allowed) throw accessDenied(caller, req.action, options.nameKeyAs ?? req.keyId);
    return result;
  }

  /** A KeyGuard for one request: decisions go to `record`; grant tokens skip the grants cache. */
  guardFor(
    caller: Caller,
    record: (decision: AuditDecision) => void,
    grantTokens?: readonly string[],
  ): KeyGuard {
    return async (keyId, action, context, conditions) =>
      (await this.require(caller, { keyId, action, context, grantTokens, conditions }, { record })).keyArn;
  }

  /** Forgets what is cached about a key, after this instance changed its policy, grants or aliases. */
  invalidate(keyArn?: string): void {
    if (keyArn === undefined) {
      this.arns.deleteWhere(() => true);
      this.policies.deleteWhere(() => true);
      this.grants.deleteWhere(() => true);
      return;
    }
    this.policies.deleteWhere((k) => k === keyArn);
    this.grants.deleteWhere((k) => k.startsWith(`${keyArn}\n`));
  }

  /** Forgets cached alias (and key id) resolutions, after an alias changed. */
  invalidateNames(): void {
    this.arns.deleteWhere(() => true);
  }

  /** The grants that would allow the action with some other encryption context. */
  conditionalGrants(grants: readonly GrantInfo[], caller: Caller, action: string, keyArn: string) {
    return grants.filter((g) => {
      if (!g.constraints) return false;
      return grantAllows(asGrantLike({ ...g, constraints: undefined }), requestOf(caller, keyArn, action));
    });
  }
}

export function asGrantLike(g: GrantInfo): GrantLike {
  return {
    grantId: g.grantId,
    granteePrincipal: g.granteePrincipal,
    operations: g.operations,
    constraints: g.constraints,
  };
}

/**
 * The refusal a caller sees: the key as the caller named it (an alias stays an alias: the key it
 * resolves to, and which statement refused, are for those who may describe the key, through
 * `GET /v1/whoami`, and for the audit record).
 */
export function accessDenied(caller: Caller, action: string, keyNamed: string): DomainError {
  const who = normalisePrincipal(caller.arn);
  // A name that can be no key by its spelling alone: the hint reads the same whether or not the
  // alias exists, and says nothing of which keys there are.
  const meant = aliasNameMeant(keyNamed);
  if (meant !== undefined)
    return new DomainError(
      'AccessDenied',
      `${who} may not ${action} on ${keyNamed}: no key is named so (a key is named by its key id, its ARN or an alias name, which starts with alias/). Did you mean ${meant}?`,
    );
  return new DomainError(
    'AccessDenied',
    `${who} may not ${action} on ${keyNamed}: neither its key policy nor a grant allows it. GET /v1/whoami?keyId=... explains what the caller may do with a key it may describe.`,
  );
}
