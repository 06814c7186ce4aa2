/**
 * The pager: SNS delivers each finding published to the page topic; it becomes PagerDuty Events API v2 events (one
 * per changed attribute, `trigger` or `resolve`). 202 is success; an event PagerDuty answers with 429, a 5xx or not at
 * all is sent again within the invocation ({@link PAGERDUTY_RETRIES} times, about {@link PAGERDUTY_RETRY_MS} apart)
 * while the invocation has the time; then it fails the invocation so that Lambda retries it (twice, about 1 and 3
 * minutes later; then it waits in the dead-letter queue, which the README's redrive gives back to the pager); a 400
 * is logged, never retried (but sent once with the secret's current key when the cached one was rotated out). An
 * event older than one already sent for its dedup key is not sent (adapters/page-ledger.ts): it would reopen an
 * incident for drift already undone.
 */

import { setTimeout as sleepFor } from 'node:timers/promises';
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context, SNSEvent } from 'aws-lambda';
import { PageInFlightError, RetryablePagerDutyError } from '../adapters/errors';
import { type PageLedger, TURN_MS, TURN_WAIT_MS } from '../adapters/page-ledger';
import { createPagerDutySender, createRoutingKeyProvider, type SendResult } from '../adapters/pagerduty';
import { deletedKeyResolves, type PagerDutyEvent, pagerDutyEventsToSend } from '../alerts/pagerduty';
import { type Finding, SEVERITIES, STATUSES } from '../core/types';

export interface PagerDeps {
  secrets: SecretsManagerClient;
  secretName: string;
  /** The newest event sent per dedup key. */
  ledger: PageLedger;
  logger: Logger;
  metrics: Metrics;
  /** Replaces global fetch (tests). */
  fetch?: typeof fetch;
  /** Replaces `https://events.pagerduty.com/v2/enqueue` (tests, or a regional endpoint). */
  endpoint?: string;
  /** How long the routing key is cached (default 15 minutes). */
  secretTtlMs?: number;
  now?: () => number;
  /** Replaces the wait before an event is sent again (tests). */
  sleep?: (ms: number) => Promise<unknown>;
  /** Replaces Math.random for the back-off's jitter (tests). */
  random?: () => number;
}

/** The part of the Lambda context the pager uses: without it (tests), nothing is sent again within the invocation. */
export type PagerContext = Pick<Context, 'getRemainingTimeInMillis'>;

/**
 * How often an event PagerDuty answered with 429, a 5xx or not at all is sent again within the invocation, and how
 * long apart. PagerDuty takes about 120 events a minute per routing key, counted over the last 60 seconds, sends no
 * Retry-After, and suggests retrying a 429 three times 30 seconds apart (Events API v2 "Rate Limits"; a 5xx or a
 * network error is "retry after some time" too). Retried sooner, a burst (one policy applied to 100 keys) meets the
 * same full window; each wait is drawn from 20 to 40 s so that the events of a burst come back spread out, and the
 * last retry comes a minute or more after the first refusal, once the events PagerDuty took in the burst left the
 * window.
 */
export const PAGERDUTY_RETRIES = 3;
export const PAGERDUTY_RETRY_MS = 30_000;
/**
 * The time an attempt may take, which must be left once the wait is over: the dedup key's turn, taken after up to
 * {@link TURN_WAIT_MS} and held up to {@link TURN_MS} (a send, its second try with a fresh routing key, the secret's
 * read), and 2 s to publish the metrics, so that a failed invocation ends with its error rather than a timeout.
 */
export const ATTEMPT_RESERVE_MS = TURN_WAIT_MS + TURN_MS + 2_000;

/** What the pager does instead of sending an event older than one already sent for its dedup key. */
const SUPERSEDED = { outcome: 'superseded' } as const;
/** What it does instead of resolving a deleted key's incident that its ledger does not show open. */
const NOT_OPEN = { outcome: 'not open' } as const;

type Outcome = SendResult | typeof SUPERSEDED | typeof NOT_OPEN;

/** An event to send; `ifOpen`: a deleted key's resolve, sent only when its incident is open (PageLedger.admitIfOpen). */
interface Outgoing {
  body: PagerDutyEvent;
  ifOpen: boolean;
}

/**
 * The problems that keep a message from being a finding the PagerDuty formatter can read (empty when there are
 * none). Checked by hand rather than with zod: it keeps zod's ~440 KB out of the pager's bundle and cold start.
 */
