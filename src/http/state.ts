import { accountOf, normalisePrincipal } from '@eaas/aws-rules';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { DomainError } from '../core/errors.js';
import { isCognitoId, type Person } from '../core/person.js';
import type { AuditDecision } from '../ports.js';

/** What one request carries through the middleware: who, which request, and what to audit. */
export interface HttpState {
  requestId: string;
  /** The caller for authorization: an assumed-role session normalised to its role. */
  principal: string;
  /** The caller as authenticated. */
  callerArn: string;
  accountId: string;
  /** A person signed in through the identity pool (authenticated Cognito identity); absent otherwise. */
  person?: Person | undefined;
  startedAt: number;
  audit: {
    action: string;
    keyArn?: string;
    contextKeys?: string[];
    items?: { total: number; failed: number };
    /** Signing: the message type as the caller sent it (RAW unless it sent a digest). */
    messageType?: string;
    /** Signing and MACs: the algorithm used. */
    algorithm?: string;
    /** What else the record must say, e.g. that a content key was disclosed. Never a secret. */
    reason?: string;
    /** Every authorization decision taken for the request. */
    decisions: AuditDecision[];
  };
}

/** Reads the caller from the API Gateway event; API Gateway's AWS_IAM authorization has verified it. */
export function stateFromEvent(event: APIGatewayProxyEvent, now: number): HttpState {
  const identity = event.requestContext?.identity;
  const requestId = event.requestContext?.requestId ?? 'unknown';
  const callerArn = identity?.userArn ?? '';
  // Precondition: the request was authenticated with IAM; without a principal nothing is allowed.
  if (!callerArn) {
    throw new DomainError(
      'AccessDenied',
      'The request carries no IAM identity; this API requires AWS_IAM (SigV4) authorization.',
    );
  }
  const person = personFromIdentity(identity);
  return {
    requestId,
    principal: normalisePrincipal(callerArn),
    callerArn,
    accountId: identity?.accountId ?? accountOf(callerArn) ?? '',
    ...(person ? { person } : {}),
    startedAt: now,
    audit: { action: `${event.httpMethod} ${event.resource}`, decisions: [] },
  };
}

/**
 * The person API Gateway names for identity-pool credentials: only an authenticated identity
 * with well-formed ids (`<region>:<uuid>`). An authenticated identity whose ids are not is
 * refused: its documents could be put in no space.
 */
function personFromIdentity(identity: APIGatewayProxyEvent['requestContext']['identity'] | undefined) {
  // Guest (unauthenticated) identities are off in the template's identity pool; were one ever to
  // arrive, it would be no person and no IAM caller of the operators' kind: refused.
  if (identity?.cognitoAuthenticationType === 'unauthenticated')
    throw new DomainError('AccessDenied', 'Guest (unauthenticated) Cognito identities may not use this API.');
  if (identity?.cognitoAuthenticationType !== 'authenticated') return undefined;
  const { cognitoIdentityId: identityId, cognitoIdentityPoolId: identityPoolId } = identity;
  if (!isCognitoId(identityId) || !isCognitoId(identityPoolId))
    throw new DomainError(
      'AccessDenied',
      'The request carries a Cognito identity whose ids are not <region>:<uuid>.',
    );
  const person: Person = {
    identityId,
    identityPoolId,
    provider: identity.cognitoAuthenticationProvider ?? '',
  };
  return person;
}
