import { aliasNameOf, isAliasArn, isKeyArn, keyIdOf, parseArn } from './arn';
import type { AttributeMap, ResourceKind, ResourceSnapshot } from './types';

/**
 * Map attributes hold one entry per tag, grant, alias, replica Region or setting. Their entries are
 * tracked as paths `tags#owner`, so a change to one tag is known even when the other tags are not.
 * (`#` appears in no tag key, alias name, grant id or Region name.)
 */
export const MAP_ATTRIBUTES = ['tags', 'grants', 'aliases', 'replica_regions', 'configuration'] as const;
const SEPARATOR = '#';

export const entryPath = (attribute: string, entry: string): string => `${attribute}${SEPARATOR}${entry}`;

export function splitPath(path: string): { attribute: string; entry?: string } {
  const index = path.indexOf(SEPARATOR);
  return index < 0 ? { attribute: path } : { attribute: path.slice(0, index), entry: path.slice(index + 1) };
}

/** `splitPath(path).attribute`, without the object: for scans over a key's thousands of grants. */
export function attributeOf(path: string): string {
  const index = path.indexOf(SEPARATOR);
  return index < 0 ? path : path.slice(0, index);
}

/** `attributeOf(path) === attribute` (an attribute's name, with no `#`), by a prefix check. */
export function isPathOf(path: string, attribute: string): boolean {
  return path.startsWith(attribute) && (path.length === attribute.length || path[attribute.length] === SEPARATOR);
}

/** True for a grant's entry (`grants#<id>`). */
export function isGrantEntry(path: string): boolean {
  return path.startsWith(`grants${SEPARATOR}`);
}

/**
 * A path's value: `undefined` when unknown, `null` when known to be absent. An entry a baseline settled as unknown stays
 * so when a live read later shows its map whole: that read came after the change, and may show what the change did.
 */
export function lookup(snapshot: ResourceSnapshot | undefined, path: string): unknown {
  if (!snapshot) return undefined;
  if (Object.hasOwn(snapshot.attributes, path)) return snapshot.attributes[path];
  const { attribute, entry } = splitPath(path);
  const absent = entry !== undefined && snapshot.completeMaps.includes(attribute);
  return absent && !snapshot.unknownPaths?.includes(path) ? null : undefined;
}

export function emptySnapshot(kind: ResourceKind, arn: string): ResourceSnapshot {
  return { kind, arn, attributes: {}, completeMaps: [] };
}

/**
 * Flattens a whole state (maps as objects) into paths, marking every map as complete: what live reads
 * and reconciles produce.
 */
export function snapshotFromState(kind: ResourceKind, arn: string, state: Record<string, unknown>): ResourceSnapshot {
  const attributes: AttributeMap = {};
  const completeMaps: string[] = [];
  for (const [attribute, value] of Object.entries(state)) {
    if ((MAP_ATTRIBUTES as readonly string[]).includes(attribute) && value && typeof value === 'object') {
      completeMaps.push(attribute);
      for (const [entry, entryValue] of Object.entries(value as Record<string, unknown>)) {
        attributes[entryPath(attribute, entry)] = entryValue;
      }
    } else if (value !== undefined) {
      attributes[attribute] = value;
    }
  }
  return { kind, arn, attributes, completeMaps };
}

/**
 * What a baseline keeps of `snapshot`: its attributes and their dates, not the key material only live reads and events
 * tell (current, staged), which is never approved, nor when events changed the state (types.ts).
 */
export function baselinePart(snapshot: ResourceSnapshot): ResourceSnapshot {
  const {
    currentKeyMaterial: _current,
    stagedKeyMaterial: _staged,
    stagedKeyMaterialAt: _at,
    changedAt: _changed,
    inferredAt: _inferred,
    ...kept
  } = snapshot;
  return kept;
}

/**
 * `snapshot` as a baseline approved whole as of `time` (ISO-8601): an operator's accept. Each attribute and each map
 * entry but a grant is dated then (`approvedAt`), as a planned change dates what it approves, so that a planned change
 * made before the accept and delivered after it does not put its older value back. So is each map but the grants that
 * it shows whole, under the map's name: what the map lacks (a tag removed before the accept) is approved absent then.
 */
