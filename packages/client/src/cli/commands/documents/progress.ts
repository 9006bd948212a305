import type { CommandContext } from '../../runtime.js';

/**
 * A byte counter on standard error (bytes, rate, ETA), drawn only when standard error is a
 * terminal and --quiet was not given; otherwise nothing is written.
 */
export interface Meter {
  update(done: number): void;
  stop(): void;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** A size for people: 1.5 MiB. */
export function bytesText(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${UNITS[unit]}`;
}

const silent: Meter = { update: () => undefined, stop: () => undefined };

/** A meter whose bar starts at the first update (whose total it then knows). */
export async function byteMeter(
  ctx: CommandContext,
  label: string,
): Promise<Meter & { total(n: number): void }> {
  if (!ctx.progress) return { ...silent, total: () => undefined };
  const { default: progress } = await import('cli-progress');
  const bar = new progress.SingleBar(
    {
      stream: ctx.runtime.stderr,
      format: `${label} {bar} {percentage}% | {done} of {size} | {rate}/s | ETA {eta_formatted}`,
      hideCursor: true,
      etaBuffer: 40,
      fps: 10,
    },
    progress.Presets.shades_classic,
  );
  const begun = Date.now();
  let size: number | undefined;
  const payload = (done: number) => ({
    done: bytesText(done),
    size: bytesText(size ?? 0),
    rate: bytesText(Math.round(done / Math.max(0.001, (Date.now() - begun) / 1000))),
  });
  return {
    total: (n) => {
      if (size !== undefined) return;
      size = n;
      bar.start(Math.max(n, 1), 0, payload(0));
    },
    update: (done) => {
      if (size !== undefined) bar.update(Math.min(done, Math.max(size, 1)), payload(done));
    },
    stop: () => {
      if (size !== undefined) bar.stop();
      size = undefined;
    },
  };
}
