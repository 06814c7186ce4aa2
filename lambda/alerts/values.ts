/**
 * Renders the values inside a finding (attribute before/after, principal lists, free text) as bounded, sanitized
 * one-line text that every channel can show.
 */

import { parseArn } from '../core/arn';
import { shellQuote } from '../core/remediation';
import type { AttributeChange, Finding } from '../core/types';
import { defangUrls, oneLine, utf8Bytes } from './sanitize';

/** The principal and account lists a `policy` or `grants` change carries, with the label people read. */
export const PRINCIPAL_DETAILS = [
  ['added_principals', 'added principals'],
  ['removed_principals', 'removed principals'],
  ['external_accounts', 'external accounts'],
] as const;

// Anything in a command that is not a plain printable character: a line break could smuggle in a second command.
export const UNSAFE_IN_COMMAND = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;
const EACH_UNSAFE_IN_COMMAND = new RegExp(UNSAFE_IN_COMMAND.source, 'gu');

const CORE_KEYS = new Set<string>(['before', 'after', ...PRINCIPAL_DETAILS.map(([key]) => key)]);

/** A value as compact text: strings bare, `null`/`undefined` as `(unknown)`, anything else as compact JSON. */
export function compactValue(value: unknown): string {
  if (value === null || value === undefined) return '(unknown)';
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    // Cycles or BigInts cannot come from JSON input, but an alert must still render.
    return String(value);
  }
}

/**
 * One side of an attribute change as compact text. A `before` of `null` is unknown (DESIGN), but the state after an
 * event is known: an `after` of `null` means the attribute is now absent, shown as `(none)`. So are the entries of a
 * map attribute (tags, grants), so that a removed tag does not read `{"Dept":null}` on both sides; a `null` entry
 * before stays `null`: absent or unknown, the finding does not say which.
 */
export function changeValue(value: unknown, side: 'before' | 'after'): string {
  // An empty value (a description cleared) shown as nothing reads as a value missing from the alert.
  if (value === '') return '(empty)';
  if (side === 'before') return compactValue(value);
  if (value === null) return '(none)';
  if (!isMap(value)) return compactValue(value);
  return compactValue(
    Object.fromEntries(Object.entries(value).map(([entry, v]) => [entry, v === null ? '(none)' : v])),
  );
}

/**
 * The key events whose finding may change none of the key's attributes (core/effects.ts): staged key material imported,
 * deleted or expired, the rotations and a multi-Region key's synchronization. Such a finding is paged under its event's
 * name (attributesPaged) when an override made it critical.
 */
export const KEY_EVENTS_CHANGING_NOTHING = [
  'DeleteExpiredKeyMaterial',
  'DeleteImportedKeyMaterial',
  'ImportKeyMaterial',
  'KMS CMK Rotation',
  'KMS Imported Key Material Expiration',
  'RotateKey',
  'RotateKeyOnDemand',
  'SynchronizeMultiRegionKey',
] as const;

/** Those of them KMS makes itself as imported key material expires: no principal made the change. */
export const KEY_MATERIAL_EXPIRIES: ReadonlySet<string> = new Set([
  'DeleteExpiredKeyMaterial',
  'KMS Imported Key Material Expiration',
]);

/**
 * A drift finding of one of those events that changed none of the key's attributes (an on-demand rotation): the key
 * does not differ from its baseline, and there is nothing to revert (a rotation cannot be undone).
 */
export function driftChangingNothing(finding: Pick<Finding, 'event' | 'status' | 'changes'>): boolean {
  return (
    finding.status === 'drift' &&
    Object.keys(finding.changes ?? {}).length === 0 &&
    (KEY_EVENTS_CHANGING_NOTHING as readonly string[]).includes(finding.event)
  );
}

/**
 * The calls that make the resource they name: nothing was there before what they set. Not ReplicateKey: its finding
 * is the primary key's, which was there before (a new Region in replica_regions, the replica's policy), and the
 * replica's own creation is the CreateKey record of the replica's Region.
 */
export const RESOURCE_CREATIONS: ReadonlySet<string> = new Set(['CreateKey', 'CreateTrail', 'CreateCustomKeyStore']);

