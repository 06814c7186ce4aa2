import { isPlannedPrincipal, withoutSourceIdentity } from './actor';
import { parseArn } from './arn';
import {
  approvedDeletionDatedSummary,
  approvedDeletionSummary,
  approvedReplicasDeletedSummary,
  EVENTS,
  type EventEntry,
  RECONCILE_EVENTS,
  RULES,
  STATUS_SEVERITY,
  type SummaryContext,
  UNKNOWN_WRITE,
} from './catalog';
import { allowsCloudTrailEncryption, namesCloudTrail } from './cloudtrail-access';
import type { DetectionConfig } from './config';
import { ownEntry } from './own';
import { accountOfPrincipal, diffPolicies, type Policy, sameJson } from './policy';
import {
  type ApprovedValue,
  comment,
  MAX_UNTOUCHED_UNDOS,
  moreToUndo,
  remediationFor,
  shellQuote,
  stagedMaterialUndo,
} from './remediation';
import { ALL_RULES, type RuleContext } from './rules';
import { grantManagedByService } from './rules/ServiceGrantsAreRoutine';
import { attributeOf, isPathOf, splitPath } from './state';
import {
  type AttributeChange,
  type ChangeEvent,
  type Finding,
  type ResourceKind,
  SEVERITIES,
  type Severity,
  type Status,
} from './types';

/** One attribute path an event touched. `undefined` means unknown; `null` means absent. */
export interface TouchedPath {
  path: string;
  before: unknown;
  after: unknown;
  /** The approved value. */
  baseline: unknown;
}

/** Everything the core knows about one event on one resource. */
export interface Observation {
  event: ChangeEvent;
  kind: ResourceKind;
  resource: string;
  paths: TouchedPath[];
  /** The event created the resource. */
  creates: boolean;
  /**
   * Entries of the map attributes the event touched (other grants, tags, aliases) that it left differing from their
   * approved value: while any remains, the attribute is not back at its baseline.
   */
  untouchedDrift?: TouchedPath[];
  /** The approved value of any path of the resource (`undefined` when unknown). */
  approved?: ApprovedValue;
  /**
   * The key was deleted as its baseline approves (core/approved-deletion.ts): the deletion date a planned principal
   * scheduled, its waiting period over, or `null` for a multi-Region primary approved waiting for its replicas, whose
   * date keydrift never saw. The deletion is that approval carried out, not drift.
   */
  approvedDeletionDate?: string | null;
  /**
   * A multi-Region primary's deletion its baseline approves waiting for its replicas, dated by KMS once the last was
   * deleted (core/approved-deletion.ts `withApprovedDeletionGoingOn`): the approved schedule going on, not drift.
   */
  approvedDeletionDated?: string;
  /**
   * The Regions of a multi-Region primary's replicas deleted before the last while its baseline approves it waiting for
   * them (core/approved-deletion.ts `withApprovedDeletionGoingOn`): the approved schedule going on, not drift.
   */
  approvedReplicasDeleted?: string[];
  notes: Record<string, Record<string, unknown>>;
  /**
   * The approved value of a path of another resource the event made beyond this one's paths (the replica key a
   * ReplicateKey made, its `policy`), when keydrift knows it.
   */
  approvedElsewhere?: (arn: string, path: string) => unknown;
  /**
   * The value of a path of another resource as keydrift last knew it (the state of the key an alias is approved on),
   * `undefined` when it does not know it.
   */
  knownElsewhere?: (arn: string, path: string) => unknown;
}

/** Facts about the surroundings, supplied by the replay's memory or the live detector's reads. */
export interface Surroundings {
  labelOf(arn: unknown): string;
  trailsUsingKey(keyArn: string): string[];
}

const rank = (severity: Severity): number => SEVERITIES.indexOf(severity);

/**
 * The `changes` object of a finding: touched paths grouped by attribute, with policy and grant details.
 * `trailsUsingKey` (the trails whose logs the key encrypts) lets a new policy that locks CloudTrail out
 * be flagged even when the previous policy is unknown.
 */
