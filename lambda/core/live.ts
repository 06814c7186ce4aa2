import { TRANSIENT_STATES } from './detector';
import type { Effect } from './effects';
import type { MemoryStore } from './memory-store';
import { stableJson } from './policy';
import { emptySnapshot, lookup } from './state';
import type { ResourceSnapshot } from './types';

/**
 * Paths the event set that the live read does not show yet. KMS reads are eventually consistent: a
 * non-empty answer right after an event means "read again shortly", not drift.
 */
export function pathsNotYetVisible(effect: Effect, live: ResourceSnapshot): string[] {
  return Object.entries(effect.set)
    .filter(([path, value]) => {
      const seen = lookup(live, path);
      return seen !== undefined && stableJson(seen) !== stableJson(value);
    })
    .map(([path]) => path);
}

/**
 * After the live detector judged an event, the live read becomes the known state of the resource, and
 * the paths its baseline does not know yet are adopted from it: they were not part of this change, and
 * this is the first time keydrift sees them. (The attributes the event touched keep what the core
 * decided: inferred, unknown, or moved by a planned change.)
 */
export function settleWithLive(store: MemoryStore, effect: Effect, live: ResourceSnapshot): void {
  store.putState(live);
  const baseline = store.baseline(live.arn) ?? emptySnapshot(live.kind, live.arn);
  for (const [path, value] of Object.entries(live.attributes)) {
    if (path in effect.set || baseline.unknownPaths?.includes(path)) continue;
    // A key caught pending deletion by this read was not approved that way (a later event will say who did it).
    if (TRANSIENT_STATES.has(value) || (path === 'deletion_date' && value !== null)) continue;
    if (lookup(baseline, path) === undefined) baseline.attributes[path] = value;
  }
  baseline.completeMaps = [...new Set([...baseline.completeMaps, ...live.completeMaps])];
  store.putBaseline(baseline);
}
