/**
 * The paging alert: PagerDuty Events API v2 bodies, one per changed attribute. The dedup key names the account,
 * region, resource and attribute, so changes while the attribute differs from its baseline stay one incident, and a
 * finding after which the attribute matches its approved value again (`resolved`, or drift a `planned` change
 * approves) closes it. A key's deletion date is paged with its state: one deletion is one incident. A new resource is
 * one incident too (`created`), whatever it was created with. A key's deletion closes the incidents of its other
 * attributes: no later change can bring them back.
 */

import { keyIdOf } from '../core/arn';
import { ACCEPT_EVENT, UNBASELINED_EVENT } from '../core/catalog';
import { ownEntry } from '../core/own';
import type { AttributeChange, Finding, Severity } from '../core/types';
import { consoleUrl } from './console-url';
import { sha256Hex } from './digest';
import { commandsBeyondEmail } from './email';
import { severityExplanations } from './reasons';
import { isHighSurrogate, oneLine, truncate } from './sanitize';
import {
  beforeUnknown,
  beforeValue,
  boundedList,
  changeValue,
  KEY_EVENTS_CHANGING_NOTHING,
  PRINCIPAL_DETAILS,
  principalListUnknown,
  RESOURCE_CREATIONS,
  readableDetails,
  safeCommand,
  safeText,
  UNKNOWN_REMOVED_PRINCIPALS,
} from './values';

/** One `POST https://events.pagerduty.com/v2/enqueue` body. */
export interface PagerDutyEvent {
  routing_key: string;
  event_action: 'trigger' | 'resolve';
  dedup_key: string;
  payload: {
    summary: string;
    source: string;
    severity: Severity;
    timestamp?: string;
    component: 'kms' | 'cloudtrail';
    group: string;
    class: string;
    custom_details: Record<string, unknown>;
  };
  client: 'keydrift';
  client_url?: string;
  links?: Array<{ href: string; text: string }>;
}

// PagerDuty's limits: dedup keys of at most 255 characters, summaries of at most 1,024.
const MAX_DEDUP_KEY = 255;
const MAX_SUMMARY = 1024;
const MAX_FIELD = 255;
const MAX_DETAIL_VALUE = 1000;
const MAX_DETAIL_ITEMS = 20;
const MAX_REASONS = 5;
const MAX_REASON = 500;
const MAX_COMMANDS = 5;
const MAX_COMMAND = 5000;
const SHA256_HEX_LENGTH = 64;
// The custom_details key of a denied call's attempted change, worded as in the email and chat.
const ATTEMPTED = 'attempted (not applied)';
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

/** Attributes paged in another attribute's incident: ScheduleKeyDeletion changes both, and is one thing to undo. */
const PAGED_WITH: Readonly<Record<string, string>> = { deletion_date: 'key_state' };
/**
 * The events that make a resource; one that was never there before has every `before` unknown. The reconciler's
 * finding of a resource that appeared without its creation event (missed) is its creation too.
 */
const CREATIONS: ReadonlySet<string> = new Set([...RESOURCE_CREATIONS, UNBASELINED_EVENT]);
/** The incident of a new resource: what it was created with is one thing to look at, not one per attribute. */
const CREATED = 'created';
/** The incident of a denied call, which changed nothing. */
const ATTEMPT = 'attempt';
/**
 * Every attribute of a key keydrift compares, as its live read (adapters/kms-reader.ts) and the events' effects
 * (core/effects.ts) name them: each may hold an incident of its own.
 */
export const KEY_ATTRIBUTES = [
  'aliases',
  'custom_key_store',
  'deletion_date',
  'description',
  'enable_key_rotation',
  'grants',
  'key_material',
  'key_spec',
  'key_state',
  'key_usage',
  'multi_region',
  'origin',
  'policy',
  'primary_region',
  'replica_regions',
  'rotation_period_in_days',
  'tags',
] as const;

type Paged = Pick<Finding, 'event' | 'status'> & Partial<Pick<Finding, 'changes'>>;

const isNew = (finding: Paged): boolean =>
  CREATIONS.has(finding.event) && Object.values(finding.changes ?? {}).every(beforeUnknown);

/** The incident a change to `attribute` is paged under. */
const incidentOf = (finding: Paged, attribute: string): string =>
  isNew(finding) ? CREATED : (ownEntry(PAGED_WITH, attribute) ?? attribute);

/** The changes paged under `incident`. */
const changesIn = (finding: Paged, incident: string): Array<[string, AttributeChange]> =>
  Object.entries(finding.changes ?? {}).filter(([attribute]) => incidentOf(finding, attribute) === incident);

