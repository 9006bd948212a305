import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Makes the folder's entries (created, renamed or removed files) durable. */
export function fsyncDir(dir: string): void {
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/**
 * Writes a file so that a crash at any point leaves either the old content or the new one,
 * never a torn mix: write a temporary sibling, fsync it, rename it over the target, fsync the folder.
 * `syncDir: false` leaves the folder's fsync to the caller, who writes many files and syncs once.
 */
export function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode = 0o600,
  { syncDir = true }: { syncDir?: boolean } = {},
): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    unlinkSync(tmp);
    throw error;
  }
  closeSync(fd);
  renameSync(tmp, path);
  if (syncDir) fsyncDir(dir);
}

/** Removes a file durably (the folder is fsynced); a file already absent is not an error. */
export function removeFileDurable(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  fsyncDir(dirname(path));
}
