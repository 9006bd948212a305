/**
 * A person signed in through a Cognito identity pool, as API Gateway tells the function
 * (`requestContext.identity.cognito*`, filled for callers with the identity pool's credentials),
 * and the condition keys such a session carries in IAM and KMS decisions
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif:
 * `cognito-identity.amazonaws.com:sub` the identity id, `:aud` the identity pool id, `:amr` how it
 * signed in), so that policy variables such as `${cognito-identity.amazonaws.com:sub}` resolve.
 */

export interface Person {
  /** The identity id, `<region>:<uuid>`: the person's space is named after it. */
  identityId: string;
  /** The identity pool id, `<region>:<uuid>`. */
  identityPoolId: string;
  /** API Gateway's `cognitoAuthenticationProvider`: the provider and the sign-in, comma-separated. */
  provider: string;
}

export const COGNITO_SUB = 'cognito-identity.amazonaws.com:sub';
export const COGNITO_AUD = 'cognito-identity.amazonaws.com:aud';
export const COGNITO_AMR = 'cognito-identity.amazonaws.com:amr';

/** Cognito identity and identity pool ids: `<region>:<uuid>`. */
const COGNITO_ID = /^[a-z]{2}(?:-[a-z]+)+-\d:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const isCognitoId = (id: unknown): id is string => typeof id === 'string' && COGNITO_ID.test(id);

/** The `amr` values of an authenticated identity: `authenticated`, then the provider's entries. */
export function amrOf(person: Person): string[] {
  const entries = person.provider
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return ['authenticated', ...entries];
}

/**
 * The Cognito condition keys of a request: the person's values, or, for any other caller, the
 * keys known but absent (so `Null` and `...IfExists` read them, and a variable naming them has no
 * value: a statement that needs one gives nothing).
 */
export function personConditions(person: Person | undefined): Record<string, string[]> {
  return {
    [COGNITO_SUB]: person ? [person.identityId] : [],
    [COGNITO_AUD]: person ? [person.identityPoolId] : [],
    [COGNITO_AMR]: person ? amrOf(person) : [],
  };
}

/** A person record read back (an upload's or a job's); undefined when it is not one. */
export function personOf(value: unknown): Person | undefined {
  const v = value as Partial<Person> | null;
  if (typeof v !== 'object' || v === null) return undefined;
  if (!isCognitoId(v.identityId) || !isCognitoId(v.identityPoolId) || typeof v.provider !== 'string')
    return undefined;
  return { identityId: v.identityId, identityPoolId: v.identityPoolId, provider: v.provider };
}
