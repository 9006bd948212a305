import { ApiError } from './signed-api.js';

/** What the person was doing when something failed; the same code reads differently in each. */
export type Activity = 'sign-in' | 'keys' | 'upload' | 'list' | 'download' | 'delete';

const NO_PERMISSION: Record<Activity, string> = {
  'sign-in': 'These credentials may not use the service.',
  keys: 'You may not list keys.',
  upload:
    'No permission: your account may not encrypt with this key. Only the key’s users may upload with it (its administrators may not); ask an administrator of the key to add you as a user.',
  list: 'No permission to list documents.',
  download:
    'No permission: your account may not decrypt this document. Ask an administrator of its key to add you as a user.',
  delete: 'No permission: your account may not delete this document.',
};

/**
 * A failure in plain words: what happened and what to do, never a stack trace. The server's own
 * message follows as detail where it adds something.
 */
export function plainWords(error: unknown, activity: Activity): string {
  if (!(error instanceof ApiError)) {
    return `Something went wrong in the page: ${error instanceof Error ? error.message : String(error)}`;
  }
  const detail = error.requestId ? ` (request ${error.requestId})` : '';
  switch (error.code) {
    case 'AccessDenied':
    case 'AccessDeniedException':
      return `${NO_PERMISSION[activity]}\nDetails: ${error.message}${detail}`;
    case 'UnrecognizedClientException':
    case 'MissingAuthenticationTokenException':
      return 'The access key is not known to the service. Check the access key id.';
    case 'InvalidSignatureException':
      return /expired|clock|time/i.test(error.message)
        ? 'The request was refused because this computer’s clock is off or the credentials expired. Fix the clock or sign in again.'
        : 'The secret access key does not match the access key id. Check both and sign in again.';
    case 'ExpiredToken':
    case 'ExpiredTokenException':
      return 'Your session has expired. Sign in again.';
    case 'Expired':
    case 'ExpiredLink':
    case 'UploadExpired':
      return 'The upload link expired before the file arrived. Upload the file again.';
    case 'TooLarge':
    case 'PayloadTooLarge':
    case 'EntityTooLarge':
      return `The file is too large. ${error.message}`;
    case 'SizeMismatch':
      return 'The file changed size while it was being uploaded. Upload it again.';
    case 'Cancelled':
      return 'Cancelled: nothing was kept.';
    case 'Conflict':
    case 'AlreadyExists':
    case 'PreconditionFailed':
      return 'A document with this name already exists. Rename the file, or tick “Replace documents with the same name”.';
    case 'SealFailed':
      return `The file arrived but could not be encrypted, so it was not kept. Try again.${detail}`;
    case 'KeyNotFound':
      return 'That key does not exist, or you may not see it. Pick another key.';
    case 'KeyDisabled':
      return 'That key is disabled. Ask its administrator to enable it, or pick another key.';
    case 'KeyPendingDeletion':
      return 'That key is scheduled for deletion and can no longer be used. Pick another key.';
    case 'NotFound':
    case 'NoSuchKey':
      return 'That document no longer exists.';
    case 'InvalidCiphertext':
    case 'Integrity':
      return 'The document could not be decrypted: it was changed after it was stored, or the key no longer opens it. Nothing was saved.';
    case 'ValidationError':
      return `The request was not valid: ${error.message}`;
    case 'Throttled':
      return 'The service is busy. Wait a moment and try again.';
    case 'StillSealing':
      return error.message;
    case 'Network':
      return 'The server could not be reached. Check your connection and try again.';
    default:
      if (error.status >= 500) return `The service failed to answer. Try again later.${detail}`;
      return `${error.message}${detail}`;
  }
}
