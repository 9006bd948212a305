import type { KeyView } from './types.js';

/** The answers of the key routes (src/http/schemas.ts), as the typed client returns them. */

export type KeyUsage = 'ENCRYPT_DECRYPT' | 'SIGN_VERIFY' | 'GENERATE_VERIFY_MAC';
export type Origin = 'AWS_KMS' | 'EXTERNAL';

/** A key as describe and the listings show it: with its aliases, tags and the caller's access. */
export interface KeyDetails extends KeyView {
  deletionDate?: string;
  pendingWindowInDays?: number;
  aliases?: string[];
  tags?: Record<string, string>;
  access?: { administer?: boolean; use?: boolean };
}

export interface Rotation {
  enabled: boolean;
  periodInDays?: number;
}

export interface CreateKeyInput {
  description?: string;
  administrators?: string[];
  users?: string[];
  tags?: Record<string, string>;
  alias?: string;
  rotation?: Rotation;
  keySpec?: string;
  keyUsage?: KeyUsage;
  origin?: Origin;
}

export interface CreateKeyAnswer {
  key: KeyDetails;
  administrators: string[];
  users: string[];
  rotation?: Rotation;
  alias?: string;
}

export interface KeyAnswer {
  key: KeyDetails;
}

/** One page of a listing: `nextToken` (opaque, for the same caller) when there is more. */
export interface PageOptions {
  limit?: number;
  nextToken?: string;
}

export interface RotationAnswer {
  keyId: string;
  enabled: boolean;
  periodInDays?: number;
  nextRotationDate?: string;
}

export interface RotationsAnswer {
  keyId: string;
  rotations: {
    keyMaterialId?: string;
    current?: boolean;
    rotationType?: 'AUTOMATIC' | 'ON_DEMAND';
    rotationDate?: string;
  }[];
  nextToken?: string;
}

export interface PolicyAnswer {
  keyId: string;
  administrators: string[];
  users: string[];
  /** Whether the policy is exactly as the service writes it. */
  managed: boolean;
  /**
   * Whether the service wrote it in an earlier version, or naming other roles: putting the same
   * administrators and users brings it to today's (`eaas keys policy upgrade`).
   */
  outdated: boolean;
  policy: Record<string, unknown> | string;
}

export type PolicyInput =
  | { administrators?: string[]; users?: string[] }
  | { policy: Record<string, unknown> | string };

export interface GrantConstraints {
  encryptionContextSubset?: Record<string, string>;
  encryptionContextEquals?: Record<string, string>;
}

export interface CreateGrantInput {
  grantee: string;
  operations: string[];
  constraints?: GrantConstraints;
  name?: string;
  retiringPrincipal?: string;
}

export interface Grant {
  grantId: string;
  name?: string;
  grantee: string;
  retiringPrincipal?: string;
  operations: string[];
  constraints?: GrantConstraints;
  createdAt?: string;
}

export interface AliasAnswer {
  alias: string;
  keyId: string;
  created?: boolean;
  deleted?: boolean;
}

export interface PublicKeyAnswer {
  keyId: string;
  /** DER SubjectPublicKeyInfo. */
  publicKey: Uint8Array;
  publicKeyPem: string;
  keySpec: string;
  keyUsage: string;
  signingAlgorithms?: string[];
  encryptionAlgorithms?: string[];
}
