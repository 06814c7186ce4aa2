/**
 * The machine-readable copy of a finding: one EventBridge PutEvents entry. The finding goes out whole unless the
 * entry would reach EventBridge's 256 KB limit; then the largest values are replaced by their SHA-256, and the
 * `truncated` field lists each one replaced (as JSON Pointers), so a consumer knows what is missing.
 */

import type { Finding } from '../core/types';
import { sha256Hex } from './digest';
import { truncate, utf8Bytes } from './sanitize';
import { jsonBytes } from './values';

/** A PutEvents request entry (structurally the SDK's `PutEventsRequestEntry`); `Time` is left to EventBridge. */
export interface EventBridgeEntry {
  Source: 'keydrift';
  DetailType: 'KMS Drift Finding';
  Detail: string;
  Resources: string[];
  EventBusName: string;
}

/** The parts of any PutEvents entry that count towards its size. */
export interface EntrySizeInput {
  Source: string;
  DetailType: string;
  Detail: string;
  Resources: string[];
  Time?: unknown;
}

/** What stands in for a value left out of the entry. */
export interface TruncatedValue {
  truncated: true;
  sha256: string;
  bytes: number;
}

/** EventBridge wants an entry "less than 256KB"; read conservatively as 256,000 bytes. */
export const MAX_ENTRY_BYTES = 256_000;

/**
 * The most JSON keydrift's table keeps in one item's finding or snapshot: DynamoDB items are at most 400 KB; this
 * leaves room for keys and the other attributes.
 */
export const MAX_JSON_BYTES = 350 * 1024;

const SOURCE = 'keydrift';
const DETAIL_TYPE = 'KMS Drift Finding';
// Values this small are not worth replacing: the stand-in is about as large.
const MIN_REPLACED_BYTES = 160;
const MAX_TOP_LEVEL_CHARS = 1024;
const TRUNCATED_KEY_BYTES = utf8Bytes(',"truncated":');

type Json = Record<string, unknown>;

interface Candidate {
  holder: Json;
  key: string;
  pointer: string;
  bytes: number;
  next: () => unknown;
}

/** Builds the PutEvents entry for a finding, shrinking its Detail when needed to keep the entry under 256 KB. */
export function toEventBridgeEntry(finding: Finding, eventBusName: string): EventBridgeEntry {
  const Resources = [finding.resource];
  const budget = entryBudget(Resources);
  return {
    Source: SOURCE,
    DetailType: DETAIL_TYPE,
    Detail: fitDetail(finding, budget).json,
    Resources,
    EventBusName: eventBusName,
  };
}

/**
 * The finding as keydrift's table keeps it (what `keydrift findings` shows): whole, or when its JSON is over
 * {@link MAX_JSON_BYTES}, its EventBridge copy, whose `truncated` lists the parts replaced (JSON Pointers, as
 * `replaced` here). The alerts read it to know what the table still holds.
 */
export function storedFinding(finding: Finding): { json: string; replaced: string[] } {
  const json = JSON.stringify(finding);
  // Only a finding too large for an item pays for the shrinking.
  if (utf8Bytes(json) <= MAX_JSON_BYTES) return { json, replaced: [] };
  const fitted = fitDetail(finding, entryBudget([finding.resource]), json);
  return { json: fitted.json, replaced: fitted.truncated };
}

/** The entry's size as EventBridge counts it: Source, DetailType, Detail and each resource in UTF-8, Time as 14. */
export function entrySize(entry: EntrySizeInput): number {
  const time = entry.Time === undefined ? 0 : 14;
  const resources = entry.Resources.reduce((sum, arn) => sum + utf8Bytes(arn), 0);
  return time + utf8Bytes(entry.Source) + utf8Bytes(entry.DetailType) + utf8Bytes(entry.Detail) + resources;
}

