/**
 * The operator commands' work against a deployed keydrift: open drift, findings by time, and showing, accepting and
 * adopting baselines. Each takes an {@link OpsContext} and returns plain data; the CLI prints it.
 */

import { DescribeCustomKeyStoresCommand, DescribeKeyCommand } from '@aws-sdk/client-kms';
import { StaleStateError } from '../adapters/errors';
import { createKmsReader, type KmsReader } from '../adapters/kms-reader';
import { pageCommand } from '../adapters/publisher';
import { createStateStore, fitAcceptedBaseline, type StateStore, type StoredSnapshot } from '../adapters/state-store';
import { createTrailReader, type TrailReader } from '../adapters/trail-reader';
import { aliasArn, isAliasArn, isKeyArn, keyArn, parseArn } from '../core/arn';
import { ACCEPT_EVENT } from '../core/catalog';
import { acceptable, approvableOver } from '../core/detector';
import { changesByAttribute } from '../core/judge';
import { labelOf, splitPath, withStagedMaterialOf } from '../core/state';
import { toIsoSeconds } from '../core/time';
import type { Finding, ResourceKind, ResourceSnapshot } from '../core/types';
import type { OpsContext } from './aws';
import {
  type AcceptedChange,
  acceptedChanges,
  attributesOf,
  compareDrift,
  driftedPaths,
  driftTracker,
  type OpenDrift,
  openDrift,
  openPaths,
  type StoredFinding,
  type StoredResource,
  sameSnapshot,
  uncomparedPaths,
} from './drift';
import { OperatorError } from './errors';
import { type Inventory, mapLimit, readInventory } from './inventory';
import { createTableReader, type FindingQuery, type TableReader } from './table-reader';
import { CUSTOM_KEY_STORE_ARN, isTargetName, TARGET_FORMS, TRAIL_ARN } from './targets';

const CONCURRENCY = 8;

export interface StatusReport {
  drift: OpenDrift[];
  /** Resources with both a state and a baseline: what was compared. */
  compared: number;
  /** Resources with a baseline but no stored state yet: not compared, their drift unknown (the reconciler stores it). */
  withoutState: number;
  /** Resources keydrift has seen but not baselined yet (the reconciler or adopt will). */
  withoutBaseline: number;
}

/**
 * A resource's open drift, or undefined: the paths where its stored state differs from its baseline, and the paths no
 * comparison shows (approved as unknown, or left out of an item to fit) whose attribute's drift finding is still open,
 * dated and rated by the resource's findings.
 */
async function driftOf(reader: TableReader, resource: StoredResource): Promise<OpenDrift | undefined> {
  const candidates = [...driftedPaths(resource), ...uncomparedPaths(resource)];
  if (candidates.length === 0) return undefined;
  // Findings before the last explicit accept were approved by it.
  const tracker = driftTracker(attributesOf(candidates), resource.baseline?.acceptedAt);
  for await (const finding of reader.resourceFindings(resource.arn)) if (!tracker.push(finding)) break;
  const verdict = tracker.result();
  const paths = openPaths(resource, verdict.open);
  return paths.length > 0 ? openDrift(resource, paths, verdict) : undefined;
}

/** Open drift per resource: stored state against baseline, dated and rated by the resource's findings. */
export async function status(context: OpsContext): Promise<StatusReport> {
  const tableName = await context.tableName();
  const reader = createTableReader({ client: context.dynamodb, tableName });
  const resources = await reader.resources();
  const baselined = resources.filter((r) => r.baseline);
  const compared = baselined.filter((r) => r.state);
  const drift = (await mapLimit(compared, CONCURRENCY, (resource) => driftOf(reader, resource))).filter(
    (d): d is OpenDrift => d !== undefined,
  );
  return {
    drift: drift.sort(compareDrift),
    compared: compared.length,
    withoutState: baselined.length - compared.length,
    withoutBaseline: resources.filter((r) => r.state && !r.baseline).length,
  };
}

