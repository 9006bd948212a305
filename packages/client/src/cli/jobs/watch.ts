import type { JobView } from '../../types.js';
import type { CommandContext } from '../runtime.js';

export const FINISHED: ReadonlySet<string> = new Set([
  'succeeded',
  'completed-with-failures',
  'failed',
  'cancelled',
]);

/**
 * Polls a job until it finishes, every `intervalMs`. With `ctx.progress`, a bar on standard error
 * shows its state and the time it has taken (a job shows no counts: there is no percentage to
 * show until it is done).
 */
export async function watchJob(
  ctx: CommandContext,
  get: () => Promise<JobView>,
  intervalMs: number,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<JobView> {
  // Loaded only when drawn, so that other commands start without it.
  const bar = ctx.progress
    ? new (await import('cli-progress')).default.SingleBar({
        stream: ctx.runtime.stderr as NodeJS.WriteStream,
        format: 'job {id} [{bar}] {state} | {duration_formatted}',
        hideCursor: true,
        clearOnComplete: false,
      })
    : undefined;
  let job = await get();
  bar?.start(1, 0, { id: job.id, state: job.state });
  try {
    while (!FINISHED.has(job.state)) {
      await sleep(intervalMs);
      job = await get();
      bar?.update(0, { state: job.state });
    }
    bar?.update(1, { state: job.state });
    return job;
  } finally {
    bar?.stop();
  }
}
