import type { S3Client } from '@aws-sdk/client-s3';
import { identityVerdict } from '@eaas/aws-rules';
import type { LocalPrincipal } from '../identity.js';
import { INVENTORY_FORMAT, readInventoryManifest } from './inventory-manifest.js';
import { type JobRecord, type JobStatus, TERMINAL } from './job.js';
import { type BatchFunction, invocationEvent, invokeOnce } from './lambda.js';
import { generateManifest, ManifestError, readCsvManifest } from './manifest.js';
import { writeGeneratedManifest, writeReport } from './reports.js';
import type { JobStore } from './store.js';

/**
 * Runs jobs through the statuses of
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-job-status.html: New →
 * Preparing (the manifest read or generated) → Suspended when confirmation is required, until
 * UpdateJobStatus Ready → Ready → Active (the tasks, `concurrency` invocations at a time) →
 * Completing (the report) → Complete; or Failing → Failed (an unreadable manifest, a role that
 * may not invoke the function, or the task-failure threshold: once at least 1,000 tasks have run,
 * more than 50% of them failed, "Tracking job failure"), or Cancelling → Cancelled (tasks in flight
 * finish, no new one starts). A report is written for a job that ran at least one task, whatever
 * its end ("Completion reports").
 *
 * Restart: a job is saved at each status change and, while Active, at most every
 * `checkpointMs`. On start, jobs that were not in a final status resume where their last save left
 * them, as AWS's jobs outlive any one host: Active jobs go on with the tasks that have no
 * recorded outcome (those that were in flight run again: Batch Operations invokes a task at least
 * once, so functions must be idempotent), New and Preparing prepare again, Suspended ones wait.
 */

export interface EngineOptions {
  store: JobStore;
  functions: Readonly<Record<string, BatchFunction>>;
  /** The job's role as a local principal, or undefined when the stack has no such role. */
  roleFor: (roleArn: string) => LocalPrincipal | undefined;
  /** An S3 client of the local S3 signing as the principal. */
  s3For: (principal: LocalPrincipal) => S3Client;
  concurrency: number;
  /** Attempts of one task (the first and its retries) before it counts failed. */
  taskAttempts: number;
  invocationTimeoutMs: number;
  /** The wait before the first redrive of a task; each next one waits twice as long. */
  retryDelayMs: number;
  /** The failure threshold applies once this many tasks have run (AWS: 1,000). */
  failureThresholdMinTasks: number;
  checkpointMs: number;
  now: () => Date;
  log: (message: string) => void;
}

export class JobEngine {
  private readonly running = new Map<string, Promise<void>>();
  private closed = false;

  constructor(private readonly options: EngineOptions) {}

  /** Resumes every job that was not done when the store was last saved. */
  resumeAll(): void {
    for (const job of this.options.store.jobs.values()) {
      if (TERMINAL.has(job.Status) || job.Status === 'Suspended') continue;
      // The time the process was down was not spent Active.
      job.activeSince = undefined;
      this.kick(job.JobId);
    }
  }

  /** Runs the job from its current status unless it already runs. */
  kick(jobId: string): void {
    if (this.closed || this.running.has(jobId)) return;
    const run = this.drive(jobId)
      .catch((error: unknown) =>
        this.options.log(`local S3 Control: job ${jobId} stopped: ${(error as Error)?.message}`),
      )
      .finally(() => this.running.delete(jobId));
    this.running.set(jobId, run);
  }

