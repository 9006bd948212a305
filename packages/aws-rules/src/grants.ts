import { principalNames } from './principal.js';
import type { AuthzRequest } from './request.js';

/**
 * KMS grants: whether a grant allows a request (grantee, operation, encryption-context
 * constraints) and whether a grant made under another stays within it.
 */

export interface GrantLike {
  grantId: string;
  granteePrincipal: string;
  operations: readonly string[];
  constraints?:
    | {
        EncryptionContextSubset?: Readonly<Record<string, string>> | undefined;
        EncryptionContextEquals?: Readonly<Record<string, string>> | undefined;
      }
    | undefined;
}

const CONTEXT_OPERATIONS: ReadonlySet<string> = new Set([
  'Encrypt',
  'Decrypt',
  'ReEncryptFrom',
  'ReEncryptTo',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
]);

/**
 * Cryptographic operations that take no encryption context (those on asymmetric and HMAC keys,
 * and GetPublicKey, which hands out a key's public half): a grant constraint cannot bind them, so
 * a constrained grant does not allow them.
 */
const CONTEXTLESS_CRYPTO_OPERATIONS: ReadonlySet<string> = new Set([
  'Sign',
  'Verify',
  'GenerateMac',
  'VerifyMac',
  'GetPublicKey',
  'DeriveSharedSecret',
]);

/**
 * Whether a grant created under the authority of `parent` (a grant allowing CreateGrant) stays
 * within it, as KMS requires: the same or fewer operations, and constraints at least as strict.
 */
export function grantNarrows(
  parent: GrantLike,
  child: Omit<GrantLike, 'grantId' | 'granteePrincipal'>,
): boolean {
  if (!child.operations.every((op) => parent.operations.includes(op))) return false;
  const pSubset = parent.constraints?.EncryptionContextSubset;
  const pEquals = parent.constraints?.EncryptionContextEquals;
  const cSubset = child.constraints?.EncryptionContextSubset;
  const cEquals = child.constraints?.EncryptionContextEquals;
  // Keys compare without case, as in grantAllows; a constraint holding case twins narrows nothing.
  const contains = (outer: Readonly<Record<string, string>>, inner: Readonly<Record<string, string>>) => {
    const o = byLowerKey(outer);
    const i = byLowerKey(inner);
    return o !== undefined && i !== undefined && [...i].every(([k, v]) => o.get(k) === v);
  };
  if (pEquals) return cEquals !== undefined && contains(cEquals, pEquals) && contains(pEquals, cEquals);
  if (pSubset)
    return (
      (cSubset !== undefined && contains(cSubset, pSubset)) ||
      (cEquals !== undefined && contains(cEquals, pSubset))
    );
  return true;
}

/** Does a grant allow the request? Its grantee, operation and context constraint must all fit. */
export function grantAllows(grant: GrantLike, req: AuthzRequest): boolean {
  if (!principalNames(req.principal).includes(grant.granteePrincipal)) return false;
  const operation = req.action.replace(/^kms:/i, '');
  if (!grant.operations.includes(operation)) return false;
  const subset = grant.constraints?.EncryptionContextSubset;
  const equals = grant.constraints?.EncryptionContextEquals;
  if (subset === undefined && equals === undefined) return true;
  // KMS applies constraints only to the operations that take an encryption context, and "not ...
  // to operations that do not support an encryption context, such as cryptographic operations with
  // asymmetric KMS keys and management operations, such as DescribeKey or RetireGrant"
  // (https://docs.aws.amazon.com/kms/latest/APIReference/API_GrantConstraints.html), while
  // CreateGrant says "You cannot use an encryption context grant constraint for cryptographic
  // operations with asymmetric KMS keys or HMAC KMS keys" (API_CreateGrant, Constraints; the local
  // KMS refuses such a grant). Failing closed: a constrained grant allows the management
  // operations it names (the constraint does not apply to them; CreateGrant hands on only a grant
  // at least as strict, `grantNarrows`) and the cryptographic operations whose context fits, but
  // never a cryptographic operation that carries no context (Sign, Verify, GenerateMac,
  // VerifyMac, GetPublicKey, DeriveSharedSecret...): an owner who meant "only for tenant=acme"
  // did not mean "always".
  if (!CONTEXT_OPERATIONS.has(operation)) return !CONTEXTLESS_CRYPTO_OPERATIONS.has(operation);
  // In a grant constraint the key is not case-sensitive and the value is
  // (https://docs.aws.amazon.com/kms/latest/APIReference/API_GrantConstraints.html).
  // Precondition: a request context holding a key twice, in two cases, matches no constraint,
  // and neither does a constraint holding one (CreateGrant refuses such constraints).
  const ctx = byLowerKey(req.encryptionContext ?? {});
  if (ctx === undefined) return false;
  if (subset !== undefined) {
    const s = byLowerKey(subset);
    if (s === undefined || ![...s].every(([k, v]) => ctx.get(k) === v)) return false;
  }
  if (equals !== undefined) {
    // Equals: the same set of (case-folded) keys, each with the same value; no pair more or less.
    const e = byLowerKey(equals);
    if (e === undefined || e.size !== ctx.size || ![...e].every(([k, v]) => ctx.get(k) === v)) return false;
  }
  return true;
}

/**
 * A context's pairs by lower-cased key, as grant constraints compare keys; undefined when two of
 * its keys differ only in case (such a context matches, and narrows, nothing).
 */
function byLowerKey(context: Readonly<Record<string, string>>): Map<string, string> | undefined {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(context)) {
    const lower = k.toLowerCase();
    if (out.has(lower)) return undefined;
    out.set(lower, v);
  }
  return out;
}

/**
 * Keys of a grant constraint's context that differ from another of its keys only in case (empty
 * when none). Constraint keys are not case-sensitive, so such a constraint is refused at CreateGrant.
 */
export function caseTwinKeys(context: Readonly<Record<string, unknown>>): string[] {
  const seen = new Map<string, string[]>();
  for (const k of Object.keys(context)) {
    const lower = k.toLowerCase();
    seen.set(lower, [...(seen.get(lower) ?? []), k]);
  }
  return [...seen.values()].filter((ks) => ks.length > 1).flat();
}
