import { ROUTES, type Route } from './routes.js';

/**
 * The routes the upload page calls for a person signed in with an account (web/src/api.ts, but
 * the key listings, which only an operator's access keys use: people encrypt with the page's key):
 * what serverless.yml's PeopleRole may invoke, and nothing else (test/unit/deploy-people.test.ts).
 * Named by operationId; methods and paths come from the route table.
 */
export const PAGE_OPERATIONS = [
  'whoAmI',
  'createUpload',
  'getUpload',
  'completeUpload',
  'cancelUpload',
  'listObjects',
  'deleteObject',
  'createDownload',
] as const;

/** The page's routes, in the table's order. */
export const PAGE_ROUTES: readonly Route[] = ROUTES.filter((r) =>
  (PAGE_OPERATIONS as readonly string[]).includes(r.operationId),
);

/**
 * A route as the last part of its `execute-api:Invoke` resource ARN, `<METHOD>/<path>`: each path
 * parameter (`{id}`, `{key+}`) is `*`, which matches any request path there
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-control-access-using-iam-policies-to-invoke-api.html).
 */
export const invokePathOf = (route: Pick<Route, 'method' | 'path'>): string =>
  `${route.method}${route.path.replace(/\{[^}]+\}/g, '*')}`;
