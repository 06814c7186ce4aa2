import {
  aliasArn,
  customKeyStoreArn,
  isAliasArn,
  isKeyArn,
  keyArn,
  keyIdOf,
  parseArn,
  partitionOf,
  trailArn,
} from './arn';
import { isPendingDeletion } from './catalog';
import { RecordError } from './errors';
import { ownEntry } from './own';
import { defaultKeyPolicy, diffPolicies, normalizePolicy } from './policy';
import { entryPath, lookup, MAP_ATTRIBUTES, mapEntries } from './state';
import { parseAwsDate, toIsoSeconds } from './time';
import type { ChangeEvent, ResourceKind, ResourceSnapshot } from './types';

/** What the detection core may ask about resources other than the one an event names. */
export interface World {
  snapshot(arn: string): ResourceSnapshot | undefined;
  /** The key ARN an alias ARN points to, when known. */
  aliasTarget(aliasArn: string): string | undefined;
  /** What KMS showed of a resource when it was read after the event (the live detector); the replay reads nothing. */
  liveRead?(arn: string): ResourceSnapshot | undefined;
  /**
   * The live read when the live detector takes it as the truth over the event: its re-reads ran out still not showing
   * what the event set (or a later change was judged already), so it is no read lag. `undefined` for a first read.
   */
  settledRead?(arn: string): ResourceSnapshot | undefined;
}

/**
 * What an unplanned creation is approved as, over the set-up state it leaves (`Effect.createdFor`): working. A key for
 * imported material waits for its creator's import, a new trail for its StartLogging, a new custom key store for its
 * connection; approving those states would make a later DeleteImportedKeyMaterial, StopLogging or
 * DisconnectCustomKeyStore read as a return to the baseline. For the reconciler too, of a resource found unseen.
 * `undefined`: not approved as it is, and unknown (the material a key for import is to have is its creator's choice).
 */
export function workingState(
  kind: ResourceKind,
  attributes: Record<string, unknown>,
): Record<string, unknown> | undefined {
  if (kind === 'key' && attributes.key_state === 'PendingImport')
    return { key_state: 'Enabled', key_material: undefined };
  if (kind === 'trail' && attributes.logging === false) return { logging: true };
  if (kind === 'custom-key-store' && attributes.connection_state === 'DISCONNECTED') {
    return { connection_state: 'CONNECTED' };
  }
  return undefined;
}

