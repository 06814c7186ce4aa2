/**
 * The adapters' errors. SDK exceptions are translated into these at the boundary, each keeping the original as
 * `cause`; anything unexpected is re-thrown as it came.
 */

import { KeydriftError } from '../core/errors';

/** A failure talking to AWS that is worth retrying later: the invocation fails and Lambda's async retry applies. */
export class RetryableError extends KeydriftError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RetryableError';
  }
}

/** KMS throttled or failed on its side, and the SDK's own retries did not get through. */
export class RetryableKmsError extends RetryableError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RetryableKmsError';
  }
}

/** CloudTrail throttled or failed on its side, and the SDK's own retries did not get through. */
export class RetryableCloudTrailError extends RetryableError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RetryableCloudTrailError';
  }
}

/** DynamoDB throttled, conflicted or failed on its side. */
export class RetryableStoreError extends RetryableError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RetryableStoreError';
  }
}

/**
 * Another invocation was still sending a PagerDuty event of the same dedup key after the pager waited for it: sent
 * now, the two could reach PagerDuty in the reverse of their order.
 */
export class PageInFlightError extends RetryableError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PageInFlightError';
  }
}

/**
 * KMS denied keydrift a read of a key: its key policy does not let the account's IAM policies in (or someone locked
 * keydrift out). Nothing about the key can be known; retrying will not change that.
 */
export class KeyUnreadableError extends KeydriftError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KeyUnreadableError';
  }
}

/** A DynamoDB failure that retrying will not fix (missing table, missing permission, item too large). */
export class StoreError extends KeydriftError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StoreError';
  }
}

/**
 * A state or baseline changed in the table after it was loaded (another event on the same resource was saved in
 * between): judge again on the fresh state.
 */
export class StaleStateError extends KeydriftError {
  constructor(
    message: string,
    /** The `pk`/`sk` of each item whose version no longer matched. */
    public readonly items: Array<{ pk: string; sk: string }>,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'StaleStateError';
  }
}

/** This invocation no longer holds the event's claim: its lease ran out and another invocation took it over. */
export class ClaimLostError extends KeydriftError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ClaimLostError';
  }
}

/** One or more alert deliveries failed; `failures` names each target and its error, `delivered` what went out. */
export class PublishError extends KeydriftError {
  constructor(
    message: string,
    public readonly failures: Array<{ target: string; error: unknown }>,
    public readonly delivered: readonly string[],
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'PublishError';
  }
}

/** PagerDuty answered 429 or 5xx, or could not be reached: SNS's retry of the pager invocation should try again. */
export class RetryablePagerDutyError extends RetryableError {
  constructor(
    message: string,
    public readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'RetryablePagerDutyError';
  }
}

/** The PagerDuty routing key secret is missing, empty or not in a form keydrift reads. */
export class SecretError extends KeydriftError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SecretError';
  }
}

/** The error name the SDK gives an AWS exception (`ThrottlingException`), or `undefined` for non-errors. */
export function awsErrorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

// Throttling and server-side errors that the SDK's standard retry strategy also treats as transient (its throttling
// names include LimitExceededException and the other spellings below).
const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'LimitExceededException',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'BandwidthLimitExceeded',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
  'TransactionInProgressException',
  'ProvisionedThroughputExceededException',
  'TransactionConflictException',
  'InternalServerError',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'DependencyTimeoutException',
  'KMSInternalException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * True for a reason DynamoDB gives for cancelling a transaction that a retry can get past: another write to the same
 * item at that moment, or throttling.
 */
export const isTransientCancellation = (code: string | undefined): boolean =>
  code === 'TransactionConflict' || /Throttl|Capacity|ProvisionedThroughput/.test(code ?? '');

/** True for throttling, server-side and network failures: what is worth retrying after the SDK gave up. */
export function isTransientAwsError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const details = error as Error & {
    $fault?: string;
    $retryable?: unknown;
    code?: string;
    $metadata?: { httpStatusCode?: number };
  };
  // By status too, as the SDK does: a 429 under any name, and a 5xx whose body was no AWS error (a load balancer's
  // HTML page reaches us as a SyntaxError that only its $metadata says came from a 503).
  const status = details.$metadata?.httpStatusCode ?? 0;
  return (
    TRANSIENT_NAMES.has(error.name) ||
    details.$fault === 'server' ||
    details.$retryable !== undefined ||
    status === 429 ||
    (status >= 500 && status <= 599) ||
    (typeof details.code === 'string' && NETWORK_CODES.has(details.code))
  );
}

/** A DynamoDB failure as keydrift's own error: retryable when transient, a `StoreError` otherwise. */
export function storeError(what: string, error: unknown): RetryableStoreError | StoreError {
  const name = awsErrorName(error) ?? 'Error';
  const message = `DynamoDB ${what} failed: ${name}: ${(error as Error)?.message ?? String(error)}`;
  if (isTransientAwsError(error)) return new RetryableStoreError(message, { cause: error });
  return new StoreError(message, { cause: error });
}
