/**
 * keydrift's DynamoDB table: the known state and the approved baseline of each resource, the findings (by resource,
 * and by day through the `byTime` index), and one claim per CloudTrail event so that each event alerts once.
 *
 * | item | pk | sk | other attributes |
 * | --- | --- | --- | --- |
 * | state | `RESOURCE#<arn>` | `STATE` | `kind`, `snapshot` (JSON), `version`, `updatedAt`, `eventId`, `truncated` |
 * | baseline | `RESOURCE#<arn>` | `BASELINE` | the same, plus `acceptedBy`, `acceptedAt` (and `acceptReason`, when given) when a person accepted it |
 * | finding | `RESOURCE#<arn>` | `FINDING#<timestamp>#<eventId>` | `gsi1pk` `FINDINGS#<yyyy-mm-dd>`, `gsi1sk` `<timestamp>#<eventId>`, `severity`, `status`, `event`, `finding` (JSON) |
 * | claim | `EVENT#<eventId>` | `CLAIM` | `status` (`in-progress`/`saved`/`done`), `owner`, `leaseUntil` (ms), `delivered` (targets already sent, a string set), `expiresAt` (TTL, 14 days) |
 *
 * A resource whose `RESOURCE#<arn>` is over DynamoDB's 2,048-byte partition key (no real one is: a denied call may
 * name any key id KMS takes, up to 2,048 characters) is kept under `RESOURCE#sha256:<hex of the arn>`; its items
 * still name it whole (`resource`, and the snapshot's or finding's JSON).
 */

import { randomUUID } from 'node:crypto';
import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  type DynamoDBClient,
  GetItemCommand,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { sha256Hex } from '../alerts/digest';
import { MAX_JSON_BYTES, storedFinding } from '../alerts/event-entry';
import { approvedAsOf, baselinePart } from '../core/state';
import { toIsoSeconds } from '../core/time';
import type { Finding, ResourceSnapshot } from '../core/types';
import {
  awsErrorName,
  ClaimLostError,
  isTransientCancellation,
  RetryableStoreError,
  StaleStateError,
  StoreError,
  storeError,
} from './errors';

/** A snapshot as stored, with the version a later write must still find. */
export interface StoredSnapshot {
  snapshot: ResourceSnapshot;
  version: number;
  /** When it was written (ISO-8601): a state written after an event may already show that event's change. */
  updatedAt?: string;
  acceptedBy?: string;
  acceptedAt?: string;
  /** Why it was accepted, when the operator said (`keydrift baseline accept --reason`). */
  acceptReason?: string;
  /** Attributes dropped (left unknown) to keep the item under DynamoDB's 400 KB. */
  truncated?: string[];
}

/** Where a finding is kept: it is looked up by the event it came from. */
export interface FindingRef {
  resource: string;
  timestamp: string;
  eventId: string;
}

export interface LoadResult {
  states: Map<string, StoredSnapshot>;
  baselines: Map<string, StoredSnapshot>;
  /** The finding saved earlier for `options.finding`, when there is one. */
  finding?: Finding;
  /** The ignore rule that kept that finding from being alerted, when one did. */
  ignoredBy?: string;
}

/**
 * `new`: this invocation holds the event; `done`: it was judged and alerted; `in-progress`: another holds it.
 *
 * A claim goes `in-progress` → `saved` (state and finding written, alert not yet confirmed) → `done`. Until it is
 * done, a claim whose lease ran out is taken over, so an alert lost with its invocation is sent by the retry.
 */
export type ClaimOutcome = 'new' | 'done' | 'in-progress';

/** A claim's outcome, and the alert targets earlier attempts had delivered when it was taken (none unless `new`). */
export interface Claim {
  outcome: ClaimOutcome;
  delivered: string[];
}

/** A snapshot to write, and the version the stored one must still have (`null`: there must be none). */
export interface SnapshotWrite {
  snapshot: ResourceSnapshot;
  expectedVersion: number | null;
  /** Kept on a baseline the detector rewrites: who last accepted it, and why. */
  acceptedBy?: string;
  acceptedAt?: string;
  acceptReason?: string;
}

