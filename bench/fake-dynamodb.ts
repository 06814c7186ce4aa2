/**
 * An in-memory DynamoDB table behind aws-sdk-client-mock for the reconcile bench: the commands keydrift's stores send
 * (GetItem, PutItem, UpdateItem, DeleteItem, BatchGetItem, TransactWriteItems of puts and updates, Scan), their
 * condition expressions, `SET` and `ADD` updates and the old item they return when asked, a delay per
 * call, and the request units DynamoDB on-demand would bill for each (reads per 4 KB, writes per 1 KB, transactions
 * double, eventually consistent reads half, a write to an item in the byTime index once more for the index).
 */

import {
  type AttributeValue,
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { AwsClientStub } from 'aws-sdk-client-mock';

type Item = Record<string, AttributeValue>;
type Values = Record<string, AttributeValue> | undefined;
type Names = Record<string, string> | undefined;

const SCAN_PAGE_BYTES = 1024 * 1024;

/** DynamoDB's item size: attribute names plus values (strings and numbers by their length, lists and maps nested). */
function valueSize(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S);
  if (value.N !== undefined) return value.N.length;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.L) return 3 + value.L.reduce((sum, v) => sum + 1 + valueSize(v), 0);
  if (value.M) return 3 + itemSize(value.M);
  return 0;
}
export const itemSize = (item: Item): number =>
  Object.entries(item).reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + valueSize(value), 0);

const keyOf = (item: Item) => `${item.pk?.S}\u0000${item.sk?.S}`;

/**
 * Evaluates the condition expressions keydrift writes: comparisons (`=`, `<>`, `<`), `attribute_not_exists(…)`,
 * `AND`, `OR` and parentheses.
 */
