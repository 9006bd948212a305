import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from './atomic-file.js';
import { SessionTable } from './sessions.js';

/**
 * A local IAM principal with access keys, as the local stack knows it: an IAM user or role with
 * long-term keys, or an assumed-role session with temporary keys and a session token.
 */
export interface LocalPrincipal {
  /** Profile name in the credentials file. */
  readonly name: string;
  readonly arn: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Present for an assumed-role session: the X-Amz-Security-Token it must send. */
  readonly sessionToken?: string | undefined;
  /** Identity-based (IAM) policy documents attached to the principal (or the session's role). */
  readonly policies: readonly unknown[];
  /** A temporary session's end: from then on every service refuses its keys (ExpiredToken). */
  readonly expiresAt?: Date | undefined;
  /**
   * The condition keys (and policy variables) the session carries into every policy decision,
   * e.g. `cognito-identity.amazonaws.com:sub` for an identity pool's credentials.
   */
  readonly conditionKeys?: Readonly<Record<string, readonly string[]>> | undefined;
  /** A session an identity pool gave: who the person is, as API Gateway tells the function. */
  readonly cognito?: CognitoSession | undefined;
  /**
   * API Gateway's `caller`/`user` of the principal when it is not an IAM user's key: an
   * assumed-role session's `AROA…:<session name>` (the role's unique id and the session's name).
   */
  readonly userId?: string | undefined;
}

/** What an identity pool's session says of the person it was given to. */
export interface CognitoSession {
  /** `<region>:<uuid>`, the identity's id in the pool. */
  readonly identityId: string;
  readonly identityPoolId: string;
  /** API Gateway's `cognitoAuthenticationProvider`: `<provider>,<provider>:CognitoSignIn:<sub>`. */
  readonly authenticationProvider: string;
}

/** What `LocalIdentities.issueSession` takes: a role, and what the session carries. */
export interface SessionRequest {
  readonly role: LocalRole;
  readonly sessionName: string;
  /** Lifetime, in seconds from `now`. */
  readonly seconds: number;
  readonly conditionKeys: Readonly<Record<string, readonly string[]>>;
  readonly cognito?: CognitoSession | undefined;
  /** The issuing service's clock (the stack's `now`); the real time by default. */
  readonly now?: Date | undefined;
}

/** Temporary credentials, as STS and Cognito hand them out. */
export interface TemporaryCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly expiration: Date;
}

export {
  EXPIRED_SESSION_RETENTION_MS,
  MAX_SESSIONS,
  MAX_SESSIONS_PER_HOLDER,
  SessionLimitError,
} from './sessions.js';

/** Whether a principal is a temporary session past its end. */
export function sessionExpired(principal: LocalPrincipal, now: Date): boolean {
  return principal.expiresAt !== undefined && now.getTime() >= principal.expiresAt.getTime();
}

/** A role's unique id (`AROA…`), as IAM gives one: stable for the role's ARN here. */
export function roleIdOf(roleArn: string): string {
  const digest = createHash('sha256').update(roleArn).digest();
  let id = 'AROA';
  for (const b of digest.subarray(0, 17)) id += ACCESS_KEY_ALPHABET[b % ACCESS_KEY_ALPHABET.length];
  return id;
}

/** A role an application defines, with its identity-based policies. */
export interface LocalRole {
  /** Profile name in the credentials file. */
  readonly name: string;
  /** `arn:aws:iam::<account>:role/<name>`. */
  readonly arn: string;
  readonly policies: readonly unknown[];
}

/** The principals of the seed's demo and the service's own identity. */
export const KEY_MANAGER = 'myKeyManager';
export const KEY_USER = 'myKeyUser';
export const SERVICE = 'eaas-service';
/** A user with no IAM permissions, for grants. */
export const GRANTEE = 'myGrantee';
/** A user with no IAM permissions at all. */
export const OUTSIDER = 'myOutsider';
/** A session of the role `myAppRole`, as `sts:AssumeRole` would give one. */
export const APP_ROLE = 'myAppRole';
export const APP_SESSION = 'myAppRole-session';

