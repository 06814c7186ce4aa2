import type { MemoryStore } from '../core/memory-store';
import { entryPath } from '../core/state';
import type { ChangeEvent, ResourceSnapshot } from '../core/types';

/** What a replay set aside of one ended grant: its key, whether the key's baseline held it, its date in the state. */
interface Ended {
  arn: string;
  inBaseline: boolean;
  changedAt?: string;
}

/**
 * The grants a replay saw end, set aside from their key's state and baseline. AWS services create and retire grants
 * all day: kept as `null` entries (`grants#<id>`, dated in `changedAt`), they made every later event on the key scan
 * every grant it ever had, and a month of CloudTrail took hours. An ended grant the state and baseline both know as
 * ended (or the baseline not at all) tells nothing about any other path: no drift (`null` against `null`), no approved
 * grant to take back. KMS never reuses a grant id, but a later record may still name it (a retire tried again, or
 * recorded twice under two eventIDs): its entries are put back, as they were, before that event is judged. Replay
 * only: the live detector keeps a grant's dated end on a key it cannot read, so that its CreateGrant delivered after
 * it does not put it back.
 */
export class EndedGrants {
  private readonly ended = new Map<string, Ended[]>();

  constructor(private readonly store: MemoryStore) {}

  /** Puts back the entries of the ended grants `event` names, before it is judged. */
  restore(event: ChangeEvent): void {
    for (const id of grantIdsOf(event)) {
      const ended = this.ended.get(id);
      if (!ended) continue;
      this.ended.delete(id);
      for (const { arn, inBaseline, changedAt } of ended) {
        const path = entryPath('grants', id);
        const state = this.store.snapshot(arn);
        const baseline = this.store.baseline(arn);
        if (state) {
          state.attributes[path] = null;
          if (changedAt !== undefined) state.changedAt = Object.assign(state.changedAt ?? {}, { [path]: changedAt });
        }
        if (inBaseline && baseline) baseline.attributes[path] = null;
      }
    }
  }

  /** Sets aside the grants of key `arn` that `event` (judged) names and that are ended in its state and baseline. */
  setAside(event: ChangeEvent, arn: string): void {
    const state = this.store.snapshot(arn);
    if (state?.kind !== 'key') return;
    const baseline = this.store.baseline(arn);
    for (const id of grantIdsOf(event)) {
      const path = entryPath('grants', id);
      if (!endedIn(state, path) || (baseline && !endedOrAbsentIn(baseline, path))) continue;
      const inBaseline = !!baseline && Object.hasOwn(baseline.attributes, path);
      const changedAt = state.changedAt?.[path];
      delete state.attributes[path];
      // In place, as the detector dates changes: a key's changedAt may date thousands of grants.
      if (changedAt !== undefined) delete state.changedAt?.[path];
      if (inBaseline) delete baseline.attributes[path];
      const entry = { arn, inBaseline, ...(changedAt !== undefined ? { changedAt } : {}) };
      this.ended.set(id, [...(this.ended.get(id) ?? []), entry]);
    }
  }
}

/** The grant ids an event names: CreateGrant's answer, RetireGrant's and RevokeGrant's request. */
function grantIdsOf(event: ChangeEvent): string[] {
  const ids = [event.responseElements.grantId, event.requestParameters.grantId, event.additionalEventData.grantId];
  return [...new Set(ids.filter((id): id is string => typeof id === 'string' && id !== ''))];
}

/** `path` stated ended (`null`) in `snapshot`, and dated no other way than by `changedAt`. */
function endedIn(snapshot: ResourceSnapshot, path: string): boolean {
  return Object.hasOwn(snapshot.attributes, path) && snapshot.attributes[path] === null && unmarked(snapshot, path);
}

/** `path` ended (`null`) or not held at all in `snapshot` (a baseline), and marked no other way. */
function endedOrAbsentIn(snapshot: ResourceSnapshot, path: string): boolean {
  const value = Object.hasOwn(snapshot.attributes, path) ? snapshot.attributes[path] : null;
  return value === null && unmarked(snapshot, path);
}

/** `path` neither left unknown nor dated as first seen, approved or inferred. */
function unmarked(snapshot: ResourceSnapshot, path: string): boolean {
  return (
    !snapshot.unknownPaths?.includes(path) &&
    snapshot.firstSeenAt?.[path] === undefined &&
    snapshot.approvedAt?.[path] === undefined &&
    snapshot.inferredAt?.[path] === undefined
  );
}
