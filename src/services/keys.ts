import { authorize, grantNarrows } from '../core/authz.js';
import { contextProblems, type EncryptionContext } from '../core/context.js';
import { DomainError, ValidationError } from '../core/errors.js';
import { type PolicyRoles, policyDocumentProblem, rolesKeyPolicy, rolesOf } from '../core/key-policy.js';
import { isPrincipalArn, normalisePrincipal } from '../core/principal.js';
import { parseJsonStrict } from '../core/safe-json.js';
import type { AuditDecision, GrantInfo, KeyAdmin, KeyDetails, NewGrant } from '../ports.js';
import { AccessControl, accessDenied, asGrantLike, auditDecision, type Caller } from './access.js';

/** Who is asking, and where their authorization decisions are recorded. */
export interface Requester {
  caller: Caller;
  record(decision: AuditDecision): void;
}

export const DEFAULT_DELETION_WINDOW_DAYS = 30;
export const DEFAULT_ROTATION_PERIOD_DAYS = 365;
const MAX_POLICY_BYTES = 32_768;

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

const USE_ACTIONS = ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey', 'kms:ReEncryptFrom'];

/**
 * The principals a policy document lets both manage the key (PutKeyPolicy) and use it: every
 * principal its Allow statements name, and anyone at all for a `*` principal.
 */
function principalsWithBothRoles(text: string, keyArn: string, accountId: string): string[] {
  let doc: unknown;
  try {
    doc = parseJsonStrict(text);
  } catch {
    return [];
  }
  const named = new Set<string>([`arn:aws:iam::${accountId}:user/any-principal`]);
  const statements = (doc as { Statement?: unknown }).Statement;
  for (const st of Array.isArray(statements) ? statements : [statements]) {
    const aws = (st as { Principal?: { AWS?: unknown } } | undefined)?.Principal?.AWS;
    for (const p of Array.isArray(aws) ? aws : [aws])
      if (typeof p === 'string' && isPrincipalArn(p)) named.add(p);
  }
  const can = (principal: string, action: string) =>
    authorize(doc, [], { principal, action, keyArn, keyAccountId: accountId, grantIsForAWSResource: false })
      .allowed;
  return [...named].filter((p) => can(p, 'kms:PutKeyPolicy') && USE_ACTIONS.some((a) => can(p, a)));
}

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

/**
 * Key administration for IAM callers: every use case decides the caller's right with the key's
 * policy and grants, then acts with the service's own KMS identity.
 */
export class KeyService {
  constructor(
    private readonly admin: KeyAdmin,
    private readonly access: AccessControl,
    private readonly accountId: string,
  ) {}

