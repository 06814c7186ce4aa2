import { isPlannedPrincipal } from './actor';
import { approvedDeletionDate, withApprovedWaitSpent } from './approved-deletion';
import { aliasArn, customKeyStoreArn, isAliasArn, keyArn, trailArn } from './arn';
import type { DetectionConfig } from './config';
import { type Effect, effectOf, resolveKeyArn } from './effects';
import { judge, type TouchedPath } from './judge';
import type { MemoryStore } from './memory-store';
import { ownerElsewhere } from './owner';
import { stableJson } from './policy';
import { grantManagedByService } from './rules/ServiceGrantsAreRoutine';
import { emptySnapshot, isGrantEntry, isPathOf, lookup, MAP_ATTRIBUTES, splitPath } from './state';
import type { AttributeMap, ChangeEvent, Finding, ResourceSnapshot } from './types';

/** States that are never inferred as an approved baseline: a key is not approved to be pending deletion. */
export const TRANSIENT_STATES: ReadonlySet<unknown> = new Set([
  'PendingDeletion',
  'PendingReplicaDeletion',
  'Creating',
  'Updating',
]);

/**
 * What an adoption may approve of a resource's live state (the reconciler's, `keydrift baseline adopt`'s): never a key
 * state in passing (pending deletion, creating, updating). A key caught so is approved working (Enabled, no deletion
 * date), as the detector approves an unplanned creation: a pending deletion is open drift, reminded as unapproved and
 * reported when it happens; cancelling it and enabling the key bring it back, and a later DisableKey is drift again.
 * Nor `Unavailable`, a custom key store's disconnection rather than the key's own state: that state is left unknown,
 * and approved as first seen once the store is connected.
 */
export function approvable(snapshot: ResourceSnapshot): ResourceSnapshot {
  if (snapshot.attributes.key_state === 'Unavailable') return withoutKeyState(snapshot);
  if (!TRANSIENT_STATES.has(snapshot.attributes.key_state)) return snapshot;
  return { ...snapshot, attributes: { ...snapshot.attributes, key_state: 'Enabled', deletion_date: null } };
}

/** `snapshot` with its key state unknown. */
export function withoutKeyState(snapshot: ResourceSnapshot): ResourceSnapshot {
  const { key_state: _unknown, ...attributes } = snapshot.attributes;
  return { ...snapshot, attributes };
}

/**
 * `approvable`, over the baseline a resource already has (`keydrift baseline adopt` run again): a key caught in passing
 * keeps the state and deletion date approved for it. A deletion an operator accepted stays approved, and a key approved
 * Disabled stays so; neither is approved working, which would resolve the pending deletion's incident. What its read
 * does not show (KMS hides a key's rotation while it is pending deletion) keeps its approved value. So does a key read
 * `Unavailable` (its store disconnected), whose state is not its own either.
 */
export function approvableOver(snapshot: ResourceSnapshot, baseline: ResourceSnapshot | undefined): ResourceSnapshot {
  const state = snapshot.attributes.key_state;
  if (!(TRANSIENT_STATES.has(state) || state === 'Unavailable') || !baseline) return approvable(snapshot);
  // What KMS hides from the read of a key in passing (its rotation, while it is pending deletion) stays as approved.
  const hidden = Object.entries(baseline.attributes).filter(
    ([path]) => splitPath(path).entry === undefined && !(path in snapshot.attributes),
  );
  const read = { ...snapshot, attributes: { ...Object.fromEntries(hidden), ...snapshot.attributes } };
  const approved = baseline.attributes.key_state;
  // Only a state no one chooses (creating, updating; a store's disconnection, approved before keydrift knew better) is
  // no approval to keep.
  const chosen = typeof approved === 'string' && !['Creating', 'Updating', 'Unavailable'].includes(approved);
  if (!chosen) return approvable(read);
  const deletionDate = baseline.attributes.deletion_date ?? null;
  return { ...read, attributes: { ...read.attributes, key_state: approved, deletion_date: deletionDate } };
}

/**
 * What an operator's accept approves of a resource's read: all of it, as read (a pending deletion too), but a key read
 * `Unavailable`, whose state is its store's connection: that is taken as adopt takes it ({@link approvableOver}).
 */
export function acceptable(snapshot: ResourceSnapshot, baseline: ResourceSnapshot | undefined): ResourceSnapshot {
  return snapshot.attributes.key_state === 'Unavailable' ? approvableOver(snapshot, baseline) : snapshot;
}

