import { describeDecision } from '@eaas/aws-rules';
import { ValidationError } from '../core/errors.js';
import type { Person } from '../core/person.js';
import { SPACE_CONTEXT_KEY, spaceContext, spacePrefixOf } from '../core/spaces.js';
import { type ApiHandler, type HttpDeps, makeApiHandler } from '../http/api.js';
import { callerOf } from '../http/caller.js';
import { contextFromQuery } from '../http/query.js';
import { ROUTES } from '../http/routes.js';
import { type Validator, validate } from '../http/validate.js';
import { VALIDATORS } from '../http/validators/whoami.js';
import type { KeyAdmin } from '../ports.js';
import type { AccessControl } from '../services/access.js';
import { grantView, type KeyService } from '../services/keys.js';

export interface WhoAmIDeps extends HttpDeps {
  keys: KeyService;
  admin: KeyAdmin;
  access: AccessControl;
}

/** Each KMS action a route needs, with the routes that need it. */
const ACTION_ROUTES: ReadonlyMap<string, string[]> = (() => {
  const map = new Map<string, string[]>();
  for (const r of ROUTES)
    for (const a of r.actions ?? []) map.set(a, [...(map.get(a) ?? []), `${r.method} ${r.path}`]);
  return map;
})();

/**
 * GET /v1/whoami: the caller as the service sees it and, for a key, every action of the API's
 * routes with whether the caller may do it and which policy statement or grant decides. A dry
 * run: nothing is done to the key. Only a caller who may see the key (as GET /v1/keys lists it)
 * is told anything of it; any other gets the key routes' 403 AccessDenied.
 */
export function makeHandler(deps: WhoAmIDeps): ApiHandler {
  return makeApiHandler(
    'whoami',
    {
      async whoAmI({ query, state }) {
        const answer: Record<string, unknown> = {
          principal: state.principal,
          callerArn: state.callerArn,
          accountId: state.accountId,
          ...(state.person ? { person: personView(state.person) } : {}),
        };
        if (query.keyId === undefined) {
          if (query.context !== undefined)
            throw new ValidationError('context is only meaningful with keyId.');
          return answer;
        }
        validate(VALIDATORS.keyId as Validator, query.keyId, 'keyId');
        // A person's documents are bound to its space: its decisions are explained with that pair.
        const context = state.person
          ? spaceContext(state.person, contextFromQuery(query.context))
          : contextFromQuery(query.context);
        const caller = callerOf(state);
        // Precondition (in explain): the caller may see the key; nothing of it is read before.
        const explained = await deps.keys.explain(
          { caller, record: (d) => state.audit.decisions.push(d) },
          query.keyId,
          [...ACTION_ROUTES.keys()],
          context,
        );
        const key = await deps.admin.describe(explained.keyArn);
        state.audit.keyArn = key.arn;
        answer.key = { keyId: key.keyId, arn: key.arn, state: key.state };
        answer.access = {
          ...(context ? { context } : {}),
          operations: explained.results.map(({ action, decision, raw }) => {
            const conditional = raw.allowed
              ? []
              : deps.access
                  .conditionalGrants(explained.grants, caller, action, key.arn)
                  .map((g) => g.grantId);
            return {
              route: (ACTION_ROUTES.get(action) ?? []).join(', '),
              action,
              allowed: decision.allowed,
              reason: decision.reason,
              ...(decision.by ? { by: decision.by } : {}),
              explanation:
                describeDecision(raw) +
                (conditional.length > 0
                  ? `; grant ${conditional.join(', ')} would allow it with a matching context`
                  : ''),
              ...(conditional.length > 0 ? { conditionalGrants: conditional } : {}),
            };
          }),
          grants: explained.grants.map(grantView),
        };
        return answer;
      },
    },
    deps,
    VALIDATORS,
  );
}

/** Who a person is, and where its documents are. */
function personView(person: Person) {
  return {
    identityId: person.identityId,
    identityPoolId: person.identityPoolId,
    space: { prefix: spacePrefixOf(person), context: { [SPACE_CONTEXT_KEY]: person.identityId } },
  };
}
