import { InvalidPageTokenError, type PageBinding, type PageTokens } from '../core/page-token.js';
import type { RouteInput } from './api.js';

/**
 * A listing's page tokens for one request: the cursor the request's `nextToken` holds (checked to
 * be this caller's, for this listing and these parameters), and the answer with the next cursor
 * sealed into an opaque `nextToken`. Services see cursors only; callers see tokens only.
 */
export interface Pager<C> {
  /** Where this page starts; undefined for the first page. */
  readonly cursor: C | undefined;
  /** The service's answer with its `next` cursor replaced by a `nextToken`. */
  answer<T extends { next?: C | undefined }>(out: T): Omit<T, 'next'> & { nextToken?: string };
}

export function pagerFor<C>(
  tokens: PageTokens,
  input: RouteInput,
  listing: string,
  params: Record<string, string | undefined>,
  isCursor: (value: unknown) => value is C,
): Pager<C> {
  const binding: PageBinding = {
    principal: input.state.principal,
    listing,
    params: Object.fromEntries(
      Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined),
    ),
  };
  const token = input.query.nextToken;
  let cursor: C | undefined;
  if (token !== undefined && token !== '') {
    const opened = tokens.open(binding, token);
    // Precondition: the cursor has this listing's shape (a token of an older layout does not).
    if (!isCursor(opened)) throw new InvalidPageTokenError();
    cursor = opened;
  }
  return {
    cursor,
    answer(out) {
      const { next, ...rest } = out;
      return { ...rest, ...(next !== undefined ? { nextToken: tokens.seal(binding, next) } : {}) };
    },
  };
}
