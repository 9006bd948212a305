import { ADMIN_ACTIONS, ADMIN_DENY_SID, ADMIN_SID, adminActionsOf, CRYPTO_ACTIONS } from './key-policy.js';

/**
 * Recognising, in a key policy, the Deny this service writes for its administrators, so that a
 * decision can be explained without it (src/services/access.ts: "allowed but for separation of
 * duties"). Writing and reading the service's policies is key-policy.ts's.
 */

/**
 * The policy without the administrators' Deny this service writes, which denies its administrators
 * every cryptographic operation for separation of duties. Only a statement of exactly the shape
 * `rolesKeyPolicy` writes counts as that Deny: Sid `ADMIN_DENY_SID`, Effect Deny, no Condition and
 * no NotAction/NotPrincipal/NotResource, Resource `*`, Action the set `CRYPTO_ACTIONS`, and
 * Principal `{AWS}` the set of principals of the document's (one) `ADMIN_SID` statement. Every
 * other Deny stays, the same Sid or not, conditional or not: one written by hand says that a
 * principal must not do an action, on some or every request.
 */
export function withoutAdminDeny(policy: unknown): unknown {
  if (policy === null || typeof policy !== 'object' || Array.isArray(policy)) return policy;
  const statements = (policy as { Statement?: unknown }).Statement;
  const list = Array.isArray(statements) ? statements : statements === undefined ? [] : [statements];
  // The administrators' statement counts only in the shape rolesKeyPolicy writes it (an Allow of
  // ADMIN_ACTIONS on *, no condition): a hand-written statement reusing its Sid names no administrators.
  const admins = list.filter(
    (st) =>
      isRecord(st) &&
      st.Sid === ADMIN_SID &&
      Object.keys(st).every((k) => ADMIN_DENY_KEYS.has(k)) &&
      st.Effect === 'Allow' &&
      st.Resource === '*' &&
      // ADMIN_ACTIONS, with the key material actions on a key whose owner brings its material.
      (sameSet(stringList(st.Action), ADMIN_ACTIONS) ||
        sameSet(stringList(st.Action), adminActionsOf({ origin: 'EXTERNAL' }))),
  );
  const administrators = admins.length === 1 ? awsPrincipals(admins[0]) : undefined;
  if (administrators === undefined || administrators.length === 0) return policy;
  const isAdminDeny = (st: unknown) =>
    isRecord(st) &&
    Object.keys(st).every((k) => ADMIN_DENY_KEYS.has(k)) &&
    st.Sid === ADMIN_DENY_SID &&
    st.Effect === 'Deny' &&
    st.Resource === '*' &&
    sameSet(stringList(st.Action), CRYPTO_ACTIONS) &&
    sameSet(awsPrincipals(st), administrators);
  return { ...(policy as Record<string, unknown>), Statement: list.filter((st) => !isAdminDeny(st)) };
}

/** The members of the statements `rolesKeyPolicy` writes for administrators; no other. */
const ADMIN_DENY_KEYS: ReadonlySet<string> = new Set(['Sid', 'Effect', 'Principal', 'Action', 'Resource']);

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** A string or a list of strings as a list; undefined for anything else. */
function stringList(v: unknown): string[] | undefined {
  if (typeof v === 'string') return [v];
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined;
}

/** The AWS principals of a statement whose Principal is `{AWS: ...}` and nothing else. */
function awsPrincipals(st: unknown): string[] | undefined {
  if (!isRecord(st) || !isRecord(st.Principal)) return undefined;
  const keys = Object.keys(st.Principal);
  return keys.length === 1 && keys[0] === 'AWS' ? stringList(st.Principal.AWS) : undefined;
}

function sameSet(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const x = new Set(a);
  const y = new Set(b);
  return x.size === y.size && [...x].every((v) => y.has(v));
}
