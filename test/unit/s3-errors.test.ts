import type { S3Client } from '@aws-sdk/client-s3';
import type middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { fromS3Error, isConflict, S3RefusalError } from '../../src/aws/s3-errors.js';
import { S3QuotaStore } from '../../src/aws/s3-quotas.js';
import { DomainError } from '../../src/core/errors.js';
import { errorResponses, serverErrorDetails } from '../../src/http/middleware/error-responses.js';
import { ALICE, BOB, callerOf, KEY_A, uploadWorld } from '../helpers/upload-world.js';

/** The one mapping of S3's answers to the service's errors, shared by every S3 adapter. */

const answer = (name: string, status?: number) =>
  Object.assign(new Error(name), {
    name,
    ...(status !== undefined ? { $metadata: { httpStatusCode: status } } : {}),
  });

describe('fromS3Error', () => {
  it.each([
    ['a failed condition', answer('PreconditionFailed', 412), 'PreconditionFailed'],
    // "If a conflicting operation occurs during the upload S3 returns a 409
    // ConditionalRequestConflict response. On a 409 failure you should retry the upload."
    // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html): nothing was written.
    ['two conditional writes overlapping', answer('ConditionalRequestConflict', 409), 'Throttled'],
    ['a conflicting operation in progress', answer('OperationAborted', 409), 'Throttled'],
    ['a missing object', answer('NoSuchKey', 404), 'NotFound'],
    ['parts S3 refuses', answer('InvalidPart', 400), 'ValidationError'],
    ['throttling', answer('SlowDown', 503), 'Throttled'],
    ['a 5xx', answer('InternalError', 500), 'DependencyFailure'],
    ['no answer at all', answer('ECONNRESET'), 'DependencyFailure'],
    ["S3 refusing the service's own request", answer('AccessDenied', 403), 'InternalError'],
  ])('maps %s to %s', (_what, error, code) => {
    const mapped = fromS3Error(error, 'doc');
    expect(mapped.code).toBe(code);
    if (code === 'InternalError') expect((mapped.cause as Error).cause).toBe(error);
    else if (code !== 'ValidationError') expect(mapped.cause).toBe(error);
  });

  it('tells a conflict under way from throttling, for the stores that retry it at once', () => {
    expect(isConflict(fromS3Error(answer('ConditionalRequestConflict', 409), 'doc'))).toBe(true);
    expect(isConflict(fromS3Error(answer('SlowDown', 503), 'doc'))).toBe(false);
    expect(isConflict(fromS3Error(answer('PreconditionFailed', 412), 'doc'))).toBe(false);
  });

  it("keeps S3's error name and the stored key out of the message callers see, in the cause for the logs", () => {
    const s3 = answer('InvalidObjectState', 403);
    const e = fromS3Error(s3, 'secret/plan.docx.instruction');
    expect(e.code).toBe('InternalError');
    expect(e.message).not.toContain('InvalidObjectState');
    expect(e.message).not.toContain('secret/plan.docx');
    expect(JSON.stringify(e.toJSON())).not.toMatch(/InvalidObjectState|secret\/plan/);
    expect(e.cause).toBeInstanceOf(S3RefusalError);
    expect(e.cause).toMatchObject({
      s3Error: 'InvalidObjectState',
      status: 403,
      key: 'secret/plan.docx.instruction',
    });
    expect((e.cause as Error).message).toBe(
      'S3 refused a request on "secret/plan.docx.instruction": InvalidObjectState (403).',
    );
  });

  it("passes the service's own errors as they are", () => {
    const own = new DomainError('Throttled', 'mine');
    expect(fromS3Error(own, 'doc')).toBe(own);
  });
});

describe("the quota ledger's records over S3", () => {
  const storeAnswering = (error: Error) =>
    new S3QuotaStore(
      {
        send: async () => {
          throw error;
        },
      } as unknown as S3Client,
      'vault',
    );

  it('takes a lost condition, or a conflicting write under way, as a race to read again', async () => {
    for (const error of [answer('PreconditionFailed', 412), answer('ConditionalRequestConflict', 409)])
      expect(await storeAnswering(error).write(ALICE, '{}', '"etag"')).toBe(false);
    await expect(storeAnswering(answer('SlowDown', 503)).write(ALICE, '{}', undefined)).rejects.toMatchObject(
      {
        code: 'Throttled',
      },
    );
  });
});