/**
 * Findings newest first, from the `byTime` index (or the resource's own items with `resource`), a part at a time: each
 * read only when the one before is consumed, so a caller that stops early stops the reads.
 */
export async function* findings(
  context: OpsContext,
  { resources = [], ...query }: Omit<FindingQuery, 'resource'> & { resources?: string[] },
): AsyncGenerator<StoredFinding[]> {
  const reader = createTableReader({ client: context.dynamodb, tableName: await context.tableName() });
  if (resources.length <= 1) {
    yield* reader.findingParts({ ...query, resource: resources[0] });
    return;
  }
  // Several resources (an alias and its key): each one's findings, merged newest first as one list would be.
  const lists = await Promise.all(resources.map((resource) => reader.findings({ ...query, resource })));
  const newestFirst = lists
    .flat()
    .sort((a, b) => b.timestamp.localeCompare(a.timestamp) || b.eventId.localeCompare(a.eventId));
  yield query.limit === undefined ? newestFirst : newestFirst.slice(0, query.limit);
}

/**
 * Refuses a resource named as typed (an ARN, an alias KMS does not know) that keydrift's table holds nothing of (no
 * state, no baseline, no finding of any time) and AWS does not know either. Mistyped, or of another Region or table,
 * it would otherwise list as "No findings", exit 0, as if nothing had happened to it. One item read, then one AWS
 * read: ask it only when the period listed none.
 *
 * @throws OperatorError naming it (`name`, as the operator typed it) and what to check
 */
export async function requireKnownResource(context: OpsContext, arn: string, name = arn): Promise<void> {
  const tableName = await context.tableName();
  if (await createTableReader({ client: context.dynamodb, tableName }).holds(arn)) return;
  if (await awsKnows(context, arn)) return;
  throw new OperatorError(
    `nothing known of ${name} in ${context.region}: keydrift's table ${tableName} holds no state, baseline or finding ` +
      'of it; check its spelling, the Region (--region) and the table (--table)',
  );
}

/**
 * Whether KMS or CloudTrail knows the resource: one that exists is no typo, recorded or not (an AWS-managed key never
 * is; a trail or custom key store is first recorded at its first change or reconcile run).
 */
async function awsKnows(context: OpsContext, arn: string): Promise<boolean> {
  if (isKeyArn(arn)) return (await describedKeyArn(context, arn)) !== undefined;
  // By its exact ARN: the trail reader's match by name would take a multi-Region trail homed in another Region (its
  // ARN names that Region) for one typed with this Region's, and list "No findings" for an ARN nothing is kept under.
  if (TRAIL_ARN.test(arn)) {
    const listed = await readers(context).trailReader.readTrails({ details: false, where: (trail) => trail === arn });
    return listed.length > 0;
  }
  if (!CUSTOM_KEY_STORE_ARN.test(arn)) return false;
  try {
    const id = arn.slice(arn.lastIndexOf('/') + 1);
    await context.kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: id }));
    return true;
  } catch (error) {
    if (error instanceof Error && error.name === 'CustomKeyStoreNotFoundException') return false;
    throw error;
  }
}

/** The ARN of the key KMS describes by `name` (id, ARN, alias name or ARN); undefined when KMS knows no such key. */
async function describedKeyArn(context: OpsContext, name: string): Promise<string | undefined> {
  try {
    const { KeyMetadata } = await context.kms.send(new DescribeKeyCommand({ KeyId: name }));
    return KeyMetadata?.Arn;
  } catch (error) {
    if (error instanceof Error && error.name === 'NotFoundException') return undefined;
    throw error;
  }
}

/** A resource an operator named: a key (by id, ARN, alias name or alias ARN), the alias it was named by, a trail. */
export interface Target {
  kind: ResourceKind;
  arn: string;
}

