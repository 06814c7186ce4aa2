import { createHash } from 'node:crypto';
import { approvedDeletionDate, withApprovedDeletionGoingOn } from './approved-deletion';
import { aliasArn, customKeyStoreArn, parseArn } from './arn';
import { isPendingDeletion, UNBASELINED_EVENT } from './catalog';
import type { DetectionConfig } from './config';
import { TRANSIENT_STATES, withoutKeyState } from './detector';
import { PRIMARY_ONLY } from './effects';
import { judge, type Surroundings, type TouchedPath } from './judge';
import { sameJson, stableJson } from './policy';
import { comment, type Elsewhere, remediationFor, shellQuote } from './remediation';
import { knownPaths, lookup, mapEntries, splitPath } from './state';
import { toIsoSeconds } from './time';
import type { Actor, ChangeEvent, Finding, ResourceSnapshot } from './types';

/** The event name of findings the reconciler makes: drift that no event explained. */
export const RECONCILE_EVENT = 'Reconcile';
/** The event name of deletion countdown reminders. */
export const DELETION_REMINDER_EVENT = 'DeletionReminder';
export const APPROVED_DELETION_REMINDER_EVENT = 'ApprovedDeletionReminder';
/** Days before a scheduled deletion when a reminder goes out. */
export const REMINDER_DAYS = [7, 3, 1] as const;

const RECONCILER: Actor = { arn: 'keydrift-reconciler', name: 'the keydrift reconciler', type: 'keydrift' };
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Key states KMS passes through on its own and leaves by itself: a replica being created, a multi-Region key whose
 * primary Region is moving. No one chose them, and no command undoes them.
 */
const PASSING_KEY_STATES: ReadonlySet<unknown> = new Set(['Creating', 'Updating']);

/**
 * A multi-Region key's primary Region moved between two Regions, neither of them this key's own: UpdatePrimaryRegion
 * is recorded in the old and the new primary's Regions only, and alerted (or approved) there. In this key's Region no
 * event explains it and nothing is to be undone: it is no difference here. A replica here promoted, or the primary
 * here demoted, names this Region on one side, and is compared.
 */
export function primaryMovedElsewhere(arn: string, from: unknown, to: unknown): boolean {
  const own = parseArn(arn)?.region;
  return !!own && typeof from === 'string' && typeof to === 'string' && from !== own && to !== own;
}

/**
 * Every path where two whole snapshots disagree, both sides known (maps compared entry by entry). A key `to` shows in
 * a passing state (Creating, Updating) is not compared on its state: it is on its way to one; nor on a primary Region
 * moved between two other Regions (`primaryMovedElsewhere`), unless the state stored last (`previous`) showed another
 * primary than `from`: keydrift saw it leave the approved one (a replica promoted here, then moved on: this Region's
 * log has that move), and it is drift until accepted, as `withPrimaryMovedElsewhere` does not approve it.
 */
export function differingPaths(from: ResourceSnapshot, to: ResourceSnapshot, previous?: ResourceSnapshot): string[] {
  const last = lookup(previous, 'primary_region');
  const leftApproved = last !== undefined && !sameJson(last, lookup(from, 'primary_region'));
  // Entries one side lacks in a map it knows whole read as null there, so they count as differences.
  return knownPaths(from, to).filter((path) => {
    const a = lookup(from, path);
    const b = lookup(to, path);
    if (path === 'key_state' && PASSING_KEY_STATES.has(b)) return false;
    if (path === 'primary_region' && !leftApproved && primaryMovedElsewhere(to.arn, a, b)) return false;
    return a !== undefined && b !== undefined && !sameJson(a, b);
  });
}

/**
 * The ARN keydrift names the custom key store of a key read `Unavailable` by (`custom-key-store/<id>`, as its table
 * keys the store's items): the store whose disconnection may explain that state. `undefined` for any other key.
 */
export function storeOfUnavailableKey(live: ResourceSnapshot): string | undefined {
  const store = live.attributes.custom_key_store;
  const arn = parseArn(live.arn);
  if (live.kind !== 'key' || live.attributes.key_state !== 'Unavailable' || typeof store !== 'string' || !arn) {
    return undefined;
  }
  return customKeyStoreArn(arn.region, arn.account, store);
}

