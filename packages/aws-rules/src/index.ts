/**
 * AWS's documented rules that both the service and the local emulators follow: IAM/KMS policy
 * evaluation (policy variables included) and grant narrowing, principal ARNs, the encryption context's canonical form and
 * checks, KMS's default key policy and policy-document checks, S3 bucket names, strict JSON
 * and base64.
 */
export * from './authz.js';
export * from './base64.js';
export * from './bucket-name.js';
export * from './encryption-context.js';
export * from './glob.js';
export * from './grants.js';
export * from './key-policy.js';
export * from './policy-variables.js';
export * from './principal.js';
export * from './request.js';
export * from './safe-json.js';
