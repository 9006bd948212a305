import { APP_SESSION, GRANTEE, KEY_MANAGER, KEY_USER, OUTSIDER } from '../../src/identity.js';

/** The kinds of caller the authorization matrices run as. */
export type Who = 'admin' | 'user' | 'grantee' | 'outsider' | 'session' | 'revoked';

/** The local principal of each kind; the revoked caller is the grantee, on a key whose grant was revoked. */
export const PRINCIPAL: Readonly<Record<Who, string>> = {
  admin: KEY_MANAGER,
  user: KEY_USER,
  grantee: GRANTEE,
  outsider: OUTSIDER,
  session: APP_SESSION,
  revoked: GRANTEE,
};

/** Denied callers first, the administrator last: its allowed calls change the key (and are undone). */
export const COLUMNS: readonly Who[] = ['outsider', 'grantee', 'user', 'session', 'revoked', 'admin'];
