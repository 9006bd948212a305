import type { Reply, S3Deps, S3Request } from './context.js';
import { invalidArgument, S3Error } from './errors.js';
import { inventoryConfigFields, inventoryConfigFrom, MAX_INVENTORY_CONFIGURATIONS } from './inventory.js';
import { xmlDocument } from './xml.js';
import { readXmlRequest } from './xml-request.js';

/**
 * A bucket's S3 Inventory configurations (`?inventory`): Put, Get and Delete by `id`, and the
 * listing when no `id` is given, 100 a page
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBucketInventoryConfigurations.html).
 */

const PAGE = 100;

const noSuchConfiguration = () =>
  new S3Error('NoSuchConfiguration', 'The specified configuration does not exist.');

function requiredId(r: S3Request): string {
  const id = r.query.get('id');
  if (id === undefined || id === '') throw invalidArgument('Missing required parameter id', 'id', '');
  return id;
}

export async function putBucketInventory(deps: S3Deps, r: S3Request): Promise<Reply> {
  const bucket = deps.storage.bucket(r.bucket);
  const id = requiredId(r);
  const config = inventoryConfigFrom(await readXmlRequest(deps, r, 'InventoryConfiguration'), id);
  if (bucket.inventory(id) === undefined && bucket.inventories.length >= MAX_INVENTORY_CONFIGURATIONS)
    throw new S3Error(
      'TooManyConfigurations',
      `You are attempting to create a new configuration but have already reached the ${MAX_INVENTORY_CONFIGURATIONS}-configuration limit.`,
    );
  bucket.setInventory(id, config);
  return { status: 200 };
}

export function getBucketInventory(deps: S3Deps, r: S3Request): Reply {
  const config = deps.storage.bucket(r.bucket).inventory(requiredId(r));
  if (!config) throw noSuchConfiguration();
  return {
    status: 200,
    headers: { 'Content-Type': 'application/xml' },
    body: xmlDocument('InventoryConfiguration', inventoryConfigFields(config)),
  };
}

export function deleteBucketInventory(deps: S3Deps, r: S3Request): Reply {
  const bucket = deps.storage.bucket(r.bucket);
  const id = requiredId(r);
  if (!bucket.inventory(id)) throw noSuchConfiguration();
  bucket.setInventory(id, undefined);
  return { status: 204 };
}

/** The continuation token is the last id of the page before, base64url (opaque to clients). */
export function listBucketInventories(deps: S3Deps, r: S3Request): Reply {
  const token = r.query.get('continuation-token');
  let after: string | undefined;
  if (token !== undefined) {
    after = Buffer.from(token, 'base64url').toString('utf8');
    if (after === '' || Buffer.from(after, 'utf8').toString('base64url') !== token)
      throw invalidArgument('The continuation token provided is incorrect', 'continuation-token', token);
  }
  const all = deps.storage.bucket(r.bucket).inventories.filter((c) => after === undefined || c.id > after);
  const page = all.slice(0, PAGE);
  const truncated = all.length > PAGE;
  const last = page.at(-1);
  return {
    status: 200,
    headers: { 'Content-Type': 'application/xml' },
    body: xmlDocument('ListInventoryConfigurationsResult', {
      ContinuationToken: token,
      InventoryConfiguration: page.map(inventoryConfigFields),
      IsTruncated: truncated,
      NextContinuationToken:
        truncated && last ? Buffer.from(last.id, 'utf8').toString('base64url') : undefined,
    }),
  };
}