/**
 * The detection core's main loop for one event: work out what it changed, infer or read the baseline,
 * judge the change, then move the state (and, for planned changes and creations, the baseline).
 */
export class Detector {
  constructor(
    private readonly config: DetectionConfig,
    private readonly store: MemoryStore,
  ) {}

  observe(event: ChangeEvent): Finding {
    return this.judgeEffect(event, this.effectOf(event));
  }

  /** `observe`, unless the event changed another account's resource: the owner's copy is judged (`ownerElsewhere`). */
  observeOwn(event: ChangeEvent): Finding | undefined {
    const effect = this.effectOf(event);
    return ownerElsewhere(event, effect.resource) ? undefined : this.judgeEffect(event, effect);
  }

  private judgeEffect(event: ChangeEvent, effect: Effect): Finding {
    const denied = !!event.errorCode;
    const state = this.store.snapshot(effect.resource) ?? emptySnapshot(effect.kind, effect.resource);
    const approved = this.store.baseline(effect.resource);
    // A trail deleted and created again under its name is judged against the trail that was approved, and an
    // unplanned re-creation does not replace that approval (trail ARNs are names; key and key store ids are new).
    const recreatesApproved = !!effect.creates && approved?.attributes.trail === 'exists';
    const baseline = approved ?? emptySnapshot(effect.kind, effect.resource);
    // The state's paths, listed once for the scans below: a key may hold thousands of grants.
    const statePaths = Object.keys(state.attributes);
    if (!denied) this.takeBackRestoredGrants(effect, state, baseline, statePaths);
    // Grants whose end is approved already: created before it (KMS never reuses a grant id), their CreateGrant
    // delivered after it. (Taken before the change settles a grant's approved value as the one before it.)
    const endedFirst = Object.keys(effect.set).filter(
      (path) =>
        isGrantEntry(path) &&
        effect.set[path] !== null &&
        Object.hasOwn(baseline.attributes, path) &&
        baseline.attributes[path] === null,
    );
    // The grants this event ends that neither the state held nor the baseline approved: their CreateGrant, delivered
    // late, is still to come. (One the baseline approved was judged already: a read made after the end may have left
    // it out of the state.)
    const endedUnseen = Object.keys(effect.set).filter(
      (path) => isGrantEntry(path) && effect.set[path] === null && !lookup(state, path) && !lookup(baseline, path),
    );
    // Of those, the ones a grants map the baseline knows whole shows absent (and the state holds no end of), ended by a
    // caller no one planned (nor an AWS service ending its own grant): only their CreateGrant tells whether they were
    // approved (a service's routine grant is); the map, known before they were made, cannot. Judged against it, such
    // an end changed nothing; judged against no approved value, it is drift, as after an approved CreateGrant judged
    // first.
    const approvedEnd =
      denied ||
      isPlannedPrincipal(event.actor, this.config.plannedPrincipals) ||
      !!grantManagedByService({ event, changes: {} });
    const endedUnknown = approvedEnd
      ? []
      : endedUnseen.filter((path) => lookup(baseline, path) === null && !Object.hasOwn(state.attributes, path));
    const paths: TouchedPath[] = Object.entries(effect.set).map(([path, after]) => {
      // A path a read made when or after this change saw first: the state that read left (stored in the second of
      // this change, so not set aside as saved after it) may show the change itself, not what was before it.
      const unseen = !denied && unseenSince(baseline, path, event);
      // Neither the grant it ended nor its approval is known yet: its CreateGrant settles both.
      if (!unseen && endedUnknown.includes(path)) return { path, before: undefined, after, baseline: undefined };
      const known = unseen ? undefined : lookup(state, path);
      const before = known !== undefined ? known : effect.creates ? null : effect.implied[path];
      return { path, before, after, baseline: this.baselineFor(baseline, path, before, effect, denied, unseen) };
    });
    // KMS deleting a key at the end of the waiting period a planned principal scheduled: that approval carried out.
    const deletes = !denied && effect.kind === 'key' && effect.set.key_state === 'Deleted';
    const approvedDeletion = deletes ? approvedDeletionDate(baseline, state, { atMs: event.epochMs }) : undefined;
    const finding = judge(
      {
        event,
        kind: effect.kind,
        resource: effect.resource,
        paths,
        creates: !!effect.creates && !recreatesApproved,
        notes: effect.notes,
        untouchedDrift: untouchedDrift(paths, state, baseline, statePaths),
        approved: (path) => lookup(baseline, path),
        approvedElsewhere: (arn, path) => lookup(this.store.baseline(arn), path),
        knownElsewhere: (arn, path) => lookup(this.store.snapshot(arn), path),
        ...(approvedDeletion !== undefined ? { approvedDeletionDate: approvedDeletion } : {}),
      },
      this.store,
      this.config,
    );
    if (!denied)
      this.apply(event, effect, state, baseline, finding, {
        planned: isPlannedPrincipal(event.actor, this.config.plannedPrincipals),
        recreatesApproved,
        endedFirst,
        endedUnseen,
      });
    return finding;
  }