/** Every attribute of an incident back at its baseline: the incident resolves, whatever else the finding changed. */
const allBack = (changes: Array<[string, AttributeChange]>): boolean =>
  changes.length > 0 && changes.every(([, change]) => change.back_to_baseline);

/** Every change of an incident undone by a later change judged before it: the drift is over already. */
const allUndone = (changes: Array<[string, AttributeChange]>): boolean =>
  changes.length > 0 && changes.every(([, change]) => change.since_undone);

/**
 * True when the finding is the one that records its key deleted: its state became Deleted (not a second event of a
 * deletion keydrift knew already, whose state was Deleted before, nor a denied call, which deleted nothing).
 */
export function deletesKey(finding: Paged): boolean {
  const state = finding.changes?.key_state;
  return finding.status !== 'denied' && state?.after === 'Deleted' && state.before !== 'Deleted';
}

/** A `resolved` finding of a call that changed nothing (every change `unchanged`): nothing was fixed either. */
export function changedNothing(finding: Pick<Finding, 'status'> & Partial<Pick<Finding, 'changes'>>): boolean {
  const changes = Object.values(finding.changes ?? {});
  return finding.status === 'resolved' && changes.length > 0 && changes.every((change) => change.unchanged === true);
}

/**
 * True when the finding closes one of its incidents: a `resolved` one always, unless it changed nothing; a drift or
 * planned one when it brings all of one incident back (a revoked grant's, or drift a planned change approves); a key's
 * deletion, whatever its severity, the incidents of the key's other attributes.
 */
export function resolvesSomeIncident(finding: Paged): boolean {
  if (changedNothing(finding)) return false;
  if (finding.status === 'resolved' || deletesKey(finding)) return true;
  return incidentsOf(finding).some((incident) => allBack(changesIn(finding, incident)));
}

/** The incidents a finding is paged under; an accept approves what the resource was created with too. */
const incidentsOf = (finding: Paged): string[] => [
  ...new Set([
    ...Object.keys(finding.changes ?? {}).map((attribute) => incidentOf(finding, attribute)),
    ...(finding.event === ACCEPT_EVENT ? [CREATED] : []),
  ]),
];

/** The attributes a finding is paged under: its changed ones, else `attempt` for a denied call, else the event. */
export function attributesPaged(finding: Finding): string[] {
  const attributes = incidentsOf(finding);
  if (attributes.length > 0) return attributes;
  return [finding.status === 'denied' ? ATTEMPT : finding.event];
}

/**
 * The incidents keydrift may hold open on a key the finding deleted, but those the finding pages itself (its state's,
 * a trigger when the deletion is drift): every attribute's, its creation's, a denied call's and those of the events
 * that changed none of its attributes.
 */
function incidentsLeftByDeletion(finding: Finding): string[] {
  if (!deletesKey(finding)) return [];
  const own = new Set(attributesPaged(finding));
  const incidents = KEY_ATTRIBUTES.map((attribute) => ownEntry(PAGED_WITH, attribute) ?? attribute);
  return [...new Set([...incidents, CREATED, ATTEMPT, ...KEY_EVENTS_CHANGING_NOTHING])].filter(
    (incident) => !own.has(incident),
  );
}

/** Formats a finding as PagerDuty Events v2 bodies, one per changed attribute, each a trigger or a resolve. */
export function formatPagerDutyEvents(finding: Finding, routingKey: string): PagerDutyEvent[] {
  return attributesPaged(finding).map((attribute) => pagerDutyEvent(finding, routingKey, attribute));
}

/**
 * For a key's deletion, the resolve of each other incident the key may hold open (none for any other finding): the
 * pager sends each only when its ledger shows that incident open (PageLedger.admitIfOpen), so that a deletion does not
 * send 17 resolves of incidents never opened, which would eat into PagerDuty's rate limit when many keys go at once.
 */
export function deletedKeyResolves(finding: Finding, routingKey: string): PagerDutyEvent[] {
  return incidentsLeftByDeletion(finding).map((incident) => deletedKeyResolve(finding, routingKey, incident));
}

/**
 * What the pager sends: every resolve, but triggers only for critical findings (nothing else wakes anyone), none for a
 * finding an ignore rule matched (`ignored`): it only closes what it ends, and none for an incident whose every change
 * a later change already undid (`since_undone`): nothing would ever resolve it.
 */
