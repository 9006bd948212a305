import { performance } from 'node:perf_hooks';

export interface Measurement {
  name: string;
  concurrency: number;
  ops: number;
  seconds: number;
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Runs `op` from `concurrency` workers for `durationMs` after a short warm-up; counts errors, never hides them. */
export async function measure(
  name: string,
  op: () => Promise<unknown>,
  { concurrency, durationMs, warmupMs = 500 }: { concurrency: number; durationMs: number; warmupMs?: number },
): Promise<Measurement> {
  const warmUntil = performance.now() + warmupMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < warmUntil) await op();
    }),
  );
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const until = start + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        try {
          await op();
          latencies.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    name,
    concurrency,
    ops: latencies.length,
    seconds,
    opsPerSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    errors,
  };
}

export function table(rows: Measurement[], baseline?: (m: Measurement) => Measurement | undefined): string {
  const header = ['benchmark', 'conc', 'ops/s', 'p50 ms', 'p99 ms', 'errors', 'vs baseline'];
  const lines = rows.map((m) => {
    const base = baseline?.(m);
    return [
      m.name,
      String(m.concurrency),
      m.opsPerSecond.toFixed(0),
      m.p50Ms.toFixed(3),
      m.p99Ms.toFixed(3),
      String(m.errors),
      base && base !== m ? `${(m.opsPerSecond / base.opsPerSecond).toFixed(2)}x` : '-',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...lines.map(fmt)].join('\n');
}
