/**
 * An in-process DynamoDB (dynalite, in memory, loopback only) holding a table with the stack's schema. dynalite has
 * no TransactWriteItems, so the client emulates it: every action is applied with its condition, and if any
 * condition fails, those applied are rolled back and a real `TransactionCanceledException` is thrown with one
 * cancellation reason per action, as DynamoDB does. Like DynamoDB, it refuses a transaction of more than 100 actions.
 */

import type { AddressInfo } from 'node:net';
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  type TransactWriteItemsCommandInput,
  UpdateItemCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { createTableInput } from '../helpers/table-schema';

interface DynaliteServer {
  on(event: 'request', listener: (request: { headers: Record<string, string | string[] | undefined> }) => void): void;
  listen(port: number, host: string, callback: () => void): void;
  address(): AddressInfo;
  close(callback: () => void): void;
}
// dynalite is CommonJS and ships no types.
const dynalite = require('dynalite') as (options: { createTableMs: number }) => DynaliteServer;

export interface TestTable {
  client: DynamoDBClient;
  tableName: string;
  /** dynalite's loopback URL, for a client of another process (the CLI). */
  endpoint: string;
  /** The action of every request dynalite answered, whoever sent it (`DynamoDB_20120810.Query`), in order. */
  served: string[];
  /** Every command the client sent, with when it started and when it was answered (performance.now()). */
  calls: Array<{ command: string; start: number; end: number }>;
  /** Delay every command by this many ms from now on (0 to stop). */
  setDelay(ms: number): void;
  /** Fail the next command that `matches` (its name, `TransactWriteItemsCommand`, and input) with `error`, once. */
  failOnce(matches: (command: string, input: Record<string, unknown>) => boolean, error: Error): void;
  stop(): Promise<void>;
}

/** What DynamoDB throws when it throttles a request (after the SDK's own retries), for `failOnce`. */
export const throttlingError = (): Error =>
  Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: {} });

const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

/** Starts dynalite and creates a table as lib/keydrift.ts defines it (pk/sk, GSI byTime on gsi1pk/gsi1sk). */
export async function startTable(tableName = 'keydrift-test'): Promise<TestTable> {
  const server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${server.address().port}`;
  const served: string[] = [];
  server.on('request', (request) => served.push(String(request.headers['x-amz-target'])));
  const client = new DynamoDBClient({ endpoint, region: REGION, credentials: CREDENTIALS });
  // The emulation's own calls go through a second client, so they are neither delayed nor recorded.
  const raw = new DynamoDBClient({ endpoint, region: REGION, credentials: CREDENTIALS });
  const calls: TestTable['calls'] = [];
  let delay = 0;
  const failures: Array<{ matches: (command: string, input: Record<string, unknown>) => boolean; error: Error }> = [];

  client.middlewareStack.add(
    (next, context) => async (args) => {
      const call = { command: String(context.commandName), start: performance.now(), end: Number.NaN };
      calls.push(call);
      try {
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
        const failure = failures.findIndex((f) => f.matches(String(context.commandName), args.input as never));
        if (failure >= 0) throw failures.splice(failure, 1)[0].error;
        if (context.commandName === 'TransactWriteItemsCommand') {
          await emulateTransaction(raw, args.input as TransactWriteItemsCommandInput);
          return { output: { $metadata: { httpStatusCode: 200 } }, response: {} } as never;
        }
        return await next(args);
      } finally {
        call.end = performance.now();
      }
    },
    { step: 'initialize', name: 'dynaliteTestHarness', priority: 'high' },
  );

  const stop = async () => {
    client.destroy();
    raw.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  try {
    await createTable(client, tableName);
  } catch (error) {
    await stop();
    throw error;
  }
  calls.length = 0;
  served.length = 0;

  return {
    client,
    tableName,
    endpoint,
    served,
    calls,
    setDelay: (ms) => {
      delay = ms;
    },
    failOnce: (matches, error) => {
      failures.push({ matches, error });
    },
    stop,
  };
}

async function createTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(new CreateTableCommand(createTableInput(tableName)));
  // With createTableMs 0 the table is ACTIVE at once: the waiter's first check returns.
  await waitUntilTableExists({ client, maxWaitTime: 30 }, { TableName: tableName });
}

type Item = Record<string, AttributeValue>;

/** The most actions one TransactWriteItems may hold (DynamoDB's quota: "up to 100 action requests"). */
const MAX_TRANSACTION_ACTIONS = 100;

async function emulateTransaction(client: DynamoDBClient, input: TransactWriteItemsCommandInput): Promise<void> {
  const actions = input.TransactItems ?? [];
  if (actions.length > MAX_TRANSACTION_ACTIONS) {
    throw Object.assign(
      new Error(
        "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length " +
          `less than or equal to ${MAX_TRANSACTION_ACTIONS}`,
      ),
      { name: 'ValidationException', $fault: 'client', $metadata: { httpStatusCode: 400 } },
    );
  }
  const applied: Array<{ table: string; key: Item; before: Item | undefined }> = [];
  const reasons: Array<{ Code: string; Message?: string }> = [];
  for (const action of actions) {
    const { table, key } = target(action);
    const before = (await client.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;
    try {
      if (action.Put) await client.send(new PutItemCommand(action.Put));
      else if (action.Update) await client.send(new UpdateItemCommand(action.Update));
      else if (action.Delete) await client.send(new DeleteItemCommand(action.Delete));
      else throw new Error('the test emulation supports Put, Update and Delete only');
      applied.push({ table, key, before });
      reasons.push({ Code: 'None' });
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      reasons.push({ Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' });
    }
  }
  if (reasons.every((r) => r.Code === 'None')) return;
  for (const { table, key, before } of applied.reverse()) {
    if (before) await client.send(new PutItemCommand({ TableName: table, Item: before }));
    else await client.send(new DeleteItemCommand({ TableName: table, Key: key }));
  }
  throw new TransactionCanceledException({
    message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`,
    $metadata: { httpStatusCode: 400 },
    CancellationReasons: reasons,
  });
}

function target(action: NonNullable<TransactWriteItemsCommandInput['TransactItems']>[number]): {
  table: string;
  key: Item;
} {
  if (action.Put) {
    const item = action.Put.Item ?? {};
    return { table: String(action.Put.TableName), key: { pk: item.pk, sk: item.sk } };
  }
  const keyed = action.Update ?? action.Delete ?? action.ConditionCheck;
  return { table: String(keyed?.TableName), key: keyed?.Key ?? {} };
}
