/**
 * The chat alert: an Amazon Q Developer in chat applications (formerly AWS Chatbot) custom notification, delivered
 * to Slack or Teams through SNS. Every string is escaped for Slack markdown and bounded, because a payload Chatbot
 * cannot use is dropped silently.
 * @see https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html
 */

import { isIP } from 'node:net';
import { sourceIdentityBeyond, withoutSourceIdentity } from '../core/actor';
import type { AttributeChange, Finding, Severity, Status } from '../core/types';
import { consoleUrl } from './console-url';
import { sha256Hex } from './digest';
import { commandsBeyondEmail, nothingToRevert } from './email';
import { severityExplanations } from './reasons';
import { escapeWithin, oneLine, slackCode, slackCodeExact, slackEscape, slackEscapeLiteral } from './sanitize';
import {
  beforeValue,
  boundedList,
  changeValue,
  driftChangingNothing,
  findingsCommand,
  hasPrincipalDetails,
  PRINCIPAL_DETAILS,
  principalListUnknown,
  readableDetails,
  safeCommand,
  safeText,
  UNKNOWN_REMOVED_PRINCIPALS,
} from './values';

/** The documented custom notification format (see the link above). */
export interface ChatbotNotification {
  version: '1.0';
  source: 'custom';
  id: string;
  content: {
    textType: 'client-markdown';
    title: string;
    description: string;
    nextSteps: string[];
    keywords: string[];
  };
  metadata: {
    threadId: string;
    summary: string;
    eventType: string;
    relatedResources: string[];
    additionalContext: Record<string, string>;
  };
}

// Slack renders a section of at most 3,000 characters; a header at most 150.
const MAX_DESCRIPTION = 3000;
const MAX_TITLE = 150;
const MAX_LINE = 400;
const MAX_VALUE = 200;
const MAX_PRINCIPALS = 3;
const MAX_PRINCIPAL = 100;
const MAX_STEPS = 5;
const MAX_STEP = 1000;
const MAX_REASONS = 5;
// A reason with the catalogue's explanation runs to about 300 characters.
const MAX_REASON = 400;
const MAX_WHY = 800;
const MAX_DETAILS = 3;

const SEVERITY_EMOJI: Record<Severity, string> = {
  critical: ':rotating_light:',
  error: ':red_circle:',
  warning: ':warning:',
  info: ':information_source:',
};

const STATUS_EMOJI: Partial<Record<Status, string>> = {
  resolved: ':white_check_mark:',
  planned: ':memo:',
  denied: ':no_entry:',
};

const DEFAULT_STEP: Record<Status, string | undefined> = {
  drift: 'Decide whether to revert this change or accept it as the new baseline.',
  denied: 'Find out why this principal tried the call; nothing changed.',
  resolved: undefined,
  planned: undefined,
};

/** Formats a finding as a Chatbot custom notification, threaded per resource, with every string Slack-safe. */
export function formatChatbotNotification(finding: Finding): ChatbotNotification {
  return {
    version: '1.0',
    source: 'custom',
    id: `keydrift-${identifier(finding.eventId)}`,
    content: {
      textType: 'client-markdown',
      title: title(finding),
      description: description(finding),
      nextSteps: nextSteps(finding),
      keywords: keywords(finding),
    },
    metadata: {
      threadId: threadIdFor(finding.resource),
      summary: escapeWithin(safeText(finding.summary, MAX_LINE), MAX_LINE, slackEscape),
      eventType: `keydrift-${identifier(finding.event)}`,
      relatedResources: [literal(finding.resource)],
      additionalContext: additionalContext(finding),
    },
  };
}

/** Thread id shared by every notification about one resource, so updates on a key stay in one thread. */
export function threadIdFor(resource: string): string {
  return `keydrift-${sha256Hex(resource).slice(0, 32)}`;
}

