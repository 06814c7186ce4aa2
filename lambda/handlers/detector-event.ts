/**
 * What the detector accepts: an EventBridge event carrying a KMS or CloudTrail management event recorded by
 * CloudTrail, or one of KMS's own events; `detail` keeps every field. The envelope fields follow Powertools
 * Parser's EventBridge schema, written with zod/mini: Parser's schemas pull in classic zod (about 440 KB of the
 * detector's bundle and a slower cold start).
 */

import * as z from 'zod/mini';
import { KMS_NATIVE_EVENTS } from '../core/watched-events';

const nonEmpty = () => z.string().check(z.minLength(1));

/** Powertools Parser's EventBridgeSchema fields. */
const envelope = {
  version: z.string(),
  id: z.string(),
  account: z.string(),
  time: z.string(),
  region: z.string(),
  resources: z.array(z.string()),
  'replay-name': z.optional(z.string()),
};

const CloudTrailDetail = z.looseObject({
  eventName: nonEmpty(),
  eventSource: z.enum(['kms.amazonaws.com', 'cloudtrail.amazonaws.com']),
  eventTime: nonEmpty(),
  eventID: z.optional(nonEmpty()),
});

const CloudTrailEvent = z.object({
  ...envelope,
  source: z.enum(['aws.kms', 'aws.cloudtrail']),
  'detail-type': z.enum(['AWS API Call via CloudTrail', 'AWS Service Event via CloudTrail']),
  detail: CloudTrailDetail,
});

const NativeKmsEvent = z.object({
  ...envelope,
  source: z.literal('aws.kms'),
  'detail-type': z.enum(KMS_NATIVE_EVENTS),
  detail: z.looseObject({}),
});

export const DetectorEventSchema = z.discriminatedUnion('detail-type', [CloudTrailEvent, NativeKmsEvent]);
export type DetectorEvent = z.output<typeof DetectorEventSchema>;

/** The validation problems as short lines (`detail.eventSource: Invalid option ...`), for the log. */
export function describeIssues(error: z.core.$ZodError, max = 10): string[] {
  return error.issues.slice(0, max).map((issue) => `${issue.path.join('.') || '(event)'}: ${issue.message}`);
}
