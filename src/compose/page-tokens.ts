import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import { PageTokens } from '../core/page-token.js';

export interface PageTokenOptions {
  /** The clock of the tokens' expiry; the system's by default. */
  now?: (() => Date) | undefined;
  /** The secret when none is configured; by default one made for this process only. */
  fallbackSecret?: () => Uint8Array;
}

/**
 * The listings' page tokens under the configured secret. The configuration requires it on
 * Lambda; elsewhere (a bundle run by hand) an unset secret is one made for this process only,
 * whose tokens no other instance opens. The local stack keeps one in its data dir instead.
 */
export function pageTokensFor(config: Config, options: PageTokenOptions = {}): PageTokens {
  const secret = config.pageTokenSecret ?? (options.fallbackSecret ?? (() => randomBytes(32)))();
  return new PageTokens(secret, options.now ? { now: options.now } : {});
}