function title(finding: Finding): string {
  const emoji = STATUS_EMOJI[finding.status] ?? SEVERITY_EMOJI[finding.severity] ?? '';
  const text = finding.summary.trim() === '' ? finding.event : finding.summary;
  // A summary that opens with its status (`Denied (AccessDeniedException): …`) says it already: not twice.
  const said = finding.status === 'drift' || startsWithWord(oneLine(text), oneLine(finding.status, 12));
  const status = said ? '' : ` ${oneLine(finding.status, 12).toUpperCase()}`;
  const prefix = `${emoji} [${oneLine(finding.severity, 12).toUpperCase()}]${status} `;
  const max = MAX_TITLE - prefix.length;
  // The source identity is shown whole or not at all (the Who line has it): cut, `alice@exa…` reads as another name.
  const fits = slackEscape(safeText(text, MAX_TITLE)).length <= max;
  const shown = fits ? text : withoutSourceIdentity(text, finding);
  return prefix + escapeWithin(safeText(shown, MAX_TITLE), max, slackEscape);
}

const startsWithWord = (text: string, word: string): boolean =>
  word !== '' && text.toLowerCase().startsWith(word.toLowerCase()) && !/[\p{L}\p{N}_]/u.test(text.charAt(word.length));

function description(finding: Finding): string {
  const service = slackEscape(oneLine(finding.service, 16));
  const status = slackEscape(oneLine(finding.status, 12));
  const behind = sourceIdentityBeyond(finding.user, finding.sourceIdentity);
  const head = [
    `*Event:* ${code(finding.event, 80)} (${service}) · *Status:* ${status}`,
    `*Who:* ${code(finding.user, 300)}${behind ? ` (source identity ${code(behind, 80)})` : ''}`,
    ...(finding.sourceIp || finding.userAgent ? [originLine(finding)] : []),
    `*When:* ${escapeWithin(safeText(finding.timestamp, 40), 60, slackEscape)}`,
    `*Where:* account ${code(finding.account, 40)}, region ${code(finding.region, 40)}`,
    `*Resource:* ${code(finding.resource, 300)}`,
    ...(finding.error ? [errorLine(finding.error)] : []),
  ];
  const tail = [...reasonsLine(finding), ...consoleLine(finding), `*eventId:* ${code(finding.eventId, 80)}`];
  const budget = MAX_DESCRIPTION - [...head, ...tail].join('\n').length - 2;
  return [...head, ...changesLines(finding, budget), ...tail].join('\n');
}

function originLine(finding: Finding): string {
  const parts = [
    // CloudTrail puts the service's name there when a service called (`dynamodb.amazonaws.com`): no IP.
    ...(finding.sourceIp ? [`${isIP(finding.sourceIp) ? 'IP' : 'source'} ${code(finding.sourceIp, 64)}`] : []),
    ...(finding.userAgent ? [`user agent ${code(finding.userAgent, 200)}`] : []),
  ];
  return `*From:* ${parts.join(', ')}`;
}

function errorLine(error: NonNullable<Finding['error']>): string {
  const message = error.message ? ` ${escapeWithin(safeText(error.message, MAX_LINE), MAX_LINE, slackEscape)}` : '';
  return `*Error:* ${code(error.code, 80)}${message}`;
}

function changesLines(finding: Finding, budget: number): string[] {
  const entries = Object.entries(finding.changes);
  if (entries.length === 0) return [];
  // A denied call changed nothing: its changes are what it tried, and must not read as done.
  const lines = [finding.status === 'denied' ? '*Attempted (not applied):*' : '*What changed:*'];
  let used = lines[0]!.length;
  for (const [i, [attribute, change]] of entries.entries()) {
    const line = `• ${code(attribute, 100)}: ${changeSummary(attribute, change, finding)}`;
    const more = `• …and ${entries.length - i} more (see the email)`;
    // Keep room for the "more" line so the cut is always announced.
    if (used + line.length + 1 + more.length + 1 > budget) {
      if (used + more.length + 1 <= budget) lines.push(more);
      break;
    }
    lines.push(line);
    used += line.length + 1;
  }
  return lines.length > 1 ? lines : [];
}

