import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyEvent } from 'aws-lambda';

/** A sample API Gateway event from `events/`, with the caller replaced when asked. */
export function sampleEvent(name: string, userArn?: string): APIGatewayProxyEvent {
  const event = JSON.parse(
    readFileSync(join(import.meta.dirname, '..', '..', 'events', `${name}.json`), 'utf8'),
  ) as APIGatewayProxyEvent;
  if (userArn) event.requestContext.identity.userArn = userArn;
  return event;
}
