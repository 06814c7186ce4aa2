/**
 * The newest PagerDuty event sent for each dedup key (a resource's attribute), in keydrift's table. PagerDuty takes
 * events in the order they arrive, so a trigger that arrives after the resolve of newer drift (a retry after a 429,
 * or EventBridge delivering two events out of order) would reopen an incident for drift already undone. The pager
 * sends an event only if no newer one for its dedup key was recorded. CloudTrail times are whole seconds: of events
 * at the same time, each is sent as it first arrives, but not again once another replaced it.
 *
 * | item | pk | sk | other attributes |
 * | --- | --- | --- | --- |
 * | page | `PAGE#<dedup key>` | `LAST` | `at` (the newest finding's time, ms), `eventId` (the last recorded), `seen` (the events recorded at `at`, a string set), `action`, `expiresAt` (TTL, 14 days) |
 */

import { type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { awsErrorName, storeError } from './errors';

export interface PageLedgerOptions {
  client: DynamoDBClient;
  tableName: string;
  now?: () => number;
}

/** One PagerDuty event about to be sent. */
export interface PageRecord {
  dedupKey: string;
  /** When the finding's change happened (ms since the epoch): the order PagerDuty should see. */
  at: number;
  eventId: string;
  action: 'trigger' | 'resolve';
}

export interface PageLedger {
  /**
   * Records `page` as its dedup key's newest event and returns `true`, or returns `false` when a newer event for that
   * key was recorded already. Of the same time, it counts as newest on its first arrival, and on a later one (its own
   * retry, or its copy from another topic) while it is still the last recorded.
   * Throws `StoreError` or `RetryableStoreError` when the table cannot be written.
   */
  recordIfNewest(page: PageRecord): Promise<boolean>;
}

// Longer than any retry of a page can arrive (Lambda keeps an asynchronous event for at most 6 hours).
const PAGE_TTL_SECONDS = 14 * 24 * 60 * 60;

/**
 * Creates the ledger over the keydrift table.
 *
 * @example
 * const ledger = createPageLedger({ client: new DynamoDBClient({}), tableName: process.env.TABLE_NAME });
 * if (await ledger.recordIfNewest({ dedupKey, at: Date.parse(finding.timestamp), eventId, action })) await send(body);
 */
export function createPageLedger({ client, tableName, now = Date.now }: PageLedgerOptions): PageLedger {
  /** Applies `update` if `condition` holds; false when it does not. */
  async function recordIf(page: PageRecord, update: string, condition: string): Promise<boolean> {
    try {
      await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: { pk: { S: `PAGE#${page.dedupKey}` }, sk: { S: 'LAST' } },
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeNames: { '#at': 'at', '#action': 'action', '#seen': 'seen' },
          ExpressionAttributeValues: {
            ':at': { N: String(page.at) },
            ':eventId': { S: page.eventId },
            ':seen': { SS: [page.eventId] },
            ':action': { S: page.action },
            ':expires': { N: String(Math.floor(now() / 1000) + PAGE_TTL_SECONDS) },
          },
        }),
      );
      return true;
    } catch (error) {
      if (awsErrorName(error) === 'ConditionalCheckFailedException') return false;
      throw storeError('UpdateItem (page order)', error);
    }
  }

  return {
    async recordIfNewest(page) {
      const fields = 'eventId = :eventId, #action = :action, expiresAt = :expires';
      return (
        (await recordIf(page, `SET #at = :at, #seen = :seen, ${fields}`, 'attribute_not_exists(#at) OR #at < :at')) ||
        recordIf(
          page,
          `SET ${fields} ADD #seen :seen`,
          '#at = :at AND (eventId = :eventId OR NOT contains(#seen, :eventId))',
        )
      );
    },
  };
}
