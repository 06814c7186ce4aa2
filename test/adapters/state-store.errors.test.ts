import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  ResourceNotFoundException,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { ClaimLostError, RetryableStoreError, StoreError } from '../../lambda/adapters/errors';
import { createStateStore } from '../../lambda/adapters/state-store';
import type { Finding } from '../../lambda/core/types';

const dynamoMock = mockClient(DynamoDBClient);
const store = createStateStore({
  client: new DynamoDBClient({ region: 'us-east-1' }),
  tableName: 'keydrift-test',
  owner: 'process-a',
  sleep: async () => {},
});
const $metadata = { httpStatusCode: 400 };
const EVENT = 'c217db1f-903f-4a2f-8f88-9580182d6313';
const KEY = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const finding = { eventId: EVENT, resource: KEY, timestamp: '2026-10-03T12:00:00Z', event: 'DisableKey' } as Finding;

beforeEach(() => {
  dynamoMock.reset();
});

describe('createStateStore: DynamoDB errors become keydrift errors', () => {
  it('reads the existing claim from the failed conditional update, without a second call', async () => {
    dynamoMock.on(UpdateItemCommand).rejects(
      new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata,
        Item: { pk: { S: `EVENT#${EVENT}` }, sk: { S: 'CLAIM' }, status: { S: 'done' } },
      }),
    );

    expect(await store.claim(EVENT)).toBe('done');
    expect(dynamoMock).not.toHaveReceivedCommand(GetItemCommand);
    expect(dynamoMock).toHaveReceivedCommandWith(UpdateItemCommand, { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' });
  });

  it('turns throttling into RetryableStoreError with the cause', async () => {
    const throttled = new ProvisionedThroughputExceededException({ message: 'slow down', $metadata });
    dynamoMock.on(UpdateItemCommand).rejects(throttled);

    const error = await store.claim(EVENT).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RetryableStoreError);
    expect((error as Error).cause).toBe(throttled);
  });

  it('turns a missing table into StoreError (not retryable) with the cause', async () => {
    const missing = new ResourceNotFoundException({ message: 'Requested resource not found', $metadata });
    dynamoMock.on(BatchGetItemCommand).rejects(missing);

    const error = await store.load([KEY]).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StoreError);
    expect(error).not.toBeInstanceOf(RetryableStoreError);
    expect((error as Error).cause).toBe(missing);
  });

  it('asks again for keys BatchGetItem left unprocessed', async () => {
    const stateKey = { pk: { S: `RESOURCE#${KEY}` }, sk: { S: 'STATE' } };
    dynamoMock
      .on(BatchGetItemCommand)
      .resolvesOnce({ Responses: { 'keydrift-test': [] }, UnprocessedKeys: { 'keydrift-test': { Keys: [stateKey] } } })
      .resolves({
        Responses: {
          'keydrift-test': [
            {
              ...stateKey,
              version: { N: '4' },
              snapshot: { S: JSON.stringify({ kind: 'key', arn: KEY, attributes: {}, completeMaps: [] }) },
            },
          ],
        },
      });

    const loaded = await store.load([KEY]);

    expect(dynamoMock).toHaveReceivedCommandTimes(BatchGetItemCommand, 2);
    expect(dynamoMock).toHaveReceivedNthCommandWith(2, BatchGetItemCommand, {
      RequestItems: { 'keydrift-test': { Keys: [stateKey], ConsistentRead: true } },
    });
    expect(loaded.states.get(KEY)?.version).toBe(4);
  });

  it('turns a cancelled transaction whose claim condition failed into ClaimLostError', async () => {
    dynamoMock.on(TransactWriteItemsCommand).rejects(
      new TransactionCanceledException({
        message: 'Transaction cancelled',
        $metadata,
        CancellationReasons: [{ Code: 'None' }, { Code: 'ConditionalCheckFailed' }],
      }),
    );

    await expect(store.save({ eventId: EVENT, finding, states: [], baselines: [] })).rejects.toBeInstanceOf(
      ClaimLostError,
    );
  });

  it('turns a transaction conflict into RetryableStoreError', async () => {
    dynamoMock.on(TransactWriteItemsCommand).rejects(
      new TransactionCanceledException({
        message: 'Transaction cancelled',
        $metadata,
        CancellationReasons: [{ Code: 'TransactionConflict' }, { Code: 'None' }],
      }),
    );

    const error = await store.save({ eventId: EVENT, finding, states: [], baselines: [] }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RetryableStoreError);
    expect((error as Error).cause).toBeInstanceOf(TransactionCanceledException);
  });

  it.each(['ProvisionedThroughputExceeded', 'ThrottlingError'])(
    'turns a transaction cancelled for capacity (%s) into RetryableStoreError',
    async (code) => {
      dynamoMock.on(TransactWriteItemsCommand).rejects(
        new TransactionCanceledException({
          message: 'Transaction cancelled',
          $metadata,
          CancellationReasons: [{ Code: code }, { Code: 'None' }],
        }),
      );

      const error = await store.save({ eventId: EVENT, finding, states: [], baselines: [] }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(RetryableStoreError);
    },
  );

  it('ignores a release of a claim it does not own, and reports other release failures', async () => {
    dynamoMock
      .on(UpdateItemCommand)
      .rejectsOnce(new ConditionalCheckFailedException({ message: 'not yours', $metadata }))
      .rejects(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata }));

    await expect(store.release(EVENT)).resolves.toBeUndefined();
    await expect(store.release(EVENT)).rejects.toBeInstanceOf(RetryableStoreError);
  });
});