export function groupChanges(
  observation: Pick<Observation, 'paths' | 'notes' | 'resource' | 'event'>,
  trailsUsingKey: readonly string[] = [],
): Record<string, AttributeChange> {
  const changes = changesByAttribute(observation.paths);
  const ownAccount = parseArn(observation.resource)?.account ?? observation.event.account;
  if (changes.policy) Object.assign(changes.policy, policyDetails(changes.policy, ownAccount, trailsUsingKey));
  if (changes.grants) changes.grants.external_accounts = grantOutsiders(changes.grants, ownAccount);
  // Nothing changed that keydrift did not know: no principals gained or lost, but the drift is still there.
  if (Object.keys(changes).length === 0 && !observation.event.errorCode) {
    Object.assign(changes, alreadyKnown(observation));
  }
  for (const [attribute, notes] of Object.entries(observation.notes)) {
    changes[attribute] = { ...(changes[attribute] ?? { before: null, after: null }), ...notes };
  }
  return changes;
}

/** Paths that changed, as `{before, after}` per attribute; the entries of a map attribute (grants, tags) inside. */
export function changesByAttribute(
  paths: ReadonlyArray<Pick<TouchedPath, 'path' | 'before' | 'after'>>,
): Record<string, AttributeChange> {
  const changes: Record<string, AttributeChange> = {};
  for (const { path, before, after } of paths) {
    if (before !== undefined && sameJson(before, after)) continue;
    const { attribute, entry } = splitPath(path);
    if (entry === undefined) {
      changes[attribute] = { before: before ?? null, after: after ?? null };
      continue;
    }
    changes[attribute] ??= { before: {}, after: {} };
    const change = changes[attribute];
    (change.before as Record<string, unknown>)[entry] = before ?? null;
    (change.after as Record<string, unknown>)[entry] = after ?? null;
  }
  return changes;
}

const atBaseline = (p: TouchedPath): boolean => p.baseline !== undefined && sameJson(p.after, p.baseline);

/** Every path the event touched is at its baseline, and nothing else of those attributes drifts. */
const pathsBackAtBaseline = ({ paths, untouchedDrift }: Pick<Observation, 'paths' | 'untouchedDrift'>): boolean =>
  paths.length > 0 && paths.every(atBaseline) && !untouchedDrift?.length;

/**
 * What an event that changed nothing keydrift did not already know still leaves off its baseline: the reconciler
 * reported the change before its event arrived, or the same change was made twice. Naming the attribute keeps the
 * finding (and its page) on the incident that attribute's drift opened, rather than on one nothing ever resolves.
 * With nothing off its baseline, the attributes the event touched, marked `unchanged`.
 */
function alreadyKnown(observation: Pick<Observation, 'paths'>): Record<string, AttributeChange> {
  const drifting = observation.paths.filter((p) => !atBaseline(p));
  // With nothing drifting, the call changed nothing at all (a policy put again as approved, a grant retired twice).
  const flag = drifting.length ? 'already_known' : 'unchanged';
  const paths = drifting.length ? drifting : observation.paths;
  const changes = changesByAttribute(paths.map(({ path, after }) => ({ path, before: undefined, after })));
  for (const change of Object.values(changes)) {
    change.before = change.after;
    change[flag] = true;
  }
  return changes;
}

/**
 * Principal details of a policy change, and whether it takes CloudTrail's `kms:GenerateDataKey*` away from a key
 * meant for it: one that encrypts a trail (`trailsUsingKey`: ARNs, or a placeholder for configured trail keys), or
 * whose previous policy named CloudTrail. Trail by trail: one that had access and lost it counts, even when another
 * trail on the key had none already. With the previous policy unknown, on a key that encrypts a trail, the new
 * policy breaks the trail either way.
 */