/**
 * Resolves what an operator typed through KMS: the key, and the alias too when named by one (accepting
 * `alias/payments` approves both what the alias points to and that key's state). A trail ARN names the trail. A key
 * (by id or ARN) KMS no longer knows is resolved through keydrift's table when it holds its state or baseline: a
 * deleted key stays listed by `status` until its deletion is looked at and accepted. So is an alias KMS no longer
 * knows, alone (the key it pointed to is not known by it any more).
 *
 * @throws OperatorError before any AWS call when the name is no key, alias or trail; for an ARN of another Region or
 * account; when neither KMS nor keydrift's table knows such a key, nor KMS such an alias, in this Region
 */
export async function resolveTargets(context: OpsContext, name: string): Promise<Target[]> {
  if (!isTargetName(name)) throw new OperatorError(`not a KMS key, alias or trail: ${name} (expected ${TARGET_FORMS})`);
  // Another Region's or account's resource (a multi-Region trail homed elsewhere, a key shared with this account) is
  // judged by the keydrift of its own Region and account: a baseline of it here would never be compared.
  if (name.startsWith('arn:')) await requireOwnResource(context, name, 'baselines');
  if (TRAIL_ARN.test(name)) return [{ kind: 'trail', arn: name }];
  const keyArn = (await describedKeyArn(context, name)) ?? (await storedKeyArn(context, name));
  if (!keyArn) {
    // An alias KMS no longer knows (deleted, or gone with its key) that keydrift's table holds: its deletion is the
    // drift `status` lists, shown and approved as a deleted key's is.
    const storedAlias = await storedAliasArn(context, name);
    if (storedAlias) return [{ kind: 'alias', arn: storedAlias }];
    throw new OperatorError(`no such key: ${name} in ${context.region}`);
  }
  const targets: Target[] = [{ kind: 'key', arn: keyArn }];
  if (isAliasArn(name)) targets.push({ kind: 'alias', arn: name });
  else if (name.startsWith('alias/')) {
    const account = parseArn(keyArn)?.account ?? '';
    targets.push({ kind: 'alias', arn: aliasArn(context.region, account, name) });
  }
  return targets;
}

/** The ARN of a key named by id or ARN that keydrift's table holds a state or baseline of; else undefined. */
async function storedKeyArn(context: OpsContext, name: string): Promise<string | undefined> {
  if (name.startsWith('alias/') || isAliasArn(name)) return undefined;
  // A key id names a key of the caller's account, whose keydrift table this is.
  const arn = isKeyArn(name) ? name : keyArn(context.region, parseArn(await context.identity())?.account ?? '', name);
  const tableName = await context.tableName();
  const { states, baselines } = await storeFor(context, tableName, Date.now()).load([arn]);
  return states.has(arn) || baselines.has(arn) ? arn : undefined;
}

/**
 * Refuses an ARN of another Region or account than keydrift's table: each deployment keeps only its own Region's and
 * account's findings, so the answer would be an empty list that looks like "nothing happened".
 *
 * @throws OperatorError naming the Region or account to use instead
 */
export async function requireOwnResource(
  context: OpsContext,
  arn: string,
  kept: 'findings' | 'baselines' = 'findings',
): Promise<void> {
  const parsed = parseArn(arn);
  if (!parsed) throw new OperatorError(`not an ARN: ${arn}`);
  if (parsed.region && parsed.region !== context.region) {
    throw new OperatorError(
      `${arn} is in ${parsed.region}, and keydrift's table here keeps the ${kept} of ${context.region}: ` +
        `pass --region ${parsed.region} to ${kept === 'findings' ? "read that Region's" : "use that Region's keydrift"}`,
    );
  }
  const account = parseArn(await context.identity())?.account;
  if (parsed.account && account && parsed.account !== account) {
    throw new OperatorError(
      `${arn} belongs to account ${parsed.account}, and keydrift's table here keeps the ${kept} of account ` +
        `${account}: use that account's keydrift stack (with its credentials, e.g. --profile)`,
    );
  }
}