  /**
   * A grant created exactly as an approved grant that is gone (its remediation re-created it) takes that grant's
   * place in the baseline: KMS gives it a new id, but it is the approved grant back, not a new one.
   */
  private takeBackRestoredGrants(
    effect: Effect,
    state: ResourceSnapshot,
    baseline: ResourceSnapshot,
    statePaths: readonly string[],
  ): void {
    const created = Object.entries(effect.set).filter(
      ([path, value]) => isGrantEntry(path) && value && lookup(baseline, path) === undefined,
    );
    if (created.length === 0) return;
    // Only a grant the state knows ended can be one taken back: with none (a key's thousands of grants, all still
    // there), the baseline's grants are not scanned.
    const anyEnded =
      state.completeMaps.includes('grants') ||
      statePaths.some((path) => state.attributes[path] === null && isGrantEntry(path));
    if (!anyEnded) return;
    for (const [path, value] of created) {
      const wanted = stableJson(value);
      const gone = Object.keys(baseline.attributes).find(
        (approvedPath) =>
          isPathOf(approvedPath, 'grants') &&
          lookup(state, approvedPath) === null &&
          stableJson(baseline.attributes[approvedPath]) === wanted,
      );
      if (!gone) continue;
      delete baseline.attributes[gone];
      baseline.attributes[path] = value;
      this.store.putBaseline(baseline);
    }
  }

  private effectOf(event: ChangeEvent): Effect {
    return event.errorCode ? attemptedEffect(event, this.store) : effectOf(event, this.store);
  }

  /**
   * The approved value of a path. With none yet (or none a read made after the change may not have shown, `unseen`),
   * the first observed change settles it: the value before the change where the event implies it, and otherwise
   * unknown for good.
   */
  private baselineFor(
    baseline: ResourceSnapshot,
    path: string,
    before: unknown,
    effect: Effect,
    denied: boolean,
    unseen = false,
  ): unknown {
    const approved = unseen ? undefined : lookup(baseline, path);
    if (approved !== undefined || denied || baseline.unknownPaths?.includes(path)) return approved;
    if (before !== undefined && !(typeof before === 'string' && TRANSIENT_STATES.has(before))) {
      baseline.attributes[path] = before;
    } else if (!effect.creates) {
      baseline.unknownPaths = [...(baseline.unknownPaths ?? []), path];
    }
    this.store.putBaseline(baseline);
    return baseline.attributes[path];
  }

