/**
 * The email alert: an SNS subject and a plain-text body for someone woken at 3 a.m. Everything taken from the
 * finding is sanitized to single lines, and the body stays far below SNS's 256 KiB message limit.
 */

import { sourceIdentityBeyond, withoutSourceIdentity } from '../core/actor';
import type { AttributeChange, Finding, Status } from '../core/types';
import { consoleUrl } from './console-url';
import { type CommandsElsewhere, commandsElsewhere } from './kept-commands';
import { severityExplanations } from './reasons';
import { oneLine, truncate, truncateBytes, utf8Bytes } from './sanitize';
import {
  beforeValue,
  boundedList,
  changeValue,
  compactValue,
  driftChangingNothing,
  findingsCommand,
  hasPrincipalDetails,
  KEY_MATERIAL_EXPIRIES,
  PRINCIPAL_DETAILS,
  principalListUnknown,
  readableDetails,
  safeCommand,
  safeText,
  UNKNOWN_REMOVED_PRINCIPALS,
} from './values';

/** How much of a finding the email shows. */
export interface EmailOptions {
  /** Longest rendering of one before/after value, in characters (default 2,000). */
  maxValueChars?: number;
  /** Hard cap on the body, in bytes of UTF-8 (default 64 KiB, a quarter of SNS's limit; at most 240 KiB). */
  maxBodyBytes?: number;
}

/** What SNS's Publish takes for an email subscription. */
export interface EmailMessage {
  subject: string;
  body: string;
}

// SNS rejects subjects of 100 characters or more.
const MAX_SUBJECT = 99;
/** Words longer than this (a key id has 36 characters) are cut to `SHORT_WORD` and `…` when the subject is too long. */
const LONG_WORD = 24;
const SHORT_WORD = 12;
const DEFAULTS: Required<EmailOptions> = { maxValueChars: 2000, maxBodyBytes: 64 * 1024 };
// SNS counts the subject and message attributes in its 256 KiB too; leave them room.
const MAX_BODY_BYTES = 240 * 1024;
const MAX_LIST_ITEMS = 50;
const MAX_ITEM_CHARS = 300;
const MAX_COMMANDS = 20;
// Commands carry whole policies (up to 4 KB inline): shown whole or not at all, within a quarter of the body.
const MAX_COMMAND_CHARS = 16 * 1024;

const MAX_REASONS = 10;
const MAX_REASON_CHARS = 500;
const MAX_TEXT_CHARS = 1000;
const LABEL_WIDTH = 10;

const STATUS_MEANING: Record<Status, string> = {
  drift: 'the resource now differs from its approved baseline',
  resolved: 'what this change touched is at its approved baseline',
  planned: 'made by a planned-change principal, or a routine change AWS makes; the baseline was updated',
  denied: 'the call failed, so nothing changed, but someone tried',
};

/** What the status means for this finding: drift a later change already undid no longer differs. */
function statusMeaning(finding: Finding): string {
  const changes = Object.values(finding.changes ?? {});
  if (finding.status === 'drift' && changes.length > 0 && changes.every((c) => c.since_undone === true)) {
    return 'it made the resource differ from its approved baseline; a later change already put it back';
  }
  if (driftChangingNothing(finding)) {
    const by = KEY_MATERIAL_EXPIRIES.has(finding.event)
      ? 'made by KMS as the key material expired'
      : 'made by a principal not planned to make it';
    return `${by}; it left the approved attributes of the key as they were`;
  }
  return STATUS_MEANING[finding.status] ?? 'unknown status';
}

/**
 * What to do about drift that changed none of the key's approved attributes: a rotation cannot be reverted. KMS's
 * own deletion of expired material was no principal's doing.
 */
export function nothingToRevert(finding: Pick<Finding, 'event'>): string {
  const asWhom = KEY_MATERIAL_EXPIRIES.has(finding.event)
    ? 'KMS made the change as the key material expired.'
    : 'Find out why this principal made the change.';
  return `Nothing to revert: the key's approved attributes are as they were. ${asWhom}`;
}

const NO_REMEDIATION: Record<Status, string> = {
  drift: 'No ready-made command: compare with the baseline, then revert by hand or accept the change.',
  resolved: 'Nothing to do for what this change touched: it is at its approved baseline.',
  planned: 'Nothing to do: the change was planned and the baseline now matches it.',
  denied: 'Nothing to revert: the call failed. Find out why this principal tried it.',
};

/** Formats a finding as an email: a one-line subject under 100 characters and a readable plain-text body. */
export function formatEmail(finding: Finding, options: EmailOptions = {}): EmailMessage {
  const opts = { ...DEFAULTS, ...options };
  opts.maxBodyBytes = Math.min(opts.maxBodyBytes, MAX_BODY_BYTES);
  return { subject: emailSubject(finding), body: emailBody(finding, opts) };
}

