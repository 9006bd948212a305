import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/**
 * The `eaas` command line's start-up: `eaas --version` and `eaas --help` spawned as a person runs
 * them (the built bin, packages/client/bin/eaas.js, on this Node), the median of N runs, against
 * `/usr/bin/aws --version` measured in the same run. Nothing talks to the API: this is the cost
 * of loading the program (the AWS SDK and the progress bar load only when a command needs them).
 */

export interface StartupRow {
  name: string;
  runs: number;
  medianMs: number;
  minMs: number;
  /** medianMs over the aws CLI's (baseline). */
  vsBaseline: number | undefined;
}

const AWS = '/usr/bin/aws';
const BIN = 'packages/client/bin/eaas.js';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function time(command: string, args: string[], runs: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const t0 = performance.now();
    const run = spawnSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const ms = performance.now() - t0;
    if (run.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${run.status}: ${run.stderr}`);
    // The first run warms the file cache; it is not counted.
    if (i > 0) out.push(ms);
  }
  return out;
}

export async function benchCliStartup(
  runs = Number(process.env.BENCH_CLI_RUNS ?? 15),
): Promise<StartupRow[]> {
  // The bin runs the built client: build it from this checkout's source first.
  execFileSync('npm', ['run', '--silent', 'build', '--workspace', '@eaas/client'], { stdio: 'inherit' });
  const rows: StartupRow[] = [];
  const aws = existsSync(AWS) ? time(AWS, ['--version'], runs) : undefined;
  const baseline = aws ? median(aws) : undefined;
  if (aws && baseline !== undefined)
    rows.push({
      name: 'aws --version (baseline)',
      runs,
      medianMs: baseline,
      minMs: Math.min(...aws),
      vsBaseline: 1,
    });
  for (const args of [['--version'], ['--help']]) {
    const ms = time(process.execPath, [BIN, ...args], runs);
    const medianMs = median(ms);
    rows.push({
      name: `eaas ${args.join(' ')}`,
      runs,
      medianMs,
      minMs: Math.min(...ms),
      vsBaseline: baseline === undefined ? undefined : medianMs / baseline,
    });
  }
  console.log(`\nCLI start-up (spawned, median of ${runs} runs; node ${process.version})`);
  console.log('command                    median ms  min ms  vs aws --version');
  for (const r of rows)
    console.log(
      `${r.name.padEnd(26)} ${r.medianMs.toFixed(1).padStart(9)}  ${r.minMs.toFixed(1).padStart(6)}  ${r.vsBaseline === undefined ? '- (no /usr/bin/aws)' : `${r.vsBaseline.toFixed(2)}x`}`,
    );
  return rows;
}
