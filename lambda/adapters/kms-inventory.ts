/**
 * The reconciler's view of KMS: every key (one ListKeys page at a time), every alias of the account (one listing,
 * instead of one ListAliases per key), and each key's live state with who manages it. Reads go through a rate
 * limiter and retry throttling with backoff, so a sweep of thousands of keys stays inside KMS's request quotas.
 */

import {
  DescribeKeyCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  type GrantListEntry,
  type KMSClient,
  ListAliasesCommand,
  ListGrantsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
} from '@aws-sdk/client-kms';
import { aliasArn, keyArn, parseArn } from '../core/arn';
import type { ResourceSnapshot } from '../core/types';
import { awsErrorName, isTransientAwsError, KeyUnreadableError, RetryableKmsError } from './errors';
import { deletedKey, keySnapshot } from './kms-reader';
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

const NOT_APPLICABLE = new Set(['KMSInvalidStateException', 'UnsupportedOperationException']);
const KEYS_PAGE = 1000;
const ALIASES_PAGE = 100;
const TAGS_PAGE = 50;
const GRANTS_PAGE = 100;
const MAX_BACKOFF_MS = 5000;

class KeyGone {
  constructor(readonly cause: unknown) {}
}

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
  async function call<T>(operation: string, subject: string, send: () => Promise<T>): Promise<T | undefined> {
    for (let attempt = 1; ; attempt++) {
      await limiter.take(operation);
      try {
        return await send();
      } catch (error) {
        const name = awsErrorName(error);
        if (name === 'NotFoundException') throw new KeyGone(error);
        if (name && NOT_APPLICABLE.has(name)) return undefined;
        if (name === 'AccessDeniedException')
          throw new KeyUnreadableError(`KMS denied keydrift ${operation} on ${subject}`, { cause: error });
        if (name === 'InvalidMarkerException') {
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
  }

  async function listAll<T>(
    operation: string,
    subject: string,
    page: (marker: string | undefined) => Promise<{ items?: T[]; truncated?: boolean; next?: string }>,
  ): Promise<T[] | undefined> {
    const items: T[] = [];
    let marker: string | undefined;
    do {
      const result = await call(operation, subject, () => page(marker));
      if (!result) return undefined;
      items.push(...(result.items ?? []));
      marker = result.truncated ? result.next : undefined;
    } while (marker);
    return items;
  }

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
    const aliases =
      (await listAll('ListAliases', 'the account', async (Marker) => {
        const r = await client.send(new ListAliasesCommand({ Limit: ALIASES_PAGE, ...(Marker ? { Marker } : {}) }));
        return { items: r.Aliases, truncated: r.Truncated, next: r.NextMarker };
      })) ?? [];
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
    try {
      const [described, policy, rotation, tags, grants] = await Promise.all([
        call('DescribeKey', arn, () => client.send(new DescribeKeyCommand({ KeyId: arn }))),
        call('GetKeyPolicy', arn, () => client.send(new GetKeyPolicyCommand({ KeyId: arn, PolicyName: 'default' }))),
        call('GetKeyRotationStatus', arn, () => client.send(new GetKeyRotationStatusCommand({ KeyId: arn }))),
        listAll('ListResourceTags', arn, async (Marker) => {
          const r = await client.send(
            new ListResourceTagsCommand({ KeyId: arn, Limit: TAGS_PAGE, ...(Marker ? { Marker } : {}) }),
          );
          return { items: r.Tags, truncated: r.Truncated, next: r.NextMarker };
        }),
        listAll<GrantListEntry>('ListGrants', arn, async (Marker) => {
          const r = await client.send(
            new ListGrantsCommand({ KeyId: arn, Limit: GRANTS_PAGE, ...(Marker ? { Marker } : {}) }),
          );
          return { items: r.Grants, truncated: r.Truncated, next: r.NextMarker };
        }),
      ]);
      const metadata = described?.KeyMetadata;
      if (!metadata) return { snapshot: deletedKey(arn) };
      const snapshot = keySnapshot(arn, {
        metadata,
        policy: policy?.Policy,
        rotation,
        tags,
        aliases: aliasNames.map((AliasName) => ({ AliasName })),
        grants,
      });
      return { snapshot, ...(metadata.KeyManager ? { keyManager: metadata.KeyManager } : {}) };
    } catch (error) {
      if (error instanceof KeyGone) return { snapshot: deletedKey(arn) };
      throw error;
    }
  }

  return { listKeys, listAliases, readKey };
}