/** The subject: `[SEVERITY]`, `[STATUS]` unless drift, and the summary, on one line under 100 characters. */
export function emailSubject(finding: Finding): string {
  const status = finding.status === 'drift' ? '' : `[${oneLine(finding.status, 12).toUpperCase()}]`;
  // The summary names the change and who made it; the event name is in the body: the subject keeps room for the actor.
  const prefix = `[${oneLine(finding.severity, 12).toUpperCase()}]${status}`;
  const max = MAX_SUBJECT - prefix.length - 1;
  const fitted = (summary: string) => shortenLongWords(oneLine(safeText(summary, MAX_SUBJECT * 4)), max);
  const whole = fitted(finding.summary);
  // The source identity is shown whole or not at all (the Who line has it): cut, `alice@exa…` reads as another name.
  const without = withoutSourceIdentity(finding.summary, finding);
  const keep = without === finding.summary || (whole.length <= max && withoutSourceIdentity(whole, finding) !== whole);
  return truncate(`${prefix} ${keep ? whole : fitted(without)}`, MAX_SUBJECT);
}

/**
 * Cuts a summary's long words (key ids, ARNs: the body has them whole) while it is over `max`, so that what happened
 * and who did it, at its end, stay in the subject.
 */
function shortenLongWords(summary: string, max: number): string {
  let text = summary;
  while (text.length > max) {
    const longest = text.split(' ').reduce((a, b) => (b.length > a.length ? b : a), '');
    if (longest.length <= LONG_WORD) break;
    // A function, so that `$&` or `$'` in the word (a description) is not read as a replacement pattern.
    text = text.replace(longest, () => truncate(longest, SHORT_WORD + 1));
  }
  return text;
}

function emailBody(finding: Finding, opts: Required<EmailOptions>): string {
  // A denied call changed nothing: its changes are what it tried, and must not read as done.
  const heading = finding.status === 'denied' ? 'ATTEMPTED (not applied)' : 'WHAT CHANGED';
  const head = `${[...overview(finding), '', heading].join('\n')}\n`;
  const commands = remediation(finding, opts.maxBodyBytes / 4);
  const tail = `\n\n${[...severityReasons(finding), '', ...commands, '', ...footer(finding)].join('\n')}\n`;
  const changes = changesSection(finding, opts.maxValueChars).join('\n');
  const budget = opts.maxBodyBytes - utf8Bytes(head) - utf8Bytes(tail);
  return truncateBytes(head + fitChanges(changes, budget, finding) + tail, opts.maxBodyBytes);
}

function overview(finding: Finding): string[] {
  const facts: Array<[string, string]> = [
    ['Severity', oneLine(finding.severity, 12).toUpperCase()],
    ['Status', `${oneLine(finding.status, 12)} (${statusMeaning(finding)})`],
    ['Who', who(finding)],
    ...(finding.sourceIp || finding.userAgent ? [['From', origin(finding)] as [string, string]] : []),
    ['When', safeText(finding.timestamp, 64)],
    ['Account', safeText(finding.account, 64)],
    ['Region', safeText(finding.region, 64)],
    ['Resource', safeText(finding.resource, MAX_ITEM_CHARS)],
    ['Event', `${safeText(finding.event, 64)} (${safeText(finding.service, 16)})`],
  ];
  if (finding.error) {
    const message = finding.error.message ? `: ${safeText(finding.error.message, MAX_TEXT_CHARS)}` : '';
    facts.push(['Error', `${safeText(finding.error.code, 128)}${message}`]);
  }
  return [safeText(finding.summary, MAX_TEXT_CHARS), '', ...facts.map(([label, value]) => fact(label, value))];
}

/** The `user` ARN, and who is behind its role session when a source identity says more than the session's name. */
function who(finding: Finding): string {
  const user = safeText(finding.user, MAX_ITEM_CHARS);
  const behind = sourceIdentityBeyond(finding.user, finding.sourceIdentity);
  return behind ? `${user} (source identity ${safeText(behind, 128)})` : user;
}

/** `203.0.113.5 (aws-cli/2.17.0 …)`: the source IP and the user agent, whichever the record has. */
function origin(finding: Finding): string {
  const agent = finding.userAgent ? safeText(finding.userAgent, MAX_ITEM_CHARS) : '';
  const ip = finding.sourceIp ? safeText(finding.sourceIp, 64) : '';
  return ip && agent ? `${ip} (${agent})` : ip || agent;
}

function changesSection(finding: Finding, maxValueChars: number): string[] {
  const entries = Object.entries(finding.changes);
  if (entries.length === 0) {
    return finding.status === 'denied'
      ? [`Nothing: the ${safeText(finding.event, 64)} call failed, so the resource is unchanged.`]
      : ['No attribute changes were recorded.'];
  }
  return entries.flatMap(([attribute, change], i) => [
    ...(i > 0 ? [''] : []),
    safeText(attribute, MAX_ITEM_CHARS),
    ...changeLines(attribute, change, finding, maxValueChars),
  ]);
}

