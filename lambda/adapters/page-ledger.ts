/**
 * The newest PagerDuty event sent for each dedup key (a resource's attribute), in keydrift's table. PagerDuty takes
 * events in the order they arrive, so a trigger that arrives after the resolve of newer drift (a retry after a 429,
 * or EventBridge delivering two events out of order) would reopen an incident for drift already undone. The pager
 * sends an event only if no newer one for its dedup key was recorded, but for an older trigger while the incident is
 * open. CloudTrail times are whole seconds: of events at the same time, each is sent as it first arrives, but not
 * again once another replaced it. One invocation at a time sends the events of a dedup key (its turn, a lease on the
 * item): two admitted at once could reach PagerDuty in reverse order, a resolve closing the incident of newer drift.
 *
 * | item | pk | sk | other attributes |
 * | --- | --- | --- | --- |
 * | page | `PAGE#<dedup key>` | `LAST` | `at` (the newest finding's time, ms), `eventId` (the last recorded), `seen` (the events recorded at `at`, a string set), `action`, `sent` (the events PagerDuty took since the last resolve recorded, older triggers included, or that need not go: a deleted key's resolve of an incident not open; a string set), `resolvedAt` (that resolve's time, ms), `turn` and `turnUntil` (the invocation sending now, and until when at most, ms), `expiresAt` (TTL: 15 days, see `PAGE_TTL_SECONDS`; a year after a trigger, see `OPEN_INCIDENT_TTL_SECONDS`) |
 */

