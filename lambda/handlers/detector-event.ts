/**
 * What the detector accepts: an EventBridge event carrying a KMS or CloudTrail management event recorded by
 * CloudTrail, or one of KMS's own events. Built on Powertools' EventBridge schema; `detail` keeps every field.
 */

import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas/eventbridge';
import { z } from 'zod';
import { KMS_NATIVE_EVENTS } from '../core/watched-events';

const CloudTrailDetail = z.looseObject({
  eventName: z.string().min(1),
  eventSource: z.enum(['kms.amazonaws.com', 'cloudtrail.amazonaws.com']),
  eventTime: z.string().min(1),
  eventID: z.string().min(1).optional(),
});

const CloudTrailEvent = EventBridgeSchema.extend({
  source: z.enum(['aws.kms', 'aws.cloudtrail']),
  'detail-type': z.enum(['AWS API Call via CloudTrail', 'AWS Service Event via CloudTrail']),
  detail: CloudTrailDetail,
});

const NativeKmsEvent = EventBridgeSchema.extend({
  source: z.literal('aws.kms'),
  'detail-type': z.enum(KMS_NATIVE_EVENTS),
  detail: z.looseObject({}),
});

export const DetectorEventSchema = z.discriminatedUnion('detail-type', [CloudTrailEvent, NativeKmsEvent]);
export type DetectorEvent = z.infer<typeof DetectorEventSchema>;

/** The validation problems as short lines (`detail.eventSource: Invalid option ...`), for the log. */
export function describeIssues(error: z.ZodError, max = 10): string[] {
  return error.issues.slice(0, max).map((issue) => `${issue.path.join('.') || '(event)'}: ${issue.message}`);
}
