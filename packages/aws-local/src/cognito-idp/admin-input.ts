import { CognitoError } from './errors.js';
import type { PasswordPolicy } from './passwords.js';
import type { PoolStore, UserRecord } from './store.js';

/** What the admin operations share: the context they run in, and the reading of their input. */

export interface AdminContext {
  store: PoolStore;
  region: string;
  accountId: string;
  now: number;
  policy: PasswordPolicy;
  client: {
    callbackUrls: readonly string[];
    logoutUrls: readonly string[];
    scopes: readonly string[];
    tokenSeconds: { id: number; access: number; refresh: number };
  };
  require(action: string, resource: string): void;
}

export type Input = Record<string, unknown>;
export type Operation = (input: Input, ctx: AdminContext) => Promise<unknown> | unknown;

export function text(input: Input, name: string, required: true, max?: number): string;
export function text(input: Input, name: string, required: false, max?: number): string | undefined;
export function text(input: Input, name: string, required: boolean, max = 2048): string | undefined {
  const v = input[name];
  if (v === undefined || v === null) {
    if (required)
      throw new CognitoError(
        'InvalidParameterException',
        `1 validation error detected: Value null at '${name}' failed to satisfy constraint: Member must not be null`,
      );
    return undefined;
  }
  if (typeof v !== 'string' || v.length < 1 || v.length > max)
    throw new CognitoError('InvalidParameterException', `${name} is not valid.`);
  return v;
}

export const poolArn = (ctx: AdminContext, id: string) =>
  `arn:aws:cognito-idp:${ctx.region}:${ctx.accountId}:userpool/${id}`;

/** The pool named by UserPoolId, once the caller may `action` on it. */
export function pool(input: Input, ctx: AdminContext, action: string): void {
  const id = text(input, 'UserPoolId', true, 55);
  ctx.require(`cognito-idp:${action}`, poolArn(ctx, id));
  if (id !== ctx.store.userPoolId)
    throw new CognitoError('ResourceNotFoundException', `User pool ${id} does not exist.`);
}

export function existingUser(input: Input, ctx: AdminContext): UserRecord {
  const user = ctx.store.user(text(input, 'Username', true, 128));
  if (!user) throw new CognitoError('UserNotFoundException', 'User does not exist.');
  return user;
}

export const seconds = (ms: number) => Math.floor(ms / 1000);

function attributes(u: UserRecord): { Name: string; Value: string }[] {
  return [
    { Name: 'sub', Value: u.sub },
    ...(u.email !== undefined
      ? [
          { Name: 'email', Value: u.email },
          { Name: 'email_verified', Value: String(u.emailVerified) },
        ]
      : []),
  ];
}

/** The UserType of ListUsers and AdminCreateUser (API_UserType.html). */
export function userType(u: UserRecord) {
  return {
    Username: u.username,
    Attributes: attributes(u),
    UserCreateDate: seconds(u.created),
    UserLastModifiedDate: seconds(u.modified),
    Enabled: u.enabled,
    UserStatus: u.status,
  };
}
