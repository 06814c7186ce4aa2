import type { Effect } from './effects';
import { boundedSummary } from './judge';
import type { MemoryStore } from './memory-store';
import { sameJson, stableJson } from './policy';
import { approvableFirstSeen, differingPaths, primaryOnlyOfReplica, withPrimaryMovedElsewhere } from './reconcile';
import { emptySnapshot, lookup, splitPath, withStagedMaterialOf } from './state';
import type { ChangeEvent, Finding, ResourceSnapshot } from './types';

/**
 * Paths the event set that the live read does not show yet. KMS reads are eventually consistent: a
 * non-empty answer right after an event means "read again shortly", not drift. A key read as gone after an event
 * that did not delete it counts too, by its `key_state`: KMS may answer NotFoundException for a while for a key it
 * has only just created, and that read shows none of the event, nor anything else of the key.
 */
export function pathsNotYetVisible(effect: Effect, live: ResourceSnapshot): string[] {
  const paths = Object.entries(effect.set)
    .filter(([path, value]) => {
      const seen = lookup(live, path);
      return seen !== undefined && stableJson(seen) !== stableJson(value);
    })
    .map(([path]) => path);
  const goneTooSoon = live.kind === 'key' && live.attributes.key_state === 'Deleted' && !('key_state' in effect.set);
  return goneTooSoon ? [...paths, 'key_state'] : paths;
}

/**
 * After the live detector judged an event, the live read becomes the known state of the resource (but for changes no
 * finding reported: `withoutUnreportedChanges`), and the paths its baseline does not know yet are adopted from it:
 * they were not part of this change, and this is the first time keydrift sees them; so is a multi-Region key's primary
 * Region moved between two other Regions, recorded there only (`primaryMovedElsewhere`), unless `previous` (the state
 * stored before the event) shows another primary than the approved one. (The attributes the event touched keep what
 * the core decided: inferred, unknown, or moved by a planned change.) Each path seen first is dated by the read
 * (`readAt`, no earlier than it ended: `firstSeenAt`), as the reconciler's `withFirstSeen` dates its own: an unplanned
 * change made before the read, its event delivered after, is not judged against what the read saw of it.
 */
export function settleWithLive(
  store: MemoryStore,
  effect: Effect,
  live: ResourceSnapshot,
  previous?: ResourceSnapshot,
  readAt?: string,
): void {
  const baseline = store.baseline(live.arn) ?? emptySnapshot(live.kind, live.arn);
  // A primary the stored state showed here (a promotion still drift) moved on from here: not a move elsewhere.
  const moved = withPrimaryMovedElsewhere(baseline, live, previous);
  // Compared with the baseline as it was: a primary moved elsewhere, approved below, is no drift of the stored state.
  const settled = withoutUnreportedChanges(live, baseline, effect, previous);
  // No read shows the material staged for a rotation (ListKeyRotations would): it stays as the core left it.
  store.putState(withStagedMaterialOf(store.snapshot(live.arn), settled));
  const firstSeenAt = { ...baseline.firstSeenAt };
  for (const [path, value] of Object.entries(live.attributes)) {
    // A key caught pending deletion by this read was not approved that way (a later event will say who did it).
    if (path in effect.set || !approvableFirstSeen(baseline, path, value)) continue;
    if (lookup(baseline, path) === undefined) {
      baseline.attributes[path] = value;
      if (readAt) firstSeenAt[path] = readAt;
    } else if (path === 'primary_region' && moved) baseline.attributes[path] = value;
  }
  const maps = live.completeMaps.filter((map) => !primaryOnlyOfReplica(baseline, map));
  // A map first seen whole is dated under its name: what it lacks (a grant revoked before the read) is first seen too.
  if (readAt) for (const map of maps) if (!baseline.completeMaps.includes(map)) firstSeenAt[map] = readAt;
  if (Object.keys(firstSeenAt).length > 0) baseline.firstSeenAt = firstSeenAt;
  baseline.completeMaps = [...new Set([...baseline.completeMaps, ...maps])];
  store.putBaseline(baseline);
}

