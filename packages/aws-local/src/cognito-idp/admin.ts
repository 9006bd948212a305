import {
  type AdminContext,
  existingUser,
  type Input,
  type Operation,
  pool,
  text,
  userType,
} from './admin-input.js';
import { describeUserPool, describeUserPoolClient, listUserPools, listUsers } from './admin-read.js';
import { CognitoError } from './errors.js';
import { checkPolicy, generatePassword, hashPassword } from './passwords.js';

export type { AdminContext } from './admin-input.js';

/**
 * The administration operations of the `cognito-idp` API that operators use, with the inputs,
 * answers and errors of the API reference
 * (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AdminCreateUser.html
 * and its siblings). Each operation first asks `require` whether the caller's IAM policies allow
 * its action on the pool's ARN.
 */

const EMAIL = /^[^\s@]+@[^\s@]+$/;
const USERNAME = /^[\p{L}\p{M}\p{S}\p{N}\p{P}]+$/u;

async function adminCreateUser(input: Input, ctx: AdminContext) {
  pool(input, ctx, 'AdminCreateUser');
  const username = text(input, 'Username', true, 128);
  if (!USERNAME.test(username)) throw new CognitoError('InvalidParameterException', 'Username is not valid.');
  const action = text(input, 'MessageAction', false);
  if (action !== undefined && action !== 'SUPPRESS' && action !== 'RESEND')
    throw new CognitoError('InvalidParameterException', 'MessageAction must be SUPPRESS or RESEND.');
  const existing = ctx.store.user(username);
  if (action === 'RESEND') {
    if (!existing) throw new CognitoError('UserNotFoundException', 'User does not exist.');
    if (existing.status !== 'FORCE_CHANGE_PASSWORD')
      throw new CognitoError('UnsupportedUserStateException', 'User is not in FORCE_CHANGE_PASSWORD state.');
    return { User: userType(existing) };
  }
  if (existing) throw new CognitoError('UsernameExistsException', 'User account already exists');
  let email: string | undefined;
  let emailVerified = false;
  const raw = input.UserAttributes ?? [];
  if (!Array.isArray(raw))
    throw new CognitoError('InvalidParameterException', 'UserAttributes must be a list.');
  for (const a of raw as Input[]) {
    const name = a && typeof a === 'object' ? a.Name : undefined;
    const value = a && typeof a === 'object' ? a.Value : undefined;
    if (typeof name !== 'string' || typeof value !== 'string')
      throw new CognitoError('InvalidParameterException', 'Each attribute needs a Name and a Value.');
    if (name === 'email') {
      if (!EMAIL.test(value))
        throw new CognitoError('InvalidParameterException', 'Invalid email address format.');
      email = value;
    } else if (name === 'email_verified') {
      if (value !== 'true' && value !== 'false')
        throw new CognitoError('InvalidParameterException', 'email_verified must be true or false.');
      emailVerified = value === 'true';
    } else {
      throw new CognitoError(
        'InvalidParameterException',
        `Attributes did not conform to the schema: ${name}: Attribute does not exist in the schema.`,
      );
    }
  }
  const given = text(input, 'TemporaryPassword', false, 256);
  if (given !== undefined) checkPolicy(given, ctx.policy);
  const passwordHash = await hashPassword(given ?? generatePassword(ctx.policy));
  // The store is read again: another request may have created the user while the hash was computed.
  if (ctx.store.user(username))
    throw new CognitoError('UsernameExistsException', 'User account already exists');
  const user = ctx.store.addUser({
    username,
    ...(email !== undefined ? { email } : {}),
    emailVerified,
    status: 'FORCE_CHANGE_PASSWORD',
    enabled: true,
    passwordHash,
    created: ctx.now,
    modified: ctx.now,
  });
  return { User: userType(user) };
}

async function adminSetUserPassword(input: Input, ctx: AdminContext) {
  pool(input, ctx, 'AdminSetUserPassword');
  const user = existingUser(input, ctx);
  const password = text(input, 'Password', true, 256);
  const permanent = input.Permanent ?? false;
  if (typeof permanent !== 'boolean')
    throw new CognitoError('InvalidParameterException', 'Permanent must be a boolean.');
  checkPolicy(password, ctx.policy);
  const passwordHash = await hashPassword(password);
  if (ctx.store.user(user.username))
    ctx.store.updateUser(
      user.username,
      { passwordHash, status: permanent ? 'CONFIRMED' : 'FORCE_CHANGE_PASSWORD' },
      ctx.now,
    );
  return {};
}

function setEnabled(action: string, enabled: boolean): Operation {
  return (input, ctx) => {
    pool(input, ctx, action);
    const user = existingUser(input, ctx);
    ctx.store.updateUser(user.username, { enabled }, ctx.now);
    return {};
  };
}

function adminGetUser(input: Input, ctx: AdminContext) {
  pool(input, ctx, 'AdminGetUser');
  const u = existingUser(input, ctx);
  const { Attributes, ...rest } = userType(u);
  return { ...rest, UserAttributes: Attributes };
}

function adminDeleteUser(input: Input, ctx: AdminContext) {
  pool(input, ctx, 'AdminDeleteUser');
  ctx.store.deleteUser(existingUser(input, ctx).username);
  return {};
}

export const OPERATIONS: Readonly<Record<string, Operation>> = {
  AdminCreateUser: adminCreateUser,
  AdminSetUserPassword: adminSetUserPassword,
  AdminDisableUser: setEnabled('AdminDisableUser', false),
  AdminEnableUser: setEnabled('AdminEnableUser', true),
  AdminGetUser: adminGetUser,
  AdminDeleteUser: adminDeleteUser,
  ListUsers: listUsers,
  DescribeUserPool: describeUserPool,
  DescribeUserPoolClient: describeUserPoolClient,
  ListUserPools: listUserPools,
};
