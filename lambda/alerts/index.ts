/** Alert formatting: pure functions that turn a finding into the message each audience reads. */

export { type ChatbotNotification, formatChatbotNotification, threadIdFor } from './chatbot';
export { consoleUrl } from './console-url';
export { type EmailMessage, type EmailOptions, emailSubject, formatEmail } from './email';
export {
  type EntrySizeInput,
  type EventBridgeEntry,
  entrySize,
  MAX_ENTRY_BYTES,
  type TruncatedValue,
  toEventBridgeEntry,
  truncatedValue,
} from './event-entry';
export { attributesPaged, formatPagerDutyEvents, type PagerDutyEvent, pagerDutyDedupKey } from './pagerduty';
export { AUDIENCES, type Audience, audiencesFor, severityAtLeast } from './routing';
export {
  defangUrls,
  ELLIPSIS,
  escapeWithin,
  oneLine,
  slackCode,
  slackEscape,
  slackEscapeLiteral,
  stripTerminalEscapes,
  truncate,
  truncateBytes,
  utf8Bytes,
} from './sanitize';