/**
 * A key read `Unavailable` while keydrift knows its custom key store disconnected (`store`: the store's stored state,
 * else its baseline, shows DISCONNECTED): KMS shows the store's connection there, not the key's own state, which comes
 * back on reconnecting. The key's state is taken as the key's stored state (`previous`) shows it, else left unknown in
 * the read: not drift of the key, nor a state to approve or, once the store is connected again, to resolve; and a
 * drift keydrift reported before (a key disabled) stays known, not reported again once the store is connected. A
 * planned disconnection (for UpdateCustomKeyStore) alerts nothing; an unplanned one keydrift recorded was paged by the
 * store's own DisconnectCustomKeyStore finding, and is not paged again for each key. With no record of the store, or
 * one that shows it connected, the read is kept as it is: the key's `Unavailable` is news, and its own finding the
 * only alert of it.
 */
export function withStoreDisconnection(
  live: ResourceSnapshot,
  store: ResourceSnapshot | undefined,
  previous?: ResourceSnapshot,
): ResourceSnapshot {
  if (!storeOfUnavailableKey(live) || lookup(store, 'connection_state') !== 'DISCONNECTED') return live;
  const { key_state: _hidden, ...attributes } = live.attributes;
  const stored = lookup(previous, 'key_state');
  return { ...live, attributes: stored === undefined ? attributes : { ...attributes, key_state: stored } };
}

/**
 * Whether `baseline` approves a key `Unavailable`, as keydrift did before it knew that state for its custom key
 * store's disconnection: no approved state (`withFirstSeen` drops it), as `keydrift baseline adopt` takes it.
 */
function approvesUnavailable(baseline: ResourceSnapshot | undefined): boolean {
  return baseline?.kind === 'key' && lookup(baseline, 'key_state') === 'Unavailable';
}

/**
 * A key read `Unavailable` that keydrift has no approved state for (`baseline` knows none, or an `Unavailable` an
 * earlier keydrift approved, or there is none: the run adopting it, or finding it appeared): KMS shows its custom key
 * store disconnected there, not the key's own state, which comes back when the store is connected. Its state is left
 * unknown in the read, as neither approved nor stored: the state KMS shows once the store is connected is approved as
 * first seen, and a later disconnection is drift from it, not a return to an approved `Unavailable`.
 */
export function withUnapprovedUnavailableUnknown(
  live: ResourceSnapshot,
  baseline: ResourceSnapshot | undefined,
): ResourceSnapshot {
  const approved = lookup(baseline, 'key_state') !== undefined && !approvesUnavailable(baseline);
  if (!storeOfUnavailableKey(live) || approved) return live;
  return withoutKeyState(live);
}

/** What KMS hides from the read of a key pending deletion: its automatic rotation (kms-reader.ts leaves it out). */
const HIDDEN_WHILE_PENDING_DELETION = ['enable_key_rotation', 'rotation_period_in_days'] as const;

/**
 * A read of a key pending deletion, with the rotation KMS hides then taken as the key's stored state (`previous`)
 * shows it: KMS restores it on cancel, and a rotation drift reported before the deletion was scheduled (rotation
 * turned off) is then still known, not reported again as drift no event explained. A replica's rotation is its
 * primary's, never read here.
 */
export function withHiddenRotationKept(
  live: ResourceSnapshot,
  previous: ResourceSnapshot | undefined,
): ResourceSnapshot {
  if (live.kind !== 'key' || !isPendingDeletion(live.attributes.key_state)) return live;
  const primary = live.attributes.primary_region;
  if (typeof primary === 'string' && primary !== parseArn(live.arn)?.region) return live;
  const kept = HIDDEN_WHILE_PENDING_DELETION.filter(
    (path) => !(path in live.attributes) && lookup(previous, path) !== undefined,
  );
  if (kept.length === 0) return live;
  const attributes = { ...live.attributes };
  for (const path of kept) attributes[path] = lookup(previous, path);
  return { ...live, attributes };
}

