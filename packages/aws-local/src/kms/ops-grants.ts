import { randomBytes } from 'node:crypto';
import { caseTwinKeys, grantNarrows, normalisePrincipal } from '@eaas/aws-rules';
import { z } from 'zod';
import { KmsError, notFound, validation } from './errors.js';
import { type GrantRecord, hashGrantToken, type KeyRecord, type KeyStore } from './key-store.js';
import { type Operation, operation, refuseDryRun, requireNotPendingDeletion, seconds } from './operation.js';
import { specOf } from './records.js';
import {
  type CursorPage,
  contextShape,
  cursorPaginate,
  dryRunShape,
  GRANT_OPERATIONS,
  grantTokensShape,
  keyIdShape,
  limitShape,
  markerShape,
  principalShape,
  str,
} from './shapes.js';

const grantIdShape = str(1, 128);
const grantNameShape = str(1, 256).regex(/^[a-zA-Z0-9:/_-]+$/);
/**
 * The grant operations each kind of key supports, from "Grant operations" in
 * https://docs.aws.amazon.com/kms/latest/developerguide/grants.html#terms-grant-operations: "you
 * cannot create a grant for a symmetric encryption KMS key that allows the Sign operation, or a
 * grant for an asymmetric KMS key that allows the GenerateDataKey operation. If you try, KMS
 * returns a ValidationError exception" (API_CreateGrant, Operations).
 */
const EVERY_KEY = ['CreateGrant', 'RetireGrant', 'DescribeKey'];
const GRANT_OPERATIONS_BY_KIND: Readonly<Record<string, ReadonlySet<string>>> = {
  symmetric: new Set([
    ...EVERY_KEY,
    'Decrypt',
    'Encrypt',
    'GenerateDataKey',
    'GenerateDataKeyWithoutPlaintext',
    'GenerateDataKeyPair',
    'GenerateDataKeyPairWithoutPlaintext',
    'ReEncryptFrom',
    'ReEncryptTo',
  ]),
  asymmetricEncryption: new Set([
    ...EVERY_KEY,
    'Decrypt',
    'Encrypt',
    'GetPublicKey',
    'ReEncryptFrom',
    'ReEncryptTo',
  ]),
  signing: new Set([...EVERY_KEY, 'Sign', 'Verify', 'GetPublicKey']),
  hmac: new Set([...EVERY_KEY, 'GenerateMac', 'VerifyMac']),
};

function keyKind(key: KeyRecord): string {
  const { keySpec, keyUsage } = specOf(key);
  if (keyUsage === 'SIGN_VERIFY') return 'signing';
  if (keyUsage === 'GENERATE_VERIFY_MAC') return 'hmac';
  return keySpec === 'SYMMETRIC_DEFAULT' ? 'symmetric' : 'asymmetricEncryption';
}

function describeGrant(store: KeyStore, g: GrantRecord) {
  return {
    KeyId: store.keyArn(g.keyId),
    GrantId: g.grantId,
    ...(g.name !== undefined ? { Name: g.name } : {}),
    CreationDate: seconds(g.createdAt),
    GranteePrincipal: g.grantee,
    ...(g.retiring !== undefined ? { RetiringPrincipal: g.retiring } : {}),
    IssuingAccount: g.issuingAccount,
    Operations: g.operations,
    ...(g.constraints ? { Constraints: g.constraints } : {}),
  };
}

/** A page of grants by cursor (grant id order), as ListGrants and ListRetirableGrants answer. */
function page(
  store: KeyStore,
  listing: string,
  limit: number | undefined,
  marker: string | undefined,
  fetch: (after: string | undefined, limit: number) => CursorPage<GrantRecord>,
) {
  const {
    page: items,
    truncated,
    nextMarker,
  } = cursorPaginate(store.markers, listing, limit, marker, 50, fetch, (g) => g.grantId);
  return {
    Grants: items.map((g) => describeGrant(store, g)),
    Truncated: truncated,
    ...(nextMarker ? { NextMarker: nextMarker } : {}),
  };
}