/** How one event changes state: the resource it names and the attribute paths it sets. */
export interface Effect {
  kind: ResourceKind;
  resource: string;
  /** Attribute path → the value after the event. */
  set: Record<string, unknown>;
  /** Attribute path → the value the event implies it had before (DisableKey ⇒ it was Enabled). */
  implied: Record<string, unknown>;
  /** The event created the resource: nothing existed before, and its maps are now known in full. */
  creates?: boolean;
  /** The maps a creation knows in full, when not all of them: a replica key's replica Regions are its primary's. */
  knownMaps?: readonly string[];
  /**
   * Attributes (whole maps too) the event leaves unknown: a primary key made a replica no longer knows its replica
   * Regions and rotation, which its new primary changes from another Region's log. Forgotten by the state, and by the
   * baseline when the change is approved, so that the live read takes them again once it is the primary.
   */
  forgets?: readonly string[];
  /**
   * Paths of `set` whose value the record does not state but the state before the event decides (a key's state after
   * an import of its material, or its deletion): not dated as the event's (`changedAt`), so that an older event
   * delivered late, which may have made that state before, still sets them.
   */
  inferred?: readonly string[];
  /**
   * Set-up states a creation leaves behind and the value the resource is created for: a trail is created not
   * logging, a custom key store disconnected and a key for imported material pending import, and their creator
   * starts, connects or imports next. What an unplanned creation approves (a planned one approves what it created,
   * and its next steps are planned too).
   */
  createdFor?: Record<string, unknown>;
  /**
   * Other resources the event changes too (the keys an alias moves between, the trail's key, a deleted key's aliases).
   * Their baselines take what a planned event does to them; one `alwaysApproved` takes it whatever the event's approval:
   * a deleted key's aliases, which KMS deleted with it, are gone for good, and the key's own finding is their alert.
   */
  related: Array<{ kind: ResourceKind; resource: string; set: Record<string, unknown>; alwaysApproved?: boolean }>;
  /** Extra details per attribute, copied into the finding's change (e.g. a grant retired by token). */
  notes: Record<string, Record<string, unknown>>;
  /**
   * The key material the event leaves staged for the key's next on-demand rotation (`ResourceSnapshot`'s
   * `stagedKeyMaterial`): its id, or `null` for none known (rotated in, deleted, or staged without an id on record).
   * Absent: as before the event.
   */
  stagedKeyMaterial?: string | null;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => !!value && typeof value === 'object' && !Array.isArray(value);
const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
const sorted = (value: unknown): string[] => (Array.isArray(value) ? value.map(String).sort() : []);

function effect(
  kind: ResourceKind,
  resource: string,
  set: Record<string, unknown>,
  extra: Partial<Effect> = {},
): Effect {
  return { kind, resource, set, implied: {}, related: [], notes: {}, ...extra };
}

/** The key ARN for whatever form the request used: key id, key ARN, alias name or alias ARN. */
export function resolveKeyArn(event: ChangeEvent, world: World, requested?: unknown): string | undefined {
  const value = text(requested);
  if (value) {
    if (isKeyArn(value)) return value;
    if (value.startsWith('alias/') || isAliasArn(value)) {
      const target = world.aliasTarget(isAliasArn(value) ? value : aliasArn(event.region, event.account, value));
      if (target) return target;
    } else if (!value.startsWith('arn:')) {
      return keyArn(event.region, event.account, value);
    }
  }
  return undefined;
}

function requireKeyArn(event: ChangeEvent, world: World): string {
  const response = event.responseElements;
  const metadata = isObject(response.keyMetadata) ? response.keyMetadata : {};
  const candidates = [
    event.resourceArns.find(isKeyArn),
    resolveKeyArn(event, world, event.requestParameters.keyId),
    resolveKeyArn(event, world, response.keyId),
    resolveKeyArn(event, world, metadata.arn ?? metadata.keyId),
    resolveKeyArn(event, world, event.additionalEventData.keyId ?? event.additionalEventData['key-id']),
  ];
  const arn = candidates.find((c): c is string => !!c);
  if (arn) return arn;
  const keyId = text(event.requestParameters.keyId);
  if (keyId && (keyId.startsWith('alias/') || isAliasArn(keyId))) {
    throw new RecordError(
      `${event.eventName} ${event.eventId} names its key by ${keyId}, which no earlier record points at a key, and has ` +
        'no resources[] naming the key',
    );
  }
  throw new RecordError(`${event.eventName} ${event.eventId} names no key (no resources[], keyId or key metadata)`);
}

function aliasOf(event: ChangeEvent): string {
  const name = text(event.requestParameters.aliasName) ?? event.resourceArns.find(isAliasArn);
  if (!name) throw new RecordError(`${event.eventName} ${event.eventId} names no alias`);
  return isAliasArn(name) ? name : aliasArn(event.region, event.account, name);
}

function trailOf(event: ChangeEvent): string {
  const response = text(event.responseElements.trailARN);
  if (response?.startsWith('arn:')) return response;
  const name = text(event.requestParameters.name) ?? text(event.requestParameters.trailName);
  if (!name) throw new RecordError(`${event.eventName} ${event.eventId} names no trail`);
  return name.startsWith('arn:') ? name : trailArn(event.region, event.account, name);
}

function customKeyStoreOf(event: ChangeEvent): string {
  const id = text(event.requestParameters.customKeyStoreId) ?? text(event.responseElements.customKeyStoreId);
  if (!id) throw new RecordError(`${event.eventName} ${event.eventId} names no custom key store`);
  return customKeyStoreArn(event.region, event.account, id);
}

function dateOrNull(value: unknown): string | null {
  const ms = parseAwsDate(value);
  return ms === undefined ? null : toIsoSeconds(ms);
}

/** The primary key's Region of a multi-Region key: the key's own, unless KMS names another (a replica). */
function primaryRegionOf(metadata: Json, region: string): string {
  const configuration = isObject(metadata.multiRegionConfiguration) ? metadata.multiRegionConfiguration : {};
  const primary = isObject(configuration.primaryKey) ? configuration.primaryKey : {};
  return text(primary.region) ?? region;
}

function createdKeyState(answered: string | undefined, origin: string): string {
  if (answered && answered !== 'Creating') return answered;
  return origin === 'EXTERNAL' ? 'PendingImport' : 'Enabled';
}

function createKey(event: ChangeEvent, world: World): Effect {
  const request = event.requestParameters;
  const metadata = isObject(event.responseElements.keyMetadata) ? event.responseElements.keyMetadata : {};
  const arn = requireKeyArn(event, world);
  // The default policy names the root of the key's own account, which need not be the record's recipient.
  const owner = parseArn(arn);
  const origin = text(metadata.origin) ?? text(request.origin) ?? 'AWS_KMS';
  const multiRegion = (metadata.multiRegion ?? request.multiRegion) === true;
  const set: Record<string, unknown> = {
    description: text(metadata.description) ?? text(request.description) ?? '',
    key_usage: text(metadata.keyUsage) ?? text(request.keyUsage) ?? 'ENCRYPT_DECRYPT',
    key_spec:
      text(metadata.keySpec) ?? text(request.keySpec) ?? text(request.customerMasterKeySpec) ?? 'SYMMETRIC_DEFAULT',
    // A replica is answered Creating, which KMS turns into Enabled (PendingImport for imported material) once the
    // replication is done: the state it is created for, approved as such, not a passing one no key returns to.
    key_state: createdKeyState(text(metadata.keyState), origin),
    deletion_date: null,
    enable_key_rotation: false,
    rotation_period_in_days: null,
    policy: request.policy
      ? normalizePolicy(request.policy, owner?.partition || partitionOf(event.region))
      : defaultKeyPolicy(owner?.account || event.account, owner?.partition || partitionOf(event.region)),
    multi_region: multiRegion,
    primary_region: multiRegion ? primaryRegionOf(metadata, event.region) : null,
    origin,
    key_material: null,
    custom_key_store: text(metadata.customKeyStoreId) ?? text(request.customKeyStoreId) ?? null,
  };
  for (const tag of Array.isArray(request.tags) ? request.tags.filter(isObject) : []) {
    const key = text(tag.tagKey) ?? text(tag.TagKey);
    if (key) set[entryPath('tags', key)] = String(tag.tagValue ?? tag.TagValue ?? '');
  }
  // A replica's replica Regions and automatic rotation are its primary's to know (kms-reader.ts leaves them out): not
  // known to be none or off. The rotation it shares is read and compared once it is made the primary.
  const replica = multiRegion && set.primary_region !== (owner?.region || event.region);
  if (replica) {
    delete set.enable_key_rotation;
    delete set.rotation_period_in_days;
  }
  return effect('key', arn, set, {
    creates: true,
    createdFor: workingState('key', set),
    ...(replica ? { knownMaps: MAP_ATTRIBUTES.filter((map) => map !== 'replica_regions') } : {}),
  });
}

function keyChange(set: (event: ChangeEvent) => Record<string, unknown>, implied: Record<string, unknown> = {}) {
  return (event: ChangeEvent, world: World): Effect =>
    effect('key', requireKeyArn(event, world), set(event), { implied: { ...implied } });
}

function scheduleKeyDeletion(event: ChangeEvent, world: World): Effect {
  const state = text(event.responseElements.keyState) ?? 'PendingDeletion';
  return effect(
    'key',
    requireKeyArn(event, world),
    { key_state: state, deletion_date: dateOrNull(event.responseElements.deletionDate) },
    { implied: { deletion_date: null } },
  );
}

function tagResource(event: ChangeEvent): Record<string, unknown> {
  const set: Record<string, unknown> = {};
  for (const tag of Array.isArray(event.requestParameters.tags) ? event.requestParameters.tags.filter(isObject) : []) {
    const key = text(tag.tagKey) ?? text(tag.TagKey);
    if (key) set[entryPath('tags', key)] = String(tag.tagValue ?? tag.TagValue ?? '');
  }
  return set;
}

function untagResource(event: ChangeEvent): Record<string, unknown> {
  return Object.fromEntries(sorted(event.requestParameters.tagKeys).map((key) => [entryPath('tags', key), null]));
}

function aliasChange(event: ChangeEvent, world: World): Effect {
  const alias = aliasOf(event);
  const name = alias.slice(alias.indexOf('alias/'));
  const previous = world.aliasTarget(alias);
  const deleting = event.eventName === 'DeleteAlias';
  const target = deleting
    ? null
    : (resolveKeyArn(event, world, event.requestParameters.targetKeyId) ?? event.resourceArns.find(isKeyArn) ?? null);
  const related: Effect['related'] = [];
  // DeleteAlias records name the key the alias pointed to in resources[].
  const oldKey = previous ?? (deleting ? event.resourceArns.find(isKeyArn) : undefined);
  if (oldKey && oldKey !== target)
    related.push({ kind: 'key', resource: oldKey, set: { [entryPath('aliases', name)]: null } });
  if (target) related.push({ kind: 'key', resource: target, set: { [entryPath('aliases', name)]: true } });
  const implied: Record<string, unknown> = {};
  if (event.eventName === 'CreateAlias') implied.target_key_id = null;
  else if (oldKey) implied.target_key_id = oldKey;
  return effect(
    'alias',
    alias,
    { target_key_id: target },
    { implied, related, creates: event.eventName === 'CreateAlias' },
  );
}

/** A grant as keydrift keeps it (also what kms-reader.ts reads): CreateGrant's request fields. */
export interface GrantValue {
  grantee_principal: string | null;
  retiring_principal: string | null;
  operations: string[];
  constraints: unknown;
  name: string | null;
}

function createGrant(event: ChangeEvent, world: World): Effect {
  const request = event.requestParameters;
  const grantId = text(event.responseElements.grantId) ?? `request-${event.eventId}`;
  const grant: GrantValue = {
    // A grant names its grantee (and retiring principal) either way, never both: an AWS principal or a service's.
    grantee_principal: text(request.granteePrincipal) ?? text(request.granteeServicePrincipal) ?? null,
    retiring_principal: text(request.retiringPrincipal) ?? text(request.retiringServicePrincipal) ?? null,
    operations: sorted(request.operations),
    constraints: request.constraints ?? null,
    name: text(request.name) ?? null,
  };
  const path = entryPath('grants', grantId);
  return effect('key', requireKeyArn(event, world), { [path]: grant }, { implied: { [path]: null } });
}

function endGrant(event: ChangeEvent, world: World): Effect {
  const grantId = text(event.requestParameters.grantId) ?? text(event.additionalEventData.grantId);
  const arn = requireKeyArn(event, world);
  if (!grantId) {
    // RetireGrant with a grant token names no grant id: the change is known, the grant is not.
    return effect('key', arn, {}, { notes: { grants: { ended_grant: 'unknown (retired with a grant token)' } } });
  }
  return effect('key', arn, { [entryPath('grants', grantId)]: null });
}

function importKeyMaterial(event: ChangeEvent, world: World): Effect {
  const request = event.requestParameters;
  const material = {
    expiration_model: text(request.expirationModel) ?? 'KEY_MATERIAL_EXPIRES',
    valid_to: dateOrNull(request.validTo),
  };
  const arn = requireKeyArn(event, world);
  const known = world.snapshot(arn)?.attributes;
  // New material for a key that has its material (ImportType NEW_KEY_MATERIAL) only waits for an on-demand rotation
  // (PENDING_ROTATION): the key, and the expiry DescribeKey shows (that of the material it uses), stay as they are.
  // Its id (answered since 2025) tells a later deletion of it from one of the material the key uses.
  if (isStagedImport(event, known)) {
    return effect('key', arn, {}, { stagedKeyMaterial: text(event.responseElements.keyMaterialId) ?? null });
  }
  // Importing makes a key pending import usable; importing again (a new expiry) leaves a Disabled key disabled.
  const state = known?.key_state;
  const enables = state === undefined || state === 'PendingImport';
  return effect(
    'key',
    arn,
    { key_material: material, ...(enables ? { key_state: 'Enabled' } : {}) },
    {
      implied: { key_material: null },
      ...(enables ? { inferred: ['key_state'] } : {}),
    },
  );
}

/**
 * An ImportKeyMaterial that stages new material for the key's next on-demand rotation: ImportType NEW_KEY_MATERIAL
 * into a key known to have its material (a first import, into a key pending import, makes it current). On a key
 * keydrift knows nothing of, it is taken as a first import, as before ImportType existed.
 */
function isStagedImport(event: ChangeEvent, key: Record<string, unknown> | undefined): boolean {
  if (event.requestParameters.importType !== 'NEW_KEY_MATERIAL') return false;
  return isObject(key?.key_material) || key?.key_state === 'Enabled' || key?.key_state === 'Disabled';
}

/**
 * Key material gone (deleted, or expired): the key waits for its import again, unless it is pending deletion, which
 * KMS leaves as it is (its deletion stays scheduled, for its date). Material staged for a rotation, deleted or
 * expired, leaves the key as it is: keydrift knows it staged, or KMS shows it so (`deletesMaterialNotCurrent`).
 */
function materialGone(event: ChangeEvent, world: World): Effect {
  const arn = requireKeyArn(event, world);
  const known = world.snapshot(arn);
  if (deletesStagedMaterial(event, known) || expiredMaterialNotInUse(event, known, world.liveRead?.(arn)))
    return effect('key', arn, {}, { stagedKeyMaterial: null });
  // Staged material keydrift did not know staged: another one it knows staged stays so (its import is the newer).
  if (deletesMaterialNotCurrent(event, world.settledRead?.(arn)))
    return effect('key', arn, {}, known?.stagedKeyMaterial ? {} : { stagedKeyMaterial: null });
  const pendingDeletion = isPendingDeletion(known?.attributes.key_state);
  return effect(
    'key',
    arn,
    { key_material: null, ...(pendingDeletion ? {} : { key_state: 'PendingImport' }) },
    pendingDeletion ? {} : { inferred: ['key_state'] },
  );
}

/**
 * A DeleteImportedKeyMaterial of the material keydrift knows staged for the key's next on-demand rotation
 * (PENDING_ROTATION), or KMS's DeleteExpiredKeyMaterial of it once it expired (records since 2025 name it in
 * serviceEventDetails): KMS leaves the key, its state and the material it uses as they are. Any other material the key
 * has is permanently associated with it, current or not, and deleting it makes the key PendingImport; so does a
 * deletion naming no material (KMS deletes the current one), or one keydrift cannot tell.
 */
function deletesStagedMaterial(event: ChangeEvent, key: ResourceSnapshot | undefined): boolean {
  if (!STAGED_MATERIAL_DELETIONS.has(event.eventName) || !key?.stagedKeyMaterial) return false;
  return namedMaterial(event) === key.stagedKeyMaterial;
}

/**
 * A DeleteImportedKeyMaterial of material keydrift does not know staged (the import that staged it delivered after it,
 * or a later import judged before it) that KMS, read once the live detector's re-reads ran out (`settled`), shows the
 * key Enabled or Disabled with other material current (DescribeKey's CurrentKeyMaterialId): deleting any material
 * permanently associated with the key would have left it PendingImport, so the material was staged for the next
 * on-demand rotation. Never from a first read, which may lag behind the deletion of the material the key uses (and the
 * rotation that made it current); nor for a deletion naming no material, or a read naming none current or the deleted
 * one.
 */
function deletesMaterialNotCurrent(event: ChangeEvent, settled: ResourceSnapshot | undefined): boolean {
  if (event.eventName !== 'DeleteImportedKeyMaterial' || !settled) return false;
  const named = namedMaterial(event);
  const state = settled.attributes.key_state;
  if (state !== 'Enabled' && state !== 'Disabled') return false;
  return named !== undefined && settled.currentKeyMaterial !== undefined && named !== settled.currentKeyMaterial;
}

/** The key material a deletion names (records since 2025), if any. */
const namedMaterial = (event: ChangeEvent): string | undefined =>
  text(event.requestParameters.keyMaterialId) ??
  text(event.responseElements.keyMaterialId) ??
  text(event.additionalEventData.keyMaterialId);

/** The deletions that may name the material staged for a rotation (the native expiry event names no material). */
const STAGED_MATERIAL_DELETIONS = new Set(['DeleteImportedKeyMaterial', 'DeleteExpiredKeyMaterial']);

/** KMS's word that imported key material expired: its native event (naming no material) and its deletion of it. */
const MATERIAL_EXPIRIES = new Set(['KMS Imported Key Material Expiration', 'DeleteExpiredKeyMaterial']);

/**
 * An expiry of key material that KMS, read after it (`read`), shows was not of material permanently associated with
 * the key: the key still has its material, valid past the event. DescribeKey's ValidTo is the earliest expiry of that
 * material (none with KEY_MATERIAL_DOES_NOT_EXPIRE), so what expired was staged for the next on-demand rotation
 * (PENDING_ROTATION), and the key goes on using its current material; the native event names no material, and
 * keydrift may not know the staged one. A read lagging behind the expiry of material the key uses shows that
 * material's ValidTo, no later than the event: it is not taken so, nor is a deletion naming the material KMS names
 * current. Nor is an expiry of the material keydrift knows the key uses (`known`) expiring by then: a read showing it
 * valid past the event was taken after its re-import (an automation answering KMS's expiry event), whose event comes.
 */
function expiredMaterialNotInUse(
  event: ChangeEvent,
  known: ResourceSnapshot | undefined,
  read: ResourceSnapshot | undefined,
): boolean {
  if (!MATERIAL_EXPIRIES.has(event.eventName) || read?.attributes.key_state === 'PendingImport') return false;
  if (materialValidAfter(known, event.epochMs) === false) return false;
  const named = namedMaterial(event);
  if (named !== undefined && named === read?.currentKeyMaterial) return false;
  return materialValidAfter(read, event.epochMs) === true;
}

/**
 * Whether the key material `key` shows (the material the key uses) is valid after `epochMs`: it never expires, or
 * expires later. `undefined` when no material or expiry is known.
 */
function materialValidAfter(key: ResourceSnapshot | undefined, epochMs: number): boolean | undefined {
  const material = key?.attributes.key_material;
  if (!isObject(material)) return undefined;
  if (material.expiration_model === 'KEY_MATERIAL_DOES_NOT_EXPIRE') return true;
  const validTo = typeof material.valid_to === 'string' ? Date.parse(material.valid_to) : Number.NaN;
  return Number.isNaN(validTo) ? undefined : validTo > epochMs;
}

/**
 * An on-demand rotation of a key with imported material makes the material staged for it (NEW_KEY_MATERIAL) current,
 * and DescribeKey's expiry then that of the materials the key now uses; the record does not say which expiry that is.
 * The key's material is left unknown, to be read live (and approved so after a planned rotation), rather than kept at
 * its value before. Rotating a key with KMS's own material changes nothing keydrift compares.
 */
function rotateKeyOnDemand(event: ChangeEvent, world: World): Effect {
  const arn = requireKeyArn(event, world);
  const origin = world.snapshot(arn)?.attributes.origin;
  // The staged material is current now: deleting it makes the key PendingImport.
  const imported = origin === undefined || origin === 'EXTERNAL';
  return effect('key', arn, {}, imported ? { forgets: ['key_material'], stagedKeyMaterial: null } : {});
}
/**
 * A key's deletion (KMS's DeleteKey, its KMS CMK Deletion). KMS deletes the key's aliases with it, with no DeleteAlias
 * of their own: each alias the key's stored aliases name goes too (`target_key_id: null`), unless keydrift knows it on
 * another key or gone already, or a read shows it on another key. Those it does not know (the key's read named them)
 * are recorded gone as well. The key's finding names them (`aliases_deleted` on its `key_state` change): it is their
 * only record. The deletion's second event names none.
 */
function keyDeleted(event: ChangeEvent, world: World): Effect {
  const arn = requireKeyArn(event, world);
  const owner = parseArn(arn);
  const related: Effect['related'] = [];
  const names: string[] = [];
  for (const name of Object.keys(mapEntries(world.snapshot(arn), 'aliases')).sort()) {
    const alias = aliasArn(owner?.region ?? event.region, owner?.account ?? event.account, name);
    const target = lookup(world.snapshot(alias), 'target_key_id');
    if (target !== undefined && target !== arn) continue;
    // KMS shows it on another key (the live detector's read): moved off before the deletion, its event still to come.
    const read = lookup(world.liveRead?.(alias), 'target_key_id');
    if (typeof read === 'string' && read !== arn) continue;
    related.push({ kind: 'alias', resource: alias, set: { target_key_id: null }, alwaysApproved: true });
    names.push(name);
  }
  // Gone with no finding of their own: the key's finding names them, so that no one misses callers now failing. Once:
  // a key stored Deleted already is this deletion's other event (or a reconcile run) come first, which named them
  // (those it had no room to save gone, a key's 49th alias on, are recorded gone now, not named again).
  const named = !event.errorCode && lookup(world.snapshot(arn), 'key_state') !== 'Deleted';
  const notes: Effect['notes'] = names.length && named ? { key_state: { aliases_deleted: names } } : {};
  return effect('key', arn, { key_state: 'Deleted', deletion_date: null }, { related, notes });
}

/**
 * ReplicateKey adds a Region to the primary key and creates the replica key, with a policy of its own:
 * the request's, else the one KMS answers with, else the default policy of the replica's account. The
 * replica's policy is reported on the primary's finding as its `policy` change (naming `replica_key`),
 * so that outside access it grants escalates like any other policy change.
 */
function replicateKey(event: ChangeEvent, world: World): Effect {
  const request = event.requestParameters;
  const response = event.responseElements;
  const primary = requireKeyArn(event, world);
  const metadata = isObject(response.replicaKeyMetadata) ? response.replicaKeyMetadata : {};
  const answered = text(metadata.arn);
  const region = text(request.replicaRegion) ?? (answered ? parseArn(answered)?.region : undefined);
  const path = entryPath('replica_regions', region ?? 'unknown');
  const owner = parseArn(primary);
  const account = owner?.account || event.account;
  // Multi-Region keys share their key id: the replica is the primary's id in the replica Region.
  const replica =
    answered && isKeyArn(answered) ? answered : region ? keyArn(region, account, keyIdOf(primary)) : undefined;
  const replicaAccount = (replica && parseArn(replica)?.account) || account;
  const policyText = [request.policy, response.replicaPolicy].find((p) => p !== undefined && p !== null && p !== '');
  const partition = partitionOf(region ?? owner?.region ?? event.region);
  const policy = policyText ? normalizePolicy(policyText, partition) : defaultKeyPolicy(replicaAccount, partition);
  const related: Effect['related'] = [];
  if (replica) {
    const set: Record<string, unknown> = {
      policy,
      multi_region: true,
      primary_region: owner?.region ?? event.region,
      deletion_date: null,
      description: text(request.description) ?? text(metadata.description) ?? '',
    };
    for (const [attribute, field] of [
      ['key_usage', 'keyUsage'],
      ['key_spec', 'keySpec'],
      ['origin', 'origin'],
    ] as const) {
      const value = text(metadata[field]);
      if (value) set[attribute] = value;
    }
    Object.assign(set, tagResource(event));
    related.push({ kind: 'key', resource: replica, set });
  }
  return effect(
    'key',
    primary,
    { [path]: true, multi_region: true },
    {
      implied: { [path]: null },
      related,
      notes: {
        policy: {
          before: null,
          after: policy,
          ...(replica ? { replica_key: replica } : {}),
          ...diffPolicies(null, policy, replicaAccount),
        },
      },
    },
  );
}

/** Automatic rotation and the replica Regions: a multi-Region key's, set and read at its primary only. */
export const PRIMARY_ONLY = ['replica_regions', 'enable_key_rotation', 'rotation_period_in_days'] as const;

function updatePrimaryRegion(event: ChangeEvent, world: World): Effect {
  const arn = requireKeyArn(event, world);
  const primary = text(event.requestParameters.primaryRegion) ?? null;
  // The key made a replica: its new primary, in another Region, replicates, deletes and rotates from there.
  const demoted = primary !== null && primary !== parseArn(arn)?.region;
  return effect('key', arn, { primary_region: primary }, demoted ? { forgets: PRIMARY_ONLY } : {});
}

/**
 * Trail key ids may be key ids, ARNs or aliases: stored as the key ARN where it can be resolved. CloudTrail
 * answers CreateTrail and UpdateTrail with the key's full ARN, which wins over whatever the request named.
 */
function trailKey(event: ChangeEvent, world: World, value: unknown): string | null {
  const answered = text(event.responseElements.kmsKeyId);
  if (answered && isKeyArn(answered)) return answered;
  const raw = text(value);
  if (!raw) return null;
  return (
    resolveKeyArn(event, world, raw) ?? (raw.startsWith('alias/') ? aliasArn(event.region, event.account, raw) : raw)
  );
}

/**
 * The trail's tracked settings a CreateTrail or UpdateTrail set: each one the request names (for the key, bucket,
 * organization and global-events settings, CloudTrail's answer wins), and at creation the defaults of those it leaves
 * out. A bucket neither names stays
 * unknown (the live read tells it).
 */
function trailSettings(event: ChangeEvent, world: World, creating: boolean): Record<string, unknown> {
  const request = event.requestParameters;
  const response = event.responseElements;
  const named = (field: string) => field in request;
  const flag = (field: string, absent: boolean): boolean => {
    const value = typeof response[field] === 'boolean' ? response[field] : request[field];
    return typeof value === 'boolean' ? value : absent;
  };
  const set: Record<string, unknown> = {};
  if (named('kmsKeyId') || creating) set.kms_key_id = trailKey(event, world, request.kmsKeyId);
  if (named('isMultiRegionTrail') || creating) set.multi_region = request.isMultiRegionTrail === true;
  if (named('enableLogFileValidation') || creating) set.log_file_validation = request.enableLogFileValidation === true;
  const bucket = text(response.s3BucketName) ?? text(request.s3BucketName);
  if (bucket && (named('s3BucketName') || creating)) set.s3_bucket_name = bucket;
  if (named('isOrganizationTrail') || creating) set.organization_trail = flag('isOrganizationTrail', false);
  // CloudTrail includes global service events (IAM, STS, CloudFront) unless told not to.
  if (named('includeGlobalServiceEvents') || creating)
    set.include_global_service_events = flag('includeGlobalServiceEvents', true);
  return set;
}

function createTrail(event: ChangeEvent, world: World): Effect {
  const trail = trailOf(event);
  const set = {
    trail: 'exists',
    logging: false,
    event_selectors: DEFAULT_SELECTORS,
    ...trailSettings(event, world, true),
  };
  return effect('trail', trail, set, { creates: true, createdFor: workingState('trail', set) });
}

function updateTrail(event: ChangeEvent, world: World): Effect {
  return effect('trail', trailOf(event), trailSettings(event, world, false));
}

/** The operators of an advanced field selector, as CloudTrail records them. */
export const FIELD_OPERATORS = [
  'equals',
  'startsWith',
  'endsWith',
  'notEquals',
  'notStartsWith',
  'notEndsWith',
] as const;
export type FieldOperator = (typeof FIELD_OPERATORS)[number];

/** One field selector of an advanced event selector: the field and its operators that have values (sorted). */
export type FieldSelector = { field: string } & Partial<Record<FieldOperator, string[]>>;

/**
 * One non-management event selector, in a canonical form: a basic selector's data resource (one entry per resource,
 * with the selector's read/write type and its sorted values), or an advanced selector that is not for management
 * events (data or network activity events) with all its field selectors, sorted. Selector names are labels, left out.
 */
export type DataSelector =
  | { selector: 'basic'; read_write_type: string; type: string; values: string[] }
  | { selector: 'advanced'; field_selectors: FieldSelector[] };

/** Event selectors reduced to what drift cares about: which management events the trail logs, and which others. */
export interface TrailSelectors {
  management: 'All' | 'ReadOnly' | 'WriteOnly' | 'None';
  /**
   * Management event sources the trail leaves out: those the selectors exclude by name, and
   * `kms.amazonaws.com` whenever the trail logs write management events but none from KMS (for instance
   * advanced selectors that admit only other sources).
   */
  excluded_sources: string[];
  /**
   * Set (only) when the trail logs KMS write events and other read events, but no KMS read events (Decrypt,
   * GenerateDataKey…): a selector for reads leaves KMS out.
   */
  kms_reads_excluded?: true;
  /**
   * Every non-management selector (data and network activity events), sorted: the same selectors give the same list
   * whatever their order, names or grouping.
   */
  data_resources: DataSelector[];
}

const DEFAULT_SELECTORS: TrailSelectors = { management: 'All', excluded_sources: [], data_resources: [] };
const KMS_SOURCE = 'kms.amazonaws.com';

const uniqueSorted = (value: unknown): string[] => [...new Set(sorted(value))].sort();
const objects = (value: unknown): Json[] => (Array.isArray(value) ? value.filter(isObject) : []);
const byJson = <T>(items: T[]): T[] =>
  [...new Map(items.map((item) => [JSON.stringify(item), item])).entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, item]) => item);