/**
 * The baseline with each approved grant that is gone replaced by a live grant made exactly like it (its remediation
 * re-created it: KMS gives it a new id), as the detector takes a restored grant back; `undefined` when none is.
 */
export function withRestoredGrants(baseline: ResourceSnapshot, live: ResourceSnapshot): ResourceSnapshot | undefined {
  const grants = (snapshot: ResourceSnapshot) =>
    Object.keys(snapshot.attributes).filter((path) => {
      const { attribute, entry } = splitPath(path);
      return attribute === 'grants' && entry !== undefined && snapshot.attributes[path] !== null;
    });
  const fresh = grants(live).filter((path) => !lookup(baseline, path));
  const attributes = { ...baseline.attributes };
  let restored = false;
  for (const gone of grants(baseline).filter((path) => lookup(live, path) === null)) {
    const wanted = stableJson(baseline.attributes[gone]);
    const index = fresh.findIndex((path) => stableJson(live.attributes[path]) === wanted);
    if (index < 0) continue;
    const [back] = fresh.splice(index, 1);
    delete attributes[gone];
    attributes[back] = live.attributes[back];
    restored = true;
  }
  return restored ? { ...baseline, attributes } : undefined;
}

/**
 * An attribute of a multi-Region key's primary only (`PRIMARY_ONLY`: replica Regions, rotation) on a key its baseline
 * approves as a replica (its primary in another Region): a live read that shows it, the key promoted here unapproved,
 * does not approve it as first seen. The primary elsewhere changes it, and its baseline takes it once a promotion here
 * is approved.
 */
export function primaryOnlyOfReplica(baseline: ResourceSnapshot, attribute: string): boolean {
  const primary = lookup(baseline, 'primary_region');
  return (
    (PRIMARY_ONLY as readonly string[]).includes(attribute) &&
    typeof primary === 'string' &&
    primary !== parseArn(baseline.arn)?.region
  );
}

/**
 * Whether a live read may approve `value` at `path` of a resource when its baseline does not know it: not a path
 * settled as unknown, a key state in passing, a pending deletion's date, a key's `Unavailable` (its store's
 * connection), or a primary's attribute of a key approved as a replica (`primaryOnlyOfReplica`). The reconciler's
 * `withFirstSeen` and the detector's `settleWithLive` ask it.
 */
export function approvableFirstSeen(baseline: ResourceSnapshot, path: string, value: unknown): boolean {
  if (baseline.unknownPaths?.includes(path)) return false;
  if (TRANSIENT_STATES.has(value) || (path === 'deletion_date' && value !== null)) return false;
  // A custom key store's disconnection, not the key's own state (withUnapprovedUnavailableUnknown).
  if (path === 'key_state' && value === 'Unavailable') return false;
  return !primaryOnlyOfReplica(baseline, splitPath(path).attribute);
}

/**
 * The baseline with what it does not know yet taken from the live state, as the detector settles a baseline with its
 * live read (core/live.ts `settleWithLive`): a path it never knew (KMS hides a key's rotation while it is pending
 * deletion, a detector's read may have failed) is seen for the first time, and approved so, but a key state in
 * passing, a deletion date, a path settled as unknown, an attribute left out to fit the table (`truncated`), or a
 * primary's attribute of a key approved as a replica (`primaryOnlyOfReplica`). Each is dated by the read (`readAt`,
 * `firstSeenAt`): an unplanned change made before it, its event delivered after, is not judged against what the read
 * saw of it. A key's `Unavailable` an earlier keydrift approved is dropped, as no approved state. `undefined` when
 * nothing is new.
 */
