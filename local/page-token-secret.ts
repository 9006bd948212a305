import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '@eaas/aws-local';
import { MIN_PAGE_TOKEN_SECRET_BYTES } from '../src/core/page-token.js';

/**
 * The local stack's page-token secret when EAAS_PAGE_TOKEN_SECRET is unset: made once into the
 * data dir (mode 0600), so that tokens stay valid across restarts, as they do across Lambda
 * instances in AWS.
 */
export function loadOrCreatePageTokenSecret(dataDir: string): Buffer {
  const file = join(dataDir, 'page-token.key');
  if (existsSync(file)) {
    const secret = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (secret.length < MIN_PAGE_TOKEN_SECRET_BYTES)
      throw new Error(`${file} does not hold the base64 of ${MIN_PAGE_TOKEN_SECRET_BYTES} or more bytes`);
    return secret;
  }
  const secret = randomBytes(32);
  writeFileAtomic(file, `${secret.toString('base64')}\n`, 0o600);
  return secret;
}