/** The ARN of an alias named by name or ARN that keydrift's table holds a state or baseline of; else undefined. */
async function storedAliasArn(context: OpsContext, name: string): Promise<string | undefined> {
  if (!name.startsWith('alias/') && !isAliasArn(name)) return undefined;
  const arn = isAliasArn(name)
    ? name
    : aliasArn(context.region, parseArn(await context.identity())?.account ?? '', name);
  const { states, baselines } = await storeFor(context, await context.tableName(), Date.now()).load([arn]);
  return states.has(arn) || baselines.has(arn) ? arn : undefined;
}

function storeFor(context: OpsContext, tableName: string, nowMs: number): StateStore {
  return createStateStore({ client: context.dynamodb, tableName, now: () => nowMs });
}

export interface BaselineView {
  resource: string;
  kind: ResourceKind;
  label: string;
  baseline: StoredSnapshot | null;
  /** The last state keydrift stored. */
  state: StoredSnapshot | null;
  /**
   * The drifted paths: where the stored state differs from the baseline, and the paths approved as unknown (in the
   * baseline's `unknownPaths`) whose drift finding is still open.
   */
  drift: string[];
}

/**
 * The stored baseline (and last known state) of each target, and its open drift as `keydrift status` sees it.
 *
 * @throws OperatorError for a trail CloudTrail does not know that has no baseline either (a mistyped ARN): one that
 *   has a baseline is shown, since its deletion is the drift to see
 */
export async function showBaselines(context: OpsContext, targets: Target[], nowMs: number): Promise<BaselineView[]> {
  const tableName = await context.tableName();
  const store = storeFor(context, tableName, nowMs);
  const reader = createTableReader({ client: context.dynamodb, tableName });
  const { states, baselines } = await store.load(targets.map((t) => t.arn));
  return Promise.all(
    targets.map(async ({ kind, arn }) => {
      const baseline = baselines.get(arn) ?? null;
      const state = states.get(arn) ?? null;
      if (kind === 'trail' && !baseline) await requireTrail(context, arn);
      const resource: StoredResource = { arn, kind, state: state ?? undefined, baseline: baseline ?? undefined };
      const drift = resource.state ? await driftOf(reader, resource) : undefined;
      return {
        resource: arn,
        kind,
        label: labelOf(arn, state?.snapshot, baseline?.snapshot),
        baseline,
        state,
        drift: drift?.paths ?? [],
      };
    }),
  );
}

/** What one accept recorded. */
export interface AcceptResult {
  resource: string;
  kind: ResourceKind;
  label: string;
  /** `new`: no baseline before; `changed`: the approved state moved; `unchanged`: it already matched. */
  result: 'new' | 'changed' | 'unchanged';
  /** False when adopt left a matching baseline as it was (its version and acceptance are the stored ones). */
  written: boolean;
  previousVersion: number | null;
  version: number;
  acceptedBy: string | null;
  acceptedAt: string | null;
  /** Why, when the operator said (`--reason`); for a baseline adopt left as it was, its own accept's reason. */
  acceptReason?: string;
  /**
   * When the live state it approves was read: the time of its finding (an adopt is confirmed a while after), so that
   * a change made after the read, delivered later, is not taken for an older one.
   */
  readAt: string;
  /** The approved values it changed, but none of an attribute in `leftOut`: the baseline does not hold those. */
  changes: AcceptedChange[];
  /**
   * The attributes the stored baseline leaves out to fit a table item (a key's thousands of grants), with how many
   * paths each has live: they are approved as unknown, not as they are, so only their findings show their drift.
   */
  leftOut?: LeftOutAttribute[];
}

export interface LeftOutAttribute {
  attribute: string;
  entries: number;
}

function readers(context: OpsContext): { kmsReader: KmsReader; trailReader: TrailReader } {
  return {
    kmsReader: createKmsReader({ client: context.kms }),
    trailReader: createTrailReader({ client: context.cloudtrail }),
  };
}