export function withFirstSeen(
  baseline: ResourceSnapshot,
  live: ResourceSnapshot,
  truncated: readonly string[] = [],
  readAt?: string,
): ResourceSnapshot | undefined {
  // An `Unavailable` an earlier keydrift approved is dropped: the key's state is not known yet.
  const dropped = approvesUnavailable(baseline);
  const known = dropped ? withoutKeyState(baseline) : baseline;
  const attributes = { ...known.attributes };
  const firstSeenAt = { ...baseline.firstSeenAt };
  let seen = dropped;
  for (const [path, value] of Object.entries(live.attributes)) {
    if (truncated.includes(splitPath(path).attribute) || lookup(known, path) !== undefined) continue;
    if (!approvableFirstSeen(baseline, path, value)) continue;
    attributes[path] = value;
    if (readAt) firstSeenAt[path] = readAt;
    seen = true;
  }
  const maps = live.completeMaps.filter(
    (m) => !baseline.completeMaps.includes(m) && !truncated.includes(m) && !primaryOnlyOfReplica(baseline, m),
  );
  if (!seen && maps.length === 0) return undefined;
  // A map first seen whole is dated under its name: what it lacks (a grant revoked before the read) is first seen too.
  if (readAt) for (const map of maps) firstSeenAt[map] = readAt;
  const dated = Object.keys(firstSeenAt).length > 0 ? { firstSeenAt } : {};
  return { ...baseline, attributes, completeMaps: [...baseline.completeMaps, ...maps], ...dated };
}

/**
 * The baseline with the primary Region the live read shows, when the primary moved between two other Regions
 * (`primaryMovedElsewhere`): approved as it is, so that moving a replica promoted here back later names the primary
 * approved last. `undefined` when it did not, or when the state stored last (`previous`) showed another primary than
 * the approved one: a replica promoted here (drift reported here) then moved on, or a move the detector judged here,
 * is drift until someone accepts it, not a move seen in other Regions only.
 */
export function withPrimaryMovedElsewhere(
  baseline: ResourceSnapshot,
  live: ResourceSnapshot,
  previous?: ResourceSnapshot,
): ResourceSnapshot | undefined {
  const approved = lookup(baseline, 'primary_region');
  const now = lookup(live, 'primary_region');
  const last = lookup(previous, 'primary_region');
  if (last !== undefined && !sameJson(last, approved)) return undefined;
  if (sameJson(approved, now) || !primaryMovedElsewhere(live.arn, approved, now)) return undefined;
  return { ...baseline, attributes: { ...baseline.attributes, primary_region: now } };
}

/**
 * The baseline of an alias read gone (`live`) whose key is gone too (`keyGone`: the key the state keydrift stored last,
 * `previous`, else its baseline, shows it on): KMS deleted the alias with its key, with no DeleteAlias of its own, as
 * the detector takes the key's deletion (core/effects.ts `keyDeleted`). Not drift of the alias, however the key's
 * deletion is judged: that deletion's finding (its event's, or a run's on the key) is its record, and the alias cannot
 * come back. Approved gone. `undefined` for any other alias, compared as ever: one gone while its key exists was
 * deleted on its own, and one keydrift stored gone already was reported then.
 */
export function aliasGoneWithItsKey(
  live: ResourceSnapshot,
  previous: ResourceSnapshot | undefined,
  baseline: ResourceSnapshot,
  keyGone: (keyArn: string) => boolean,
): ResourceSnapshot | undefined {
  if (live.kind !== 'alias' || lookup(live, 'target_key_id') !== null) return undefined;
  const key = lookup(previous ?? baseline, 'target_key_id');
  if (typeof key !== 'string' || !keyGone(key)) return undefined;
  return { ...baseline, attributes: { ...baseline.attributes, target_key_id: null } };
}

function reconcileEvent(resource: string, eventName: string, idParts: unknown[], nowMs: number): ChangeEvent {
  const arn = parseArn(resource);
  const digest = createHash('sha256')
    .update(stableJson([resource, ...idParts]))
    .digest('hex')
    .slice(0, 32);
  return {
    eventId: `${eventName.endsWith(DELETION_REMINDER_EVENT) ? 'reminder' : 'reconcile'}-${digest}`,
    eventName,
    time: toIsoSeconds(nowMs),
    epochMs: nowMs,
    service: arn?.service === 'cloudtrail' ? 'cloudtrail' : 'kms',
    account: arn?.account ?? 'unknown',
    region: arn?.region ?? 'unknown',
    actor: RECONCILER,
    readOnly: false,
    requestParameters: {},
    responseElements: {},
    resourceArns: [resource],
    additionalEventData: {},
  };
}

