/**
 * What the operator commands conclude from keydrift's table, without AWS: open drift per resource (the core's
 * differingPaths between baseline and stored state, and the attributes approved as unknown that an open drift finding
 * changed, dated and rated by the findings), the differences an accept approves, resource labels, and `--since`
 * and `--until` values. No SDK, no clock: times come in as arguments.
 */

import { sameJson } from '../core/policy';
import { differingPaths } from '../core/reconcile';
import { knownPaths, labelOf, lookup, MAP_ATTRIBUTES, splitPath } from '../core/state';
import { toIsoSeconds } from '../core/time';
import { type Finding, type ResourceKind, type ResourceSnapshot, SEVERITIES, type Severity } from '../core/types';

/** A state or baseline item of keydrift's table. */
export interface StoredItem {
  snapshot: ResourceSnapshot;
  version: number;
  updatedAt?: string;
  acceptedBy?: string;
  acceptedAt?: string;
  /** Why the baseline was accepted, when the accept gave a reason (`--reason`). */
  acceptReason?: string;
  /** Attributes left out of the item to fit DynamoDB's item size (a key with thousands of grants): unknown there. */
  truncated?: string[];
}

/** One resource as the table knows it: its last known state and its approved baseline, either may be missing. */
export interface StoredResource {
  arn: string;
  kind: ResourceKind;
  state?: StoredItem;
  baseline?: StoredItem;
}

/**
 * A finding as keydrift's table holds it: `ignoredBy` names the ignore rule that kept it out of alerts; `truncated`,
 * on a finding too large for a table item, the parts its stored copy replaced by their SHA-256 (JSON Pointers).
 */
export type StoredFinding = Finding & { ignoredBy?: string; truncated?: string[] };

/** One resource that differs from its baseline, as `keydrift status` reports it. */
export interface OpenDrift {
  resource: string;
  kind: ResourceKind;
  label: string;
  /**
   * Attributes that drifted (`tags`, not `tags#owner`): the stored state differs from the baseline, or the approved
   * value is unknown and the attribute's last finding is an open drift.
   */
  attributes: string[];
  /** The drifted paths themselves (`tags#owner`). */
  paths: string[];
  /** The drifted attributes whose approved value is unknown: open by their findings, not by a comparison. */
  unknownBaseline: string[];
  /** When the oldest finding still open on these attributes happened; else when keydrift last stored the state. */
  since: string | null;
  /** The worst severity among the open findings on these attributes; `null` when no finding explains the drift. */
  severity: Severity | null;
  /** The resource's newest finding, whatever its status. */
  latest: Finding | null;
  baseline: {
    version: number;
    updatedAt: string | null;
    acceptedBy: string | null;
    acceptedAt: string | null;
    acceptReason?: string;
  };
  stateUpdatedAt: string | null;
}

const rank = (severity: Severity): number => SEVERITIES.indexOf(severity);
/**
 * Events whose state became the baseline whatever their status (DESIGN: a creation's state is its baseline, even an
 * unplanned CreateKey's; the reconciler baselines a resource it finds without one, event `Unbaselined`).
 */
const BASELINE_SETTING_EVENTS: ReadonlySet<string> = new Set([
  'CreateKey',
  'CreateAlias',
  'CreateTrail',
  'CreateCustomKeyStore',
  'Unbaselined',
]);
/** A stored ISO time at the seconds precision findings use. */
const seconds = (iso: string | undefined): string | undefined => iso?.replace(/\.\d+Z$/, 'Z');

/** The attribute names of paths (`tags#owner` → `tags`), sorted and unique. */
export const attributesOf = (paths: string[]): string[] =>
  [...new Set(paths.map((p) => splitPath(p).attribute))].sort();

/** Attributes that are maps of entries (tags, grants…): a change to one entry leaves the others as they were. */
const isMap = (attribute: string): boolean => (MAP_ATTRIBUTES as readonly string[]).includes(attribute);

