import type { PageOptions } from './key-types.js';
import { pageQuery } from './keys-api.js';
import type { JobView, Requester } from './types.js';

/** What starts a re-encryption job: a source key, or the destination's material older than its last rotation. */
export interface StartJobInput {
  sourceKeyId?: string;
  olderThanRotation?: true;
  destinationKeyId: string;
  prefix?: string;
  dryRun?: boolean;
  concurrency?: number;
  /** `scheduled`, `batch` (S3 Batch Operations, where deployed) or `auto` (the default). */
  engine?: 'scheduled' | 'batch' | 'auto';
}

/** The re-encryption job routes (`/v1/jobs...`): one typed method per route. */
export class JobsApi {
  constructor(private readonly client: Requester) {}

  /** POST /v1/jobs/re-encrypt: starts (or dry-runs) a job; the caller administers its keys. */
  startReEncrypt(input: StartJobInput): Promise<JobView> {
    return this.client.request('POST', '/v1/jobs/re-encrypt', input);
  }

  /** GET /v1/jobs/{id}: a job's state and, once finished, its report (no counts). */
  get(id: string): Promise<JobView> {
    return this.client.request('GET', `/v1/jobs/${encodeURIComponent(id)}`);
  }

  /**
   * POST /v1/jobs/{id}/cancel: stops a job (either engine), with the same right as `get`;
   * objects already re-wrapped stay so. A cancelled job answers as it is; a finished one is
   * refused with 409 `InvalidState`; 409 `ConcurrentModification` (the record kept changing) and
   * 502 `DependencyFailure` (the job's state could not be read) are worth retrying.
   */
  cancel(id: string): Promise<JobView> {
    return this.client.request('POST', `/v1/jobs/${encodeURIComponent(id)}/cancel`);
  }

  /** GET /v1/jobs: the caller's own jobs, newest first, one page. */
  list(page?: PageOptions): Promise<{ jobs: JobView[]; nextToken?: string }> {
    return this.client.request('GET', '/v1/jobs', undefined, pageQuery(page));
  }
}