  private apply(
    event: ChangeEvent,
    effect: Effect,
    state: ResourceSnapshot,
    baseline: ResourceSnapshot,
    finding: Finding,
    {
      planned,
      recreatesApproved,
      endedFirst,
      endedUnseen,
    }: {
      planned: boolean;
      recreatesApproved: boolean;
      endedFirst: readonly string[];
      endedUnseen: readonly string[];
    },
  ) {
    Object.assign(state.attributes, effect.set);
    const createdMaps = [...(effect.knownMaps ?? MAP_ATTRIBUTES)];
    if (effect.creates) state.completeMaps = createdMaps;
    forget(state, effect.forgets);
    // Dated for the resource the event names (and the resources it changes with it, below), not for what a key's
    // deletion implies of its aliases, which KMS may not have done (an alias moved off the key first, its event delivered
    // after the deletion). What it leaves unknown too: an older event delivered late (an import before a rotation on
    // demand) does not set it.
    const stated = Object.keys(effect.set).filter((path) => !effect.inferred?.includes(path));
    dateChanges(state, [...stated, ...(effect.forgets ?? [])], effect.inferred ?? [], event);
    if (effect.stagedKeyMaterial !== undefined) recordStagedMaterial(state, effect.stagedKeyMaterial, event);
    this.store.putState(state);
    // A creation's state is its baseline (DESIGN: even an unplanned CreateKey, trail or key store: an unmanaged
    // resource); planned changes move it. An unplanned alias stays unapproved: it can redirect what callers encrypt.
    // An unplanned trail, key store or key for imported material is approved working (logging, connected, enabled),
    // not in its set-up state: otherwise a later StopLogging, DisconnectCustomKeyStore or DeleteImportedKeyMaterial
    // would read as back to its baseline.
    const adoptsCreation = effect.creates && (planned || (effect.kind !== 'alias' && !recreatesApproved));
    if (adoptsCreation || finding.status === 'planned') {
      // A creation too: delivered after a planned change that followed it, it must not put back what that changed.
      const values: AttributeMap = { ...effect.set, ...(effect.creates && !planned ? effect.createdFor : {}) };
      // A grant whose end is approved already stays ended: its CreateGrant was delivered after that end.
      for (const path of endedFirst) delete values[path];
      // What the working state leaves unknown (the material a key for import is to have) is not approved as it is now.
      const unknown = Object.keys(values).filter((path) => values[path] === undefined);
      for (const path of unknown) delete values[path];
      approve(baseline, values, event, { creates: effect.creates });
      baseline.unknownPaths = baseline.unknownPaths?.filter((p) => !(p in values));
      for (const path of unknown) delete baseline.attributes[path];
      if (unknown.length) baseline.unknownPaths = [...new Set([...(baseline.unknownPaths ?? []), ...unknown])];
      if (effect.creates) baseline.completeMaps = createdMaps;
      forget(baseline, effect.forgets);
      // An end whose CreateGrant is still to come stays, for it; one whose CreateGrant came is spent.
      const ended = [...Object.keys(values).filter((path) => !endedUnseen.includes(path)), ...endedFirst];
      dropEndedGrants(baseline, ended, event);
      this.store.putBaseline(baseline);
    } else {
      // A multi-Region primary's approved wait for its replicas cancelled by someone no one planned: the approval is
      // spent, and a wait scheduled again, which KMS shows exactly as the approved one, is not it. (Not by an event older
      // than the approval: delivered late, it interrupted an earlier wait. Nor by a change of something else, whose read
      // may lag behind the approved schedule: a cancel no event showed is the reconciler's to read.)
      const spent = 'key_state' in effect.set ? withApprovedWaitSpent(baseline, state, event.epochMs) : undefined;
      if (spent) this.store.putBaseline(spent);
    }
    for (const related of effect.related) {
      const relatedState = this.store.snapshot(related.resource) ?? emptySnapshot(related.kind, related.resource);
      const stateChangedAt = relatedState.changedAt?.target_key_id;
      Object.assign(relatedState.attributes, related.set);
      // Dated as the resource's own changes are (core/live.ts `settleRelated`): the alias entries on the keys an alias
      // moves between (a replica a ReplicateKey makes is dated too, but never saved in this Region).
      if (!related.alwaysApproved) dateChanges(relatedState, Object.keys(related.set), [], event);
      this.store.putState(relatedState);
      // A created resource's own baseline is its created state, but an unplanned creation never approves what it
      // does to other resources (an unplanned CreateAlias does not add the alias to its key's baseline). The aliases
      // KMS deleted with a key are approved gone however the key's deletion is judged (`alwaysApproved`), as gone with
      // it (`goneWithKey`: a move off it made before, delivered after, is still approved, but not one older than the
      // alias's last change known before the deletion, approved or not: a move back onto the key, even unplanned).
      if (planned || related.alwaysApproved) {
        const relatedBaseline = this.store.baseline(related.resource) ?? emptySnapshot(related.kind, related.resource);
        const changedBefore = latest(relatedBaseline.approvedAt?.target_key_id, stateChangedAt);
        approve(relatedBaseline, related.set, event);
        // One the deletion's read showed gone (`liveRead`) went with the key: no move made before it can bring it back.
        const readGone = lookup(this.store.liveRead(related.resource), 'target_key_id') === null;
        if (related.alwaysApproved && !readGone && relatedBaseline.approvedAt?.target_key_id === event.time)
          relatedBaseline.goneWithKey = { key: effect.resource, ...(changedBefore ? { changedBefore } : {}) };
        this.store.putBaseline(relatedBaseline);
      }
    }
  }
}

