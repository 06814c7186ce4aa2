/**
 * The operator commands' reads of keydrift's table (the layout lambda/adapters/state-store.ts writes): every
 * resource's state and baseline, a resource's findings newest first, and findings by time through the `byTime`
 * index. Writes go through the state store itself.
 */

import {
  type AttributeValue,
  DescribeTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  paginateQuery,
  paginateScan,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/client-dynamodb';
import { resourcePk, snapshotOfItem } from '../adapters/state-store';
import { TABLE_KEY } from '../adapters/table-key';
import { toIsoSeconds } from '../core/time';
import { type ResourceKind, SEVERITIES, type Severity } from '../core/types';
import { daysBetween, type StoredFinding, type StoredItem, type StoredResource } from './drift';
import { type KeyAttribute, TableKeyError } from './errors';

type Item = Record<string, AttributeValue>;

export interface TableReaderOptions {
  client: DynamoDBClient;
  tableName: string;
}

export interface FindingQuery {
  sinceMs: number;
  /** The last time to list, included (a finding's timestamp has whole seconds); none: up to now. */
  untilMs?: number;
  nowMs: number;
  minSeverity?: Severity;
  resource?: string;
  /** Stop after this many findings (newest first). */
  limit?: number;
}

export interface TableReader {
  /**
   * Proves the table exists, is readable and has keydrift's key (one GetItem of a key keydrift never writes).
   *
   * @throws TableKeyError when the table's key is another (DynamoDB refuses keydrift's), with its key if
   *   DescribeTable tells it
   */
  check(): Promise<void>;
  /** Every resource with a state or a baseline (one paginated Scan that returns only those items). */
  resources(): Promise<StoredResource[]>;
  /**
   * A resource's findings, newest first, page by page as they are consumed, each with the ignore rule that kept it
   * out of alerts, if one did; `fromIso` bounds how far back.
   */
  resourceFindings(arn: string, options?: { fromIso?: string; pageSize?: number }): AsyncGenerator<StoredFinding>;
  /**
   * Findings at or after `sinceMs` (and up to `untilMs`), newest first: by day through `byTime`, or by resource from its own items; each with
   * the ignore rule that kept it out of alerts, if one did.
   */
  findings(query: FindingQuery): Promise<StoredFinding[]>;
  /**
   * The same findings a part at a time, newest first, each read only when the one before is consumed (a page of a
   * resource's, a day of `byTime`): a caller that stops early (its output closed) stops the reads.
   */
  findingParts(query: FindingQuery): AsyncGenerator<StoredFinding[]>;
  /** Whether the table holds anything of a resource: its state, its baseline or a finding of any time (one item read). */
  holds(arn: string): Promise<boolean>;
}

const RESOURCE_PREFIX = 'RESOURCE#';
const FINDING_PREFIX = 'FINDING#';
/** Sorts after every timestamp: the upper end of a timestamp range in a sort key. */
const AFTER_ALL = '\uffff';
/** Parallel segments of the scan for states and baselines. */
const SCAN_SEGMENTS = 4;
/** How many day partitions of `byTime` are queried at once. */
const DAYS_AT_ONCE = 7;
/**
 * The day AWS KMS launched (2014-11-12): no finding is older, so a walk by day stops there, however far back `--since`
 * reaches (`--since 0001-01-01` would otherwise be 740,000 queries).
 */
const NO_FINDING_BEFORE_MS = Date.parse('2014-11-12T00:00:00Z');

const str = (item: Item, name: string): string | undefined => item[name]?.S;

/** A finding as stored, with the fields the CLI prints present even on a truncated copy. */
export function parseFinding(item: Item): StoredFinding | undefined {
  const json = str(item, 'finding');
  if (!json) return undefined;
  const finding = JSON.parse(json) as StoredFinding;
  finding.remediation = Array.isArray(finding.remediation) ? finding.remediation : [];
  if (finding.truncated !== undefined && !Array.isArray(finding.truncated)) delete finding.truncated;
  finding.changes ??= {};
  finding.summary ??= '';
  finding.event ??= str(item, 'event') ?? 'unknown';
  return finding;
}

/** A finding as stored, with the ignore rule that kept it out of alerts, if one did. */
function storedFinding(item: Item): StoredFinding | undefined {
  const finding: StoredFinding | undefined = parseFinding(item);
  const ignoredBy = str(item, 'ignoredBy');
  if (finding && ignoredBy) finding.ignoredBy = ignoredBy;
  return finding;
}

function storedItem(item: Item): StoredItem {
  const stored: StoredItem = {
    snapshot: snapshotOfItem(item),
    version: Number(item.version?.N ?? 0),
  };
  for (const name of ['updatedAt', 'acceptedBy', 'acceptedAt', 'acceptReason'] as const) {
    const value = str(item, name);
    if (value) stored[name] = value;
  }
  const truncated = item.truncated?.L?.flatMap((v) => (v.S ? [v.S] : []));
  if (truncated?.length) stored.truncated = truncated;
  return stored;
}

/**
 * Creates the reader.
 *
 * @example
 * const reader = createTableReader({ client: new DynamoDBClient({}), tableName: 'Keydrift-Table-1A2B3C' });
 * const lastDay = await reader.findings({ sinceMs: Date.now() - 86_400_000, nowMs: Date.now() });
 */
export function createTableReader({ client, tableName }: TableReaderOptions): TableReader {
  async function resources(): Promise<StoredResource[]> {
    const byArn = new Map<string, StoredResource>();
    const add = (item: Item) => {
      const pk = str(item, 'pk') ?? '';
      if (!pk.startsWith(RESOURCE_PREFIX)) return;
      const stored = storedItem(item);
      const arn = stored.snapshot.arn;
      const kind = (str(item, 'kind') ?? stored.snapshot.kind) as ResourceKind;
      const resource = byArn.get(arn) ?? { arn, kind };
      if (str(item, 'sk') === 'STATE') resource.state = stored;
      else resource.baseline = stored;
      byArn.set(arn, resource);
    };
    // The scan reads the findings too (the filter applies after the read): segments in parallel keep it quick.
    await Promise.all(
      Array.from({ length: SCAN_SEGMENTS }, async (_, segment) => {
        const pages = paginateScan(
          { client, pageSize: 1000 },
          {
            TableName: tableName,
            Segment: segment,
            TotalSegments: SCAN_SEGMENTS,
            FilterExpression: '#sk IN (:state, :baseline)',
            ProjectionExpression:
              '#pk, #sk, #kind, #snapshot, #version, #updatedAt, #acceptedBy, #acceptedAt, #acceptReason, #truncated',
            ExpressionAttributeNames: Object.fromEntries(
              [
                'pk',
                'sk',
                'kind',
                'snapshot',
                'version',
                'updatedAt',
                'acceptedBy',
                'acceptedAt',
                'acceptReason',
                'truncated',
              ].map((n) => [`#${n}`, n]),
            ),
            ExpressionAttributeValues: { ':state': { S: 'STATE' }, ':baseline': { S: 'BASELINE' } },
          },
        );
        for await (const page of pages) for (const item of page.Items ?? []) add(item);
      }),
    );
    return [...byArn.values()].sort((a, b) => a.arn.localeCompare(b.arn));
  }

  async function* resourceFindings(
    arn: string,
    options: { fromIso?: string; pageSize?: number } = {},
  ): AsyncGenerator<StoredFinding> {
    const input: QueryCommandInput = {
      TableName: tableName,
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
      ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
      ExpressionAttributeValues: {
        ':pk': { S: resourcePk(arn) },
        ':from': { S: `${FINDING_PREFIX}${options.fromIso ?? ''}` },
        ':to': { S: `${FINDING_PREFIX}${AFTER_ALL}` },
      },
      ScanIndexForward: false,
    };
    for await (const page of paginateQuery({ client, pageSize: options.pageSize ?? 25 }, input)) {
      for (const item of page.Items ?? []) {
        const finding = storedFinding(item);
        if (finding) yield finding;
      }
    }
  }

  /** Severity and resource conditions for a query's FilterExpression. */
  function filters(query: FindingQuery): Pick<QueryCommandInput, 'FilterExpression'> & {
    names: Record<string, string>;
    values: Record<string, AttributeValue>;
  } {
    const parts: string[] = [];
    const names: Record<string, string> = {};
    const values: Record<string, AttributeValue> = {};
    const min = query.minSeverity ?? 'info';
    if (min !== 'info') {
      const allowed = SEVERITIES.slice(SEVERITIES.indexOf(min));
      names['#severity'] = 'severity';
      allowed.forEach((s, i) => {
        values[`:severity${i}`] = { S: s };
      });
      parts.push(`#severity IN (${allowed.map((_, i) => `:severity${i}`).join(', ')})`);
    }
    if (query.resource) {
      names['#resource'] = 'resource';
      values[':resource'] = { S: query.resource };
      parts.push('#resource = :resource');
    }
    return { FilterExpression: parts.length ? parts.join(' AND ') : undefined, names, values };
  }

  /** A query's findings page by page, at most `limit` in all; no page is read once `stop` is aborted. */
  async function* pages(input: QueryCommandInput, limit: number, stop?: AbortSignal): AsyncGenerator<StoredFinding[]> {
    let count = 0;
    for await (const page of paginateQuery({ client, pageSize: 100 }, input)) {
      const found: StoredFinding[] = [];
      for (const item of page.Items ?? []) {
        // An ignored finding says so: listed beside the others, it was never alerted.
        const finding = storedFinding(item);
        if (finding) found.push(finding);
        if (count + found.length >= limit) break;
      }
      count += found.length;
      yield found;
      if (count >= limit || stop?.aborted) return;
    }
  }

  async function collect(input: QueryCommandInput, limit: number, stop: AbortSignal): Promise<StoredFinding[]> {
    const out: StoredFinding[] = [];
    for await (const found of pages(input, limit, stop)) out.push(...found);
    return out;
  }

  async function* findingParts(query: FindingQuery): AsyncGenerator<StoredFinding[]> {
    if (query.untilMs !== undefined && query.untilMs < query.sinceMs) return;
    const sinceIso = toIsoSeconds(query.sinceMs);
    // Every finding of the until's second, whatever its event id; with no until, every later one.
    const untilSk = query.untilMs === undefined ? AFTER_ALL : `${toIsoSeconds(query.untilMs)}#${AFTER_ALL}`;
    const limit = query.limit && query.limit > 0 ? query.limit : Number.POSITIVE_INFINITY;
    const { FilterExpression, names, values } = filters(query);
    if (query.resource) {
      // A resource's findings are its own items: one range of its partition, no day-by-day walk.
      yield* pages(
        {
          TableName: tableName,
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
          FilterExpression,
          ExpressionAttributeNames: { ...names, '#pk': 'pk', '#sk': 'sk' },
          ExpressionAttributeValues: {
            ...values,
            ':pk': { S: resourcePk(query.resource) },
            ':from': { S: `${FINDING_PREFIX}${sinceIso}` },
            ':to': { S: `${FINDING_PREFIX}${untilSk}` },
          },
          ScanIndexForward: false,
        },
        limit,
      );
      return;
    }
    // Only the days of the period: a closed quarter a year ago is 92 queries, not a walk back from today.
    const lastMs = Math.min(query.untilMs ?? query.nowMs, query.nowMs);
    const days = daysBetween(Math.max(query.sinceMs, NO_FINDING_BEFORE_MS), lastMs);
    // Stopped early (the limit reached, or the caller done), the days still being read stop at their next page.
    const stop = new AbortController();
    let count = 0;
    try {
      for (let start = 0; start < days.length && count < limit; start += DAYS_AT_ONCE) {
        // A week of days at once, given in day order so the result stays newest first.
        const batch = days.slice(start, start + DAYS_AT_ONCE).map((day) =>
          collect(
            {
              TableName: tableName,
              IndexName: 'byTime',
              KeyConditionExpression: '#gsi1pk = :day AND #gsi1sk BETWEEN :since AND :until',
              FilterExpression,
              ExpressionAttributeNames: { ...names, '#gsi1pk': 'gsi1pk', '#gsi1sk': 'gsi1sk' },
              ExpressionAttributeValues: {
                ...values,
                ':day': { S: `FINDINGS#${day}` },
                ':since': { S: sinceIso },
                ':until': { S: untilSk },
              },
              ScanIndexForward: false,
            },
            limit,
            stop.signal,
          ),
        );
        // A later day's failure is reported when its turn comes (or not at all, once stopped), never as unhandled.
        for (const day of batch) day.catch(() => {});
        for (const day of batch) {
          const found = (await day).slice(0, limit - count);
          count += found.length;
          yield found;
          if (count >= limit) return;
        }
      }
    } finally {
      stop.abort();
    }
  }

  async function findings(query: FindingQuery): Promise<StoredFinding[]> {
    const out: StoredFinding[] = [];
    // One by one: a busy day holds more findings than a call takes arguments (`push(...day)` overflows the stack).
    for await (const found of findingParts(query)) for (const finding of found) out.push(finding);
    return out;
  }

  async function holds(arn: string): Promise<boolean> {
    const { Items } = await client.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': 'pk' },
        ExpressionAttributeValues: { ':pk': { S: resourcePk(arn) } },
        ProjectionExpression: '#pk',
        Limit: 1,
      }),
    );
    return (Items?.length ?? 0) > 0;
  }

  /** The table's key as DescribeTable tells it; undefined when it cannot (the caller may not describe tables). */
  async function keyOf(): Promise<KeyAttribute[] | undefined> {
    try {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
      const types = new Map((Table?.AttributeDefinitions ?? []).map((a) => [a.AttributeName, a.AttributeType]));
      const schema = Table?.KeySchema ?? [];
      const key = ['HASH', 'RANGE'].flatMap((type) => schema.filter((k) => k.KeyType === type));
      return key.length
        ? key.map((k) => ({ name: k.AttributeName ?? '', type: types.get(k.AttributeName) }))
        : undefined;
    } catch {
      return undefined;
    }
  }

  async function check(): Promise<void> {
    // GetItem needs no more permission than the commands use anyway (DescribeTable would): it is asked only to name
    // the key of a table that refuses keydrift's.
    const key = { [TABLE_KEY.partitionKey]: { S: 'KEYDRIFT#CHECK' }, [TABLE_KEY.sortKey]: { S: 'CHECK' } };
    try {
      await client.send(new GetItemCommand({ TableName: tableName, Key: key }));
    } catch (error) {
      const refused =
        error instanceof Error &&
        error.name === 'ValidationException' &&
        /key element does not match the schema/i.test(error.message);
      if (refused) throw new TableKeyError(tableName, await keyOf(), { cause: error });
      throw error;
    }
  }

  return { check, resources, resourceFindings, findings, findingParts, holds };
}
