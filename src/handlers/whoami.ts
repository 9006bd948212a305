import { type ApiHandler, type HttpDeps, lazyHandler, makeApiHandler } from '../http/api.js';
import { KeyId } from '../http/schemas.js';
import { validate } from '../http/validate.js';
import type { Keys } from '../ports.js';
import { whoamiDepsFromConfig } from './deps.js';

export interface WhoAmIDeps extends HttpDeps {
  keys: Keys;
}

/** GET /v1/whoami: the caller as the service sees it, and the key it names. */
export function makeHandler(deps: WhoAmIDeps): ApiHandler {
  return makeApiHandler(
    'whoami',
    {
      async whoAmI({ query, state }) {
        const answer: Record<string, unknown> = {
          principal: state.principal,
          callerArn: state.callerArn,
          accountId: state.accountId,
        };
        if (query.keyId !== undefined) {
          validate(KeyId, query.keyId, 'keyId');
          const key = await deps.keys.describe(query.keyId);
          state.audit.keyArn = key.arn;
          answer.key = { keyId: key.keyId, arn: key.arn, state: key.state };
        }
        return answer;
      },
    },
    deps,
  );
}

/** The Lambda entry point: dependencies from configuration, built once per cold start. */
export const handler = lazyHandler(() => makeHandler(whoamiDepsFromConfig()));