function policyDetails(change: AttributeChange, ownAccount: string, trailsUsingKey: readonly string[]) {
  const before = change.before as Policy | null;
  const after = change.after as Policy | null;
  const details: Partial<AttributeChange> = { ...diffPolicies(before, after, ownAccount) };
  const trails = trailsUsingKey.filter((trail) => trail.startsWith('arn:'));
  const meantForCloudTrail = trailsUsingKey.length > 0 || (!!before && namesCloudTrail(before));
  const hadAccess = (arns: string[]) =>
    before ? allowsCloudTrailEncryption(before, ownAccount, arns) : trailsUsingKey.length > 0;
  const lostAccess = (trails.length > 0 ? trails.map((trail) => [trail]) : [[]]).some(
    (arns) => hadAccess(arns) && !!after && !allowsCloudTrailEncryption(after, ownAccount, arns),
  );
  if (meantForCloudTrail && lostAccess) details.cloudtrail_access_removed = true;
  return details;
}

/**
 * The account a grant lets in: its grantee's, or for a service principal the account of the resource its SourceArn
 * constraint names, on whose behalf alone the service may use the key (as a policy's `aws:SourceArn` fence).
 */
function grantAccount(grant: unknown): string | undefined {
  const { grantee_principal: grantee, constraints } = (grant ?? {}) as {
    grantee_principal?: string | null;
    constraints?: { sourceArn?: unknown } | null;
  };
  if (!grantee) return undefined;
  const account = accountOfPrincipal(grantee);
  if (account || grantee.startsWith('arn:')) return account;
  const sourceArn = constraints?.sourceArn;
  return typeof sourceArn === 'string' ? parseArn(sourceArn)?.account || undefined : undefined;
}

function grantOutsiders(change: AttributeChange, ownAccount: string): string[] {
  const outside = new Set<string>();
  for (const [id, grant] of Object.entries((change.after as Record<string, unknown>) ?? {})) {
    const before = (change.before as Record<string, unknown>)[id];
    const account = grantAccount(grant);
    if (grant && !before && account && account !== ownAccount) outside.add(account);
  }
  return [...outside].sort();
}

/**
 * Flags each attribute that is whole at its approved value again, so a pager closes that attribute's incident: every
 * path the event touched is back at its known baseline, or was drifting (or unknown) and a planned change approves
 * it; and no other entry of it still drifts (approving one grant does not approve another).
 */
function markBackToBaseline(changes: Record<string, AttributeChange>, observation: Observation, status: Status): void {
  // A denied call changed nothing: it must not close an incident (a failed EnableKey of a key still disabled).
  if (status === 'denied') return;
  const untouched = observation.untouchedDrift ?? [];
  // An approved deletion carried out leaves the key as approved, Deleted: an incident still open for its state closes.
  const wasDrifting = (p: TouchedPath) =>
    observation.approvedDeletionDate !== undefined || p.baseline === undefined || !sameJson(p.before, p.baseline);
  for (const [attribute, change] of Object.entries(changes)) {
    const touched = observation.paths.filter((p) => splitPath(p.path).attribute === attribute);
    if (touched.length === 0 || change.unchanged) continue;
    // Found at the first entry, mostly: a key's untouched drift may be thousands of grants, at each of its events.
    if (untouched.some((p) => isPathOf(p.path, attribute))) continue;
    const back = status === 'planned' ? touched.some(wasDrifting) : touched.every(atBaseline);
    if (back) change.back_to_baseline = true;
  }
}

/**
 * What the event did beyond this resource's paths, in its notes, that lets another account in: the policy of the
 * replica a ReplicateKey made, which no path of the primary holds. Made again in a Region its baseline approves, the
 * primary's paths are all back at their baseline, but the new replica's policy is compared with none of them: only an
 * account the policy approved for that replica does not let in counts, or, with none known (the live detector holds
 * this Region's resources only), one the primary's approved policy does not let in.
 */
