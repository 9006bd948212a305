import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  type GrantListEntry,
  type GrantOperation,
  type KeyMetadata,
  type KMSClient,
  ListAliasesCommand,
  ListGrantsCommand,
  ListKeyRotationsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  PutKeyPolicyCommand,
  RevokeGrantCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  UpdateAliasCommand,
} from '@aws-sdk/client-kms';
import { DomainError } from '../core/errors.js';
import type { KeyKind } from '../core/key-kinds.js';
import type { AliasInfo, GrantInfo, KeyAdmin, KeyDetails, KeyInfo, NewGrant, Page } from '../ports.js';
import { fromKmsError, KmsKeys, kindOfMetadata } from './kms.js';

export function details(md: KeyMetadata | undefined): KeyDetails {
  if (!md?.Arn || !md.KeyId) throw new DomainError('DependencyFailure', 'KMS answered without key metadata.');
  const kind = kindOfMetadata(md);
  return {
    arn: md.Arn,
    keyId: md.KeyId,
    state: (md.KeyState ?? 'Unavailable') as KeyInfo['state'],
    description: md.Description ?? '',
    createdAt: md.CreationDate ?? new Date(0),
    ...(md.DeletionDate ? { deletionDate: md.DeletionDate } : {}),
    ...(md.PendingDeletionWindowInDays ? { pendingWindowInDays: md.PendingDeletionWindowInDays } : {}),
    ...(kind ? { kind } : {}),
    ...(md.EncryptionAlgorithms?.length ? { encryptionAlgorithms: md.EncryptionAlgorithms } : {}),
    ...(md.SigningAlgorithms?.length ? { signingAlgorithms: md.SigningAlgorithms } : {}),
    ...(md.MacAlgorithms?.length ? { macAlgorithms: md.MacAlgorithms } : {}),
    ...(md.ExpirationModel ? { expirationModel: md.ExpirationModel } : {}),
    ...(md.ValidTo ? { validTo: md.ValidTo } : {}),
  };
}

function grantInfo(keyArn: string, g: GrantListEntry): GrantInfo {
  return {
    grantId: g.GrantId ?? '',
    keyArn,
    ...(g.Name ? { name: g.Name } : {}),
    granteePrincipal: g.GranteePrincipal ?? '',
    ...(g.RetiringPrincipal ? { retiringPrincipal: g.RetiringPrincipal } : {}),
    operations: g.Operations ?? [],
    ...(g.Constraints ? { constraints: g.Constraints } : {}),
    ...(g.CreationDate ? { createdAt: g.CreationDate } : {}),
  };
}

/** Calls that name a grant or an alias: KMS's NotFound is about that, not about a key. */
async function naming<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if ((error as { name?: string })?.name === 'NotFoundException')
      throw new DomainError('NotFound', `${what} does not exist.`, undefined, { cause: error });
    throw error;
  }
}

/** The `KeyAdmin` port over `@aws-sdk/client-kms`, with the service's own credentials. */
export class KmsKeyAdmin extends KmsKeys implements KeyAdmin {
  constructor(client: KMSClient) {
    super(client);
  }

  private run<T>(keyId: string, run: (kms: KMSClient) => Promise<T>): Promise<T> {
    return run(this.client).catch((error: unknown) => {
      throw fromKmsError(error, keyId);
    });
  }

  keyPolicy(keyArn: string): Promise<string> {
    return this.run(keyArn, async (kms) => {
      const out = await kms.send(new GetKeyPolicyCommand({ KeyId: keyArn, PolicyName: 'default' }));
      return out.Policy ?? '';
    });
  }

  grantsFor(keyArn: string, grantee: string): Promise<GrantInfo[]> {
    return this.run(keyArn, async (kms) => {
      const grants: GrantInfo[] = [];
      let marker: string | undefined;
      do {
        const out = await kms.send(
          new ListGrantsCommand({ KeyId: keyArn, GranteePrincipal: grantee, Limit: 100, Marker: marker }),
        );
        for (const g of out.Grants ?? []) grants.push(grantInfo(keyArn, g));
        marker = out.Truncated ? out.NextMarker : undefined;
      } while (marker);
      return grants;
    });
  }