/**
 * Approves a planned change's (or an adopted creation's) `values` into the baseline, as of the event's time, except an
 * attribute or map entry (a tag, an alias on a key) a newer planned change already approved: one delivered late must
 * not undo the one that followed it (a TagResource delivered after the UntagResource of its tag). Grants are approved
 * as they come: services make and retire them all day, and their times would outgrow the item; KMS never reuses a grant
 * id, and the end approved before its CreateGrant is kept apart (`apply`'s `endedFirst`).
 */
function approve(
  baseline: ResourceSnapshot,
  values: AttributeMap,
  event: ChangeEvent,
  { creates = false }: { creates?: boolean } = {},
): void {
  // CloudTrail times are whole seconds. What a creation finds approved in its own second came after it (the replay
  // judges creations first too), but for the deletion of the trail or alias it creates again under its name (a name
  // cannot be created while it exists).
  const laterSameSecond = creates && !deletedAsApproved(baseline);
  if (baseline.firstSeenAt) baseline.firstSeenAt = withoutPaths(baseline.firstSeenAt, (path) => path in values);
  for (const [path, value] of Object.entries(values)) {
    if (isGrantEntry(path)) {
      baseline.attributes[path] = value;
      continue;
    }
    // An entry approved absent with its whole map (an accept: `approvedAsOf`) is dated under the map's name.
    const { attribute, entry } = splitPath(path);
    const last = latest(
      baseline.approvedAt?.[path],
      entry === undefined ? undefined : baseline.approvedAt?.[attribute],
    );
    if (last !== undefined && !movedOffBeforeItsKeyDeletion(baseline, path, value, event)) {
      const lastMs = Date.parse(last);
      if (lastMs > event.epochMs || (laterSameSecond && lastMs === event.epochMs)) continue;
    }
    baseline.attributes[path] = value;
    baseline.approvedAt = { ...baseline.approvedAt, [path]: event.time };
    if (path === 'target_key_id') delete baseline.goneWithKey;
  }
}

/**
 * Leaves out of `baseline` the grants of `paths` approved ended where their absence reads exactly as their end: AWS
 * services create and retire grants all day, and each kept as `null` (`grants#<id>`) grew the item until the store left
 * the key's grants out whole. In a grants map known whole an absent entry reads ended (`lookup`), but for an event
 * older than the map's first read (`firstSeenAt.grants`), which `unseenSince` judges as the read may have seen it; so
 * only an end newer than that read. KMS ends a grant once and never reuses its id: the only older event still to name
 * it is its CreateGrant, delivered late. The caller keeps the `null` of an end judged before it (neither the state held
 * the grant nor the baseline approved it), which that CreateGrant, planned, does not approve over (`apply`), and then
 * leaves out, spent.
 */
function dropEndedGrants(baseline: ResourceSnapshot, paths: readonly string[], event: ChangeEvent): void {
  const mapSeenAt = baseline.firstSeenAt?.grants;
  if (!baseline.completeMaps.includes('grants') || Date.parse(mapSeenAt ?? '') >= event.epochMs) return;
  for (const path of paths) {
    // Just approved: neither left unknown nor dated as first seen (`approve` cleared both).
    const ended = Object.hasOwn(baseline.attributes, path) && baseline.attributes[path] === null;
    if (isGrantEntry(path) && ended) delete baseline.attributes[path];
  }
}

/**
 * An alias approved gone with its key's deletion (`goneWithKey`), and `event` moving it to another key (`value`) after
 * its last change known before (approved or not): a move older than the deletion, delivered after it, is not overruled
 * by it. KMS deletes only the aliases still on the key, so one moved off first did not go with it.
 */
function movedOffBeforeItsKeyDeletion(
  baseline: ResourceSnapshot,
  path: string,
  value: unknown,
  event: ChangeEvent,
): boolean {
  const gone = baseline.goneWithKey;
  if (path !== 'target_key_id' || !gone || lookup(baseline, path) !== null) return false;
  if (typeof value !== 'string' || value === gone.key) return false;
  return gone.changedBefore === undefined || Date.parse(gone.changedBefore) <= event.epochMs;
}

/** The later of two times (ISO-8601), either possibly missing. */
function latest(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  return Date.parse(b) > Date.parse(a) ? b : a;
}

