import { describe, expect, it } from 'vitest';
import { aliasNameRefusal, personalAliasPrefix } from '../../src/core/alias-names.js';

const ACCOUNT = '111122223333';
const rule = {
  accountId: ACCOUNT,
  operators: [`arn:aws:iam::${ACCOUNT}:role/platform`, `arn:aws:iam::${ACCOUNT}:user/ops`],
};
const user = (name: string, account = ACCOUNT) => `arn:aws:iam::${account}:user/${name}`;

describe('who may claim which alias name', () => {
  it.each([
    [user('myOutsider'), 'alias/myOutsider/payments-prod', true],
    [user('myOutsider'), 'alias/myoutsider/x', true],
    [user('myOutsider'), 'alias/payments-prod', false],
    [user('myOutsider'), 'alias/myKeyUser/payments', false],
    [user('myOutsider'), 'alias/myOutsider-2/x', false],
    [user('myOutsider'), 'alias/myOutsider/', false],
    [user('myOutsider', '444455556666'), 'alias/myOutsider/x', false],
    [`arn:aws:iam::${ACCOUNT}:user/division/dev/alice`, 'alias/alice/app', true],
    [`arn:aws:iam::${ACCOUNT}:user/division/dev/alice`, 'alias/division/app', false],
    [`arn:aws:sts::${ACCOUNT}:assumed-role/myAppRole/session-1`, 'alias/myAppRole/app', true],
    [`arn:aws:sts::${ACCOUNT}:assumed-role/myAppRole/session-1`, 'alias/session-1/app', false],
    [user('john.doe@example.com'), 'alias/john/x', false],
    [`arn:aws:iam::${ACCOUNT}:root`, 'alias/root/x', false],
    [`arn:aws:sts::${ACCOUNT}:assumed-role/platform/s`, 'alias/payments-prod', true],
    [user('ops'), 'alias/myOutsider/taken', true],
  ])('%s claiming %s: %s', (caller, alias, allowed) => {
    expect(aliasNameRefusal(alias, caller, rule) === undefined).toBe(allowed);
  });

  it('says which names the caller may use', () => {
    expect(aliasNameRefusal('alias/payments-prod', user('myOutsider'), rule)).toContain('alias/myOutsider/');
    expect(aliasNameRefusal('alias/payments-prod', user('a.b'), rule)).toContain('owns no alias prefix');
    expect(personalAliasPrefix(user('a.b'), ACCOUNT)).toBeUndefined();
  });
});