  createKey(input: { policy: string; description: string; tags: Record<string, string>; kind?: KeyKind }) {
    return this.run('', async (kms) => {
      const out = await kms.send(
        new CreateKeyCommand({
          Policy: input.policy,
          Description: input.description,
          // Left out for a symmetric key KMS makes, so that the request stays what it always was.
          ...(input.kind && input.kind.spec !== 'SYMMETRIC_DEFAULT'
            ? { KeySpec: input.kind.spec, KeyUsage: input.kind.usage }
            : {}),
          ...(input.kind?.origin === 'EXTERNAL' ? { Origin: 'EXTERNAL' as const } : {}),
          Tags: Object.entries(input.tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
        }),
      );
      return details(out.KeyMetadata);
    });
  }

  listKeys(limit: number, nextToken?: string): Promise<Page<{ keyId: string; arn: string }>> {
    return this.run('', async (kms) => {
      const out = await kms.send(new ListKeysCommand({ Limit: limit, Marker: nextToken }));
      return {
        items: (out.Keys ?? []).map((k) => ({ keyId: k.KeyId ?? '', arn: k.KeyArn ?? '' })),
        ...(out.Truncated && out.NextMarker ? { nextToken: out.NextMarker } : {}),
      };
    });
  }

  describeKey(keyId: string): Promise<KeyDetails> {
    return this.run(keyId, async (kms) =>
      details((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata),
    );
  }

  tags(keyArn: string): Promise<Record<string, string>> {
    return this.run(keyArn, async (kms) => {
      const tags: Record<string, string> = Object.create(null);
      let marker: string | undefined;
      do {
        const out = await kms.send(new ListResourceTagsCommand({ KeyId: keyArn, Marker: marker }));
        for (const t of out.Tags ?? []) if (t.TagKey) tags[t.TagKey] = t.TagValue ?? '';
        marker = out.Truncated ? out.NextMarker : undefined;
      } while (marker);
      return tags;
    });
  }

  async enable(keyArn: string): Promise<void> {
    await this.run(keyArn, (kms) => kms.send(new EnableKeyCommand({ KeyId: keyArn })));
  }

  async disable(keyArn: string): Promise<void> {
    await this.run(keyArn, (kms) => kms.send(new DisableKeyCommand({ KeyId: keyArn })));
  }

  scheduleDeletion(keyArn: string, days: number) {
    return this.run(keyArn, async (kms) => {
      const out = await kms.send(
        new ScheduleKeyDeletionCommand({ KeyId: keyArn, PendingWindowInDays: days }),
      );
      return out.DeletionDate ? { deletionDate: out.DeletionDate } : {};
    });
  }

  async cancelDeletion(keyArn: string): Promise<void> {
    await this.run(keyArn, (kms) => kms.send(new CancelKeyDeletionCommand({ KeyId: keyArn })));
  }

  rotationStatus(keyArn: string) {
    return this.run(keyArn, async (kms) => {
      const out = await kms.send(new GetKeyRotationStatusCommand({ KeyId: keyArn }));
      return {
        enabled: out.KeyRotationEnabled === true,
        ...(out.RotationPeriodInDays ? { periodInDays: out.RotationPeriodInDays } : {}),
        ...(out.NextRotationDate ? { nextRotationDate: out.NextRotationDate } : {}),
      };
    });
  }

  async enableRotation(keyArn: string, periodInDays?: number): Promise<void> {
    await this.run(keyArn, (kms) =>
      kms.send(new EnableKeyRotationCommand({ KeyId: keyArn, RotationPeriodInDays: periodInDays })),
    );
  }

  async disableRotation(keyArn: string): Promise<void> {
    await this.run(keyArn, (kms) => kms.send(new DisableKeyRotationCommand({ KeyId: keyArn })));
  }

  async rotateNow(keyArn: string): Promise<void> {
    await this.run(keyArn, (kms) => kms.send(new RotateKeyOnDemandCommand({ KeyId: keyArn })));
  }

  rotations(keyArn: string, limit: number, nextToken?: string) {
    return this.run(keyArn, async (kms) => {
      const out = await kms.send(
        new ListKeyRotationsCommand({
          KeyId: keyArn,
          IncludeKeyMaterial: 'ALL_KEY_MATERIAL',
          Limit: limit,
          Marker: nextToken,
        }),
      );
      return {
        items: (out.Rotations ?? []).map((r) => ({
          ...(r.KeyMaterialId ? { keyMaterialId: r.KeyMaterialId } : {}),
          ...(r.RotationDate ? { rotationDate: r.RotationDate } : {}),
          ...(r.RotationType ? { rotationType: r.RotationType } : {}),
          current: r.KeyMaterialState === 'CURRENT',
        })),
        ...(out.Truncated && out.NextMarker ? { nextToken: out.NextMarker } : {}),
      };
    });
  }

  async putKeyPolicy(keyArn: string, policy: string): Promise<void> {
    await this.run(keyArn, (kms) =>
      kms.send(new PutKeyPolicyCommand({ KeyId: keyArn, PolicyName: 'default', Policy: policy })),
    );
  }

  createGrant(keyArn: string, grant: NewGrant) {
    return this.run(keyArn, async (kms) => {
      const out = await kms.send(
        new CreateGrantCommand({
          KeyId: keyArn,
          GranteePrincipal: grant.granteePrincipal,
          Operations: grant.operations as GrantOperation[],
          Constraints: grant.constraints,
          Name: grant.name,
          RetiringPrincipal: grant.retiringPrincipal,
        }),
      );
      return { grantId: out.GrantId ?? '', grantToken: out.GrantToken ?? '' };
    });
  }

  listGrants(keyArn: string, limit: number, nextToken?: string): Promise<Page<GrantInfo>> {
    return this.run(keyArn, async (kms) => {
      const out = await kms.send(new ListGrantsCommand({ KeyId: keyArn, Limit: limit, Marker: nextToken }));
      return {
        items: (out.Grants ?? []).map((g) => grantInfo(keyArn, g)),
        ...(out.Truncated && out.NextMarker ? { nextToken: out.NextMarker } : {}),
      };
    });
  }

  async revokeGrant(keyArn: string, grantId: string): Promise<void> {
    await this.run(keyArn, (kms) =>
      naming(`Grant ${grantId} on ${keyArn}`, () =>
        kms.send(new RevokeGrantCommand({ KeyId: keyArn, GrantId: grantId })),
      ),
    );
  }

  aliases(keyArn?: string): Promise<AliasInfo[]> {
    return this.run(keyArn ?? '', async (kms) => {
      const aliases: AliasInfo[] = [];
      let marker: string | undefined;
      do {
        const out = await kms.send(new ListAliasesCommand({ KeyId: keyArn, Limit: 100, Marker: marker }));
        for (const a of out.Aliases ?? []) {
          if (!a.AliasName || a.AliasName.startsWith('alias/aws/')) continue;
          aliases.push({
            name: a.AliasName,
            arn: a.AliasArn ?? '',
            ...(a.TargetKeyId ? { targetKeyId: a.TargetKeyId } : {}),
          });
        }
        marker = out.Truncated ? out.NextMarker : undefined;
      } while (marker);
      return aliases;
    });
  }

  aliasPage(limit: number, marker?: string, keyArn?: string): Promise<Page<AliasInfo>> {
    return this.run(keyArn ?? '', async (kms) => {
      const out = await kms.send(new ListAliasesCommand({ KeyId: keyArn, Limit: limit, Marker: marker }));
      return {
        items: (out.Aliases ?? [])
          .filter((a) => a.AliasName && !a.AliasName.startsWith('alias/aws/'))
          .map((a) => ({
            name: a.AliasName ?? '',
            arn: a.AliasArn ?? '',
            ...(a.TargetKeyId ? { targetKeyId: a.TargetKeyId } : {}),
          })),
        ...(out.Truncated && out.NextMarker ? { nextToken: out.NextMarker } : {}),
      };
    });
  }

  async createAlias(name: string, keyArn: string): Promise<void> {
    await this.run(keyArn, (kms) =>
      kms.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: keyArn })),
    );
  }

  async updateAlias(name: string, keyArn: string): Promise<void> {
    await this.run(keyArn, (kms) =>
      naming(`Alias ${name}`, () =>
        kms.send(new UpdateAliasCommand({ AliasName: name, TargetKeyId: keyArn })),
      ),
    );
  }

  async deleteAlias(name: string): Promise<void> {
    await this.run(name, (kms) =>
      naming(`Alias ${name}`, () => kms.send(new DeleteAliasCommand({ AliasName: name }))),
    );
  }
}