function readLive(context: OpsContext, target: Target): Promise<ResourceSnapshot> {
  const { kmsReader, trailReader } = readers(context);
  if (target.kind === 'trail') return trailReader.readTrail(target.arn);
  return target.kind === 'alias' ? kmsReader.readAlias(target.arn) : kmsReader.readKey(target.arn);
}

/** The trail reader's answer for a trail CloudTrail does not know (by ARN, nor by name). */
const isUnknownTrail = (live: ResourceSnapshot): boolean =>
  live.kind === 'trail' && live.attributes.trail === 'deleted';

const noSuchTrail = (context: OpsContext, arn: string): OperatorError =>
  new OperatorError(`no such trail: ${arn} in ${context.region}`);

/** @throws OperatorError when CloudTrail knows no trail by that ARN (or its name) */
async function requireTrail(context: OpsContext, arn: string): Promise<void> {
  if (isUnknownTrail(await readers(context).trailReader.readTrail(arn))) throw noSuchTrail(context, arn);
}

/**
 * What accepting `live` over `previous` records. `rewriteUnchanged`: an explicit accept writes even a baseline that
 * already matches (re-approving it, with who and when); adopt leaves such a baseline as it is.
 */
function acceptResult(
  live: ResourceSnapshot,
  previous: StoredSnapshot | undefined,
  by: { acceptedBy: string; acceptedAt: string; acceptReason?: string; readAt: string; rewriteUnchanged: boolean },
): AcceptResult {
  // What the store will leave out of this baseline, found as it finds it: the same snapshot, dated as it dates it.
  const fitted = fitAcceptedBaseline(live, by.readAt);
  const truncated = fitted.truncated;
  // Compared as it would be stored: a baseline that left out thousands of grants matches a live read holding them.
  const approved: ResourceSnapshot = truncated.length ? JSON.parse(fitted.json) : live;
  const result = !previous ? 'new' : sameSnapshot(previous.snapshot, approved) ? 'unchanged' : 'changed';
  const kept = result === 'unchanged' && !by.rewriteUnchanged;
  const acceptReason = kept ? previous?.acceptReason : by.acceptReason;
  const leftOut = truncated.map((attribute) => ({
    attribute,
    entries: Object.keys(live.attributes).filter((path) => splitPath(path).attribute === attribute).length,
  }));
  return {
    resource: live.arn,
    kind: live.kind,
    label: labelOf(live.arn, live, previous?.snapshot),
    result,
    written: !kept,
    previousVersion: previous?.version ?? null,
    version: kept ? (previous?.version ?? 0) : (previous?.version ?? 0) + 1,
    acceptedBy: kept ? (previous?.acceptedBy ?? null) : by.acceptedBy,
    acceptedAt: kept ? (previous?.acceptedAt ?? null) : by.acceptedAt,
    ...(acceptReason ? { acceptReason } : {}),
    readAt: by.readAt,
    changes: acceptedChanges(previous?.snapshot, live).filter((c) => !truncated.includes(splitPath(c.path).attribute)),
    ...(leftOut.length ? { leftOut } : {}),
  };
}

/**
 * Reads each target's live state and records it as its baseline (and its stored state), by the caller, now, for
 * `reason` when given. A key KMS
 * no longer knows, or a trail CloudTrail no longer knows that keydrift's table holds, reads as deleted: accepting it
 * approves its deletion.
 *
 * @throws OperatorError, before anything is written, for a trail neither CloudTrail nor keydrift's table knows: a
 *   mistyped trail ARN would otherwise approve `trail: "deleted"`
 * @throws ChangedMeanwhileError, having accepted the other targets, when keydrift stored a newer state of some
 */
