import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PASSWORD_POLICY,
  generatePassword,
  hashPassword,
  policyViolation,
  verifyPassword,
} from '../../src/cognito-idp/passwords.js';

/** The local user pool's passwords: Cognito's policy checks, and scrypt hashes that never hold the password. */
describe('user pool passwords', () => {
  it('are checked against the policy in the order Cognito names the rules', () => {
    const p = DEFAULT_PASSWORD_POLICY;
    expect(policyViolation('Ab1!', p)).toBe('Password not long enough');
    expect(policyViolation('ABCDEFG1!', p)).toBe('Password must have lowercase characters');
    expect(policyViolation('abcdefg1!', p)).toBe('Password must have uppercase characters');
    expect(policyViolation('Abcdefgh!', p)).toBe('Password must have numeric characters');
    expect(policyViolation('Abcdefgh1', p)).toBe('Password must have symbol characters');
    expect(policyViolation('Abcdefg1!', p)).toBeUndefined();
    expect(
      policyViolation('abc', {
        ...p,
        minimumLength: 3,
        requireUppercase: false,
        requireNumbers: false,
        requireSymbols: false,
      }),
    ).toBeUndefined();
  });

  it('are generated to meet the policy', () => {
    for (let i = 0; i < 50; i++)
      expect(
        policyViolation(generatePassword(DEFAULT_PASSWORD_POLICY), DEFAULT_PASSWORD_POLICY),
      ).toBeUndefined();
  });

  it('are kept as salted scrypt hashes (N=2^15, r=8, p=1) and verified', async () => {
    const a = await hashPassword('Correct-horse-1');
    const b = await hashPassword('Correct-horse-1');
    expect(a).toMatch(/^scrypt\$15\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('Correct-horse-1');
    expect(await verifyPassword('Correct-horse-1', a)).toBe(true);
    expect(await verifyPassword('Correct-horse-2', a)).toBe(false);
    expect(await verifyPassword('Correct-horse-1', 'plain$text')).toBe(false);
  });
});