/** A basic selector's data resources, one canonical entry each. */
function basicDataSelectors(selector: Json): DataSelector[] {
  const readWriteType = text(selector.readWriteType) ?? 'All';
  return objects(selector.dataResources).map((resource) => ({
    selector: 'basic',
    read_write_type: readWriteType,
    type: text(resource.type) ?? '',
    values: uniqueSorted(resource.values),
  }));
}

/** An advanced selector's field selectors in canonical form: operators with values, each list sorted. */
function advancedDataSelector(fields: Json[]): DataSelector {
  const fieldSelectors = fields.map((f) => {
    const canonical: FieldSelector = { field: text(f.field) ?? '' };
    for (const operator of FIELD_OPERATORS) {
      const values = uniqueSorted(f[operator]);
      if (values.length) canonical[operator] = values;
    }
    return canonical;
  });
  return { selector: 'advanced', field_selectors: byJson(fieldSelectors) };
}

/** True when an advanced field selector lets `value` through (no field selector: everything passes). */
function admits(selector: Json | undefined, value: string): boolean {
  if (!selector) return true;
  const any = (key: string, test: (pattern: string) => boolean) => sorted(selector[key]).some(test);
  const set = (key: string) => sorted(selector[key]).length > 0;
  return (
    (!set('equals') || any('equals', (v) => v === value)) &&
    (!set('startsWith') || any('startsWith', (p) => value.startsWith(p))) &&
    (!set('endsWith') || any('endsWith', (p) => value.endsWith(p))) &&
    !any('notEquals', (v) => v === value) &&
    !any('notStartsWith', (p) => value.startsWith(p)) &&
    !any('notEndsWith', (p) => value.endsWith(p))
  );
}

