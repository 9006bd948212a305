import type { WrappingAlgorithm } from './key-import.js';
import type {
  AliasAnswer,
  CreateGrantInput,
  CreateKeyAnswer,
  CreateKeyInput,
  Grant,
  KeyAnswer,
  KeyDetails,
  PageOptions,
  PolicyAnswer,
  PolicyInput,
  PublicKeyAnswer,
  Rotation,
  RotationAnswer,
  RotationsAnswer,
} from './key-types.js';
import type { Requester } from './types.js';

const keyPath = (keyId: string, rest = '') => `/v1/keys/${encodeURIComponent(keyId)}${rest}`;
const aliasPath = (name: string) => `/v1/aliases/${encodeURIComponent(name)}`;

/** A listing's query: `limit` and `nextToken` when given, and any other parameters. */
export function pageQuery(page: PageOptions = {}, extra: Record<string, string | undefined> = {}) {
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) query[k] = v;
  if (page.limit !== undefined) query.limit = String(page.limit);
  if (page.nextToken) query.nextToken = page.nextToken;
  return query;
}

/** What an import needs of the client: its flat methods (`EaasClient.importKey` and its parts). */
export interface KeyImporter {
  importParameters(
    keyId: string,
    options?: { wrappingKeySpec?: string; wrappingAlgorithm?: WrappingAlgorithm },
  ): Promise<{
    keyId: string;
    wrappingKeySpec: string;
    wrappingAlgorithm: WrappingAlgorithm;
    publicKey: string;
    publicKeyPem: string;
    importToken: string;
    parametersValidTo?: string;
  }>;
  importKeyMaterial(
    keyId: string,
    input: {
      importToken: string;
      encryptedKeyMaterial: Uint8Array;
      expirationModel?: 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE';
      validTo?: Date;
    },
  ): Promise<KeyAnswer>;
  importKey(
    keyId: string,
    material: Uint8Array,
    options?: { wrappingAlgorithm?: WrappingAlgorithm; wrappingKeySpec?: string; validTo?: Date },
  ): Promise<KeyAnswer>;
}

/** The key routes (`/v1/keys...`, `/v1/aliases...`): one typed method per route. */
export class KeysApi {
  constructor(private readonly client: Requester & KeyImporter) {}

  /** POST /v1/keys: creates a key; the caller administers it. */
  create(input: CreateKeyInput = {}): Promise<CreateKeyAnswer> {
    return this.client.request('POST', '/v1/keys', input);
  }

  /** GET /v1/keys: the keys the caller administers or uses, one page. */
  list(page?: PageOptions): Promise<{ keys: KeyDetails[]; nextToken?: string }> {
    return this.client.request('GET', '/v1/keys', undefined, pageQuery(page));
  }

  /** GET /v1/keys/{keyId}: a key (id, ARN or alias) with its aliases and tags. */
  describe(keyId: string): Promise<KeyAnswer> {
    return this.client.request('GET', keyPath(keyId));
  }

  enable(keyId: string): Promise<KeyAnswer> {
    return this.client.request('POST', keyPath(keyId, '/enable'));
  }

  disable(keyId: string): Promise<KeyAnswer> {
    return this.client.request('POST', keyPath(keyId, '/disable'));
  }

  /** DELETE /v1/keys/{keyId}: deletion in `pendingWindowInDays` (7-30, default 30). */
  scheduleDeletion(keyId: string, pendingWindowInDays?: number): Promise<KeyAnswer> {
    const query =
      pendingWindowInDays === undefined ? undefined : { pendingWindowInDays: String(pendingWindowInDays) };
    return this.client.request('DELETE', keyPath(keyId), undefined, query);
  }

  /** Cancels a scheduled deletion: the key stays disabled. */
  cancelDeletion(keyId: string): Promise<KeyAnswer> {
    return this.client.request('POST', keyPath(keyId, '/cancel-deletion'));
  }

  getRotation(keyId: string): Promise<RotationAnswer> {
    return this.client.request('GET', keyPath(keyId, '/rotation'));
  }