export async function acceptBaselines(
  context: OpsContext,
  targets: Target[],
  nowMs: number,
  reason?: string,
): Promise<AcceptResult[]> {
  const [tableName, acceptedBy] = await Promise.all([context.tableName(), context.identity()]);
  const store = storeFor(context, tableName, nowMs);
  const [live, { states, baselines }] = await Promise.all([
    Promise.all(targets.map((t) => readLive(context, t))),
    store.load(targets.map((t) => t.arn)),
  ]);
  // A trail keydrift's table knows (a baseline or a state) is one deleted since: accepting approves its deletion, as of a
  // key KMS no longer knows, so status stops listing it.
  const unknownTrail = live.find((s) => isUnknownTrail(s) && !baselines.has(s.arn) && !states.has(s.arn));
  if (unknownTrail) throw noSuchTrail(context, unknownTrail.arn);
  const acceptedAt = new Date(nowMs).toISOString();
  const results: AcceptResult[] = [];
  const changed: string[] = [];
  for (const snapshot of live) {
    const baseline = baselines.get(snapshot.arn);
    const approved = acceptable(snapshot, baseline?.snapshot);
    const result = acceptResult(approved, baseline, {
      acceptedBy,
      acceptedAt,
      acceptReason: reason,
      readAt: acceptedAt,
      rewriteUnchanged: true,
    });
    if (await recordAccept(store, snapshot, result, acceptedBy, { state: states.get(snapshot.arn) }, approved)) {
      results.push(result);
    } else {
      changed.push(result.label);
    }
  }
  if (changed.length > 0) throw new ChangedMeanwhileError(changed, 'keydrift baseline accept', results);
  return results;
}

/**
 * Writes an accept: the live snapshot as the baseline, with who and when, and as the stored state too (`status`
 * compares the two, and the state stored before is older than what was just approved), with its record in the
 * finding history. `stored` is the state loaded with the baseline: a detector save since then is kept, not
 * overwritten. Returns false, having written nothing, when keydrift stored a newer state meanwhile.
 */
async function recordAccept(
  store: StateStore,
  live: ResourceSnapshot,
  result: AcceptResult,
  acceptedBy: string,
  stored: { state: StoredSnapshot | undefined; readAt?: string },
  approved: ResourceSnapshot = live,
): Promise<boolean> {
  // The state keeps the material staged for a key's next rotation, as the detector's reads keep it.
  const state = withStagedMaterialOf(stored.state?.snapshot, live);
  try {
    await store.acceptBaseline(
      approved,
      acceptedBy,
      acceptFinding(result),
      { expectedVersion: stored.state?.version ?? null, readAt: stored.readAt, snapshot: state },
      result.acceptReason,
    );
    return true;
  } catch (error) {
    if (error instanceof StaleStateError) return false;
    throw error;
  }
}

/**
 * Some resources changed while being accepted (keydrift stored a newer state): their baselines were left as they
 * were. `accepted` holds the others, written all the same: the pager must still be told of them.
 */
export class ChangedMeanwhileError extends OperatorError {
  constructor(
    labels: string[],
    command: string,
    public readonly accepted: AcceptResult[],
  ) {
    super(
      `${labels.join(', ')} changed while being accepted (keydrift stored a newer state), so their baselines were ` +
        `left as they were: run ${command} again to accept their state as it is now`,
    );
    this.name = 'ChangedMeanwhileError';
  }
}

/** What adopt would record: every resource's live state against its current baseline. */
export interface AdoptPlan {
  tableName: string;
  acceptedBy: string;
  inventory: Inventory;
  /** One per resource, with `version` and `acceptedBy` as they will be once applied. */
  results: AcceptResult[];
  live: Map<string, ResourceSnapshot>;
  /**
   * What each baseline approves of its live state: the live state itself, but a key caught pending deletion (or being
   * created or updated) working, as the reconciler's adoption approves it, or as its baseline approves it when it has
   * one (an accepted deletion stays approved).
   */
  approved: Map<string, ResourceSnapshot>;
  /** The stored states loaded with the baselines, whose versions the accepts must still find. */
  states: Map<string, StoredSnapshot>;
}

