/**
 * Reads and checks the detector's environment, once, in its composition root. Every problem is named in one error,
 * so a misconfigured deployment fails on its first invocation with a message that says what to fix.
 */

import * as z from 'zod/mini';
import { type DetectionConfig, parseDetectionConfig } from '../core/config';
import { ConfigError } from '../core/errors';
import { SEVERITIES, type Severity } from '../core/types';
import { type Env, required } from './variables';

/** What every function that makes findings is configured with: where to store them and whom to tell. */
export interface DetectorEnvironment {
  tableName: string;
  topics: { chat: string; email: string; page: string; ops: string };
  eventBusName: string;
  /** keydrift's main key: it encrypts the table and the chat, email and page topics. */
  selfKeyArn: string;
  /** keydrift's second key, which encrypts the ops topic alone. */
  opsKeyArn: string;
  config: DetectionConfig;
  alertMinSeverity: Severity;
}

const AlertSettings = z.looseObject({ alertMinSeverity: z._default(z.enum(SEVERITIES), 'error') });

/**
 * The detector's settings: TABLE_NAME, the four topic ARNs, EVENT_BUS_NAME, SELF_KEY_ARN, OPS_KEY_ARN and
 * KEYDRIFT_CONFIG (JSON: `plannedPrincipals`, `severityOverrides`, `alertMinSeverity`, and optionally `ignore`,
 * `trailKeys`).
 *
 * @throws ConfigError naming every missing variable or invalid configuration field
 */
export function readDetectorEnvironment(env: Env): DetectorEnvironment {
  const vars = required(env, [
    'TABLE_NAME',
    'CHAT_TOPIC_ARN',
    'EMAIL_TOPIC_ARN',
    'PAGE_TOPIC_ARN',
    'OPS_TOPIC_ARN',
    'SELF_KEY_ARN',
    'OPS_KEY_ARN',
  ]);
  let raw: unknown = {};
  if (env.KEYDRIFT_CONFIG?.trim()) {
    try {
      raw = JSON.parse(env.KEYDRIFT_CONFIG);
    } catch (error) {
      throw new ConfigError(`KEYDRIFT_CONFIG is not JSON: ${(error as Error).message}`, { cause: error });
    }
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError('KEYDRIFT_CONFIG must be a JSON object ({"plannedPrincipals": [...], ...})');
  }
  const alert = AlertSettings.safeParse(raw);
  if (!alert.success) {
    throw new ConfigError(
      `KEYDRIFT_CONFIG is not valid:\n  alertMinSeverity: must be one of ${SEVERITIES.join(', ')} (got ${JSON.stringify(
        (raw as Record<string, unknown>)?.alertMinSeverity,
      )})`,
    );
  }
  const { alertMinSeverity, ...detection } = alert.data;
  return {
    tableName: vars.TABLE_NAME,
    topics: {
      chat: vars.CHAT_TOPIC_ARN,
      email: vars.EMAIL_TOPIC_ARN,
      page: vars.PAGE_TOPIC_ARN,
      ops: vars.OPS_TOPIC_ARN,
    },
    eventBusName: env.EVENT_BUS_NAME?.trim() || 'default',
    selfKeyArn: vars.SELF_KEY_ARN,
    opsKeyArn: vars.OPS_KEY_ARN,
    config: parseDetectionConfig(detection, 'KEYDRIFT_CONFIG'),
    alertMinSeverity,
  };
}