export interface ReconcileInput {
  baseline: ResourceSnapshot;
  live: ResourceSnapshot;
  /**
   * The last state keydrift stored (from an event or an earlier run). A difference it already shows is known (alerted
   * then), so not reported again; a drift it shows that live no longer has is reported back at its baseline.
   */
  previous?: ResourceSnapshot;
  /** The stored state's version (monotonic per resource); absent when there is no stored state. */
  previousVersion?: number;
  /** The reconcile's time, in epoch milliseconds (the core has no clock). */
  nowMs: number;
  /**
   * The key each alias KMS lists now points to, by alias ARN. A key found deleted names the aliases keydrift knew on it
   * as gone with it, but those listed on another key (moved unseen); absent, all of them.
   */
  listedAliasTargets?: ReadonlyMap<string, string | undefined>;
  /**
   * What the run knows of other resources: their approved values and their states (the key an alias is approved on,
   * pending deletion or deleted, takes no alias, which the alias's undo says). Absent, nothing is known of them.
   */
  elsewhere?: Elsewhere;
}

/**
 * Compares a resource's live state with its baseline and the state keydrift stored last. Reports, in one finding,
 * the differences from the baseline that the stored state does not already show (drift no event explained), and the
 * drift the stored state shows that has gone away, each such attribute marked `back_to_baseline`: `drift` when
 * anything still newly drifts, `resolved` when everything it names is back, nothing when there is no news. The
 * eventId is derived from the differences and the stored state's version: the same drift seen again against the same
 * stored state is the same finding (deduped), while a drift that comes back after the state moved on is a new one.
 *
 * @example
 * // Stored state version 3 shows the key Enabled (as approved); live it is Disabled: critical drift.
 * reconcileResource({ baseline, live, previous, previousVersion: 3, nowMs }, surroundings, config);
 */
export function reconcileResource(
  input: ReconcileInput,
  surroundings: Surroundings,
  config: DetectionConfig,
): Finding | undefined {
  const { baseline, live, previous, previousVersion, nowMs } = input;
  // A difference the stored state already shows was reported when it was stored (by the detector from its event, or
  // by an earlier run): only what changed since is news.
  const known = (path: string) => {
    const stored = lookup(previous, path);
    return stored !== undefined && sameJson(stored, lookup(live, path));
  };
  const drifting = differingPaths(baseline, live, previous);
  // A multi-Region primary's approved deletion going on: a replica deleted, or the last, KMS dating the deletion.
  const step = withApprovedDeletionGoingOn(baseline, live, previous);
  const goingOn = (path: string) => !!step && sameJson(lookup(step, path), lookup(live, path));
  const news: TouchedPath[] = drifting
    .filter((path) => !known(path) && !goingOn(path))
    .map((path) => ({
      path,
      before: lookup(baseline, path),
      after: lookup(live, path),
      baseline: lookup(baseline, path),
    }));
  // Drift the stored state shows that live no longer has: that attribute's incident closes.
  const back: TouchedPath[] = (previous ? differingPaths(baseline, previous, previous) : [])
    .filter((path) => {
      const now = lookup(live, path);
      return now !== undefined && sameJson(now, lookup(baseline, path));
    })
    .map((path) => ({
      path,
      before: lookup(previous, path),
      after: lookup(live, path),
      baseline: lookup(baseline, path),
    }));
  const paths = [...news, ...back];
  // Recorded as planned when it is all there is to say (any drift beside it is reported as ever); the baseline follows.
  if (paths.length === 0 && step)
    return approvedDeletionGoingOn(input, step, drifting.filter(goingOn), surroundings, config);
  if (paths.length === 0) return undefined;
  // Known drift in a map attribute the finding names (another tag, another grant): the attribute is not back yet.
  const touched = new Set(paths.map((p) => splitPath(p.path).attribute));
  const untouchedDrift: TouchedPath[] = drifting
    .filter((path) => known(path) && touched.has(splitPath(path).attribute))
    .map((path) => ({ path, before: lookup(live, path), after: lookup(live, path), baseline: lookup(baseline, path) }));
  const idParts: unknown[] = paths.map((p) => [p.path, p.after]);
  if (previousVersion !== undefined) idParts.unshift({ previousVersion });
  const event = reconcileEvent(live.arn, RECONCILE_EVENT, idParts, nowMs);
  // A key found deleted, its deletion event missed: the deletion its baseline approves, carried out, is no drift.
  const deleted = live.kind === 'key' && live.attributes.key_state === 'Deleted';
  const approvedDeletion = deleted ? approvedDeletionDate(baseline, previous, { byMs: nowMs }) : undefined;
  return judge(
    {
      event,
      kind: live.kind,
      resource: live.arn,
      paths,
      creates: false,
      notes: deleted ? aliasesGoneWith(input, news) : deletionCancelled(input, news),
      untouchedDrift,
      approved: (path) => lookup(baseline, path),
      approvedElsewhere: input.elsewhere?.approved,
      knownElsewhere: input.elsewhere?.known,
      ...(approvedDeletion !== undefined ? { approvedDeletionDate: approvedDeletion } : {}),
    },
    surroundings,
    config,
  );
}

