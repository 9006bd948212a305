import { z } from 'zod';
import { invalidArgument, malformedXml } from './errors.js';
import { childrenNamed, childText, type XmlElement, type XmlFields, XmlSyntaxError } from './xml.js';

/**
 * S3 Inventory configurations as PutBucketInventoryConfiguration takes them and
 * GetBucketInventoryConfiguration / ListBucketInventoryConfigurations answer them
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketInventoryConfiguration.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_InventoryConfiguration.html): an Id, whether
 * it is enabled, the destination bucket (ARN), format and prefix, an optional prefix filter,
 * current or all versions, optional fields, and a daily or weekly schedule. At most 1,000 per
 * bucket. The report itself is delivered by inventory-report.ts.
 */

export const MAX_INVENTORY_CONFIGURATIONS = 1000;

/** The optional fields S3 documents (API_InventoryConfiguration.html, OptionalFields). */
export const INVENTORY_FIELDS = [
  'Size',
  'LastModifiedDate',
  'StorageClass',
  'ETag',
  'IsMultipartUploaded',
  'ReplicationStatus',
  'EncryptionStatus',
  'ObjectLockRetainUntilDate',
  'ObjectLockMode',
  'ObjectLockLegalHoldStatus',
  'IntelligentTieringAccessTier',
  'BucketKeyStatus',
  'ChecksumAlgorithm',
  'ObjectAccessControlList',
  'ObjectOwner',
] as const;

export const inventoryConfigSchema = z.object({
  id: z.string(),
  enabled: z.boolean(),
  destination: z.object({
    bucketArn: z.string(),
    accountId: z.string().optional(),
    format: z.enum(['CSV', 'ORC', 'Parquet']),
    prefix: z.string().optional(),
  }),
  filterPrefix: z.string().optional(),
  includedObjectVersions: z.enum(['All', 'Current']),
  optionalFields: z.array(z.enum(INVENTORY_FIELDS)),
  frequency: z.enum(['Daily', 'Weekly']),
});
export type InventoryConfig = z.infer<typeof inventoryConfigSchema>;

const ID = /^[\w.-]{1,64}$/;
const BUCKET_ARN = /^arn:aws:s3:::([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])$/;

/** The destination bucket's name. */
export const destinationBucketOf = (config: InventoryConfig): string =>
  BUCKET_ARN.exec(config.destination.bucketArn)?.[1] ?? '';

function one(e: XmlElement, name: string): XmlElement | undefined {
  const found = childrenNamed(e, name);
  if (found.length > 1) throw malformedXml();
  return found[0];
}

function need(e: XmlElement | undefined, name: string): string {
  const value = e ? childText(e, name)?.trim() : undefined;
  if (value === undefined || value === '') throw malformedXml();
  return value;
}

/**
 * Precondition of PutBucketInventoryConfiguration: the body is an InventoryConfiguration whose Id
 * is the request's `id`; a missing element is MalformedXML, a wrong value InvalidArgument, as S3
 * answers them.
 */
export function inventoryConfigFrom(root: XmlElement, id: string): InventoryConfig {
  try {
    const bodyId = need(root, 'Id');
    if (!ID.test(id)) throw invalidArgument('Invalid id', 'id', id);
    if (bodyId !== id) throw invalidArgument('The Id in the body does not match the id parameter', 'id', id);
    const enabled = need(root, 'IsEnabled');
    if (enabled !== 'true' && enabled !== 'false') throw malformedXml();
    const destination = one(one(root, 'Destination') ?? root, 'S3BucketDestination');
    if (!one(root, 'Destination') || !destination) throw malformedXml();
    const bucketArn = need(destination, 'Bucket');
    if (!BUCKET_ARN.test(bucketArn))
      throw invalidArgument('Invalid destination bucket ARN', 'Bucket', bucketArn);
    const format = need(destination, 'Format');
    if (format !== 'CSV' && format !== 'ORC' && format !== 'Parquet')
      throw invalidArgument('Invalid inventory format', 'Format', format);
    const versions = need(root, 'IncludedObjectVersions');
    if (versions !== 'All' && versions !== 'Current')
      throw invalidArgument('Invalid IncludedObjectVersions', 'IncludedObjectVersions', versions);
    const frequency = need(one(root, 'Schedule'), 'Frequency');
    if (frequency !== 'Daily' && frequency !== 'Weekly')
      throw invalidArgument('Invalid schedule frequency', 'Frequency', frequency);
    const fieldsElement = one(root, 'OptionalFields');
    const fields = fieldsElement ? childrenNamed(fieldsElement, 'Field').map((f) => f.text.trim()) : [];
    for (const f of fields)
      if (!(INVENTORY_FIELDS as readonly string[]).includes(f))
        throw invalidArgument('Invalid optional field', 'Field', f);
    const filter = one(root, 'Filter');
    const filterPrefix = filter ? childText(filter, 'Prefix') : undefined;
    const accountId = childText(destination, 'AccountId')?.trim();
    const prefix = childText(destination, 'Prefix');
    return {
      id,
      enabled: enabled === 'true',
      destination: {
        bucketArn,
        ...(accountId ? { accountId } : {}),
        format,
        ...(prefix !== undefined && prefix !== '' ? { prefix } : {}),
      },
      ...(filterPrefix !== undefined && filterPrefix !== '' ? { filterPrefix } : {}),
      includedObjectVersions: versions,
      optionalFields: [...new Set(fields)] as InventoryConfig['optionalFields'],
      frequency,
    };
  } catch (error) {
    if (error instanceof XmlSyntaxError) throw malformedXml();
    throw error;
  }
}

/** The configuration's elements, as the GET and the listing answer them. */
export function inventoryConfigFields(config: InventoryConfig): XmlFields {
  return {
    Destination: {
      S3BucketDestination: {
        AccountId: config.destination.accountId,
        Bucket: config.destination.bucketArn,
        Format: config.destination.format,
        Prefix: config.destination.prefix,
      },
    },
    IsEnabled: config.enabled,
    Filter: config.filterPrefix === undefined ? undefined : { Prefix: config.filterPrefix },
    Id: config.id,
    IncludedObjectVersions: config.includedObjectVersions,
    OptionalFields: config.optionalFields.length > 0 ? { Field: config.optionalFields } : undefined,
    Schedule: { Frequency: config.frequency },
  };
}
