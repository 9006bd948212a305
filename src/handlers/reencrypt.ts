import type { Context, ScheduledEvent } from 'aws-lambda';
import type { RewrapService } from '../services/rewrap.js';

/**
 * The scheduled re-encryption worker (EventBridge, `schedule` in serverless.yml; locally the
 * stack's timer): every unfinished job gets a turn, page by page, until the Lambda is close to its
 * time limit; a job not done by then continues on the next tick from its saved cursor.
 */

export interface ReencryptDeps {
  rewrap: RewrapService;
}

/** Time kept in hand at the end of an invocation: one page and one save must fit in it. */
export const SAFETY_MARGIN_MS = 60_000;

export function makeHandler(deps: ReencryptDeps) {
  return async (
    _event: ScheduledEvent | Record<string, unknown>,
    context?: Pick<Context, 'getRemainingTimeInMillis'>,
  ) => {
    const stop = () => (context ? context.getRemainingTimeInMillis() < SAFETY_MARGIN_MS : false);
    const ran = await deps.rewrap.tick(stop);
    return { ran };
  };
}
