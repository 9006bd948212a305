import type middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { AuditSink } from '../../ports.js';
import type { HttpState } from '../state.js';

/**
 * Emits one audit record per request once its answer is known, and delivers it before the answer;
 * never a body, only names and outcomes.
 */
export function auditTrail(
  sink: AuditSink,
  stateOf: (request: middy.Request<APIGatewayProxyEvent, APIGatewayProxyResult>) => HttpState | undefined,
  now: () => number,
): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  const auditTrailRecord = (request: middy.Request<APIGatewayProxyEvent, APIGatewayProxyResult>): void => {
    const state = stateOf(request);
    const status = request.response?.statusCode ?? 500;
    let errorCode: string | undefined;
    if (status >= 400 && request.response?.body) {
      try {
        errorCode = (JSON.parse(request.response.body) as { error?: string }).error;
      } catch {
        errorCode = undefined;
      }
    }
    sink.record({
      requestId: state?.requestId ?? request.event.requestContext?.requestId ?? 'unknown',
      principal: state?.callerArn ?? request.event.requestContext?.identity?.userArn ?? 'anonymous',
      ...(state?.person
        ? { person: { identityId: state.person.identityId, identityPoolId: state.person.identityPoolId } }
        : {}),
      action: state?.audit.action ?? `${request.event.httpMethod} ${request.event.resource}`,
      // A refused request has no key answer; the key it asked about is in its first decision.
      keyArn: state?.audit.keyArn ?? state?.audit.decisions[0]?.keyArn,
      contextKeys: state?.audit.contextKeys,
      outcome: status < 400 ? 'success' : status === 403 ? 'deny' : 'error',
      errorCode,
      latencyMs: state ? Math.round((now() - state.startedAt) * 1000) / 1000 : 0,
      items: state?.audit.items,
      ...(state?.audit.messageType ? { messageType: state.audit.messageType } : {}),
      ...(state?.audit.algorithm ? { algorithm: state.audit.algorithm } : {}),
      ...(state?.audit.reason && status < 400 ? { reason: state.audit.reason } : {}),
      ...(state && state.audit.decisions.length > 0 ? { decisions: state.audit.decisions } : {}),
    });
  };
  // Delivered before the answer leaves: a Lambda environment may be frozen or ended right after.
  const recordAndFlush = async (request: middy.Request<APIGatewayProxyEvent, APIGatewayProxyResult>) => {
    auditTrailRecord(request);
    await sink.flush?.();
  };
  return { after: recordAndFlush, onError: recordAndFlush };
}
