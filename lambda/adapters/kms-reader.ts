/**
 * Reads a key's live state from KMS, as the attribute map the detection core compares (DESIGN.md "Drift
 * attributes"; the same names and value shapes as core/effects.ts gives each event's effect). The reconciler's
 * inventory (kms-inventory.ts) makes the same reads with the same error meanings, paced its own way.
 */

import {
  type AliasListEntry,
  DescribeKeyCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  type GetKeyRotationStatusResponse,
  type GrantListEntry,
  type KeyMetadata,
  type KMSClient,
  ListAliasesCommand,
  ListGrantsCommand,
  ListResourceTagsCommand,
} from '@aws-sdk/client-kms';
import { parseArn } from '../core/arn';
import { normalizePolicy } from '../core/policy';
import { snapshotFromState } from '../core/state';
import { toIsoSeconds } from '../core/time';
import type { ResourceSnapshot } from '../core/types';
import { awsErrorName, isTransientAwsError, KeyUnreadableError, RetryableKmsError } from './errors';

export interface KmsReaderOptions {
  /** Configure retries on the client itself (`maxAttempts`, `retryStrategy`): the SDK backs off on throttling. */
  client: KMSClient;
}

export interface KmsReader {
  /**
   * The key's live state. A key KMS no longer knows reads as `key_state: 'Deleted'`; an attribute KMS will not
   * report for this key's type or state (rotation of an asymmetric key) is left out, meaning unknown.
   *
   * @throws RetryableKmsError when KMS throttled or failed after the SDK's retries
   * @throws KeyUnreadableError when the key's policy denies keydrift a read
   */
  readKey(keyArn: string): Promise<ResourceSnapshot>;
  /** The alias's live state: `target_key_id` is the key ARN it points to, or `null` when the alias is gone. */
  readAlias(aliasArn: string): Promise<ResourceSnapshot>;
}

/** What one key's reads returned; `undefined` where KMS said the call does not apply to this key. */
export interface KeyReads {
  metadata: KeyMetadata;
  policy: string | undefined;
  rotation: GetKeyRotationStatusResponse | undefined;
  tags: Array<{ TagKey?: string; TagValue?: string }> | undefined;
  aliases: Array<{ AliasName?: string }> | undefined;
  grants: GrantListEntry[] | undefined;
}

// "This call does not apply in this key state or to this key type": not drift, not a failure (aws-facts §2.4).
const NOT_APPLICABLE = new Set(['KMSInvalidStateException', 'UnsupportedOperationException']);
// While a key is pending deletion KMS reports rotation as off, and restores it on cancel: not a real reading.
const ROTATION_HIDDEN_STATES = new Set(['PendingDeletion', 'PendingReplicaDeletion']);
// The largest pages each list call allows, so that a typical key needs one page each.
const GRANTS_PAGE = 100;
const ALIASES_PAGE = 100;
const TAGS_PAGE = 50;

/** Thrown inside a read when KMS no longer knows the key: the read then gives the deleted key's state. */
export class KeyGone {
  constructor(readonly cause: unknown) {}
}

/**
 * Maps the KMS errors every read of a key means alike, for the detector's reader and the reconciler's inventory:
 * NotFound throws {@link KeyGone}, AccessDenied throws KeyUnreadableError. Returns true when the call does not apply
 * to this key's type or state (its answer reads as `undefined`), false for any other error: the caller's to retry
 * or rethrow.
 */
export function notApplicable(error: unknown, operation: string, subject: string): boolean {
  const name = awsErrorName(error);
  if (name === 'NotFoundException') throw new KeyGone(error);
  if (name === 'AccessDeniedException')
    throw new KeyUnreadableError(`KMS denied keydrift ${operation} on ${subject}`, { cause: error });
  return name !== undefined && NOT_APPLICABLE.has(name);
}

/** One KMS call as each reader makes it (retried, paced): `undefined` when the call does not apply to the key. */
export type KmsCall = <T>(operation: string, subject: string, send: () => Promise<T>) => Promise<T | undefined>;

interface Page<T> {
  items?: T[];
  truncated?: boolean;
  next?: string;
}

/** Follows `NextMarker` while `Truncated`, collecting every page's items; `undefined` when the listing does not apply. */
export async function listAll<T>(
  call: KmsCall,
  operation: string,
  subject: string,
  page: (marker: string | undefined) => Promise<Page<T>>,
): Promise<T[] | undefined> {
  const items: T[] = [];
  let marker: string | undefined;
  do {
    const result = await call(operation, subject, () => page(marker));
    if (!result) return undefined;
    items.push(...(result.items ?? []));
    marker = result.truncated ? result.next : undefined;
  } while (marker);
  return items;
}

