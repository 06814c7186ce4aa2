/**
 * The reconcile bench runs keydrift's real stores against an in-memory table (bench/fake-dynamodb.ts). These tests
 * drive the state store through it, so a store change the fake cannot follow fails here rather than in the bench.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { FakeDynamoDB } from '../../bench/fake-dynamodb';
import { ClaimLostError, StaleStateError } from '../../lambda/adapters/errors';
import { createStateStore, type StateStore } from '../../lambda/adapters/state-store';
import { snapshotFromState } from '../../lambda/core/state';
import type { Finding } from '../../lambda/core/types';
import { putKeyPolicyOpened } from '../alerts/fixtures';

const KEY = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const T0 = Date.parse('2026-10-03T12:00:00Z');

const ddbMock = mockClient(DynamoDBClient);
let table: FakeDynamoDB;
let clock: number;

beforeEach(() => {
  ddbMock.reset();
  table = new FakeDynamoDB();
  table.install(ddbMock);
  clock = T0;
});

afterAll(() => ddbMock.restore());

const storeFor = (owner: string): StateStore =>
  createStateStore({
    client: new DynamoDBClient({ region: 'us-west-2' }),
    tableName: 'bench',
    owner,
    now: () => clock,
  });

const keyState = (description: string) =>
  snapshotFromState('key', KEY, { key_state: 'Enabled', description, aliases: {}, grants: {}, tags: {} });

/** The alerts' PutKeyPolicy finding, under its own event id: what the store keeps does not depend on its content. */
const finding = (eventId: string): Finding => ({ ...putKeyPolicyOpened, eventId, resource: KEY });

describe('the bench table (FakeDynamoDB) under the real state store', () => {
  it('follows a claim from new through saved to done, as DynamoDB does', async () => {
    const [a, b] = [storeFor('a'), storeFor('b')];
    expect(await a.claim('e1')).toBe('new');

    await a.save({
      eventId: 'e1',
      finding: finding('e1'),
      states: [{ snapshot: keyState('v1'), expectedVersion: null }],
      baselines: [],
    });
    expect(await b.claim('e1')).toBe('in-progress');
    await a.complete('e1');

    expect(await b.claim('e1')).toBe('done');
    expect((await b.load([KEY])).states.get(KEY)).toMatchObject({ version: 1, snapshot: keyState('v1') });
    // Three claims (updates, so that what an earlier attempt delivered stays) and the completion.
    expect(table.calls.get('UpdateItem')).toBe(4);
  });

  it('writes nothing of a transaction whose state changed since it was loaded (StaleStateError)', async () => {
    const store = storeFor('a');
    for (const [eventId, description] of [
      ['e1', 'v1'],
      ['e2', 'v2'],
    ]) {
      await store.claim(eventId);
      await store.save({
        eventId,
        finding: finding(eventId),
        states: [{ snapshot: keyState(description), expectedVersion: description === 'v1' ? null : 1 }],
        baselines: [],
      });
    }
    await store.claim('e3');

    const error = await store
      .save({
        eventId: 'e3',
        finding: finding('e3'),
        states: [{ snapshot: keyState('stale'), expectedVersion: 1 }],
        baselines: [],
      })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StaleStateError);
    expect((await store.load([KEY])).states.get(KEY)).toMatchObject({ version: 2, snapshot: keyState('v2') });
    expect(await storeFor('b').claim('e3')).toBe('in-progress');
  });

  it('refuses the save and the completion of a claim another invocation took over (ClaimLostError)', async () => {
    await storeFor('a').claim('e1', { leaseMs: 1000 });
    clock = T0 + 5000;
    expect(await storeFor('b').claim('e1')).toBe('new');

    const save = storeFor('a').save({ eventId: 'e1', finding: finding('e1'), states: [], baselines: [] });
    await expect(save).rejects.toBeInstanceOf(ClaimLostError);
    await expect(storeFor('a').complete('e1')).rejects.toBeInstanceOf(ClaimLostError);
  });
});
