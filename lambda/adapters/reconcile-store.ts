/**
 * The reconciler's items in keydrift's table, beside those of state-store.ts (same table, same item shapes for
 * states and baselines):
 *
 * | item | pk | sk | other attributes |
 * | --- | --- | --- | --- |
 * | adoption marker | `META` | `ADOPTION` | `adoptedAt`, `runId`, `resources`, `owed`: the first complete reconcile |
 * | run cursor | `META` | `RECONCILE` | `runId`, `sequence`, `cursor` (JSON), `updatedAt`: an unfinished run |
 *
 * Adoption writes a resource's baseline and state; later reconciles write states that changed without a finding, and
 * baselines with what they had no value for yet.
 * Every write is conditional on the version loaded, so nothing the detector saved in between is overwritten.
 */

import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  type ScanCommandOutput,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import type { ResourceKind, ResourceSnapshot } from '../core/types';
import { awsErrorName, isTransientAwsError, isTransientCancellation, RetryableStoreError, StoreError } from './errors';
import { snapshotItem, versionCondition } from './state-store';

export const META_PK = 'META';
export const ADOPTION_SK = 'ADOPTION';
export const CURSOR_SK = 'RECONCILE';
/** Who a baseline set by the first reconcile was accepted by. */
export const ADOPTED_BY = 'keydrift adoption';

export interface Adoption {
  adoptedAt: string;
  runId: string;
  resources: number;
  /**
   * The resources (ARNs) the adoption could not reconcile, which a later run adopts silently while they have no
   * baseline; any other resource found without one appeared since. Stored as a string set, absent when empty (as on
   * a marker of an earlier version: it owes none).
   */
  owed: string[];
}

/** Where an unfinished run stopped. Its shape is the reconciler's business; the store keeps it as JSON. */
export interface StoredCursor<T> {
  runId: string;
  sequence: number;
  cursor: T;
  updatedAt: string;
}

export interface BaselinedResource {
  arn: string;
  kind: ResourceKind;
}

export interface ReconcileStore {
  adoption(): Promise<Adoption | undefined>;
  markAdopted(adoption: Adoption): Promise<void>;
  /**
   * Makes a snapshot both the baseline (accepted by `acceptedBy`, default {@link ADOPTED_BY}) and the state, in one
   * transaction; `approved`, when given, is the baseline instead (the working form of a resource found set up).
   * Returns false, writing nothing, when a baseline appeared or the state changed since it was loaded.
   */
  adopt(
    snapshot: ResourceSnapshot,
    stateVersion: number | null,
    runId: string,
    acceptedBy?: string,
    approved?: ResourceSnapshot,
  ): Promise<boolean>;
  /** Writes the state if its version is still `expectedVersion` (`null`: none). Returns false when it was not. */
  putState(snapshot: ResourceSnapshot, expectedVersion: number | null, runId: string): Promise<boolean>;
  /**
   * Writes the baseline if its version is still `expectedVersion`, still accepted by whom, when and why it was (what the
   * reconciler adds to it is what it had no value for). Returns false when it was not.
   */
  putBaseline(
    snapshot: ResourceSnapshot,
    expectedVersion: number,
    runId: string,
    accepted: { acceptedBy?: string; acceptedAt?: string; acceptReason?: string },
  ): Promise<boolean>;
  cursor<T>(): Promise<StoredCursor<T> | undefined>;
  /**
   * Stores the cursor if the stored one is still the run's `expectedSequence` (`null`: there is none).
   * Returns false when another invocation moved it on.
   */
  saveCursor<T>(cursor: StoredCursor<T>, expectedSequence: number | null): Promise<boolean>;
  /** Removes the run's cursor (a finished run); a cursor of another run is left alone. */
  clearCursor(runId: string): Promise<void>;
  /** Every resource with a baseline (a scan of the table, projected to keys: at most a few MB for 10,000 keys). */
  baselined(): Promise<BaselinedResource[]>;
}

export interface ReconcileStoreOptions {
  client: DynamoDBClient;
  tableName: string;
  now?: () => number;
  /** Parallel scan segments for {@link ReconcileStore.baselined} (default 4). */
  scanSegments?: number;
}

