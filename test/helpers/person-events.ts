import type { APIGatewayProxyEvent } from 'aws-lambda';
import { sampleEvent } from './events.js';

/**
 * API Gateway events for the unit tests of the routes, from the samples in `events/`, as a
 * caller with identity-pool credentials sends them: API Gateway fills `requestContext.identity`
 * with the Cognito identity, the assumed-role session of the pool's authenticated role, and the
 * sign-in (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html).
 */

export const ACCOUNT = '111122223333';
export const PEOPLE_ROLE = `arn:aws:iam::${ACCOUNT}:role/eaas-local-people`;
export const POOL = 'us-east-1:0b9d5c3e-1111-4222-8333-944455566677';
export const PROVIDER = 'cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123';

export interface PersonId {
  identityId: string;
  /** The user pool's `sub` of the person. */
  sub: string;
}

export const personA: PersonId = {
  identityId: 'us-east-1:aaaaaaaa-1111-4111-8111-111111111111',
  sub: 'a-sub',
};
export const personB: PersonId = {
  identityId: 'us-east-1:bbbbbbbb-2222-4222-8222-222222222222',
  sub: 'b-sub',
};

export interface EventInput {
  pathParameters?: Record<string, string>;
  query?: Record<string, string>;
  /** A JSON body, or raw bytes (PUT /v1/objects). */
  body?: Record<string, unknown> | Buffer;
  contentType?: string;
}

/** A sample event with its path, query and body replaced, sent by `person` (or the sample's IAM user). */
export function eventAs(
  name: string,
  person: PersonId | undefined,
  input: EventInput = {},
): APIGatewayProxyEvent {
  const event = sampleEvent(name);
  if (input.pathParameters) {
    event.pathParameters = input.pathParameters;
    let path = event.resource;
    for (const [k, v] of Object.entries(input.pathParameters))
      path = path.replace(new RegExp(`\\{${k}\\+?\\}`), v);
    event.path = path;
  }
  if (input.query !== undefined) {
    event.queryStringParameters = input.query;
    event.multiValueQueryStringParameters = Object.fromEntries(
      Object.entries(input.query).map(([k, v]) => [k, [v]]),
    );
  }
  if (input.body !== undefined) {
    const bytes = Buffer.isBuffer(input.body) ? input.body : Buffer.from(JSON.stringify(input.body));
    event.body = bytes.toString('base64');
    event.isBase64Encoded = true;
    const type = input.contentType ?? (Buffer.isBuffer(input.body) ? 'text/plain' : 'application/json');
    event.headers = { ...event.headers, 'Content-Type': type };
    event.multiValueHeaders = { ...event.multiValueHeaders, 'Content-Type': [type] };
  }
  if (person) {
    const identity = event.requestContext.identity;
    identity.cognitoIdentityId = person.identityId;
    identity.cognitoIdentityPoolId = POOL;
    identity.cognitoAuthenticationType = 'authenticated';
    identity.cognitoAuthenticationProvider = `${PROVIDER},${PROVIDER}:CognitoSignIn:${person.sub}`;
    identity.userArn = `arn:aws:sts::${ACCOUNT}:assumed-role/eaas-local-people/CognitoIdentityCredentials`;
    identity.caller = 'AROAEXAMPLEPEOPLE:CognitoIdentityCredentials';
    identity.user = 'AROAEXAMPLEPEOPLE:CognitoIdentityCredentials';
  }
  return event;
}
