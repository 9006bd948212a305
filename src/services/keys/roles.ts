import { type EncryptionContext, normalisePrincipal } from '@eaas/aws-rules';
import { aliasNameMeant } from '../../core/alias-names.js';
import { DomainError } from '../../core/errors.js';
import { auditDecision, type Caller } from '../access.js';
import { type ScanCursor, SOURCE_PAGE, scan } from '../scan.js';
import { type KeysContext, keyView, type Requester } from './shared.js';

/**
 * The operations that make a caller a user of a key (for listings and whoami): cryptographic ones,
 * which separation of duties refuses to who may manage the key (not GetPublicKey: the key is public).
 */
const USE_ACTIONS = [
  'kms:Encrypt',
  'kms:Decrypt',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
  'kms:Sign',
  'kms:Verify',
  'kms:GenerateMac',
  'kms:VerifyMac',
];

/** For a key id spelt without `alias/`: the alias name meant (by the spelling alone). */
const hintFor = (keyId: string) => {
  const meant = aliasNameMeant(keyId);
  return meant ? ` No key is named so: did you mean ${meant}?` : '';
};

/**
 * What a caller is to a key (administrator, user, or one who may describe it), and so what it may
 * see: the listing of keys (GET /v1/keys) and whoami's explanation of its decisions on a key.
 */
export class KeyRoles {
  constructor(private readonly ctx: KeysContext) {}

  /** What the caller is to a key: administrator, user, or one who may at least describe it. */
  async of(caller: Caller, keyArn: string) {
    const { access } = this.ctx;
    const can = async (action: string) =>
      (await access.decide(caller, { keyId: keyArn, action })).decision.allowed;
    // The grants and the key policy are read at once (the decisions share the cached reads).
    const [grants, administer, describe, ...uses] = await Promise.all([
      access.grantsOf(caller, keyArn),
      ...['kms:PutKeyPolicy', 'kms:DescribeKey', ...USE_ACTIONS].map(can),
    ]);
    // A grant may hold a context constraint, so it counts as use without a context to try. Not an
    // administrator's: the key policy denies administrators every cryptographic operation.
    const usingGrant = !administer && grants.some((g) => g.operations.some((op) => op !== 'DescribeKey'));
    return { administer, use: uses.some(Boolean) || usingGrant, describe };
  }

  /**
   * The keys the caller may describe (administers, uses, or may describe): up to `limit`, of at
   * most `SCAN_BUDGET` keys of the account examined per call (scan.ts). `next` is where the
   * following call starts; the handler seals it into a page token.
   */
  async list(r: Requester, limit: number, cursor?: ScanCursor) {
    const { admin } = this.ctx;
    const out = await scan({
      fetch: (marker) => admin.listKeys(SOURCE_PAGE, marker),
      cursor,
      limit,
      keep: async (k: { arn: string }) => {
        const roles = await this.of(r.caller, k.arn).catch(() => undefined);
        if (!roles || (!roles.administer && !roles.use && !roles.describe)) return undefined;
        const d = await admin.describeKey(k.arn).catch(() => undefined);
        return d && { ...keyView(d), access: { administer: roles.administer, use: roles.use } };
      },
    });
    return { keys: out.items, ...(out.next ? { next: out.next } : {}) };
  }

  /**
   * For whoami: each decision, with the statement or grant behind it. Precondition: the caller may
   * see the key, by the rule of GET /v1/keys (it administers the key, uses it by the policy or a
   * grant, or may describe it); otherwise AccessDenied, as the key routes answer, naming neither
   * the key's ARN nor anything of its policy or grants. A key that does not exist gets the same
   * refusal, as on the key routes.
   */
  async explain(r: Requester, keyId: string, actions: readonly string[], context?: EncryptionContext) {
    const { access } = this.ctx;
    // One refusal for a key the caller may not see and for one that does not exist, telling
    // nothing of the key's policy or grants (not even that grants are looked at).
    const refused = () =>
      new DomainError(
        'AccessDenied',
        `${normalisePrincipal(r.caller.arn)} may not describe the key ${keyId}: it neither administers nor uses it, and may not kms:DescribeKey on it.${hintFor(keyId)}`,
      );
    const keyArn = await access
      .resolve(r.caller, keyId, 'kms:DescribeKey', { record: r.record })
      .catch((error: unknown) => {
        throw error instanceof DomainError && error.code === 'AccessDenied' ? refused() : error;
      });
    const roles = await this.of(r.caller, keyArn);
    if (!roles.administer && !roles.use && !roles.describe) {
      const { decision } = await access.decide(r.caller, { keyId: keyArn, action: 'kms:DescribeKey' });
      r.record(auditDecision('kms:DescribeKey', keyArn, decision));
      throw refused();
    }
    const results = [];
    for (const action of actions) {
      const { decision } = await access.decide(r.caller, { keyId: keyArn, action, context });
      results.push({ action, decision: auditDecision(action, keyArn, decision), raw: decision });
    }
    const grants = await access.grantsOf(r.caller, keyArn);
    return { keyArn, results, grants };
  }
}