/**
 * Reads the live state of every customer-managed key, alias and trail, and compares it with the baselines. Each result
 * is dated when its own resource's read began (`now` dates them); those it would write carry `reason`, when given.
 */
export async function planAdopt(
  context: OpsContext,
  now: () => number,
  onProgress?: (done: number, total: number) => void,
  reason?: string,
): Promise<AdoptPlan> {
  const nowMs = now();
  const [tableName, acceptedBy] = await Promise.all([context.tableName(), context.identity()]);
  const store = storeFor(context, tableName, nowMs);
  // The table is checked first (context.tableName): a missing one is reported before minutes of KMS reads.
  // Only this Region's and account's trails, as the reconciler adopts: another Region's multi-Region trail (listed
  // here as its shadow) or the organization's trail is judged by the keydrift of its own Region and account, and a
  // baseline of it here would never be compared again.
  const account = parseArn(acceptedBy)?.account;
  const inventory = await readInventory({
    kms: context.kms,
    ...readers(context),
    concurrency: CONCURRENCY,
    onProgress,
    now,
    isOwnTrail: (arn) => {
      const trail = parseArn(arn);
      return trail?.region === context.region && (!account || trail.account === account);
    },
  });
  const snapshots = [...inventory.keys, ...inventory.aliases, ...inventory.trails];
  const { states, baselines } = await store.load(snapshots.map((s) => s.arn));
  const acceptedAt = new Date(nowMs).toISOString();
  // A key caught in passing is approved working, or as its baseline approves it when it has one.
  const approved = snapshots.map((s) => approvableOver(s, baselines.get(s.arn)?.snapshot));
  return {
    tableName,
    acceptedBy,
    inventory,
    states,
    results: approved.map((s) => {
      const readAt = new Date(inventory.readAt.get(s.arn) ?? nowMs).toISOString();
      return acceptResult(s, baselines.get(s.arn), {
        acceptedBy,
        acceptedAt,
        acceptReason: reason,
        readAt,
        rewriteUnchanged: false,
      });
    }),
    live: new Map(snapshots.map((s) => [s.arn, s])),
    approved: new Map(approved.map((s) => [s.arn, s])),
  };
}

/**
 * Records the plan's new and changed baselines (unchanged ones are left as they are), as accepted at `nowMs` (when
 * the operator agreed, which may be a while after the plan was read).
 */
export async function applyAdopt(context: OpsContext, plan: AdoptPlan, nowMs: number): Promise<AcceptResult[]> {
  const store = storeFor(context, plan.tableName, nowMs);
  const acceptedAt = new Date(nowMs).toISOString();
  const results = plan.results.map((r) => (r.written ? { ...r, acceptedAt } : r));
  const changed = new Set<AcceptResult>();
  await mapLimit(
    results.filter((r) => r.written),
    CONCURRENCY,
    async (r) => {
      const live = plan.live.get(r.resource);
      const stored = { state: plan.states.get(r.resource), readAt: r.readAt };
      const approved = plan.approved.get(r.resource) ?? live;
      if (live && !(await recordAccept(store, live, r, plan.acceptedBy, stored, approved))) changed.add(r);
    },
  );
  if (changed.size > 0) {
    const accepted = results.filter((r) => !changed.has(r));
    throw new ChangedMeanwhileError(
      [...changed].map((r) => r.label),
      'keydrift baseline adopt',
      accepted,
    );
  }
  return results;
}

/**
 * The finding an accept amounts to: `planned`, kept in the finding history (who approved what, when), and sent to
 * the pager so it resolves the PagerDuty incident of each attribute the accept approved, as a planned change does
 * (incidents are keyed by resource and attribute; each approved attribute is flagged back at its approved value), and
 * the incident of a new resource (`created`). Only an approved state that was written again makes one: a first
 * baseline approves no change and had no drift to page about; adopt leaves a matching baseline as it is.
 */