/**
 * A key found deleted, its deletion news (`news` has its state): the aliases KMS deleted with it, named on its
 * `key_state` change (`aliases_deleted`), as the detector names them from the deletion's event (core/effects.ts
 * `keyDeleted`): those the stored state (else the baseline) shows on the key, but any KMS lists on another key. The
 * run approves them gone with no finding of their own (`aliasGoneWithItsKey`), so this is their only record.
 */
function aliasesGoneWith(
  { baseline, previous, listedAliasTargets }: ReconcileInput,
  news: TouchedPath[],
): Record<string, Record<string, unknown>> {
  if (!news.some((p) => p.path === 'key_state')) return {};
  const owner = parseArn(baseline.arn);
  const elsewhere = (name: string) => {
    const target = owner && listedAliasTargets?.get(aliasArn(owner.region, owner.account, name));
    return !!target && target !== baseline.arn;
  };
  const names = Object.keys(mapEntries(previous ?? baseline, 'aliases'))
    .sort()
    .filter((name) => !elsewhere(name));
  return names.length ? { key_state: { aliases_deleted: names } } : {};
}

/**
 * A key found Disabled, its state news (`news` has it), whose stored state shows it pending deletion (PendingDeletion,
 * or a multi-Region primary's PendingReplicaDeletion, which has no date): KMS allows no other way from there to
 * Disabled than CancelKeyDeletion, so its `key_state` change says the deletion was cancelled (`deletion_cancelled`),
 * for the catalogue to weigh it as that record.
 */
function deletionCancelled(
  { live, previous }: ReconcileInput,
  news: TouchedPath[],
): Record<string, Record<string, unknown>> {
  const left = lookup(previous, 'key_state');
  if (!news.some((p) => p.path === 'key_state') || live.attributes.key_state !== 'Disabled' || !isPendingDeletion(left))
    return {};
  return { key_state: { deletion_cancelled: true } };
}

/**
 * The finding of a step of a multi-Region primary's approved deletion (`step`, `withApprovedDeletionGoingOn`): dated
 * by KMS, its last replica deleted, or a replica deleted before the last. `planned`, naming
 * what the step changed (`paths`): the key state, the date and the replica gone, or the replicas gone. A `Reconcile`
 * finding as any other (its id from what it names and the stored state's version, so the same step seen again is
 * deduped), not an event name of its own: each is a graph on the dashboard, which the free tier's 50 metrics leave no
 * room for. Recorded rather than silent, as every move of a baseline is: the history shows where the approved state
 * the primary is later compared with (its date, its replicas) came from.
 */