export function findingProblems(value: unknown): string[] {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return ['(message): not a JSON object'];
  const f = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const field of ['event', 'eventId', 'timestamp', 'account', 'region', 'resource', 'user', 'summary']) {
    if (typeof f[field] !== 'string') problems.push(`${field}: expected a string`);
  }
  if (f.service !== 'kms' && f.service !== 'cloudtrail') problems.push('service: expected kms or cloudtrail');
  if (!(SEVERITIES as readonly unknown[]).includes(f.severity))
    problems.push(`severity: expected ${SEVERITIES.join('|')}`);
  if (!(STATUSES as readonly unknown[]).includes(f.status)) problems.push(`status: expected ${STATUSES.join('|')}`);
  const changes = f.changes;
  if (!changes || typeof changes !== 'object' || Array.isArray(changes)) {
    problems.push('changes: expected an object');
  } else if (Object.values(changes).some((c) => !c || typeof c !== 'object' || Array.isArray(c))) {
    problems.push('changes: each change must be an object');
  }
  if (
    f.remediation !== undefined &&
    !(Array.isArray(f.remediation) && f.remediation.every((r) => typeof r === 'string'))
  ) {
    problems.push('remediation: expected a list of strings');
  }
  if (f.reasons !== undefined && !(Array.isArray(f.reasons) && f.reasons.every((r) => typeof r === 'string'))) {
    problems.push('reasons: expected a list of strings');
  }
  if (f.ignored !== undefined && typeof f.ignored !== 'boolean') problems.push('ignored: expected a boolean');
  return problems;
}

/**
 * A CloudWatch alarm's notification: the pager hears the ops topic, where keydrift's alarms go too, with no filter
 * (the findings there are JSON-structured, and SNS may not filter those by message attribute).
 */
function isAlarmNotification(json: unknown): boolean {
  if (!json || typeof json !== 'object') return false;
  const { AlarmName, NewStateValue } = json as Record<string, unknown>;
  return typeof AlarmName === 'string' && typeof NewStateValue === 'string';
}

/**
 * Creates the pager handler.
 *
 * @example
 * export const handler = createPager({ secrets: new SecretsManagerClient({}), secretName, logger, metrics });
 */
