import { type AdminContext, type Input, pool, poolArn, seconds, text, userType } from './admin-input.js';
import { CognitoError } from './errors.js';
import type { UserRecord } from './store.js';

/**
 * The reading operations of the admin API: ListUsers with its simple filters, and the
 * descriptions of the pool and its app client
 * (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_ListUsers.html,
 * API_DescribeUserPool.html, API_DescribeUserPoolClient.html, API_ListUserPools.html).
 */

/** ListUsers' Filter: `attribute = "value"` or `attribute ^= "prefix"` (API_ListUsers.html). */
function userFilter(filter: string | undefined): (u: UserRecord) => boolean {
  if (filter === undefined) return () => true;
  const m = /^\s*([a-z_]+)\s*(=|\^=)\s*"((?:[^"\\]|\\.)*)"\s*$/.exec(filter);
  if (!m) throw new CognitoError('InvalidParameterException', 'Error while parsing filter.');
  const [, attr, op, quoted] = m as unknown as [string, string, string, string];
  const value = quoted.replace(/\\(.)/g, '$1');
  const field: Record<string, (u: UserRecord) => string | undefined> = {
    username: (u) => u.username,
    email: (u) => u.email,
    sub: (u) => u.sub,
    'cognito:user_status': (u) => u.status,
    status: (u) => (u.enabled ? 'Enabled' : 'Disabled'),
  };
  const get = Object.hasOwn(field, attr) ? field[attr] : undefined;
  if (!get) throw new CognitoError('InvalidParameterException', `Invalid search attribute: ${attr}`);
  return (u) => {
    const v = get(u);
    return v !== undefined && (op === '=' ? v === value : v.startsWith(value));
  };
}

export function listUsers(input: Input, ctx: AdminContext) {
  pool(input, ctx, 'ListUsers');
  const limit = input.Limit ?? 60;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0 || limit > 60)
    throw new CognitoError('InvalidParameterException', 'Limit must be an integer from 0 to 60.');
  const token = text(input, 'PaginationToken', false);
  const start =
    token === undefined ? 0 : Number.parseInt(Buffer.from(token, 'base64url').toString('utf8'), 10);
  if (!Number.isInteger(start) || start < 0)
    throw new CognitoError('InvalidParameterException', 'Invalid pagination token.');
  const matching = ctx.store.users.filter(userFilter(text(input, 'Filter', false, 256)));
  const page = matching.slice(start, start + (limit || 60));
  const next = start + page.length;
  return {
    Users: page.map(userType),
    ...(next < matching.length ? { PaginationToken: Buffer.from(String(next)).toString('base64url') } : {}),
  };
}

export function describeUserPool(input: Input, ctx: AdminContext) {
  pool(input, ctx, 'DescribeUserPool');
  const { store, policy } = ctx;
  return {
    UserPool: {
      Id: store.userPoolId,
      Name: 'eaas-local',
      Arn: poolArn(ctx, store.userPoolId),
      Status: 'Enabled',
      Policies: {
        PasswordPolicy: {
          MinimumLength: policy.minimumLength,
          RequireUppercase: policy.requireUppercase,
          RequireLowercase: policy.requireLowercase,
          RequireNumbers: policy.requireNumbers,
          RequireSymbols: policy.requireSymbols,
          TemporaryPasswordValidityDays: 7,
        },
      },
      AutoVerifiedAttributes: ['email'],
      UsernameConfiguration: { CaseSensitive: false },
      MfaConfiguration: 'OFF',
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      EstimatedNumberOfUsers: store.users.length,
      CreationDate: seconds(store.created),
      LastModifiedDate: seconds(store.created),
    },
  };
}

export function describeUserPoolClient(input: Input, ctx: AdminContext) {
  pool(input, ctx, 'DescribeUserPoolClient');
  const clientId = text(input, 'ClientId', true, 128);
  if (clientId !== ctx.store.clientId)
    throw new CognitoError('ResourceNotFoundException', `User pool client ${clientId} does not exist.`);
  const { client } = ctx;
  return {
    UserPoolClient: {
      UserPoolId: ctx.store.userPoolId,
      ClientName: 'eaas-page',
      ClientId: clientId,
      CallbackURLs: [...client.callbackUrls],
      LogoutURLs: [...client.logoutUrls],
      AllowedOAuthFlows: ['code'],
      AllowedOAuthScopes: [...client.scopes],
      AllowedOAuthFlowsUserPoolClient: true,
      SupportedIdentityProviders: ['COGNITO'],
      ExplicitAuthFlows: ['ALLOW_REFRESH_TOKEN_AUTH'],
      IdTokenValidity: client.tokenSeconds.id,
      AccessTokenValidity: client.tokenSeconds.access,
      RefreshTokenValidity: client.tokenSeconds.refresh,
      TokenValidityUnits: { IdToken: 'seconds', AccessToken: 'seconds', RefreshToken: 'seconds' },
      EnableTokenRevocation: true,
      PreventUserExistenceErrors: 'ENABLED',
      CreationDate: seconds(ctx.store.created),
      LastModifiedDate: seconds(ctx.store.created),
    },
  };
}

export function listUserPools(input: Input, ctx: AdminContext) {
  // ListUserPools acts on no resource: IAM's service authorization reference lists it for `*`.
  ctx.require('cognito-idp:ListUserPools', '*');
  const max = input.MaxResults;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 60)
    throw new CognitoError('InvalidParameterException', 'MaxResults must be an integer from 1 to 60.');
  if (input.NextToken !== undefined) return { UserPools: [] };
  const when = seconds(ctx.store.created);
  return {
    UserPools: [{ Id: ctx.store.userPoolId, Name: 'eaas-local', CreationDate: when, LastModifiedDate: when }],
  };
}