/** One page of the aliases of a key, or of the account when `keyId` is absent. */
export const aliasesPage =
  (client: KMSClient, keyId?: string) =>
  async (Marker: string | undefined): Promise<Page<AliasListEntry>> => {
    const r = await client.send(new ListAliasesCommand({ KeyId: keyId, Marker, Limit: ALIASES_PAGE }));
    return { items: r.Aliases, truncated: r.Truncated, next: r.NextMarker };
  };

/**
 * A key's reads, in parallel (one round trip when no list needs a second page), each through `call`; its aliases only
 * when asked (the reconciler lists the account's once). `undefined` when KMS no longer knows the key.
 */
export async function readKeyParts(
  client: KMSClient,
  call: KmsCall,
  keyArn: string,
  withAliases: boolean,
): Promise<KeyReads | undefined> {
  try {
    const [described, policy, rotation, tags, aliases, grants] = await Promise.all([
      call('DescribeKey', keyArn, () => client.send(new DescribeKeyCommand({ KeyId: keyArn }))),
      call('GetKeyPolicy', keyArn, () =>
        client.send(new GetKeyPolicyCommand({ KeyId: keyArn, PolicyName: 'default' })),
      ),
      call('GetKeyRotationStatus', keyArn, () => client.send(new GetKeyRotationStatusCommand({ KeyId: keyArn }))),
      listAll(call, 'ListResourceTags', keyArn, async (Marker) => {
        const r = await client.send(new ListResourceTagsCommand({ KeyId: keyArn, Marker, Limit: TAGS_PAGE }));
        return { items: r.Tags, truncated: r.Truncated, next: r.NextMarker };
      }),
      withAliases ? listAll(call, 'ListAliases', keyArn, aliasesPage(client, keyArn)) : undefined,
      listAll(call, 'ListGrants', keyArn, async (Marker) => {
        const r = await client.send(new ListGrantsCommand({ KeyId: keyArn, Marker, Limit: GRANTS_PAGE }));
        return { items: r.Grants, truncated: r.Truncated, next: r.NextMarker };
      }),
    ]);
    const metadata = described?.KeyMetadata;
    if (!metadata) return undefined;
    return { metadata, policy: policy?.Policy, rotation, tags, aliases, grants };
  } catch (error) {
    if (error instanceof KeyGone) return undefined;
    throw error;
  }
}

/**
 * Creates the KMS reader. Every read of a key runs its six calls in parallel (one round trip when no list needs a
 * second page).
 *
 * @example
 * const reader = createKmsReader({ client: new KMSClient({ maxAttempts: 5 }) });
 * const live = await reader.readKey('arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab');
 */
export function createKmsReader({ client }: KmsReaderOptions): KmsReader {
  /** Runs one call; what the SDK's own retries could not get past becomes a RetryableKmsError. */
  const call: KmsCall = async (operation, subject, send) => {
    try {
      return await send();
    } catch (error) {
      if (notApplicable(error, operation, subject)) return undefined;
      if (isTransientAwsError(error)) {
        throw new RetryableKmsError(
          `KMS ${operation} for ${subject} failed after retries: ${(error as Error).message}`,
          { cause: error },
        );
      }
      throw error;
    }
  };

  async function readKey(keyArn: string): Promise<ResourceSnapshot> {
    const reads = await readKeyParts(client, call, keyArn, true);
    return reads ? keySnapshot(keyArn, reads) : deletedKey(keyArn);
  }

  async function readAlias(aliasArn: string): Promise<ResourceSnapshot> {
    // DescribeKey resolves an alias ARN to its key in one call; ListAliases would page through every alias in the
    // account to prove that a deleted alias is gone.
    try {
      const described = await call('DescribeKey', aliasArn, () =>
        client.send(new DescribeKeyCommand({ KeyId: aliasArn })),
      );
      return snapshotFromState('alias', aliasArn, { target_key_id: described?.KeyMetadata?.Arn ?? null });
    } catch (error) {
      if (error instanceof KeyGone) return snapshotFromState('alias', aliasArn, { target_key_id: null });
      throw error;
    }
  }

  return { readKey, readAlias };
}

/** The state of a key KMS no longer knows (deleted, as a DeleteKey event's effect says). */
export function deletedKey(keyArn: string): ResourceSnapshot {
  return snapshotFromState('key', keyArn, { key_state: 'Deleted', deletion_date: null });
}

const isoOrNull = (date: Date | undefined): string | null =>
  date instanceof Date && !Number.isNaN(date.getTime()) ? toIsoSeconds(date.getTime()) : null;

