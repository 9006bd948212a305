import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { readTemplateRoles } from '../../local/template-roles.js';
import { pageKeyPolicy } from '../../src/core/page-key-policy.js';
import { invokePathOf, PAGE_OPERATIONS, PAGE_ROUTES } from '../../src/http/page-routes.js';
import { ROUTES } from '../../src/http/routes.js';
import { ACCOUNT, API_ID, REGION } from '../helpers/cfn-template.js';

/**
 * serverless.yml's sign-in for the upload page: the user pool, its managed login and the page's
 * client, the identity pool and its role for people, and the page's key. The key's policy is the
 * document src/core/page-key-policy.ts writes (one rule, in the template and locally), and the
 * people's role invokes exactly the routes the page calls.
 */

type Json = Record<string, unknown>;
const sls = parse(readFileSync('serverless.yml', 'utf8')) as {
  provider: { environment: Json };
  functions: Record<string, { events?: { http?: { path: string; method: string; cors?: unknown } }[] }>;
  custom: Json;
  resources: { Resources: Record<string, { Type: string; Properties: Json } & Json>; Outputs: Json };
};
const resources = sls.resources.Resources;
/** A Serverless variable as serverless.yml writes it: `v('sls:stage')` is `${sls:stage}`. */
const v = (name: string) => `\${${name}}`;
const props = (id: string) => resources[id]?.Properties ?? {};

/** A role's ARN as this test names it: its logical id as the role name. */
const roleArn = (partition: string, id: string) => `arn:${partition}:iam::${ACCOUNT}:role/${id}`;

/** A template value with its references substituted: pseudo parameters, the stage, roles' Arns. */
function substitute(value: unknown, partition = 'aws'): unknown {
  if (Array.isArray(value)) return value.map((v) => substitute(v, partition));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Json);
  const [fn, arg] = entries[0] ?? [];
  if (entries.length === 1 && fn === 'Fn::GetAtt') {
    const [id, attr] = arg as [string, string];
    if (attr !== 'Arn' || resources[id]?.Type !== 'AWS::IAM::Role')
      throw new Error(`cannot substitute ${id}.${attr}`);
    return roleArn(partition, id);
  }
  if (entries.length === 1 && fn === 'Fn::Join') {
    const [sep, parts] = arg as [string, unknown[]];
    return parts.map((p) => substitute(p, partition)).join(sep);
  }
  if (entries.length === 1 && fn === 'Fn::Sub') {
    const names: Record<string, string> = {
      'AWS::Partition': partition,
      'AWS::AccountId': ACCOUNT,
      'AWS::Region': REGION,
      'sls:stage': 'dev',
      ApiGatewayRestApi: API_ID,
    };
    return String(arg).replace(/\$\{([^}]+)\}/g, (_m, name: string) => {
      if (name.startsWith('!')) return `\${${name.slice(1)}}`;
      const found = names[name];
      if (found === undefined) throw new Error(`cannot substitute \${${name}}`);
      return found;
    });
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, substitute(v, partition)]));
}

describe("the page key's policy", () => {
  it.each(['aws', 'aws-cn'])(
    'is the document pageKeyPolicy writes, for the roles the service names (%s)',
    (partition) => {
      const env = sls.provider.environment;
      const expected = pageKeyPolicy({
        accountId: ACCOUNT,
        partition,
        peopleRoleArn: roleArn(partition, 'PeopleRole'),
        serviceRoleArns: String(substitute(env.EAAS_SERVICE_ROLE_ARNS, partition)).split(','),
        adminRoleArns: String(substitute(env.EAAS_ADMIN_ROLE_ARNS, partition)).split(','),
      });
      expect(substitute(props('PageKey').KeyPolicy, partition)).toEqual(expected);
    },
  );

  it('is a rotated key tagged for this deployment, kept when the stack goes, under a per-stage alias', () => {
    expect(resources.PageKey).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(props('PageKey').EnableKeyRotation).toBe(true);
    expect(props('PageKey').Tags).toContainEqual({ Key: 'eaas:service', Value: v('self:custom.serviceTag') });
    expect(props('PageKeyAlias')).toEqual({
      AliasName: `alias/${v('self:service')}-${v('sls:stage')}-page`,
      TargetKeyId: { Ref: 'PageKey' },
    });
  });
});