function approvedDeletionGoingOn(
  { baseline, live, previousVersion, nowMs }: ReconcileInput,
  step: ResourceSnapshot,
  paths: string[],
  surroundings: Surroundings,
  config: DetectionConfig,
): Finding {
  const touched = paths.map((path) => ({
    path,
    before: lookup(baseline, path),
    after: lookup(live, path),
    baseline: lookup(baseline, path),
  }));
  const idParts: unknown[] = touched.map((p) => [p.path, p.after]);
  if (previousVersion !== undefined) idParts.unshift({ previousVersion });
  const event = reconcileEvent(live.arn, RECONCILE_EVENT, idParts, nowMs);
  return judge(
    {
      event,
      kind: 'key',
      resource: live.arn,
      paths: touched,
      creates: false,
      notes: {},
      ...(lookup(step, 'key_state') === 'PendingDeletion'
        ? { approvedDeletionDated: String(lookup(step, 'deletion_date')) }
        : { approvedReplicasDeleted: paths.map((path) => splitPath(path).entry ?? path) }),
    },
    surroundings,
    config,
  );
}

/**
 * A resource the reconciler found with no baseline after the adoption sweep (its creation event was missed): a
 * `warning` drift finding (raised by the escalation rules, e.g. a policy open to another account), listing its
 * whole state. The caller makes that state its baseline. The eventId is derived from the state, so the same
 * appearance seen again is deduped.
 */
export function unbaselinedResource(
  live: ResourceSnapshot,
  nowMs: number,
  surroundings: Surroundings,
  config: DetectionConfig,
): Finding {
  const paths: TouchedPath[] = Object.keys(live.attributes)
    .sort()
    .map((path) => ({ path, before: undefined, after: lookup(live, path), baseline: undefined }));
  const event = reconcileEvent(live.arn, UNBASELINED_EVENT, ['appeared', live.attributes], nowMs);
  return judge({ event, kind: live.kind, resource: live.arn, paths, creates: true, notes: {} }, surroundings, config);
}

/** What depends on a key, named in deletion reminders. */
export interface KeyDependents {
  trails: string[];
  /** True when keydrift itself encrypts its table, topics or queue with the key. */
  usedByKeydrift: boolean;
}

/**
 * A reminder for a key pending deletion, 7, 3 and 1 days before its deletion date (the last threshold
 * crossed and not yet sent), with the exact command that cancels the deletion.
 */
export function deletionReminder(
  live: ResourceSnapshot,
  nowMs: number,
  dependents: KeyDependents,
  surroundings: Surroundings,
  config: DetectionConfig,
  baseline?: ResourceSnapshot,
): Finding | undefined {
  const state = lookup(live, 'key_state');
  const date = lookup(live, 'deletion_date');
  if (state !== 'PendingDeletion' || typeof date !== 'string') return undefined;
  const daysLeft = (Date.parse(date) - nowMs) / DAY_MS;
  const threshold = [...REMINDER_DAYS].reverse().find((days) => daysLeft <= days);
  if (threshold === undefined || daysLeft <= 0) return undefined;
  const approvedState = baseline && lookup(baseline, 'key_state');
  const approved = approvedState === 'PendingDeletion' && lookup(baseline, 'deletion_date') === date;
  const eventName = approved ? APPROVED_DELETION_REMINDER_EVENT : DELETION_REMINDER_EVENT;
  const event = reconcileEvent(live.arn, eventName, [date, threshold], nowMs);
  const finding = judge(
    {
      event,
      kind: 'key',
      resource: live.arn,
      paths: [{ path: 'deletion_date', before: date, after: date, baseline: undefined }],
      creates: false,
      notes: {
        deletion_date: {
          before: date,
          after: date,
          days_left: Math.ceil(daysLeft),
          reminder: `${threshold} day${threshold === 1 ? '' : 's'}`,
          dependent_trails: dependents.trails,
          used_by_keydrift: dependents.usedByKeydrift,
        },
      },
    },
    surroundings,
    config,
  );
  const region = shellQuote(parseArn(live.arn)?.region ?? live.arn);
  const cancel = `aws kms cancel-key-deletion --key-id ${shellQuote(live.arn)} --region ${region}`;
  // Back to the approved state: cancelling leaves the key Disabled, which may be what was approved.
  finding.remediation = approved
    ? [comment(`the deletion is approved; to keep the key after all: ${cancel}`)]
    : remediationFor('key', live.arn, [
        { path: 'key_state', current: state, target: approvedState === 'PendingDeletion' ? undefined : approvedState },
      ]);
  return finding;
}