export interface SaveInput {
  eventId: string;
  finding: Finding;
  states: SnapshotWrite[];
  baselines: SnapshotWrite[];
  /** Set when an ignore rule matched: the finding is kept, marked, and was not alerted. */
  ignoredBy?: string;
  /** The alert went out before this save (the reconciler publishes first): the claim is marked done at once. */
  alertSent?: boolean;
}

export interface StateStore {
  /** States and baselines of these resources (one BatchGetItem, consistent reads), and optionally a saved finding. */
  load(arns: string[], options?: { finding?: FindingRef }): Promise<LoadResult>;
  /**
   * Claims an event for this invocation (one conditional put). A claim whose lease ran out (its invocation died)
   * is taken over; `leaseMs` should cover the rest of the invocation.
   */
  claim(eventId: string, options?: { leaseMs?: number }): Promise<ClaimOutcome>;
  /**
   * {@link StateStore.claim}, with what earlier attempts delivered read by the claim itself. A load beside the claim
   * may read the claim before the attempt that held it last releases it with what it sent, and the claim just after.
   */
  claimWithDelivered(eventId: string, options?: { leaseMs?: number }): Promise<Claim>;
  /**
   * Gives up this invocation's claim, so that a retry judges and alerts again; the targets it already sent to are
   * kept with the claim (`Claim.delivered`), so the retry sends only to the others. Another owner's claim is kept.
   */
  release(eventId: string, delivered?: readonly string[]): Promise<void>;
  /**
   * Writes states, baselines and the finding, and marks the claim saved (or done, with `alertSent`), in one
   * transaction.
   *
   * @throws StaleStateError when a state or baseline changed since it was loaded
   * @throws ClaimLostError when another invocation took the claim over
   */
  save(input: SaveInput): Promise<void>;
  /** Marks a saved claim done once its alert is confirmed sent: later copies of the event are duplicates. */
  complete(eventId: string): Promise<void>;
  /**
   * An operator's explicit accept: the snapshot becomes the baseline, with who, when and `reason` (a baseline accepted
   * again without one keeps none of the previous accept's), each attribute approved as of
   * `state.readAt` (default now: see `approvedAsOf`); `record`, when given, goes
   * into the finding history, and with `state` the snapshot becomes the stored state too, in the same transaction.
   *
   * @throws StaleStateError when the stored state is no longer `state.expectedVersion` (nothing is written)
   */
  acceptBaseline(
    snapshot: ResourceSnapshot,
    acceptedBy: string,
    record?: Finding,
    state?: AcceptedState,
    reason?: string,
  ): Promise<void>;
}

/**
 * The stored state an accept writes with the baseline (the live snapshot it approved), under the same version rule as
 * {@link StateStore.save}: the stored state must still have `expectedVersion` (`null`: there must be none).
 */
export interface AcceptedState {
  expectedVersion: number | null;
  /** When the snapshot was read (ISO-8601; default: now): the detector takes a state as newer than events before it. */
  readAt?: string;
  /** The live state read, when the baseline approves another form of it (adopt's: a key pending deletion as Enabled). */
  snapshot?: ResourceSnapshot;
}

export interface StateStoreOptions {
  client: DynamoDBClient;
  tableName: string;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Identifies this process's claims (default: a random id per store). */
  owner?: string;
}

export { MAX_JSON_BYTES };
export const CLAIM_TTL_SECONDS = 14 * 24 * 60 * 60;
const DEFAULT_LEASE_MS = 35_000;
const BATCH_GET_LIMIT = 100;
/** DynamoDB's most actions in one TransactWriteItems. */
const MAX_TRANSACTION_ACTIONS = 100;
/** The most resources one `save` may write: a state and a baseline each, beside the finding and the claim. */
export const MAX_SAVED_RESOURCES = (MAX_TRANSACTION_ACTIONS - 2) / 2;
const MAX_UNPROCESSED_ROUNDS = 5;

