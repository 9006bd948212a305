import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_KEY_ALIAS, PAGE_KEY_ALIAS } from '../../local/emulator-options.js';
import { rolesOf } from '../../src/core/key-policy.js';
import { PEOPLE_SID, pageKeyPolicy } from '../../src/core/page-key-policy.js';
import { SERVICE_TAG } from '../../src/services/keys/shared.js';
import { makeDataDir } from '../helpers/local-kms.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * The local stack's page key (alias/eaas-page): made on the first start with the policy the
 * service writes for it (src/core/page-key-policy.ts), naming the roles the template names, and
 * given that policy again on each later start.
 */

const keyOf = (t: TestStack, alias: string) => {
  const found = t.stack.kms.store.findAlias(alias);
  const key = found ? t.stack.kms.store.findKey(found.targetKeyId) : undefined;
  if (!key) throw new Error(`no key under ${alias}`);
  return key;
};

describe('the local page key', () => {
  it('is made on the first start, tagged for the service, with the page key policy; its policy is restored at the next start', async () => {
    const dataDir = makeDataDir();
    try {
      const first = await startTestStack({ dataDir });
      const account = first.config.accountId;
      const page = keyOf(first, PAGE_KEY_ALIAS);
      // The same roles as the default key's policy names for the service.
      const { serviceRoles, adminRoles } = rolesOf(
        JSON.parse(keyOf(first, DEFAULT_KEY_ALIAS).policy),
        account,
      );
      const expected = pageKeyPolicy({
        accountId: account,
        peopleRoleArn: `arn:aws:iam::${account}:role/eaas-local-people`,
        serviceRoleArns: serviceRoles,
        adminRoleArns: adminRoles,
      });
      expect(serviceRoles.length).toBeGreaterThan(0);
      expect(adminRoles.length).toBeGreaterThan(0);
      expect(JSON.parse(page.policy)).toEqual(expected);
      expect(page.tags).toContainEqual({ TagKey: SERVICE_TAG, TagValue: 'eaas-local' });
      first.stack.kms.store.updateKey(page, (k) => {
        k.policy = JSON.stringify({
          ...expected,
          Statement: expected.Statement.filter((s) => s.Sid !== PEOPLE_SID),
        });
      });
      await first.stop();

      const second = await startTestStack({ dataDir });
      try {
        const again = keyOf(second, PAGE_KEY_ALIAS);
        expect(again.keyId).toBe(page.keyId);
        expect(JSON.parse(again.policy)).toEqual(expected);
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
