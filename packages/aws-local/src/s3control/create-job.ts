import { childrenNamed, childText, type XmlElement, XmlSyntaxError } from '../s3/xml.js';
import { ControlError, invalidRequest } from './errors.js';
import type { JobReport, JobSpec, ManifestFilter, ManifestGenerator } from './job.js';

/**
 * The CreateJob request body (`CreateJobRequest`), held to what
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_CreateJob.html documents: a
 * ClientRequestToken of 1-64 characters, a Priority of 0 to 2147483647, a RoleArn, exactly one
 * operation (only LambdaInvoke is run here), a Report, and a Manifest or a ManifestGenerator.
 * Anything else answers 400 InvalidRequest, as S3 Control does.
 */

const CSV_FORMAT = 'S3BatchOperations_CSV_20180820';
const MANIFEST_FORMATS = new Set([CSV_FORMAT, 'S3InventoryReport_CSV_20161130']);
const FIELDS = new Set(['Bucket', 'Key', 'VersionId', 'Ignore']);
const ROLE_ARN = /^arn:[^:]+:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const FUNCTION_ARN =
  /^arn:[^:]+:lambda:[a-z0-9-]+:\d{12}:function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?$/;
const BUCKET_ARN = /^arn:[^:]+:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function one(e: XmlElement, name: string): XmlElement | undefined {
  const found = childrenNamed(e, name);
  if (found.length > 1) throw invalidRequest(`More than one ${name}`);
  return found[0];
}

function text(e: XmlElement | undefined, name: string): string | undefined {
  if (!e) return undefined;
  try {
    return childText(e, name)?.trim();
  } catch (error) {
    if (error instanceof XmlSyntaxError) throw invalidRequest(error.message);
    throw error;
  }
}

function required(e: XmlElement | undefined, name: string): string {
  const value = text(e, name);
  if (value === undefined || value === '') throw invalidRequest(`Missing required field ${name}`);
  return value;
}

function bool(e: XmlElement | undefined, name: string): boolean | undefined {
  const value = text(e, name);
  if (value === undefined) return undefined;
  if (value !== 'true' && value !== 'false') throw invalidRequest(`${name} must be true or false`);
  return value === 'true';
}

function members(e: XmlElement | undefined, name: string): string[] | undefined {
  const list = e ? one(e, name) : undefined;
  return list ? childrenNamed(list, 'member').map((m) => m.text) : undefined;
}

function timestamp(e: XmlElement | undefined, name: string): string | undefined {
  const value = text(e, name);
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw invalidRequest(`${name} is not a timestamp`);
  return new Date(t).toISOString();
}

function count(e: XmlElement | undefined, name: string): number | undefined {
  const value = text(e, name);
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value)) throw invalidRequest(`${name} must be a whole number`);
  return Number(value);
}

function bucketArn(value: string, what: string): string {
  if (!BUCKET_ARN.test(value)) throw invalidRequest(`${what} must be a bucket ARN (arn:aws:s3:::bucket)`);
  return value;
}

function filterOf(e: XmlElement | undefined): ManifestFilter | undefined {
  if (!e) return undefined;
  const names = one(e, 'KeyNameConstraint');
  const filter: ManifestFilter = {
    CreatedAfter: timestamp(e, 'CreatedAfter'),
    CreatedBefore: timestamp(e, 'CreatedBefore'),
    MatchAnyPrefix: members(names, 'MatchAnyPrefix'),
    MatchAnySuffix: members(names, 'MatchAnySuffix'),
    MatchAnySubstring: members(names, 'MatchAnySubstring'),
    ObjectSizeGreaterThanBytes: count(e, 'ObjectSizeGreaterThanBytes'),
    ObjectSizeLessThanBytes: count(e, 'ObjectSizeLessThanBytes'),
  };
  return filter;
}

function generatorOf(e: XmlElement | undefined): ManifestGenerator | undefined {
  if (!e) return undefined;
  const g = one(e, 'S3JobManifestGenerator');
  if (!g) throw invalidRequest('ManifestGenerator must hold an S3JobManifestGenerator');
  const enable = bool(g, 'EnableManifestOutput');
  if (enable === undefined) throw invalidRequest('Missing required field EnableManifestOutput');
  const out = one(g, 'ManifestOutputLocation');
  if (enable && !out)
    throw invalidRequest('ManifestOutputLocation is required when EnableManifestOutput is true');
  return {
    SourceBucket: bucketArn(required(g, 'SourceBucket'), 'SourceBucket'),
    EnableManifestOutput: enable,
    ...(out
      ? {
          ManifestOutputLocation: {
            Bucket: bucketArn(required(out, 'Bucket'), 'ManifestOutputLocation.Bucket'),
            ManifestPrefix: text(out, 'ManifestPrefix'),
            ManifestFormat: required(out, 'ManifestFormat'),
          },
        }
      : {}),
    Filter: filterOf(one(g, 'Filter')),
  };
}