/**
 * A `before` of nothing known: null, or a map attribute's (tags, aliases, grants) whose every entry is null, as the
 * core writes the entries a new resource was created with.
 */
export function beforeUnknown(change: AttributeChange): boolean {
  const { before } = change;
  if (before === null) return true;
  return isMap(before) && Object.values(before).every((v) => v === null);
}

/**
 * The `before` of a change to `attribute` as text. It is not left as `(unknown)` where the finding says what it was:
 * - a resource its call created had nothing before (`(none: new)`);
 * - a key's deletion date: a deletion scheduled (a date after) was not scheduled before, since KMS schedules none on a
 *   key already pending deletion; a deletion cancelled or carried out (no date after) had a date, which the record
 *   does not give.
 * A denied call says neither: it may have been refused for the very state it assumed.
 */
export function beforeValue(
  attribute: string,
  change: AttributeChange,
  finding: Pick<Finding, 'event' | 'status'>,
): string {
  if (finding.status !== 'denied' && RESOURCE_CREATIONS.has(finding.event) && beforeUnknown(change)) {
    return '(none: new)';
  }
  if (attribute === 'deletion_date' && change.before === null && finding.status !== 'denied') {
    return change.after ? '(not scheduled)' : '(scheduled; the date is not in the record)';
  }
  return changeValue(change.before, 'before');
}

const isMap = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Attacker-controlled free text made safe to show: one line, links defanged, cut to `max` characters. */
export function safeText(value: unknown, max: number): string {
  // Invisible characters go first: one inside `http://` would hide the scheme from the defanging, not from a client.
  return defangUrls(oneLine(compactValue(value), max));
}

/** A list of principals or accounts as safe one-line items, at most `maxItems`; `more` counts the ones left out. */
export function boundedList(value: unknown, maxItems: number, maxEach: number): { items: string[]; more: number } {
  if (!Array.isArray(value)) return { items: [], more: 0 };
  const items = value.slice(0, maxItems).map((item) => safeText(item, maxEach));
  return { items, more: value.length - items.length };
}

/**
 * What a principal list of a change says when the finding cannot fill it: no principal removed from a policy whose
 * previous version is unknown is a list left empty for want of it, not a policy that lost nobody.
 */
export const UNKNOWN_REMOVED_PRINCIPALS = '(unknown: the previous policy is not known)';

/**
 * True when the change lists removed principals (`key`) though the state they were removed from is unknown. A policy
 * its call made with its key (a CreateKey's, the new replica's of a ReplicateKey) replaced none: nobody was removed.
 */
export function principalListUnknown(
  key: string,
  change: AttributeChange,
  finding: Pick<Finding, 'event' | 'status'>,
): boolean {
  if (key !== 'removed_principals' || !Array.isArray(change[key]) || change.before !== null) return false;
  const madeWithItsKey = RESOURCE_CREATIONS.has(finding.event) || typeof change.replica_key === 'string';
  return finding.status === 'denied' || !madeWithItsKey;
}

/** True when the change lists who gained or lost access (policy and grant changes). */
export function hasPrincipalDetails(change: AttributeChange): boolean {
  return PRINCIPAL_DETAILS.some(([key]) => Array.isArray(change[key]));
}

/** Details of a change other than before/after and the principal lists, in their original order. */
export function extraDetails(change: AttributeChange): Array<[string, unknown]> {
  return Object.entries(change).filter(([key]) => !CORE_KEYS.has(key));
}

/** A detail of a change as people read it: a labelled value, or (no label) a sentence standing alone. */
export interface ReadableDetail {
  label?: string;
  value: unknown;
}

// Flags the core sets on a change, in words; a flag that is false or absent says nothing and is left out.
const FLAG_WORDS: Record<string, string> = {
  back_to_baseline: 'back to the approved value',
  already_known:
    'unchanged by this event: keydrift already knew this value (reported earlier), which is not the approved one',
  unchanged: 'unchanged by this event',
  since_undone: 'since undone: a later change put it back at the approved value (the live state shows it)',
  cloudtrail_access_removed:
    "CloudTrail loses the kms:GenerateDataKey* permission it needs to encrypt the trail's logs with this key",
  used_by_keydrift: 'keydrift itself uses this key',
  deletion_cancelled:
    'a deletion cancelled: keydrift last saw the key pending deletion, which a key leaves for Disabled only by CancelKeyDeletion',
};