/** DynamoDB's largest partition key, in bytes. */
const MAX_PK_BYTES = 2048;
const RESOURCE_PREFIX = 'RESOURCE#';
/** Where a resource named too long for a key is kept: no ARN starts so. */
const DIGEST_PREFIX = `${RESOURCE_PREFIX}sha256:`;
/** A resource's partition key: `RESOURCE#<arn>`, or its digest when that is over DynamoDB's limit. */
export const resourcePk = (arn: string): string => {
  const pk = `${RESOURCE_PREFIX}${arn}`;
  return Buffer.byteLength(pk, 'utf8') <= MAX_PK_BYTES ? pk : `${DIGEST_PREFIX}${sha256Hex(arn)}`;
};
export const eventPk = (eventId: string): string => `EVENT#${eventId}`;
const claimKey = (eventId: string): Item => ({ pk: { S: eventPk(eventId) }, sk: { S: 'CLAIM' } });
export const findingSk = (ref: Pick<FindingRef, 'timestamp' | 'eventId'>): string =>
  `FINDING#${ref.timestamp}#${ref.eventId}`;

type Item = Record<string, AttributeValue>;
const s = (value: string): AttributeValue => ({ S: value });
const n = (value: number): AttributeValue => ({ N: String(value) });
const str = (item: Item | undefined, name: string): string | undefined => item?.[name]?.S;
const num = (item: Item | undefined, name: string): number | undefined =>
  item?.[name]?.N !== undefined ? Number(item[name].N) : undefined;
const bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/**
 * Creates the store over the keydrift table.
 *
 * @example
 * const store = createStateStore({ client: new DynamoDBClient({}), tableName: process.env.TABLE_NAME });
 * if ((await store.claim(eventId)) === 'new') { ... await store.save({ eventId, finding, states, baselines }); }
 */
