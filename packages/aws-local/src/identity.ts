import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from './atomic-file.js';

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
    return this.byKey.get(accessKeyId);
  }

  /** For SigV4 `sessionTokenValid`: the token is the one issued with these temporary keys. */
  sessionTokenValid(accessKeyId: string, token: string): boolean {
    const expected = this.byKey.get(accessKeyId)?.sessionToken;
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
    const principal = this.byKey.get(accessKeyId);
    if (!principal || (principal.sessionToken !== undefined && sessionToken === undefined)) return undefined;
    return principal;
  }

  byName(name: string): LocalPrincipal {
    const found = this.principals.find((p) => p.name === name);
    if (!found) throw new Error(`no local principal named ${name}`);
    return found;
  }
}