/**
 * No read showed the resource (KMS refused keydrift, the key is gone): its state is what events set. What a newer
 * event set (`changedAt`), judged first, stays as it stored it: this older event, delivered late, was overtaken by it;
 * and a failed call, which changed nothing, leaves the stored state whole (`stored`: the state as loaded before the
 * event; the handler's `withoutLaterValues` only kept its values from being taken as the values before the event).
 */
export function settleWithoutLive(
  memory: MemoryStore,
  event: ChangeEvent,
  effect: Effect,
  stored: ResourceSnapshot | undefined,
): void {
  if (stored && event.errorCode) {
    memory.putState(structuredClone(stored));
    return;
  }
  const state = memory.snapshot(effect.resource);
  // What it leaves unknown (`forgets`: a rotation on demand, the material) too: the newer event set it since.
  const touches = (path: string) => path in effect.set || !!effect.forgets?.includes(splitPath(path).attribute);
  const after = (times: Record<string, string> | undefined) =>
    Object.keys(times ?? {}).filter((path) => touches(path) && Date.parse(times?.[path] ?? '') > event.epochMs);
  // What it only inferred (from the state the newer event left) keeps what the newer one inferred too.
  const newer = [
    ...after(stored?.changedAt),
    ...after(stored?.inferredAt).filter((path) => effect.inferred?.includes(path)),
  ];
  if (!stored || !state || newer.length === 0) return;
  keepNewer(memory, state, stored, newer);
}

/**
 * The keys an alias moves between (`Effect.related`, not the aliases a key's deletion implies gone): no read after the
 * event shows them, so what a newer event set of them (`changedAt`), judged first, stays as it stored it (`stored`: the
 * states as loaded before the event), as `settleWithoutLive` keeps it of the resource the event names. A CreateAlias
 * delivered after the DeleteAlias that followed it does not put the alias back on its key.
 */
export function settleRelated(
  memory: MemoryStore,
  event: ChangeEvent,
  effect: Effect,
  stored: (arn: string) => ResourceSnapshot | undefined,
): void {
  if (event.errorCode) return;
  for (const related of effect.related) {
    const before = stored(related.resource);
    const state = memory.snapshot(related.resource);
    if (related.alwaysApproved || !before || !state) continue;
    const newer = Object.keys(related.set).filter((path) => Date.parse(before.changedAt?.[path] ?? '') > event.epochMs);
    if (newer.length > 0) keepNewer(memory, state, before, newer);
  }
}

/** `state` with the values and times `stored` has for `paths`, stored in `memory`. */
function keepNewer(memory: MemoryStore, state: ResourceSnapshot, stored: ResourceSnapshot, paths: string[]): void {
  for (const path of paths) {
    if (path in stored.attributes) state.attributes[path] = stored.attributes[path];
    else delete state.attributes[path];
    state.changedAt = withTimeOf(state.changedAt, stored.changedAt, path);
    state.inferredAt = withTimeOf(state.inferredAt, stored.inferredAt, path);
  }
  memory.putState(state);
}

/** `times` with the time `from` has for `path`, or none when it has none. */
function withTimeOf(
  times: Record<string, string> | undefined,
  from: Record<string, string> | undefined,
  path: string,
): Record<string, string> | undefined {
  const { [path]: _dropped, ...others } = times ?? {};
  const kept = from?.[path] === undefined ? others : { ...others, [path]: from[path] };
  return Object.keys(kept).length ? kept : undefined;
}

/**
 * The live read as the state to store after judging an event, but for the changes the read shows that no finding
 * reported, on paths the event did not touch: drift (a live value that differs from its baseline and from the state
 * stored before, `previous`), such as a key disabled while its event never reached keydrift, read for a later
 * TagResource; and the end of drift the stored state shows (back at its baseline), such as that key enabled again
 * unseen. The reconciler takes what the stored state shows for reported (`reconcileResource`), so such a path keeps
 * its stored value, or stays unknown when there was none, and the reconciler's next run reports it as drift no event
 * explained, or resolved. An entry whose map the stored state did not know whole cannot be unknown in a map known
 * whole: that map is stored as not known whole, keeping the entries it knew absent.
 */