  /** Resolves once no job runs (tests wait for a job's end this way). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  /**
   * Stops starting tasks, and waits for those in flight for up to `graceMs`; a job still running
   * then stays as last saved (Active) and resumes on the next start. The store takes no more saves.
   */
  async close(graceMs = 10_000): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([this.idle(), grace]);
    clearTimeout(timer);
    this.options.store.close();
  }

  private set(job: JobRecord, status: JobStatus): void {
    const nowMs = this.options.now().getTime();
    if (job.Status === 'Active' && status !== 'Active' && job.activeSince !== undefined) {
      job.activeMs += nowMs - job.activeSince;
      job.activeSince = undefined;
    }
    if (status === 'Active') job.activeSince = nowMs;
    job.Status = status;
    if (TERMINAL.has(status)) job.TerminationDate = new Date(nowMs).toISOString();
    this.options.store.save(job);
  }

  private fail(job: JobRecord, code: string, reason: string): void {
    job.FailureReasons.push({ FailureCode: code, FailureReason: reason });
    this.set(job, 'Failing');
  }

  private async drive(jobId: string): Promise<void> {
    const job = this.options.store.get(jobId);
    if (!job) return;
    const role = this.options.roleFor(job.spec.RoleArn);
    if (job.Status === 'New' || job.Status === 'Preparing') {
      if (job.cancelRequested) return this.finish(job, role);
      this.set(job, 'Preparing');
      await this.prepare(job, role);
      if ((job.Status as JobStatus) === 'Failing' || job.cancelRequested) return this.finish(job, role);
      if (job.spec.ConfirmationRequired) {
        // batch-ops-job-status.html: a job that requires confirmation waits in Suspended.
        job.SuspendedDate = this.options.now().toISOString();
        job.SuspendedCause = 'AwaitingConfirmation';
        this.set(job, 'Suspended');
        return;
      }
      this.set(job, 'Ready');
    }
    if (job.Status === 'Ready') {
      if (job.cancelRequested) return this.finish(job, role);
      this.set(job, 'Active');
    }
    if (job.Status === 'Active') {
      if (job.activeSince === undefined) job.activeSince = this.options.now().getTime();
      await this.runTasks(job, role);
    }
    await this.finish(job, role);
  }

  private async prepare(job: JobRecord, role: LocalPrincipal | undefined): Promise<void> {
    if (!role)
      return this.fail(
        job,
        'RoleNotFound',
        `The job's role ${job.spec.RoleArn} is not a role of the local stack.`,
      );
    const functionArn = job.spec.Operation.LambdaInvoke.FunctionArn;
    // The role must be allowed to invoke the function (batch-ops-iam-role-policies.html).
    const verdict = identityVerdict(role.policies as never, {
      principal: role.arn,
      action: 'lambda:InvokeFunction',
      keyArn: functionArn,
      keyAccountId: job.AccountId,
    });
    if (verdict !== 'allow')
      return this.fail(
        job,
        'AccessDenied',
        `The job's role may not perform lambda:InvokeFunction on ${functionArn}.`,
      );
    if (!Object.hasOwn(this.options.functions, functionArn))
      return this.fail(job, 'FunctionNotFound', `Function not found: ${functionArn}`);
    const s3 = this.options.s3For(role);
    try {
      const format = job.spec.Manifest?.Spec.Format;
      job.tasks =
        format === undefined
          ? await generateManifest(s3, job)
          : format === INVENTORY_FORMAT
            ? await readInventoryManifest(s3, job)
            : await readCsvManifest(s3, job);
      if (job.spec.ManifestGenerator?.EnableManifestOutput)
        job.GeneratedManifestDescriptor = await writeGeneratedManifest(s3, job, this.options.now());
    } catch (error) {
      job.tasks = undefined;
      if (error instanceof ManifestError) return this.fail(job, 'ManifestReadFailure', error.message);
      return this.fail(
        job,
        'ManifestWriteFailure',
        `Writing the generated manifest failed: ${(error as Error).message}`,
      );
    }
  }

  /** AWS's task-failure threshold, on counts of the tasks that ended (batch-ops-job-status.html). */
  private thresholdExceeded(ran: number, failed: number): boolean {
    return ran >= this.options.failureThresholdMinTasks && failed / ran > 0.5;
  }

  private async runTasks(job: JobRecord, role: LocalPrincipal | undefined): Promise<void> {
    const fn = this.options.functions[job.spec.Operation.LambdaInvoke.FunctionArn];
    const tasks = job.tasks ?? [];
    if (!fn || !role) return;
    const pending = tasks.map((_, i) => i).filter((i) => tasks[i]?.outcome === undefined);
    let next = 0;
    let lastSave = Date.now();
    let interval = this.options.checkpointMs;
    // Counted once here and then as tasks end: the check after each task must not walk them all.
    let ran = 0;
    let failed = 0;
    for (const t of tasks) {
      if (!t.outcome) continue;
      ran += 1;
      if (t.outcome.status === 'failed') failed += 1;
    }
    let stop = false;
    const worker = async () => {
      while (!stop && !this.closed && !job.cancelRequested && next < pending.length) {
        const index = pending[next++] as number;
        const task = tasks[index];
        if (!task) continue;
        const taskId = Buffer.from(`${job.JobId}:${index}`).toString('base64url');
        for (let attempt = 1; ; attempt += 1) {
          const result = await invokeOnce(
            fn,
            invocationEvent(job, task, taskId),
            this.options.invocationTimeoutMs,
          );
          if ('final' in result) {
            task.outcome = result.final;
            break;
          }
          // TemporaryFailure, a throw or a timeout: redriven until the attempts are spent.
          if (attempt >= this.options.taskAttempts) {
            task.outcome = result.retry;
            break;
          }
          // Redriven a little later, each time twice as late, as a throttled function needs.
          await new Promise((resolve) => setTimeout(resolve, this.options.retryDelayMs * 2 ** (attempt - 1)));
          if (this.closed) return;
        }
        ran += 1;
        if (task.outcome?.status === 'failed') failed += 1;
        if (this.thresholdExceeded(ran, failed)) stop = true;
        if (Date.now() - lastSave >= interval) {
          const started = Date.now();
          this.options.store.save(job);
          lastSave = Date.now();
          // A large job's file takes long to write: it is saved less often, at most 5% of the time.
          interval = Math.max(this.options.checkpointMs, 20 * (lastSave - started));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.options.concurrency) }, worker));
    if (this.closed && !stop && !job.cancelRequested) {
      // The process stops: the job stays Active and resumes on the next start.
      this.options.store.save(job);
      return;
    }
    if (stop) {
      this.fail(
        job,
        'TaskFailureThresholdExceeded',
        `More than 50% of the ${ran} tasks run so far failed; the job was stopped.`,
      );
    }
  }

  private async finish(job: JobRecord, role: LocalPrincipal | undefined): Promise<void> {
    if (this.closed && job.Status === 'Active' && !job.cancelRequested) return;
    let end: JobStatus;
    if (job.Status === 'Failing') end = 'Failed';
    else if (job.cancelRequested) {
      this.set(job, 'Cancelling');
      end = 'Cancelled';
    } else {
      this.set(job, 'Completing');
      end = 'Complete';
    }
    const ranAny = (job.tasks ?? []).some((t) => t.outcome);
    if (job.spec.Report.Enabled && ranAny && role) {
      try {
        await writeReport(this.options.s3For(role), job, this.options.now());
      } catch (error) {
        job.FailureReasons.push({
          FailureCode: 'ReportWriteFailure',
          FailureReason: `Writing the completion report failed: ${(error as Error).name}: ${(error as Error).message}`,
        });
        end = 'Failed';
      }
    }
    this.set(job, end);
  }
}
