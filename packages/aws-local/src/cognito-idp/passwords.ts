import { randomBytes, randomInt, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';
import { CognitoError } from './errors.js';

/**
 * Passwords of the local user pool: kept only as scrypt hashes (a random 16-byte salt, N=2^15,
 * r=8, p=1), computed off the event loop (node's async `scrypt`), compared in constant time.
 */

export interface PasswordPolicy {
  minimumLength: number;
  requireLowercase: boolean;
  requireUppercase: boolean;
  requireNumbers: boolean;
  requireSymbols: boolean;
}

/** Cognito's default policy (https://docs.aws.amazon.com/cognito/latest/developerguide/managing-users-passwords.html). */
export const DEFAULT_PASSWORD_POLICY: PasswordPolicy = {
  minimumLength: 8,
  requireLowercase: true,
  requireUppercase: true,
  requireNumbers: true,
  requireSymbols: true,
};

/** The special characters Cognito counts as symbols (same page). */
const SYMBOLS = '^$*.[]{}()?"!@#%&/\\,><\':;|_~`=+-';
const isSymbol = (c: string) => SYMBOLS.includes(c) || c === ' ';

/** Cognito's InvalidPasswordException messages: the first rule the password breaks. */
export function policyViolation(password: string, policy: PasswordPolicy): string | undefined {
  const chars = [...password];
  if (chars.length < policy.minimumLength) return 'Password not long enough';
  if (chars.length > 256) return 'Password is too long';
  if (policy.requireLowercase && !chars.some((c) => c >= 'a' && c <= 'z'))
    return 'Password must have lowercase characters';
  if (policy.requireUppercase && !chars.some((c) => c >= 'A' && c <= 'Z'))
    return 'Password must have uppercase characters';
  if (policy.requireNumbers && !chars.some((c) => c >= '0' && c <= '9'))
    return 'Password must have numeric characters';
  if (policy.requireSymbols && !chars.some(isSymbol)) return 'Password must have symbol characters';
  return undefined;
}

/** Throws Cognito's InvalidPasswordException when the password breaks the policy. */
export function checkPolicy(password: string, policy: PasswordPolicy): void {
  const broken = policyViolation(password, policy);
  if (broken)
    throw new CognitoError('InvalidPasswordException', `Password did not conform with policy: ${broken}`);
}

/** A random password of 16 characters that meets any policy of up to 16 characters (the temporary password Cognito would mail). */
export function generatePassword(policy: PasswordPolicy): string {
  const sets = ['abcdefghijkmnopqrstuvwxyz', 'ABCDEFGHJKLMNPQRSTUVWXYZ', '23456789', '!#%&*+-=?@^_'];
  const all = sets.join('');
  const length = Math.max(16, policy.minimumLength);
  const chars = sets.map((s) => s[randomInt(s.length)] as string);
  while (chars.length < length) chars.push(all[randomInt(all.length)] as string);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join('');
}

const PARAMS = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const KEY_LENGTH = 32;

function scryptAsync(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, options, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** `scrypt$<log2 N>$<r>$<p>$<salt b64url>$<hash b64url>`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, PARAMS);
  return [
    'scrypt',
    Math.log2(PARAMS.N),
    PARAMS.r,
    PARAMS.p,
    salt.toString('base64url'),
    key.toString('base64url'),
  ].join('$');
}

/** A hash of no one's password, compared against when the user is unknown so both cases take as long. */
let decoy: Promise<string> | undefined;
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(18).toString('base64url'));
  return decoy;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, logN, r, p, salt, hash] = stored.split('$');
  if (kind !== 'scrypt' || !logN || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await scryptAsync(password, Buffer.from(salt, 'base64url'), {
    N: 2 ** Number(logN),
    r: Number(r),
    p: Number(p),
    maxmem: PARAMS.maxmem,
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}