function changeSummary(attribute: string, change: AttributeChange, finding: Finding): string {
  const details = readableDetails(change)
    .slice(0, MAX_DETAILS)
    .map(({ label, value }) =>
      label === undefined
        ? escapeWithin(safeText(value, MAX_VALUE), MAX_VALUE, slackEscape)
        : `${escapeWithin(safeText(label, 64), 64, slackEscape)} ${code(safeText(value, MAX_VALUE), MAX_VALUE)}`,
    );
  const lists = PRINCIPAL_DETAILS.filter(([key]) => Array.isArray(change[key])).map(([key, label]) => {
    if (principalListUnknown(key, change, finding)) return `${label} ${UNKNOWN_REMOVED_PRINCIPALS}`;
    const { items, more } = boundedList(change[key], MAX_PRINCIPALS, MAX_PRINCIPAL);
    const shown = items.map((item) => code(item, MAX_PRINCIPAL));
    if (more > 0) shown.push(`+${more} more`);
    return `${label} ${shown.length > 0 ? shown.join(', ') : 'none'}`;
  });
  // A key policy is too long for one line: who gained or lost access says what changed. A grant, which lists its
  // outside accounts too, is short: what it was and is says which grant, for whom, to do what.
  if (attribute === 'policy' && hasPrincipalDetails(change)) return [...lists, ...details].join('; ');
  const values = `${code(beforeValue(attribute, change, finding), MAX_VALUE)} → ${code(changeValue(change.after, 'after'), MAX_VALUE)}`;
  const notes = [...lists, ...details];
  return notes.length > 0 ? `${values} (${notes.join('; ')})` : values;
}

function reasonsLine(finding: Finding): string[] {
  const reasons = severityExplanations(finding)
    .slice(0, MAX_REASONS)
    .map((r) => safeText(r, MAX_REASON));
  const severity = slackEscape(oneLine(finding.severity, 12));
  return [`*Why ${severity}:* ${escapeWithin(reasons.join('; '), MAX_WHY, slackEscape)}`];
}

function consoleLine(finding: Finding): string[] {
  // Built only from validated parts (see console-url.ts), so it is safe to leave as a link.
  const url = consoleUrl(finding);
  return url ? [`*Console:* ${url}`] : [];
}

function nextSteps(finding: Finding): string[] {
  // A command the chat cannot show is in the e-mail only when the e-mail shows them all, else in keydrift's findings,
  // unless keydrift could not keep them: then the e-mail, which shows the first ones, is the only copy.
  const elsewhere = commandsBeyondEmail(finding);
  const whole = elsewhere ? elsewhere.whole : EMAIL_HAS_IT;
  const copyFrom = elsewhere?.kept ? findingsCommand(finding) : 'the email alert';
  const steps = finding.remediation.slice(0, MAX_STEPS).map((c) => step(safeCommand(c, MAX_STEP, whole), copyFrom));
  const more = finding.remediation.length - steps.length;
  const moreAt = elsewhere ? `not shown${elsewhere.rest((c) => step(c, 'the email alert'))}` : 'in the email';
  if (more > 0) steps.push(`…and ${more} more commands ${moreAt}`);
  const fallback = driftChangingNothing(finding) ? nothingToRevert(finding) : DEFAULT_STEP[finding.status];
  return steps.length > 0 ? steps : fallback ? [fallback] : [];
}

const EMAIL_HAS_IT = 'it is in the email alert';

/**
 * A command as a code span that copies back exactly. Slack markdown cannot show a backtick inside code, nor a bare
 * `@here` without it mentioning the channel: such a command is never shown altered, but named, with where to copy it.
 */
function step(command: string, copyFrom: string): string {
  const exact = slackCodeExact(command);
  if (exact !== undefined) return exact;
  const words = command.split(' ').slice(0, 3).join(' ');
  const name = /^[\w./-]+(?: [\w./-]+)*$/.test(words) ? `${words} … ` : '';
  return slackCode(`# ${name}(a command Slack cannot show exactly: copy it from ${copyFrom})`);
}

function keywords(finding: Finding): string[] {
  const words = [finding.severity, finding.status, finding.service, finding.event].map((w) =>
    escapeWithin(oneLine(w, 40), 40, slackEscape),
  );
  return [...new Set(words.filter((w) => w !== ''))];
}

function additionalContext(finding: Finding): Record<string, string> {
  return {
    severity: literal(finding.severity),
    status: literal(finding.status),
    service: literal(finding.service),
    event: literal(finding.event),
    account: literal(finding.account),
    region: literal(finding.region),
    user: literal(finding.user),
    eventId: literal(finding.eventId),
  };
}

function code(value: string, max: number): string {
  return escapeWithin(safeText(value, max), max + 2, slackCode);
}

function literal(value: string): string {
  return escapeWithin(oneLine(value, 512), 512, slackEscapeLiteral);
}

function identifier(value: string): string {
  return value.replace(/[^A-Za-z0-9-]/g, '').slice(0, 128) || 'unknown';
}
