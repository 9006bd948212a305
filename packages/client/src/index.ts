/**
 * The typed client of the eaas API: this module only gathers the client's parts; none of them
 * imports it (shared shapes are in `types.ts`, the error in `errors.ts`), so no cycle can form.
 */
export { DocumentsApi } from './documents-api.js';
export type {
  ContentCipher,
  CreatedUpload,
  CreateUploadInput,
  DownloadTicket,
  ObjectFormat,
  ObjectPage,
  ObjectView,
  PartUrl,
  PutObjectResult,
  ResumedUpload,
  UploadStatus,
} from './documents-types.js';
export { EaasClient } from './eaas-client.js';
export { EaasError, InvalidRequestError } from './errors.js';
export {
  DATA_KEY_CACHE_DEFAULTS,
  DataKeyCache,
  type DataKeyCacheOptions,
  MAX_BYTES_PER_CACHED_KEY,
  MAX_CACHE_AGE_SECONDS,
  MAX_MESSAGES_PER_CACHED_KEY,
} from './esdk/data-key-cache.js';
export {
  type ApiKeyringOptions,
  type ApiMaterialsManagerOptions,
  apiKeyring,
  apiMaterialsManager,
  type CacheOption,
  decryptMessage,
  decryptStream,
  ESDK_FRAME_LENGTH,
  ESDK_SUITE,
  encryptMessage,
  encryptStream,
  MAX_ENCRYPTED_DATA_KEYS,
  messageKind,
} from './esdk/esdk.js';
export {
  type ApiKmsClientOptions,
  apiKmsClient,
  callerContext,
  type KmsLikeClient,
} from './esdk/kms-adapter.js';
export { GcmOpenError, type GcmParameters, openGcmStream } from './gcm-open.js';
export { JobsApi, type StartJobInput } from './jobs-api.js';
export {
  checkImportParameters,
  privateKeyMaterial,
  type WrappingAlgorithm,
  wrapKeyMaterial,
} from './key-import.js';
export type {
  AliasAnswer,
  CreateGrantInput,
  CreateKeyAnswer,
  CreateKeyInput,
  Grant,
  GrantConstraints,
  KeyAnswer,
  KeyDetails,
  KeyUsage,
  Origin,
  PageOptions,
  PolicyAnswer,
  PolicyInput,
  PublicKeyAnswer,
  Rotation,
  RotationAnswer,
  RotationsAnswer,
} from './key-types.js';
export { type KeyImporter, KeysApi } from './keys-api.js';
export {
  type Downloaded,
  type DownloadOptions,
  decryptInto,
  downloadDocument,
  type UploadInput,
  type UploadOptions,
  type UploadProgress,
  type UploadStarted,
  uploadDocument,
  waitForSeal,
} from './transfer.js';
export type {
  BytesResponse,
  ClientOptions,
  Context,
  EncryptionAlgorithm,
  Format,
  ItemResult,
  JobView,
  KeyView,
  MessageType,
  RawResponse,
  Requester,
  StreamRequester,
  StreamResponse,
} from './types.js';
