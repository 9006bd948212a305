import { constants, createCipheriv, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import {
  type CreateKeyCommandInput,
  GetParametersForImportCommand,
  type GetParametersForImportCommandOutput,
  ImportKeyMaterialCommand,
  type ImportKeyMaterialCommandInput,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { consoleKeyPolicy, demoRoles, type HasPrincipals } from './keys.js';

/**
 * Imported key material in the tests: wrapping as the AWS docs describe it with OpenSSL
 * (https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-encrypt-key-material.html),
 * done with node:crypto: RSA-OAEP of the material, or RSA-OAEP of a fresh AES-256 key followed by
 * the material under AES key wrap with padding (RFC 5649).
 */
export function wrapMaterial(publicKey: Uint8Array, algorithm: string, material: Buffer): Buffer {
  const key = createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' });
  const oaepHash = algorithm.endsWith('SHA_1') ? 'sha1' : 'sha256';
  const rsa = (data: Buffer) =>
    publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, data);
  if (algorithm.startsWith('RSAES_OAEP')) return rsa(material);
  const aesKey = randomBytes(32);
  const kwp = createCipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('A65959A6', 'hex'));
  return Buffer.concat([rsa(aesKey), kwp.update(material), kwp.final()]);
}

/**
 * CreateKey input for a key with imported material under the console's policy, whose
 * administrators' statement also allows kms:ImportKeyMaterial, as the console writes it for such keys.
 */
export function externalKey(
  t: HasPrincipals,
  extra: Partial<CreateKeyCommandInput> = {},
): CreateKeyCommandInput {
  const policy = consoleKeyPolicy(demoRoles(t));
  const admins = policy.Statement.find((s) => s.Sid === 'Allow access for Key Administrators');
  if (admins && Array.isArray(admins.Action)) admins.Action = [...admins.Action, 'kms:ImportKeyMaterial'];
  return { Policy: JSON.stringify(policy), Origin: 'EXTERNAL', ...extra };
}

export interface ImportOptions {
  algorithm?:
    | 'RSAES_OAEP_SHA_1'
    | 'RSAES_OAEP_SHA_256'
    | 'RSA_AES_KEY_WRAP_SHA_1'
    | 'RSA_AES_KEY_WRAP_SHA_256';
  spec?: 'RSA_2048' | 'RSA_3072' | 'RSA_4096';
  /** Parameters from an earlier GetParametersForImport, instead of new ones. */
  params?: GetParametersForImportCommandOutput;
  input?: Partial<ImportKeyMaterialCommandInput>;
}

/** GetParametersForImport, wrap, ImportKeyMaterial (material that does not expire unless `input` says). */
export async function importMaterial(
  kms: KMSClient,
  keyId: string,
  material: Buffer,
  options: ImportOptions = {},
) {
  const algorithm = options.algorithm ?? 'RSAES_OAEP_SHA_256';
  const params =
    options.params ??
    (await kms.send(
      new GetParametersForImportCommand({
        KeyId: keyId,
        WrappingAlgorithm: algorithm,
        WrappingKeySpec: options.spec ?? 'RSA_2048',
      }),
    ));
  return kms.send(
    new ImportKeyMaterialCommand({
      KeyId: keyId,
      ImportToken: params.ImportToken,
      EncryptedKeyMaterial: wrapMaterial(params.PublicKey ?? new Uint8Array(), algorithm, material),
      ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
      ...options.input,
    }),
  );
}