function openedOutside(
  observation: Pick<Observation, 'notes' | 'approved' | 'approvedElsewhere'>,
): Record<string, unknown>[] {
  return Object.values(observation.notes).filter((note) => {
    if (!Array.isArray(note.external_accounts) || note.external_accounts.length === 0) return false;
    const replica = typeof note.replica_key === 'string' ? note.replica_key : undefined;
    const approved = replica
      ? (observation.approvedElsewhere?.(replica, 'policy') ?? observation.approved?.('policy'))
      : undefined;
    if (!replica || !approved) return true;
    const account = parseArn(replica)?.account ?? '';
    return diffPolicies(approved as Policy, note.after as Policy | null, account).external_accounts.length > 0;
  });
}

const opensOutside = (observation: Pick<Observation, 'notes' | 'approved' | 'approvedElsewhere'>): boolean =>
  openedOutside(observation).length > 0;

/**
 * `managedBy`: the AWS service that made a routine grant change, approved as it happens like a planned one; a key
 * deleted as its baseline approves (`approvedDeletionDate`) is planned too.
 */
function statusOf(
  observation: Observation,
  entry: EventEntry,
  config: DetectionConfig,
  managedBy: string | undefined,
): Status {
  const { event, approvedDeletionDate, approvedDeletionDated, approvedReplicasDeleted } = observation;
  if (event.errorCode) return 'denied';
  const approvedDeletion =
    approvedDeletionDate !== undefined || approvedDeletionDated !== undefined || approvedReplicasDeleted !== undefined;
  if (entry.routine || managedBy || approvedDeletion || isPlannedPrincipal(event.actor, config.plannedPrincipals))
    return 'planned';
  return pathsBackAtBaseline(observation) && !opensOutside(observation) ? 'resolved' : 'drift';
}

function severityOf(
  entry: EventEntry,
  status: Status,
  ctx: RuleContext,
  config: DetectionConfig,
): { severity: Severity; reasons: string[] } {
  const fixed = typeof entry.severity === 'function' ? entry.severity(ctx.changes) : entry.severity;
  let severity = ownEntry(config.severityOverrides, ctx.event.eventName) ?? fixed;
  const reasons: string[] = [];
  for (const rule of ALL_RULES) {
    try {
      const outcome = rule.check(ctx);
      if (outcome.verdict !== 'NON_COMPLIANT') continue;
      const meta = RULES[rule.id];
      const lowered = meta.effect === 'lower' && rank(meta.severity) < rank(severity);
      const raised = meta.effect === 'raise' && rank(meta.severity) > rank(severity);
      if (lowered || raised) severity = meta.severity;
      reasons.push(`${rule.id}: ${outcome.reason}`);
    } catch (error) {
      // A broken rule must not hide what the other rules found: it becomes part of the finding.
      if (rank(RULES.RuleFailed.severity) > rank(severity)) severity = RULES.RuleFailed.severity;
      reasons.push(`RuleFailed: ${rule.id} threw ${(error as Error).message}`);
    }
  }
  // A routine event (automatic rotation) is `planned` by nature, not by approval: an override by its name applies.
  const routineOverride = entry.routine ? ownEntry(config.severityOverrides, ctx.event.eventName) : undefined;
  if (status !== 'drift') severity = routineOverride ?? config.severityOverrides[status] ?? STATUS_SEVERITY[status];
  // A denied call changed nothing: its reasons say what it would have done.
  return { severity, reasons: status === 'denied' ? reasons.map((r) => `had it succeeded: ${r}`) : reasons };
}