/**
 * Normalizes basic and advanced event selectors from a PutEventSelectors request (or a GetEventSelectors answer in
 * the same shape). Selectors add up: the trail logs an event when any selector does, so KMS counts as excluded only
 * when no selector that logs write management events lets KMS through.
 */
export function normalizeSelectors(request: Json): TrailSelectors {
  let read = false;
  let write = false;
  let kmsWrites = false;
  let kmsReads = false;
  const excluded = new Set<string>();
  const data: DataSelector[] = [];
  for (const selector of objects(request.eventSelectors)) {
    data.push(...basicDataSelectors(selector));
    if (selector.includeManagementEvents === false) continue;
    const type = String(selector.readWriteType ?? 'All');
    const writes = type === 'All' || type === 'WriteOnly';
    const reads = type === 'All' || type === 'ReadOnly';
    const left = sorted(selector.excludeManagementEventSources);
    read ||= reads;
    write ||= writes;
    kmsWrites ||= writes && !left.includes(KMS_SOURCE);
    kmsReads ||= reads && !left.includes(KMS_SOURCE);
    for (const source of left) excluded.add(source);
  }
  for (const selector of objects(request.advancedEventSelectors)) {
    const fields = objects(selector.fieldSelectors);
    const field = (name: string) => fields.find((f) => f.field === name);
    const category = field('eventCategory');
    if (!sorted(category?.equals).includes('Management')) {
      data.push(advancedDataSelector(fields));
      continue;
    }
    const source = field('eventSource');
    const writes = admits(field('readOnly'), 'false');
    const reads = admits(field('readOnly'), 'true');
    read ||= reads;
    write ||= writes;
    kmsWrites ||= writes && admits(source, KMS_SOURCE);
    kmsReads ||= reads && admits(source, KMS_SOURCE);
    for (const name of sorted(source?.notEquals)) excluded.add(name);
  }
  // With no write management events logged at all, `management` already says so.
  if (kmsWrites) excluded.delete(KMS_SOURCE);
  else if (write) excluded.add(KMS_SOURCE);
  const management = read && write ? 'All' : read ? 'ReadOnly' : write ? 'WriteOnly' : 'None';
  // KMS reads left out while KMS writes are logged: `excluded_sources` (about writes, which matter most) cannot say it.
  const readsExcluded = kmsWrites && read && !kmsReads ? { kms_reads_excluded: true as const } : {};
  return { management, excluded_sources: [...excluded].sort(), ...readsExcluded, data_resources: byJson(data) };
}

