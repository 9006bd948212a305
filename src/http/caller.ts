import { personConditions } from '../core/person.js';
import type { AccessControl, Caller } from '../services/access.js';
import type { DocumentCaller } from '../services/documents.js';
import type { HttpState } from './state.js';

/**
 * The caller as every authorization decision for the request sees it: its ARN and the condition
 * keys of its session (the Cognito ones, with values for a person), so that key policies' policy
 * variables resolve. The one way a handler names its caller to the services.
 */
export function callerOf(state: HttpState): Caller {
  return { arn: state.callerArn, conditions: personConditions(state.person) };
}

/**
 * The caller of the document routes (objects, uploads, downloads): its guard decides as
 * `callerOf`, and a person's documents are in its space (`core/spaces.ts`).
 */
export function documentCallerOf(access: AccessControl, state: HttpState): DocumentCaller {
  return {
    arn: state.callerArn,
    ...(state.person ? { person: state.person } : {}),
    guard: access.guardFor(callerOf(state), (d) => state.audit.decisions.push(d)),
  };
}