function acceptFinding(result: AcceptResult): Finding | undefined {
  if (result.result === 'new' || !result.written || !result.acceptedBy || !result.acceptedAt) return undefined;
  const changes = changesByAttribute(result.changes);
  // The whole live state is approved: every attribute is at its approved value, nothing of it left drifting.
  for (const change of Object.values(changes)) change.back_to_baseline = true;
  const arn = parseArn(result.resource);
  const approved = Object.keys(changes).join(', ');
  // An attribute the baseline leaves out is approved as unknown: its incident stays open, its findings show its drift.
  const leftOut = result.leftOut?.length
    ? `; ${result.leftOut.map((l) => l.attribute).join(', ')} left out of the stored baseline to fit a table item (approved as unknown)`
    : '';
  // Named as `baseline show` names it: an alias and its key share their label (alias/payments).
  return {
    service: result.kind === 'trail' ? 'cloudtrail' : 'kms',
    event: ACCEPT_EVENT,
    eventId: `${ACCEPT_EVENT}:${result.resource}:v${result.version}`,
    timestamp: toIsoSeconds(Date.parse(result.readAt)),
    account: arn?.account ?? '',
    region: arn?.region ?? '',
    resource: result.resource,
    user: result.acceptedBy,
    severity: 'info',
    status: 'planned',
    changes,
    summary: `Baseline of ${result.label} (${result.kind}) accepted by ${result.acceptedBy}: ${approved ? `${approved} approved as they are now` : 'approved as it is now'}${leftOut}`,
    remediation: [],
    ...(result.acceptReason ? { acceptReason: result.acceptReason } : {}),
  };
}

/** What telling the pager about accepts came to, by resource label. */
export interface PagerNotice {
  told: string[];
  /** Accepted resources the pager was not told about, because of `failed`. */
  untold: string[];
  /** The error that stopped the rest (the stack not found, publishing refused …). */
  failed?: unknown;
  /** True when no page topic was asked for: `--table` skips the stack lookup that names it. */
  topicUnknown?: boolean;
}

/**
 * Sends each accept that moved an approved state to the page topic, so the pager closes the incidents it holds open
 * for what is now approved. The baselines are written either way: a failure is returned, not thrown. With `--table`
 * no topic is known (`topicUnknown`): none is told, rather than the topic of a stack that may not own that table.
 */
export async function tellPagerAboutAccepts(context: OpsContext, results: AcceptResult[]): Promise<PagerNotice> {
  const accepted = results.flatMap((result) => {
    const finding = acceptFinding(result);
    return finding ? [{ result, finding }] : [];
  });
  // An alias and its key share a label (alias/payments): name each with its kind then, as the accept's output does.
  const shared = (label: string) => accepted.filter(({ result }) => result.label === label).length > 1;
  const pending = accepted.map(({ result, finding }) => ({
    label: shared(result.label) ? `${result.label} (${result.kind})` : result.label,
    finding,
  }));
  const told: string[] = [];
  if (pending.length === 0) return { told, untold: [] };
  const sent = new Set<(typeof pending)[number]>();
  const untold = () => pending.filter((p) => !sent.has(p)).map((p) => p.label);
  let topicArn: string | undefined;
  try {
    topicArn = await context.pageTopicArn();
  } catch (error) {
    return { told, untold: untold(), failed: error };
  }
  if (!topicArn) return { told, untold: untold(), topicUnknown: true };
  // Once one is refused no other is started, but those under way are waited for: what is told is what went out.
  let failed: { error: unknown } | undefined;
  await mapLimit(pending, CONCURRENCY, async (entry) => {
    if (failed) return;
    try {
      await context.sns.send(pageCommand(topicArn, entry.finding));
    } catch (error) {
      failed ??= { error };
      return;
    }
    sent.add(entry);
    told.push(entry.label);
  });
  return failed ? { told, untold: untold(), failed: failed.error } : { told, untold: [] };
}
