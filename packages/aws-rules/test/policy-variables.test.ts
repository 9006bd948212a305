// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are written ${key}, in plain strings.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AuthzRequest, authorize, globMatch, resolvePattern } from '../src/index.js';

/**
 * IAM policy variables, as https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
 * describes them, in the evaluator the service and the local KMS share: in Resource and condition
 * values of 2012-10-17 policies, never in 2008-10-17 ones
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html).
 */

const ACCOUNT = '111122223333';
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const PEOPLE = `arn:aws:iam::${ACCOUNT}:role/eaas-local-people`;
const SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/eaas-local-people/CognitoIdentityCredentials`;
const SUB = 'cognito-identity.amazonaws.com:sub';
const A = 'us-east-1:11111111-2222-3333-4444-555555555555';
const B = 'us-east-1:66666666-7777-8888-9999-000000000000';

/** The page key's statement (src/core/page-key-policy.ts writes it; a fixture here). */
const spaceStatement = {
  Sid: 'PeopleUseTheKeyInTheirOwnSpace',
  Effect: 'Allow',
  Principal: { AWS: PEOPLE },
  Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey*'],
  Resource: '*',
  Condition: { StringEquals: { 'kms:EncryptionContext:eaas:space': `\${${SUB}}` } },
};
const policy = (statements: unknown[], version = '2012-10-17') => ({
  Version: version,
  Statement: statements,
});

function request(sub: string | undefined, space: string | undefined, members: Partial<AuthzRequest> = {}) {
  return {
    principal: SESSION,
    action: 'kms:Decrypt',
    keyArn: KEY,
    keyAccountId: ACCOUNT,
    encryptionContext: space === undefined ? {} : { 'eaas:space': space },
    conditions: { [SUB]: sub === undefined ? [] : [sub] },
    ...members,
  } satisfies AuthzRequest;
}

const allowed = (p: unknown, r: AuthzRequest) => authorize(p, [], r).allowed;
/** Identity ids as Cognito makes them: `<region>:<uuid>`. */
const identityId = fc.uuid().map((u) => `us-east-1:${u}`);

describe('policy variables in condition values', () => {
  it("${cognito-identity.amazonaws.com:sub} is the caller's identity id: each person only in its own space", () => {
    fc.assert(
      fc.property(identityId, identityId, (me, other) => {
        expect(allowed(policy([spaceStatement]), request(me, me))).toBe(true);
        expect(allowed(policy([spaceStatement]), request(me, other))).toBe(me === other);
      }),
    );
  });

  it('variable names are not case-sensitive', () => {
    const st = {
      ...spaceStatement,
      Condition: {
        StringEquals: { 'kms:EncryptionContext:eaas:space': '${Cognito-Identity.AmazonAWS.com:SUB}' },
      },
    };
    expect(allowed(policy([st]), request(A, A))).toBe(true);
  });

  it('a variable with no value in the request: the condition does not match, so an Allow gives nothing', () => {
    expect(authorize(policy([spaceStatement]), [], request(undefined, A)).reason).toBe('implicit-deny');
    // Nor does a caller with no value match a context without the pair: no equal value.
    expect(allowed(policy([spaceStatement]), request(undefined, undefined))).toBe(false);
  });

  it('...and a Deny holding it does not apply either (the docs: the statement may be invalid; use ...IfExists)', () => {
    const deny = {
      Effect: 'Deny',
      Principal: '*',
      Action: 'kms:*',
      Resource: '*',
      Condition: { StringNotEquals: { 'kms:EncryptionContext:eaas:space': `\${${SUB}}` } },
    };
    const allowAll = { Effect: 'Allow', Principal: { AWS: PEOPLE }, Action: 'kms:*', Resource: '*' };
    // With a value, the Deny refuses another space's context.
    expect(authorize(policy([deny, allowAll]), [], request(A, B)).reason).toBe('explicit-deny');
    expect(allowed(policy([deny, allowAll]), request(A, A))).toBe(true);
    // Without one, the Deny's condition does not match: the Allow decides.
    expect(authorize(policy([deny, allowAll]), [], request(undefined, B)).reason).toBe('key-policy');
  });

  it("${key, 'default'} stands for the default when the request has no value, '' for a quote", () => {
    const st = (value: string) => ({
      ...spaceStatement,
      Condition: { StringEquals: { 'kms:EncryptionContext:eaas:space': value } },
    });
    expect(allowed(policy([st(`\${${SUB}, 'nobody'}`)]), request(undefined, 'nobody'))).toBe(true);
    expect(allowed(policy([st(`\${${SUB}, 'nobody'}`)]), request(A, 'nobody'))).toBe(false);
    expect(allowed(policy([st(`\${ ${SUB} ,  'it''s' }`)]), request(undefined, "it's"))).toBe(true);
    // The default is text: read once, never as a variable again.
    expect(
      allowed(policy([st(`\${${SUB}, '\${aws:username}'}`)]), request(undefined, '${aws:username}')),
    ).toBe(true);
  });

  it('${*}, ${?} and ${$} are the characters themselves, never wildcards', () => {
    const like = (value: string) => ({
      ...spaceStatement,
      Condition: { StringLike: { 'kms:EncryptionContext:eaas:space': value } },
    });
    expect(allowed(policy([like('a${*}b')]), request(A, 'a*b'))).toBe(true);
    expect(allowed(policy([like('a${*}b')]), request(A, 'axxb'))).toBe(false);
    expect(allowed(policy([like('a*b')]), request(A, 'axxb'))).toBe(true);
    expect(allowed(policy([like('a${?}')]), request(A, 'a?'))).toBe(true);
    expect(allowed(policy([like('a${?}')]), request(A, 'ab'))).toBe(false);
    expect(allowed(policy([like('${$}{x}')]), request(A, '${x}'))).toBe(true);
  });

  it('a substituted value is text: its * and ? match only themselves', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), (value, other) => {
        const r = resolvePattern(`\${${SUB}}/*`, () => value);
        if (typeof r === 'string') throw new Error(r);
        expect(globMatch(r, `${value}/anything`)).toBe(true);
        if (!`${other}/`.startsWith(`${value}/`)) expect(globMatch(r, `${other}/x`)).toBe(false);
      }),
    );
  });

  it('in a 2008-10-17 policy (or one with no Version) ${...} is literal text', () => {
    for (const version of ['2008-10-17', undefined]) {
      const p = version ? policy([spaceStatement], version) : { Statement: [spaceStatement] };
      expect(allowed(p, request(A, A))).toBe(false);
      expect(allowed(p, request(A, `\${${SUB}}`))).toBe(true);
    }
  });

  it("a multivalued key is never a variable's value; a key the evaluator does not know is not understood", () => {
    const amr = {
      ...spaceStatement,
      Condition: {
        StringEquals: { 'kms:EncryptionContext:eaas:space': '${cognito-identity.amazonaws.com:amr}' },
      },
    };
    const r = request(A, 'authenticated', {
      conditions: { [SUB]: [A], 'cognito-identity.amazonaws.com:amr': ['authenticated'] },
    });
    expect(allowed(policy([amr]), r)).toBe(false);
    const unknownKey = {
      ...spaceStatement,
      Condition: { StringEquals: { 'kms:EncryptionContext:eaas:space': '${kms:ViaService}' } },
    };
    expect(allowed(policy([unknownKey]), request(A, A))).toBe(false);
    // Not understood in a Deny: it applies (fails closed), as every unknown key does.
    const deny = { ...unknownKey, Effect: 'Deny' };
    expect(authorize(policy([deny, spaceStatement]), [], request(A, A)).reason).toBe('explicit-deny');
  });

  it('a malformed variable (no closing brace, a default without quotes) is not understood', () => {
    for (const bad of [`\${${SUB}`, `\${${SUB}, nobody}`, '${}', `\${${SUB}, 'x}`]) {
      expect(resolvePattern(bad, () => A)).toBe('unknown');
      const st = {
        ...spaceStatement,
        Condition: { StringEquals: { 'kms:EncryptionContext:eaas:space': bad } },
      };
      expect(allowed(policy([st]), request(A, A))).toBe(false);
    }
  });

  it('numeric operators take no variables (the condition operators reference)', () => {
    const st = {
      ...spaceStatement,
      Condition: { NumericEquals: { 'kms:EncryptionContext:n': '${kms:EncryptionContext:n}' } },
    };
    expect(allowed(policy([st]), request(A, A, { encryptionContext: { n: '1' } }))).toBe(false);
  });
});

describe('policy variables in Resource', () => {
  it("stand for the request's value; a variable with no value matches no resource", () => {
    const st = {
      Effect: 'Allow',
      Principal: { AWS: PEOPLE },
      Action: 'kms:Decrypt',
      Resource: `arn:aws:kms:us-east-1:${ACCOUNT}:key/\${aws:PrincipalTag/key}`,
    };
    const keyId = KEY.split('/').at(-1) as string;
    const withTag = (values: string[]) => request(A, A, { conditions: { 'aws:PrincipalTag/key': values } });
    expect(allowed(policy([st]), withTag([keyId]))).toBe(true);
    expect(allowed(policy([st]), withTag(['other']))).toBe(false);
    expect(allowed(policy([st]), withTag([]))).toBe(false);
    // Beside another pattern that matches, the unresolved one is only passed over.
    expect(allowed(policy([{ ...st, Resource: [st.Resource, KEY] }]), withTag([]))).toBe(true);
  });
});
