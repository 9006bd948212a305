import { isKeyNotFound } from '../access.js';
import type { QuotaCheck, Verdict } from '../quotas.js';
import { aliasTarget, CREATOR_TAG, type KeysContext } from './shared.js';

/**
 * What the quota ledger asks KMS about the keys and aliases a caller's record lists: whether each
 * still counts. The ledger calls these only when a caller is at its quota.
 */

/** The verdict of each id, eight KMS calls at a time; an id whose call failed is left out (kept as it is). */
async function eachOf(ids: readonly string[], verdict: (id: string) => Promise<Verdict>) {
  const verdicts = new Map<string, Verdict>();
  const queue = [...ids];
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      const v = await verdict(id).catch(() => undefined);
      if (v !== undefined) verdicts.set(id, v);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return verdicts;
}

/** The quota check of keys: each listed key's state in KMS; a deleted (or never made) one is absent. */
export function keyCheck({ admin }: KeysContext): QuotaCheck {
  return (ids) =>
    eachOf(ids, async (id) => {
      if (!id.startsWith('arn:')) return 'absent';
      try {
        return (await admin.describeKey(id)).state === 'PendingDeletion' ? 'pending-deletion' : 'live';
      } catch (error) {
        if (isKeyNotFound(error)) return 'absent';
        throw error;
      }
    });
}

/** The quota check of aliases: which of the listed names still exist. */
export function aliasCheck({ admin }: KeysContext): QuotaCheck {
  return (ids) =>
    eachOf(ids, async (id) => ((await aliasTarget(admin, id)) === undefined ? 'absent' : 'live'));
}

/** Who created a key through the API (its tag), whose keys quota it counts in; none without quotas. */
export async function creatorOf({ admin, quotas }: KeysContext, keyArn: string): Promise<string | undefined> {
  if (!quotas) return undefined;
  return (await admin.tags(keyArn))[CREATOR_TAG];
}