/**
 * A path a live read approved as first seen (`firstSeenAt`), the read made when or after `event` happened: the read
 * may have seen this change (its event delivered after the read), which no one approved. It is no longer approved, and
 * the change settles it as it settles any path without a baseline (the value before it, or unknown). So is an entry
 * the read showed absent from a map it was the first to show whole (dated under the map's name): a grant revoked or a
 * tag removed before the read. True when the path is no longer approved.
 */
function unseenSince(baseline: ResourceSnapshot, path: string, event: ChangeEvent): boolean {
  const seenAt = baseline.firstSeenAt?.[path];
  if (seenAt === undefined || Date.parse(seenAt) < event.epochMs) {
    const { attribute, entry } = splitPath(path);
    const mapSeenAt = entry === undefined ? undefined : baseline.firstSeenAt?.[attribute];
    const absentAsSeen = lookup(baseline, path) === null && !Object.hasOwn(baseline.attributes, path);
    return absentAsSeen && mapSeenAt !== undefined && Date.parse(mapSeenAt) >= event.epochMs;
  }
  delete baseline.attributes[path];
  if (baseline.firstSeenAt) baseline.firstSeenAt = withoutPaths(baseline.firstSeenAt, (seen) => seen === path);
  return true;
}

/**
 * Records in `state` the key material `staged` (`null`: none) the event leaves staged for the key's next on-demand
 * rotation, dated by the event (`stagedKeyMaterialAt`), unless an event newer than it set or cleared it already:
 * EventBridge does not keep order, and an older import (KMS stages one material at a time) or an older rotation
 * delivered after it was overtaken by it.
 */
function recordStagedMaterial(state: ResourceSnapshot, staged: string | null, event: ChangeEvent): void {
  if (state.stagedKeyMaterialAt && Date.parse(state.stagedKeyMaterialAt) > event.epochMs) return;
  if (staged) state.stagedKeyMaterial = staged;
  else delete state.stagedKeyMaterial;
  state.stagedKeyMaterialAt = event.time;
}

/**
 * Dates in `state` (`changedAt`), as of `event`, the `paths` it set or left unknown: each attribute, and each map entry
 * (a tag, a grant), present or removed (`null`, a dated absence), so that an older TagResource delivered after the
 * UntagResource of its tag does not put it back. Not a whole map an event leaves unknown: its entries' dates go with
 * them (`forget`). Paths an event only `inferred` from the state before it keep the date of the last event that stated
 * them (`Effect.inferred`), and are dated apart (`inferredAt`).
 */
function dateChanges(
  state: ResourceSnapshot,
  paths: readonly string[],
  inferred: readonly string[],
  event: ChangeEvent,
): void {
  const datable = (path: string) => !(MAP_ATTRIBUTES as readonly string[]).includes(path);
  const dated = paths.filter(datable);
  if (dated.length > 0) {
    // In place: a key's changedAt dates each of its grants, and a copy at each event grew with them.
    state.changedAt ??= {};
    for (const path of dated) state.changedAt[path] = event.time;
    if (state.inferredAt) state.inferredAt = withoutPaths(state.inferredAt, (path) => dated.includes(path));
  }
  const guessed = inferred.filter(datable);
  if (guessed.length > 0)
    state.inferredAt = { ...state.inferredAt, ...Object.fromEntries(guessed.map((path) => [path, event.time])) };
}

/** Leaves `attributes` (whole maps too) unknown in `snapshot`: neither stated nor known to be absent. */
function forget(snapshot: ResourceSnapshot, attributes: readonly string[] | undefined): void {
  if (!attributes?.length) return;
  const gone = (path: string) => attributes.includes(splitPath(path).attribute);
  for (const path of Object.keys(snapshot.attributes)) if (gone(path)) delete snapshot.attributes[path];
  snapshot.completeMaps = snapshot.completeMaps.filter((map) => !attributes.includes(map));
  if (snapshot.approvedAt) snapshot.approvedAt = withoutPaths(snapshot.approvedAt, gone);
  if (snapshot.unknownPaths) snapshot.unknownPaths = snapshot.unknownPaths.filter((path) => !gone(path));
  if (snapshot.firstSeenAt) snapshot.firstSeenAt = withoutPaths(snapshot.firstSeenAt, gone);
  if (snapshot.changedAt) snapshot.changedAt = withoutPaths(snapshot.changedAt, gone);
  if (snapshot.inferredAt) snapshot.inferredAt = withoutPaths(snapshot.inferredAt, gone);
}