/**
 * Dates and rates the open drift on some attributes from a resource's findings, fed newest first. For each
 * attribute, every `drift` finding that changed it counts until an older finding closed it (`resolved`, `planned`,
 * a change back to the baseline, or a creation, whose state became the baseline), or the findings reach the
 * baseline's last explicit accept. Denied attempts changed nothing, and a drift finding an ignore rule kept out of
 * alerts opens nothing (README: `ignore`); a change back still closes, ignored or not. `open` lists the attributes
 * with a drift finding still open.
 *
 * @example
 * const tracker = driftTracker(['policy'], baseline.acceptedAt);
 * for await (const finding of newestFirst) if (!tracker.push(finding)) break;
 * const { since, severity, open } = tracker.result();
 */
export function driftTracker(attributes: string[], acceptedAt?: string) {
  const open = new Map(
    attributes.map((a) => [a, { since: undefined as string | undefined, worst: undefined as Severity | undefined }]),
  );
  const closed = new Set<string>();
  // Findings carry seconds; an accept's time has milliseconds. A finding in the accept's own second counts as after.
  const boundary = seconds(acceptedAt);
  let latest: Finding | null = null;
  return {
    /** Feeds the next older finding; false once no older finding can change the result. */
    push(finding: StoredFinding): boolean {
      latest ??= finding;
      if (boundary && finding.timestamp < boundary) return false;
      for (const [attribute, entry] of open) {
        const change = finding.changes?.[attribute];
        if (!change || closed.has(attribute)) continue;
        if (BASELINE_SETTING_EVENTS.has(finding.event)) {
          closed.add(attribute);
        } else if (finding.status === 'drift' && !change.back_to_baseline) {
          if (finding.ignoredBy) continue;
          entry.since = finding.timestamp;
          if (!entry.worst || rank(finding.severity) > rank(entry.worst)) entry.worst = finding.severity;
        } else if (finding.status !== 'denied' && (change.back_to_baseline || !isMap(attribute))) {
          // A planned or routine change to one entry of a map (a service's grant) approves that entry only.
          closed.add(attribute);
        }
      }
      return closed.size < open.size;
    },
    result(): { since?: string; severity: Severity | null; latest: Finding | null; open: string[] } {
      let since: string | undefined;
      let severity: Severity | null = null;
      const withOpenFinding: string[] = [];
      for (const [attribute, entry] of open) {
        if (entry.since) withOpenFinding.push(attribute);
        if (entry.since && (!since || entry.since < since)) since = entry.since;
        if (entry.worst && (!severity || rank(entry.worst) > rank(severity))) severity = entry.worst;
      }
      return { since, severity, latest, open: withOpenFinding.sort() };
    },
  };
}

/** The paths where a resource's stored state differs from its baseline (both known); empty without either. */
export function driftedPaths(resource: StoredResource): string[] {
  const { state, baseline } = resource;
  return state && baseline ? differingPaths(baseline.snapshot, state.snapshot, state.snapshot) : [];
}

/**
 * The paths a resource's baseline approved as unknown, and the attributes its item left out to fit (thousands of
 * grants): no comparison can show their drift, only their findings.
 */
export function unknownBaselinePaths(resource: StoredResource): string[] {
  const { baseline } = resource;
  return [...new Set([...(baseline?.snapshot.unknownPaths ?? []), ...(baseline?.truncated ?? [])])];
}

/**
 * Every path no comparison of stored state and baseline can show drift on: those the baseline does not know
 * ({@link unknownBaselinePaths}), and the attributes the state's item left out to fit. Their findings tell.
 */
export function uncomparedPaths(resource: StoredResource): string[] {
  return [...new Set([...unknownBaselinePaths(resource), ...(resource.state?.truncated ?? [])])];
}

/**
 * Every drifted path of a resource: where its stored state differs from its baseline, and the paths no comparison
 * can show ({@link uncomparedPaths}: approved as unknown, or left out to fit) whose attribute has a drift finding
 * still open (`openAttributes`, the tracker's `open`). A critical change to a key keydrift had no baseline for leaves
 * its policy approved as unknown: it is open drift until resolved, planned or accepted, not a match.
 */
