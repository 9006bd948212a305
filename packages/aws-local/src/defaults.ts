/** Defaults shared by the local KMS and S3 when their options leave a setting out. */

/** The account of AWS's documentation examples. */
export const DEFAULT_ACCOUNT_ID = '111122223333';
export const DEFAULT_REGION = 'us-east-1';
/** The emulators listen on loopback only. */
export const DEFAULT_HOST = '127.0.0.1';
/** AWS accepts a request signed up to five minutes from its clock. */
export const DEFAULT_MAX_SKEW_SECONDS = 300;
