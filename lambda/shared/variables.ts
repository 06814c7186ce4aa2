/**
 * Environment variables, read once by the composition roots. Free of zod on purpose: the pager's bundle stays small.
 */

import { ConfigError } from '../core/errors';

export type Env = Record<string, string | undefined>;

export interface PagerEnvironment {
  secretName: string;
  tableName: string;
}

/**
 * The named variables, trimmed.
 *
 * @throws ConfigError naming every one that is missing or empty
 */
export function required(env: Env, names: readonly string[]): Record<string, string> {
  const missing = names.filter((name) => !env[name]?.trim());
  if (missing.length) throw new ConfigError(`missing environment variable(s): ${missing.join(', ')}`);
  return Object.fromEntries(names.map((name) => [name, (env[name] as string).trim()]));
}

/** The pager's settings: PAGERDUTY_SECRET_NAME and TABLE_NAME. */
export function readPagerEnvironment(env: Env): PagerEnvironment {
  const { PAGERDUTY_SECRET_NAME, TABLE_NAME } = required(env, ['PAGERDUTY_SECRET_NAME', 'TABLE_NAME']);
  return { secretName: PAGERDUTY_SECRET_NAME, tableName: TABLE_NAME };
}
