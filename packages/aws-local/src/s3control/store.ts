import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-file.js';
import type { JobRecord } from './job.js';

/**
 * The jobs, one file each under `<dataDir>/s3control/jobs/<id>.json`, written atomically: a
 * restarted stack still describes every job, and finds where each run stood at its last save.
 */
export class JobStore {
  readonly jobs = new Map<string, JobRecord>();
  private readonly dir: string;
  private closed = false;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 's3control', 'jobs');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(this.dir)) {
      if (!/^[0-9a-f-]{36}\.json$/.test(name)) continue;
      const job = JSON.parse(readFileSync(join(this.dir, name), 'utf8')) as JobRecord;
      this.jobs.set(job.JobId, job);
    }
  }

  get(id: string): JobRecord | undefined {
    return this.jobs.get(id);
  }

  /** Saves the job as it is now. */
  save(job: JobRecord): void {
    if (this.closed) return;
    this.jobs.set(job.JobId, job);
    writeFileAtomic(join(this.dir, `${job.JobId}.json`), JSON.stringify(job));
  }

  /** The emulator stopped: later saves (a task that outlived the stop) are dropped. */
  close(): void {
    this.closed = true;
  }

  has(id: string): boolean {
    return this.jobs.has(id) || existsSync(join(this.dir, `${id}.json`));
  }
}
