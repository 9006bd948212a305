import { isPrincipalArn, normalisePrincipal } from '@eaas/aws-rules';
import { DomainError, ValidationError } from '../../core/errors.js';
import { SYMMETRIC } from '../../core/key-kinds.js';
import { InvalidPageTokenError } from '../../core/page-token.js';
import type { AuditDecision, KeyAdmin, KeyDetails, KeyMaterial } from '../../ports.js';
import { type AccessControl, type Caller, isKeyNotFound } from '../access.js';
import type { QuotaLedger } from '../quotas.js';

/**
 * What the key administration use cases share: who is asking, the ports and settings they act
 * with, the guard every keyed use case starts with, and the checks of principals and cursors.
 */

/** Who is asking, and where their authorization decisions are recorded. */
export interface Requester {
  caller: Caller;
  record(decision: AuditDecision): void;
}

/** The ports and settings of key administration. */
export interface KeysContext {
  /** KMS, with the service's own identity. */
  admin: KeyAdmin;
  /** Imported key material (origin EXTERNAL keys); absent: the routes answer UnsupportedOperation. */
  material?: KeyMaterial | undefined;
  /** The caller's rights on keys, decided before the service acts. */
  access: AccessControl;
  /** The service's account: the account root of the policies it writes; who owns alias prefixes. */
  accountId: string;
  /** Per-caller quotas on keys and aliases; none when absent. */
  quotas: QuotaLedger | undefined;
  /** Principals that may claim any alias name; everyone else names aliases under its own prefix. */
  aliasOperators: readonly string[];
  /** The value of SERVICE_TAG on every key this deployment creates; undefined: none set. */
  serviceTag: string | undefined;
  /** The service's roles the key policies it writes name for the cryptographic operations. */
  serviceRoles: readonly string[];
  /** The service's administration roles the key policies name for grants and PutKeyPolicy. */
  adminRoles: readonly string[];
  /** The waits of a retry while a new key's tags reach authorization (tests shorten them). */
  tagPropagationDelaysMs?: readonly number[] | undefined;
}

export const DEFAULT_DELETION_WINDOW_DAYS = 30;
export const DEFAULT_ROTATION_PERIOD_DAYS = 365;
/**
 * The reserved tag of every key the service creates, naming the deployment: the functions' roles
 * may use and manage only keys carrying it (`aws:ResourceTag/eaas:service` in serverless.yml), and
 * no caller can set or remove it (tags beginning with `eaas:` are the service's own).
 */
export const SERVICE_TAG = 'eaas:service';
/** The tag naming who created a key through the API, whose keys quota it counts in. */
export const CREATOR_TAG = 'eaas:created-by';

/**
 * Precondition of every keyed use case: the caller may do `action` on the key. Answers the key's
 * ARN; the refusal names the key as `nameKeyAs` (an alias the caller gave), else as `keyId`.
 */
export async function guard(
  ctx: KeysContext,
  r: Requester,
  keyId: string,
  action: string,
  nameKeyAs?: string,
): Promise<string> {
  return (await ctx.access.require(r.caller, { keyId, action }, { record: r.record, nameKeyAs })).keyArn;
}

/** The key an alias names, or undefined: one DescribeKey, not a listing of every alias of the account. */
export async function aliasTarget(admin: KeyAdmin, alias: string): Promise<string | undefined> {
  try {
    return (await admin.describeKey(alias)).arn;
  } catch (error) {
    if (isKeyNotFound(error)) return undefined;
    throw error;
  }
}

/** IAM principal ARNs of a request field, normalised (a session as its role), without repeats. */
export function principals(list: readonly string[] | undefined, field: string): string[] {
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

/** Precondition of a policy from roles: no principal is both an administrator and a user. */
export function requireSeparateRoles(administrators: readonly string[], users: readonly string[]): void {
  const both = administrators.filter((a) => users.includes(a));
  if (both.length > 0)
    throw new DomainError(
      'SeparationOfDuties',
      `${both.join(', ')} cannot be both an administrator and a user of a key.`,
    );
}

/** A key as the admin routes show it: its state, kind and algorithms, and its material's expiry. */
export function keyView(d: KeyDetails) {
  const kind = d.kind ?? SYMMETRIC;
  return {
    keyId: d.keyId,
    arn: d.arn,
    description: d.description,
    state: d.state,
    createdAt: d.createdAt.toISOString(),
    ...(d.deletionDate ? { deletionDate: d.deletionDate.toISOString() } : {}),
    ...(d.pendingWindowInDays ? { pendingWindowInDays: d.pendingWindowInDays } : {}),
    keySpec: kind.spec,
    keyUsage: kind.usage,
    origin: kind.origin,
    ...(d.encryptionAlgorithms ? { encryptionAlgorithms: d.encryptionAlgorithms } : {}),
    ...(d.signingAlgorithms ? { signingAlgorithms: d.signingAlgorithms } : {}),
    ...(d.macAlgorithms ? { macAlgorithms: d.macAlgorithms } : {}),
    ...(d.expirationModel ? { expirationModel: d.expirationModel } : {}),
    ...(d.validTo ? { validTo: d.validTo.toISOString() } : {}),
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

/** KMS's marker in a cursor, once the cursor is found to be of this key's listing. */
export function markerFor(cursor: KeyMarkerCursor | undefined, keyArn: string): string | undefined {
  // Precondition: a cursor of one key's listing resumes that key's listing only.
  if (cursor !== undefined && cursor.keyArn !== keyArn) throw new InvalidPageTokenError();
  return cursor?.marker;
}