function reportOf(e: XmlElement | undefined): JobReport {
  if (!e) throw invalidRequest('Missing required field Report');
  const enabled = bool(e, 'Enabled');
  if (enabled === undefined) throw invalidRequest('Missing required field Report.Enabled');
  if (!enabled) return { Enabled: false };
  const format = required(e, 'Format');
  if (format !== 'Report_CSV_20180820') throw invalidRequest('Report.Format must be Report_CSV_20180820');
  const scope = text(e, 'ReportScope') ?? 'AllTasks';
  if (scope !== 'AllTasks' && scope !== 'FailedTasksOnly')
    throw invalidRequest('Report.ReportScope must be AllTasks or FailedTasksOnly');
  return {
    Enabled: true,
    Bucket: bucketArn(required(e, 'Bucket'), 'Report.Bucket'),
    Format: format,
    Prefix: text(e, 'Prefix'),
    ReportScope: scope,
  };
}

/** Precondition of CreateJob: the body describes a job this emulator can run. */
export function parseCreateJob(root: XmlElement): JobSpec {
  const token = required(root, 'ClientRequestToken');
  if (token.length > 64) throw invalidRequest('ClientRequestToken must be at most 64 characters');
  const priority = count(root, 'Priority');
  if (priority === undefined) throw invalidRequest('Missing required field Priority');
  if (priority > 2147483647) throw invalidRequest('Priority must be between 0 and 2147483647');
  const roleArn = required(root, 'RoleArn');
  if (!ROLE_ARN.test(roleArn)) throw invalidRequest('RoleArn must be the ARN of an IAM role');
  const operation = one(root, 'Operation');
  if (!operation) throw invalidRequest('Missing required field Operation');
  const kinds = operation.children.map((c) => c.name);
  if (kinds.length !== 1) throw invalidRequest('Operation must name exactly one operation');
  const lambda = one(operation, 'LambdaInvoke');
  if (!lambda)
    throw new ControlError(
      'NotImplemented',
      `The local S3 Control runs LambdaInvoke jobs only, not ${kinds[0]}`,
    );
  const functionArn = required(lambda, 'FunctionArn');
  if (!FUNCTION_ARN.test(functionArn))
    throw invalidRequest('FunctionArn must be the ARN of a Lambda function');
  const schema = text(lambda, 'InvocationSchemaVersion') ?? '1.0';
  if (schema !== '1.0' && schema !== '2.0')
    throw invalidRequest('InvocationSchemaVersion must be 1.0 or 2.0');
  const argsElement = one(lambda, 'UserArguments');
  let userArguments: Record<string, string> | undefined;
  if (argsElement) {
    // UserArguments need invocation schema 2.0 (API_control_LambdaInvokeOperation.html).
    if (schema !== '2.0') throw invalidRequest('UserArguments require InvocationSchemaVersion 2.0');
    userArguments = {};
    for (const entry of childrenNamed(argsElement, 'entry')) {
      const key = required(entry, 'key');
      userArguments[key] = text(entry, 'value') ?? '';
    }
  }
  const manifest = one(root, 'Manifest');
  const generator = generatorOf(one(root, 'ManifestGenerator'));
  if ((manifest === undefined) === (generator === undefined))
    throw invalidRequest('Exactly one of Manifest and ManifestGenerator is required');
  let manifestSpec: JobSpec['Manifest'];
  if (manifest) {
    const spec = one(manifest, 'Spec');
    const location = one(manifest, 'Location');
    const format = required(spec, 'Format');
    if (!MANIFEST_FORMATS.has(format))
      throw invalidRequest(`Manifest.Spec.Format must be one of ${[...MANIFEST_FORMATS].join(', ')}`);
    // Fields describe a CSV manifest's columns; an inventory report names its own (fileSchema).
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_JobManifestSpec.html
    const fields = members(spec, 'Fields') ?? [];
    if (
      format === CSV_FORMAT &&
      (!fields.includes('Bucket') || !fields.includes('Key') || fields.some((f) => !FIELDS.has(f)))
    )
      throw invalidRequest('Manifest.Spec.Fields must name Bucket and Key (and may name VersionId, Ignore)');
    manifestSpec = {
      Spec: { Format: format, Fields: fields },
      Location: {
        ObjectArn: required(location, 'ObjectArn'),
        ETag: required(location, 'ETag'),
        ObjectVersionId: text(location, 'ObjectVersionId'),
      },
    };
  }
  const description = text(root, 'Description');
  if (description !== undefined && description.length > 256)
    throw invalidRequest('Description must be at most 256 characters');
  return {
    Operation: {
      LambdaInvoke: {
        FunctionArn: functionArn,
        InvocationSchemaVersion: schema,
        UserArguments: userArguments,
      },
    },
    ...(manifestSpec ? { Manifest: manifestSpec } : {}),
    ...(generator ? { ManifestGenerator: generator } : {}),
    Report: reportOf(one(root, 'Report')),
    Priority: priority,
    RoleArn: roleArn,
    ClientRequestToken: token,
    // ConfirmationRequired defaults to false through the API (only the console asks by default).
    ConfirmationRequired: bool(root, 'ConfirmationRequired') ?? false,
    Description: description,
  };
}