function summaryOf(
  entry: EventEntry,
  status: Status,
  ctx: SummaryContext,
  {
    managedBy,
    approvedDeletionDate,
    approvedDeletionDated,
    approvedReplicasDeleted,
  }: {
    managedBy?: string;
    approvedDeletionDate?: string | null;
    approvedDeletionDated?: string;
    approvedReplicasDeleted?: string[];
  },
): string {
  const base = entry.summary(ctx);
  switch (status) {
    case 'denied':
      // KMS answers a DryRun call it would have allowed with this error: nothing changed, but the caller may do it.
      if (ctx.event.errorCode === 'DryRunOperationException') {
        return `Dry run: ${ctx.who} checked ${ctx.event.eventName} on ${ctx.label}, which would have succeeded (nothing changed)`;
      }
      return `Denied (${ctx.event.errorCode}): ${ctx.who} tried ${ctx.event.eventName} on ${ctx.label}`;
    case 'planned':
      if (approvedDeletionDate !== undefined) return approvedDeletionSummary(ctx, approvedDeletionDate);
      if (approvedDeletionDated !== undefined) return approvedDeletionDatedSummary(ctx, approvedDeletionDated);
      if (approvedReplicasDeleted !== undefined) return approvedReplicasDeletedSummary(ctx, approvedReplicasDeleted);
      if (entry.routine) return base;
      return managedBy ? `${base} (routine for ${managedBy}; baseline updated)` : `${base} (planned; baseline updated)`;
    case 'resolved': {
      const changes = Object.values(ctx.changes);
      if (changes.length && changes.every((change) => change.unchanged))
        return `${ctx.event.eventName} on ${ctx.label} by ${ctx.who} changed nothing: already at its baseline`;
      return `${base}: back to its baseline`;
    }
    default:
      return base;
  }
}

/** Longest summary: values a caller chose (a 5,000-character tag) must not turn the one line into a page. */
const MAX_SUMMARY_CHARS = 400;
/**
 * A summary cut to its maximum length, with an ellipsis. The source identity of its caller's name is kept whole or
 * left out (the finding's `sourceIdentity` names it): cut, `alice@exa…` reads as another name.
 */
export function boundedSummary(summary: string, caller?: { user: string; sourceIdentity?: string }): string {
  const cut = cutSummary(summary);
  if (!caller) return cut;
  const without = withoutSourceIdentity(summary, caller);
  return without === summary || withoutSourceIdentity(cut, caller) !== cut ? cut : cutSummary(without);
}

function cutSummary(summary: string): string {
  if (summary.length <= MAX_SUMMARY_CHARS) return summary;
  // Never half of a surrogate pair (an emoji in a tag value): a lone surrogate is not text.
  const cut = /[\uD800-\uDBFF]/.test(summary[MAX_SUMMARY_CHARS - 2]) ? MAX_SUMMARY_CHARS - 2 : MAX_SUMMARY_CHARS - 1;
  return `${summary.slice(0, cut)}…`;
}