export function openPaths(resource: StoredResource, openAttributes: string[]): string[] {
  const unknown = uncomparedPaths(resource).filter((p) => openAttributes.includes(splitPath(p).attribute));
  return [...new Set([...driftedPaths(resource), ...unknown])].sort();
}

/** The status row of a drifted resource, from the tracker's verdict on its findings. */
export function openDrift(
  resource: StoredResource,
  paths: string[],
  verdict: ReturnType<ReturnType<typeof driftTracker>['result']>,
): OpenDrift {
  const { state, baseline } = resource;
  return {
    resource: resource.arn,
    kind: resource.kind,
    label: labelOf(resource.arn, state?.snapshot, baseline?.snapshot),
    attributes: attributesOf(paths),
    paths,
    unknownBaseline: attributesOf(paths.filter((p) => unknownBaselinePaths(resource).includes(p))),
    since: verdict.since ?? seconds(state?.updatedAt) ?? null,
    severity: verdict.severity,
    latest: verdict.latest,
    baseline: {
      version: baseline?.version ?? 0,
      updatedAt: baseline?.updatedAt ?? null,
      acceptedBy: baseline?.acceptedBy ?? null,
      acceptedAt: baseline?.acceptedAt ?? null,
      ...(baseline?.acceptReason ? { acceptReason: baseline.acceptReason } : {}),
    },
    stateUpdatedAt: state?.updatedAt ?? null,
  };
}

/** Worst first, then the oldest. */
export function compareDrift(a: OpenDrift, b: OpenDrift): number {
  const bySeverity = (b.severity ? rank(b.severity) : -1) - (a.severity ? rank(a.severity) : -1);
  if (bySeverity !== 0) return bySeverity;
  return (a.since ?? '').localeCompare(b.since ?? '') || a.resource.localeCompare(b.resource);
}

/**
 * One path an accept changes: `undefined` (unknown) on either side is left out of the JSON (where `null` is a value
 * known to be absent, a tag removed) and reads `(unknown)` in tables.
 */
export interface AcceptedChange {
  path: string;
  before: unknown;
  after: unknown;
}

/**
 * Every path whose approved value an accept changes: the core's differences, and the paths one side knows and the
 * other does not (the new baseline learns or forgets them). With no previous baseline, every path of the new one.
 */
export function acceptedChanges(previous: ResourceSnapshot | undefined, next: ResourceSnapshot): AcceptedChange[] {
  if (!previous) return knownPaths(next).map((path) => ({ path, before: undefined, after: lookup(next, path) }));
  // `next` as the state compared: a primary Region moved between two other Regions, no difference to a live read,
  // is one the accept approves.
  const differing = new Set(differingPaths(previous, next, next));
  // An entry approved as unknown that the new baseline knows absent (a tag an unplanned change removed from a key
  // keydrift never saw) is in neither's attributes, yet the accept learns it.
  const paths = [...new Set([...knownPaths(previous, next), ...(previous.unknownPaths ?? [])])].sort();
  return paths
    .filter((path) => {
      if (differing.has(path)) return true;
      const before = lookup(previous, path);
      const after = lookup(next, path);
      return (before === undefined) !== (after === undefined);
    })
    .map((path) => ({ path, before: lookup(previous, path), after: lookup(next, path) }));
}

/** True when a baseline already holds exactly this snapshot (same paths, values and complete maps). */
export function sameSnapshot(a: ResourceSnapshot | undefined, b: ResourceSnapshot): boolean {
  return (
    !!a &&
    sameJson(a.attributes, b.attributes) &&
    sameJson([...a.completeMaps].sort(), [...b.completeMaps].sort()) &&
    sameJson(a.unknownPaths ?? [], b.unknownPaths ?? [])
  );
}

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

const RELATIVE_SINCE = /^(\d+)\s*([mhdw])$/i;
/** How far back from the epoch a JavaScript date can go (about 271,000 BC); a duration back past it names no time. */
const EARLIEST_MS = -8.64e15;

const ISO_SINCE = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * Why a `--since` value names no real date or time (`2026-02-30`, `24:00`, a zone of `+25:00`, a duration back past
 * any date such as `99999999w`), or undefined: Date.parse would roll such a date over (2026-02-30 to 2026-03-02)
 * instead of refusing it, and a date that far back cannot be printed.
 *
 * @example
 * impossibleSince('2026-02-30'); // '2026-02-30 is no date: February 2026 has 28 days'
 */
