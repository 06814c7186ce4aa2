/**
 * Zod schemas of the formats the alert channels accept, written from their documentation, to validate what the
 * formatters produce.
 */

import { z } from 'zod';

/**
 * Amazon Q Developer in chat applications custom notification
 * (https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html): only `version` ("1.0") and `source`
 * ("custom") are required, and `client-markdown` is the only text type. Objects are strict because Chatbot drops a
 * payload it does not recognise without an error.
 */
export const chatbotNotificationSchema = z.strictObject({
  version: z.literal('1.0'),
  source: z.literal('custom'),
  id: z.string().min(1).optional(),
  content: z
    .strictObject({
      textType: z.literal('client-markdown').optional(),
      title: z.string().optional(),
      description: z.string().optional(),
      nextSteps: z.array(z.string()).optional(),
      keywords: z.array(z.string()).optional(),
    })
    .optional(),
  metadata: z
    .strictObject({
      threadId: z.string().min(1).optional(),
      summary: z.string().optional(),
      eventType: z.string().optional(),
      relatedResources: z.array(z.string()).optional(),
      additionalContext: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
});

/**
 * PagerDuty Events API v2 enqueue body (PagerDuty/api-schema, reference/events-v2/openapiv3.json). Required:
 * `routing_key`, `event_action`, `payload.summary` (at most 1,024 characters), `payload.source`, `payload.severity`;
 * `dedup_key` (at most 255 characters) is required here because keydrift always sends one.
 */
export const pagerDutyEventSchema = z.strictObject({
  routing_key: z.string().min(1),
  event_action: z.enum(['trigger', 'acknowledge', 'resolve']),
  dedup_key: z.string().min(1).max(255),
  payload: z.strictObject({
    summary: z.string().min(1).max(1024),
    source: z.string().min(1),
    severity: z.enum(['critical', 'error', 'warning', 'info']),
    timestamp: z.iso.datetime({ offset: true }).optional(),
    component: z.string().optional(),
    group: z.string().optional(),
    class: z.string().optional(),
    custom_details: z.record(z.string(), z.unknown()).optional(),
  }),
  client: z.string().optional(),
  client_url: z.url().optional(),
  links: z.array(z.strictObject({ href: z.url(), text: z.string() })).optional(),
  images: z.array(z.strictObject({ src: z.url(), href: z.url().optional(), alt: z.string().optional() })).optional(),
});