/** The id of the key material an ImportKeyMaterial staged for the key's next on-demand rotation, if it did. */
function stagedMaterialOf({ event, paths }: Pick<Observation, 'event' | 'paths'>): string | undefined {
  if (event.eventName !== 'ImportKeyMaterial' || event.requestParameters.importType !== 'NEW_KEY_MATERIAL')
    return undefined;
  if (paths.some((p) => p.path === 'key_material')) return undefined;
  const id = event.responseElements.keyMaterialId;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

function remediationOf(observation: Observation, status: Status): string[] {
  if (status !== 'drift') return [];
  const { kind, resource, paths } = observation;
  if (observation.creates && (kind === 'key' || kind === 'trail' || kind === 'custom-key-store')) {
    const region = shellQuote(parseArn(resource)?.region ?? observation.event.region);
    const arn = shellQuote(resource);
    switch (kind) {
      case 'key':
        return [
          comment(
            `if this key is not wanted: aws kms schedule-key-deletion --key-id ${arn} --region ${region} --pending-window-in-days 30`,
          ),
        ];
      case 'trail':
        return [comment(`if this trail is not wanted: aws cloudtrail delete-trail --name ${arn} --region ${region}`)];
      default: {
        // A new store is disconnected and holds no keys: it can be deleted as it is.
        const id = shellQuote(resource.split('/').pop() ?? resource);
        return [
          comment(
            `if this custom key store is not wanted: aws kms delete-custom-key-store --custom-key-store-id ${id} --region ${region}`,
          ),
        ];
      }
    }
  }
  // New material staged for the next on-demand rotation (effects.ts isStagedImport) sets no path: its id undoes it.
  const staged = stagedMaterialOf(observation);
  if (staged) return [stagedMaterialUndo(resource, staged)];
  // Drift only for the replica it made open to another account (`opensOutside`): that replica's policy is the undo, in
  // its own Region: put back as approved for it, or inspected when keydrift knows no approved one.
  if (pathsBackAtBaseline(observation)) {
    return openedOutside(observation).flatMap((note) => {
      if (typeof note.replica_key !== 'string') return [];
      const replica = note.replica_key;
      const approvedOf: ApprovedValue = (path) => observation.approvedElsewhere?.(replica, path);
      return remediationFor(
        'key',
        replica,
        [{ path: 'policy', current: note.after, target: approvedOf('policy') }],
        approvedOf,
      );
    });
  }
  // What is still drifting in the attributes it touched is undone too: the resource is back only when all of it is.
  // Only to the approved value: with none known, the value before this change may be an earlier unapproved one.
  const untouched = observation.untouchedDrift ?? [];
  const commands = remediationFor(
    kind,
    resource,
    [...paths, ...untouched.slice(0, MAX_UNTOUCHED_UNDOS)].map((p) => ({
      path: p.path,
      current: p.after,
      target: p.baseline,
    })),
    observation.approved,
    { approved: observation.approvedElsewhere, known: observation.knownElsewhere },
  );
  const leftOut = new Map<string, number>();
  for (let i = MAX_UNTOUCHED_UNDOS; i < untouched.length; i++) {
    const attribute = attributeOf(untouched[i].path);
    leftOut.set(attribute, (leftOut.get(attribute) ?? 0) + 1);
  }
  return [...commands, ...[...leftOut].map(([attribute, count]) => moreToUndo(kind, resource, attribute, count))];
}

/**
 * Judges one observed change: its status, severity (catalogue default, configuration override,
 * escalation rules, then the status's own severity), summary and remediation.
 */
export function judge(observation: Observation, surroundings: Surroundings, config: DetectionConfig): Finding {
  const { event, kind, resource } = observation;
  const entry = ownEntry(EVENTS, event.eventName) ?? ownEntry(RECONCILE_EVENTS, event.eventName) ?? UNKNOWN_WRITE;
  const trailsUsingKey = kind === 'key' ? surroundings.trailsUsingKey(resource) : [];
  const changes = groupChanges(observation, trailsUsingKey);
  const approved = observation.approved ?? (() => undefined);
  const ruleContext: RuleContext = { event, kind, resource, changes, trailsUsingKey, approved };
  const managedBy = grantManagedByService(ruleContext);
  const status = statusOf(observation, entry, config, managedBy);
  markBackToBaseline(changes, observation, status);
  const { severity, reasons } = severityOf(entry, status, ruleContext, config);
  const summaryContext: SummaryContext = {
    event,
    label: surroundings.labelOf(resource),
    who: event.actor.name,
    changes,
    labelOf: (arn) => surroundings.labelOf(arn),
  };
  const finding: Finding = {
    service: event.service,
    event: event.eventName,
    eventId: event.eventId,
    timestamp: event.time,
    account: parseArn(resource)?.account || event.account,
    region: event.region,
    resource,
    user: event.actor.arn,
    severity,
    status,
    changes,
    summary: boundedSummary(
      summaryOf(entry, status, summaryContext, {
        managedBy,
        approvedDeletionDate: observation.approvedDeletionDate,
        approvedDeletionDated: observation.approvedDeletionDated,
        approvedReplicasDeleted: observation.approvedReplicasDeleted,
      }),
      { user: event.actor.arn, sourceIdentity: event.actor.sourceIdentity },
    ),
    remediation: remediationOf(observation, status),
  };
  if (reasons.length) finding.reasons = reasons;
  if (event.errorCode)
    finding.error = { code: event.errorCode, ...(event.errorMessage ? { message: event.errorMessage } : {}) };
  if (event.sourceIp) finding.sourceIp = event.sourceIp;
  if (event.userAgent) finding.userAgent = event.userAgent;
  if (event.actor.sourceIdentity) finding.sourceIdentity = event.actor.sourceIdentity;
  return finding;
}
