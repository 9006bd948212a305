import type { PageTokens } from '../core/page-token.js';
import { type ApiHandler, type HttpDeps, makeApiHandler, type RouteInput } from '../http/api.js';
import { callerOf } from '../http/caller.js';
import { pagerFor } from '../http/paging.js';
import { limitFromQuery } from '../http/query.js';
import { VALIDATORS } from '../http/validators/jobs.js';
import type { JobCaller, RewrapService, StartJob } from '../services/rewrap.js';
import { isStarterCursor } from '../services/rewrap-starters.js';

export interface JobsDeps extends HttpDeps {
  rewrap: RewrapService;
  /** Seals and opens the listing's page tokens. */
  pageTokens: PageTokens;
  /** Called with a new job's id: the local stack runs a tick at once; in AWS the schedule picks it up. */
  onJobCreated?: ((id: string) => void) | undefined;
}

/** POST /v1/jobs/re-encrypt, GET /v1/jobs, GET /v1/jobs/{id} and POST /v1/jobs/{id}/cancel. */
export function makeHandler(deps: JobsDeps): ApiHandler {
  const { rewrap } = deps;
  const jobCaller = ({ state }: RouteInput): JobCaller => ({
    ...callerOf(state),
    ...(state.person ? { person: state.person } : {}),
    record: (d) => state.audit.decisions.push(d),
  });
  return makeApiHandler(
    'jobs',
    {
      async startReEncryptJob(input) {
        const view = await rewrap.start(jobCaller(input), input.body as unknown as StartJob);
        input.state.audit.keyArn = view.destinationKeyId;
        deps.onJobCreated?.(view.id);
        return view;
      },

      async listJobs(input) {
        // A person's tokens are its own (every person shares one role).
        const space = input.state.person?.identityId;
        const page = pagerFor(deps.pageTokens, input, 'listJobs', space ? { space } : {}, isStarterCursor);
        return page.answer(await rewrap.list(jobCaller(input), limitFromQuery(input.query), page.cursor));
      },

      async getJob(input) {
        const view = await rewrap.status(jobCaller(input), input.pathParameters.id ?? '');
        input.state.audit.keyArn = view.destinationKeyId;
        return view;
      },

      async cancelJob(input) {
        const view = await rewrap.cancel(jobCaller(input), input.pathParameters.id ?? '');
        input.state.audit.keyArn = view.destinationKeyId;
        return view;
      },
    },
    deps,
    VALIDATORS,
  );
}