/** The page's calls in web/src/api.ts, as `<METHOD>/<path>` with each interpolation a `*`. */
function pageCalls(): string[] {
  const source = readFileSync('web/src/api.ts', 'utf8');
  return [...source.matchAll(/\.call\(\s*'([A-Z]+)',\s*[`']([^`']+)[`']/g)].map(
    ([, method, path]) => `${method}${(path ?? '').replace(/\$\{[^}]+\}/g, '*')}`,
  );
}

describe("the people's role", () => {
  const statements = (props('PeopleRole').Policies as { PolicyDocument: { Statement: Json[] } }[]).flatMap(
    (p) => p.PolicyDocument.Statement,
  );

  it('invokes exactly the routes of src/http/page-routes.ts, each a route the page calls', () => {
    const allow = statements.filter((s) => s.Effect === 'Allow');
    expect(allow).toHaveLength(1);
    expect(allow[0]?.Action).toBe('execute-api:Invoke');
    const arn = (path: string) => `arn:aws:execute-api:${REGION}:${ACCOUNT}:${API_ID}/dev/${path}`;
    expect((substitute(allow[0]?.Resource) as string[]).sort()).toEqual(
      PAGE_ROUTES.map((r) => arn(invokePathOf(r))).sort(),
    );
    expect(PAGE_ROUTES.map((r) => r.operationId).sort()).toEqual([...PAGE_OPERATIONS].sort());
    // Every call of the page is a route of the table; people make all of them but the key listings.
    const calls = new Set(pageCalls());
    const called = ROUTES.filter((r) => calls.has(invokePathOf(r)));
    expect(called).toHaveLength(calls.size);
    expect(called.filter((r) => !PAGE_ROUTES.includes(r)).map((r) => r.operationId)).toEqual([
      'listKeys',
      'listAliases',
    ]);
  });

  it('uses the page key only through the API', () => {
    expect(statements.filter((s) => s.Effect === 'Deny')).toEqual([
      expect.objectContaining({ Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: '*' }),
    ]);
  });

  it('is assumed only by signed-in people of this identity pool, and is its authenticated role', () => {
    expect(props('PeopleRole').RoleName).toBe(`${v('self:service')}-${v('sls:stage')}-people`);
    expect((props('PeopleRole').AssumeRolePolicyDocument as { Statement: unknown }).Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: { Federated: 'cognito-identity.amazonaws.com' },
        Action: ['sts:AssumeRoleWithWebIdentity', 'sts:TagSession'],
        Condition: {
          StringEquals: { 'cognito-identity.amazonaws.com:aud': { Ref: 'IdentityPool' } },
          'ForAnyValue:StringLike': { 'cognito-identity.amazonaws.com:amr': 'authenticated' },
        },
      },
    ]);
    expect(props('IdentityPoolRoles')).toEqual({
      IdentityPoolId: { Ref: 'IdentityPool' },
      Roles: { authenticated: { 'Fn::GetAtt': ['PeopleRole', 'Arn'] } },
    });
  });

  it('is read by the local stack as in the template (the gateway names its API `local`)', () => {
    const work = mkdtempSync(join(tmpdir(), 'eaas-people-'));
    try {
      // The local reader resolves the roles of functions: a function run as PeopleRole reads it.
      const file = join(work, 'serverless.yml');
      writeFileSync(file, stringify({ ...sls, functions: { people: { role: 'PeopleRole' } } }));
      const values = {
        accountId: ACCOUNT,
        region: REGION,
        vaultBucket: 'v',
        stagingBucket: 's',
        stage: 'local',
      };
      const [policy] = (readTemplateRoles(values, file).people?.policies ?? []) as { Statement: Json[] }[];
      expect(policy?.Statement[0]?.Resource).toContain(
        `arn:aws:execute-api:${REGION}:${ACCOUNT}:local/local/GET/v1/whoami`,
      );
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('sign-in', () => {
  it('a user pool of people an operator adds, strong passwords, optional MFA, kept and protected', () => {
    expect(resources.UserPool).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(props('UserPool')).toMatchObject({
      DeletionProtection: 'ACTIVE',
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      Policies: {
        PasswordPolicy: {
          MinimumLength: 12,
          RequireLowercase: true,
          RequireUppercase: true,
          RequireNumbers: true,
          RequireSymbols: true,
        },
      },
      MfaConfiguration: 'OPTIONAL',
      EnabledMfas: ['SOFTWARE_TOKEN_MFA'],
      UsernameAttributes: ['email'],
      AutoVerifiedAttributes: ['email'],
      AccountRecoverySetting: { RecoveryMechanisms: [{ Name: 'verified_email', Priority: 1 }] },
    });
    expect(props('UserPoolDomain')).toMatchObject({
      ManagedLoginVersion: 2,
      UserPoolId: { Ref: 'UserPool' },
    });
    expect(props('PageClientBranding')).toMatchObject({ ClientId: { Ref: 'PageClient' } });
  });

  it("the page's client: public, code grant only, back to the page's origin, no password flows", () => {
    const origin = `${v('self:custom.webOrigin')}/`;
    expect(props('PageClient')).toMatchObject({
      GenerateSecret: false,
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthScopes: ['openid', 'email', 'profile'],
      CallbackURLs: [origin],
      LogoutURLs: [origin],
      SupportedIdentityProviders: ['COGNITO'],
      PreventUserExistenceErrors: 'ENABLED',
      EnableTokenRevocation: true,
      ExplicitAuthFlows: ['ALLOW_REFRESH_TOKEN_AUTH'],
    });
  });

  it('an identity pool of the page client only, checked with the user pool, no guests, kept', () => {
    expect(resources.IdentityPool).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(props('IdentityPool')).toMatchObject({
      AllowUnauthenticatedIdentities: false,
      AllowClassicFlow: false,
      CognitoIdentityProviders: [
        {
          ClientId: { Ref: 'PageClient' },
          ProviderName: { 'Fn::GetAtt': ['UserPool', 'ProviderName'] },
          ServerSideTokenCheck: true,
        },
      ],
    });
  });

  it("outputs what the page's config.json takes", () => {
    expect(Object.keys(sls.resources.Outputs)).toEqual(
      expect.arrayContaining([
        'UserPoolId',
        'UserPoolClientId',
        'UserPoolProviderName',
        'SignInIssuer',
        'SignInDomainUrl',
        'IdentityPoolId',
        'PageKeyAlias',
      ]),
    );
  });

  it("answers the page's origin on every route the page calls, and on the gateway's own errors", () => {
    const declared = Object.values(sls.functions).flatMap((f) =>
      (f.events ?? []).flatMap((e) => (e.http ? [e.http] : [])),
    );
    for (const route of PAGE_ROUTES) {
      const http = declared.find(
        (h) => `/${h.path}` === route.path && h.method.toUpperCase() === route.method,
      );
      expect(http?.cors, route.operationId).toBe(v('self:custom.cors'));
    }
    for (const id of ['GatewayResponseDefault4XX', 'GatewayResponseDefault5XX'])
      expect(props(id).ResponseParameters).toEqual({
        'gatewayresponse.header.Access-Control-Allow-Origin': `'${v('self:custom.webOrigin')}'`,
      });
  });
});