export function withoutUnreportedChanges(
  live: ResourceSnapshot,
  baseline: ResourceSnapshot,
  effect: Effect,
  previous: ResourceSnapshot | undefined,
): ResourceSnapshot {
  const explained = (path: string) => path in effect.set || !!effect.forgets?.includes(splitPath(path).attribute);
  // As the reconciler's `back`: drift the stored state shows that the read shows back at its baseline.
  const ended = previous
    ? differingPaths(baseline, previous, previous).filter((path) => {
        const now = lookup(live, path);
        return now !== undefined && sameJson(now, lookup(baseline, path));
      })
    : [];
  const unreported = [...new Set([...differingPaths(baseline, live, previous), ...ended])].filter((path) => {
    const stored = lookup(previous, path);
    return !explained(path) && (stored === undefined || !sameJson(stored, lookup(live, path)));
  });
  if (unreported.length === 0) return live;
  const attributes = { ...live.attributes };
  // Maps with an entry to leave unknown are no longer known whole; what the stored state knew absent stays so.
  const partial = new Set(
    unreported
      .map((path) => ({ path, ...splitPath(path) }))
      .filter(({ path, entry }) => entry !== undefined && lookup(previous, path) === undefined)
      .map(({ attribute }) => attribute),
  );
  for (const [path, value] of Object.entries(previous?.attributes ?? {})) {
    if (value === null && partial.has(splitPath(path).attribute) && !(path in attributes)) attributes[path] = null;
  }
  const completeMaps = live.completeMaps.filter((map) => !partial.has(map));
  for (const path of unreported) {
    const stored = lookup(previous, path);
    const knownAbsent = stored === null && completeMaps.includes(splitPath(path).attribute);
    if (stored === undefined || knownAbsent) delete attributes[path];
    else attributes[path] = stored;
  }
  return { ...live, attributes, completeMaps };
}

/**
 * The drift of an event judged after a later change that undid it (EventBridge does not keep order): each attribute
 * this event took away from its approved value, which the live read shows whole at that value again, is flagged
 * `since_undone`. With all of them so, nothing is left to
 * undo, and the summary and remediation say so. Status and severity stay: the call did drift the resource, and who
 * made it still matters.
 */
export function markUndone(
  finding: Finding,
  effect: Effect,
  live: ResourceSnapshot,
  baseline: ResourceSnapshot | undefined,
): void {
  if (finding.status !== 'drift' || !baseline) return;
  // The paths this event took away from their approved value: all back at it in the live state, and nothing else
  // of the attribute still drifting.
  const takenAway = Object.keys(effect.set).filter((path) => {
    const approved = lookup(baseline, path);
    return approved !== undefined && !sameJson(effect.set[path], approved);
  });
  const backNow = (path: string) => {
    const now = lookup(live, path);
    return now !== undefined && sameJson(now, lookup(baseline, path));
  };
  const stillDrifting = new Set(differingPaths(baseline, live).map((path) => splitPath(path).attribute));
  const undone = Object.keys(finding.changes).filter((attribute) => {
    const own = takenAway.filter((path) => splitPath(path).attribute === attribute);
    return own.length > 0 && own.every(backNow) && !stillDrifting.has(attribute);
  });
  for (const attribute of undone) finding.changes[attribute].since_undone = true;
  if (undone.length === 0 || undone.length < Object.keys(finding.changes).length) return;
  finding.summary = boundedSummary(`${finding.summary} (since undone: back at its baseline)`, finding);
  finding.remediation = [
    '# nothing to undo: a later change put it back at its approved state, as the live state shows',
  ];
}