export function impossibleSince(value: string): string | undefined {
  const relative = RELATIVE_SINCE.exec(value.trim());
  if (relative && Number(relative[1]) * UNITS[relative[2].toLowerCase()] > -EARLIEST_MS) {
    return `${value.trim()} reaches back before any date: give a shorter duration, or an ISO date (2026-11-01)`;
  }
  const absolute = ISO_SINCE.exec(value.trim());
  if (!absolute) return undefined;
  const [, date, time, zone] = absolute;
  const [year, month, day] = date.split('-').map(Number);
  if (month < 1 || month > 12) return `${date} is no date: months go from 01 to 12`;
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > days) {
    const name = new Date(Date.UTC(2000, month - 1, 1)).toLocaleString('en', { month: 'long', timeZone: 'UTC' });
    return `${date} is no date: ${name} ${year} has ${days} days`;
  }
  const [hours, minutes, seconds = 0] = (time ?? '00:00').split(':').map(Number);
  if (hours > 23 || minutes > 59 || seconds >= 60) return `${time} is no time of day: from 00:00 to 23:59:59`;
  const offset = /^[+-](\d{2}):?(\d{2})$/.exec(zone ?? '');
  if (offset && (Number(offset[1]) > 23 || Number(offset[2]) > 59)) return `${zone} is no time zone offset`;
  return undefined;
}

/**
 * A `--since` value as epoch milliseconds: `30m`, `24h`, `7d`, `2w` before `nowMs`, or an ISO date or date-time
 * (`2026-11-01`, `2026-11-01T08:00:00Z`; UTC unless a zone is given). Returns undefined for anything else, an
 * impossible date or time ({@link impossibleSince}) included.
 */
export function parseSince(value: string, nowMs: number): number | undefined {
  const relative = RELATIVE_SINCE.exec(value.trim());
  if (relative) {
    const ms = nowMs - Number(relative[1]) * UNITS[relative[2].toLowerCase()];
    return ms >= EARLIEST_MS ? ms : undefined;
  }
  const absolute = ISO_SINCE.exec(value.trim());
  if (!absolute || impossibleSince(value) !== undefined) return undefined;
  // A date or a time without a zone is UTC, as every timestamp keydrift prints.
  const [, date, time, zone] = absolute;
  const offset = (zone ?? 'Z').toUpperCase().replace(/^([+-]\d{2})(\d{2})$/, '$1:$2');
  const ms = Date.parse(time ? `${date}T${time}${offset}` : `${date}T00:00:00Z`);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * An `--until` value as epoch milliseconds, read as {@link parseSince} reads `--since`, and inclusive: findings at that
 * time are listed. A bare date names its whole day (UTC) up to its last millisecond, so `--since 2026-07-01 --until
 * 2026-09-30` is the third quarter, 30 September included, as an auditor reads it; a time to the minute names its
 * whole minute (`T23:59`: up to 23:59:59.999).
 */
export function parseUntil(value: string, nowMs: number): number | undefined {
  const ms = parseSince(value, nowMs);
  const absolute = ISO_SINCE.exec(value.trim());
  if (ms === undefined || !absolute) return ms;
  const time = absolute[2];
  if (!time) return ms + UNITS.d - 1;
  return time.length === 'hh:mm'.length ? ms + UNITS.m - 1 : ms;
}

/** The `byTime` partitions (`yyyy-mm-dd`, UTC) from `toMs`'s day back to `fromMs`'s, newest first. */
export function daysBetween(fromMs: number, toMs: number): string[] {
  const days: string[] = [];
  const first = toIsoSeconds(fromMs).slice(0, 10);
  for (let day = Date.parse(`${toIsoSeconds(toMs).slice(0, 10)}T00:00:00Z`); ; day -= UNITS.d) {
    const name = toIsoSeconds(day).slice(0, 10);
    if (name < first) break;
    days.push(name);
  }
  return days;
}