/** The times of `times` (`approvedAt`, `firstSeenAt`, `changedAt`, `inferredAt`) but those of the paths `drop` names. */
function withoutPaths(times: Record<string, string>, drop: (path: string) => boolean): Record<string, string> {
  return Object.fromEntries(Object.entries(times).filter(([path]) => !drop(path)));
}

/** A trail or alias approved deleted (a trail's `trail`, an alias's `target_key_id` known to be no key). */
function deletedAsApproved(baseline: ResourceSnapshot): boolean {
  return (
    baseline.attributes.trail === 'deleted' || (baseline.kind === 'alias' && baseline.attributes.target_key_id === null)
  );
}

/**
 * The entries of the map attributes `paths` touch that the event did not touch and that differ from their known
 * approved value (a revoked grant leaves another, unapproved grant on the key). Each as a path at its value now.
 */
function untouchedDrift(
  paths: TouchedPath[],
  state: ResourceSnapshot,
  baseline: ResourceSnapshot,
  statePaths: readonly string[],
): TouchedPath[] {
  const touched = new Set(paths.map((p) => p.path));
  const maps = [
    ...new Set(paths.map((p) => splitPath(p.path)).flatMap(({ attribute, entry }) => (entry ? [attribute] : []))),
  ];
  if (maps.length === 0) return [];
  // By prefix, without splitting each path: a key may hold thousands of grants, scanned at each of its events.
  const untouchedIn = (path: string) => {
    for (const map of maps) if (isPathOf(path, map)) return !touched.has(path);
    return false;
  };
  const drift: TouchedPath[] = [];
  const compare = (path: string, now: unknown) => {
    if (now === undefined) return;
    const approved = lookup(baseline, path);
    // Absent on one side only differs without serializing (a key's thousands of unapproved grants, each event).
    const drifts =
      approved !== undefined &&
      now !== approved &&
      ((now === null) !== (approved === null) || stableJson(now) !== stableJson(approved));
    if (drifts) drift.push({ path, before: now, after: now, baseline: approved });
  };
  // The state's own paths (unchanged since listed): their values need no lookup.
  for (const path of statePaths) if (untouchedIn(path)) compare(path, state.attributes[path]);
  // An entry the state does not hold is unknown in it (no drift) but in a map it knows whole: only then are the
  // baseline's entries scanned too.
  if (maps.some((map) => state.completeMaps.includes(map))) {
    for (const path of Object.keys(baseline.attributes)) {
      if (!Object.hasOwn(state.attributes, path) && untouchedIn(path)) compare(path, lookup(state, path));
    }
  }
  return drift;
}

/**
 * A failed call changed nothing, but the finding still names what was tried and on what. Its effect is
 * worked out as if it had succeeded; when the record is too thin for that (a denied CreateKey has no
 * key yet), the attempt is reported on the resource it aimed at, without changes.
 */
function attemptedEffect(event: ChangeEvent, store: MemoryStore): Effect {
  try {
    return effectOf(event, store);
  } catch {
    const request = event.requestParameters;
    const empty = { set: {}, implied: {}, related: [], notes: {} };
    if (event.service === 'cloudtrail') {
      const name = String(request.name ?? request.trailName ?? '*');
      return {
        kind: 'trail',
        resource: name.startsWith('arn:') ? name : trailArn(event.region, event.account, name),
        ...empty,
      };
    }
    if (typeof request.customKeyStoreId === 'string') {
      return {
        kind: 'custom-key-store',
        resource: customKeyStoreArn(event.region, event.account, request.customKeyStoreId),
        ...empty,
      };
    }
    const key = resolveKeyArn(event, store, request.keyId);
    if (key) return { kind: 'key', resource: key, ...empty };
    // An alias keydrift has not seen resolve: the alias the caller named is the most precise resource known.
    const named = typeof request.keyId === 'string' ? request.keyId : '';
    if (isAliasArn(named) || named.startsWith('alias/')) {
      return {
        kind: 'alias',
        resource: isAliasArn(named) ? named : aliasArn(event.region, event.account, named),
        ...empty,
      };
    }
    return { kind: 'key', resource: keyArn(event.region, event.account, '*'), ...empty };
  }
}