describe('an S3 refusal answered to a caller', () => {
  it("is a generic 500; the log has S3's error and the key", async () => {
    const logged: [string, Record<string, unknown>][] = [];
    const middleware = errorResponses({ error: (message, extra) => logged.push([message, extra]) });
    const request = {
      event: { requestContext: { requestId: 'r-1' } },
      error: fromS3Error(answer('InvalidObjectState', 403), 'secret/plan.docx'),
    } as unknown as middy.Request<APIGatewayProxyEvent, APIGatewayProxyResult>;
    await middleware.onError?.(request);
    expect(request.response?.statusCode).toBe(500);
    expect(request.response?.body).not.toMatch(/InvalidObjectState|secret\/plan/);
    expect(JSON.parse(request.response?.body ?? '{}')).toMatchObject({
      error: 'InternalError',
      requestId: 'r-1',
    });
    expect(logged).toHaveLength(1);
    expect(JSON.stringify(logged[0])).toContain('InvalidObjectState');
    expect(JSON.stringify(logged[0])).toContain('secret/plan.docx');
  });
});

describe('a header read before the caller is known to be allowed', () => {
  // A context this large does not fit S3's 2 KB of metadata: the header goes to an instruction file.
  const context = { note: 'x'.repeat(1000), more: 'y'.repeat(1000) };
  const alice = callerOf(ALICE, [KEY_A]);
  const bob = callerOf(BOB, []);
  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (e: DomainError) => e.code,
    );

  async function world(failure: Error) {
    const w = uploadWorld();
    await w.documents.put(alice, 'doc', Buffer.from('secret'), { keyId: KEY_A, context });
    expect(w.vault.objects.has('doc.instruction')).toBe(true);
    // The reader reads an instruction file with its ETag and metadata (readText); getText too.
    const getText = w.vault.getText.bind(w.vault);
    w.vault.getText = async (key: string) => {
      if (key.endsWith('.instruction')) throw failure;
      return getText(key);
    };
    const readText = w.vault.readText.bind(w.vault);
    w.vault.readText = async (key: string) => {
      if (key.endsWith('.instruction')) throw failure;
      return readText(key);
    };
    return w;
  }

  it('answers any failure a retry would not mend as for a missing name, to whoever asks', async () => {
    const w = await world(fromS3Error(answer('InvalidObjectState', 403), 'doc.instruction'));
    const missing = await w.documents.get(bob, 'none').catch((e: DomainError) => e);
    for (const caller of [bob, alice]) {
      const refused = await w.documents.get(caller, 'doc').catch((e: DomainError) => e);
      expect(refused).toBeInstanceOf(DomainError);
      expect((refused as DomainError).toJSON()).toEqual({
        ...(missing as DomainError).toJSON(),
        message: 'No object "doc".',
      });
      expect(await codeOf(w.documents.head(caller, 'doc'))).toBe('NotFound');
    }
    expect(await codeOf(w.documents.delete(bob, 'doc'))).toBe('NotFound');
    expect(w.vault.objects.has('doc')).toBe(true);
  });

  it('answers a failure a retry may mend as it is', async () => {
    const w = await world(fromS3Error(answer('SlowDown', 503), 'doc.instruction'));
    expect(await codeOf(w.documents.get(bob, 'doc'))).toBe('Throttled');
    expect(await codeOf(w.documents.delete(bob, 'doc'))).toBe('Throttled');
  });
});

describe('what the logs keep of a server error', () => {
  it('keeps the messages of S3 refusals and AWS exceptions, and only the name of any other cause', () => {
    // A mangled KMS answer fails JSON parsing with a message quoting part of the body (a data key).
    const parse = new SyntaxError('Unexpected token in JSON at position 12: "laintext":QUJDREVGR0');
    const aws = Object.assign(new Error('Rate exceeded'), {
      name: 'ThrottlingException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400, requestId: 'req-1' },
    });
    const details = serverErrorDetails(
      new DomainError('DependencyFailure', 'KMS failed.', undefined, {
        cause: Object.assign(aws, { cause: parse }),
      }),
    );
    expect(details.causes).toEqual([
      { name: 'ThrottlingException', message: 'Rate exceeded', httpStatusCode: 400, awsRequestId: 'req-1' },
      { name: 'SyntaxError' },
    ]);
    expect(JSON.stringify(details)).not.toContain('QUJDREVGR0');
  });
});
