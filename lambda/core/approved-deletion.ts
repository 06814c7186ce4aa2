import { isPendingDeletion } from './catalog';
import { lookup, splitPath } from './state';
import type { ResourceSnapshot } from './types';

/**
 * How long after a key's deletion date KMS may still be deleting it. KMS deletes the key itself once the waiting period
 * is over, as work of its own (DeleteKey, an AWS service event), minutes to hours after the date: a day leaves room
 * for that. A deletion that comes later, or before the date, is not the schedule approved (it was cancelled and
 * scheduled again, unseen); one scheduled again that keydrift saw is told apart by the state it stored.
 */
export const DELETION_LAG_MS = 24 * 60 * 60 * 1000;

/**
 * KMS's shortest waiting period (ScheduleKeyDeletion takes 7 to 30 days): a multi-Region primary scheduled while it had
 * replicas waits for their deletion, then this long at least, so it is never deleted sooner after its schedule.
 */
export const MIN_WAITING_PERIOD_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * The key state of a multi-Region primary scheduled for deletion while it has replicas: no deletion date until the last
 * of them is deleted, when KMS moves it to PendingDeletion, dated the waiting period after, with no event of its own.
 */
const AWAITING_REPLICAS = 'PendingReplicaDeletion';

/**
 * When keydrift knows a key was deleted: at the time of its deletion event (`atMs`), or, for a read that found it gone,
 * by the time of that read (`byMs`): a reconcile run may come days after the deletion it finds (its event missed), and
 * the state it stored last, which still shows the approved pending deletion, is what tells the deletion apart then.
 */
export type DeletedWhen = { atMs: number } | { byMs: number };

/**
 * The deletion date a key's baseline approves (`baseline`: pending deletion on that date, as a planned principal
 * scheduled it), when the key's deletion is that schedule carried out: it happened at or after the date (and, when its
 * time is known, no later than `DELETION_LAG_MS` after it), and the state keydrift stored last (`stored`), where it
 * knows them, still shows the approved pending deletion: one cancelled and scheduled again for another date, or never
 * approved, is not. `null` for a multi-Region primary approved waiting for its replicas (PendingReplicaDeletion), its
 * date never seen (no run read it dated): approved too when the state stored last still shows that wait and the
 * deletion came no sooner than KMS's shortest waiting period after its approval. `undefined` for any other deletion,
 * which stays drift.
 */
export function approvedDeletionDate(
  baseline: ResourceSnapshot | undefined,
  stored: ResourceSnapshot | undefined,
  when: DeletedWhen,
): string | null | undefined {
  const deletedMs = 'atMs' in when ? when.atMs : when.byMs;
  const storedState = lookup(stored, 'key_state');
  if (storedState !== undefined && storedState !== lookup(baseline, 'key_state')) return undefined;
  if (lookup(baseline, 'key_state') === AWAITING_REPLICAS) {
    const approvedMs = Date.parse(baseline?.approvedAt?.key_state ?? '');
    return approvedMs + MIN_WAITING_PERIOD_MS <= deletedMs ? null : undefined;
  }
  const date = lookup(baseline, 'deletion_date');
  if (!isPendingDeletion(lookup(baseline, 'key_state')) || typeof date !== 'string') return undefined;
  const dateMs = Date.parse(date);
  if (Number.isNaN(dateMs)) return undefined;
  if (deletedMs < dateMs || ('atMs' in when && when.atMs > dateMs + DELETION_LAG_MS)) return undefined;
  const storedDate = lookup(stored, 'deletion_date');
  if (storedDate !== undefined && (typeof storedDate !== 'string' || Date.parse(storedDate) !== dateMs))
    return undefined;
  return date;
}

/**
 * The baseline of a multi-Region primary approved waiting for its replicas (PendingReplicaDeletion, no date) once
 * keydrift saw the wait interrupted: `state`, an event's or a read's, shows the key out of pending deletion (cancelled,
 * by someone no one planned: a planned cancel moves the baseline itself). The approval is spent. KMS takes a schedule
 * made again on as a new wait, with no date either, exactly as the one approved: only its baseline tells them apart.
 * The key stays approved for deletion, on no date keydrift knows (PendingDeletion, no date), as an ordinary key's
 * baseline keeps the approved date, which no schedule made again matches: the new wait is drift, and so are its steps
 * and its deletion (neither `withApprovedDeletionGoingOn` nor `approvedDeletionDate` approves them). A planned
 * principal scheduling the deletion again approves the new wait. `undefined` for any other key or state, and for an
 * event (`atMs`, its time) older than the approval: delivered late, it interrupted a wait a planned schedule made since
 * replaced (as `approve` keeps a newer planned change), not the wait approved now.
 */
