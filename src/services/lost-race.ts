import { DomainError } from '../core/errors.js';

/**
 * Runs `attempt` (a read, a change, a write conditioned on what was read; false when another
 * writer won the race) until one is not raced, with a short jittered wait between, and answers
 * Throttled after `attempts`: the loop of every small record changed by compare-and-swap.
 */
export async function untilNotRaced(
  attempt: () => Promise<boolean>,
  what: string,
  attempts: number,
): Promise<void> {
  for (let n = 0; n < attempts; n++) {
    if (await attempt()) return;
    await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(200, 5 * 2 ** n)));
  }
  throw new DomainError('Throttled', `Too many concurrent changes to ${what}; retry.`);
}
