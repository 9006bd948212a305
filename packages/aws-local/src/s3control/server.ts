import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AuthzRequest, identityVerdict } from '@eaas/aws-rules';
import {
  BodyTimeoutError,
  BodyTooLargeError,
  ClientGoneError,
  closeIfUnread,
  declaredBodyLength,
  readBody,
} from '../http-server.js';
import { type LocalIdentities, type LocalPrincipal, sessionExpired } from '../identity.js';
import { parseXml, type XmlFields, XmlSyntaxError, xmlDocument } from '../s3/xml.js';
import { checkSigV4Headers, checkSigV4Payload, parseQuery } from '../sigv4.js';
import { parseCreateJob } from './create-job.js';
import type { JobEngine } from './engine.js';
import { ControlError, invalidRequest, noSuchJob } from './errors.js';
import { JOB_STATUSES, type JobRecord, type JobStatus, TERMINAL } from './job.js';
import { jobDescriptor, jobListDescriptor, S3CONTROL_NAMESPACE } from './render.js';
import type { JobStore } from './store.js';

/**
 * The REST-XML front of the local S3 Control, for the Batch Operations job API
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_CreateJob.html and its
 * neighbours): `POST /v20180820/jobs` (CreateJob), `GET /v20180820/jobs` (ListJobs),
 * `GET /v20180820/jobs/{id}` (DescribeJob), `POST /v20180820/jobs/{id}/status` (UpdateJobStatus),
 * `POST /v20180820/jobs/{id}/priority` (UpdateJobPriority). SigV4 with the service name `s3`, as
 * the SDK signs S3 Control. The account comes from `x-amz-account-id` or the `<account>.` host
 * prefix the SDK and CLI put in front of the endpoint, and must be the emulator's. A request in
 * absolute form (`POST http://<account>.127.0.0.1:port/...`, sent by a client that uses this
 * server as its HTTP proxy, which is how the AWS CLI reaches it) is served like any other.
 */

const MAX_BODY_BYTES = 256 * 1024;
const BODY_TIMEOUT_MS = 10_000;

export interface ControlServerOptions {
  store: JobStore;
  engine: JobEngine;
  identities: LocalIdentities;
  accountId: string;
  region: string;
  maxSkewSeconds: number;
  /** Principals (by name) whose IAM policies decide; the others act as the account's root user. */
  restricted: ReadonlySet<string>;
  /** Roles a job may name (by ARN): the job runs as that principal. */
  knownRole: (roleArn: string) => boolean;
  now: () => Date;
}

interface Reply {
  status: number;
  body?: string;
}

const ok = (root: string, fields: XmlFields): Reply => ({
  status: 200,
  body: xmlDocument(root, fields, S3CONTROL_NAMESPACE),
});

function authFailure(failure: string, message: string): ControlError {
  switch (failure) {
    case 'MissingAuthentication':
      return new ControlError('AccessDenied', 'Access Denied');
    case 'UnknownAccessKey':
      return new ControlError(
        'InvalidAccessKeyId',
        'The AWS Access Key Id you provided does not exist in our records.',
      );
    case 'ClockSkew':
      return new ControlError(
        'RequestTimeTooSkewed',
        'The difference between the request time and the current time is too large.',
      );
    case 'RequestExpired':
      return new ControlError('AccessDenied', 'Request has expired');
    case 'SignatureMismatch':
      return new ControlError('SignatureDoesNotMatch', message);
    default:
      return new ControlError('AuthorizationHeaderMalformed', message);
  }
}

