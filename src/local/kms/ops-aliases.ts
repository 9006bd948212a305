import { z } from 'zod';
import { KmsError, notFound } from './errors.js';
import type { KeyStore } from './key-store.js';
import { type Operation, operation, requireNotPendingDeletion, seconds } from './operation.js';
import { aliasNameShape, keyIdShape, limitShape, markerShape, paginate } from './shapes.js';

/** Precondition: an alias name a customer may own (`alias/...`, not the AWS-managed `alias/aws/...`). */
function checkAliasName(name: string): void {
  if (!name.startsWith('alias/') || name.length === 'alias/'.length) {
    throw new KmsError(
      'InvalidAliasNameException',
      'Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html',
    );
  }
  if (name.startsWith('alias/aws/')) {
    throw new KmsError(
      'InvalidAliasNameException',
      'Alias names beginning with alias/aws/ are reserved for AWS managed keys.',
    );
  }
}

function targetFor(store: KeyStore, targetKeyId: string) {
  const key = store.resolve(targetKeyId, false);
  requireNotPendingDeletion(store, key);
  return key;
}

export const aliasOperations: Record<string, Operation> = {
  CreateAlias: operation(
    z.object({ AliasName: aliasNameShape, TargetKeyId: keyIdShape }),
    (input, { store }) => {
      checkAliasName(input.AliasName);
      const key = targetFor(store, input.TargetKeyId);
      if (store.findAlias(input.AliasName)) {
        throw new KmsError(
          'AlreadyExistsException',
          `An alias with the name ${store.aliasArn(input.AliasName)} already exists`,
        );
      }
      store.putAlias(input.AliasName, key.keyId);
      return {};
    },
  ),

  UpdateAlias: operation(
    z.object({ AliasName: aliasNameShape, TargetKeyId: keyIdShape }),
    (input, { store }) => {
      checkAliasName(input.AliasName);
      if (!store.findAlias(input.AliasName))
        throw notFound(`Alias ${store.aliasArn(input.AliasName)} is not found.`);
      const key = targetFor(store, input.TargetKeyId);
      store.putAlias(input.AliasName, key.keyId);
      return {};
    },
  ),

  DeleteAlias: operation(z.object({ AliasName: aliasNameShape }), (input, { store }) => {
    if (!store.findAlias(input.AliasName))
      throw notFound(`Alias ${store.aliasArn(input.AliasName)} is not found.`);
    store.deleteAlias(input.AliasName);
    return {};
  }),

  ListAliases: operation(
    z.object({ KeyId: keyIdShape.optional(), Limit: limitShape(100), Marker: markerShape }),
    (input, { store }) => {
      const filterKey = input.KeyId === undefined ? undefined : store.resolve(input.KeyId, false).keyId;
      const aliases = store.aliases().filter((a) => filterKey === undefined || a.targetKeyId === filterKey);
      const { page, truncated, nextMarker } = paginate(aliases, input.Limit, input.Marker, 50);
      return {
        Aliases: page.map((a) => ({
          AliasName: a.name,
          AliasArn: store.aliasArn(a.name),
          TargetKeyId: a.targetKeyId,
          CreationDate: seconds(a.createdAt),
          LastUpdatedDate: seconds(a.updatedAt),
        })),
        Truncated: truncated,
        ...(nextMarker ? { NextMarker: nextMarker } : {}),
      };
    },
  ),
};
