/**
 * The catalogue: default severity and one-line summary of every watched event, and the metadata of the
 * escalation rules. Severities and texts live here, never in comparison code; configuration may
 * override any severity by event name (or by status: `denied`, `planned`, `resolved`).
 */
import { keyIdOf, parseArn } from './arn';
import type { DataSelector } from './effects';
import { organizationsOfPrincipalKey, stableJson } from './policy';
import { parseAwsDate, toIsoSeconds } from './time';
import type { AttributeChange, ChangeEvent, Severity } from './types';

export interface SummaryContext {
  event: ChangeEvent;
  /** The resource as a person knows it: `key alias/payments`, `alias alias/payments`, `trail org-audit`. */
  label: string;
  /** The actor's short name. */
  who: string;
  changes: Record<string, AttributeChange>;
  /** How to name another resource (an alias's old or new key). */
  labelOf(arn: unknown): string;
}

export interface EventEntry {
  /** A fixed severity, or one that depends on what changed (findings with no event behind them, a staged material's deletion). */
  severity: Severity | ((changes: Record<string, AttributeChange>) => Severity);
  summary(ctx: SummaryContext): string;
  /** Scheduled work KMS does itself for an approved setting (automatic rotation): never drift. */
  routine?: boolean;
  /** Why the severity is what it is, for alerts' "why" (alerts/reasons.ts), where it depends on what changed. */
  explanation?: string;
}

const list = (values: unknown): string => (Array.isArray(values) && values.length ? values.join(', ') : '');
const after = (ctx: SummaryContext, attribute: string): unknown => ctx.changes[attribute]?.after;
const entries = (value: unknown): Array<[string, unknown]> =>
  value && typeof value === 'object' ? Object.entries(value as Record<string, unknown>) : [];

/**
 * ` on <date>`; for a multi-Region primary with replicas (PendingReplicaDeletion, no date yet), when its waiting
 * period starts, so that no one reads the deletion as far off or never.
 */
function deletionWhen(c: SummaryContext): string {
  const date = after(c, 'deletion_date');
  if (date) return ` on ${date}`;
  if (after(c, 'key_state') !== 'PendingReplicaDeletion') return '';
  const days = c.event.requestParameters.pendingWindowInDays ?? c.event.responseElements.pendingWindowInDays;
  return `, ${typeof days === 'number' ? `${days} days` : 'its waiting period'} after its last replica is deleted,`;
}

/** The most characters of alias names a deletion's summary lists: the rest are counted, not cut mid-name by the bound. */
const MAX_LISTED_ALIAS_CHARS = 160;

/**
 * `; its aliases alias/a, alias/b went with it` for a key's deletion that took aliases with it (`aliases_deleted`),
 * else nothing: KMS deletes them with no event of their own, and whoever calls them now fails. Names up to a length,
 * then how many more (a key may have 50).
 */
function aliasesWentWith(changes: Record<string, AttributeChange>): string {
  const names = changes.key_state?.aliases_deleted;
  if (!Array.isArray(names) || names.length === 0) return '';
  const listed: string[] = [];
  let length = 0;
  for (const name of names.map(String)) {
    if (listed.length > 0 && length + name.length > MAX_LISTED_ALIAS_CHARS) break;
    listed.push(name);
    length += name.length + 2;
  }
  const more = names.length - listed.length;
  const named = `${listed.join(', ')}${more ? ` and ${more} more` : ''}`;
  return `; its ${names.length === 1 ? 'alias' : 'aliases'} ${named} went with it`;
}

/**
 * Whether a DeleteImportedKeyMaterial (or an expiry: DeleteExpiredKeyMaterial, KMS Imported Key Material Expiration)
 * deleted material the key uses: that changes its material and state (or names them as already known). Deleting the
 * material staged for its next rotation (effects.ts deletesStagedMaterial, deletesMaterialNotCurrent,
 * expiredMaterialNotInUse) changes neither.
 */
const deletesMaterialInUse = (changes: Record<string, unknown>): boolean =>
  'key_material' in changes || 'key_state' in changes;

/** A key's deletion cancelled (`how`: by whom, or that no event was seen), which leaves it Disabled. */
const deletionCancelledSummary = (label: string, how: string): string =>
  `Deletion of key ${label} cancelled ${how}; the key is left Disabled`;

