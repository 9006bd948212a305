import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * What `eaas put` keeps to resume an interrupted upload: one small file per upload under
 * `$XDG_STATE_HOME/eaas/uploads/` (~/.local/state), mode 0600 in a 0700 directory, named by a
 * hash of what the upload is of (the file's absolute path, size and modification time, the
 * destination, key, context and the API's URL), holding only the upload's id and its expiry:
 * never a byte of the document, a URL or a key.
 */

export interface ResumeEntry {
  v: 1;
  uploadId: string;
  expiresAt: string;
}

export interface UploadIdentity {
  path: string;
  size: number;
  mtimeMs: number;
  key: string;
  keyId: string;
  endpoint: string;
  context?: Record<string, string> | undefined;
  contentType?: string | undefined;
  overwrite?: boolean | undefined;
}

export function stateDir(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'eaas', 'uploads');
}

/** The state file of an upload of this file to this destination. */
export function statePath(env: NodeJS.ProcessEnv, of: UploadIdentity): string {
  const name = createHash('sha256')
    .update(
      JSON.stringify([
        of.path,
        of.size,
        of.mtimeMs,
        of.key,
        of.keyId,
        of.endpoint,
        of.context ?? null,
        of.contentType ?? null,
        of.overwrite ?? null,
      ]),
    )
    .digest('hex');
  return join(stateDir(env), `${name}.json`);
}

/** The upload to resume, if any and not expired; a damaged file counts as none. */
export async function readState(path: string, now = Date.now()): Promise<ResumeEntry | undefined> {
  try {
    const entry = JSON.parse(await readFile(path, 'utf8')) as ResumeEntry;
    if (entry.v !== 1 || !/^[0-9a-f]{32}$/.test(entry.uploadId)) return undefined;
    if (Date.parse(entry.expiresAt) <= now) return undefined;
    return entry;
  } catch {
    return undefined;
  }
}

export async function writeState(path: string, dir: string, entry: ResumeEntry): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temporary = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, JSON.stringify(entry), { mode: 0o600, flag: 'wx' });
  await rename(temporary, path);
}

export async function dropState(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}
