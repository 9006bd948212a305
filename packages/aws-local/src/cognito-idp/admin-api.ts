import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { identityVerdict, parseJsonStrict } from '@eaas/aws-rules';
import { acceptBody, type BodyBudget, ClientGoneError } from '../http-server.js';
import type { LocalIdentities } from '../identity.js';
import { authenticateJsonRequest } from '../json-auth.js';
import { checkSigV4Payload, SIGV4_ERROR_TYPES } from '../sigv4.js';
import { type AdminContext, OPERATIONS } from './admin.js';
import { CognitoError } from './errors.js';

/**
 * The `cognito-idp` JSON 1.1 front on `POST /`: authenticate (SigV4, service `cognito-idp`), route
 * by `X-Amz-Target: AWSCognitoIdentityProviderService.<Operation>`, authorize by the caller's IAM
 * policies (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncognitouserpools.html),
 * run.
 */

export const TARGET_PREFIX = 'AWSCognitoIdentityProviderService.';
export const ADMIN_MAX_BODY = 64 * 1024;
const BODY_TIMEOUT_MS = 10_000;

export interface AdminApiOptions {
  identities: LocalIdentities;
  region: string;
  maxSkewSeconds: number;
  budget: BodyBudget;
  context: (require: AdminContext['require']) => AdminContext;
  now: () => Date;
}

export async function handleAdmin(
  req: IncomingMessage,
  options: AdminApiOptions,
  who: { arn?: string; operation?: string },
): Promise<unknown> {
  const arrived = Date.now();
  const { signed, verify, checked, principal } = authenticateJsonRequest(req, {
    service: 'cognito-idp',
    region: options.region,
    now: options.now(),
    maxSkewSeconds: options.maxSkewSeconds,
    identities: options.identities,
    fail: (type, message) => new CognitoError(type, message),
  });
  who.arn = principal.arn;
  const accepted = await acceptBody(req, {
    limit: ADMIN_MAX_BODY,
    budget: options.budget,
    shares: [{ key: checked.accessKeyId, limit: 4 * ADMIN_MAX_BODY }],
    deadline: () => arrived + BODY_TIMEOUT_MS,
  });
  if (!accepted.ok) {
    if (accepted.refusal === 'client-gone') throw new ClientGoneError();
    if (accepted.refusal === 'too-large')
      throw new CognitoError(
        'RequestEntityTooLargeException',
        `Request body is larger than ${ADMIN_MAX_BODY} bytes.`,
      );
    if (accepted.refusal === 'timeout')
      throw new CognitoError('RequestTimeoutException', 'The request body did not arrive in time.');
    throw new CognitoError('TooManyRequestsException', 'Rate exceeded');
  }
  accepted.reservation.release();
  const { body } = accepted;
  const auth = checkSigV4Payload(
    { ...signed, bodySha256: createHash('sha256').update(body).digest('hex') },
    checked,
    verify,
  );
  if (!auth.ok) throw new CognitoError(SIGV4_ERROR_TYPES[auth.failure], auth.message);
  const target = String(req.headers['x-amz-target'] ?? '');
  const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
  who.operation = operation || target;
  const run = Object.hasOwn(OPERATIONS, operation) ? OPERATIONS[operation] : undefined;
  if (!run)
    throw new CognitoError(
      'UnknownOperationException',
      `Unknown operation ${target || '(no X-Amz-Target)'}.`,
    );
  let input: unknown = {};
  if (body.length > 0) {
    try {
      input = parseJsonStrict(body.toString('utf8'));
    } catch {
      throw new CognitoError('SerializationException', 'The request body is not valid JSON.');
    }
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input))
    throw new CognitoError('SerializationException', 'The request body must be a JSON object.');
  let decided = false;
  const ctx = options.context((action, resource) => {
    decided = true;
    const verdict = identityVerdict(principal.policies, {
      principal: principal.arn,
      action,
      keyArn: resource,
      keyAccountId: options.identities.accountId,
    });
    if (verdict !== 'allow')
      throw new CognitoError(
        'AccessDeniedException',
        `User: ${principal.arn} is not authorized to perform: ${action} on resource: ${resource} because ${
          verdict === 'deny'
            ? 'an explicit deny in an identity-based policy'
            : 'no identity-based policy allows the'
        }${verdict === 'deny' ? '' : ` ${action} action`}`,
      );
  });
  const result = await run(input as Record<string, unknown>, ctx);
  // Postcondition: every operation decided the caller's rights before it acted.
  if (!decided) throw new Error(`operation ${operation} answered without an authorization decision`);
  return result;
}