export const grantOperations: Record<string, Operation> = {
  CreateGrant: operation(
    z.object({
      KeyId: keyIdShape,
      GranteePrincipal: principalShape,
      RetiringPrincipal: principalShape.optional(),
      Operations: z.array(z.enum(GRANT_OPERATIONS)).min(1),
      Constraints: z
        .object({
          EncryptionContextSubset: contextShape.optional(),
          EncryptionContextEquals: contextShape.optional(),
        })
        .optional(),
      GrantTokens: grantTokensShape,
      Name: grantNameShape.optional(),
      DryRun: dryRunShape,
    }),
    (input, { store, caller, access }) => {
      const key = store.resolve(input.KeyId, false);
      // CreateGrant's condition keys (conditions-kms.html): the operations, the principals, and
      // the kind of constraint.
      const constraint = input.Constraints?.EncryptionContextEquals
        ? ['EncryptionContextEquals']
        : input.Constraints?.EncryptionContextSubset
          ? ['EncryptionContextSubset']
          : [];
      const decision = access.require(key, 'kms:CreateGrant', undefined, {
        'kms:GrantOperations': input.Operations,
        'kms:GranteePrincipal': [input.GranteePrincipal],
        'kms:RetiringPrincipal': input.RetiringPrincipal ? [input.RetiringPrincipal] : [],
        'kms:GrantConstraintType': constraint,
      });
      requireNotPendingDeletion(store, key);
      // A grantee allowed CreateGrant by a grant may only hand on a narrower grant.
      if (decision.reason === 'grant') {
        const parent = store.findGrant(decision.grantId);
        const child = { operations: input.Operations, constraints: input.Constraints };
        if (!parent || !grantNarrows({ ...parent, granteePrincipal: parent.grantee }, child)) {
          throw access.deny(
            'kms:CreateGrant',
            store.keyArn(key.keyId),
            'a grant created under a grant may only have the same or fewer operations and the same or stricter constraints',
          );
        }
      }
      const valid = GRANT_OPERATIONS_BY_KIND[keyKind(key)] ?? new Set<string>();
      const unsupported = input.Operations.filter((op) => !valid.has(op));
      if (unsupported.length > 0) {
        const { keySpec, keyUsage } = specOf(key);
        throw validation(
          `Operations ${unsupported.join(', ')} are not valid for a ${keySpec} key with key usage ${keyUsage}; valid operations are ${[...valid].join(', ')}.`,
        );
      }
      const c = input.Constraints;
      // "You cannot use an encryption context grant constraint for cryptographic operations with
      // asymmetric KMS keys or HMAC KMS keys" (API_CreateGrant, Constraints).
      if (c && (c.EncryptionContextSubset || c.EncryptionContextEquals) && keyKind(key) !== 'symmetric') {
        throw validation(
          `Encryption context grant constraints are not supported for ${specOf(key).keySpec} keys: their operations take no encryption context.`,
        );
      }
      if (c?.EncryptionContextSubset !== undefined && c.EncryptionContextEquals !== undefined) {
        throw validation('Specify EncryptionContextSubset or EncryptionContextEquals, not both.');
      }
      // Constraint keys are not case-sensitive: two keys differing only in case are one key twice.
      const twins = caseTwinKeys(c?.EncryptionContextSubset ?? c?.EncryptionContextEquals ?? {});
      if (twins.length > 0) {
        throw validation(
          `Constraints hold encryption context keys that differ only in case: ${twins.join(', ')}.`,
        );
      }
      refuseDryRun(input.DryRun);
      const operations = [...new Set(input.Operations)];
      if (input.Name !== undefined) {
        // KMS makes CreateGrant idempotent for a retried request with the same name and parameters.
        const same = store
          .grantsOf(key.keyId)
          .find(
            (g) =>
              g.name === input.Name &&
              g.grantee === input.GranteePrincipal &&
              g.retiring === input.RetiringPrincipal &&
              JSON.stringify(g.operations) === JSON.stringify(operations) &&
              JSON.stringify(g.constraints) === JSON.stringify(c),
          );
        if (same) {
          const token = `${same.grantId}.${randomBytes(32).toString('base64url')}`;
          store.updateGrant(same, (g) => {
            g.tokenHash = hashGrantToken(token);
          });
          return { GrantId: same.grantId, GrantToken: token };
        }
      }
      const grantId = randomBytes(32).toString('hex');
      const token = `${grantId}.${randomBytes(32).toString('base64url')}`;
      store.addGrant({
        grantId,
        keyId: key.keyId,
        ...(input.Name !== undefined ? { name: input.Name } : {}),
        createdAt: store.now().getTime(),
        grantee: input.GranteePrincipal,
        ...(input.RetiringPrincipal !== undefined ? { retiring: input.RetiringPrincipal } : {}),
        issuingAccount: `arn:aws:iam::${caller.accountId}:root`,
        operations,
        ...(c ? { constraints: c } : {}),
        tokenHash: hashGrantToken(token),
      });
      return { GrantId: grantId, GrantToken: token };
    },
  ),

  ListGrants: operation(
    z.object({
      KeyId: keyIdShape,
      Limit: limitShape(100),
      Marker: markerShape,
      GrantId: grantIdShape.optional(),
      GranteePrincipal: principalShape.optional(),
    }),
    (input, { store, access }) => {
      const key = store.resolve(input.KeyId, false);
      access.require(key, 'kms:ListGrants');
      const { GrantId: grantId, GranteePrincipal: grantee } = input;
      return page(store, `grants/${key.keyId}`, input.Limit, input.Marker, (after, limit) => {
        if (grantId !== undefined) {
          // One grant at most: a direct look-up, not a scan of the key's grants.
          const grant = store.findGrant(grantId);
          const matches =
            grant?.keyId === key.keyId &&
            (after === undefined || grantId > after) &&
            (grantee === undefined || grant.grantee === grantee);
          return { items: matches && grant ? [grant] : [], more: false };
        }
        return store.listGrants(
          key.keyId,
          after,
          limit,
          grantee === undefined ? undefined : (g) => g.grantee === grantee,
        );
      });
    },
  ),

  ListRetirableGrants: operation(
    z.object({ RetiringPrincipal: principalShape, Limit: limitShape(100), Marker: markerShape }),
    (input, { store, access }) => {
      access.requireIam('kms:ListRetirableGrants');
      return page(store, `retirable/${input.RetiringPrincipal}`, input.Limit, input.Marker, (after, limit) =>
        store.listRetirableGrants(input.RetiringPrincipal, after, limit),
      );
    },
  ),

  RevokeGrant: operation(
    z.object({ KeyId: keyIdShape, GrantId: grantIdShape, DryRun: dryRunShape }),
    (input, { store, access }) => {
      const key = store.resolve(input.KeyId, false);
      access.require(key, 'kms:RevokeGrant');
      const grant = store.findGrant(input.GrantId);
      if (grant?.keyId !== key.keyId)
        throw notFound(`Grant ${input.GrantId} does not exist on ${store.keyArn(key.keyId)}.`);
      refuseDryRun(input.DryRun);
      store.removeGrant(grant.grantId);
      return {};
    },
  ),

  RetireGrant: operation(
    z.object({
      GrantToken: str(1, 8192).optional(),
      KeyId: keyIdShape.optional(),
      GrantId: grantIdShape.optional(),
      DryRun: dryRunShape,
    }),
    (input, { store, caller, access }) => {
      let grant: GrantRecord | undefined;
      if (input.GrantToken !== undefined) {
        const hash = hashGrantToken(input.GrantToken);
        grant = store.findGrantByToken(hash);
        if (!grant) throw new KmsError('InvalidGrantTokenException', 'The grant token is not valid.');
      } else if (input.KeyId !== undefined && input.GrantId !== undefined) {
        const key = store.resolve(input.KeyId, false);
        const found = store.findGrant(input.GrantId);
        if (found?.keyId !== key.keyId)
          throw notFound(`Grant ${input.GrantId} does not exist on ${store.keyArn(key.keyId)}.`);
        grant = found;
      } else {
        throw validation('Specify either GrantToken, or both KeyId and GrantId.');
      }
      // Who may retire a grant: its retiring principal, or its grantee when it grants RetireGrant.
      const resource = store.keyArn(grant.keyId);
      const names = [caller.arn, normalisePrincipal(caller.arn)];
      if (grant.retiring !== undefined && names.includes(grant.retiring)) {
        access.allowBy('retiring-principal', 'kms:RetireGrant', resource);
      } else if (names.includes(grant.grantee) && grant.operations.includes('RetireGrant')) {
        access.allowBy('grantee', 'kms:RetireGrant', resource);
      } else {
        throw access.deny(
          'kms:RetireGrant',
          resource,
          'only the retiring principal or the grantee may retire it',
        );
      }
      refuseDryRun(input.DryRun);
      store.removeGrant(grant.grantId);
      return {};
    },
  ),
};