const DETAIL_LABELS: Record<string, string> = {
  days_left: 'days left',
  dependent_trails: 'trails whose logs it encrypts',
  ended_grant: 'ended grant',
  aliases_deleted: 'aliases deleted with it',
};

/** The most items of a list of text a detail shows: the rest are counted (a deleted key's 50 aliases). */
const MAX_DETAIL_LIST_ITEMS = 10;

/**
 * The details of a change other than before/after and the principal lists, in words rather than internal field
 * names: known flags become sentences (and vanish when false), other names lose their underscores, lists of text are
 * joined with commas.
 */
export function readableDetails(change: AttributeChange): ReadableDetail[] {
  const details: ReadableDetail[] = [];
  for (const [key, value] of extraDetails(change)) {
    if (Object.hasOwn(FLAG_WORDS, key)) {
      if (value === true) details.push({ value: FLAG_WORDS[key] });
      else if (value !== false && value !== null && value !== undefined) {
        details.push({ label: key.replace(/_/g, ' '), value });
      }
      continue;
    }
    const label = Object.hasOwn(DETAIL_LABELS, key) ? DETAIL_LABELS[key]! : key.replace(/_/g, ' ');
    details.push({ label, value: readableValue(value) });
  }
  return details;
}

function readableValue(value: unknown): unknown {
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
    if (value.length === 0) return '(none)';
    const more = value.length - MAX_DETAIL_LIST_ITEMS;
    return `${value.slice(0, MAX_DETAIL_LIST_ITEMS).join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
  }
  return value;
}

/** Size of a value serialized as compact JSON, in bytes of UTF-8 (0 for what JSON drops). */
export function jsonBytes(value: unknown): number {
  const json = JSON.stringify(value);
  return json === undefined ? 0 : utf8Bytes(json);
}

/**
 * A remediation command to show verbatim, or a shell comment in its place: when it holds control characters (so a
 * paste does nothing) or is longer than `max` (a cut command must never be run). `elsewhere` says where it is whole
 * (a function when finding out costs something: only a command not shown as it is asks).
 */
export function safeCommand(command: string, max: number, elsewhere: string | (() => string)): string {
  if (UNSAFE_IN_COMMAND.test(command)) {
    // Never meant to be run as it is: the record's text in it is defanged as anywhere else. Each such character is a
    // space, one for one, and the line is never cut: taking out a whole escape sequence (an unterminated OSC runs to
    // the end) or cutting could drop a closing quote, and an interactive zsh runs `#` lines (unless
    // `interactivecomments`): the quote left open would close on the next line and run what that line quotes.
    const shown = `# control characters removed, check before running: ${defangUrls(command.replace(EACH_UNSAFE_IN_COMMAND, ' '))}`;
    if (shown.length <= max) return shown;
  } else if (command.length <= max) return command;
  return `# a ${command.length}-character command does not fit here: ${typeof elsewhere === 'function' ? elsewhere() : elsewhere}`;
}

/**
 * The command that lists a resource's findings as keydrift keeps them, each drift's commands whole: where an alert
 * sends the reader for what it cannot show. The resource is named when it can be pasted as it is, else by placeholders
 * that are words (it goes in `#` lines, which an interactive zsh may run: `<…>` would redirect); `--since` the
 * finding's day, since `findings` lists a week by default and an alert may be read long after.
 */
export function findingsCommand({ resource, timestamp }: Pick<Finding, 'resource' | 'timestamp'>): string {
  const day = /^\d{4}-\d{2}-\d{2}(?=T|$)/.exec(timestamp)?.[0];
  const since = day ? ` --since ${day}` : '';
  if (UNSAFE_IN_COMMAND.test(resource)) {
    return `keydrift findings --resource RESOURCE_ARN --region REGION${since}`;
  }
  // In the resource's Region, whatever the reader's default: each Region's deployment keeps its own findings.
  const region = parseArn(resource)?.region;
  return `keydrift findings --resource ${shellQuote(resource)}${region ? ` --region ${shellQuote(region)}` : ''}${since}`;
}
