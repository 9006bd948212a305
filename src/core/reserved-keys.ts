import { INSTRUCTION_SUFFIX } from './envelope/index.js';

/**
 * The prefixes at the root of the vault that hold the service's own records, outside the
 * documents' key space: no document key may start with one, the object prefix may not lead into
 * one, and listings and jobs pass them over.
 */
export const RESERVED_PREFIXES: Readonly<Record<string, string>> = {
  'jobs/': 're-encryption job records',
  'quotas/': 'per-caller quota records',
  'uploads-verifying/': 'client-sealed uploads awaiting their verify step (never documents)',
};

/** The reserved prefix `key` starts with, if any. */
export function reservedPrefixOf(key: string): string | undefined {
  return Object.keys(RESERVED_PREFIXES).find((p) => key.startsWith(p));
}

/** Whether a stored key may be a document: not an instruction file, not one of the service's records. */
export function isDocumentKey(key: string): boolean {
  return !key.endsWith(INSTRUCTION_SUFFIX) && reservedPrefixOf(key) === undefined;
}