/** True when a trail with these selectors records KMS write management events. */
export function logsKmsWrites(selectors: TrailSelectors): boolean {
  return (
    (selectors.management === 'All' || selectors.management === 'WriteOnly') &&
    !selectors.excluded_sources.includes('kms.amazonaws.com')
  );
}

const trailChange =
  (set: Record<string, unknown>, implied: Record<string, unknown> = {}) =>
  (event: ChangeEvent): Effect =>
    effect('trail', trailOf(event), { ...set }, { implied: { ...implied } });

const storeChange =
  (set: (event: ChangeEvent) => Record<string, unknown>, extra: Partial<Effect> = {}) =>
  (event: ChangeEvent): Effect =>
    effect('custom-key-store', customKeyStoreOf(event), set(event), extra);

function updateCustomKeyStore(event: ChangeEvent): Record<string, unknown> {
  const set: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(event.requestParameters)) {
    if (field === 'customKeyStoreId') continue;
    // Secrets appear as HIDDEN_DUE_TO_SECURITY_REASONS; record that they changed, never their value.
    set[entryPath('configuration', field)] = /password|secret|credential/i.test(field) ? 'changed' : value;
  }
  return set;
}

type EffectOf = (event: ChangeEvent, world: World) => Effect;

/** How each watched event changes state. Events not listed here still produce a finding, without changes. */
const EFFECTS: Record<string, EffectOf> = {
  CreateKey: createKey,
  ScheduleKeyDeletion: scheduleKeyDeletion,
  CancelKeyDeletion: keyChange(() => ({ key_state: 'Disabled', deletion_date: null }), {
    key_state: 'PendingDeletion',
  }),
  DisableKey: keyChange(() => ({ key_state: 'Disabled' }), { key_state: 'Enabled' }),
  EnableKey: keyChange(() => ({ key_state: 'Enabled' })),
  PutKeyPolicy: keyChange((e) => ({ policy: normalizePolicy(e.requestParameters.policy, partitionOf(e.region)) })),
  // Without a period in the request, KMS applies its default of 365 days (the only period before custom ones).
  EnableKeyRotation: keyChange((e) => ({
    enable_key_rotation: true,
    rotation_period_in_days:
      typeof e.requestParameters.rotationPeriodInDays === 'number' ? e.requestParameters.rotationPeriodInDays : 365,
  })),
  // A key without automatic rotation has no rotation period (GetKeyRotationStatus, as kms-reader.ts reads it, and a new
  // key): a period left behind would stay approved after a planned DisableKeyRotation, differing from every read.
  DisableKeyRotation: keyChange(() => ({ enable_key_rotation: false, rotation_period_in_days: null }), {
    enable_key_rotation: true,
  }),
  TagResource: keyChange(tagResource),
  UntagResource: keyChange(untagResource),
  UpdateKeyDescription: keyChange((e) => ({ description: text(e.requestParameters.description) ?? '' })),
  CreateAlias: aliasChange,
  UpdateAlias: aliasChange,
  DeleteAlias: aliasChange,
  CreateGrant: createGrant,
  RetireGrant: endGrant,
  RevokeGrant: endGrant,
  ImportKeyMaterial: importKeyMaterial,
  RotateKeyOnDemand: rotateKeyOnDemand,
  DeleteImportedKeyMaterial: materialGone,
  DeleteExpiredKeyMaterial: materialGone,
  'KMS Imported Key Material Expiration': materialGone,
  DeleteKey: keyDeleted,
  'KMS CMK Deletion': keyDeleted,
  ReplicateKey: replicateKey,
  UpdatePrimaryRegion: updatePrimaryRegion,
  CreateCustomKeyStore: storeChange(() => ({ custom_key_store: 'exists', connection_state: 'DISCONNECTED' }), {
    creates: true,
    createdFor: workingState('custom-key-store', { connection_state: 'DISCONNECTED' }),
    // Its settings (name, cluster, proxy) are not kept from the creation: not known to be none.
    knownMaps: MAP_ATTRIBUTES.filter((map) => map !== 'configuration'),
  }),
  ConnectCustomKeyStore: storeChange(() => ({ connection_state: 'CONNECTED' })),
  DisconnectCustomKeyStore: storeChange(() => ({ connection_state: 'DISCONNECTED' }), {
    implied: { connection_state: 'CONNECTED' },
  }),
  DeleteCustomKeyStore: storeChange(() => ({ custom_key_store: 'deleted', connection_state: null })),
  UpdateCustomKeyStore: storeChange(updateCustomKeyStore),
  CreateTrail: createTrail,
  UpdateTrail: updateTrail,
  DeleteTrail: trailChange({ trail: 'deleted', logging: false }, { trail: 'exists' }),
  StartLogging: trailChange({ logging: true }),
  StopLogging: trailChange({ logging: false }, { logging: true }),
  PutEventSelectors: (event) =>
    effect('trail', trailOf(event), { event_selectors: normalizeSelectors(event.requestParameters) }),
};

/**
 * The effect of one event on state. Events that change no tracked attribute (rotations, unknown new
 * writes) yield an effect with nothing set, on the resource they name.
 */
export function effectOf(event: ChangeEvent, world: World): Effect {
  const known = ownEntry(EFFECTS, event.eventName);
  if (known) return known(event, world);
  if (event.service === 'cloudtrail') return effect('trail', trailOf(event), {});
  return effect('key', requireKeyArn(event, world), {});
}
