import { KEY_USER, type LocalRole, type S3RequestEvent } from '@eaas/aws-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localValues } from '../../local/emulator-options.js';
import { readTemplateRoles } from '../../local/template-roles.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * The S3 half of "the policies you deploy are the policies you test": the local S3 gives each
 * function's role what its serverless.yml policies give it, so a role lacking an S3 permission
 * fails here as the function would on AWS (template-roles.test.ts is the KMS half).
 */

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
type Policy = { Statement: Statement[] };

/** The roles with `action` taken out of the function's statements whose resources `where` matches. */
function without(
  roles: Record<string, LocalRole>,
  fn: string,
  action: string,
  where: (resource: string) => boolean = () => true,
): Record<string, LocalRole> {
  const role = roles[fn];
  if (!role) throw new Error(`no role for ${fn}`);
  const policies = (role.policies as Policy[]).map((p) => ({
    ...p,
    Statement: p.Statement.map((st) =>
      [st.Resource].flat().some((r) => where(String(r)))
        ? { ...st, Action: [st.Action].flat().filter((a) => a !== action) }
        : st,
    ).filter((st) => [st.Action].flat().length > 0),
  }));
  return { ...roles, [fn]: { ...role, policies } };
}

const s3Answers: S3RequestEvent[] = [];
let t: TestStack;
let lacking: TestStack;

beforeAll(async () => {
  t = await startTestStack();
  const roles = readTemplateRoles(localValues(t.config));
  const lackingRoles = without(
    without(roles, 'uploads', 's3:PutObject', (r) => r.endsWith('/incoming/*')),
    'objects',
    's3:ListBucket',
  );
  lacking = await startTestStack({ roles: lackingRoles, onS3Request: (e) => void s3Answers.push(e) });
});
afterAll(async () => {
  await t.stop();
  await lacking.stop();
});

describe('the functions call S3 as their template roles', () => {
  it('an uploads role without s3:PutObject on incoming/*: S3 refuses the links it signs (403), as on AWS', async () => {
    const start = (stack: TestStack) =>
      stack
        .client(KEY_USER)
        .raw('POST', '/v1/uploads', { key: 'roles/a.bin', keyId: 'alias/eaas-default', size: 4 });
    // Presigning calls nothing: the upload starts; the browser's PUT is what S3 refuses.
    const created = await start(lacking);
    expect(created.status).toBe(200);
    const { url, headers } = created.body as { url: string; headers: Record<string, string> };
    const refused = await fetch(url, { method: 'PUT', body: 'data', headers });
    expect(refused.status).toBe(403);
    const error = await refused.text();
    expect(error).toContain('<Code>AccessDenied</Code>');
    expect(error).toContain(`role/eaas-local-uploads is not authorized to perform: s3:PutObject`);
    // The template's role may.
    const ok = (await start(t)).body as { id: string; url: string; headers: Record<string, string> };
    expect((await fetch(ok.url, { method: 'PUT', body: 'data', headers: ok.headers })).status).toBe(200);
    // The seal of what arrived runs as its own role, and seals it.
    await t.stack.s3.notificationsDelivered();
    expect((await t.client(KEY_USER).raw('GET', `/v1/uploads/${ok.id}`)).body).toMatchObject({
      state: 'sealed',
    });
  });

  it('an objects role without s3:ListBucket: a missing document is S3 AccessDenied, not NoSuchKey', async () => {
    const path = `/v1/objects/${encodeURIComponent('roles/missing.txt')}`;
    expect((await t.client(KEY_USER).raw('GET', path)).status).toBe(404);
    s3Answers.length = 0;
    const res = await lacking.client(KEY_USER).raw('GET', path);
    // S3 hides whether the key exists from who may not list the bucket; the service cannot tell
    // a missing document from a refusal, and fails.
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ error: 'InternalError' });
    expect(s3Answers.some((e) => e.key === 'roles/missing.txt' && e.status === 403)).toBe(true);
  });
});
