/**
 * Reads and checks the reconciler's environment, once, in its composition root: the detector's settings plus the
 * Region and the reconcile's pacing.
 */

import { ConfigError } from '../core/errors';
import { type DetectorEnvironment, readDetectorEnvironment } from './environment';
import type { Env } from './variables';

export interface ReconcilerEnvironment extends DetectorEnvironment {
  region: string;
  concurrency: number;
  kmsQuotaShare: number;
  reserveMs: number;
}

function number(env: Env, name: string, fallback: number, valid: (n: number) => boolean, rule: string): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || !valid(value)) throw new ConfigError(`${name} must be ${rule} (got ${raw})`);
  return value;
}

/**
 * The detector's variables (see `readDetectorEnvironment`) and AWS_REGION (set by Lambda), RECONCILE_CONCURRENCY
 * (keys read at once, default 10), KMS_QUOTA_SHARE (the share of each KMS request quota the reconciler may use,
 * default 0.8) and RECONCILE_RESERVE_MS (time kept back to hand over to the next invocation, default 60,000).
 *
 * @throws ConfigError naming what is missing or invalid
 */
export function readReconcilerEnvironment(env: Env): ReconcilerEnvironment {
  const region = env.AWS_REGION?.trim();
  if (!region) throw new ConfigError('missing environment variable(s): AWS_REGION');
  return {
    ...readDetectorEnvironment(env),
    region,
    concurrency: number(env, 'RECONCILE_CONCURRENCY', 10, (n) => Number.isInteger(n) && n >= 1 && n <= 64, '1–64'),
    kmsQuotaShare: number(env, 'KMS_QUOTA_SHARE', 0.8, (n) => n > 0 && n <= 1, 'more than 0 and at most 1'),
    reserveMs: number(env, 'RECONCILE_RESERVE_MS', 60_000, (n) => n >= 5_000, 'at least 5000'),
  };
}
