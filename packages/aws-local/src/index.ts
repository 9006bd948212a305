/**
 * Local emulators of AWS KMS, S3, CloudWatch Logs and a Cognito user pool for development and tests: each speaks the AWS wire protocol
 * on loopback, verifies SigV4 signatures of local principals, and keeps its state in a data dir.
 * The pieces the local API gateway reuses (SigV4 checks, HTTP body intake, durable files) are
 * exported too.
 */

export { fsyncDir, removeFileDurable, writeFileAtomic } from './atomic-file.js';
export {
  type LocalIdentityPool,
  type LocalIdentityPoolOptions,
  type LoginProvider,
  startLocalIdentityPool,
} from './cognito-identity/index.js';
export { type LocalUserPool, type LocalUserPoolOptions, startLocalUserPool } from './cognito-idp/index.js';
export type { PasswordPolicy } from './cognito-idp/passwords.js';
export { DEFAULT_ACCOUNT_ID, DEFAULT_HOST, DEFAULT_MAX_SKEW_SECONDS, DEFAULT_REGION } from './defaults.js';
export { decideInvoke, executeApiArn, type InvokeDecision, type InvokeRequest } from './execute-api.js';
export {
  type AcceptBodyOptions,
  type AcceptedBody,
  acceptBody,
  BodyBudget,
  type BodyRefusal,
  type BodyShare,
  closeIfUnread,
  declaredBodyLength,
  type Listening,
  listen,
} from './http-server.js';
export {
  APP_ROLE,
  APP_SESSION,
  type CognitoSession,
  EXPIRED_SESSION_RETENTION_MS,
  GRANTEE,
  KEY_MANAGER,
  KEY_USER,
  LocalIdentities,
  type LocalPrincipal,
  type LocalRole,
  MAX_SESSIONS,
  MAX_SESSIONS_PER_HOLDER,
  OUTSIDER,
  roleIdOf,
  SERVICE,
  SessionLimitError,
  type SessionRequest,
  sessionExpired,
  type TemporaryCredentials,
} from './identity.js';
export { type LocalKms, type LocalKmsOptions, type SeedKey, startLocalKms } from './kms/index.js';
export type { KmsRequestEvent } from './kms/server.js';
export type { KmsAuthorizer, KmsUse, KmsUseAnswer } from './kms-use.js';
export { type LocalLogs, type LocalLogsOptions, startLocalLogs } from './logs/index.js';
export type { LogsRequestEvent } from './logs/server.js';
export {
  type InventoryDelivery,
  type LocalS3,
  type LocalS3Options,
  type ObjectCreatedListener,
  startLocalS3,
} from './s3/index.js';
export type { S3RequestEvent } from './s3/server.js';
export {
  type BatchFunction,
  type BatchInvocationEvent,
  DEFAULT_CONCURRENCY as DEFAULT_BATCH_CONCURRENCY,
  DEFAULT_TASK_ATTEMPTS as DEFAULT_BATCH_TASK_ATTEMPTS,
  type LocalS3Control,
  type LocalS3ControlOptions,
  startLocalS3Control,
} from './s3control/index.js';
export {
  checkSigV4Headers,
  checkSigV4Payload,
  parseQuery,
  SIGV4_ERROR_TYPES,
  type SignedRequest,
  type SigV4Failure,
  signingKey,
  UNSIGNED_PAYLOAD,
  uriEscape,
  type VerifyOptions,
  type VerifyResult,
  verifySigV4,
} from './sigv4.js';
