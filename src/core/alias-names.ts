import { normalisePrincipal } from '@eaas/aws-rules';

/**
 * Who may claim which alias name (creating an alias, or pointing one at another key). An alias is
 * a name every caller of the account resolves, so the first to claim `alias/payments-prod` would
 * otherwise decide what other teams encrypt under. The rule:
 *
 * - every IAM user and role of the service's account owns the prefix `alias/<its name>/`
 *   (a session: its role's name), e.g. `alias/myOutsider/payments`. IAM user, group, role and
 *   policy names are unique within an account and not distinguished by case
 *   (CreateUser's `UserName`, CreateRole's `RoleName`: https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/iam/aws.sdk.kotlin.services.iam.model/-create-role-request/role-name.html), so
 *   one principal at most owns a prefix, compared without case. A name holding characters an
 *   alias may not (`+=,.@`) gives no prefix; nor does a principal of another account;
 * - the alias operators (a configured list of principals) may claim any name, e.g. the shared
 *   `alias/payments-prod` a platform team hands out.
 *
 * The same boundary in IAM, for principals who call KMS directly: allow `kms:CreateAlias` on
 * `arn:aws:kms:*:<account>:alias/${aws:username}/*` only.
 */
export interface AliasNameRule {
  /** The service's account: only its principals own a prefix. */
  accountId: string;
  /** Principal ARNs that may claim any alias name (sessions count as their role). */
  operators: readonly string[];
}

const IAM_PRINCIPAL = /^arn:aws[a-z-]*:iam::(\d{12}):(?:user|role)\/(?:[^/]+\/)*([^/]+)$/;

/** `alias/<name>/` for an IAM user or role of `accountId` (or a session of such a role); else undefined. */
export function personalAliasPrefix(callerArn: string, accountId: string): string | undefined {
  const m = IAM_PRINCIPAL.exec(normalisePrincipal(callerArn));
  if (!m || m[1] !== accountId) return undefined;
  const name = m[2] ?? '';
  return /^[A-Za-z0-9_-]{1,128}$/.test(name) ? `alias/${name}/` : undefined;
}

/**
 * Why `callerArn` may not claim `alias` (a full, valid alias name), or undefined when it may.
 * The reason says which names it may use.
 */
export function aliasNameRefusal(alias: string, callerArn: string, rule: AliasNameRule): string | undefined {
  const caller = normalisePrincipal(callerArn);
  if (rule.operators.some((o) => normalisePrincipal(o) === caller)) return undefined;
  const prefix = personalAliasPrefix(caller, rule.accountId);
  if (
    prefix !== undefined &&
    alias.length > prefix.length &&
    alias.slice(0, prefix.length).toLowerCase() === prefix.toLowerCase()
  )
    return undefined;
  const operators = 'other names are given out by the alias operators (EAAS_ALIAS_OPERATORS)';
  return prefix !== undefined
    ? `${caller} may not claim ${alias}: a caller names its aliases under its own prefix ${prefix} (e.g. ${prefix}payments); ${operators}.`
    : `${caller} may not claim ${alias}: it owns no alias prefix (only IAM users and roles of account ${rule.accountId} whose names hold only letters, digits, _ and - own alias/<name>/); ${operators}.`;
}

/** A KMS key id: a UUID, or a multi-Region key's `mrk-` and 32 hex digits. */
const KEY_ID = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/i;

/**
 * `alias/<keyId>` when `keyId` can name no key by its spelling alone (neither a key id, an ARN
 * nor an alias name) but would be an alias name with `alias/` in front: `my-key` for
 * `alias/my-key`. Decided by the spelling only, never by what exists, so a hint built on it
 * reveals nothing about which keys or aliases there are.
 */
export function aliasNameMeant(keyId: string): string | undefined {
  if (keyId.startsWith('alias/') || keyId.startsWith('arn:') || KEY_ID.test(keyId)) return undefined;
  return /^[a-zA-Z0-9/_-]{1,250}$/.test(keyId) ? `alias/${keyId}` : undefined;
}