export function pagerDutyEventsToSend(
  finding: Finding,
  routingKey: string,
  { ignored = false }: { ignored?: boolean } = {},
): PagerDutyEvent[] {
  return attributesPaged(finding).flatMap((incident) => {
    const event = pagerDutyEvent(finding, routingKey, incident);
    const wakes = finding.severity === 'critical' && !ignored && !allUndone(changesIn(finding, incident));
    return event.event_action === 'resolve' || wakes ? [event] : [];
  });
}

/** Resolve when the finding, or every attribute of this incident, is back at its approved value; else trigger. */
function actionFor(finding: Finding, incident: string): PagerDutyEvent['event_action'] {
  if (finding.status === 'resolved' || (incident === CREATED && finding.event === ACCEPT_EVENT)) return 'resolve';
  return allBack(changesIn(finding, incident)) ? 'resolve' : 'trigger';
}

/** `keydrift:<account>:<region>:<resource ARN>:<attribute>`, its tail replaced by a SHA-256 when over 255 chars. */
export function pagerDutyDedupKey(
  finding: Pick<Finding, 'account' | 'region' | 'resource'>,
  attribute: string,
): string {
  const key = oneLine(['keydrift', finding.account, finding.region, finding.resource, attribute].join(':'));
  if (key.length <= MAX_DEDUP_KEY) return key;
  // Keep the readable head (account, region, most of the ARN) and hash the whole key, so distinct keys stay distinct.
  let head = MAX_DEDUP_KEY - SHA256_HEX_LENGTH - 1;
  // Never half of a surrogate pair (an emoji in a forged ARN): a lone surrogate is no text once sent.
  if (isHighSurrogate(key.charCodeAt(head - 1))) head -= 1;
  return `${key.slice(0, head)}#${sha256Hex(key)}`;
}

function pagerDutyEvent(finding: Finding, routingKey: string, attribute: string): PagerDutyEvent {
  // A `planned` change moved the baseline to the live state, so the attribute no longer drifts either.
  return envelope(finding, routingKey, attribute, actionFor(finding, attribute), {
    summary: eventSummary(finding, attribute),
    severity: finding.severity,
    custom_details: customDetails(finding, attribute, consoleUrl(finding)),
  });
}

/** An Events v2 body about the finding's `incident`: where it is, when, and the console link around `payload`. */
function envelope(
  finding: Finding,
  routingKey: string,
  incident: string,
  action: PagerDutyEvent['event_action'],
  payload: Pick<PagerDutyEvent['payload'], 'summary' | 'severity' | 'custom_details'>,
): PagerDutyEvent {
  const url = consoleUrl(finding);
  const timestamp = ISO_8601.test(finding.timestamp) ? finding.timestamp : undefined;
  return {
    routing_key: routingKey,
    event_action: action,
    dedup_key: pagerDutyDedupKey(finding, incident),
    payload: {
      summary: payload.summary,
      source: safeText(finding.resource, MAX_FIELD) || 'unknown',
      severity: payload.severity,
      ...(timestamp ? { timestamp } : {}),
      component: finding.service === 'cloudtrail' ? 'cloudtrail' : 'kms',
      group: safeText(finding.account, MAX_FIELD),
      class: safeText(finding.event, MAX_FIELD),
      custom_details: payload.custom_details,
    },
    client: 'keydrift',
    ...(url ? { client_url: url, links: [{ href: url, text: 'Open in the AWS console' }] } : {}),
  };
}

/**
 * The resolve of a deleted key's `incident`: nothing is left to undo on it. Its summary names no change of its own;
 * the deletion's incident, or its e-mail, says who deleted the key and how.
 */
function deletedKeyResolve(finding: Finding, routingKey: string, incident: string): PagerDutyEvent {
  const summary = `Resolved: key ${keyIdOf(finding.resource)} was deleted`;
  return envelope(finding, routingKey, incident, 'resolve', {
    summary: eventSummary({ ...finding, severity: 'info', summary }, incident),
    severity: 'info',
    custom_details: {
      attribute: safeText(incident, MAX_FIELD),
      event: safeText(finding.event, MAX_FIELD),
      status: safeText(finding.status, MAX_FIELD),
      user: safeText(finding.user, MAX_FIELD),
      account: safeText(finding.account, MAX_FIELD),
      region: safeText(finding.region, MAX_FIELD),
      resource: safeText(finding.resource, MAX_FIELD),
      event_id: safeText(finding.eventId, MAX_FIELD),
      deletion: safeText(finding.summary, MAX_DETAIL_VALUE),
    },
  });
}

