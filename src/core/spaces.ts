import type { EncryptionContext } from '@eaas/aws-rules';
import { ValidationError } from './errors.js';
import { SPACE_CONTEXT_KEY } from './page-key-policy.js';
import type { Person } from './person.js';

/**
 * Each person's document space: a person signed in through the identity pool names documents
 * relative to its space; the vault keeps them under `people/<identityId>/`, and every document
 * written there binds the context pair `eaas:space` = `<identityId>` (KMS binds it; the S3EC V3
 * header stores it). Who may read a document is not decided here: the page key's policy allows
 * a person's role only when that pair equals `${cognito-identity.amazonaws.com:sub}`
 * (`page-key-policy.ts`), and the service decides with the same evaluator as KMS.
 */

/** The context key the service sets, and no caller may (the page key's policy names it). */
export { SPACE_CONTEXT_KEY } from './page-key-policy.js';

/** Where the spaces are in the vault. */
export const SPACES_PREFIX = 'people/';

/** Where a person's documents are in the vault. */
export const spacePrefixOf = (person: Pick<Person, 'identityId'>): string =>
  `${SPACES_PREFIX}${person.identityId}/`;

/**
 * Precondition of every context a caller gives (any caller, any route): it does not set
 * `eaas:space` (in any case: condition keys are not case-sensitive), which only the service sets.
 */
export function refuseSpacePair(context: EncryptionContext | undefined, path = 'context'): void {
  if (!context) return;
  const key = Object.keys(context).find((k) => k.toLowerCase() === SPACE_CONTEXT_KEY);
  if (key !== undefined)
    throw new ValidationError(
      `Invalid encryption context: ${path}.${key} is set by the service (the pair ${SPACE_CONTEXT_KEY} binds a person's documents to its space); leave it out.`,
      [{ path: `${path}.${key}`, message: `${SPACE_CONTEXT_KEY} is reserved for the service` }],
    );
}

/**
 * Precondition of a write by a caller who is no person (and of the seal of its upload): the name
 * is outside `people/`, which holds only the spaces. Without it, such a caller could take a
 * person's name before the person writes it (the vault is one space of names, and a name held by
 * another's document is refused), though never bind the person's `eaas:space` pair.
 */
export function refuseSpaceName(key: string): void {
  if (key.startsWith(SPACES_PREFIX))
    throw new ValidationError(
      `Object keys starting with ${SPACES_PREFIX} are reserved for the document spaces of people signed in to the upload page.`,
      [{ path: 'key', message: `${SPACES_PREFIX} is reserved for people's document spaces` }],
    );
}

/** The context a document is written with: the caller's, and for a person its space's pair. */
export function spaceContext(person: Person | undefined, context: EncryptionContext | undefined) {
  refuseSpacePair(context);
  return person ? { ...context, [SPACE_CONTEXT_KEY]: person.identityId } : { ...context };
}

/** A name as the caller sees it: relative to its space for a person, as stored otherwise. */
export function nameInSpace(person: Pick<Person, 'identityId'> | undefined, stored: string): string {
  const prefix = person ? spacePrefixOf(person) : '';
  return stored.startsWith(prefix) ? stored.slice(prefix.length) : stored;
}