/**
 * The IAM policies each seeded principal gets (editable in `principals.json`). They mirror what
 * the AWS key-policy tutorial gives its principals: the key manager may create keys and manage
 * aliases, the key user may list; neither may use or manage a key unless its key policy (or a
 * grant) says so. The service's role may call KMS, as `serverless.yml` lets it.
 */
function seedPolicies(name: string, accountId: string): unknown[] {
  const allow = (Action: string[], Resource = '*') => ({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action, Resource }],
  });
  switch (name) {
    case KEY_MANAGER:
      return [
        allow([
          'kms:CreateKey',
          // CreateKey's Tags need it (manage-tags-api.html); on an existing key, its policy decides.
          'kms:TagResource',
          'kms:ListKeys',
          'kms:ListAliases',
          'kms:ListRetirableGrants',
          'kms:GenerateRandom',
        ]),
        allow(
          ['kms:CreateAlias', 'kms:UpdateAlias', 'kms:DeleteAlias'],
          `arn:aws:kms:*:${accountId}:alias/*`,
        ),
        // The operator's reading of the audit trail (the local CloudWatch Logs' log groups).
        allow(
          ['logs:DescribeLogGroups', 'logs:DescribeLogStreams', 'logs:GetLogEvents', 'logs:FilterLogEvents'],
          `arn:aws:logs:*:${accountId}:log-group:*`,
        ),
        // The operator's administration of the local user pool's people.
        allow(
          [
            'cognito-idp:AdminCreateUser',
            'cognito-idp:AdminSetUserPassword',
            'cognito-idp:AdminDisableUser',
            'cognito-idp:AdminEnableUser',
            'cognito-idp:AdminGetUser',
            'cognito-idp:AdminDeleteUser',
            'cognito-idp:ListUsers',
            'cognito-idp:DescribeUserPool',
            'cognito-idp:DescribeUserPoolClient',
          ],
          `arn:aws:cognito-idp:*:${accountId}:userpool/*`,
        ),
        allow(['cognito-idp:ListUserPools']),
      ];
    case KEY_USER:
      return [allow(['kms:ListKeys', 'kms:ListAliases', 'kms:GenerateRandom'])];
    case SERVICE:
      return [allow(['kms:*']), allow(['logs:CreateLogStream', 'logs:PutLogEvents'])];
    default:
      return [];
  }
}

/**
 * A stored principal's policies with the seed policies added since the file was written: the key
 * manager's administration of the local user pool (`cognito-idp:*`), when none of its policies
 * names a `cognito-idp` action yet. Other edits of the file are kept.
 */
function withLaterSeedPolicies(name: string, policies: readonly unknown[], accountId: string): unknown[] {
  if (name !== KEY_MANAGER || JSON.stringify(policies).includes('"cognito-idp:')) return [...policies];
  return [
    ...policies,
    ...seedPolicies(name, accountId).filter((p) => JSON.stringify(p).includes('"cognito-idp:')),
  ];
}

const principalSchema = z.object({
  name: z.string(),
  arn: z.string(),
  accessKeyId: z.string(),
  secretAccessKey: z.string(),
  sessionToken: z.string().optional(),
  policies: z.array(z.unknown()).optional(),
});
const fileSchema = z.object({ accountId: z.string(), principals: z.array(principalSchema) });

const ACCESS_KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function newAccessKeyId(prefix = 'AKIA'): string {
  const bytes = randomBytes(16);
  let id = prefix;
  for (const b of bytes) id += ACCESS_KEY_ALPHABET[b % ACCESS_KEY_ALPHABET.length];
  return id;
}

