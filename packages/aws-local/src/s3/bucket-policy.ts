import { parseJsonStrict } from '@eaas/aws-rules';
import { S3Error } from './errors.js';

/**
 * Bucket policies as PutBucketPolicy takes them (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html): a JSON policy of at
 * most 20 KB whose statements each name a Principal, S3 actions and resources of this bucket.
 * What passes is stored as given and evaluated with aws-rules' resourcePolicyVerdict.
 */

/** S3's bound on a bucket policy's size. */
export const MAX_POLICY_BYTES = 20 * 1024;

const malformed = (message: string) => new S3Error('MalformedPolicy', message);

const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

/** Precondition: `text` is a bucket policy S3 would accept for `bucket`; answers the parsed document. */
export function checkBucketPolicy(text: string, bucket: string): unknown {
  if (Buffer.byteLength(text, 'utf8') > MAX_POLICY_BYTES)
    throw malformed(`Policies must not exceed ${MAX_POLICY_BYTES} bytes`);
  let policy: unknown;
  try {
    policy = parseJsonStrict(text);
  } catch {
    throw malformed("Policies must be valid JSON and the first byte must be '{'");
  }
  if (policy === null || typeof policy !== 'object' || Array.isArray(policy))
    throw malformed("Policies must be valid JSON and the first byte must be '{'");
  const statements = asList((policy as Record<string, unknown>).Statement);
  if (statements.length === 0) throw malformed('Missing required field Statement');
  const arn = `arn:aws:s3:::${bucket}`;
  for (const raw of statements) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      throw malformed('Statement is not an object');
    const st = raw as Record<string, unknown>;
    if (st.Effect !== 'Allow' && st.Effect !== 'Deny') throw malformed('Invalid effect');
    if (!('Principal' in st) && !('NotPrincipal' in st)) throw malformed('Missing required field Principal');
    const actions = asList(st.Action ?? st.NotAction);
    if (actions.length === 0) throw malformed('Missing required field Action');
    if (actions.some((a) => typeof a !== 'string' || !(a === '*' || a.toLowerCase().startsWith('s3:'))))
      throw malformed('Policy has invalid action');
    const resources = asList(st.Resource ?? st.NotResource);
    if (resources.length === 0) throw malformed('Missing required field Resource');
    if (resources.some((r) => typeof r !== 'string' || !(r === arn || r.startsWith(`${arn}/`))))
      throw malformed('Policy has invalid resource');
  }
  return policy;
}