/** `, open to account 444455556666` (or `to anyone`) for outside access, else nothing. */
function openedTo(external: string[] | undefined): string {
  if (!external?.length) return '';
  return external.includes('*') ? ', open to anyone' : `, open to account ${list(external)}`;
}

function policySummary(ctx: SummaryContext): string {
  const change = ctx.changes.policy;
  const external = change?.external_accounts ?? [];
  if (external.includes('*')) return `Key policy of ${ctx.label} opened to anyone by ${ctx.who}`;
  if (external.length) return `Key policy of ${ctx.label} opened to account ${list(external)} by ${ctx.who}`;
  if (change?.cloudtrail_access_removed)
    return `Key policy of ${ctx.label} no longer lets CloudTrail encrypt logs (changed by ${ctx.who})`;
  const added = change?.added_principals?.length ?? 0;
  const removed = change?.removed_principals?.length ?? 0;
  // With the previous policy unknown every principal counts as added and none as removed: counts would say nobody lost
  // access when nobody knows.
  const detail =
    change && change.before === null
      ? ' (previous policy unknown)'
      : added || removed
        ? ` (+${added} / -${removed} principals)`
        : '';
  return `Key policy of ${ctx.label} changed by ${ctx.who}${detail}${organizationDetail(change)}`;
}

/** `: now shared with organization o-b, no longer with o-a` when the policy's organization fences moved. */
function organizationDetail(change: AttributeChange | undefined): string {
  const orgs = (keys: string[] | undefined) => new Set((keys ?? []).flatMap(organizationsOfPrincipalKey));
  const before = orgs(change?.removed_principals);
  const now = orgs(change?.added_principals);
  const gained = [...now].filter((org) => !before.has(org)).sort();
  const lost = [...before].filter((org) => !now.has(org)).sort();
  const named = (ids: string[]) => `organization${ids.length > 1 ? 's' : ''} ${ids.join(', ')}`;
  if (gained.length && lost.length) return `: now shared with ${named(gained)}, no longer with ${lost.join(', ')}`;
  if (gained.length) return `: now shared with ${named(gained)}`;
  if (lost.length) return `: no longer shared with ${named(lost)}`;
  return '';
}

function tagSummary(verb: string) {
  return (ctx: SummaryContext): string => {
    const tags = entries(ctx.changes.tags?.after).map(([k, v]) => (v === null ? k : `${k}=${String(v)}`));
    return `Tags of ${ctx.label} ${verb} by ${ctx.who}${tags.length ? `: ${tags.join(', ')}` : ''}`;
  };
}

function grantSummary(ctx: SummaryContext): string {
  const grant = entries(ctx.changes.grants?.after).find(([, v]) => v)?.[1] as
    | { grantee_principal?: string; operations?: string[] }
    | undefined;
  const external = ctx.changes.grants?.external_accounts ?? [];
  const who = grant?.grantee_principal ?? 'a grantee';
  const outside = external.length ? ` in account ${list(external)}` : '';
  return `Grant on ${ctx.label} for ${who}${outside} (${list(grant?.operations) || 'no operations'}) created by ${ctx.who}`;
}

/** `Grant 0a1b2c3d… for arn:…:role/app on alias/payments revoked by carol`, naming what the record and state know. */
function endedGrantSummary(verb: string) {
  return (ctx: SummaryContext): string => {
    const [id, grant] = entries(ctx.changes.grants?.before)[0] ?? [];
    const grantee = (grant as { grantee_principal?: string } | null | undefined)?.grantee_principal;
    const shortId = id && id.length > 16 ? `${id.slice(0, 12)}…` : id;
    const named = shortId ? ` ${shortId}${grantee ? ` for ${grantee}` : ''}` : '';
    return `Grant${named} on ${ctx.label} ${verb} by ${ctx.who}`;
  };
}

/** What a trail does with each tracked setting's new value, in words. */
const TRAIL_SETTINGS: Record<string, (value: unknown) => string> = {
  s3_bucket_name: (bucket) => `now delivers its logs to S3 bucket ${String(bucket)}`,
  organization_trail: (on) =>
    on
      ? 'is now an organization trail'
      : 'is no longer an organization trail: the member accounts are no longer logged',
  include_global_service_events: (on) =>
    on ? 'logs global service events again' : 'no longer logs global service events (IAM, STS, CloudFront)',
};