export function approvedAsOf(snapshot: ResourceSnapshot, time: string): ResourceSnapshot {
  const approvedAt: Record<string, string> = {};
  for (const path of Object.keys(snapshot.attributes)) if (!isGrantEntry(path)) approvedAt[path] = time;
  for (const map of snapshot.completeMaps) if (map !== 'grants') approvedAt[map] = time;
  return { ...snapshot, approvedAt };
}

/** Every path either snapshot knows, for whole-state comparisons. */
export function knownPaths(...snapshots: ResourceSnapshot[]): string[] {
  return [...new Set(snapshots.flatMap((s) => Object.keys(s.attributes)))].sort();
}

/** Entries of one map attribute that a snapshot knows, as an object. */
export function mapEntries(snapshot: ResourceSnapshot | undefined, attribute: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!snapshot) return out;
  const prefix = `${attribute}${SEPARATOR}`;
  // By key, not entry: a key's thousands of grants made a pair each, at each of its events.
  for (const path of Object.keys(snapshot.attributes)) {
    if (!path.startsWith(prefix)) continue;
    const value = snapshot.attributes[path];
    if (value !== null) out[path.slice(prefix.length)] = value;
  }
  return out;
}

/**
 * A resource as people know it: a key by its alias (`alias/payments`), else its key id; alias and trail names as
 * such. An approved alias names the key before any other, so an alias someone just added (`alias/0-test`) cannot
 * take over how alerts name it.
 */
export function labelOf(arn: string, state?: ResourceSnapshot, baseline?: ResourceSnapshot): string {
  if (isKeyArn(arn)) {
    const current = Object.keys(mapEntries(state, 'aliases')).sort();
    const approved = Object.keys(mapEntries(baseline, 'aliases')).sort();
    // An approved alias known to be gone from the key may name another key now.
    const notGone = (alias: string) => lookup(state, entryPath('aliases', alias)) !== null;
    const label = approved.find((alias) => current.includes(alias)) ?? approved.find(notGone) ?? current[0];
    return label ?? keyIdOf(arn);
  }
  if (isAliasArn(arn)) return aliasNameOf(arn);
  const resource = parseArn(arn)?.resource ?? arn;
  return resource.slice(resource.indexOf('/') + 1);
}

/**
 * `read` (a live read, which no KMS answer shows it in) with the key material `stored` knows staged for the key's next
 * on-demand rotation (core/effects.ts) and its date, so that its deletion is still told from one of the material the
 * key uses.
 */
export function withStagedMaterialOf(stored: ResourceSnapshot | undefined, read: ResourceSnapshot): ResourceSnapshot {
  const staged = stored?.stagedKeyMaterial;
  const at = stored?.stagedKeyMaterialAt;
  // Material the read names current is staged no more: a rotation made it current (its event maybe not judged yet).
  // Its date stays: an older import or rotation, delivered late, is overtaken still.
  const kept = {
    ...(staged && staged !== read.currentKeyMaterial ? { stagedKeyMaterial: staged } : {}),
    ...(at ? { stagedKeyMaterialAt: at } : {}),
  };
  return Object.keys(kept).length > 0 ? { ...read, ...kept } : read;
}

/**
 * `stored` without the key material it knows staged when `read` (KMS now) names that material current: EventBridge
 * does not keep order, and the rotation that made it current may be judged after a later deletion of it, which makes
 * the key PendingImport as the deletion of any material the key uses does.
 */
export function withoutStagedMadeCurrent(
  stored: ResourceSnapshot,
  read: ResourceSnapshot | undefined,
): ResourceSnapshot {
  const staged = stored.stagedKeyMaterial;
  if (!staged || read?.arn !== stored.arn || read.currentKeyMaterial !== staged) return stored;
  const { stagedKeyMaterial: _, ...rest } = stored;
  return rest;
}