export function createStateStore(options: StateStoreOptions): StateStore {
  const { client, tableName } = options;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const owner = options.owner ?? randomUUID();

  async function send<T>(what: string, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      throw storeError(what, error);
    }
  }

  async function batchGet(keys: Item[]): Promise<Item[]> {
    const items: Item[] = [];
    for (let start = 0; start < keys.length; start += BATCH_GET_LIMIT) {
      let pending: Item[] = keys.slice(start, start + BATCH_GET_LIMIT);
      for (let round = 0; pending.length > 0; round++) {
        if (round > 0) await sleep(Math.min(1000, 50 * 2 ** round));
        if (round > MAX_UNPROCESSED_ROUNDS)
          throw new RetryableStoreError(`BatchGetItem left ${pending.length} keys unprocessed`);
        const output: BatchGetItemCommandOutput = await send('BatchGetItem', () =>
          client.send(
            new BatchGetItemCommand({ RequestItems: { [tableName]: { Keys: pending, ConsistentRead: true } } }),
          ),
        );
        items.push(...(output.Responses?.[tableName] ?? []));
        pending = output.UnprocessedKeys?.[tableName]?.Keys ?? [];
      }
    }
    return items;
  }

  async function load(arns: string[], loadOptions: { finding?: FindingRef } = {}): Promise<LoadResult> {
    const unique = [...new Set(arns)];
    const keys: Item[] = unique.flatMap((arn) => [
      { pk: s(resourcePk(arn)), sk: s('STATE') },
      { pk: s(resourcePk(arn)), sk: s('BASELINE') },
    ]);
    const ref = loadOptions.finding;
    if (ref) keys.push({ pk: s(resourcePk(ref.resource)), sk: s(findingSk(ref)) });
    const result: LoadResult = { states: new Map(), baselines: new Map() };
    for (const item of await batchGet(keys)) {
      const sk = str(item, 'sk');
      if (sk === 'STATE' || sk === 'BASELINE') {
        const stored = readSnapshotItem(item);
        (sk === 'STATE' ? result.states : result.baselines).set(stored.snapshot.arn, stored);
      } else if (sk?.startsWith('FINDING#')) {
        result.finding = JSON.parse(str(item, 'finding') ?? 'null') ?? undefined;
        const ignoredBy = str(item, 'ignoredBy');
        if (ignoredBy) result.ignoredBy = ignoredBy;
      }
    }
    return result;
  }

  async function claimWithDelivered(
    eventId: string,
    claimOptions: { leaseMs?: number } = {},
    attempt = 1,
  ): Promise<Claim> {
    const at = now();
    const key = claimKey(eventId);
    try {
      // An update, not a put: what an earlier attempt already delivered (`delivered`) stays with the claim.
      const output = await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: key,
          UpdateExpression:
            'SET #status = :inProgress, #owner = :owner, leaseUntil = :lease, claimedAt = :at, expiresAt = :expires',
          // A claim not yet done whose invocation died (its lease ran out), or this process's own, may be taken over.
          ConditionExpression:
            'attribute_not_exists(pk) OR (#status <> :done AND (leaseUntil < :now OR #owner = :owner))',
          ExpressionAttributeNames: { '#status': 'status', '#owner': 'owner' },
          ExpressionAttributeValues: {
            ':inProgress': s('in-progress'),
            ':done': s('done'),
            ':now': n(at),
            ':owner': s(owner),
            ':lease': n(at + (claimOptions.leaseMs ?? DEFAULT_LEASE_MS)),
            ':at': s(new Date(at).toISOString()),
            ':expires': n(Math.floor(at / 1000) + CLAIM_TTL_SECONDS),
          },
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { outcome: 'new', delivered: [...(output?.Attributes?.delivered?.SS ?? [])].sort() };
    } catch (error) {
      if (awsErrorName(error) !== 'ConditionalCheckFailedException') throw storeError('UpdateItem (claim)', error);
      const existing =
        (error as { Item?: Item }).Item ??
        (
          await send('GetItem (claim)', () =>
            client.send(new GetItemCommand({ TableName: tableName, Key: key, ConsistentRead: true })),
          )
        ).Item;
      // Released between the two calls: claim again (once; after that, leave it to the other invocation).
      if (!existing)
        return attempt < 2
          ? claimWithDelivered(eventId, claimOptions, attempt + 1)
          : { outcome: 'in-progress', delivered: [] };
      return { outcome: str(existing, 'status') === 'done' ? 'done' : 'in-progress', delivered: [] };
    }
  }

  async function claim(eventId: string, claimOptions: { leaseMs?: number } = {}): Promise<ClaimOutcome> {
    return (await claimWithDelivered(eventId, claimOptions)).outcome;
  }

  async function release(eventId: string, delivered: readonly string[] = []): Promise<void> {
    const adds = delivered.length > 0;
    try {
      // An update, never a delete: what earlier attempts delivered stays with the claim even when this one sent
      // nothing (it may have failed before loading them). An expired lease lets the retry take the claim over.
      await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: claimKey(eventId),
          UpdateExpression: `SET leaseUntil = :released${adds ? ' ADD delivered :delivered' : ''}`,
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: {
            ':owner': s(owner),
            ':released': n(0),
            ...(adds ? { ':delivered': { SS: [...delivered] } } : {}),
          },
        }),
      );
    } catch (error) {
      // Another invocation holds it now (or it is gone): nothing of ours to release.
      if (awsErrorName(error) === 'ConditionalCheckFailedException') return;
      throw storeError('release claim', error);
    }
  }

  /** A put of a snapshot item that holds only while the stored one has `expectedVersion` (`null`: there is none). */
  const versionedPut = (item: Item, expectedVersion: number | null): TransactWriteItem => ({
    Put: { TableName: tableName, Item: item, ...versionCondition(expectedVersion) },
  });

  async function save(input: SaveInput): Promise<void> {
    const at = now();
    const updatedAt = new Date(at).toISOString();
    const snapshotPut = (sk: 'STATE' | 'BASELINE', write: SnapshotWrite): TransactWriteItem => {
      const item = snapshotItem(sk, write.snapshot, {
        version: (write.expectedVersion ?? 0) + 1,
        updatedAt,
        updatedBy: 'keydrift-detector',
        eventId: input.eventId,
        acceptedBy: write.acceptedBy,
        acceptedAt: write.acceptedAt,
        acceptReason: write.acceptReason,
      });
      return versionedPut(item, write.expectedVersion);
    };
    const items: TransactWriteItem[] = [
      ...input.states.map((w) => snapshotPut('STATE', w)),
      ...input.baselines.map((w) => snapshotPut('BASELINE', w)),
      { Put: { TableName: tableName, Item: findingItem(input.finding, updatedAt, input.ignoredBy) } },
      {
        // The lease stays: should the alert never be confirmed, the claim is taken over once it runs out.
        Update: {
          TableName: tableName,
          Key: claimKey(input.eventId),
          UpdateExpression: 'SET #status = :status, savedAt = :at, findingSk = :findingSk',
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#status': 'status', '#owner': 'owner' },
          ExpressionAttributeValues: {
            ':status': s(input.alertSent ? 'done' : 'saved'),
            ':at': s(updatedAt),
            ':findingSk': s(findingSk(input.finding)),
            ':owner': s(owner),
          },
        },
      },
    ];
    try {
      await client.send(new TransactWriteItemsCommand({ TransactItems: items }));
    } catch (error) {
      throw translateTransaction(error, items, input.eventId);
    }
  }

  async function complete(eventId: string): Promise<void> {
    try {
      await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: claimKey(eventId),
          UpdateExpression: 'SET #status = :done, completedAt = :at',
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#status': 'status', '#owner': 'owner' },
          ExpressionAttributeValues: {
            ':done': s('done'),
            ':at': s(new Date(now()).toISOString()),
            ':owner': s(owner),
          },
        }),
      );
    } catch (error) {
      if (awsErrorName(error) === 'ConditionalCheckFailedException')
        throw new ClaimLostError(`the claim on event ${eventId} is held by another invocation`, { cause: error });
      throw storeError('UpdateItem (complete claim)', error);
    }
  }

  async function acceptBaseline(
    snapshot: ResourceSnapshot,
    acceptedBy: string,
    record?: Finding,
    state?: AcceptedState,
    reason?: string,
  ): Promise<void> {
    const at = new Date(now()).toISOString();
    const { json, truncated } = fitAcceptedBaseline(snapshot, state?.readAt ?? at);
    const update = {
      TableName: tableName,
      Key: { pk: s(resourcePk(snapshot.arn)), sk: s('BASELINE') },
      // The version moves too, so a detector that loaded the old baseline cannot overwrite this accept.
      UpdateExpression:
        'SET kind = :kind, #snapshot = :snapshot, updatedAt = :at, updatedBy = :by, acceptedBy = :by, ' +
        `acceptedAt = :at, truncated = :truncated${reason ? ', acceptReason = :reason' : ''} ADD version :one` +
        // Without a reason now, the previous accept's would read as this one's.
        (reason ? '' : ' REMOVE acceptReason'),
      ExpressionAttributeNames: { '#snapshot': 'snapshot' },
      ExpressionAttributeValues: {
        ':kind': s(snapshot.kind),
        ':snapshot': s(json),
        ':at': s(at),
        ':by': s(acceptedBy),
        ':truncated': { L: truncated.map(s) },
        ':one': n(1),
        ...(reason ? { ':reason': s(reason) } : {}),
      },
    };
    if (!record && !state) {
      await send('UpdateItem (accept baseline)', () => client.send(new UpdateItemCommand(update)));
      return;
    }
    // The accept, the state it approved and its record in the finding history, together.
    const items: TransactWriteItem[] = [{ Update: update }];
    if (state) {
      // The state's version rule is save()'s: a detector save since it was loaded cancels the accept, not the save.
      const item = snapshotItem('STATE', state.snapshot ?? snapshot, {
        version: (state.expectedVersion ?? 0) + 1,
        updatedAt: state.readAt ?? at,
        updatedBy: acceptedBy,
        eventId: record?.eventId,
      });
      items.push(versionedPut(item, state.expectedVersion));
    }
    if (record) items.push({ Put: { TableName: tableName, Item: findingItem(record, at, undefined) } });
    try {
      await client.send(new TransactWriteItemsCommand({ TransactItems: items }));
    } catch (error) {
      throw translateTransaction(error, items, record?.eventId ?? `accept of ${snapshot.arn}`);
    }
  }

  return { load, claim, claimWithDelivered, release, save, complete, acceptBaseline };
}

