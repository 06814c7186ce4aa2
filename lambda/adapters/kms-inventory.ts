/**
 * The reconciler's view of KMS: every key (one ListKeys page at a time), every alias of the account (one listing,
 * instead of one ListAliases per key), and each key's live state with who manages it. Reads go through a rate
 * limiter and retry throttling with backoff, so a sweep of thousands of keys stays inside KMS's request quotas.
 */

import { type KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import { aliasArn, keyArn, parseArn } from '../core/arn';
import type { ResourceSnapshot } from '../core/types';
import { awsErrorName, isTransientAwsError, RetryableKmsError } from './errors';
import { aliasesPage, deletedKey, type KmsCall, keySnapshot, listAll, notApplicable, readKeyParts } from './kms-reader';
import type { RateLimiter } from './rate-limiter';

export interface KeyPage {
  keys: Array<{ keyId: string; keyArn: string }>;
  /** The marker of the next page; absent on the last page. */
  nextMarker?: string;
}

export interface AccountAlias {
  aliasName: string;
  aliasArn: string;
  /** The ARN of the key the alias points to; absent for AWS's reserved aliases whose key does not exist yet. */
  targetKeyArn?: string;
}

export interface InventoryKey {
  snapshot: ResourceSnapshot;
  /** `AWS` for AWS managed keys (skipped by the reconciler); absent when the key is gone. */
  keyManager?: string;
}

export interface KmsInventory {
  /** One page of ListKeys (up to 1,000 keys). @throws InvalidMarkerError when the marker is no longer valid */
  listKeys(marker?: string): Promise<KeyPage>;
  /** Every alias in the account and Region, AWS's own included (`alias/aws/…`). */
  listAliases(): Promise<AccountAlias[]>;
  /**
   * A key's live state, like the KMS reader's, with `aliases` taken from the account's alias listing: five reads in
   * parallel (DescribeKey, GetKeyPolicy, GetKeyRotationStatus, ListResourceTags, ListGrants). A key KMS no longer
   * knows reads as `key_state: 'Deleted'`.
   *
   * @throws RetryableKmsError when KMS still throttles or fails after every attempt
   */
  readKey(keyArn: string, aliasNames: readonly string[]): Promise<InventoryKey>;
}

export interface KmsInventoryOptions {
  client: KMSClient;
  /** Paces every attempt of every call (see `paceSdkRetries` for the SDK's own retries). */
  limiter: RateLimiter;
  /** The key ARNs' Region and account come from the listing; this is used when KMS returns a bare key id. */
  region: string;
  account?: string;
  /** Attempts per call on throttling and server errors, above the SDK's own retries (default 5). */
  attempts?: number;
  /** First backoff delay; each further one doubles, with full jitter, up to 5 s (default 100 ms). */
  backoffMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** A ListKeys marker KMS no longer accepts: the listing starts again from the first page. */
export class InvalidMarkerError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InvalidMarkerError';
  }
}

const KEYS_PAGE = 1000;
const MAX_BACKOFF_MS = 5000;

/**
 * Creates the inventory.
 *
 * @example
 * const inventory = createKmsInventory({ client, limiter: createRateLimiter({ rates: kmsRates(0.8) }), region });
 * const page = await inventory.listKeys();
 */
export function createKmsInventory(options: KmsInventoryOptions): KmsInventory {
  const { client, limiter, region } = options;
  const attempts = options.attempts ?? 5;
  const backoffMs = options.backoffMs ?? 100;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;

  /** One call: paced, retried on transient errors; NotFound means the key is gone, "not applicable" is undefined. */
  const call: KmsCall = async (operation, subject, send) => {
    for (let attempt = 1; ; attempt++) {
      await limiter.take(operation);
      try {
        return await send();
      } catch (error) {
        if (notApplicable(error, operation, subject)) return undefined;
        if (awsErrorName(error) === 'InvalidMarkerException') {
          throw new InvalidMarkerError(`KMS ${operation} refused its marker`, { cause: error });
        }
        if (!isTransientAwsError(error)) throw error;
        if (attempt >= attempts) {
          throw new RetryableKmsError(
            `KMS ${operation} for ${subject} failed after ${attempt} attempts: ${(error as Error).message}`,
            { cause: error },
          );
        }
        await sleep(Math.floor(random() * Math.min(MAX_BACKOFF_MS, backoffMs * 2 ** (attempt - 1))));
      }
    }
  };

  async function listKeys(marker?: string): Promise<KeyPage> {
    const output = await call('ListKeys', 'the account', () =>
      client.send(new ListKeysCommand({ Limit: KEYS_PAGE, ...(marker ? { Marker: marker } : {}) })),
    );
    const keys = (output?.Keys ?? [])
      .filter((k) => k.KeyId || k.KeyArn)
      .map((k) => {
        const arn = k.KeyArn ?? keyArn(region, options.account ?? '', k.KeyId as string);
        return { keyId: k.KeyId ?? arn.slice(arn.lastIndexOf('/') + 1), keyArn: arn };
      });
    return output?.Truncated && output.NextMarker ? { keys, nextMarker: output.NextMarker } : { keys };
  }

  async function listAliases(): Promise<AccountAlias[]> {
    const aliases = (await listAll(call, 'ListAliases', 'the account', aliasesPage(client))) ?? [];
    return aliases
      .filter((a) => a.AliasName)
      .map((a) => {
        const arn = a.AliasArn ?? aliasArn(region, options.account ?? '', a.AliasName as string);
        const where = parseArn(arn);
        const target = a.TargetKeyId
          ? a.TargetKeyId.startsWith('arn:')
            ? a.TargetKeyId
            : keyArn(where?.region ?? region, where?.account ?? options.account ?? '', a.TargetKeyId)
          : undefined;
        return { aliasName: a.AliasName as string, aliasArn: arn, ...(target ? { targetKeyArn: target } : {}) };
      });
  }

  async function readKey(arn: string, aliasNames: readonly string[]): Promise<InventoryKey> {
    const reads = await readKeyParts(client, call, arn, false);
    if (!reads) return { snapshot: deletedKey(arn) };
    const snapshot = keySnapshot(arn, { ...reads, aliases: aliasNames.map((AliasName) => ({ AliasName })) });
    const { KeyManager } = reads.metadata;
    return { snapshot, ...(KeyManager ? { keyManager: KeyManager } : {}) };
  }

  return { listKeys, listAliases, readKey };
}
