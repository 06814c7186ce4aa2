/**
 * What `keydrift baseline adopt` baselines: the live state of every customer-managed key (AWS-managed keys are
 * skipped), every alias but AWS's own (`alias/aws/…`), and every trail homed in this Region and account.
 */

import { DescribeKeyCommand, type KMSClient, paginateListAliases, paginateListKeys } from '@aws-sdk/client-kms';
import type { KmsReader } from '../adapters/kms-reader';
import type { TrailReader } from '../adapters/trail-reader';
import type { ResourceSnapshot } from '../core/types';

export interface InventoryOptions {
  kms: KMSClient;
  kmsReader: KmsReader;
  trailReader: TrailReader;
  /** How many keys are read at once (each read is six KMS calls in parallel). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
  /** The clock that dates each read (default: the system's). */
  now?: () => number;
  /**
   * The trails to read, by ARN (default: all CloudTrail lists, which includes other Regions' multi-Region trails and
   * the organization's trail of another account).
   */
  isOwnTrail?: (trailArn: string) => boolean;
}

export interface Inventory {
  keys: ResourceSnapshot[];
  aliases: ResourceSnapshot[];
  trails: ResourceSnapshot[];
  /** AWS-managed keys left out. */
  skippedAwsManaged: number;
  /**
   * When each resource's read began (epoch ms), by ARN: a change made before then is in the state read. Each is its
   * own (a large account takes minutes to read), so a change made meanwhile is dated against its resource's read.
   */
  readAt: Map<string, number>;
}

/** Runs `work` over `items` with at most `limit` running at once; results keep the items' order. */
export async function mapLimit<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** The ARNs of the account's customer-managed keys in this Region (ListKeys, then DescribeKey for KeyManager). */
export async function customerManagedKeys(
  kms: KMSClient,
  concurrency = 8,
): Promise<{ arns: string[]; skipped: number }> {
  const listed: string[] = [];
  for await (const page of paginateListKeys({ client: kms, pageSize: 1000 }, {})) {
    for (const key of page.Keys ?? []) if (key.KeyArn) listed.push(key.KeyArn);
  }
  const managers = await mapLimit(listed, concurrency, async (arn) => {
    const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: arn }));
    return KeyMetadata?.KeyManager;
  });
  const arns = listed.filter((_, i) => managers[i] !== 'AWS');
  return { arns, skipped: listed.length - arns.length };
}

/** The ARNs of the account's aliases in this Region, without AWS's own `alias/aws/…`. */
export async function customerAliases(kms: KMSClient): Promise<string[]> {
  const arns: string[] = [];
  for await (const page of paginateListAliases({ client: kms, pageSize: 100 }, {})) {
    for (const alias of page.Aliases ?? []) {
      if (alias.AliasArn && alias.AliasName && !alias.AliasName.startsWith('alias/aws/')) arns.push(alias.AliasArn);
    }
  }
  return arns;
}

/** Reads the live state of everything adopt baselines. */
export async function readInventory(options: InventoryOptions): Promise<Inventory> {
  const { kms, kmsReader, trailReader } = options;
  const concurrency = options.concurrency ?? 8;
  const now = options.now ?? Date.now;
  const readAt = new Map<string, number>();
  const trailsReadAt = now();
  const [{ arns: keyArns, skipped }, aliasArns, trails] = await Promise.all([
    customerManagedKeys(kms, concurrency),
    customerAliases(kms),
    trailReader.readTrails({ where: options.isOwnTrail }),
  ]);
  for (const trail of trails) readAt.set(trail.arn, trailsReadAt);
  const total = keyArns.length + aliasArns.length;
  let done = 0;
  const dated =
    (read: (arn: string) => Promise<ResourceSnapshot>) =>
    async (arn: string): Promise<ResourceSnapshot> => {
      const began = now();
      const snapshot = await read(arn);
      readAt.set(snapshot.arn, began);
      options.onProgress?.(++done, total);
      return snapshot;
    };
  const keys = await mapLimit(keyArns, concurrency, dated(kmsReader.readKey));
  const aliases = await mapLimit(aliasArns, concurrency, dated(kmsReader.readAlias));
  return { keys, aliases, trails, skippedAwsManaged: skipped, readAt };
}