function eventSummary(finding: Finding, attribute: string): string {
  const severity = oneLine(finding.severity, 12).toUpperCase();
  const suffix = ` (${safeText(attribute, 200)})`;
  const summary = safeText(finding.summary, MAX_SUMMARY) || safeText(finding.event, MAX_FIELD);
  return truncate(`[${severity}] ${summary}`, MAX_SUMMARY - suffix.length) + suffix;
}

function customDetails(finding: Finding, attribute: string, url: string | undefined): Record<string, unknown> {
  const changes = changesIn(finding, attribute);
  // A denied call changed nothing: what it tried must not read as a change that happened.
  const label = finding.status === 'denied' ? ATTEMPTED : 'change';
  // A command left out here is in the e-mail only when the e-mail shows them all, else in keydrift's findings (or,
  // when keydrift could not keep them, nowhere: the reads of the live and approved state are named instead).
  const elsewhere = commandsBeyondEmail(finding);
  const commands = finding.remediation
    .slice(0, MAX_COMMANDS)
    .map((c) => safeCommand(c, MAX_COMMAND, elsewhere ? elsewhere.whole : 'it is in the email alert'));
  // The undo is not done at the last one shown (a trail starts logging last): the cut is always announced.
  const more = finding.remediation.length - commands.length;
  const rest = elsewhere ? elsewhere.rest() : ': see the email alert';
  if (more > 0) commands.push(`# ${more} more commands, to run after these${rest}`);
  return {
    attribute: safeText(attribute, MAX_FIELD),
    event: safeText(finding.event, MAX_FIELD),
    status: safeText(finding.status, MAX_FIELD),
    user: safeText(finding.user, MAX_FIELD),
    ...(finding.sourceIdentity ? { source_identity: safeText(finding.sourceIdentity, MAX_FIELD) } : {}),
    ...(finding.sourceIp ? { source_ip: safeText(finding.sourceIp, MAX_FIELD) } : {}),
    ...(finding.userAgent ? { user_agent: safeText(finding.userAgent, MAX_FIELD) } : {}),
    // An operator's words, typed at the accept: one line, links defanged, cut as any other text.
    ...(finding.acceptReason ? { accept_reason: safeText(finding.acceptReason, MAX_DETAIL_VALUE) } : {}),
    account: safeText(finding.account, MAX_FIELD),
    region: safeText(finding.region, MAX_FIELD),
    resource: safeText(finding.resource, MAX_FIELD),
    event_id: safeText(finding.eventId, MAX_FIELD),
    // Each change of the incident; the attribute is named when it shares the incident with another.
    ...Object.fromEntries(
      changes.map(([name, change]) => [
        name === attribute ? label : `${label} (${name})`,
        trimmedChange(name, change, finding),
      ]),
    ),
    ...(finding.error ? { error: trimmedError(finding.error) } : {}),
    reasons: reasons(finding),
    remediation: commands,
    ...(url ? { console: url } : {}),
  };
}

function reasons(finding: Finding): string[] {
  return severityExplanations(finding)
    .slice(0, MAX_REASONS)
    .map((r) => safeText(r, MAX_REASON));
}

function trimmedChange(attribute: string, change: AttributeChange, finding: Finding): Record<string, unknown> {
  const trimmed: Record<string, unknown> = {
    before: safeText(beforeValue(attribute, change, finding), MAX_DETAIL_VALUE),
    after: safeText(changeValue(change.after, 'after'), MAX_DETAIL_VALUE),
  };
  for (const [key] of PRINCIPAL_DETAILS) {
    if (!Array.isArray(change[key])) continue;
    if (principalListUnknown(key, change, finding)) {
      trimmed[key] = UNKNOWN_REMOVED_PRINCIPALS;
      continue;
    }
    const { items, more } = boundedList(change[key], MAX_DETAIL_ITEMS, MAX_FIELD);
    trimmed[key] = more > 0 ? [...items, `+${more} more`] : items;
  }
  const notes: string[] = [];
  for (const { label, value } of readableDetails(change).slice(0, MAX_DETAIL_ITEMS)) {
    if (label === undefined) notes.push(safeText(value, MAX_DETAIL_VALUE));
    else trimmed[safeText(label, 64)] = safeText(value, MAX_DETAIL_VALUE);
  }
  if (notes.length > 0) trimmed.notes = notes;
  return trimmed;
}

function trimmedError(error: NonNullable<Finding['error']>): Record<string, string> {
  return {
    code: safeText(error.code, MAX_FIELD),
    ...(error.message ? { message: safeText(error.message, MAX_DETAIL_VALUE) } : {}),
  };
}