/** The stand-in for a value left out: its size and SHA-256 over its compact JSON. */
export function truncatedValue(value: unknown): TruncatedValue {
  const json = JSON.stringify(value) ?? 'null';
  return { truncated: true, sha256: sha256Hex(json), bytes: utf8Bytes(json) };
}

/** The bytes left for the Detail of an entry naming `resources`. */
function entryBudget(resources: string[]): number {
  return MAX_ENTRY_BYTES - 1 - entrySize({ Source: SOURCE, DetailType: DETAIL_TYPE, Detail: '', Resources: resources });
}

/**
 * The Detail within `budget`, and the pointers of the values it replaced (none when the finding fits whole). `whole`:
 * the finding's JSON, when the caller has it already.
 */
function fitDetail(
  finding: Finding,
  budget: number,
  whole = JSON.stringify(finding),
): { json: string; truncated: string[] } {
  if (utf8Bytes(whole) <= budget) return { json: whole, truncated: [] };

  const changes: Record<string, Json> = {};
  for (const [attribute, change] of Object.entries(finding.changes)) changes[attribute] = { ...change };
  const detail: Json = { ...finding, changes };
  const truncated: string[] = [];
  // Sizes are tracked by difference: swapping one value changes compact JSON by exactly the two values' sizes.
  let size = utf8Bytes(whole);
  const fits = () => size + TRUNCATED_KEY_BYTES + jsonBytes(truncated) <= budget;

  for (const stage of stages(detail, changes)) {
    for (const candidate of stage().sort((a, b) => b.bytes - a.bytes)) {
      if (fits()) break;
      if (candidate.bytes < MIN_REPLACED_BYTES) continue;
      const next = candidate.next();
      size += jsonBytes(next) - candidate.bytes;
      candidate.holder[candidate.key] = next;
      // A replaced container hides anything replaced inside it.
      const inside = `${candidate.pointer}/`;
      truncated.splice(0, truncated.length, ...truncated.filter((p) => !p.startsWith(inside)), candidate.pointer);
    }
    if (fits()) break;
  }
  return { json: JSON.stringify({ ...detail, truncated }), truncated };
}

// The order of sacrifice: before/after values first (policies of up to 32 KB), then long top-level fields (summary,
// remediation), then other change details (principal lists, which say who gained access), then whole changes, and
// last the whole `changes` map.
function stages(detail: Json, changes: Record<string, Json>): Array<() => Candidate[]> {
  const inChanges = (pick: (key: string) => boolean) => () =>
    Object.entries(changes).flatMap(([attribute, change]) =>
      Object.keys(change)
        .filter(pick)
        .map((key) => replaced(change, key, `/changes/${pointerPart(attribute)}/${pointerPart(key)}`)),
    );
  return [
    inChanges((key) => key === 'before' || key === 'after'),
    () =>
      Object.keys(detail)
        .filter((key) => key !== 'changes')
        .map((key) => shortened(detail, key)),
    inChanges((key) => key !== 'before' && key !== 'after'),
    () => Object.keys(changes).map((attribute) => replaced(changes, attribute, `/changes/${pointerPart(attribute)}`)),
    () => [replaced(detail, 'changes', '/changes')],
  ];
}

function replaced(holder: Json, key: string, pointer: string): Candidate {
  const value = holder[key];
  return { holder, key, pointer, bytes: jsonBytes(value), next: () => truncatedValue(value) };
}

function shortened(holder: Json, key: string): Candidate {
  const value = holder[key];
  const pointer = `/${pointerPart(key)}`;
  // Strings keep their start, which is what people read; lists and objects become a stand-in.
  const next = typeof value === 'string' ? () => truncate(value, MAX_TOP_LEVEL_CHARS) : () => truncatedValue(value);
  const bytes = typeof value === 'string' && value.length <= MAX_TOP_LEVEL_CHARS ? 0 : jsonBytes(value);
  return { holder, key, pointer, bytes, next };
}

function pointerPart(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}