function newSecretAccessKey(): string {
  return randomBytes(30).toString('base64').replace(/\+/g, 'A').replace(/\//g, 'B');
}

function seedPrincipals(accountId: string): LocalPrincipal[] {
  const make = (name: string, arn: string, session = false): LocalPrincipal => ({
    name,
    arn,
    accessKeyId: newAccessKeyId(session ? 'ASIA' : 'AKIA'),
    secretAccessKey: newSecretAccessKey(),
    ...(session ? { sessionToken: randomBytes(48).toString('base64') } : {}),
    policies: seedPolicies(name, accountId),
  });
  return [
    make(KEY_MANAGER, `arn:aws:iam::${accountId}:user/${KEY_MANAGER}`),
    make(KEY_USER, `arn:aws:iam::${accountId}:user/${KEY_USER}`),
    make(SERVICE, `arn:aws:iam::${accountId}:role/${SERVICE}`),
    make(GRANTEE, `arn:aws:iam::${accountId}:user/${GRANTEE}`),
    make(OUTSIDER, `arn:aws:iam::${accountId}:user/${OUTSIDER}`),
    make(APP_SESSION, `arn:aws:sts::${accountId}:assumed-role/${APP_ROLE}/app-session`, true),
  ];
}

/** Renders principals as an AWS shared credentials file, one profile per principal. */
export function renderCredentialsFile(principals: readonly LocalPrincipal[]): string {
  return principals
    .map(
      (p) =>
        `[${p.name}]\naws_access_key_id = ${p.accessKeyId}\naws_secret_access_key = ${p.secretAccessKey}\n` +
        (p.sessionToken ? `aws_session_token = ${p.sessionToken}\n` : ''),
    )
    .join('\n');
}

/** Renders an AWS config file giving every profile the local region. */
export function renderConfigFile(principals: readonly LocalPrincipal[], region: string): string {
  return principals.map((p) => `[profile ${p.name}]\nregion = ${region}\noutput = json\n`).join('\n');
}

/**
 * The local principals, created on first start and kept in the data dir
 * (`principals.json`, `credentials`, `config`, all mode 0600).
 */
export class LocalIdentities {
  private readonly byKey = new Map<string, LocalPrincipal>();
  /**
   * Temporary sessions by access key id, in the order issued. In memory only: their secrets and
   * tokens are never written to the data dir, and a restart ends them all.
   */
  private readonly sessions = new SessionTable<LocalPrincipal>();

  private constructor(
    readonly accountId: string,
    readonly principals: readonly LocalPrincipal[],
  ) {
    for (const p of principals) this.byKey.set(p.accessKeyId, p);
  }

  /**
   * The principals of a data dir, made on first use. `roles` are roles an application defines (its
   * functions' roles, read from its deployment template): each keeps its keys across starts, and
   * takes the policies given here at every start, the template being the truth.
   */
  static open(
    dataDir: string,
    accountId: string,
    region: string,
    roles: readonly LocalRole[] = [],
  ): LocalIdentities {
    const file = join(dataDir, 'principals.json');
    let principals: LocalPrincipal[];
    if (existsSync(file)) {
      const parsed = fileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
      if (parsed.accountId !== accountId) {
        throw new Error(
          `${file} was made for account ${parsed.accountId}, not ${accountId}; use another data dir or the same account id`,
        );
      }
      // Principals added to the seed since the file was written join it; existing ones keep their keys.
      const seeded = seedPrincipals(accountId);
      principals = [
        ...parsed.principals.map((p) => ({
          ...p,
          policies: p.policies
            ? withLaterSeedPolicies(p.name, p.policies, accountId)
            : seedPolicies(p.name, accountId),
        })),
        ...seeded.filter((s) => !parsed.principals.some((p) => p.name === s.name)),
      ];
      if (JSON.stringify(principals) !== JSON.stringify(parsed.principals))
        writeFileAtomic(file, `${JSON.stringify({ accountId, principals }, null, 2)}\n`);
    } else {
      principals = seedPrincipals(accountId);
      writeFileAtomic(file, `${JSON.stringify({ accountId, principals }, null, 2)}\n`);
    }
    if (roles.length > 0) {
      for (const role of roles) {
        const existing = principals.find((p) => p.name === role.name);
        const policies = [...role.policies];
        if (existing) principals[principals.indexOf(existing)] = { ...existing, arn: role.arn, policies };
        else
          principals.push({
            name: role.name,
            arn: role.arn,
            accessKeyId: newAccessKeyId(),
            secretAccessKey: newSecretAccessKey(),
            policies,
          });
      }
      writeFileAtomic(file, `${JSON.stringify({ accountId, principals }, null, 2)}\n`);
    }
    writeFileAtomic(join(dataDir, 'credentials'), renderCredentialsFile(principals));
    writeFileAtomic(join(dataDir, 'config'), renderConfigFile(principals, region));
    return new LocalIdentities(accountId, principals);
  }

  byAccessKeyId(accessKeyId: string): LocalPrincipal | undefined {
    return this.byKey.get(accessKeyId) ?? this.sessions.get(accessKeyId);
  }

  /**
   * Temporary credentials for a role, as STS's AssumeRole (or an identity pool) gives them: an
   * `ASIA…` key, a secret and a session token, valid for `seconds`. The session is the principal
   * `arn:aws:sts::<account>:assumed-role/<role name>/<session name>` with the role's policies and
   * the condition keys given. Held in memory only (see SessionTable): at most
   * MAX_SESSIONS_PER_HOLDER per identity pool identity (or role and session name), the holder's
   * oldest going first, and SessionLimitError once MAX_SESSIONS live ones are held.
   */
  issueSession(request: SessionRequest): TemporaryCredentials {
    const now = request.now ?? new Date();
    const roleName = request.role.arn.slice(request.role.arn.lastIndexOf('/') + 1);
    const session: LocalPrincipal = {
      name: request.role.name,
      arn: `arn:aws:sts::${this.accountId}:assumed-role/${roleName}/${request.sessionName}`,
      accessKeyId: newAccessKeyId('ASIA'),
      secretAccessKey: newSecretAccessKey(),
      sessionToken: randomBytes(96).toString('base64'),
      policies: [...request.role.policies],
      expiresAt: new Date(now.getTime() + request.seconds * 1000),
      conditionKeys: request.conditionKeys,
      cognito: request.cognito,
      userId: `${roleIdOf(request.role.arn)}:${request.sessionName}`,
    };
    const holder = request.cognito
      ? `cognito:${request.cognito.identityPoolId}/${request.cognito.identityId}`
      : `role:${request.role.arn}/${request.sessionName}`;
    this.sessions.add(
      session.accessKeyId,
      holder,
      now.getTime() + request.seconds * 1000,
      session,
      now.getTime(),
    );
    return {
      accessKeyId: session.accessKeyId,
      secretAccessKey: session.secretAccessKey,
      sessionToken: session.sessionToken as string,
      expiration: session.expiresAt as Date,
    };
  }

  /** How many temporary sessions are held (tests of the bound). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** For SigV4 `sessionTokenValid`: the token is the one issued with these temporary keys. */
  sessionTokenValid(accessKeyId: string, token: string): boolean {
    const expected = this.byAccessKeyId(accessKeyId)?.sessionToken;
    if (expected === undefined) return false;
    const a = Buffer.from(expected);
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /**
   * The principal a verified signature speaks for: temporary keys count only with their session
   * token, as STS credentials do.
   */
  authenticated(accessKeyId: string, sessionToken: string | undefined): LocalPrincipal | undefined {
    const principal = this.byAccessKeyId(accessKeyId);
    if (!principal || (principal.sessionToken !== undefined && sessionToken === undefined)) return undefined;
    return principal;
  }

  byName(name: string): LocalPrincipal {
    const found = this.principals.find((p) => p.name === name);
    if (!found) throw new Error(`no local principal named ${name}`);
    return found;
  }
}