export function evaluate(expression: string, item: Item | undefined, names: Names, values: Values): boolean {
  const tokens = expression.match(/attribute_not_exists\([^)]*\)|\(|\)|AND|OR|<>|=|<|[#:]?[\w]+/g) ?? [];
  let at = 0;
  const operand = (token: string): AttributeValue | undefined => {
    if (token.startsWith(':')) return values?.[token];
    const name = token.startsWith('#') ? (names?.[token] ?? token) : token;
    return item?.[name];
  };
  const scalar = (v: AttributeValue | undefined) => v?.S ?? (v?.N !== undefined ? Number(v.N) : undefined);
  const primary = (): boolean => {
    const token = tokens[at++];
    if (token === '(') {
      const inner = or();
      at++; // ')'
      return inner;
    }
    if (token.startsWith('attribute_not_exists(')) {
      const name = token.slice('attribute_not_exists('.length, -1).trim();
      return operand(name) === undefined;
    }
    const op = tokens[at++];
    const left = scalar(operand(token));
    const right = scalar(operand(tokens[at++]));
    if (left === undefined || right === undefined) return false;
    if (op === '=') return left === right;
    return op === '<>' ? left !== right : left < right;
  };
  const and = (): boolean => {
    let result = primary();
    while (tokens[at] === 'AND') {
      at++;
      result = primary() && result;
    }
    return result;
  };
  const or = (): boolean => {
    let result = and();
    while (tokens[at] === 'OR') {
      at++;
      result = and() || result;
    }
    return result;
  };
  return or();
}

/**
 * Applies the updates keydrift writes: `SET name = :value, #name = :value, …` (attributes set to values), optionally
 * followed by `ADD name :value` (a string set merged in, or a number added, as DynamoDB does).
 */
export function applySet(expression: string, item: Item, names: Names, values: Values): Item {
  const clauses = /^\s*SET\s+(.*?)(?:\s+ADD\s+(.*))?$/.exec(expression);
  if (!clauses) throw new Error(`the bench table applies SET updates only, not "${expression}"`);
  const updated = structuredClone(item);
  const nameOf = (target: string) => (target.startsWith('#') ? (names?.[target] ?? target) : target);
  for (const assignment of clauses[1].split(',')) {
    const [target, source] = assignment.split('=').map((part) => part.trim());
    const value = values?.[source];
    if (!value) throw new Error(`the bench table cannot apply "${assignment.trim()}" (a value placeholder only)`);
    updated[nameOf(target)] = value;
  }
  for (const addition of clauses[2]?.split(',') ?? []) {
    const [target, source] = addition.trim().split(/\s+/);
    const value = values?.[source];
    const name = nameOf(target);
    const current = updated[name];
    if (value?.SS) updated[name] = { SS: [...new Set([...(current?.SS ?? []), ...value.SS])] };
    else if (value?.N !== undefined) updated[name] = { N: String(Number(current?.N ?? 0) + Number(value.N)) };
    else throw new Error(`the bench table cannot apply "ADD ${addition.trim()}" (a string set or number only)`);
  }
  return updated;
}

/** An update as UpdateItem and a transaction's Update action both give it. */
interface Update {
  Key?: Item;
  ReturnValuesOnConditionCheckFailure?: string;
  UpdateExpression?: string;
  ConditionExpression?: string;
  ExpressionAttributeNames?: Names;
  ExpressionAttributeValues?: Values;
}

/** One write of a transaction: whether its condition holds, and the item it leaves once all of them do. */
interface PlannedWrite {
  key: string;
  ok: boolean;
  next: () => Item;
}

export class FakeDynamoDB {
  readonly items = new Map<string, Item>();
  readonly calls = new Map<string, number>();
  readUnits = 0;
  writeUnits = 0;

  constructor(private readonly latencyMs = 0) {}

  reset(): void {
    this.calls.clear();
    this.readUnits = 0;
    this.writeUnits = 0;
  }

  private async enter(command: string): Promise<void> {
    this.calls.set(command, (this.calls.get(command) ?? 0) + 1);
    if (this.latencyMs) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
  }

  private read(item: Item | undefined, consistent: boolean): void {
    const units = Math.max(1, Math.ceil((item ? itemSize(item) : 1) / 4096));
    this.readUnits += consistent ? units : units / 2;
  }

  private write(item: Item | undefined, factor = 1): void {
    if (!item) {
      this.writeUnits += factor;
      return;
    }
    const units = Math.max(1, Math.ceil(itemSize(item) / 1024));
    // Findings carry the byTime index keys: the index is written too.
    this.writeUnits += units * factor * (item.gsi1pk ? 2 : 1);
  }

  private check(condition: string | undefined, key: string, names: Names, values: Values): boolean {
    return !condition || evaluate(condition, this.items.get(key), names, values);
  }

  /** The item an update makes (a new item from its key if there is none), once its condition holds; bills it. */
  private updated(update: Update, factor = 1): Item {
    const key = keyOf(update.Key ?? {});
    const { ConditionExpression, ExpressionAttributeNames: names, ExpressionAttributeValues: values } = update;
    if (!this.check(ConditionExpression, key, names, values)) {
      const existing = this.items.get(key);
      throw new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata: {},
        ...(update.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' && existing
          ? { Item: structuredClone(existing) }
          : {}),
      });
    }
    const next = applySet(update.UpdateExpression ?? '', this.items.get(key) ?? update.Key ?? {}, names, values);
    this.write(next, factor);
    return next;
  }

  install(mock: AwsClientStub<DynamoDBClient>): void {
    mock.on(GetItemCommand).callsFake(async (input) => {
      await this.enter('GetItem');
      const item = this.items.get(keyOf(input.Key));
      this.read(item, input.ConsistentRead === true);
      return { ...(item ? { Item: structuredClone(item) } : {}) };
    });
    mock.on(PutItemCommand).callsFake(async (input) => {
      await this.enter('PutItem');
      const key = keyOf(input.Item);
      this.write(input.Item);
      if (
        !this.check(input.ConditionExpression, key, input.ExpressionAttributeNames, input.ExpressionAttributeValues)
      ) {
        throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
      }
      this.items.set(key, structuredClone(input.Item));
      return {};
    });
    mock.on(UpdateItemCommand).callsFake(async (input) => {
      await this.enter('UpdateItem');
      const before = this.items.get(keyOf(input.Key));
      this.items.set(keyOf(input.Key), this.updated(input));
      return input.ReturnValues === 'ALL_OLD' && before ? { Attributes: structuredClone(before) } : {};
    });
    mock.on(DeleteItemCommand).callsFake(async (input) => {
      await this.enter('DeleteItem');
      const key = keyOf(input.Key);
      this.write(this.items.get(key));
      if (
        !this.check(input.ConditionExpression, key, input.ExpressionAttributeNames, input.ExpressionAttributeValues)
      ) {
        throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
      }
      this.items.delete(key);
      return {};
    });
    mock.on(BatchGetItemCommand).callsFake(async (input) => {
      await this.enter('BatchGetItem');
      const responses: Record<string, Item[]> = {};
      for (const [table, request] of Object.entries(input.RequestItems ?? {}) as Array<
        [string, { Keys?: Item[]; ConsistentRead?: boolean }]
      >) {
        responses[table] = [];
        for (const key of request.Keys ?? []) {
          const item = this.items.get(keyOf(key));
          this.read(item, request.ConsistentRead === true);
          if (item) responses[table].push(structuredClone(item));
        }
      }
      return { Responses: responses, UnprocessedKeys: {} };
    });
    mock.on(TransactWriteItemsCommand).callsFake(async (input) => {
      await this.enter('TransactWriteItems');
      const planned: PlannedWrite[] = (input.TransactItems ?? []).map((action: TransactWriteItem): PlannedWrite => {
        if (action.Put) {
          const {
            Item: item = {},
            ConditionExpression,
            ExpressionAttributeNames,
            ExpressionAttributeValues,
          } = action.Put;
          this.write(item, 2);
          const key = keyOf(item);
          const ok = this.check(ConditionExpression, key, ExpressionAttributeNames, ExpressionAttributeValues);
          return { key, ok, next: () => structuredClone(item) };
        }
        if (action.Update) {
          const update = action.Update;
          const key = keyOf(update.Key ?? {});
          const ok = this.check(
            update.ConditionExpression,
            key,
            update.ExpressionAttributeNames,
            update.ExpressionAttributeValues,
          );
          return { key, ok, next: () => this.updated(update, 2) };
        }
        throw new Error('the bench table supports Put and Update actions only');
      });
      // Every condition is checked before anything is written: a transaction applies all of its writes or none.
      if (planned.some((write) => !write.ok)) {
        throw new TransactionCanceledException({
          message: 'Transaction cancelled',
          $metadata: {},
          CancellationReasons: planned.map((write) => ({ Code: write.ok ? 'None' : 'ConditionalCheckFailed' })),
        });
      }
      for (const write of planned) this.items.set(write.key, write.next());
      return {};
    });
    mock.on(ScanCommand).callsFake(async (input) => {
      await this.enter('Scan');
      const all = [...this.items.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
      const segments = input.TotalSegments ?? 1;
      const mine = all.filter(([key]) => hash(key) % segments === (input.Segment ?? 0));
      const start = input.ExclusiveStartKey ? keyOf(input.ExclusiveStartKey) : undefined;
      const from = start ? mine.findIndex(([key]) => key > start) : 0;
      const page: Item[] = [];
      let bytes = 0;
      let i = from < 0 ? mine.length : from;
      for (; i < mine.length && bytes < SCAN_PAGE_BYTES; i++) {
        const [key, item] = mine[i];
        bytes += itemSize(item);
        if (this.check(input.FilterExpression, key, input.ExpressionAttributeNames, input.ExpressionAttributeValues)) {
          const projected = (input.ProjectionExpression ?? '')
            .split(',')
            .map((name: string) => name.trim())
            .filter(Boolean);
          page.push(
            projected.length
              ? Object.fromEntries(projected.filter((n: string) => item[n]).map((n: string) => [n, item[n]]))
              : item,
          );
        }
      }
      // A scan bills the size of every item it reads (filtered out or not), per 4 KB, eventually consistent.
      this.readUnits += (Math.ceil(bytes / 4096) || 1) * (input.ConsistentRead ? 1 : 0.5);
      const last = i < mine.length ? mine[i - 1][1] : undefined;
      return { Items: page, ...(last ? { LastEvaluatedKey: { pk: last.pk, sk: last.sk } } : {}) };
    });
  }
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}
