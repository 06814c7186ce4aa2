/**
 * Request pacing for API quotas: at most N requests of an operation in any one-second window, as KMS counts them
 * (per account and Region, per operation; aws-facts §2.5).
 */

import type { KMSClient } from '@aws-sdk/client-kms';

/**
 * KMS's default request quotas (requests per second, per account and Region) for the calls the reconciler makes.
 * Every principal in the account shares them, AWS services acting for it included.
 *
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html
 */
export const KMS_READ_QUOTAS = {
  DescribeKey: 2000,
  GetKeyPolicy: 1000,
  GetKeyRotationStatus: 1000,
  ListResourceTags: 2000,
  ListGrants: 100,
  ListAliases: 500,
  ListKeys: 500,
} as const;

export type KmsReadOperation = keyof typeof KMS_READ_QUOTAS;

export interface RateLimiter {
  /** Waits until one more request of `operation` keeps it within its rate; operations without a rate pass at once. */
  take(operation: string): Promise<void>;
}

export interface RateLimiterOptions {
  /** Requests per second allowed for each operation. */
  rates: Readonly<Record<string, number>>;
  /** The window the rates count over (default 1,000 ms). */
  windowMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

interface Window {
  limit: number;
  /** Start times of the last `limit` requests, oldest at `head`. */
  starts: number[];
  head: number;
  queue: Promise<void>;
}

/**
 * A sliding-window limiter: the start times of the last N requests of each operation are kept, and a request waits
 * until the oldest of them is a full window old. So no window of `windowMs`, wherever it begins, holds more than N
 * starts (a token bucket would allow a burst of N right after N). Waiters are served in order.
 *
 * @example
 * const limiter = createRateLimiter({ rates: { ListGrants: 80 } });
 * await limiter.take('ListGrants');
 * await kms.send(new ListGrantsCommand({ KeyId }));
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const windowMs = options.windowMs ?? 1000;
  const now = options.now ?? (() => performance.now());
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const windows = new Map<string, Window>();
  for (const [operation, rate] of Object.entries(options.rates)) {
    const limit = Math.floor(rate);
    if (!(limit >= 1)) throw new RangeError(`rate of ${operation} must be at least 1 per window, got ${rate}`);
    windows.set(operation, { limit, starts: [], head: 0, queue: Promise.resolve() });
  }

  async function admit(w: Window): Promise<void> {
    for (;;) {
      const at = now();
      if (w.starts.length < w.limit) {
        w.starts.push(at);
        return;
      }
      // Timers may fire a little early: the loop checks again rather than trusting the wait.
      const wait = w.starts[w.head] + windowMs - at;
      if (wait <= 0) {
        w.starts[w.head] = at;
        w.head = (w.head + 1) % w.limit;
        return;
      }
      await sleep(Math.ceil(wait));
    }
  }

  return {
    take(operation) {
      const w = windows.get(operation);
      if (!w) return Promise.resolve();
      const turn = w.queue.then(() => admit(w));
      w.queue = turn;
      return turn;
    },
  };
}

/** Rates that use `share` of each documented KMS quota (at least 1 request per second each). */
export function kmsRates(share: number, overrides: Partial<Record<KmsReadOperation, number>> = {}) {
  if (!(share > 0 && share <= 1)) throw new RangeError(`the KMS quota share must be in (0, 1], got ${share}`);
  const rates = {} as Record<KmsReadOperation, number>;
  for (const [operation, quota] of Object.entries(KMS_READ_QUOTAS) as Array<[KmsReadOperation, number]>) {
    rates[operation] = Math.max(1, Math.floor(overrides[operation] ?? quota * share));
  }
  return rates;
}

/**
 * Makes the SDK's own retries of KMS calls wait for the limiter too. Callers take a turn before each `send`; this
 * middleware runs inside the SDK's retry loop and takes one more turn for every further attempt of the same request,
 * so retries after throttling never push an operation over its rate either.
 */
export function paceSdkRetries(client: KMSClient, limiter: RateLimiter): void {
  // The handler context is created once per `send` and shared by its attempts (requests may be re-signed copies).
  const seen = new WeakSet<object>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (seen.has(context)) await limiter.take(String(context.commandName).replace(/Command$/, ''));
      else seen.add(context);
      return next(args);
    },
    // finalizeRequest at low priority runs after the retry middleware (high priority), once per attempt.
    { step: 'finalizeRequest', priority: 'low', name: 'keydriftPaceRetries' },
  );
}