  /** Turns automatic rotation on (every `periodInDays`, 90-2560) or off. */
  putRotation(keyId: string, rotation: Rotation): Promise<RotationAnswer> {
    return this.client.request('PUT', keyPath(keyId, '/rotation'), rotation);
  }

  /** Rotates the key material now. */
  rotate(keyId: string): Promise<{ keyId: string }> {
    return this.client.request('POST', keyPath(keyId, '/rotate'));
  }

  listRotations(keyId: string, page?: PageOptions): Promise<RotationsAnswer> {
    return this.client.request('GET', keyPath(keyId, '/rotations'), undefined, pageQuery(page));
  }

  getPolicy(keyId: string): Promise<PolicyAnswer> {
    return this.client.request('GET', keyPath(keyId, '/policy'));
  }

  /** Sets administrators and users, or a whole policy document. */
  putPolicy(keyId: string, input: PolicyInput): Promise<PolicyAnswer> {
    return this.client.request('PUT', keyPath(keyId, '/policy'), input);
  }

  createGrant(
    keyId: string,
    input: CreateGrantInput,
  ): Promise<{ keyId: string; grantId: string; grantToken: string }> {
    return this.client.request('POST', keyPath(keyId, '/grants'), input);
  }

  listGrants(
    keyId: string,
    page?: PageOptions,
  ): Promise<{ keyId: string; grants: Grant[]; nextToken?: string }> {
    return this.client.request('GET', keyPath(keyId, '/grants'), undefined, pageQuery(page));
  }

  revokeGrant(keyId: string, grantId: string): Promise<{ keyId: string; grantId: string; revoked: boolean }> {
    return this.client.request('DELETE', keyPath(keyId, `/grants/${encodeURIComponent(grantId)}`));
  }

  /** A wrapping public key and import token for an EXTERNAL key (valid 24 hours). */
  importParameters(
    keyId: string,
    options: { wrappingKeySpec?: string; wrappingAlgorithm?: WrappingAlgorithm } = {},
  ): ReturnType<KeyImporter['importParameters']> {
    return this.client.importParameters(keyId, options);
  }

  /** Imports material already wrapped with `importParameters`' key and algorithm. */
  importMaterial(keyId: string, input: Parameters<KeyImporter['importKeyMaterial']>[1]): Promise<KeyAnswer> {
    return this.client.importKeyMaterial(keyId, input);
  }

  /** Parameters, wrapping in this process, import: the material never leaves it unwrapped (see EaasClient.importKey). */
  importKey(
    keyId: string,
    material: Uint8Array,
    options?: Parameters<KeyImporter['importKey']>[2],
  ): Promise<KeyAnswer> {
    return this.client.importKey(keyId, material, options);
  }

  /** Deletes imported material: the key is PendingImport until it is imported again. */
  deleteMaterial(keyId: string): Promise<KeyAnswer> {
    return this.client.request('DELETE', keyPath(keyId, '/material'));
  }

  /** The public key of an asymmetric key: DER bytes and PEM. */
  async publicKey(keyId: string): Promise<PublicKeyAnswer> {
    const out = await this.client.request<Omit<PublicKeyAnswer, 'publicKey'> & { publicKey: string }>(
      'GET',
      keyPath(keyId, '/public-key'),
    );
    return { ...out, publicKey: Buffer.from(out.publicKey, 'base64') };
  }

  /** Aliases of the keys the caller may describe; only `keyId`'s when given. */
  listAliases(
    options: PageOptions & { keyId?: string } = {},
  ): Promise<{ aliases: { name: string; keyId: string }[]; nextToken?: string }> {
    const { keyId, ...page } = options;
    return this.client.request('GET', '/v1/aliases', undefined, pageQuery(page, { keyId }));
  }

  /** Creates an alias, or points it at another key. */
  putAlias(name: string, keyId: string): Promise<AliasAnswer> {
    return this.client.request('PUT', aliasPath(name), { keyId });
  }

  deleteAlias(name: string): Promise<AliasAnswer> {
    return this.client.request('DELETE', aliasPath(name));
  }
}