function readSnapshotItem(item: Item): StoredSnapshot {
  const stored: StoredSnapshot = { snapshot: snapshotOfItem(item), version: num(item, 'version') ?? 0 };
  const updatedAt = str(item, 'updatedAt');
  if (updatedAt) stored.updatedAt = updatedAt;
  const acceptedBy = str(item, 'acceptedBy');
  const acceptedAt = str(item, 'acceptedAt');
  if (acceptedBy) stored.acceptedBy = acceptedBy;
  if (acceptedAt) stored.acceptedAt = acceptedAt;
  const acceptReason = str(item, 'acceptReason');
  if (acceptReason) stored.acceptReason = acceptReason;
  const truncated = item.truncated?.L?.map((v) => v.S ?? '').filter(Boolean);
  if (truncated?.length) stored.truncated = truncated;
  return stored;
}

/**
 * The snapshot a state or baseline item holds, named by the item's key. An item written by hand (or by an older
 * keydrift) that lacks a field reads as knowing nothing of it; one whose snapshot is no JSON object is refused by name.
 *
 * @throws StoreError naming the item, when its snapshot cannot be read
 */
export function snapshotOfItem(item: Item): ResourceSnapshot {
  const pk = str(item, 'pk') ?? '';
  const unreadable = (why: string, cause?: unknown) =>
    new StoreError(
      `item ${pk} ${str(item, 'sk')} of keydrift's table holds no snapshot that can be read (${why}): delete it, ` +
        "then accept the resource's baseline again (keydrift baseline accept)",
      { cause },
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(str(item, 'snapshot') ?? '{}');
  } catch (error) {
    throw unreadable((error as Error).message, error);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw unreadable('not a JSON object');
  const snapshot = parsed as Partial<ResourceSnapshot>;
  return {
    ...snapshot,
    kind: snapshot.kind ?? (str(item, 'kind') as ResourceSnapshot['kind']),
    // A digest key names no resource: the snapshot does.
    arn: pk.startsWith(DIGEST_PREFIX) ? String(snapshot.arn) : pk.slice(RESOURCE_PREFIX.length),
    attributes: typeof snapshot.attributes === 'object' && snapshot.attributes !== null ? snapshot.attributes : {},
    completeMaps: Array.isArray(snapshot.completeMaps) ? snapshot.completeMaps : [],
    ...withChangedBefore(snapshot.goneWithKey),
  };
}

/**
 * `goneWithKey` as an earlier keydrift wrote it, its date named `approvedBefore`: read as `changedBefore`, so that a
 * move older than it, delivered late, is still not approved.
 */
function withChangedBefore(gone: ResourceSnapshot['goneWithKey']): Pick<ResourceSnapshot, 'goneWithKey'> {
  if (!gone) return {};
  const { approvedBefore, ...kept } = gone as typeof gone & { approvedBefore?: string };
  return { goneWithKey: approvedBefore === undefined ? kept : { changedBefore: approvedBefore, ...kept } };
}

function findingItem(finding: Finding, createdAt: string, ignoredBy: string | undefined): Item {
  // Over the item limit, the EventBridge copy: the largest values replaced by their SHA-256, listed under `truncated`.
  const { json, replaced } = storedFinding(finding);
  const item: Item = {
    pk: s(resourcePk(finding.resource)),
    sk: s(findingSk(finding)),
    gsi1pk: s(`FINDINGS#${finding.timestamp.slice(0, 10)}`),
    gsi1sk: s(`${finding.timestamp}#${finding.eventId}`),
    eventId: s(finding.eventId),
    event: s(finding.event),
    resource: s(finding.resource),
    severity: s(finding.severity),
    status: s(finding.status),
    finding: s(json),
    createdAt: s(createdAt),
  };
  if (replaced.length) item.truncated = { BOOL: true };
  if (ignoredBy) item.ignoredBy = s(ignoredBy);
  return item;
}

/**
 * The snapshot as JSON under {@link MAX_JSON_BYTES}. When too large (a key with thousands of grants), whole map
 * attributes are dropped, largest first, and stop being complete: they become unknown rather than wrong.
 */
/** The condition of a snapshot write: the stored item still has version `expected` (`null`: there is none). */
export const versionCondition = (expected: number | null) =>
  expected === null
    ? { ConditionExpression: 'attribute_not_exists(pk)' }
    : { ConditionExpression: 'version = :version', ExpressionAttributeValues: { ':version': n(expected) } };

/** Who wrote a stored snapshot, when, and at which version; `runId` and the accept fields where they apply. */
export interface SnapshotItemFields {
  version: number;
  updatedAt: string;
  updatedBy: string;
  eventId?: string;
  runId?: string;
  acceptedBy?: string;
  acceptedAt?: string;
  acceptReason?: string;
}

/** A state or baseline item, its snapshot fitted under DynamoDB's item size (`truncated` names what was left out). */
export function snapshotItem(sk: 'STATE' | 'BASELINE', snapshot: ResourceSnapshot, fields: SnapshotItemFields): Item {
  const { json, truncated } = fitSnapshot(sk === 'BASELINE' ? baselinePart(snapshot) : snapshot);
  const item: Item = {
    pk: s(resourcePk(snapshot.arn)),
    sk: s(sk),
    kind: s(snapshot.kind),
    snapshot: s(json),
    version: n(fields.version),
    updatedAt: s(fields.updatedAt),
    updatedBy: s(fields.updatedBy),
  };
  for (const name of ['eventId', 'runId', 'acceptedBy', 'acceptedAt', 'acceptReason'] as const) {
    const value = fields[name];
    if (value) item[name] = s(value);
  }
  if (truncated.length) item.truncated = { L: truncated.map(s) };
  return item;
}

/**
 * The baseline an accept stores: `snapshot` approved as of `readAt`, in whole seconds as CloudTrail dates events (a
 * planned change of that second may have come after the read, and still moves the baseline), fitted to an item.
 * `truncated` names the attributes left out: the accept approves them as unknown, not as they are.
 */
export function fitAcceptedBaseline(snapshot: ResourceSnapshot, readAt: string): { json: string; truncated: string[] } {
  return fitSnapshot(approvedAsOf(baselinePart(snapshot), toIsoSeconds(Date.parse(readAt))));
}

export function fitSnapshot(snapshot: ResourceSnapshot): { json: string; truncated: string[] } {
  const json = JSON.stringify(snapshot);
  if (bytes(json) <= MAX_JSON_BYTES) return { json, truncated: [] };
  const copy: ResourceSnapshot = structuredClone(snapshot);
  const groups = new Map<string, number>();
  for (const [path, value] of Object.entries(copy.attributes)) {
    const index = path.indexOf('#');
    const group = index < 0 ? path : path.slice(0, index);
    groups.set(group, (groups.get(group) ?? 0) + bytes(path) + bytes(JSON.stringify(value) ?? ''));
  }
  const truncated: string[] = [];
  for (const [group] of [...groups].sort((a, b) => b[1] - a[1])) {
    const inGroup = (path: string) => path === group || path.startsWith(`${group}#`);
    for (const path of Object.keys(copy.attributes)) if (inGroup(path)) delete copy.attributes[path];
    // A first-seen date (one per grant of a key first read with thousands) goes with the entry it dates.
    for (const times of [copy.firstSeenAt, copy.approvedAt, copy.changedAt]) {
      if (times) for (const path of Object.keys(times)) if (inGroup(path)) delete times[path];
    }
    copy.completeMaps = copy.completeMaps.filter((m) => m !== group);
    truncated.push(group);
    const shorter = JSON.stringify(copy);
    if (bytes(shorter) <= MAX_JSON_BYTES) return { json: shorter, truncated };
  }
  return { json: JSON.stringify(copy), truncated };
}

function translateTransaction(error: unknown, items: TransactWriteItem[], eventId: string): Error {
  if (awsErrorName(error) !== 'TransactionCanceledException') return storeError('TransactWriteItems', error);
  const reasons = (error as { CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons ?? [];
  const failed = reasons
    .map((reason, index) => ({ code: reason.Code, item: items[index]?.Put?.Item ?? items[index]?.Update?.Key }))
    .filter((r) => r.code && r.code !== 'None');
  const conditional = failed.filter((r) => r.code === 'ConditionalCheckFailed');
  if (conditional.some((r) => str(r.item, 'sk') === 'CLAIM')) {
    return new ClaimLostError(`the claim on event ${eventId} was taken over by another invocation`, { cause: error });
  }
  if (conditional.length > 0 && conditional.length === failed.length) {
    const stale = conditional.map((r) => ({ pk: str(r.item, 'pk') ?? '', sk: str(r.item, 'sk') ?? '' }));
    return new StaleStateError(`changed since loaded: ${stale.map((i) => `${i.pk} ${i.sk}`).join(', ')}`, stale, {
      cause: error,
    });
  }
  const codes = failed.map((r) => r.code).join(', ') || 'no reason given';
  const message = `DynamoDB TransactWriteItems was cancelled: ${codes}`;
  if (failed.some((r) => isTransientCancellation(r.code))) return new RetryableStoreError(message, { cause: error });
  return new StoreError(message, { cause: error });
}
