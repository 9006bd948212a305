import { z } from 'zod';
import type { LocalAccess } from './access.js';
import { KmsError, notFound } from './errors.js';
import type { KeyStore } from './key-store.js';
import { type Operation, operation, requireNotPendingDeletion, seconds } from './operation.js';
import { aliasNameShape, cursorPaginate, keyIdShape, limitShape, markerShape } from './shapes.js';

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

/**
 * An alias operation needs the action on the alias (IAM) and on each key involved (key policy),
 * as KMS requires.
 */
function targetFor(store: KeyStore, access: LocalAccess, targetKeyId: string, action: string) {
  const key = store.resolve(targetKeyId, false);
  access.require(key, action);
  requireNotPendingDeletion(store, key);
  return key;
}

export const aliasOperations: Record<string, Operation> = {
  CreateAlias: operation(
    z.object({ AliasName: aliasNameShape, TargetKeyId: keyIdShape }),
    (input, { store, access }) => {
      checkAliasName(input.AliasName);
      access.requireIam('kms:CreateAlias', store.aliasArn(input.AliasName));
      const key = targetFor(store, access, input.TargetKeyId, 'kms:CreateAlias');
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
    (input, { store, access }) => {
      checkAliasName(input.AliasName);
      access.requireIam('kms:UpdateAlias', store.aliasArn(input.AliasName));
      const current = store.findAlias(input.AliasName);
      if (!current) throw notFound(`Alias ${store.aliasArn(input.AliasName)} is not found.`);
      const previous = store.findKey(current.targetKeyId);
      if (previous) access.require(previous, 'kms:UpdateAlias');
      const key = targetFor(store, access, input.TargetKeyId, 'kms:UpdateAlias');
      store.putAlias(input.AliasName, key.keyId);
      return {};
    },
  ),

  DeleteAlias: operation(z.object({ AliasName: aliasNameShape }), (input, { store, access }) => {
    access.requireIam('kms:DeleteAlias', store.aliasArn(input.AliasName));
    const current = store.findAlias(input.AliasName);
    if (!current) throw notFound(`Alias ${store.aliasArn(input.AliasName)} is not found.`);
    const target = store.findKey(current.targetKeyId);
    if (target) access.require(target, 'kms:DeleteAlias');
    store.deleteAlias(input.AliasName);
    return {};
  }),

  ListAliases: operation(
    z.object({ KeyId: keyIdShape.optional(), Limit: limitShape(100), Marker: markerShape }),
    (input, { store, access }) => {
      // ListAliases is decided by IAM alone, with or without a KeyId.
      access.requireIam('kms:ListAliases');
      const filterKey = input.KeyId === undefined ? undefined : store.resolve(input.KeyId, false).keyId;
      const { page, truncated, nextMarker } = cursorPaginate(
        store.markers,
        `aliases/${filterKey ?? '*'}`,
        input.Limit,
        input.Marker,
        50,
        (after, limit) => store.listAliases(filterKey, after, limit),
        (a) => a.name,
      );
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