type Item = Record<string, AttributeValue>;
const s = (value: string): AttributeValue => ({ S: value });
const n = (value: number): AttributeValue => ({ N: String(value) });
const META_KEY = (sk: string): Item => ({ pk: s(META_PK), sk: s(sk) });
const UPDATED_BY = 'keydrift-reconciler';

/**
 * Creates the store.
 *
 * @example
 * const store = createReconcileStore({ client: new DynamoDBClient({}), tableName });
 * if (!(await store.adoption())) { ... }
 */
export function createReconcileStore(options: ReconcileStoreOptions): ReconcileStore {
  const { client, tableName } = options;
  const now = options.now ?? Date.now;
  const segments = options.scanSegments ?? 4;

  async function send<T>(what: string, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      throw translate(what, error);
    }
  }

  /** A conditional write: false when its condition failed, the error translated otherwise. */
  async function conditional(what: string, action: () => Promise<unknown>): Promise<boolean> {
    try {
      await action();
      return true;
    } catch (error) {
      const name = awsErrorName(error);
      if (error instanceof ConditionalCheckFailedException || name === 'ConditionalCheckFailedException') return false;
      if (name === 'TransactionCanceledException') {
        const reasons = (error as { CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons ?? [];
        const codes = reasons.map((r) => r.Code ?? '').filter((c) => c && c !== 'None');
        if (codes.length > 0 && codes.every((c) => c === 'ConditionalCheckFailed')) return false;
        // Another write to the same item at that moment (the detector saving an event), or throttling: this resource
        // fails this time, as state-store.ts has it, not the whole table.
        if (codes.some(isTransientCancellation)) {
          throw new RetryableStoreError(`DynamoDB ${what} was cancelled: ${codes.join(', ')}`, { cause: error });
        }
      }
      throw translate(what, error);
    }
  }

  function adoptedItem(
    sk: 'STATE' | 'BASELINE',
    snapshot: ResourceSnapshot,
    version: number,
    runId: string,
    acceptedBy = ADOPTED_BY,
  ): Item {
    const at = new Date(now()).toISOString();
    const accepted = sk === 'BASELINE' ? { acceptedBy, acceptedAt: at } : {};
    return snapshotItem(sk, snapshot, { version, updatedAt: at, updatedBy: UPDATED_BY, runId, ...accepted });
  }

  async function adoption(): Promise<Adoption | undefined> {
    const { Item } = await send('GetItem (adoption)', () =>
      client.send(new GetItemCommand({ TableName: tableName, Key: META_KEY(ADOPTION_SK), ConsistentRead: true })),
    );
    if (!Item) return undefined;
    return {
      adoptedAt: Item.adoptedAt?.S ?? '',
      runId: Item.runId?.S ?? '',
      resources: Number(Item.resources?.N ?? 0),
      owed: Item.owed?.SS ?? [],
    };
  }

  async function markAdopted(info: Adoption): Promise<void> {
    await send('PutItem (adoption)', () =>
      client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: {
            ...META_KEY(ADOPTION_SK),
            adoptedAt: s(info.adoptedAt),
            runId: s(info.runId),
            resources: n(info.resources),
            // A string set cannot be empty: none owed is no attribute.
            ...(info.owed.length > 0 ? { owed: { SS: [...new Set(info.owed)] } } : {}),
          },
        }),
      ),
    );
  }

  function adopt(
    snapshot: ResourceSnapshot,
    stateVersion: number | null,
    runId: string,
    acceptedBy = ADOPTED_BY,
    approved = snapshot,
  ): Promise<boolean> {
    return conditional('TransactWriteItems (adopt)', () =>
      client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Put: {
                TableName: tableName,
                Item: adoptedItem('BASELINE', approved, 1, runId, acceptedBy),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName: tableName,
                Item: adoptedItem('STATE', snapshot, (stateVersion ?? 0) + 1, runId),
                ...versionCondition(stateVersion),
              },
            },
          ],
        }),
      ),
    );
  }

  function putState(snapshot: ResourceSnapshot, expectedVersion: number | null, runId: string): Promise<boolean> {
    return conditional('PutItem (state)', () =>
      client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: adoptedItem('STATE', snapshot, (expectedVersion ?? 0) + 1, runId),
          ...versionCondition(expectedVersion),
        }),
      ),
    );
  }

  function putBaseline(
    snapshot: ResourceSnapshot,
    expectedVersion: number,
    runId: string,
    accepted: { acceptedBy?: string; acceptedAt?: string; acceptReason?: string },
  ): Promise<boolean> {
    const at = new Date(now()).toISOString();
    return conditional('PutItem (baseline)', () =>
      client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: snapshotItem('BASELINE', snapshot, {
            version: expectedVersion + 1,
            updatedAt: at,
            updatedBy: UPDATED_BY,
            runId,
            ...accepted,
          }),
          ...versionCondition(expectedVersion),
        }),
      ),
    );
  }

  async function cursor<T>(): Promise<StoredCursor<T> | undefined> {
    const { Item } = await send('GetItem (cursor)', () =>
      client.send(new GetItemCommand({ TableName: tableName, Key: META_KEY(CURSOR_SK), ConsistentRead: true })),
    );
    if (!Item?.cursor?.S) return undefined;
    return {
      runId: Item.runId?.S ?? '',
      sequence: Number(Item.sequence?.N ?? 0),
      cursor: JSON.parse(Item.cursor.S) as T,
      updatedAt: Item.updatedAt?.S ?? '',
    };
  }

  function saveCursor<T>(stored: StoredCursor<T>, expectedSequence: number | null): Promise<boolean> {
    return conditional('PutItem (cursor)', () =>
      client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: {
            ...META_KEY(CURSOR_SK),
            runId: s(stored.runId),
            sequence: n(stored.sequence),
            cursor: s(JSON.stringify(stored.cursor)),
            updatedAt: s(stored.updatedAt),
          },
          ...(expectedSequence === null
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : {
                ConditionExpression: 'runId = :runId AND #sequence = :sequence',
                ExpressionAttributeNames: { '#sequence': 'sequence' },
                ExpressionAttributeValues: { ':runId': s(stored.runId), ':sequence': n(expectedSequence) },
              }),
        }),
      ),
    );
  }

  async function clearCursor(runId: string): Promise<void> {
    await conditional('DeleteItem (cursor)', () =>
      client.send(
        new DeleteItemCommand({
          TableName: tableName,
          Key: META_KEY(CURSOR_SK),
          ConditionExpression: 'runId = :runId',
          ExpressionAttributeValues: { ':runId': s(runId) },
        }),
      ),
    );
  }

  async function scanSegment(segment: number): Promise<BaselinedResource[]> {
    const found: BaselinedResource[] = [];
    let start: Item | undefined;
    do {
      const output: ScanCommandOutput = await send('Scan (baselines)', () =>
        client.send(
          new ScanCommand({
            TableName: tableName,
            Segment: segment,
            TotalSegments: segments,
            FilterExpression: 'sk = :baseline',
            ProjectionExpression: 'pk, kind',
            ExpressionAttributeValues: { ':baseline': s('BASELINE') },
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        ),
      );
      for (const item of output.Items ?? []) {
        const pk = item.pk?.S ?? '';
        if (pk.startsWith('RESOURCE#')) {
          found.push({ arn: pk.slice('RESOURCE#'.length), kind: (item.kind?.S ?? 'key') as ResourceKind });
        }
      }
      start = output.LastEvaluatedKey;
    } while (start);
    return found;
  }

  async function baselined(): Promise<BaselinedResource[]> {
    const parts = await Promise.all(Array.from({ length: segments }, (_, i) => scanSegment(i)));
    // Emulators that ignore segments return every item in each one.
    return [...new Map(parts.flat().map((r) => [r.arn, r])).values()];
  }

  return { adoption, markAdopted, adopt, putState, putBaseline, cursor, saveCursor, clearCursor, baselined };
}

function translate(what: string, error: unknown): Error {
  const name = awsErrorName(error) ?? 'Error';
  const message = `DynamoDB ${what} failed: ${name}: ${(error as Error)?.message ?? String(error)}`;
  if (isTransientAwsError(error)) return new RetryableStoreError(message, { cause: error });
  return new StoreError(message, { cause: error });
}