/** Maps one key's read results onto the drift attributes (maps as objects; the snapshot flattens them). */
export function keyState(reads: KeyReads): Record<string, unknown> {
  const { metadata } = reads;
  const lifecycle = metadata.KeyState ?? null;
  const origin = metadata.Origin ?? null;
  const multiRegion = metadata.MultiRegionConfiguration;
  const state: Record<string, unknown> = {
    description: metadata.Description ?? '',
    key_usage: metadata.KeyUsage ?? null,
    key_spec: metadata.KeySpec ?? metadata.CustomerMasterKeySpec ?? null,
    key_state: lifecycle,
    deletion_date: isoOrNull(metadata.DeletionDate),
    multi_region: metadata.MultiRegion === true,
    primary_region: metadata.MultiRegion === true ? (multiRegion?.PrimaryKey?.Region ?? null) : null,
    origin,
    // No material until an import: DescribeKey then has no ExpirationModel, whatever the state (a key for import
    // scheduled for deletion before any import is PendingDeletion, and still has none).
    key_material:
      origin === 'EXTERNAL' && lifecycle !== 'PendingImport' && metadata.ExpirationModel
        ? { expiration_model: metadata.ExpirationModel, valid_to: isoOrNull(metadata.ValidTo) }
        : null,
    custom_key_store: metadata.CustomKeyStoreId ?? null,
  };
  // The replica Regions are the primary key's to report. A replica lists them too (itself and every sibling), but a
  // sibling replicated or deleted, or the primary moved, is recorded in other Regions only: read on a replica, they
  // would be drift no event of its Region explains, undone by deleting replicas. Left out there: unknown, never compared.
  if (!isReplica(metadata))
    state.replica_regions = Object.fromEntries(
      (multiRegion?.ReplicaKeys ?? []).filter((r) => r.Region).map((r) => [r.Region as string, true]),
    );
  // A map is only stated when its list was read: the snapshot then knows it in full.
  if (reads.tags)
    state.tags = Object.fromEntries(reads.tags.filter((t) => t.TagKey).map((t) => [t.TagKey, t.TagValue ?? '']));
  if (reads.aliases)
    state.aliases = Object.fromEntries(reads.aliases.filter((a) => a.AliasName).map((a) => [a.AliasName, true]));
  if (reads.grants)
    state.grants = Object.fromEntries(reads.grants.filter((g) => g.GrantId).map((g) => [g.GrantId, grantValue(g)]));
  if (reads.policy !== undefined) state.policy = normalizePolicy(reads.policy, parseArn(metadata.Arn ?? '')?.partition);
  // Automatic rotation is shared by a multi-Region key's primary and replicas, and set on the primary only: like the
  // replica Regions, the primary's to report (a replica refuses EnableKeyRotation), left out on a replica.
  if (reads.rotation && !ROTATION_HIDDEN_STATES.has(String(lifecycle)) && !isReplica(metadata)) {
    const enabled = reads.rotation.KeyRotationEnabled === true;
    state.enable_key_rotation = enabled;
    state.rotation_period_in_days = enabled ? (reads.rotation.RotationPeriodInDays ?? null) : null;
  }
  return state;
}

/** A multi-Region replica key: KMS names another key (in another Region) as its primary. */
function isReplica(metadata: KeyMetadata): boolean {
  const configuration = metadata.MultiRegionConfiguration;
  if (metadata.MultiRegion !== true || !configuration) return false;
  if (configuration.MultiRegionKeyType) return configuration.MultiRegionKeyType === 'REPLICA';
  const own = parseArn(metadata.Arn ?? '')?.region;
  return !!own && !!configuration.PrimaryKey?.Region && configuration.PrimaryKey.Region !== own;
}

/** A grant as CreateGrant's effect records it: request field names, operations sorted, empty name as `null`. */
function grantValue(grant: GrantListEntry): Record<string, unknown> {
  return {
    grantee_principal: grant.GranteePrincipal || grant.GranteeServicePrincipal || null,
    retiring_principal: grant.RetiringPrincipal || grant.RetiringServicePrincipal || null,
    operations: [...(grant.Operations ?? [])].map(String).sort(),
    constraints: grantConstraints(grant.Constraints),
    name: grant.Name || null,
  };
}

/** The SDK's `Constraints` in the camel-case form CloudTrail records in CreateGrant's `requestParameters`. */
function grantConstraints(constraints: GrantListEntry['Constraints']): Record<string, unknown> | null {
  if (!constraints) return null;
  const out: Record<string, unknown> = {};
  if (constraints.EncryptionContextSubset) out.encryptionContextSubset = constraints.EncryptionContextSubset;
  if (constraints.EncryptionContextEquals) out.encryptionContextEquals = constraints.EncryptionContextEquals;
  // The resource on whose behalf alone the grantee may use the key (required with a GranteeServicePrincipal).
  if (constraints.SourceArn) out.sourceArn = constraints.SourceArn;
  return Object.keys(out).length ? out : null;
}

/** The snapshot of a key from its reads. */
export function keySnapshot(keyArn: string, reads: KeyReads): ResourceSnapshot {
  const snapshot = snapshotFromState('key', keyArn, keyState(reads));
  // Imported material only: what tells a staged material made current by a rotation (types.ts currentKeyMaterial).
  const current = reads.metadata.CurrentKeyMaterialId;
  return reads.metadata.Origin === 'EXTERNAL' && current ? { ...snapshot, currentKeyMaterial: current } : snapshot;
}
