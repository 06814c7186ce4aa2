import { GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { ClaimLostError, StaleStateError } from '../../lambda/adapters/errors';
import { createStateStore, MAX_JSON_BYTES, type StateStore } from '../../lambda/adapters/state-store';
import { snapshotFromState } from '../../lambda/core/state';
import type { Finding, ResourceSnapshot } from '../../lambda/core/types';
import { startTable, type TestTable } from './dynalite-table';

const KEY_PREFIX = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-';
const ALIAS = 'arn:aws:kms:us-west-2:111122223333:alias/payments';
const T0 = Date.parse('2026-10-03T12:00:00Z');

let table: TestTable;
let clock: number;
let sequence = 0;
/** A fresh key per test: the table is shared by the file. */
let KEY: string;

beforeAll(async () => {
  table = await startTable();
});

afterAll(async () => {
  await table.stop();
});

beforeEach(() => {
  clock = T0;
  KEY = `${KEY_PREFIX}${String(++sequence).padStart(12, '0')}`;
});

const storeFor = (owner: string): StateStore =>
  createStateStore({ client: table.client, tableName: table.tableName, owner, now: () => clock });

/** A fresh event id per test: the table is shared by the file. */
const newEventId = () => `c217db1f-903f-4a2f-8f88-${String(++sequence).padStart(12, '0')}`;

/** A key policy of about 32 KB, the most KMS allows. */
function largePolicy(): Record<string, unknown> {
  const statements = Array.from({ length: 120 }, (_, i) => ({
    Sid: `Allow${i}`,
    Effect: 'Allow',
    Principal: { AWS: `arn:aws:iam::111122223333:role/service-role-number-${String(i).padStart(4, '0')}` },
    Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*'],
    Resource: '*',
    Condition: { StringEquals: { 'kms:ViaService': 's3.us-west-2.amazonaws.com' } },
  }));
  return { Version: '2012-10-17', Statement: statements };
}

function keySnapshot(extra: Record<string, unknown> = {}): ResourceSnapshot {
  return snapshotFromState('key', KEY, {
    key_state: 'Enabled',
    description: 'payments',
    policy: largePolicy(),
    tags: { team: 'payments' },
    aliases: { 'alias/payments': true },
    grants: {},
    ...extra,
  });
}

function finding(eventId: string, changes: Finding['changes'] = {}): Finding {
  return {
    service: 'kms',
    event: 'PutKeyPolicy',
    eventId,
    timestamp: '2026-10-03T12:00:00Z',
    account: '111122223333',
    region: 'us-west-2',
    resource: KEY,
    user: 'arn:aws:iam::111122223333:user/Alice',
    severity: 'critical',
    status: 'drift',
    changes,
    summary: 'Key policy of alias/payments changed by Alice',
    remediation: [],
  };
}

const claimItem = async (eventId: string) =>
  (
    await table.client.send(
      new GetItemCommand({
        TableName: table.tableName,
        Key: { pk: { S: `EVENT#${eventId}` }, sk: { S: 'CLAIM' } },
        ConsistentRead: true,
      }),
    )
  ).Item;

describe('createStateStore: claims', () => {
  it('claims a new event, reports it in progress to another process while saved, and done once completed', async () => {
    // Prepare
    const a = storeFor('process-a');
    const b = storeFor('process-b');
    const eventId = newEventId();

    // Act / Assess
    expect(await a.claim(eventId)).toBe('new');
    expect(await b.claim(eventId)).toBe('in-progress');
    await a.save({ eventId, finding: finding(eventId), states: [], baselines: [] });
    expect(await b.claim(eventId)).toBe('in-progress');
    expect((await claimItem(eventId))?.status?.S).toBe('saved');
    await a.complete(eventId);
    expect(await b.claim(eventId)).toBe('done');
    expect(await a.claim(eventId)).toBe('done');
  });

  it('marks the claim done in the save itself when the alert went out before it (the reconciler)', async () => {
    const eventId = newEventId();
    const a = storeFor('process-a');
    await a.claim(eventId);

    await a.save({ eventId, finding: finding(eventId), states: [], baselines: [], alertSent: true });

    expect(await a.claim(eventId)).toBe('done');
  });

  it('lets a retry take over a saved claim whose alert was never confirmed, once its lease ran out', async () => {
    // Prepare: process A saved the finding, then died before its alert was confirmed.
    const eventId = newEventId();
    const a = storeFor('process-a');
    await a.claim(eventId, { leaseMs: 30_000 });
    await a.save({ eventId, finding: finding(eventId), states: [], baselines: [] });

    // Act / Assess
    clock = T0 + 31_000;
    expect(await storeFor('process-b').claim(eventId)).toBe('new');
    const error = await a.complete(eventId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClaimLostError);
  });

  it('keeps the claim for 14 days (TTL attribute expiresAt, in epoch seconds)', async () => {
    const eventId = newEventId();
    await storeFor('process-a').claim(eventId);

    const item = await claimItem(eventId);

    expect(Number(item?.expiresAt?.N)).toBe(T0 / 1000 + 14 * 24 * 3600);
    expect(item?.status?.S).toBe('in-progress');
  });

  it('takes over a claim whose lease ran out (its invocation died without releasing it)', async () => {
    const eventId = newEventId();
    await storeFor('process-a').claim(eventId, { leaseMs: 30_000 });

    clock = T0 + 10_000;
    expect(await storeFor('process-b').claim(eventId)).toBe('in-progress');
    clock = T0 + 31_000;
    expect(await storeFor('process-b').claim(eventId)).toBe('new');
  });

  it("lets a released event be claimed again, and never releases another process's claim", async () => {
    const a = storeFor('process-a');
    const b = storeFor('process-b');
    const eventId = newEventId();
    await a.claim(eventId);

    await b.release(eventId);
    expect(await b.claim(eventId)).toBe('in-progress');
    await a.release(eventId);
    expect(await b.claim(eventId)).toBe('new');
  });

  it('releases a claim it already saved, so that a retry alerts again', async () => {
    const a = storeFor('process-a');
    const eventId = newEventId();
    await a.claim(eventId);
    await a.save({ eventId, finding: finding(eventId), states: [], baselines: [] });

    await a.release(eventId);

    expect(await storeFor('process-b').claim(eventId)).toBe('new');
  });

  it('keeps what each released attempt delivered with the claim, for the next attempt to claim', async () => {
    // Prepare
    const eventId = newEventId();
    const first = storeFor('process-a');
    const second = storeFor('process-b');

    // Act: the first attempt got e-mail and EventBridge out; the second, taking over, got the page out too.
    const claimedFirst = await first.claimWithDelivered(eventId);
    await first.release(eventId, ['email', 'eventbridge']);
    const claimedSecond = await second.claimWithDelivered(eventId);
    await second.release(eventId, ['page']);

    // Assess
    expect(claimedFirst).toEqual({ outcome: 'new', delivered: [] });
    expect(claimedSecond).toEqual({ outcome: 'new', delivered: ['email', 'eventbridge'] });
    expect(await first.claimWithDelivered(eventId)).toEqual({
      outcome: 'new',
      delivered: ['email', 'eventbridge', 'page'],
    });
  });

  it('keeps what earlier attempts delivered when a later one releases having delivered nothing', async () => {
    const eventId = newEventId();
    const first = storeFor('process-a');
    const second = storeFor('process-b');
    await first.claim(eventId);
    await first.release(eventId, ['chat', 'page']);

    // Act: the second attempt fails before it loaded (or sent) anything
    expect(await second.claim(eventId)).toBe('new');
    await second.release(eventId);

    // Assess
    expect(await first.claimWithDelivered(eventId)).toEqual({ outcome: 'new', delivered: ['chat', 'page'] });
  });
});

describe('createStateStore: save and load', () => {
  it('round-trips states, baselines (with a 32 KB policy) and the finding, with versions', async () => {
    // Prepare
    const store = storeFor('process-a');
    const eventId = newEventId();
    const state = keySnapshot({ key_state: 'Disabled' });
    const baseline = { ...keySnapshot(), unknownPaths: ['rotation_period_in_days'] };
    const alias = snapshotFromState('alias', ALIAS, { target_key_id: KEY });
    const saved = finding(eventId, { policy: { before: largePolicy(), after: largePolicy() } });
    expect(Buffer.byteLength(JSON.stringify(largePolicy()))).toBeGreaterThan(30_000);
    await store.claim(eventId);

    // Act
    await store.save({
      eventId,
      finding: saved,
      states: [
        { snapshot: state, expectedVersion: null },
        { snapshot: alias, expectedVersion: null },
      ],
      baselines: [{ snapshot: baseline, expectedVersion: null }],
    });
    const loaded = await store.load([KEY, ALIAS, KEY], {
      finding: { resource: KEY, timestamp: saved.timestamp, eventId },
    });

    // Assess
    const updatedAt = '2026-10-03T12:00:00.000Z';
    expect(loaded.states.get(KEY)).toEqual({ snapshot: state, version: 1, updatedAt });
    expect(loaded.states.get(ALIAS)).toEqual({ snapshot: alias, version: 1, updatedAt });
    expect(loaded.baselines.get(KEY)).toEqual({ snapshot: baseline, version: 1, updatedAt });
    expect(loaded.baselines.has(ALIAS)).toBe(false);
    expect(loaded.finding).toEqual(saved);
  });

  it('reads an item written by hand as what it says: its ARN from its key, a missing field as nothing known', async () => {
    // Prepare: a baseline without a snapshot, a state whose snapshot lacks completeMaps and names another ARN.
    const put = (sk: string, extra: Record<string, { S: string }>) =>
      table.client.send(
        new PutItemCommand({
          TableName: table.tableName,
          Item: { pk: { S: `RESOURCE#${KEY}` }, sk: { S: sk }, kind: { S: 'key' }, version: { N: '3' }, ...extra },
        }),
      );
    await put('BASELINE', {});
    await put('STATE', { snapshot: { S: JSON.stringify({ arn: ALIAS, attributes: { key_state: 'Enabled' } }) } });
    // Act
    const loaded = await storeFor('detector').load([KEY]);
    // Assess
    expect(loaded.baselines.get(KEY)).toEqual({
      snapshot: { kind: 'key', arn: KEY, attributes: {}, completeMaps: [] },
      version: 3,
    });
    expect(loaded.states.get(KEY)?.snapshot).toEqual({
      kind: 'key',
      arn: KEY,
      attributes: { key_state: 'Enabled' },
      completeMaps: [],
    });
  });

  it('refuses, naming the item, a snapshot that is no JSON object', async () => {
    for (const snapshot of ['{"kind":"key","arn":', '[]']) {
      await table.client.send(
        new PutItemCommand({
          TableName: table.tableName,
          Item: { pk: { S: `RESOURCE#${KEY}` }, sk: { S: 'BASELINE' }, snapshot: { S: snapshot }, version: { N: '1' } },
        }),
      );
      await expect(storeFor('detector').load([KEY])).rejects.toThrow(
        new RegExp(
          `^item RESOURCE#${KEY} BASELINE of keydrift's table holds no snapshot that can be read \\(.+\\): delete it`,
        ),
      );
    }
  });

  it('indexes findings by day for the byTime index', async () => {
    const store = storeFor('process-a');
    const eventId = newEventId();
    await store.claim(eventId);
    await store.save({ eventId, finding: finding(eventId), states: [], baselines: [] });

    const { Items } = await table.client.send(
      new QueryCommand({
        TableName: table.tableName,
        IndexName: 'byTime',
        KeyConditionExpression: 'gsi1pk = :day',
        ExpressionAttributeValues: { ':day': { S: 'FINDINGS#2026-10-03' } },
      }),
    );

    const item = Items?.find((i) => i.eventId?.S === eventId);
    expect(item).toMatchObject({
      gsi1sk: { S: `2026-10-03T12:00:00Z#${eventId}` },
      severity: { S: 'critical' },
      status: { S: 'drift' },
      sk: { S: `FINDING#2026-10-03T12:00:00Z#${eventId}` },
    });
  });

  it('refuses to overwrite a state saved by another event since it was loaded (StaleStateError), writing nothing', async () => {
    // Prepare: two events on one key load version 1; the first saves.
    const a = storeFor('process-a');
    const b = storeFor('process-b');
    const [first, second] = [newEventId(), newEventId()];
    const seedEvent = newEventId();
    await a.claim(seedEvent);
    await a.save({
      eventId: seedEvent,
      finding: finding(seedEvent),
      states: [{ snapshot: keySnapshot({ description: 'v1' }), expectedVersion: null }],
      baselines: [],
    });
    await a.claim(first);
    await b.claim(second);
    await a.save({
      eventId: first,
      finding: finding(first),
      states: [{ snapshot: keySnapshot({ description: 'v2' }), expectedVersion: 1 }],
      baselines: [],
    });

    // Act
    const error = await b
      .save({
        eventId: second,
        finding: finding(second),
        states: [{ snapshot: keySnapshot({ description: 'stale' }), expectedVersion: 1 }],
        baselines: [],
      })
      .catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(StaleStateError);
    expect((error as StaleStateError).items).toEqual([{ pk: `RESOURCE#${KEY}`, sk: 'STATE' }]);
    expect((error as Error).cause).toMatchObject({ name: 'TransactionCanceledException' });
    const loaded = await b.load([KEY], {
      finding: { resource: KEY, timestamp: '2026-10-03T12:00:00Z', eventId: second },
    });
    expect(loaded.states.get(KEY)?.snapshot.attributes.description).toBe('v2');
    expect(loaded.states.get(KEY)?.version).toBe(2);
    expect(loaded.finding).toBeUndefined();
    expect(await storeFor('process-c').claim(second)).toBe('in-progress');
  });

  it('fails with ClaimLostError when another invocation took the claim over', async () => {
    const eventId = newEventId();
    await storeFor('process-a').claim(eventId, { leaseMs: 1000 });
    clock = T0 + 5000;
    await storeFor('process-b').claim(eventId);

    const error = await storeFor('process-a')
      .save({ eventId, finding: finding(eventId), states: [], baselines: [] })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ClaimLostError);
  });

  it('keeps a key with thousands of grants under 400 KB by leaving its grants unknown, with a marker', async () => {
    const store = storeFor('process-a');
    const eventId = newEventId();
    const grants = Object.fromEntries(
      Array.from({ length: 3000 }, (_, i) => [
        `${String(i).padStart(8, '0')}0e4e15d7f1ad2d4b6d1ad1b8a1e3b7bdbd0b1c0e7c2c1a3b4f`,
        {
          grantee_principal: `arn:aws:iam::111122223333:role/ebs-volume-attacher-${i}`,
          retiring_principal: null,
          operations: ['CreateGrant', 'Decrypt', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo'],
          constraints: { encryptionContextSubset: { 'aws:ebs:id': `vol-${i}` } },
          name: null,
        },
      ]),
    );
    const huge = keySnapshot({ grants });
    expect(Buffer.byteLength(JSON.stringify(huge))).toBeGreaterThan(MAX_JSON_BYTES);
    await store.claim(eventId);

    await store.save({
      eventId,
      finding: finding(eventId),
      states: [{ snapshot: huge, expectedVersion: null }],
      baselines: [],
    });
    const stored = (await store.load([KEY])).states.get(KEY);

    expect(stored?.truncated).toEqual(['grants']);
    expect(stored?.snapshot.completeMaps).not.toContain('grants');
    expect(Object.keys(stored?.snapshot.attributes ?? {}).some((p) => p.startsWith('grants#'))).toBe(false);
    expect(stored?.snapshot.attributes.policy).toEqual(huge.attributes.policy);
  });

  it("keeps the dates of an unreadable key's tags and grants, removals too, and drops those of the grants it leaves unknown", async () => {
    // Prepare: a key known from its events only, with a tag removed and thousands of grants, each dated by its event.
    const store = storeFor('process-a');
    const eventId = newEventId();
    const at = '2026-10-03T12:00:00Z';
    const grantIds = Array.from(
      { length: 3000 },
      (_, i) => `${String(i).padStart(8, '0')}0e4e15d7f1ad2d4b6d1ad1b8a1e3b7bd`,
    );
    const state = (grants: number): ResourceSnapshot => ({
      kind: 'key',
      arn: KEY,
      attributes: {
        key_state: 'Disabled',
        'tags#owner': null,
        ...Object.fromEntries(
          grantIds.slice(0, grants).map((id, i) => [
            `grants#${id}`,
            {
              grantee_principal: `arn:aws:iam::111122223333:role/ebs-volume-attacher-${i}`,
              retiring_principal: null,
              operations: ['Decrypt', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo'],
              constraints: { encryptionContextSubset: { 'aws:ebs:id': `vol-${i}` } },
              name: null,
            },
          ]),
        ),
      },
      completeMaps: [],
      changedAt: {
        key_state: at,
        'tags#owner': at,
        ...Object.fromEntries(grantIds.slice(0, grants).map((id) => [`grants#${id}`, at])),
      },
    });
    await store.claim(eventId);

    // Act
    await store.save({
      eventId,
      finding: finding(eventId),
      states: [{ snapshot: state(2), expectedVersion: null }],
      baselines: [],
    });
    const small = (await store.load([KEY])).states.get(KEY);
    await store.save({
      eventId,
      finding: finding(eventId),
      states: [{ snapshot: state(3000), expectedVersion: 1 }],
      baselines: [],
    });
    const huge = (await store.load([KEY])).states.get(KEY);

    // Assess
    expect(small?.snapshot).toEqual(state(2));
    expect(huge?.truncated).toEqual(['grants']);
    expect(huge?.snapshot.changedAt).toEqual({ key_state: at, 'tags#owner': at });
    expect(huge?.snapshot.attributes).toEqual({ key_state: 'Disabled', 'tags#owner': null });
  });

  it('shrinks a finding too large for one item, marking what was replaced', async () => {
    const store = storeFor('process-a');
    const eventId = newEventId();
    const big = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`tag-${i}`, 'x'.repeat(200)]));
    const large = finding(eventId, { tags: { before: big(1000), after: big(1000) } });
    expect(Buffer.byteLength(JSON.stringify(large))).toBeGreaterThan(MAX_JSON_BYTES);
    await store.claim(eventId);

    await store.save({ eventId, finding: large, states: [], baselines: [] });
    const loaded = await store.load([], { finding: { resource: KEY, timestamp: large.timestamp, eventId } });

    expect(loaded.finding).toMatchObject({ eventId, severity: 'critical', truncated: expect.any(Array) });
    expect(Buffer.byteLength(JSON.stringify(loaded.finding))).toBeLessThan(MAX_JSON_BYTES);
  });

  it("records an operator's accept with who and when, so a detector holding the old version cannot overwrite it", async () => {
    const store = storeFor('process-a');
    const eventId = newEventId();
    const arn = `${KEY}-accepted`;
    const snapshot = snapshotFromState('key', arn, { key_state: 'Enabled' });
    await store.acceptBaseline(snapshot, 'arn:aws:sts::111122223333:assumed-role/Admin/carol');

    const loaded = (await store.load([arn])).baselines.get(arn);
    await store.claim(eventId);
    const error = await store
      .save({ eventId, finding: finding(eventId), states: [], baselines: [{ snapshot, expectedVersion: null }] })
      .catch((e: unknown) => e);

    expect(loaded).toEqual({
      // Approved as of the accept (whole seconds, as CloudTrail dates events), so an older planned change does not undo it.
      snapshot: { ...snapshot, approvedAt: { key_state: '2026-10-03T12:00:00Z' } },
      version: 1,
      updatedAt: '2026-10-03T12:00:00.000Z',
      acceptedBy: 'arn:aws:sts::111122223333:assumed-role/Admin/carol',
      acceptedAt: '2026-10-03T12:00:00.000Z',
    });
    expect(error).toBeInstanceOf(StaleStateError);
  });

  it('keeps the record of an accept in the finding history, written with the baseline', async () => {
    const store = storeFor('process-a');
    const arn = `${KEY}-accepted-with-record`;
    const record = { ...finding(newEventId()), resource: arn, event: 'BaselineAccept', status: 'planned' as const };
    await store.acceptBaseline(snapshotFromState('key', arn, { key_state: 'Disabled' }), 'carol', record);

    const loaded = await store.load([arn], { finding: record });
    expect(loaded.finding).toEqual(record);
    expect(loaded.baselines.get(arn)).toMatchObject({ version: 1, acceptedBy: 'carol' });
  });

  it("records an accept's reason with who and when, and drops it when the baseline is accepted again without one", async () => {
    const store = storeFor('process-a');
    const arn = `${KEY}-accepted-with-reason`;
    const snapshot = snapshotFromState('key', arn, { key_state: 'Enabled' });

    await store.acceptBaseline(snapshot, 'carol', undefined, undefined, 'CHG-4711: approved by the key owner');
    const withReason = (await store.load([arn])).baselines.get(arn);
    await store.acceptBaseline(snapshot, 'dave');
    const without = (await store.load([arn])).baselines.get(arn);

    expect(withReason).toMatchObject({ acceptedBy: 'carol', acceptReason: 'CHG-4711: approved by the key owner' });
    expect(without).toMatchObject({ version: 2, acceptedBy: 'dave' });
    expect(without).not.toHaveProperty('acceptReason');
  });

  it('stores the accepted snapshot as the state too, in the same transaction, under the version rule of save', async () => {
    // Prepare: the detector stored a state (version 1); the operator's accept loaded that version.
    const store = storeFor('process-a');
    const eventId = newEventId();
    const stored = keySnapshot({ description: 'payments' });
    await store.claim(eventId);
    await store.save({
      eventId,
      finding: finding(eventId),
      states: [{ snapshot: stored, expectedVersion: null }],
      baselines: [{ snapshot: stored, expectedVersion: null }],
    });
    const accepted = snapshotFromState('key', KEY, { key_state: 'Enabled', description: 'payments (archived)' });
    const record = { ...finding(newEventId()), event: 'BaselineAccept', status: 'planned' as const };
    clock = T0 + 60_000;
    // Act
    await store.acceptBaseline(accepted, 'carol', record, { expectedVersion: 1 });
    // Assess
    const loaded = await store.load([KEY]);
    expect(loaded.states.get(KEY)).toEqual({ snapshot: accepted, version: 2, updatedAt: '2026-10-03T12:01:00.000Z' });
    expect(loaded.baselines.get(KEY)).toMatchObject({ snapshot: accepted, version: 2, acceptedBy: 'carol' });
  });

  it('writes nothing of an accept when the detector saved a newer state since it was loaded', async () => {
    // Prepare: the accept loaded the state at version 1; the detector saved version 2 in between.
    const store = storeFor('process-a');
    const [first, second] = [newEventId(), newEventId()];
    const before = keySnapshot({ description: 'payments' });
    const newer = keySnapshot({ description: 'changed by mallory' });
    await store.claim(first);
    await store.save({
      eventId: first,
      finding: finding(first),
      states: [{ snapshot: before, expectedVersion: null }],
      baselines: [{ snapshot: before, expectedVersion: null }],
    });
    await store.claim(second);
    await store.save({
      eventId: second,
      finding: finding(second),
      states: [{ snapshot: newer, expectedVersion: 1 }],
      baselines: [],
    });
    const accepted = snapshotFromState('key', KEY, { key_state: 'Enabled', description: 'payments (archived)' });
    // Act
    const error = await store
      .acceptBaseline(accepted, 'carol', undefined, { expectedVersion: 1 })
      .catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(StaleStateError);
    const loaded = await store.load([KEY]);
    expect(loaded.states.get(KEY)).toMatchObject({ snapshot: newer, version: 2 });
    expect(loaded.baselines.get(KEY)).toMatchObject({ snapshot: before, version: 1 });
  });
});