import { randomUUID } from 'node:crypto';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { type AttributeValue, type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { awsErrorName, PageInFlightError, storeError } from './errors';

export interface PageLedgerOptions {
  client: DynamoDBClient;
  tableName: string;
  now?: () => number;
  /** Replaces the wait between tries for a dedup key's turn (tests). */
  sleep?: (ms: number) => Promise<unknown>;
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
   * Waits until no other invocation is sending an event of `dedupKey`, and holds the turn until the returned release
   * is called (or {@link TURN_MS} passed, should this invocation die). Throws `PageInFlightError` when the other still
   * sends after {@link TURN_WAIT_MS}, and `StoreError` or `RetryableStoreError` when the table cannot be written.
   */
  takeTurn(dedupKey: string): Promise<() => Promise<void>>;
  /**
   * Whether `page` may be sent. The newest event of its dedup key is recorded and sent. Of the same time, one counts
   * as newest on its first arrival, and on a later one (its own retry, or its copy from another topic) while it is
   * still the last recorded and PagerDuty has not taken it ({@link sent}). An older trigger is sent (not recorded) while the last recorded event is a trigger too:
   * the incident is open, and it adds who did it (a CloudTrail event arriving after the reconciler paged its drift),
   * unless PagerDuty took it already or it is older than the last resolve recorded. Anything else older is not sent.
   * Throws `StoreError` or `RetryableStoreError` when the table cannot be written.
   */
  admit(page: PageRecord): Promise<boolean>;
  /**
   * Whether the resolve `page` of an incident keydrift may have left open (a deleted key's other attributes) may be
   * sent: only when the last event recorded for its dedup key is a trigger no newer than it (the incident is open, as
   * far as keydrift knows), which it then replaces, or when it is itself the last recorded and PagerDuty has not taken
   * it (its own retry). A dedup key never paged, resolved already, or whose trigger is older than
   * {@link OPEN_INCIDENT_TTL_SECONDS} is not sent, but the resolve is recorded there too, so that a trigger older than
   * it arriving late is not sent either.
   * Throws `StoreError` or `RetryableStoreError` when the table cannot be written.
   */
  admitIfOpen(page: PageRecord): Promise<boolean>;
  /**
   * Records that PagerDuty took `page` (the last recorded or an older trigger): a retry of the invocation (another of
   * the finding's events failed) does not send it again, which would open a new incident once someone resolved it.
   */
  sent(page: PageRecord): Promise<void>;
}

/**
 * How long a page's record is kept: longer than any copy of the page can still arrive, so a late copy is held back
 * rather than reopening an incident. The latest is a redrive from the dead-letter queue, which keeps a failed page
 * for 14 days after Lambda gave up on it, and Lambda keeps an asynchronous event for at most 6 hours before that.
 */
export const PAGE_TTL_SECONDS = 15 * 24 * 60 * 60;
/**
 * How long the record of a trigger, the last event of its dedup key, is kept: its incident is open, and a key's
 * deletion resolves the incidents its ledger shows open (`admitIfOpen`), which may come weeks after the drift was paged
 * (a pending deletion waits up to 30 days, a multi-Region primary's for its replicas). A year; a resolve's record
 * goes after {@link PAGE_TTL_SECONDS}.
 */
export const OPEN_INCIDENT_TTL_SECONDS = 365 * 24 * 60 * 60;

/** Longest a turn is held: a send and its second try with a fresh routing key (10 s each), and the secret's read. */
export const TURN_MS = 25_000;
/** Longest the pager waits for a turn, then fails its invocation (Lambda retries it): each attempt of a send waits anew. */
export const TURN_WAIT_MS = 8_000;
const TURN_POLL_MS = 250;

/**
 * Creates the ledger over the keydrift table.
 *
 * @example
 * const ledger = createPageLedger({ client: new DynamoDBClient({}), tableName: process.env.TABLE_NAME });
 * if (await ledger.admit({ dedupKey, at: Date.parse(finding.timestamp), eventId, action })) await send(body);
 */
export function createPageLedger({
  client,
  tableName,
  now = Date.now,
  sleep = sleepFor,
}: PageLedgerOptions): PageLedger {
  /** Applies `update` to the dedup key's item if `condition` holds; false when it does not. */
  async function updateIf(
    dedupKey: string,
    update: string,
    condition: string,
    values: Record<string, AttributeValue>,
  ): Promise<boolean> {
    // DynamoDB refuses names and values an expression does not use.
    const tokens = new Set(`${update} ${condition}`.match(/[#:]\w+/g));
    const used = <T>(entries: Record<string, T>) =>
      Object.fromEntries(Object.entries(entries).filter(([token]) => tokens.has(token)));
    try {
      await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: { pk: { S: `PAGE#${dedupKey}` }, sk: { S: 'LAST' } },
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeNames: used({
            '#at': 'at',
            '#action': 'action',
            '#seen': 'seen',
            '#sent': 'sent',
            '#turn': 'turn',
          }),
          ExpressionAttributeValues: used({
            ':expires': { N: String(Math.floor(now() / 1000) + PAGE_TTL_SECONDS) },
            ...values,
          }),
        }),
      );
      return true;
    } catch (error) {
      if (awsErrorName(error) === 'ConditionalCheckFailedException') return false;
      throw storeError('UpdateItem (page order)', error);
    }
  }

  const recordIf = (page: PageRecord, update: string, condition: string, values: Record<string, AttributeValue> = {}) =>
    updateIf(page.dedupKey, update, condition, {
      ':at': { N: String(page.at) },
      ':eventId': { S: page.eventId },
      ':seen': { SS: [page.eventId] },
      ':action': { S: page.action },
      ':expires': {
        N: String(
          Math.floor(now() / 1000) + (page.action === 'trigger' ? OPEN_INCIDENT_TTL_SECONDS : PAGE_TTL_SECONDS),
        ),
      },
      ...values,
    });
  const recorded = 'eventId = :eventId, #action = :action, expiresAt = :expires';
  /**
   * The update recording `page` as the newest: a newer trigger keeps what PagerDuty took (an older trigger may still
   * go, but not twice); a resolve ends it.
   */
  const asNewest = (page: PageRecord) =>
    page.action === 'resolve'
      ? `SET #at = :at, #seen = :seen, ${recorded}, resolvedAt = :at REMOVE #sent`
      : `SET #at = :at, #seen = :seen, ${recorded}`;

  return {
    async takeTurn(dedupKey) {
      const turn = { S: randomUUID() };
      const waitUntil = now() + TURN_WAIT_MS;
      for (;;) {
        const taken = await updateIf(
          dedupKey,
          'SET #turn = :turn, turnUntil = :until, expiresAt = if_not_exists(expiresAt, :expires)',
          'attribute_not_exists(#turn) OR turnUntil < :now',
          { ':turn': turn, ':until': { N: String(now() + TURN_MS) }, ':now': { N: String(now()) } },
        );
        if (taken) break;
        if (now() >= waitUntil) {
          throw new PageInFlightError(
            `Another invocation is still sending a PagerDuty event of ${dedupKey}; this one is retried after it`,
          );
        }
        await sleep(TURN_POLL_MS);
      }
      return async () => {
        // Best effort: a turn not given back ends by itself at turnUntil.
        await updateIf(dedupKey, 'REMOVE #turn, turnUntil', '#turn = :turn', { ':turn': turn }).catch(() => false);
      };
    },
    async admit(page) {
      return (
        (await recordIf(page, asNewest(page), 'attribute_not_exists(#at) OR #at < :at')) ||
        // A resolve of the same second is the last resolve too: older triggers stay out once a newer one reopens.
        (await recordIf(
          page,
          `SET ${recorded}${page.action === 'resolve' ? ', resolvedAt = :at' : ''} ADD #seen :seen`,
          '#at = :at AND NOT contains(#sent, :eventId) AND (eventId = :eventId OR NOT contains(#seen, :eventId))',
        )) ||
        // Checked, not recorded: the newest stays the newest (its expiry only is kept fresh).
        (page.action === 'trigger' &&
          recordIf(
            page,
            'SET expiresAt = :expires',
            '#action = :action AND NOT contains(#sent, :eventId) AND (attribute_not_exists(resolvedAt) OR resolvedAt < :at)',
          ))
      );
    },
    async admitIfOpen(page) {
      const open = { ':trigger': { S: 'trigger' } };
      if (await recordIf(page, asNewest(page), '#action = :trigger AND #at <= :at', open)) return true;
      const retry = '#at = :at AND eventId = :eventId AND NOT contains(#sent, :eventId)';
      if (await recordIf(page, 'SET expiresAt = :expires', retry)) return true;
      // No incident open: nothing to send, but the resolve is recorded all the same (as sent, so that its retry does
      // not send it), so that a trigger older than it arriving late (a redriven event) opens none on a deleted key.
      const unsent = `SET #at = :at, #seen = :seen, ${recorded}, resolvedAt = :at, #sent = :seen`;
      await recordIf(page, unsent, 'attribute_not_exists(#at) OR #at < :at');
      return false;
    },
    async sent(page) {
      // Whatever was recorded since: an older trigger PagerDuty took must not go again either.
      await recordIf(page, 'ADD #sent :seen', 'attribute_exists(#at)');
    },
  };
}
