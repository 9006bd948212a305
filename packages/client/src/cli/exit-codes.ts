import { EaasError, InvalidRequestError } from '../errors.js';

/**
 * The command line's exit codes, one per class of error, so scripts can tell a refusal they should
 * not retry from one they should. docs/cli.md lists them; `eaas help exit-codes` prints them.
 */
export const EXIT = {
  ok: 0,
  /** The service failed (5xx), could not be reached, or anything unforeseen. Retrying may help. */
  internal: 1,
  /** The command line or the request is wrong: unknown option, missing argument, a 400 refusal. */
  usage: 2,
  /** No credentials, or the API did not accept them (bad signature, expired, unknown key id). */
  authentication: 3,
  /** The caller is known but may not do this (403 AccessDenied). */
  accessDenied: 4,
  /** No such key, document, job or route (404). */
  notFound: 5,
  /** The state forbids it: a disabled key, a changed document, an existing name (409, 410, 412). */
  conflict: 6,
  /** Throttled or over a quota (429), or a resource changed under the request (409 ConcurrentModification): retry later, with backoff. */
  throttled: 7,
  /** The ciphertext, document or message could not be decrypted and authenticated. */
  invalidCiphertext: 8,
  /** `jobs watch`: the job finished, but some objects under its keys could not be re-wrapped. */
  jobFailures: 9,
  /** Interrupted (Ctrl-C): 128 + SIGINT, as shells report it. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** API Gateway's own refusals of a request's signature or credentials (its `x-amzn-ErrorType`). */
const AUTHENTICATION_CODES = new Set([
  'IncompleteSignatureException',
  'InvalidSignatureException',
  'MissingAuthenticationTokenException',
  'ExpiredTokenException',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'CredentialsProviderError',
]);

/** An error the command line itself raises for a wrong invocation: exit 2, its message as it is. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** An error the command line raises with a given exit class and a code to print (e.g. a local file's). */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    readonly code: string,
    message: string,
    readonly exit: ExitCode,
  ) {
    super(message);
  }
}

/** The exit code of an error, by its class. */
export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof UsageError || error instanceof InvalidRequestError) return EXIT.usage;
  if (error instanceof CliError) return error.exit;
  if (error instanceof EaasError) {
    if (error.code === 'InvalidCiphertext') return EXIT.invalidCiphertext;
    if (AUTHENTICATION_CODES.has(error.code) || error.status === 401) return EXIT.authentication;
    if (error.status === 403) return EXIT.accessDenied;
    if (error.status === 404) return EXIT.notFound;
    // A race lost to another writer: retrying may succeed, unlike the other 409s.
    if (error.code === 'ConcurrentModification') return EXIT.throttled;
    if (error.status === 409 || error.status === 410 || error.status === 412) return EXIT.conflict;
    if (error.status === 429) return EXIT.throttled;
    if (error.status >= 400 && error.status < 500) return EXIT.usage;
    return EXIT.internal;
  }
  const name = (error as { name?: string } | undefined)?.name;
  if (name && AUTHENTICATION_CODES.has(name)) return EXIT.authentication;
  return EXIT.internal;
}