export function withApprovedWaitSpent(
  baseline: ResourceSnapshot,
  state: ResourceSnapshot | undefined,
  atMs?: number,
): ResourceSnapshot | undefined {
  const now = lookup(state, 'key_state');
  if (lookup(baseline, 'key_state') !== AWAITING_REPLICAS || now === undefined) return undefined;
  if (atMs !== undefined && Date.parse(baseline.approvedAt?.key_state ?? '') > atMs) return undefined;
  if (isPendingDeletion(now) || now === 'Deleted') return undefined;
  return { ...baseline, attributes: { ...baseline.attributes, key_state: 'PendingDeletion', deletion_date: null } };
}

/** The baseline of a key whose approved deletion was carried out: approved Deleted, as the deletion left it. */
export function approvedDeleted(baseline: ResourceSnapshot): ResourceSnapshot {
  return { ...baseline, attributes: { ...baseline.attributes, key_state: 'Deleted', deletion_date: null } };
}

/** The paths of a key's replica Regions, present or gone. */
const replicaPaths = (snapshot: ResourceSnapshot) =>
  Object.keys(snapshot.attributes).filter((path) => splitPath(path).attribute === 'replica_regions');

/**
 * The baseline of a multi-Region primary approved waiting for its replicas (PendingReplicaDeletion, as a planned
 * principal scheduled it), moved along as the read `live` shows KMS took the schedule on. No event in the primary's
 * Region records either step:
 * - a replica deleted before the last (its deletion is recorded, and judged, in the replica's own Region): the
 *   replicas the read shows gone are approved gone, while the read still shows the wait (a replica added is not taken);
 * - the last replica deleted: KMS dates the key (PendingDeletion on the date it set, the read listing no replica), and
 *   that date and the replicas gone are approved. Its deletion on that date is then approved as any other
 *   (`approvedDeletionDate`).
 *
 * Only while the state keydrift stored last (`stored`), where it knows it, still shows the wait, and for the replicas it
 * still shows: one it stored gone already was reported then, as drift, and stays so. `undefined` otherwise: a wait never
 * approved, or one keydrift saw cancelled, stays drift, as does a read showing no step.
 */
export function withApprovedDeletionGoingOn(
  baseline: ResourceSnapshot,
  live: ResourceSnapshot,
  stored: ResourceSnapshot | undefined,
): ResourceSnapshot | undefined {
  if (live.kind !== 'key' || lookup(baseline, 'key_state') !== AWAITING_REPLICAS) return undefined;
  const storedState = lookup(stored, 'key_state');
  if (storedState !== undefined && storedState !== AWAITING_REPLICAS) return undefined;
  const attributes: Record<string, unknown> = { ...baseline.attributes };
  // A replica the stored state already shows gone was judged when it was stored: deleted while the wait was cancelled
  // (the key read Disabled), it was reported as drift then, and the wait taken up again later does not approve it.
  const goneFromLive = replicaPaths(baseline).filter(
    (path) => lookup(live, path) === null && !(baseline.attributes[path] && lookup(stored, path) === null),
  );
  if (lookup(live, 'key_state') === AWAITING_REPLICAS) {
    const gone = goneFromLive.filter((path) => baseline.attributes[path]);
    if (gone.length === 0) return undefined;
    for (const path of gone) attributes[path] = null;
    return { ...baseline, attributes };
  }
  const date = lookup(live, 'deletion_date');
  if (lookup(live, 'key_state') !== 'PendingDeletion' || typeof date !== 'string' || Number.isNaN(Date.parse(date)))
    return undefined;
  if (replicaPaths(live).some((path) => live.attributes[path])) return undefined;
  for (const path of goneFromLive) attributes[path] = null;
  return { ...baseline, attributes: { ...attributes, key_state: 'PendingDeletion', deletion_date: date } };
}
