/**
 * Transfers of documents of any size (see upload.ts and download.ts), gathered here.
 */

export type { UploadStatus } from './documents-types.js';
export { type Downloaded, type DownloadOptions, decryptInto, downloadDocument } from './download.js';
export {
  type UploadInput,
  type UploadOptions,
  type UploadProgress,
  type UploadStarted,
  uploadDocument,
  waitForSeal,
} from './upload.js';