function trailUpdateSummary(ctx: SummaryContext): string {
  const names = Object.keys(ctx.changes);
  const said = names.filter((name) => name in TRAIL_SETTINGS);
  const tracked = said.map((name) => TRAIL_SETTINGS[name](after(ctx, name))).join('; ');
  if ('kms_key_id' in ctx.changes) {
    const key = after(ctx, 'kms_key_id');
    const keyAccount = typeof key === 'string' ? parseArn(key)?.account : undefined;
    const elsewhere = keyAccount && keyAccount !== ctx.event.account ? ` of account ${keyAccount}` : '';
    const also = said.length ? `; it also ${tracked}` : '';
    return key
      ? `Trail ${ctx.label} now encrypts its logs with ${ctx.labelOf(key)}${elsewhere} (changed by ${ctx.who})${also}`
      : `Trail ${ctx.label} left without a KMS key by ${ctx.who}: its logs are no longer encrypted with KMS${also}`;
  }
  if (said.length) {
    const others = names.filter((name) => !(name in TRAIL_SETTINGS));
    return `Trail ${ctx.label} ${tracked} (changed by ${ctx.who}${others.length ? `, with ${others.join(', ')}` : ''})`;
  }
  if (names.length) return `Trail ${ctx.label} updated by ${ctx.who} (${names.join(', ')})`;
  // Settings keydrift does not baseline (the SNS topic, CloudWatch Logs, key prefix): named as the request set them.
  const { name: _trail, ...settings } = ctx.event.requestParameters;
  const set = Object.entries(settings).map(
    ([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`,
  );
  return `Trail ${ctx.label} updated by ${ctx.who}${set.length ? `: ${set.join(', ')}` : ''}`;
}

type SelectorsValue = {
  management?: string;
  excluded_sources?: string[];
  kms_reads_excluded?: true;
  data_resources?: DataSelector[];
};

/** Each thing one data-event or network-activity selector logs: `AWS::S3::Object under arn:aws:s3:::bucket/`. */
function loggedBy(selector: DataSelector): string[] {
  if (selector.selector === 'basic') {
    const only = { ReadOnly: ' (reads only)', WriteOnly: ' (writes only)' }[selector.read_write_type] ?? '';
    const values = selector.values.length ? selector.values : [''];
    return values.map((value) => `${selector.type}${value ? ` under ${value}` : ''}${only}`);
  }
  const fields = new Map(selector.field_selectors.map((f) => [f.field, f]));
  const equals = (name: string) => fields.get(name)?.equals;
  const network = equals('eventCategory')?.includes('NetworkActivity');
  const what = network
    ? `${equals('eventSource')?.join(' or ') ?? 'all'} network activity`
    : (equals('resources.type')?.join(' or ') ?? 'data events');
  const arns = fields.get('resources.ARN');
  const where = arns?.startsWith ?? arns?.equals ?? [''];
  const shown = new Set(['eventCategory', network ? 'eventSource' : 'resources.type']);
  if (where[0]) shown.add('resources.ARN');
  // Any other field narrows what is logged: named with its operators, as CloudTrail spells them.
  const narrowed = selector.field_selectors
    .filter((f) => !shown.has(f.field))
    .flatMap(({ field, ...operators }) =>
      Object.entries(operators).map(([op, v]) => `${field} ${op} ${v.join(' or ')}`),
    );
  const how = narrowed.length ? ` (${narrowed.join(', ')})` : '';
  return where.map((value) => `${what}${value ? ` under ${value}` : ''}${how}`);
}

/** `a, b, c and 2 more`: a list kept short enough that both sides of a change fit the one-line summary. */
const fewOf = (items: string[], most = 3): string =>
  items.length > most ? `${items.slice(0, most).join(', ')} and ${items.length - most} more` : items.join(', ');

/** `: no longer logs X; now logs Y` from the data-event selectors before and after (nothing for an older baseline). */
function dataSelectorDetail(before: DataSelector[] = [], after: DataSelector[] = []): string {
  // A baseline stored by an earlier keydrift holds only resource types: it cannot say what is no longer logged.
  if ([...before, ...after].some((s) => typeof s !== 'object' || s === null)) return '';
  const was = new Set(before.flatMap(loggedBy));
  const now = new Set(after.flatMap(loggedBy));
  const dropped = [...was].filter((item) => !now.has(item)).sort();
  const added = [...now].filter((item) => !was.has(item)).sort();
  const parts = [
    ...(dropped.length ? [`no longer logs ${fewOf(dropped)}`] : []),
    ...(added.length ? [`now logs ${fewOf(added)}`] : []),
  ];
  return parts.length ? `: ${parts.join('; ')}` : '';
}

/** `: KMS read events … no longer logged` (or `logged again`) when a trail's selectors changed that. */
function kmsReadsDetail(before: SelectorsValue | null | undefined, after: SelectorsValue | undefined): string {
  if (!before || !after || !!before.kms_reads_excluded === !!after.kms_reads_excluded) return '';
  return after.kms_reads_excluded
    ? ': KMS read events (Decrypt, GenerateDataKey…) no longer logged'
    : ': KMS read events logged again';
}

function selectorSummary(ctx: SummaryContext): string {
  const selectors = after(ctx, 'event_selectors') as SelectorsValue | undefined;
  const before = ctx.changes.event_selectors?.before as SelectorsValue | null | undefined;
  const logsKms =
    selectors &&
    (selectors.management === 'All' || selectors.management === 'WriteOnly') &&
    !selectors.excluded_sources?.includes('kms.amazonaws.com');
  if (selectors && !logsKms)
    return `Trail ${ctx.label} no longer logs KMS management events (event selectors changed by ${ctx.who})`;
  // Only the data-event (and network activity) selectors moved: which objects, functions or endpoints are logged.
  const same = (a: unknown, b: unknown) => stableJson(a ?? []) === stableJson(b ?? []);
  const dataOnly =
    selectors &&
    before &&
    before.management === selectors.management &&
    same(before.excluded_sources, selectors.excluded_sources) &&
    !same(before.data_resources, selectors.data_resources);
  if (!dataOnly)
    return `Event selectors of trail ${ctx.label} changed by ${ctx.who}${kmsReadsDetail(before, selectors)}`;
  const detail = dataSelectorDetail(before.data_resources, selectors.data_resources);
  return `Data-event selectors of trail ${ctx.label} changed by ${ctx.who}${detail}`;
}

/**
 * The key an alias pointed to or points to, by key id: its usual label (its first alias) would be the
 * alias being changed, since summaries are written before the alias moves.
 */
function targetLabel(ctx: SummaryContext, side: 'before' | 'after'): string {
  const arn = ctx.changes.target_key_id?.[side];
  return typeof arn === 'string' && arn !== '' ? keyIdOf(arn) : ctx.labelOf(arn);
}

const s = (text: (ctx: SummaryContext) => string) => text;

export const EVENTS: Record<string, EventEntry> = {
  // critical
  ScheduleKeyDeletion: {
    severity: 'critical',
    summary: s((c) => `Key ${c.label} scheduled for deletion${deletionWhen(c)} by ${c.who}`),
  },
  DisableKey: { severity: 'critical', summary: s((c) => `Key ${c.label} disabled by ${c.who}`) },
  PutKeyPolicy: { severity: 'critical', summary: policySummary },
  DeleteImportedKeyMaterial: {
    // The material staged for a rotation is no more than its import was (error): the key goes on as approved, and a
    // page would open an incident no later change could resolve.
    severity: (changes) => (deletesMaterialInUse(changes) ? 'critical' : 'error'),
    explanation:
      'Deleting the imported key material a key uses leaves it unusable until the material is re-imported ' +
      '(critical); deleting material only staged for its next rotation leaves it as approved (an error).',
    summary: s((c) =>
      deletesMaterialInUse(c.changes)
        ? `Imported key material of ${c.label} deleted by ${c.who}: the key cannot be used until it is re-imported`
        : `Key material staged for the next on-demand rotation of ${c.label} deleted by ${c.who}: the key goes on using its current material`,
    ),
  },
  DeleteKey: {
    severity: 'critical',
    summary: s((c) => `Key ${c.label} deleted by KMS at the end of its waiting period${aliasesWentWith(c.changes)}`),
  },
  'KMS CMK Deletion': {
    severity: 'critical',
    summary: s((c) => `Key ${c.label} deleted (KMS CMK Deletion)${aliasesWentWith(c.changes)}`),
  },
  DisconnectCustomKeyStore: {
    severity: 'critical',
    summary: s((c) => `Custom key store ${c.label} disconnected by ${c.who}: its keys cannot be used`),
  },
  DeleteCustomKeyStore: { severity: 'critical', summary: s((c) => `Custom key store ${c.label} deleted by ${c.who}`) },
  StopLogging: { severity: 'critical', summary: s((c) => `Trail ${c.label} stopped logging (by ${c.who})`) },
  DeleteTrail: { severity: 'critical', summary: s((c) => `Trail ${c.label} deleted by ${c.who}`) },
  // error
  DisableKeyRotation: {
    severity: 'error',
    summary: s((c) => `Automatic rotation of key ${c.label} disabled by ${c.who}`),
  },
  UpdateAlias: {
    severity: 'error',
    summary: s(
      (c) => `Alias ${c.label} moved from ${targetLabel(c, 'before')} to ${targetLabel(c, 'after')} by ${c.who}`,
    ),
  },
  DeleteAlias: {
    severity: 'error',
    summary: s((c) => `Alias ${c.label} (on ${targetLabel(c, 'before')}) deleted by ${c.who}`),
  },
  CreateGrant: { severity: 'error', summary: grantSummary },
  ImportKeyMaterial: {
    severity: 'error',
    summary: s((c) => {
      const material = after(c, 'key_material') as { valid_to?: string | null } | undefined;
      if (!material && c.event.requestParameters.importType === 'NEW_KEY_MATERIAL') {
        // Staged (effects.ts isStagedImport): the key goes on using its current material until a RotateKeyOnDemand.
        const validTo = parseAwsDate(c.event.requestParameters.validTo);
        const expiry = validTo === undefined ? undefined : toIsoSeconds(validTo);
        return `New key material imported into ${c.label} by ${c.who}, staged for its next on-demand rotation${expiry ? ` (expires ${expiry})` : ''}`;
      }
      return `Key material imported into ${c.label} by ${c.who}${material?.valid_to ? ` (expires ${material.valid_to})` : ''}`;
    }),
  },
  ReplicateKey: {
    severity: 'error',
    summary: s(
      (c) =>
        `Key ${c.label} replicated to ${Object.keys((c.changes.replica_regions?.after as object) ?? {}).join(', ') || 'another Region'} by ${c.who}${openedTo(c.changes.policy?.external_accounts)}`,
    ),
  },
  UpdatePrimaryRegion: {
    severity: 'error',
    summary: s(
      (c) =>
        `Primary Region of key ${c.label} moved to ${String(after(c, 'primary_region') ?? 'another Region')} by ${c.who}`,
    ),
  },
  UpdateCustomKeyStore: {
    severity: 'error',
    summary: s((c) => {
      // Secrets are recorded only as changed (effects.ts): named, never shown.
      const settings = entries(c.changes.configuration?.after).map(([name, value]) =>
        value === 'changed' || typeof value !== 'string' ? name : `${name}=${value}`,
      );
      return `Custom key store ${c.label} settings changed by ${c.who}${settings.length ? `: ${settings.join(', ')}` : ''}`;
    }),
  },
  UpdateTrail: { severity: 'error', summary: trailUpdateSummary },
  PutEventSelectors: { severity: 'error', summary: selectorSummary },
  'KMS Imported Key Material Expiration': {
    severity: 'error',
    summary: s((c) =>
      deletesMaterialInUse(c.changes)
        ? `Imported key material of ${c.label} expired: the key cannot be used until it is re-imported`
        : `Imported key material staged for the next on-demand rotation of ${c.label} expired: the key goes on using its current material`,
    ),
  },
  DeleteExpiredKeyMaterial: {
    severity: 'error',
    summary: s((c) =>
      deletesMaterialInUse(c.changes)
        ? `KMS deleted the expired key material of ${c.label}: the key cannot be used until it is re-imported`
        : `KMS deleted the expired key material staged for the next on-demand rotation of ${c.label}: the key goes on using its current material`,
    ),
  },
  // warning
  TagResource: { severity: 'warning', summary: tagSummary('changed') },
  UntagResource: { severity: 'warning', summary: tagSummary('removed') },
  UpdateKeyDescription: {
    severity: 'warning',
    summary: s((c) => `Description of key ${c.label} changed by ${c.who}`),
  },
  CreateAlias: {
    severity: 'warning',
    summary: s((c) => `Alias ${c.label} created for ${targetLabel(c, 'after')} by ${c.who}`),
  },
  RetireGrant: { severity: 'warning', summary: endedGrantSummary('retired') },
  RevokeGrant: { severity: 'warning', summary: endedGrantSummary('revoked') },
  CreateKey: {
    severity: 'warning',
    summary: s((c) => `New key ${c.label} created by ${c.who}${openedTo(c.changes.policy?.external_accounts)}`),
  },
  CreateCustomKeyStore: { severity: 'warning', summary: s((c) => `Custom key store ${c.label} created by ${c.who}`) },
  CreateTrail: { severity: 'warning', summary: s((c) => `Trail ${c.label} created by ${c.who}`) },
  // info
  EnableKey: { severity: 'info', summary: s((c) => `Key ${c.label} enabled by ${c.who}`) },
  EnableKeyRotation: {
    severity: 'info',
    summary: s(
      (c) =>
        `Automatic rotation of key ${c.label} enabled (every ${String(after(c, 'rotation_period_in_days') ?? 365)} days) by ${c.who}`,
    ),
  },
  CancelKeyDeletion: {
    severity: 'info',
    summary: s((c) => deletionCancelledSummary(c.label, `by ${c.who}`)),
  },
  RotateKeyOnDemand: { severity: 'info', summary: s((c) => `Key ${c.label} rotated on demand by ${c.who}`) },
  RotateKey: {
    severity: 'info',
    routine: true,
    // KMS records the rotation a RotateKeyOnDemand started with this event too (rotationType ON_DEMAND).
    summary: s((c) =>
      c.event.additionalEventData.rotationType === 'ON_DEMAND'
        ? `Key ${c.label} rotated on demand: KMS completed the rotation requested with RotateKeyOnDemand`
        : `Key ${c.label} rotated automatically by KMS`,
    ),
  },
  'KMS CMK Rotation': {
    severity: 'info',
    routine: true,
    summary: s((c) => `Key ${c.label} rotated automatically by KMS`),
  },
  SynchronizeMultiRegionKey: {
    severity: 'info',
    routine: true,
    summary: s((c) => `Multi-Region key ${c.label} synchronized by KMS`),
  },
  ConnectCustomKeyStore: { severity: 'info', summary: s((c) => `Custom key store ${c.label} connected by ${c.who}`) },
  StartLogging: { severity: 'info', summary: s((c) => `Trail ${c.label} started logging (by ${c.who})`) },
};

const RANK: readonly Severity[] = ['info', 'warning', 'error', 'critical'];
/** PendingDeletion, or PendingReplicaDeletion (a multi-Region primary waiting for its replicas to go): cancellable. */
export const isPendingDeletion = (state: unknown): boolean =>
  state === 'PendingDeletion' || state === 'PendingReplicaDeletion';

/**
 * Key states in which the key cannot be used for cryptography: `Unavailable` is a key whose custom key store is
 * disconnected (DESIGN: DisconnectCustomKeyStore is critical, "its keys cannot be used").
 */
export const UNUSABLE_KEY_STATES: ReadonlySet<string> = new Set([
  'Disabled',
  'PendingDeletion',
  'PendingReplicaDeletion',
  'PendingImport',
  'Unavailable',
  'Deleted',
]);

/**
 * For drift no event explained, the severity of the change that would have made each difference (a key
 * found Disabled is as bad as a DisableKey), the worst one winning. An attribute back at its baseline is a
 * resolution, not drift: it weighs nothing.
 */
function severityOfDifferences(changes: Record<string, AttributeChange>): Severity {
  const of = (attribute: string, change: AttributeChange): Severity => {
    switch (attribute) {
      case 'key_state':
        // Left a pending deletion keydrift saw for Disabled: a deletion cancelled, as CancelKeyDeletion weighs; but the
        // deletion its baseline approves (`before`), cancelled, is drift from that approval as any other state.
        if (change.deletion_cancelled && !isPendingDeletion(change.before)) return 'info';
        return UNUSABLE_KEY_STATES.has(String(change.after)) ? 'critical' : 'info';
      case 'deletion_date':
      case 'key_material':
        return change.after ? 'error' : 'critical';
      case 'policy':
        return 'critical';
      case 'grants':
        // Only grants gone: a RetireGrant or RevokeGrant; any grant there that was not (a CreateGrant) is worse.
        return Object.values((change.after ?? {}) as Record<string, unknown>).every((grant) => grant === null)
          ? 'warning'
          : 'error';
      case 'enable_key_rotation':
        return change.after ? 'info' : 'error';
      case 'logging':
        return change.after ? 'info' : 'critical';
      case 'trail':
        return change.after === 'deleted' ? 'critical' : 'warning';
      case 'connection_state':
        return change.after === 'CONNECTED' ? 'info' : 'critical';
      case 'rotation_period_in_days':
        // As EnableKeyRotation (rotation turned on, or made more frequent); a longer period than approved is raised to
        // a warning by RotationPeriodNotLengthened, and rotation turned off weighs as enable_key_rotation.
        return 'info';
      case 'tags':
      case 'description':
      case 'aliases':
        return 'warning';
      default:
        return 'error';
    }
  };
  return Object.entries(changes).reduce<Severity>((worst, [attribute, change]) => {
    if (change.back_to_baseline) return worst;
    const severity = of(attribute, change);
    return RANK.indexOf(severity) > RANK.indexOf(worst) ? severity : worst;
  }, 'info');
}

/**
 * The event name of the finding an operator's accept (or adopt) makes: everything about the resource is approved as
 * it is now, what it was created with too, so it closes the resource's incidents.
 */
export const ACCEPT_EVENT = 'BaselineAccept';

/** The event name of findings about a resource the reconciler found with no baseline (after adoption). */
export const UNBASELINED_EVENT = 'Unbaselined';

/** Findings the reconciler makes: drift no event explained, and deletion countdown reminders. */
export const RECONCILE_EVENTS: Record<string, EventEntry> = {
  Reconcile: {
    severity: severityOfDifferences,
    explanation:
      'Drift found with no event behind it weighs as the change that would have made it (a key found Disabled as a ' +
      'DisableKey), the worst difference winning.',
    summary: s((c) => {
      const all = Object.keys(c.changes);
      const back = all.filter((attribute) => c.changes[attribute].back_to_baseline);
      const drifting = all.filter((attribute) => !c.changes[attribute].back_to_baseline);
      // All back (a `resolved` finding): the status adds so. Some back beside new drift: named apart, as news too.
      // A deletion cancelled, nothing else new (its date back to none goes with it): in the words of its record.
      if (c.changes.key_state?.deletion_cancelled && drifting.length === 1 && back.every((a) => a === 'deletion_date'))
        return deletionCancelledSummary(c.label, 'with no change event seen');
      const aliases = aliasesWentWith(c.changes);
      if (drifting.length === 0 || back.length === 0)
        return `${c.label} differs from its baseline with no change event seen (${all.join(', ')})${aliases}`;
      return `${c.label} differs from its baseline with no change event seen (${drifting.join(', ')}); back to its baseline: ${back.join(', ')}${aliases}`;
    }),
  },
  Unbaselined: {
    severity: 'warning',
    summary: s((c) => {
      const arn = c.event.resourceArns[0] ?? '';
      const kind = arn.includes(':key/')
        ? 'Key'
        : arn.includes(':alias/')
          ? 'Alias'
          : arn.includes(':trail/')
            ? 'Trail'
            : 'Resource';
      const adopted = 'its current state is now its baseline';
      return `${kind} ${c.label} appeared without a baseline and with no change event seen; ${adopted}`;
    }),
  },
  DeletionReminder: {
    severity: (changes) => (Number(changes.deletion_date?.days_left) <= 3 ? 'critical' : 'error'),
    explanation: 'A key deletion no one approved is an error while days remain to cancel it, critical from 3 days.',
    summary: deletionReminderSummary(''),
  },
  /** A deletion a planned principal scheduled: its baseline is "pending deletion on that date". */
  ApprovedDeletionReminder: {
    severity: 'info',
    routine: true,
    summary: deletionReminderSummary(', as approved'),
  },
};

/**
 * A key KMS deleted at the end of the waiting period its baseline approves (core/approved-deletion.ts): the schedule a
 * planned principal made, carried out. `null`: a multi-Region primary's, scheduled while it had replicas, whose date
 * (set by KMS once they were gone) keydrift never read.
 */
export function approvedDeletionSummary(c: SummaryContext, date: string | null): string {
  const when = date ?? "the end of the waiting period after its last replica's deletion";
  return `Key ${c.label} deleted by KMS as approved: its deletion was scheduled for ${when}${aliasesWentWith(c.changes)}`;
}

/**
 * A multi-Region primary's deletion a planned principal scheduled while it had replicas, dated by KMS once the last was
 * deleted (core/approved-deletion.ts `withApprovedDeletionGoingOn`): the approved schedule going on, KMS's own step.
 */
export function approvedDeletionDatedSummary(c: SummaryContext, date: string): string {
  return `Deletion of key ${c.label} dated ${date} by KMS, as approved: its last replica is deleted`;
}

/**
 * A replica of a multi-Region primary whose deletion a planned principal scheduled while it had replicas, deleted
 * before the last (core/approved-deletion.ts `withApprovedDeletionGoingOn`): the approved schedule going on.
 */
export function approvedReplicasDeletedSummary(c: SummaryContext, regions: readonly string[]): string {
  const replicas = regions.length === 1 ? 'Replica' : 'Replicas';
  return `${replicas} of key ${c.label} in ${regions.join(', ')} deleted, as approved: the key's deletion waits for its last replica`;
}

function deletionReminderSummary(approval: string) {
  return (c: SummaryContext): string => {
    const detail = c.changes.deletion_date ?? { before: null, after: null };
    const trails = Array.isArray(detail.dependent_trails) ? detail.dependent_trails : [];
    const uses = [
      ...(trails.length ? [`trail ${trails.map((t) => c.labelOf(t)).join(', ')} encrypts its logs with it`] : []),
      ...(detail.used_by_keydrift ? ['keydrift itself uses it'] : []),
    ];
    return `Key ${c.label} will be deleted in ${String(detail.days_left)} day(s), on ${String(detail.after)}${approval}${uses.length ? `; ${uses.join('; ')}` : ''}`;
  };
}

/** A write keydrift has no entry for (a new KMS API): reported, never dropped. */
export const UNKNOWN_WRITE: EventEntry = {
  severity: 'warning',
  summary: s((c) => `${c.event.eventName} on ${c.label} by ${c.who} (a write keydrift does not know yet)`),
};

/** Severities the statuses impose, whatever the event (DESIGN: planned, resolved and denied). */
export const STATUS_SEVERITY = { planned: 'info', resolved: 'info', denied: 'warning' } as const;

export interface RuleEntry {
  /** The severity a violation sets: `raise` never lowers, `lower` never raises. */
  severity: Severity;
  effect: 'raise' | 'lower';
  explanation: string;
}

/** Metadata of the escalation rules in `rules/`, by rule id. */
export const RULES: Record<string, RuleEntry> = {
  NoOutsideAccessGained: {
    severity: 'critical',
    effect: 'raise',
    explanation: 'A change that lets another account, or anyone, use the key is critical.',
  },
  TrailKeyKeepsCloudTrailAccess: {
    severity: 'critical',
    effect: 'raise',
    explanation: 'The key encrypts a CloudTrail trail: CloudTrail must keep kms:GenerateDataKey* or logging fails.',
  },
  TrailKeyStaysUsable: {
    severity: 'critical',
    effect: 'raise',
    explanation: 'The key encrypts a CloudTrail trail: disabling or deleting it stops the audit log.',
  },
  TrailKeepsKmsKey: {
    severity: 'critical',
    effect: 'raise',
    explanation: 'A trail left without its KMS key writes audit logs no longer protected by KMS.',
  },
  TrailKeyStaysInAccount: {
    severity: 'critical',
    effect: 'raise',
    explanation:
      "A trail encrypted with another account's key depends on that account: disabling the key stops the audit log.",
  },
  TrailLogsKmsManagementEvents: {
    severity: 'critical',
    effect: 'raise',
    explanation: 'A trail that stops logging KMS management events blinds keydrift and the auditors.',
  },
  RotationPeriodNotLengthened: {
    severity: 'warning',
    effect: 'raise',
    explanation: 'A longer rotation period keeps each version of the key material in use longer.',
  },
  AliasStaysOnApprovedKey: {
    severity: 'error',
    effect: 'raise',
    explanation:
      'An alias deleted and created again on another key than its approved one is a move, an error as UpdateAlias is.',
  },
  ServiceGrantsAreRoutine: {
    severity: 'info',
    effect: 'lower',
    explanation: "AWS services create and retire grants on their callers' behalf all day; they page no one.",
  },
  RuleFailed: {
    severity: 'error',
    effect: 'raise',
    explanation: 'A detection rule failed on this event: review the change by hand.',
  },
};