export function createPager(deps: PagerDeps): (event: SNSEvent, context?: PagerContext) => Promise<void> {
  const { logger, metrics } = deps;
  const sleep = deps.sleep ?? sleepFor;
  const random = deps.random ?? Math.random;
  const routingKey = createRoutingKeyProvider({
    client: deps.secrets,
    secretName: deps.secretName,
    ttlMs: deps.secretTtlMs,
    now: deps.now,
  });
  const send = createPagerDutySender({ fetch: deps.fetch, endpoint: deps.endpoint });
  const count = (name: string, value = 1) => metrics.addMetric(name, MetricUnit.Count, value);

  /** The finding, and whether an ignore rule matched it (the publisher's pageCommand marks it). */
  function parse(message: string, messageId: string): { finding: Finding; ignored: boolean } | undefined {
    let json: unknown;
    try {
      json = JSON.parse(message);
    } catch {
      json = undefined;
    }
    if (isAlarmNotification(json)) {
      logger.debug('Alarm notification from the ops topic: not for PagerDuty', { messageId });
      return undefined;
    }
    const problems = findingProblems(json);
    if (problems.length === 0) {
      const { ignored, ...finding } = json as Finding & { ignored?: boolean };
      return { finding: { ...finding, remediation: finding.remediation ?? [] }, ignored: ignored === true };
    }
    // Sending it again would fail the same way: log it and drop it.
    logger.error('Page message is not a keydrift finding; dropped', { messageId, issues: problems.slice(0, 10) });
    count('PagerInvalidMessages');
    return undefined;
  }

  /** False when a newer event for the body's dedup key was sent already (or, `ifOpen`, its incident is not open). */
  async function isNewest(finding: Finding, { body, ifOpen }: Outgoing): Promise<boolean> {
    const at = Date.parse(finding.timestamp);
    if (Number.isNaN(at)) return true;
    try {
      const page = { dedupKey: body.dedup_key, at, eventId: finding.eventId, action: body.event_action };
      return await (ifOpen ? deps.ledger.admitIfOpen(page) : deps.ledger.admit(page));
    } catch (error) {
      // A page matters more than its order, and the table may be unusable for the very reason to page (keydrift's
      // own key disabled).
      count('PagerOrderUnchecked');
      logger.error('Could not check for a newer PagerDuty event; sending this one anyway', {
        eventId: finding.eventId,
        dedupKey: body.dedup_key,
        error: (error as Error).message,
      });
      return true;
    }
  }

  /**
   * Sends `body`; should PagerDuty refuse it, sends it once more with the secret's key if that changed: a rotated
   * secret's old key (cached up to its TTL) is refused with a 400 once its integration is deleted.
   */
  async function sendWithCurrentKey(body: PagerDutyEvent): Promise<SendResult> {
    const result = await send(body);
    if (result.outcome !== 'rejected') return result;
    const key = await routingKey(true);
    return key === body.routing_key ? result : send({ ...body, routing_key: key });
  }

  /**
   * Sends `body` if it is the newest for its dedup key, and records it sent once PagerDuty took it; in the dedup key's
   * turn, so that no other invocation's event of it is checked or sent in between.
   */
  async function sendIfNewest(finding: Finding, outgoing: Outgoing): Promise<Outcome> {
    const { body } = outgoing;
    const release = await takeTurn(body);
    try {
      if (!(await isNewest(finding, outgoing))) return outgoing.ifOpen ? NOT_OPEN : SUPERSEDED;
      const result = await sendWithCurrentKey(body);
      if (result.outcome === 'accepted') await markSent(finding, body);
      return result;
    } finally {
      await release();
    }
  }

  /**
   * The dedup key's turn; none when the table cannot be written: the page goes anyway, and {@link isNewest}, failing
   * the same way, logs and counts it.
   */
  async function takeTurn(body: PagerDutyEvent): Promise<() => Promise<void>> {
    try {
      return await deps.ledger.takeTurn(body.dedup_key);
    } catch (error) {
      if (error instanceof PageInFlightError) throw error;
      return async () => {};
    }
  }

  /** Best effort: unrecorded, a retry of the invocation sends the event again, which PagerDuty merges. */
  async function markSent(finding: Finding, body: PagerDutyEvent): Promise<void> {
    const at = Date.parse(finding.timestamp);
    if (Number.isNaN(at)) return;
    try {
      await deps.ledger.sent({ dedupKey: body.dedup_key, at, eventId: finding.eventId, action: body.event_action });
    } catch (error) {
      logger.warn('Could not record the PagerDuty event as sent', {
        eventId: finding.eventId,
        dedupKey: body.dedup_key,
        error: (error as Error).message,
      });
    }
  }

  /**
   * {@link sendIfNewest}, again after a wait while PagerDuty answers 429, a 5xx or not at all, as long as the
   * invocation has the time for the wait and one more attempt; each attempt takes the dedup key's turn anew and asks
   * the ledger again, so that a newer event of the attribute sent meanwhile by another invocation is not undone.
   */
  async function sendWithBackoff(finding: Finding, outgoing: Outgoing, timeLeft: () => number): Promise<Outcome> {
    const { body } = outgoing;
    for (let retry = 1; ; retry++) {
      try {
        return await sendIfNewest(finding, outgoing);
      } catch (error) {
        if (!(error instanceof RetryablePagerDutyError) || retry > PAGERDUTY_RETRIES) throw error;
        const waitMs = Math.round(PAGERDUTY_RETRY_MS * (2 / 3 + (2 / 3) * random()));
        if (timeLeft() - waitMs < ATTEMPT_RESERVE_MS) throw error;
        logger.warn('PagerDuty did not take the event; sending it again', {
          eventId: finding.eventId,
          dedupKey: body.dedup_key,
          status: error.status,
          retry,
          waitMs,
        });
        await sleep(waitMs);
      }
    }
  }

  /** Sends the finding's events; for one an ignore rule matched (`ignored`), its resolves only: it opens nothing. */
  async function page(finding: Finding, ignored: boolean, timeLeft: () => number): Promise<unknown[]> {
    const key = await routingKey();
    const outgoing: Outgoing[] = [
      ...pagerDutyEventsToSend(finding, key, { ignored }).map((body) => ({ body, ifOpen: false })),
      ...deletedKeyResolves(finding, key).map((body) => ({ body, ifOpen: true })),
    ];
    const results = await Promise.allSettled(outgoing.map((event) => sendWithBackoff(finding, event, timeLeft)));
    const retryable: unknown[] = [];
    results.forEach((result, index) => {
      const { dedup_key, event_action } = outgoing[index].body;
      if (result.status === 'rejected') {
        retryable.push(result.reason);
        logger.warn('PagerDuty did not take the event; the invocation will be retried', {
          eventId: finding.eventId,
          dedupKey: dedup_key,
          error: (result.reason as Error).message,
        });
      } else if (result.value.outcome === 'not open') {
        logger.debug('Not sent: no incident of the deleted key is open for this attribute', { dedupKey: dedup_key });
      } else if (result.value.outcome === 'superseded') {
        count('PagerDutySuperseded');
        logger.info('Not sent: PagerDuty has this event, or a newer one for this attribute, already', {
          eventId: finding.eventId,
          dedupKey: dedup_key,
          action: event_action,
        });
      } else if (result.value.outcome === 'rejected') {
        count('PagerDutyRejected');
        logger.error('PagerDuty rejected the event; not retried', {
          eventId: finding.eventId,
          dedupKey: dedup_key,
          status: result.value.status,
          response: result.value.body,
        });
      } else {
        count('PagerDutyEvents');
        logger.info('Sent to PagerDuty', { eventId: finding.eventId, dedupKey: dedup_key, action: event_action });
      }
    });
    return retryable;
  }

  return async (event, context) => {
    const timeLeft = () => context?.getRemainingTimeInMillis() ?? 0;
    try {
      const pages = (event.Records ?? [])
        .map((record) => parse(record.Sns?.Message ?? '', record.Sns?.MessageId ?? ''))
        .filter((p) => p !== undefined);
      const failures = (await Promise.all(pages.map((p) => page(p.finding, p.ignored, timeLeft)))).flat();
      if (failures.length > 0) throw failures[0];
    } catch (error) {
      count('PagerErrors');
      throw error;
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}
