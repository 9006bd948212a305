import type { IncomingMessage } from 'node:http';
import type { LocalPrincipal } from '@eaas/aws-local';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import type { Route } from '../src/http/routes.js';
import { matchesBinaryMediaType } from './api-settings.js';

/**
 * What the local gateway hands a function: the REST API proxy event (payload v1) API Gateway
 * builds for a request with AWS_IAM authorization, carrying the caller's identity, and a Lambda
 * context with the integration's deadline.
 */

/** A request that passed the gateway's checks, with its body read and its signature verified. */
export interface ProxyRequest {
  req: IncomingMessage;
  method: string;
  /** The decoded path. */
  path: string;
  rawQuery: string;
  route: Route;
  pathParameters: Record<string, string>;
  body: Buffer;
  requestId: string;
  accountId: string;
  /** The access key id the request was signed with. */
  accessKeyId: string;
  principal: LocalPrincipal;
  requestTimeEpoch: number;
  /** The API's binaryMediaTypes: a body whose Content-Type matches reaches the function base64-encoded. */
  binaryMediaTypes: readonly string[];
}

/** The local API's id and stage, in the event's requestContext and the execute-api ARNs. */
export const LOCAL_API_ID = 'local';
export const LOCAL_STAGE = 'local';

/** A record without a prototype, so names such as `constructor` or `__proto__` are plain keys. */
const bare = <T>(): Record<string, T> => Object.create(null) as Record<string, T>;

function singleValues(headers: IncomingMessage['headers']) {
  const single = bare<string>();
  const multi = bare<string[]>();
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    const values = Array.isArray(v) ? v : [v];
    single[k] = values[values.length - 1] ?? '';
    multi[k] = values;
  }
  return { single, multi };
}

function queryOf(rawQuery: string) {
  if (rawQuery === '') return { single: null, multi: null };
  const params = new URLSearchParams(rawQuery);
  const single = bare<string>();
  const multi = bare<string[]>();
  for (const [k, v] of params) {
    single[k] = v;
    const list = multi[k] ?? [];
    list.push(v);
    multi[k] = list;
  }
  return { single, multi };
}

/** The proxy event of a request, as API Gateway builds it. */
export function proxyEvent(r: ProxyRequest): APIGatewayProxyEvent {
  const { req, method, path, route, body, principal } = r;
  // An IAM user's key names the user (AIDA…); an assumed-role session its role and session
  // (AROA…:<session name>), as API Gateway's $context.identity.caller and .user do.
  const caller = principal.userId ?? principal.accessKeyId.replace(/^AKIA/, 'AIDA');
  // An identity pool's person, as API Gateway tells it for Cognito identity credentials
  // (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html#context-variable-reference,
  // $context.identity.cognito*).
  const cognito = principal.cognito;
  const headers = singleValues(req.headers);
  const query = queryOf(r.rawQuery);
  // A body whose Content-Type is no binary media type reaches Lambda as UTF-8 text: bytes that are
  // not UTF-8 are replaced, as API Gateway does (the reason the API lists `*/*`).
  const binary = matchesBinaryMediaType(r.binaryMediaTypes, req.headers['content-type']);
  return {
    resource: route.path,
    path,
    httpMethod: method,
    headers: headers.single,
    multiValueHeaders: headers.multi,
    queryStringParameters: query.single,
    multiValueQueryStringParameters: query.multi,
    pathParameters: Object.keys(r.pathParameters).length > 0 ? r.pathParameters : null,
    stageVariables: null,
    body: body.length === 0 ? null : binary ? body.toString('base64') : body.toString('utf8'),
    isBase64Encoded: body.length > 0 && binary,
    requestContext: {
      accountId: r.accountId,
      apiId: LOCAL_API_ID,
      authorizer: null,
      protocol: `HTTP/${req.httpVersion}`,
      httpMethod: method,
      path: `/${LOCAL_STAGE}${path}`,
      stage: LOCAL_STAGE,
      requestId: r.requestId,
      requestTimeEpoch: r.requestTimeEpoch,
      resourceId: route.operationId,
      resourcePath: route.path,
      identity: {
        accessKey: r.accessKeyId,
        accountId: r.accountId,
        apiKey: null,
        apiKeyId: null,
        caller,
        clientCert: null,
        cognitoAuthenticationProvider: cognito?.authenticationProvider ?? null,
        cognitoAuthenticationType: cognito ? 'authenticated' : null,
        cognitoIdentityId: cognito?.identityId ?? null,
        cognitoIdentityPoolId: cognito?.identityPoolId ?? null,
        principalOrgId: null,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        user: caller,
        userAgent: req.headers['user-agent'] ?? null,
        userArn: principal.arn,
      },
    },
  };
}

/** The Lambda context of one invocation; `deadline` is a `Date.now()` time. */
export function lambdaContext(functionName: string, requestId: string, deadline: number): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
