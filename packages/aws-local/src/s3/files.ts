import { readFileSync, unlinkSync } from 'node:fs';

/** Small file helpers the local S3's stores share. */

export function isErrno(error: unknown, ...codes: string[]): boolean {
  return codes.includes((error as NodeJS.ErrnoException)?.code ?? '');
}

/** Removes a file that may already be gone (cleanup never fails a request). */
export function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone: nothing to clean
  }
}

/** A JSON file's content, or undefined when it is missing or damaged (the caller validates it). */
export function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}
