/**
 * PagerDuty Events API v2: the routing key from Secrets Manager (cached), and the POST of one event body.
 */

import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { PagerDutyEvent } from '../alerts/pagerduty';
import { awsErrorName, isTransientAwsError, RetryableError, RetryablePagerDutyError, SecretError } from './errors';

export const PAGERDUTY_ENQUEUE_URL = 'https://events.pagerduty.com/v2/enqueue';

export interface RoutingKeyOptions {
  client: SecretsManagerClient;
  secretName: string;
  /** How long a fetched key is reused (default 15 minutes, so a rotated key is picked up without a deploy). */
  ttlMs?: number;
  now?: () => number;
}

/**
 * The routing key, fetched once and cached; `fresh` reads the secret again (a key PagerDuty refused may have been
 * rotated). The secret holds either the key itself or JSON with `routing_key` (also accepted: `routingKey`,
 * `integration_key`, `integrationKey`).
 */
export function createRoutingKeyProvider(options: RoutingKeyOptions): (fresh?: boolean) => Promise<string> {
  const ttlMs = options.ttlMs ?? 15 * 60 * 1000;
  const now = options.now ?? Date.now;
  let cached: { key: string; until: number } | undefined;
  let pending: Promise<string> | undefined;

  async function fetchKey(): Promise<string> {
    let secret: string | undefined;
    try {
      secret = (await options.client.send(new GetSecretValueCommand({ SecretId: options.secretName }))).SecretString;
    } catch (error) {
      if (isTransientAwsError(error)) {
        throw new RetryableError(`Secrets Manager could not return ${options.secretName}`, { cause: error });
      }
      throw new SecretError(`cannot read secret ${options.secretName}: ${awsErrorName(error)}`, { cause: error });
    }
    const key = routingKeyOf(secret);
    if (!key) {
      throw new SecretError(
        `secret ${options.secretName} holds no PagerDuty routing key (expected the key, or JSON with "routing_key")`,
      );
    }
    return key;
  }

  return async (fresh = false) => {
    if (!fresh && cached && cached.until > now()) return cached.key;
    // Concurrent callers share one fetch.
    pending ??= fetchKey().finally(() => {
      pending = undefined;
    });
    const key = await pending;
    cached = { key, until: now() + ttlMs };
    return key;
  };
}

function routingKeyOf(secret: string | undefined): string | undefined {
  const text = secret?.trim();
  if (!text) return undefined;
  if (!text.startsWith('{')) return text;
  try {
    const json = JSON.parse(text) as Record<string, unknown>;
    const key = json.routing_key ?? json.routingKey ?? json.integration_key ?? json.integrationKey;
    return typeof key === 'string' && key.trim() ? key.trim() : undefined;
  } catch {
    return undefined;
  }
}

export interface PagerDutySenderOptions {
  fetch?: typeof fetch;
  endpoint?: string;
  /** Per request (default 10 s). */
  timeoutMs?: number;
}

/** `accepted`: PagerDuty took the event (202). `rejected`: it refused the body (400); sending it again cannot help. */
export type SendResult =
  | { outcome: 'accepted'; status: number }
  | { outcome: 'rejected'; status: number; body: string };

/**
 * Sends Events v2 bodies.
 *
 * @throws RetryablePagerDutyError on 429, 5xx, a timeout or a network failure
 */
export function createPagerDutySender(
  options: PagerDutySenderOptions = {},
): (event: PagerDutyEvent) => Promise<SendResult> {
  const fetchFn = options.fetch ?? globalThis.fetch;
  const endpoint = options.endpoint ?? PAGERDUTY_ENQUEUE_URL;
  const timeoutMs = options.timeoutMs ?? 10_000;

  return async (event) => {
    let response: Response;
    try {
      response = await fetchFn(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(event),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new RetryablePagerDutyError(`PagerDuty could not be reached: ${(error as Error).message}`, undefined, {
        cause: error,
      });
    }
    const body = await response.text().catch(() => '');
    if (response.status >= 200 && response.status < 300) return { outcome: 'accepted', status: response.status };
    if (response.status === 429 || response.status >= 500) {
      throw new RetryablePagerDutyError(
        `PagerDuty answered ${response.status}: ${body.slice(0, 500)}`,
        response.status,
      );
    }
    return { outcome: 'rejected', status: response.status, body: body.slice(0, 2000) };
  };
}
