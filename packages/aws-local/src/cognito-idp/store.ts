import { createHash, randomInt, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../atomic-file.js';

/**
 * The state of the local user pool, kept in `<dataDir>/cognito-idp/pool.json` (mode 0600, written
 * atomically): the pool and app client ids, the users (passwords as scrypt hashes only) and the
 * refresh tokens (as SHA-256 hashes only). Authorization codes and managed-login sessions live in
 * memory only, as they are short-lived.
 */

export type UserStatus = 'FORCE_CHANGE_PASSWORD' | 'CONFIRMED';

const userSchema = z.object({
  username: z.string(),
  sub: z.string(),
  email: z.string().optional(),
  emailVerified: z.boolean(),
  status: z.enum(['FORCE_CHANGE_PASSWORD', 'CONFIRMED']),
  enabled: z.boolean(),
  passwordHash: z.string(),
  created: z.number(),
  modified: z.number(),
});
export type UserRecord = z.infer<typeof userSchema>;

const refreshSchema = z.object({
  hash: z.string(),
  sub: z.string(),
  clientId: z.string(),
  originJti: z.string(),
  authTime: z.number(),
  scope: z.string(),
  expires: z.number(),
  revoked: z.boolean(),
});
export type RefreshRecord = z.infer<typeof refreshSchema>;

const fileSchema = z.object({
  version: z.literal(1),
  userPoolId: z.string(),
  clientId: z.string(),
  created: z.number(),
  users: z.array(userSchema),
  refreshTokens: z.array(refreshSchema),
});
type PoolFile = z.infer<typeof fileSchema>;

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const LOWER_ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
const pick = (alphabet: string, n: number) =>
  Array.from({ length: n }, () => alphabet[randomInt(alphabet.length)]).join('');

/** Live refresh tokens one user keeps per app client; a new one beyond forgets (revokes) the oldest. */
export const MAX_REFRESH_TOKENS = 20;

/** SHA-256 of a secret (a refresh token, a code, a session id), as it is kept. */
export const digest = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('base64url');

export class PoolStore {
  private readonly file: string;
  private state: PoolFile;

  constructor(dataDir: string, region: string, now: number) {
    this.file = join(dataDir, 'cognito-idp', 'pool.json');
    this.madeNow = !existsSync(this.file);
    if (!this.madeNow) {
      this.state = fileSchema.parse(JSON.parse(readFileSync(this.file, 'utf8')));
    } else {
      this.state = {
        version: 1,
        // `<region>_<9 alnum>` like Cognito's pool ids; app client ids are 26 lowercase alnum.
        userPoolId: `${region}_${pick(ALNUM, 9)}`,
        clientId: pick(LOWER_ALNUM, 26),
        created: now,
        users: [],
        refreshTokens: [],
      };
      this.save();
    }
  }

  get userPoolId(): string {
    return this.state.userPoolId;
  }
  get clientId(): string {
    return this.state.clientId;
  }
  get created(): number {
    return this.state.created;
  }
  /** Whether this start made the pool (its file did not exist). */
  readonly madeNow: boolean;

  private save(): void {
    writeFileAtomic(this.file, `${JSON.stringify(this.state, null, 2)}\n`);
  }

  get users(): readonly UserRecord[] {
    return this.state.users;
  }

  /** Usernames compare case-insensitively, as in a pool made with CaseSensitive false (Cognito's default since 2020). */
  user(username: string): UserRecord | undefined {
    const key = username.toLowerCase();
    return this.state.users.find((u) => u.username.toLowerCase() === key);
  }

  userBySub(sub: string): UserRecord | undefined {
    return this.state.users.find((u) => u.sub === sub);
  }

  addUser(user: Omit<UserRecord, 'sub'>): UserRecord {
    const record = { ...user, sub: randomUUID() };
    this.state.users.push(record);
    this.save();
    return record;
  }

  updateUser(
    username: string,
    change: Partial<Omit<UserRecord, 'sub' | 'username'>>,
    now: number,
  ): UserRecord {
    const user = this.user(username);
    if (!user) throw new Error(`no user ${username}`);
    Object.assign(user, change, { modified: now });
    this.save();
    return user;
  }

  deleteUser(username: string): void {
    const user = this.user(username);
    if (!user) return;
    this.state.users = this.state.users.filter((u) => u !== user);
    this.state.refreshTokens = this.state.refreshTokens.filter((t) => t.sub !== user.sub);
    this.save();
  }

  /**
   * Keeps a new refresh token. Each user keeps at most MAX_REFRESH_TOKENS live ones per app client:
   * beyond, the oldest is forgotten. Revoked records, and expired ones whose last minted tokens
   * (`mintedMs` long) have expired too, are dropped. A token whose `origin_jti` names no live
   * record is refused (originRevoked), so forgetting a record revokes what was minted from it.
   */
  addRefreshToken(
    token: string,
    record: Omit<RefreshRecord, 'hash' | 'revoked'>,
    now: number,
    mintedMs: number,
  ): void {
    const kept = this.state.refreshTokens.filter((t) => !t.revoked && t.expires + mintedMs > now);
    const own = kept.filter((t) => t.sub === record.sub && t.clientId === record.clientId);
    const dropped = new Set(own.slice(0, Math.max(0, own.length - (MAX_REFRESH_TOKENS - 1))));
    this.state.refreshTokens = kept.filter((t) => !dropped.has(t));
    this.state.refreshTokens.push({ ...record, hash: digest(token), revoked: false });
    this.save();
  }

  refreshToken(token: string): RefreshRecord | undefined {
    const hash = digest(token);
    return this.state.refreshTokens.find((t) => t.hash === hash);
  }

  revoke(record: RefreshRecord): void {
    record.revoked = true;
    this.save();
  }

  /**
   * Whether a token's person may still use it, as Cognito's server-side token check asks the user
   * pool: the user (`sub`) exists and is enabled, and the refresh token it came from
   * (`origin_jti`) is not revoked.
   */
  tokenActive(claims: Readonly<Record<string, unknown>>): boolean {
    const user = typeof claims.sub === 'string' ? this.userBySub(claims.sub) : undefined;
    if (!user?.enabled) return false;
    return typeof claims.origin_jti === 'string' && !this.originRevoked(claims.origin_jti);
  }

  /**
   * Whether tokens minted from this origin (a refresh token's `origin_jti`) are revoked: its
   * record is revoked, or gone (forgotten beyond the cap, its user deleted).
   */
  originRevoked(originJti: string): boolean {
    return !this.state.refreshTokens.some((t) => t.originJti === originJti && !t.revoked);
  }
}