  private guard(r: Requester, keyId: string, action: string): Promise<string> {
    return this.access.require(r.caller, { keyId, action }, r.record);
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
    const alias = input.alias === undefined ? undefined : aliasName(input.alias);
    if (alias !== undefined && (await this.aliasTarget(alias)) !== undefined)
      throw new DomainError('AlreadyExists', `The alias ${alias} already exists.`);
    const policy = rolesKeyPolicy({ accountId: this.accountId, administrators, users });
    const key = await this.admin.createKey({
      policy: JSON.stringify(policy),
      description: input.description ?? '',
      tags: input.tags ?? {},
    });
    r.record({ action: 'kms:CreateKey', keyArn: key.arn, allowed: true, reason: 'any-caller' });
    const rotation = input.rotation ?? { enabled: true };
    try {
      if (rotation.enabled) {
        await this.admin.enableRotation(key.arn, rotation.periodInDays ?? DEFAULT_ROTATION_PERIOD_DAYS);
      }
      if (alias !== undefined) await this.admin.createAlias(alias, key.arn);
    } catch (error) {
      // A key half set up (the alias taken meanwhile, rotation refused) must not linger unused.
      await this.admin.scheduleDeletion(key.arn, 7).catch(() => undefined);
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

  /** The keys the caller may describe (administers or uses), one KMS page at a time. */
  async list(r: Requester, limit: number, nextToken?: string) {
    const page = await this.admin.listKeys(limit, nextToken);
    const keys = [];
    for (const k of page.items) {
      const roles = await this.rolesOfCaller(r.caller, k.arn).catch(() => undefined);
      if (!roles || (!roles.administer && !roles.use && !roles.describe)) continue;
      const d = await this.admin.describeKey(k.arn).catch(() => undefined);
      if (!d) continue;
      keys.push({ ...keyView(d), access: { administer: roles.administer, use: roles.use } });
    }
    return { keys, ...(page.nextToken ? { nextToken: page.nextToken } : {}) };
  }

  /** What the caller is to a key: administrator, user, or one who may at least describe it. */
  async rolesOfCaller(caller: Caller, keyArn: string) {
    const can = async (action: string) =>
      (await this.access.decide(caller, { keyId: keyArn, action })).decision.allowed;
    const grants = await this.access.grantsOf(caller, keyArn);
    const [administer, encrypt, decrypt, describe] = await Promise.all([
      can('kms:PutKeyPolicy'),
      can('kms:Encrypt'),
      can('kms:Decrypt'),
      can('kms:DescribeKey'),
    ]);
    const usingGrant = grants.some((g) => g.operations.some((op) => op !== 'DescribeKey'));
    return { administer, use: encrypt || decrypt || usingGrant, describe };
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
    return { key: keyView(await this.admin.describeKey(arn)) };
  }

  async cancelDeletion(r: Requester, keyId: string) {
    const arn = await this.guard(r, keyId, 'kms:CancelKeyDeletion');
    await this.admin.cancelDeletion(arn);
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

  async rotations(r: Requester, keyId: string, limit: number, nextToken?: string) {
    const arn = await this.guard(r, keyId, 'kms:ListKeyRotations');
    const page = await this.admin.rotations(arn, limit, nextToken);
    return {
      keyId: arn,
      rotations: page.items.map((m) => ({
        ...(m.keyMaterialId ? { keyMaterialId: m.keyMaterialId } : {}),
        current: m.current,
        ...(m.rotationType ? { rotationType: m.rotationType } : {}),
        ...(m.rotationDate ? { rotationDate: m.rotationDate.toISOString() } : {}),
      })),
      ...(page.nextToken ? { nextToken: page.nextToken } : {}),
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
    const mixed = principalsWithBothRoles(text, arn, this.accountId);
    if (mixed.length > 0)
      throw new DomainError(
        'SeparationOfDuties',
        `The policy lets ${mixed.join(', ')} both manage and use the key; keep administrators and users apart.`,
      );
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
    const { keyArn: arn, decision } = await this.access.decide(r.caller, {
      keyId,
      action: 'kms:CreateGrant',
    });
    r.record(auditDecision('kms:CreateGrant', arn, decision));
    if (!decision.allowed) throw accessDenied(r.caller, 'kms:CreateGrant', arn, decision);
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
    // Separation of duties: who manages the key does not use it, not even through a grant.
    if (operations.some((op) => op !== 'DescribeKey') && (await this.administers(grantee as string, arn)))
      throw new DomainError(
        'SeparationOfDuties',
        `${grantee} administers the key and may not be granted its cryptographic operations.`,
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

  /** Whether a principal may manage the key (put its policy): an administrator. */
  private async administers(principal: string, keyArn: string): Promise<boolean> {
    return (await this.access.decide({ arn: principal }, { keyId: keyArn, action: 'kms:PutKeyPolicy' }))
      .decision.allowed;
  }

  async listGrants(r: Requester, keyId: string, limit: number, nextToken?: string) {
    const arn = await this.guard(r, keyId, 'kms:ListGrants');
    const page = await this.admin.listGrants(arn, limit, nextToken);
    return {
      keyId: arn,
      grants: page.items.map(grantView),
      ...(page.nextToken ? { nextToken: page.nextToken } : {}),
    };
  }

  async revokeGrant(r: Requester, keyId: string, grantId: string) {
    const arn = await this.guard(r, keyId, 'kms:RevokeGrant');
    await this.admin.revokeGrant(arn, grantId);
    this.access.invalidate(arn);
    return { keyId: arn, grantId, revoked: true };
  }

  private async aliasTarget(alias: string): Promise<string | undefined> {
    return (await this.admin.aliases()).find((a) => a.name === alias)?.targetKeyId;
  }

  /** Creates the alias, or points it at another key; the caller must administer every key involved. */
  async putAlias(r: Requester, name: string, keyId: string) {
    const alias = aliasName(name);
    const current = await this.aliasTarget(alias);
    if (current === undefined) {
      const arn = await this.guard(r, keyId, 'kms:CreateAlias');
      await this.admin.createAlias(alias, arn);
      this.access.invalidateNames();
      return { alias, keyId: arn, created: true };
    }
    await this.guard(r, current, 'kms:UpdateAlias');
    const arn = await this.guard(r, keyId, 'kms:UpdateAlias');
    await this.admin.updateAlias(alias, arn);
    this.access.invalidateNames();
    return { alias, keyId: arn, created: false };
  }

  async deleteAlias(r: Requester, name: string) {
    const alias = aliasName(name);
    const current = await this.aliasTarget(alias);
    if (current === undefined) throw new DomainError('NotFound', `The alias ${alias} does not exist.`);
    const arn = await this.guard(r, current, 'kms:DeleteAlias');
    await this.admin.deleteAlias(alias);
    this.access.invalidateNames();
    return { alias, keyId: arn, deleted: true };
  }

  /** Aliases of the keys the caller may describe, or of one key. */
  async listAliases(r: Requester, keyId?: string) {
    if (keyId !== undefined) {
      const arn = await this.guard(r, keyId, 'kms:DescribeKey');
      return { aliases: (await this.admin.aliases(arn)).map((a) => ({ name: a.name, keyId: arn })) };
    }
    const all = await this.admin.aliases();
    const visible = new Map<string, string | undefined>();
    for (const a of all) {
      if (!a.targetKeyId || visible.has(a.targetKeyId)) continue;
      const d = await this.access
        .decide(r.caller, { keyId: a.targetKeyId, action: 'kms:DescribeKey' })
        .catch(() => undefined);
      visible.set(a.targetKeyId, d?.decision.allowed ? d.keyArn : undefined);
    }
    return {
      aliases: all
        .filter((a) => a.targetKeyId && visible.get(a.targetKeyId))
        .map((a) => ({ name: a.name, keyId: visible.get(a.targetKeyId as string) as string })),
    };
  }

  /**
   * For whoami: each decision, with the statement or grant behind it. Precondition: the caller may
   * see the key, by the rule of GET /v1/keys (it administers the key, uses it by the policy or a
   * grant, or may describe it); otherwise AccessDenied, as the key routes answer, naming neither
   * the key's ARN nor anything of its policy or grants. A key that does not exist is KeyNotFound,
   * as on the key routes (the key is resolved the same way, before any decision).
   */
  async explain(r: Requester, keyId: string, actions: readonly string[], context?: EncryptionContext) {
    const { keyArn, decision: describe } = await this.access.decide(r.caller, {
      keyId,
      action: 'kms:DescribeKey',
    });
    const roles = await this.rolesOfCaller(r.caller, keyArn);
    if (!roles.administer && !roles.use && !roles.describe) {
      r.record(auditDecision('kms:DescribeKey', keyArn, describe));
      throw new DomainError(
        'AccessDenied',
        `${normalisePrincipal(r.caller.arn)} may not describe the key ${keyId}: it neither administers nor uses it, and may not kms:DescribeKey on it.`,
      );
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
