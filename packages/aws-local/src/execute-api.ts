import { identityVerdict } from '@eaas/aws-rules';
import type { LocalPrincipal } from './identity.js';

/**
 * API Gateway's IAM authorization of a method with AWS_IAM authorization: the caller's
 * identity-based policies must allow `execute-api:Invoke` on the method's ARN,
 * `arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<METHOD>/<path>` (the request's path,
 * without its leading slash)
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-control-access-using-iam-policies-to-invoke-api.html,
 * "Resource format of permissions for executing API in API Gateway"). A refusal is API Gateway's
 * 403 `{"Message": "User: <arn> is not authorized to perform: execute-api:Invoke on resource: <arn>"}`
 * (with "with an explicit deny" when a Deny decided), `x-amzn-ErrorType: AccessDeniedException`.
 */

export interface InvokeRequest {
  region: string;
  accountId: string;
  apiId: string;
  stage: string;
  method: string;
  /** The request's decoded path, with its leading slash. */
  path: string;
}

export type InvokeDecision =
  | { allowed: true; resource: string }
  | { allowed: false; resource: string; message: string };

export function executeApiArn(r: InvokeRequest): string {
  return `arn:aws:execute-api:${r.region}:${r.accountId}:${r.apiId}/${r.stage}/${r.method.toUpperCase()}/${r.path.replace(/^\//, '')}`;
}

export function decideInvoke(principal: LocalPrincipal, r: InvokeRequest): InvokeDecision {
  const resource = executeApiArn(r);
  const verdict = identityVerdict(principal.policies, {
    principal: principal.arn,
    action: 'execute-api:Invoke',
    keyArn: resource,
    keyAccountId: r.accountId,
    conditions: {
      'aws:PrincipalAccount': [r.accountId],
      'aws:RequestedRegion': [r.region],
      'aws:SecureTransport': ['false'],
      ...principal.conditionKeys,
    },
  });
  if (verdict === 'allow') return { allowed: true, resource };
  const why = verdict === 'deny' ? ' with an explicit deny' : '';
  return {
    allowed: false,
    resource,
    message: `User: ${principal.arn} is not authorized to perform: execute-api:Invoke on resource: ${resource}${why}`,
  };
}