function changeLines(attribute: string, change: AttributeChange, finding: Finding, maxValueChars: number): string[] {
  const lines: string[] = [];
  for (const [key, label] of PRINCIPAL_DETAILS) {
    if (principalListUnknown(key, change, finding)) lines.push(`  ${label}: ${UNKNOWN_REMOVED_PRINCIPALS}`);
    else if (Array.isArray(change[key])) lines.push(...listLines(label, change[key]));
  }
  lines.push(valueLine('before:', beforeValue(attribute, change, finding), change, maxValueChars));
  lines.push(valueLine('after: ', changeValue(change.after, 'after'), change, maxValueChars));
  for (const { label, value } of readableDetails(change)) {
    const text = boundedValue(value, maxValueChars);
    lines.push(label === undefined ? `  ${text}` : `  ${safeText(label, 64)}: ${text}`);
  }
  return lines;
}

function listLines(label: string, value: unknown): string[] {
  const { items, more } = boundedList(value, MAX_LIST_ITEMS, MAX_ITEM_CHARS);
  const tail = more > 0 ? [`    - and ${more} more`] : [];
  if (items.length === 0) return [`  ${label}: (none)`];
  if (items.length === 1 && more === 0) return [`  ${label}: ${items[0]}`];
  return [`  ${label}:`, ...items.map((item) => `    - ${item}`), ...tail];
}

function valueLine(label: string, value: unknown, change: AttributeChange, maxValueChars: number): string {
  const full = compactValue(value);
  // A large policy cut mid-way tells nobody anything; the principal lists above say who gained or lost access.
  if (full.length > maxValueChars && hasPrincipalDetails(change)) {
    return `  ${label} (${utf8Bytes(full).toLocaleString('en-US')} bytes, not shown: see the principals above)`;
  }
  return `  ${label} ${boundedValue(value, maxValueChars)}`;
}

function boundedValue(value: unknown, maxValueChars: number): string {
  const full = compactValue(value);
  const shown = safeText(full, maxValueChars);
  return full.length > maxValueChars ? `${shown} [${full.length.toLocaleString('en-US')} characters in all]` : shown;
}

function fitChanges(changes: string, budget: number, finding: Finding): string {
  if (utf8Bytes(changes) <= budget) return changes;
  const note = `\n[Changes cut to fit the email: ${findingsCommand(finding)} --format json shows the finding as keydrift keeps it, by eventId.]`;
  return truncateBytes(changes, Math.max(0, budget - utf8Bytes(note))) + note;
}

function severityReasons(finding: Finding): string[] {
  const reasons = severityExplanations(finding)
    .slice(0, MAX_REASONS)
    .map((r) => `- ${safeText(r, MAX_REASON_CHARS)}`);
  return [`WHY ${oneLine(finding.severity, 12).toUpperCase()}`, ...reasons];
}

/** The lines of the commands the e-mail shows: whole, at most MAX_COMMANDS of them, within `maxBytes`. */
function shownCommands(finding: Finding, maxBytes: number): string[] {
  const commands: string[] = [];
  let bytes = 0;
  // Asked only for a command not shown whole: finding out whether keydrift keeps them may mean shrinking a large finding.
  const whole = () => commandsElsewhere(finding).whole;
  for (const command of finding.remediation.slice(0, MAX_COMMANDS)) {
    const line = safeCommand(command, MAX_COMMAND_CHARS, whole);
    if (bytes + utf8Bytes(line) > maxBytes) break;
    commands.push(line);
    bytes += utf8Bytes(line) + 1;
  }
  return commands;
}

/**
 * Where the chat and the page, which show fewer commands, send the reader for one they leave out: to the e-mail alert
 * (`undefined`) when it shows every command as the publisher sends it, else to the keydrift findings command that
 * lists them (a command too long for the e-mail is a placeholder there too), or, when keydrift could not keep them,
 * to the reads of the live and approved state.
 */
export function commandsBeyondEmail(finding: Finding): CommandsElsewhere | undefined {
  const emailHasAll =
    shownCommands(finding, DEFAULTS.maxBodyBytes / 4).length === finding.remediation.length &&
    finding.remediation.every((command) => command.length <= MAX_COMMAND_CHARS);
  return emailHasAll ? undefined : commandsElsewhere(finding);
}

function remediation(finding: Finding, maxBytes: number): string[] {
  const commands = shownCommands(finding, maxBytes);
  const more = finding.remediation.length - commands.length;
  if (commands.length === 0 && more === 0) {
    if (driftChangingNothing(finding)) return ['REMEDIATION', nothingToRevert(finding)];
    return ['REMEDIATION', NO_REMEDIATION[finding.status] ?? NO_REMEDIATION.drift];
  }
  return [
    'REMEDIATION (one command per line; check each before you run it)',
    ...commands,
    ...(more > 0 ? [`# ${more} more commands not shown${commandsElsewhere(finding).rest()}`] : []),
  ];
}

function footer(finding: Finding): string[] {
  const url = consoleUrl(finding);
  return [
    ...(url ? ['CONSOLE', url, ''] : []),
    `eventId: ${safeText(finding.eventId, 128)}`,
    '-- ',
    'Sent by keydrift.',
  ];
}

function fact(label: string, value: string): string {
  return `${`${label}:`.padEnd(LABEL_WIDTH)} ${value}`;
}