export function createControlServer(options: ControlServerOptions): Server {
  const { store, engine } = options;
  /** CreateJob's idempotency: ClientRequestToken → JobId, per account. */
  const tokens = new Map<string, string>();
  for (const job of store.jobs.values())
    tokens.set(`${job.AccountId}:${job.spec.ClientRequestToken}`, job.JobId);

  function authorize(
    principal: LocalPrincipal,
    action: string,
    resource: string,
    extra: Partial<AuthzRequest> = {},
  ) {
    const restricted = options.restricted.has(principal.name) || principal.expiresAt !== undefined;
    if (!restricted) return;
    const verdict = identityVerdict(principal.policies as never, {
      principal: principal.arn,
      action,
      keyArn: resource,
      keyAccountId: options.accountId,
      ...extra,
      // The jobs are the account's (the request's x-amz-account-id, checked to be this one), so
      // the resource account is this account, as for the local S3's buckets.
      // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourceaccount
      conditions: { 'aws:ResourceAccount': [options.accountId], ...extra.conditions },
    });
    if (verdict !== 'allow')
      throw new ControlError(
        'AccessDenied',
        `User: ${principal.arn} is not authorized to perform: ${action} on resource: ${resource}`,
      );
  }

  const jobArn = (id: string) => `arn:aws:s3:${options.region}:${options.accountId}:job/${id}`;

  function jobOf(id: string, accountId: string): JobRecord {
    const job = store.get(id);
    if (!job || job.AccountId !== accountId) throw noSuchJob();
    return job;
  }

  async function handle(req: IncomingMessage): Promise<Reply> {
    const url = req.url ?? '/';
    // A proxy-style request names the scheme and host in its target.
    const target = /^https?:\/\//i.test(url) ? url.replace(/^https?:\/\/[^/]*/i, '') || '/' : url;
    const q = target.indexOf('?');
    const rawPath = q < 0 ? target : target.slice(0, q);
    const rawQuery = q < 0 ? '' : target.slice(q + 1);
    const method = req.method ?? 'GET';
    const now = options.now();
    const { identities } = options;
    const verify = {
      service: 's3',
      region: options.region,
      now,
      maxSkewSeconds: options.maxSkewSeconds,
      doubleEncodePath: false,
      unsignedPayloadAllowed: true,
      secretFor: (id: string) => identities.byAccessKeyId(id)?.secretAccessKey,
      sessionTokenValid: (id: string, token: string) => identities.sessionTokenValid(id, token),
    };
    // The signature's headers first: a body is read only for a request that may be genuine.
    const signed = { method, rawPath, rawQuery, headers: req.headers };
    const checked = checkSigV4Headers(signed, verify);
    if (!checked.ok) throw authFailure(checked.failure, checked.message);
    if ((declaredBodyLength(req) ?? 0) > MAX_BODY_BYTES)
      throw invalidRequest('The request body is too large');
    let body: Buffer;
    try {
      body = await readBody(req, MAX_BODY_BYTES, undefined, { timeoutMs: BODY_TIMEOUT_MS });
    } catch (error) {
      if (error instanceof BodyTooLargeError) throw invalidRequest('The request body is too large');
      if (error instanceof BodyTimeoutError)
        throw new ControlError(
          'RequestTimeout',
          'Your socket connection to the server was not read from or written to within the timeout period.',
        );
      throw error;
    }
    const result = checkSigV4Payload(
      { ...signed, bodySha256: createHash('sha256').update(body).digest('hex') },
      checked,
      verify,
    );
    if (!result.ok) throw authFailure(result.failure, result.message);
    const principal = identities.authenticated(result.accessKeyId, result.sessionToken);
    if (!principal)
      throw new ControlError('InvalidToken', 'The provided token is malformed or otherwise invalid.');
    if (sessionExpired(principal, now))
      throw new ControlError('ExpiredToken', 'The provided token has expired.');
    const host = String(req.headers.host ?? '');
    const accountId =
      (req.headers['x-amz-account-id'] as string | undefined) ?? /^(\d{12})\./.exec(host)?.[1] ?? undefined;
    if (accountId === undefined)
      throw invalidRequest('Missing required header for this request: x-amz-account-id');
    if (!/^\d{12}$/.test(accountId)) throw invalidRequest('x-amz-account-id must be a 12-digit account id');
    if (accountId !== options.accountId) throw new ControlError('AccessDenied', 'Access Denied');
    const query = new Map(parseQuery(rawQuery));
    const queryAll = parseQuery(rawQuery);
    const parts = rawPath.split('/').filter((p) => p !== '');
    if (parts[0] !== 'v20180820' || parts[1] !== 'jobs' || parts.length > 4)
      throw new ControlError(
        'NotImplemented',
        'The local S3 Control serves the Batch Operations job API only',
      );
    let id: string | undefined;
    try {
      id = parts[2] === undefined ? undefined : decodeURIComponent(parts[2]);
    } catch {
      throw invalidRequest('The job id is not URL-encoded');
    }
    const sub = parts[3];
    const nowMs = now.getTime();

    if (id === undefined && method === 'POST') {
      // s3:CreateJob is decided once the request is read: its condition keys are the request's
      // operation and priority (s3:RequestJobOperation, s3:RequestJobPriority; CreateJob has no
      // resource), https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html.
      let root: ReturnType<typeof parseXml>;
      try {
        root = parseXml(body.toString('utf8'));
      } catch (error) {
        if (error instanceof XmlSyntaxError)
          throw new ControlError(
            'MalformedXML',
            'The XML you provided was not well-formed or did not validate against our published schema',
          );
        throw error;
      }
      if (root.name !== 'CreateJobRequest')
        throw new ControlError('MalformedXML', 'The root element must be CreateJobRequest');
      const spec = parseCreateJob(root);
      authorize(principal, 's3:CreateJob', '*', {
        conditions: {
          's3:RequestJobOperation': Object.keys(spec.Operation),
          's3:RequestJobPriority': [String(spec.Priority)],
        },
      });
      // The caller passes the role to S3 Batch Operations (iam:PassRole), whose service principal
      // (batchoperations.s3.amazonaws.com, the role's trust policy) is the one it is passed to:
      // https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-iam-role-policies.html.
      authorize(principal, 'iam:PassRole', spec.RoleArn, {
        conditions: { 'iam:PassedToService': ['batchoperations.s3.amazonaws.com'] },
      });
      if (!options.knownRole(spec.RoleArn))
        throw invalidRequest(`The role ${spec.RoleArn} is not a role of the local stack`);
      const tokenKey = `${accountId}:${spec.ClientRequestToken}`;
      const existingId = tokens.get(tokenKey);
      if (existingId !== undefined) {
        const existing = store.get(existingId);
        // The same token again answers the same job; with another request it is refused.
        if (existing && JSON.stringify(existing.spec) === JSON.stringify(spec))
          return ok('CreateJobResult', { JobId: existingId });
        throw new ControlError(
          'IdempotencyException',
          'The ClientRequestToken was used with another request',
        );
      }
      const jobId = randomUUID();
      const job: JobRecord = {
        JobId: jobId,
        JobArn: jobArn(jobId),
        AccountId: accountId,
        spec,
        Status: 'New',
        CreationTime: now.toISOString(),
        FailureReasons: [],
        activeMs: 0,
      };
      store.save(job);
      tokens.set(tokenKey, jobId);
      engine.kick(jobId);
      return ok('CreateJobResult', { JobId: jobId });
    }

    if (id === undefined && method === 'GET') {
      authorize(principal, 's3:ListJobs', '*');
      const statuses = queryAll.filter(([k]) => k === 'jobStatuses').map(([, v]) => v);
      for (const s of statuses)
        if (!(JOB_STATUSES as readonly string[]).includes(s)) throw invalidRequest(`Unknown job status ${s}`);
      const maxRaw = query.get('maxResults');
      const max = maxRaw === undefined ? 1000 : Number(maxRaw);
      if (!Number.isInteger(max) || max < 0 || max > 1000)
        throw invalidRequest('maxResults must be between 0 and 1000');
      const all = [...store.jobs.values()]
        .filter((j) => j.AccountId === accountId && (statuses.length === 0 || statuses.includes(j.Status)))
        // Newest first; the job id breaks ties so that pages are stable.
        .sort((a, b) => b.CreationTime.localeCompare(a.CreationTime) || a.JobId.localeCompare(b.JobId));
      const token = query.get('nextToken');
      let start = 0;
      if (token !== undefined) {
        const after = Buffer.from(token, 'base64url').toString('utf8');
        const i = all.findIndex((j) => `${j.CreationTime}|${j.JobId}` === after);
        if (i < 0) throw invalidRequest('The NextToken is not valid');
        start = i + 1;
      }
      const page = all.slice(start, start + max);
      const last = page[page.length - 1];
      const more = start + max < all.length && last !== undefined;
      return ok('ListJobsResult', {
        NextToken: more ? Buffer.from(`${last.CreationTime}|${last.JobId}`).toString('base64url') : undefined,
        Jobs: { member: page.map((j) => jobListDescriptor(j, nowMs)) },
      });
    }

    if (id !== undefined && sub === undefined && method === 'GET') {
      authorize(principal, 's3:DescribeJob', jobArn(id));
      const job = jobOf(id, accountId);
      return ok('DescribeJobResult', { Job: jobDescriptor(job, nowMs) });
    }

    if (id !== undefined && sub === 'priority' && method === 'POST') {
      authorize(principal, 's3:UpdateJobPriority', jobArn(id));
      const raw = query.get('priority');
      if (raw === undefined || !/^\d{1,10}$/.test(raw) || Number(raw) > 2147483647)
        throw invalidRequest('priority must be between 0 and 2147483647');
      const job = jobOf(id, accountId);
      job.spec.Priority = Number(raw);
      store.save(job);
      return ok('UpdateJobPriorityResult', { JobId: id, Priority: job.spec.Priority });
    }

    if (id !== undefined && sub === 'status' && method === 'POST') {
      authorize(principal, 's3:UpdateJobStatus', jobArn(id));
      const requested = query.get('requestedJobStatus');
      if (requested !== 'Ready' && requested !== 'Cancelled')
        throw invalidRequest('requestedJobStatus must be Ready or Cancelled');
      const reason = query.get('statusUpdateReason');
      if (reason !== undefined && reason.length > 256)
        throw invalidRequest('statusUpdateReason must be at most 256 characters');
      const job = jobOf(id, accountId);
      // API_control_UpdateJobStatus.html: a job goes to Ready only from Suspended (its
      // confirmation), and can be cancelled until it reaches a final status.
      if (
        TERMINAL.has(job.Status) ||
        job.cancelRequested ||
        (requested === 'Ready' && job.Status !== 'Suspended')
      )
        throw new ControlError(
          'JobStatusException',
          `Job ${id} cannot go from ${job.Status} to ${requested}`,
        );
      if (reason !== undefined) job.StatusUpdateReason = reason;
      if (requested === 'Ready') {
        const next: JobStatus = 'Ready';
        job.Status = next;
        job.SuspendedDate = undefined;
        job.SuspendedCause = undefined;
        store.save(job);
        engine.kick(id);
      } else {
        job.cancelRequested = true;
        // A job not yet running ends at once; an Active one finishes its tasks in flight first.
        job.Status = job.Status === 'Active' ? 'Cancelling' : job.Status;
        if (job.Status === 'Suspended') {
          job.Status = 'Cancelled';
          job.TerminationDate = now.toISOString();
        }
        store.save(job);
        if (job.Status !== 'Cancelled') engine.kick(id);
      }
      return ok('UpdateJobStatusResult', {
        JobId: id,
        Status: job.Status,
        StatusUpdateReason: job.StatusUpdateReason,
      });
    }
    throw new ControlError('MethodNotAllowed', 'The specified method is not allowed against this resource.');
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase();
    let reply: Reply;
    try {
      reply = await handle(req);
    } catch (error) {
      if (error instanceof ClientGoneError) {
        res.destroy();
        return;
      }
      const e =
        error instanceof ControlError
          ? error
          : new ControlError(
              'InternalServiceException',
              'We encountered an internal error. Please try again.',
            );
      if (!(error instanceof ControlError))
        console.error(`local S3 Control: internal error in ${req.method}: ${(error as Error)?.message}`);
      closeIfUnread(req, res);
      reply = { status: e.status, body: e.toXml(requestId) };
    }
    const payload = Buffer.from(reply.body ?? '', 'utf8');
    res.writeHead(reply.status, {
      'Content-Type': 'application/xml',
      'Content-Length': payload.length,
      'x-amz-request-id': requestId,
      'x-amz-id-2': requestId,
      Date: options.now().toUTCString(),
    });
    res.end(payload);
  }

  const server = createServer((req, res) => {
    serve(req, res).catch(() => res.destroy());
  });
  server.keepAliveTimeout = 5000;
  return server;
}
