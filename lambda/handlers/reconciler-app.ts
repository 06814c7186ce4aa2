/**
 * The scheduled reconciler: compares the live state of every customer managed key, alias and trail with its baseline
 * and reports what no event explained, resources that disappeared, drift that went away, and keys about to be
 * deleted. The first complete run adopts the live state as the baseline without alerting; the resources it could not
 * reconcile are owed (named in its adoption marker), and a later run adopts them silently too.
 *
 * One run:
 *  1. list the account's aliases (one listing, which also names the AWS managed keys to skip) and trails;
 *  2. keys, one ListKeys page at a time: load their stored states and baselines (batched), then read and judge up to
 *     `concurrency` keys at once, every KMS call paced under its request quota (ListGrants: 100 per second);
 *  3. aliases, from the listing, and this Region's trails, each read on its own;
 *  4. resources with a baseline that are no longer listed: read again (a key KMS no longer knows is Deleted).
 * Each finding is claimed by its deterministic eventId (the same drift seen every run is one alert), published, and
 * then saved with the new state.
 *
 * Large accounts: before each key the remaining invocation time is checked. When it runs low, no new key starts, the
 * place (ListKeys marker, the keys done in the page, counts) is stored in the table, and a `Reconcile Continue` event on
 * the bus invokes the function again, which resumes there. The cursor is also stored after every page, so an
 * invocation that fails resumes at the page it was on.
 */

import { randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { SNSClient } from '@aws-sdk/client-sns';
import { KeyUnreadableError, PublishError, StaleStateError, StoreError } from '../adapters/errors';
import { type AccountAlias, createKmsInventory, InvalidMarkerError, type KeyPage } from '../adapters/kms-inventory';
import { createKmsReader } from '../adapters/kms-reader';
import { createFindingPublisher, type PublishReport } from '../adapters/publisher';
import { createRateLimiter, type KmsReadOperation, kmsRates, type RateLimiter } from '../adapters/rate-limiter';
import { type Adoption, createReconcileStore, type StoredCursor } from '../adapters/reconcile-store';
import { createStateStore, type SnapshotWrite, type StoredSnapshot } from '../adapters/state-store';
import { createTrailReader } from '../adapters/trail-reader';
import { approvedDeleted, withApprovedDeletionGoingOn, withApprovedWaitSpent } from '../core/approved-deletion';
import { parseArn } from '../core/arn';
import { matchingIgnoreRule } from '../core/config';
import { approvable } from '../core/detector';
import { logsKmsWrites, type TrailSelectors, workingState } from '../core/effects';
import { ConfigError } from '../core/errors';
import { MemoryStore } from '../core/memory-store';
import { sameJson } from '../core/policy';
import {
  aliasGoneWithItsKey,
  deletionReminder,
  differingPaths,
  reconcileResource,
  storeOfUnavailableKey,
  unbaselinedResource,
  withFirstSeen,
  withHiddenRotationKept,
  withPrimaryMovedElsewhere,
  withRestoredGrants,
  withStoreDisconnection,
  withUnapprovedUnavailableUnknown,
} from '../core/reconcile';
import type { Elsewhere } from '../core/remediation';
import { knownPaths, lookup, snapshotFromState, splitPath, withStagedMaterialOf } from '../core/state';
import type { Finding, ResourceSnapshot } from '../core/types';
import type { DetectorEnvironment } from '../shared/environment';
import { recordFinding } from '../shared/finding-telemetry';
import { runPool } from '../shared/pool';
import type { InvocationContext } from './detector-app';

/** The `detail-type` of the event that hands an unfinished run to the next invocation (source `keydrift`). */
export const CONTINUE_DETAIL_TYPE = 'Reconcile Continue';
export const CONTINUE_SOURCE = 'keydrift';
/** Who a baseline set for a resource that appeared after adoption was accepted by. */
export const APPEARED_ACCEPTED_BY = 'keydrift reconciler (appeared without a baseline)';

/** `selfKeyArn` and `opsKeyArn` also make deletion reminders say that keydrift itself uses the key. */
export interface ReconcilerSettings extends DetectorEnvironment {
  /** The Region reconciled: its keys and aliases, and this account's trails whose home Region it is. */
  region: string;
  /** Keys read at once (default 10). */
  concurrency?: number;
  /** The share of each KMS request quota the reconciler may use (default 0.8: ListGrants at 80 per second). */
  kmsQuotaShare?: number;
  /** Requests per second per KMS operation, replacing the share (accounts with raised quotas, tests). */
  kmsRates?: Partial<Record<KmsReadOperation, number>>;
  /** When less invocation time than this remains, the run continues in a new invocation (default 60 s). */
  reserveMs?: number;
  /** Attempts per KMS call on throttling, above the SDK's own retries (default 5), and the first backoff (100 ms). */
  kmsAttempts?: number;
  kmsBackoffMs?: number;
}

export interface ReconcilerDeps {
  kms: KMSClient;
  dynamodb: DynamoDBClient;
  sns: SNSClient;
  eventBridge: EventBridgeClient;
  cloudtrail: CloudTrailClient;
  settings: ReconcilerSettings;
  logger: Logger;
  metrics: Metrics;
  /** Paces KMS calls; by default one built from `kmsQuotaShare` / `kmsRates`. */
  limiter?: RateLimiter;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** What a run has done so far (all its invocations). */
export interface RunCounts {
  /** Customer managed keys reconciled. */
  keys: number;
  awsManagedKeys: number;
  aliases: number;
  trails: number;
  /** Resources with a baseline that are no longer listed. */
  gone: number;
  /** Baselines set by the adoption sweep. */
  adopted: number;
  /** Findings delivered (or kept, when an ignore rule matched). */
  findings: number;
  /** Findings an earlier run had already delivered. */
  duplicates: number;
  /**
   * Findings claimed by an invocation that did not finish delivering them (its claim's lease has not run out): not
   * alerted yet. Their resources' stored state is left as it was, so a later run finds them again and alerts.
   */
  pending: number;
  /** Resources whose live state differs from the baseline (alerted now or earlier). */
  openDrift: number;
  /** Resources that could not be reconciled (logged; the next run tries again). */
  failures: number;
  /** Keys never baselined whose policy denies keydrift its reads: not failures, as every run would fail alike. */
  unreadable: number;
  /**
   * Trails that deliver KMS write events to EventBridge in this Region: this account's trails homed here that log and
   * record them, plus any other trail seen here (another Region's or the organization's, counted unverified).
   */
  kmsTrails: number;
}

export interface ReconcileResult {
  /** `continued`: the run goes on in another invocation; `ignored`: a stale or foreign continuation event. */
  status: 'completed' | 'continued' | 'ignored';
  runId?: string;
  sequence?: number;
  counts?: RunCounts;
  /** Findings this invocation delivered. */
  findings: Finding[];
}

export type ReconcilerHandler = (event: unknown, context?: InvocationContext) => Promise<ReconcileResult>;

/** Where a run is; stored (with its run id and sequence) between invocations. */
export interface RunCursor {
  startedAt: string;
  /** The first run ever: resources without a baseline are adopted silently. */
  adopting: boolean;
  phase: 'keys' | 'finish';
  /** The ListKeys marker of the page being worked on (absent: the first page). */
  marker?: string;
  /** How many keys of that page are done. */
  position: number;
  /**
   * The ids of the keys of that page done so far: the page is listed again when the run continues, and every key it
   * lists then that is not among them is read, however many keys were deleted or created in it meanwhile (at most
   * a page of 1,000 ids, some 40 KB of the cursor item).
   */
  doneKeyIds?: string[];
  /** The last key done: where a run stored by an earlier version, which kept no `doneKeyIds`, stopped in its page. */
  lastKeyId?: string;
  /** Counts of the keys phase so far (the finish phase is counted when it completes). */
  counts: RunCounts;
  invocations: number;
  /**
   * The resources (ARNs) whose reconcile failed that the adoption still owes: every one of the adopting run; of a later
   * run, those its adoption marker names as owed. At most {@link MAX_OWED} (some 80 KB of the cursor item).
   */
  owed?: string[];
  /** More than {@link MAX_OWED} failed while adopting: no adoption marker, the next run adopts again. */
  owedTooMany?: boolean;
}

interface Run {
  runId: string;
  sequence: number;
  cursor: RunCursor;
  /** The adoption marker as the run found it (absent while adopting): its `owed` are adopted silently. */
  adoption?: Adoption;
  /** Its `owed`, for lookups. */
  owing: ReadonlySet<string>;
}

type Trigger = { kind: 'schedule' } | { kind: 'continue'; runId: string; sequence: number } | { kind: 'invalid' };

interface Stored {
  state?: StoredSnapshot;
  baseline?: StoredSnapshot;
}

/** What every invocation learns first: the aliases, the AWS managed keys and the trails. */
interface World {
  /** When the aliases were listed (epoch ms): what the aliases' states were read at. */
  surveyedAt: number;
  aliases: AccountAlias[];
  aliasNamesByKey: Map<string, string[]>;
  awsManagedKeys: Set<string>;
  trails: ResourceSnapshot[];
}

/** One invocation's clock and what it delivered. */
interface Invocation {
  timeLow(): boolean;
  leaseMs(): number | undefined;
  findings: Finding[];
  succeeded: number;
  /** Resources that failed (the first few are logged in detail). */
  failed: number;
  /** Failures other than keys that deny keydrift: these, with nothing succeeding, mean the run itself is broken. */
  broken: number;
  /** The stored custom key stores of keys read `Unavailable`, by store ARN: each loaded once per invocation. */
  keyStores: Map<string, Promise<ResourceSnapshot | undefined>>;
  /**
   * Keys' states (`key_state`) by key ARN: as this invocation read them, else as stored (loaded for an alias approved
   * on the key, once per key and invocation).
   */
  keyStates: Map<string, Promise<KeyStates>>;
  /** The keys ListKeys returned, once the finishing phase listed them: a key of this Region not among them is deleted. */
  listedKeys?: Set<string>;
}

/** A key's `key_state` as the run knows it, and as approved: what an alias's undo back onto the key depends on. */
interface KeyStates {
  known: unknown;
  approved: unknown;
}

/**
 * What became of a finding: `saved` with its writes; `reported` (now or by an earlier run) but its writes not saved;
 * `pending` while another invocation holds its claim (the finding is not reported yet).
 */
type Delivery = 'saved' | 'reported' | 'pending';

const LEASE_MARGIN_MS = 5_000;
const LOAD_CHUNK = 50;
const LOAD_CONCURRENCY = 4;
const DETAILED_FAILURES = 20;
/** Resources an adoption may owe; more failed, it is not marked (the next run adopts again). */
export const MAX_OWED = 1_000;
const AWS_ALIAS_PREFIX = 'alias/aws/';

export const emptyCounts = (): RunCounts => ({
  keys: 0,
  awsManagedKeys: 0,
  aliases: 0,
  trails: 0,
  gone: 0,
  adopted: 0,
  findings: 0,
  duplicates: 0,
  pending: 0,
  openDrift: 0,
  failures: 0,
  unreadable: 0,
  kmsTrails: 0,
});

/**
 * Creates the reconciler handler from clients and settings.
 *
 * @example
 * export const handler = createReconciler({ kms, dynamodb, sns, eventBridge, cloudtrail, settings, logger, metrics });
 */
export function createReconciler(deps: ReconcilerDeps): ReconcilerHandler {
  const { settings, logger, metrics } = deps;
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const concurrency = settings.concurrency ?? 10;
  const reserveMs = settings.reserveMs ?? 60_000;
  const limiter =
    deps.limiter ?? createRateLimiter({ rates: kmsRates(settings.kmsQuotaShare ?? 0.8, settings.kmsRates) });
  const inventory = createKmsInventory({
    client: deps.kms,
    limiter,
    region: settings.region,
    attempts: settings.kmsAttempts,
    backoffMs: settings.kmsBackoffMs,
    sleep,
  });
  const kmsReader = createKmsReader({ client: deps.kms });
  const trailReader = createTrailReader({ client: deps.cloudtrail });
  const store = createStateStore({ client: deps.dynamodb, tableName: settings.tableName, now, sleep });
  const recon = createReconcileStore({ client: deps.dynamodb, tableName: settings.tableName, now });
  const publisher = createFindingPublisher(deps, settings);
  const { config } = settings;

  const count = (name: string, value = 1) => metrics.addMetric(name, MetricUnit.Count, value);

  // ---- what every invocation reads first ----

  async function survey(): Promise<World> {
    // One DescribeTrails call: which keys encrypt trails. The finish phase reads this Region's trails in full.
    const surveyedAt = now();
    const [aliases, trails] = await Promise.all([inventory.listAliases(), trailReader.readTrails({ details: false })]);
    const aliasNamesByKey = new Map<string, string[]>();
    const awsManagedKeys = new Set<string>();
    for (const alias of aliases) {
      if (!alias.targetKeyArn) continue;
      if (alias.aliasName.startsWith(AWS_ALIAS_PREFIX)) awsManagedKeys.add(alias.targetKeyArn);
      const names = aliasNamesByKey.get(alias.targetKeyArn) ?? [];
      names.push(alias.aliasName);
      aliasNamesByKey.set(alias.targetKeyArn, names);
    }
    return { surveyedAt, aliases, aliasNamesByKey, awsManagedKeys, trails };
  }

  /** The core's view of a resource's surroundings: the trails (which keys they use) and the resource itself. */
  function surroundingsFor(world: World, live: ResourceSnapshot): MemoryStore {
    const memory = new MemoryStore(config.trailKeys);
    for (const trail of world.trails) if (trail.arn !== live.arn) memory.putState(trail);
    memory.putState(live);
    return memory;
  }

  /** States and baselines of many resources: batches of 50 resources, a few at once. */
  async function loadAll(arns: string[]): Promise<Map<string, Stored>> {
    const chunks: string[][] = [];
    for (let i = 0; i < arns.length; i += LOAD_CHUNK) chunks.push(arns.slice(i, i + LOAD_CHUNK));
    const out = new Map<string, Stored>();
    await runPool(
      chunks,
      async (chunk) => {
        const loaded = await store.load(chunk);
        for (const [arn, state] of loaded.states) out.set(arn, { ...out.get(arn), state });
        for (const [arn, baseline] of loaded.baselines) out.set(arn, { ...out.get(arn), baseline });
      },
      { concurrency: LOAD_CONCURRENCY },
    );
    return out;
  }

  /**
   * A key's read, its state taken as stored (`previous`), or left unknown, when keydrift knows its custom key store
   * disconnected (`withStoreDisconnection`). Only a key read `Unavailable` costs a read of the table, one per store and
   * invocation, shared by its keys.
   */
  async function withKeyStore(
    live: ResourceSnapshot,
    inv: Invocation,
    previous: ResourceSnapshot | undefined,
  ): Promise<ResourceSnapshot> {
    const arn = storeOfUnavailableKey(live);
    if (!arn) return live;
    let loading = inv.keyStores.get(arn);
    if (!loading) {
      loading = store.load([arn]).then((loaded) => (loaded.states.get(arn) ?? loaded.baselines.get(arn))?.snapshot);
      inv.keyStores.set(arn, loading);
    }
    return withStoreDisconnection(live, await loading, previous);
  }

  /**
   * What the run knows of the key an alias found off it is approved on (its undo points the alias back, which KMS
   * refuses for a key pending deletion or deleted): the key as this invocation read it, deleted when ListKeys no
   * longer lists it (deleted unseen, it is found so only after the aliases), else as stored. `undefined`
   * for any other resource, and for an alias whose move the stored state shows already (no news, no undo). A stored
   * state that cannot be read is logged and left unknown (the undo points the alias back, as with no record of the
   * key): the alias's drift is alerted all the same, and the next alias on the key reads it again.
   */
  async function approvedKeyOf(
    live: ResourceSnapshot,
    baseline: ResourceSnapshot,
    previous: ResourceSnapshot | undefined,
    inv: Invocation,
  ): Promise<Elsewhere | undefined> {
    const key = lookup(baseline, 'target_key_id');
    const target = lookup(live, 'target_key_id');
    if (
      live.kind !== 'alias' ||
      typeof key !== 'string' ||
      key === target ||
      lookup(previous, 'target_key_id') === target
    )
      return undefined;
    const of = (value: unknown) => (arn: string, path: string) =>
      arn === key && path === 'key_state' ? value : undefined;
    if (inv.listedKeys && inRegion(key) && !inv.listedKeys.has(key)) return { known: of('Deleted') };
    let loading = inv.keyStates.get(key);
    if (!loading) {
      loading = store.load([key]).then(
        (loaded) => ({
          known: lookup(loaded.states.get(key)?.snapshot, 'key_state'),
          approved: lookup(loaded.baselines.get(key)?.snapshot, 'key_state'),
        }),
        (error) => {
          inv.keyStates.delete(key);
          logger.warn("The approved key of an alias could not be read: the alias's undo assumes it usable", {
            resource: live.arn,
            key,
            error: describe(error),
          });
          return { known: undefined, approved: undefined };
        },
      );
      inv.keyStates.set(key, loading);
    }
    const states = await loading;
    return { known: of(states.known), approved: of(states.approved) };
  }

  // ---- one resource ----

  /**
   * Claims, publishes and then saves one finding. Saving after publishing (not beside it, as the detector does)
   * keeps the stored state from moving on when the alert failed: the next run then sees the same difference again,
   * derives the same eventId, and alerts.
   */
  async function deliver(
    finding: Finding,
    writes: { states: SnapshotWrite[]; baselines: SnapshotWrite[] },
    run: Run,
    inv: Invocation,
  ): Promise<Delivery> {
    const ignore = matchingIgnoreRule(config, finding);
    const ignoredBy = ignore ? ignore.reason || 'an ignore rule' : undefined;
    const leaseMs = inv.leaseMs();
    const claim = await store.claimWithDelivered(finding.eventId, leaseMs === undefined ? {} : { leaseMs });
    if (claim.outcome === 'done') {
      run.cursor.counts.duplicates++;
      return 'reported';
    }
    if (claim.outcome === 'in-progress') {
      // Runs never overlap (reserved concurrency 1): the holder is an invocation that ended before its alert was
      // confirmed. Once its lease runs out, a later run takes the claim over and alerts (to the targets not reached).
      run.cursor.counts.pending++;
      logger.warn('Finding claimed by an unfinished invocation; a later run alerts it once the claim expires', {
        eventId: finding.eventId,
        resource: finding.resource,
      });
      return 'pending';
    }
    let report: PublishReport | undefined;
    // An earlier run's alert of the same drift that failed part-way kept the targets it reached with the claim.
    const delivered = claim.delivered;
    try {
      // Ignored, it goes nowhere but for the pager's resolves (an incident keydrift opened must not stay open).
      report = await publisher.publish(finding, { skip: delivered, ignored: ignoredBy !== undefined });
    } catch (error) {
      count('AlertPublishFailures');
      const reached = error instanceof PublishError ? error.delivered : [];
      await releaseQuietly(finding.eventId, [...delivered, ...reached]);
      throw error;
    }
    let written = true;
    // The alert is out: should saving fail, the run that takes the claim over judges again and sends only what this
    // one did not.
    const releaseAndThrow = async (error: unknown): Promise<never> => {
      await releaseQuietly(finding.eventId, [...delivered, ...(report?.delivered ?? [])]);
      throw error;
    };
    try {
      await store.save({ eventId: finding.eventId, finding, ...writes, ignoredBy, alertSent: true });
    } catch (error) {
      if (!(error instanceof StaleStateError)) await releaseAndThrow(error);
      // The detector saved an event on this resource meanwhile: keep the finding; the next run sees the new state.
      logger.info('Stored state changed during the reconcile; finding kept, state left to the next run', {
        eventId: finding.eventId,
        resource: finding.resource,
      });
      await store
        .save({ eventId: finding.eventId, finding, states: [], baselines: [], ignoredBy, alertSent: true })
        .catch(releaseAndThrow);
      written = false;
    }
    run.cursor.counts.findings++;
    inv.findings.push(finding);
    recordFinding(logger, metrics, finding, report, {}, ignoredBy);
    return written ? 'saved' : 'reported';
  }

  async function releaseQuietly(eventId: string, delivered: readonly string[]): Promise<void> {
    try {
      await store.release(eventId, delivered);
    } catch (error) {
      logger.warn('Could not release the claim', { eventId, error: describe(error) });
    }
  }

  /** The resource's state and baseline as stored now, when the detector (or an accept) wrote either since `stored`. */
  async function newerStored(arn: string, stored: Stored): Promise<Stored | undefined> {
    const loaded = await store.load([arn]);
    const current = { state: loaded.states.get(arn), baseline: loaded.baselines.get(arn) };
    const unchanged =
      current.state?.version === stored.state?.version && current.baseline?.version === stored.baseline?.version;
    return unchanged ? undefined : current;
  }

  /**
   * Adopts, reports a resource that appeared, or compares with the baseline (and reminds about a deletion).
   * `readAt`: when the read of `live` began (epoch ms). `reread`: `stored` was read again just now (it was loaded
   * with its page, before the resource was read). `readsAt`: for a key, when its own reads began (its read began
   * earlier, `readAt`, with the account's alias listing).
   */
  async function reconcileOne(
    live: ResourceSnapshot,
    stored: Stored,
    world: World,
    run: Run,
    inv: Invocation,
    readAt: number,
    reread = false,
    readsAt?: number,
  ): Promise<void> {
    const { state, baseline } = stored;
    const nowMs = now();
    const surroundings = surroundingsFor(world, live);
    // The read keeps the key material the stored state knows staged (no read shows it), unless KMS names it current.
    const stateWrite: SnapshotWrite = {
      snapshot: withStagedMaterialOf(state?.snapshot, live),
      expectedVersion: state?.version ?? null,
    };
    // A page's states are loaded before its keys are read, which takes seconds to minutes. When the detector saved
    // this resource meanwhile (it alerted the change from its event), judge again against what it saved, so that
    // the change is not also reported as one no event explained. Saved after the read began and unlike it, it holds
    // a change this read missed: the read is the older, and is neither judged nor written (it would resolve drift
    // the detector just alerted, and overwrite its state); the next run compares again. Its drift still counts.
    // A key's aliases come from the listing at the start of the invocation, so what the page loaded can be newer too
    // (saved after that listing; what was saved in its millisecond, as by an earlier run with a stopped clock, is not).
    // Saved before the key's own reads began (`readsAt`), it is newer than its aliases only: the rest of the read is
    // the newer, and a difference there is news (a change no event explained), not a change the read missed.
    const newerThanRead = (current: Stored, loaded: boolean): boolean => {
      if (!current.state || !savedSince(current, loaded ? readAt + 1 : readAt)) return false;
      if (readsAt !== undefined && !savedSince(current, readsAt)) return !sameAliases(current.state.snapshot, live);
      return !sameState(current.state.snapshot, live);
    };
    const savedAfterRead = (current: Stored, loaded: boolean): boolean => {
      if (!current.state || !newerThanRead(current, loaded)) return false;
      logger.info('Saved by the detector after this read began; left to the next run', { resource: live.arn });
      const approved = current.baseline?.snapshot;
      const saved = current.state.snapshot;
      if (approved && differingPaths(approved, saved, saved).length > 0) run.cursor.counts.openDrift++;
      return true;
    };
    const judgeAgain = async () => {
      if (savedAfterRead(stored, !reread)) return true;
      const newer = reread ? undefined : await newerStored(live.arn, stored);
      if (newer && savedAfterRead(newer, false)) return true;
      if (newer) await reconcileOne(live, newer, world, run, inv, readAt, true, readsAt);
      return !!newer;
    };

    if (!baseline) {
      // Gone before keydrift ever saw it, or not visible yet (a key KMS lists right after CreateKey, before its reads
      // know it): nothing to approve, nor to report; a key that exists is found by the next run.
      if (isGone(live)) {
        logger.info('Listed but gone, never baselined; left to the next run', { resource: live.arn });
        return;
      }
      if (run.cursor.adopting || run.owing.has(live.arn)) {
        if (await recon.adopt(live, state?.version ?? null, run.runId, undefined, approvable(live))) {
          run.cursor.counts.adopted++;
        } else {
          logger.info('Changed while being adopted; the next run adopts it', { resource: live.arn });
          owe(run, live.arn);
        }
        return;
      }
      if (await judgeAgain()) return;
      const finding = unbaselinedResource(live, nowMs, surroundings, config);
      const approved = approvedWorking(live);
      const baselineWrite: SnapshotWrite = {
        snapshot: approved,
        expectedVersion: null,
        acceptedBy: APPEARED_ACCEPTED_BY,
        acceptedAt: new Date(nowMs).toISOString(),
      };
      const delivery = await deliver(finding, { states: [stateWrite], baselines: [baselineWrite] }, run, inv);
      // Reported (now or by an earlier run) without its writes: the resource still needs its baseline. While the
      // finding is pending, nothing is written: the next run finds the resource without a baseline again and alerts.
      if (delivery === 'reported') {
        await recon.adopt(live, state?.version ?? null, run.runId, APPEARED_ACCEPTED_BY, approved);
      }
      return;
    }

    // A grant re-created exactly as an approved one that is gone (its remediation run) takes its place; what the
    // baseline never knew (a key's rotation, hidden while it was pending deletion) is approved as first seen, and so
    // is a multi-Region key's primary moved between two other Regions (recorded and alerted there only). What is seen
    // first is dated when the read was over (now), not when it began: a key is read up to minutes after its run's alias
    // listing, and a change made in between, which the read shows, is no one's approval.
    const restored = withRestoredGrants(baseline.snapshot, live);
    const seen = isGone(live)
      ? undefined
      : withFirstSeen(restored ?? baseline.snapshot, live, baseline.truncated, new Date(nowMs).toISOString());
    const firstSeen = withPrimaryMovedElsewhere(seen ?? restored ?? baseline.snapshot, live, state?.snapshot) ?? seen;
    const approved = firstSeen ?? restored ?? baseline.snapshot;
    // Compared before a move elsewhere is approved: the stored state, showing the primary approved until now, is no
    // drift from it to resolve.
    const compared = seen ?? restored ?? baseline.snapshot;
    // A multi-Region primary's approved deletion going on (a replica deleted, or the last, KMS dating the deletion): the
    // baseline follows it.
    const goingOn = withApprovedDeletionGoingOn(approved, live, state?.snapshot);
    const drifted = differingPaths(goingOn ?? compared, live, state?.snapshot);
    // An alias found off its approved key: the undo points it back, unless KMS refuses that key.
    const elsewhere = await approvedKeyOf(live, compared, state?.snapshot, inv);
    const finding = reconcileResource(
      {
        baseline: compared,
        live,
        previous: state?.snapshot,
        previousVersion: state?.version,
        nowMs,
        // For a key found deleted only, which names its aliases gone with it: the listing may be long.
        ...(live.kind === 'key' && isGone(live)
          ? { listedAliasTargets: new Map(world.aliases.map((alias) => [alias.aliasArn, alias.targetKeyArn])) }
          : {}),
        elsewhere,
      },
      surroundings,
      config,
    );
    if (finding && (await judgeAgain())) return;
    // A key found deleted as its baseline approves (reported `planned`): the baseline moves to Deleted with it.
    const deletedAsApproved = finding?.status === 'planned' && isGone(live);
    if (drifted.length > 0 && !deletedAsApproved) run.cursor.counts.openDrift++;
    // Staged material KMS now names current is forgotten, though no attribute changed (a rotation's event missed).
    const changed =
      !state ||
      !sameState(state.snapshot, live) ||
      state.snapshot.stagedKeyMaterial !== stateWrite.snapshot.stagedKeyMaterial;
    let delivery: Delivery | undefined;
    const { acceptedBy, acceptedAt, acceptReason } = baseline;
    // A multi-Region primary's approved wait read cancelled (judged against the wait above): the approval is spent.
    const spent = withApprovedWaitSpent(approved, live);
    const approvedNow = deletedAsApproved ? approvedDeleted(approved) : (goingOn ?? spent ?? approved);
    const baselines =
      approvedNow !== baseline.snapshot
        ? [{ snapshot: approvedNow, expectedVersion: baseline.version, acceptedBy, acceptedAt, acceptReason }]
        : [];
    if (finding) delivery = await deliver(finding, { states: changed ? [stateWrite] : [], baselines }, run, inv);
    // Reported by an earlier run, or its writes refused (the detector saved the key meanwhile): the state moves on
    // below, and the deletion (its date, a replica gone) would then be known drift for good; the baseline is moved
    // too, unless it moved since.
    if ((deletedAsApproved || goingOn || spent) && delivery === 'reported') {
      await recon.putBaseline(approvedNow, baseline.version, run.runId, { acceptedBy, acceptedAt, acceptReason });
    }
    if (live.kind === 'key') {
      const dependents = {
        trails: surroundings.trailsUsingKey(live.arn),
        usedByKeydrift: live.arn === settings.selfKeyArn || live.arn === settings.opsKeyArn,
      };
      // Dated just now, as approved: a 7-day waiting period's first reminder is due in this very run.
      const reminder = deletionReminder(live, nowMs, dependents, surroundings, config, goingOn ?? baseline.snapshot);
      if (reminder) await deliver(reminder, { states: [], baselines: [] }, run, inv);
    }
    // Only a reported finding lets the state move on: while it is pending, the next run must see the difference again.
    // A state saved since the read began is the newer: it stays.
    if (changed && delivery !== 'saved' && delivery !== 'pending' && !newerThanRead(stored, !reread)) {
      await recon.putState(stateWrite.snapshot, stateWrite.expectedVersion, run.runId);
    }
    // The wait read cancelled again with no news (keydrift stored it so before this run): spent all the same.
    const quietly = spent ?? firstSeen;
    if (quietly && !finding)
      await recon.putBaseline(quietly, baseline.version, run.runId, { acceptedBy, acceptedAt, acceptReason });
  }

  /**
   * Records a resource the adoption still owes: one that failed while adopting, or that the marker names and failed
   * again (the next run adopts it silently, while it has no baseline).
   */
  function owe(run: Run, arn: string): void {
    const { cursor } = run;
    if (!cursor.adopting && !run.owing.has(arn)) return;
    const owed = cursor.owed ?? [];
    if (owed.includes(arn)) return;
    if (owed.length >= MAX_OWED) cursor.owedTooMany = true;
    else cursor.owed = [...owed, arn];
  }

  /**
   * Runs one resource's work; its failure is counted and logged, and the run goes on (unless it is systemic). A key
   * that denies keydrift its reads is no failure when it never had a baseline (its policy never let keydrift in); one
   * that keydrift could read before (`baselined`) is, as someone took that away.
   */
  async function guarded(
    resource: string,
    inv: Invocation,
    run: Run,
    work: () => Promise<void>,
    baselined = true,
  ): Promise<void> {
    try {
      await work();
      inv.succeeded++;
    } catch (error) {
      // A table that cannot be written to, or a broken configuration, fails every resource: stop the invocation.
      if (error instanceof StoreError || error instanceof ConfigError) throw error;
      // Counted apart: an alarm on failures would otherwise fire on every run for as long as such a key exists.
      if (error instanceof KeyUnreadableError && !baselined) {
        run.cursor.counts.unreadable++;
        count('UnreadableKeys');
        logger.info('Key not reconciled: its key policy denies keydrift its reads', { resource });
        return;
      }
      inv.failed++;
      run.cursor.counts.failures++;
      owe(run, resource);
      if (inv.failed <= DETAILED_FAILURES) {
        logger.warn('Resource could not be reconciled; the next run tries again', {
          resource,
          error: describe(error),
          cause: describe((error as Error)?.cause),
        });
      }
      // A key that shuts keydrift out is that key's condition (counted, and alarmed on), however many there are and
      // wherever they are listed: it must not stop the reconcile of every other key.
      if (error instanceof KeyUnreadableError) return;
      inv.broken++;
      if (inv.broken >= DETAILED_FAILURES && inv.succeeded === 0) throw error;
    }
  }

  // ---- phases ----

  async function reconcileKey(
    key: KeyPage['keys'][number],
    stored: Stored | undefined,
    world: World,
    run: Run,
    inv: Invocation,
  ) {
    if (world.awsManagedKeys.has(key.keyArn)) {
      run.cursor.counts.awsManagedKeys++;
      return;
    }
    await guarded(
      key.keyArn,
      inv,
      run,
      async () => {
        // The read began with its aliases: the account's listing, made when the invocation began.
        const readAt = world.surveyedAt;
        const readsAt = now();
        const read = await inventory.readKey(key.keyArn, world.aliasNamesByKey.get(key.keyArn) ?? []);
        if (read.keyManager === 'AWS') {
          run.cursor.counts.awsManagedKeys++;
          return;
        }
        run.cursor.counts.keys++;
        const previous = stored?.state?.snapshot;
        const known = withHiddenRotationKept(await withKeyStore(read.snapshot, inv, previous), previous);
        // Unavailable with no approved state to compare: the store's connection, not a state to adopt.
        const live = withUnapprovedUnavailableUnknown(known, stored?.baseline?.snapshot);
        // Known to this invocation as read: an alias found off it needs no read of the table to know it.
        const approved = lookup(stored?.baseline?.snapshot, 'key_state');
        inv.keyStates.set(key.keyArn, Promise.resolve({ known: live.attributes.key_state, approved }));
        await reconcileOne(live, stored ?? {}, world, run, inv, readAt, false, readsAt);
      },
      !!stored?.baseline,
    );
  }

  /**
   * The ids of the page's keys done, as the cursor has them. A run stored by an earlier version names only its last
   * key done: those up to it when it is still listed, else those before the stored position, one fewer (it was deleted).
   */
  function doneKeyIdsOf(page: KeyPage, cursor: RunCursor): string[] {
    if (cursor.doneKeyIds) return cursor.doneKeyIds;
    const index = cursor.lastKeyId ? page.keys.findIndex((k) => k.keyId === cursor.lastKeyId) : -1;
    const position = Math.min(cursor.position, page.keys.length);
    const done = index >= 0 ? index + 1 : cursor.lastKeyId ? Math.max(0, position - 1) : position;
    return page.keys.slice(0, done).map((k) => k.keyId);
  }

  /** Reconciles keys page by page from the cursor. Returns false when the invocation ran low on time. */
  async function keysPhase(run: Run, world: World, inv: Invocation): Promise<boolean> {
    const { cursor } = run;
    for (;;) {
      let page: KeyPage;
      try {
        page = await inventory.listKeys(cursor.marker);
      } catch (error) {
        if (!(error instanceof InvalidMarkerError) || !cursor.marker) throw error;
        logger.warn('The stored ListKeys marker is no longer valid; listing keys from the start', { runId: run.runId });
        Object.assign(cursor, {
          marker: undefined,
          position: 0,
          doneKeyIds: [],
          lastKeyId: undefined,
          counts: emptyCounts(),
          owed: undefined,
          owedTooMany: undefined,
        });
        continue;
      }
      const done = doneKeyIdsOf(page, cursor);
      const doneSet = new Set(done);
      const todo = page.keys.filter((k) => !doneSet.has(k.keyId));
      const loaded = await loadAll(todo.filter((k) => !world.awsManagedKeys.has(k.keyArn)).map((k) => k.keyArn));
      const started = await runPool(todo, (key) => reconcileKey(key, loaded.get(key.keyArn), world, run, inv), {
        concurrency,
        shouldStop: inv.timeLow,
      });
      if (started > 0) {
        cursor.doneKeyIds = [...done, ...todo.slice(0, started).map((k) => k.keyId)];
        cursor.position = cursor.doneKeyIds.length;
        cursor.lastKeyId = undefined;
      }
      if (started < todo.length) return false;
      Object.assign(cursor, { marker: page.nextMarker, position: 0, doneKeyIds: [], lastKeyId: undefined });
      if (!page.nextMarker) cursor.phase = 'finish';
      await checkpoint(run);
      if (!page.nextMarker) return true;
      if (inv.timeLow()) return false;
    }
  }

  /** Every key ARN ListKeys returns now (1,000 per call). */
  async function listedKeys(): Promise<Set<string>> {
    const arns = new Set<string>();
    let marker: string | undefined;
    do {
      const page = await inventory.listKeys(marker);
      for (const key of page.keys) arns.add(key.keyArn);
      marker = page.nextMarker;
    } while (marker);
    return arns;
  }

  const inRegion = (arn: string) => parseArn(arn)?.region === settings.region;
  // This account's trails homed here. An organization trail belongs to the management account, which watches it:
  // a member account may not read its status (and keydrift's role may read only this account's trails).
  const ownAccount = parseArn(settings.selfKeyArn)?.account;
  const isHomeTrail = (arn: string) => inRegion(arn) && parseArn(arn)?.account === ownAccount;

  /** A trail that logs and records KMS write events (selectors it could not read are given the benefit of the doubt). */
  function deliversKmsEvents(trail: ResourceSnapshot): boolean {
    const selectors = trail.attributes.event_selectors as TrailSelectors | undefined;
    return trail.attributes.logging === true && (selectors === undefined || logsKmsWrites(selectors));
  }

  function isGone(snapshot: ResourceSnapshot | undefined): boolean {
    if (!snapshot) return false;
    switch (snapshot.kind) {
      case 'key':
        return snapshot.attributes.key_state === 'Deleted';
      case 'alias':
        return snapshot.attributes.target_key_id === null;
      case 'trail':
        return snapshot.attributes.trail === 'deleted';
      default:
        return false;
    }
  }

  /**
   * An alias KMS deleted with its key: no finding (the key's deletion is its record), its state and baseline gone, as
   * the detector leaves them from the key's deletion event. Each write only over the version loaded: a save since then
   * (the detector's, of the name created again) stays, and the next run compares it.
   */
  async function approveGoneWithItsKey(
    live: ResourceSnapshot,
    approved: ResourceSnapshot,
    state: StoredSnapshot | undefined,
    baseline: StoredSnapshot,
    run: Run,
  ): Promise<void> {
    logger.info('Alias gone with its key, which KMS deleted: approved gone', { resource: live.arn });
    const { acceptedBy, acceptedAt, acceptReason } = baseline;
    if (!state || !sameState(state.snapshot, live)) await recon.putState(live, state?.version ?? null, run.runId);
    await recon.putBaseline(approved, baseline.version, run.runId, { acceptedBy, acceptedAt, acceptReason });
  }

  /** Reads a resource that is no longer listed (a key KMS no longer knows reads as Deleted). */
  async function readUnlisted(arn: string, kind: string, world: World): Promise<ResourceSnapshot | undefined> {
    switch (kind) {
      case 'key':
        return (await inventory.readKey(arn, world.aliasNamesByKey.get(arn) ?? [])).snapshot;
      case 'alias':
        await limiter.take('DescribeKey');
        return kmsReader.readAlias(arn);
      case 'trail':
        return trailReader.readTrail(arn);
      default:
        return undefined;
    }
  }

  /**
   * Aliases, this Region's trails, then resources with a baseline that are no longer listed. Returns false when the
   * invocation ran low on time (the next one does this phase again: what was done is not alerted twice).
   */
  async function finishPhase(run: Run, world: World, inv: Invocation, finish: RunCursor): Promise<boolean> {
    const pool = <T>(items: T[], task: (item: T) => Promise<void>) =>
      runPool(items, task, { concurrency, shouldStop: inv.timeLow }).then((started) => started === items.length);
    const proxy: Run = { ...run, cursor: finish };
    const totals = finish.counts;

    const aliases = world.aliases
      .filter((a) => !a.aliasName.startsWith(AWS_ALIAS_PREFIX) && a.targetKeyArn)
      .map((a) => snapshotFromState('alias', a.aliasArn, { target_key_id: a.targetKeyArn }));
    // Each home trail is read on its own: one whose status or selectors cannot be read is that trail's failure, not
    // the end of the aliases and of the resources no longer listed.
    const trails = world.trails.filter((t) => isHomeTrail(t.arn));
    // A trail not read (its read failed) is given the benefit of the doubt, as one of another account or Region is.
    let silentTrails = 0;
    const present = await listedKeys();
    inv.listedKeys = present;
    const listed = [...aliases, ...trails];
    const loaded = await loadAll(listed.map((s) => s.arn));
    const listedDone = await pool(listed, (listing) =>
      guarded(listing.arn, inv, proxy, async () => {
        const readAt = listing.kind === 'alias' ? world.surveyedAt : now();
        const live = listing.kind === 'alias' ? listing : await trailReader.readTrail(listing.arn);
        totals[live.kind === 'alias' ? 'aliases' : 'trails']++;
        if (live.kind === 'trail' && !deliversKmsEvents(live)) silentTrails++;
        await reconcileOne(live, loaded.get(live.arn) ?? {}, world, proxy, inv, readAt);
      }),
    );
    if (!listedDone) return false;
    totals.kmsTrails = world.trails.length - silentTrails;

    for (const alias of world.aliases) present.add(alias.aliasArn);
    for (const trail of world.trails) present.add(trail.arn);
    const unlisted = (await recon.baselined()).filter(
      (r) => !present.has(r.arn) && inRegion(r.arn) && ['key', 'alias', 'trail'].includes(r.kind),
    );
    const loadedUnlisted = await loadAll(unlisted.map((r) => r.arn));
    return pool(unlisted, (resource) =>
      guarded(resource.arn, inv, proxy, async () => {
        const stored = loadedUnlisted.get(resource.arn);
        if (!stored?.baseline) return;
        const known = stored.state?.snapshot;
        const readAt = now();
        const live = isGone(known) ? known : await readUnlisted(resource.arn, resource.kind, world);
        if (!live) return;
        if (isGone(live)) totals.gone++;
        else if (live.kind === 'key') totals.keys++;
        // KMS deletes a key's aliases with it: an alias found gone whose key is no longer listed went with it.
        const keyGone = (key: string) => inRegion(key) && !present.has(key);
        const approved = aliasGoneWithItsKey(live, known, stored.baseline.snapshot, keyGone);
        if (approved) return approveGoneWithItsKey(live, approved, stored.state, stored.baseline, proxy);
        await reconcileOne(live, stored, world, proxy, inv, readAt);
      }),
    );
  }

  // ---- run bookkeeping ----

  const stored = (run: Run): StoredCursor<RunCursor> => ({
    runId: run.runId,
    sequence: run.sequence,
    cursor: run.cursor,
    updatedAt: new Date(now()).toISOString(),
  });

  async function checkpoint(run: Run): Promise<void> {
    if (!(await recon.saveCursor(stored(run), run.sequence))) {
      throw new StoreError(`the cursor of run ${run.runId} was moved on by another invocation`);
    }
  }

  async function startRun(): Promise<Run | undefined> {
    const adoption = await recon.adoption();
    const run: Run = {
      runId: randomUUID(),
      sequence: 0,
      adoption,
      owing: new Set(adoption?.owed),
      cursor: {
        startedAt: new Date(now()).toISOString(),
        adopting: !adoption,
        phase: 'keys',
        position: 0,
        doneKeyIds: [],
        counts: emptyCounts(),
        invocations: 0,
      },
    };
    if (!(await recon.saveCursor(stored(run), null))) return undefined;
    logger.info(run.cursor.adopting ? 'Reconcile run started: adopting the live state' : 'Reconcile run started', {
      runId: run.runId,
    });
    return run;
  }

  async function continueRun(run: Run, inv: Invocation): Promise<ReconcileResult> {
    const previous = run.sequence;
    run.sequence += 1;
    if (!(await recon.saveCursor(stored(run), previous))) {
      throw new StoreError(`the cursor of run ${run.runId} was moved on by another invocation`);
    }
    const output = await deps.eventBridge.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: CONTINUE_SOURCE,
            DetailType: CONTINUE_DETAIL_TYPE,
            Detail: JSON.stringify({ runId: run.runId, sequence: run.sequence }),
            EventBusName: settings.eventBusName,
          },
        ],
      }),
    );
    if ((output.FailedEntryCount ?? 0) > 0) {
      const entry = output.Entries?.find((e) => e.ErrorCode) ?? {};
      // The cursor is stored: the next scheduled run resumes it.
      throw new Error(`PutEvents rejected the continuation: ${entry.ErrorCode}: ${entry.ErrorMessage ?? ''}`);
    }
    count('ReconcileContinuations');
    logger.info('Reconcile run continues in a new invocation', {
      runId: run.runId,
      sequence: run.sequence,
      phase: run.cursor.phase,
      position: run.cursor.position,
      counts: run.cursor.counts,
    });
    return {
      status: 'continued',
      runId: run.runId,
      sequence: run.sequence,
      counts: run.cursor.counts,
      findings: inv.findings,
    };
  }

  /**
   * Marks the adoption done, naming the resources it still owes (their reconcile failed), or, after it, what it owes
   * still. An adoption with more failures than it may owe is not marked: the next run adopts again.
   */
  async function markAdoption(run: Run, finish: RunCursor): Promise<void> {
    const owed = finish.owed ?? [];
    const { adoption } = run;
    if (adoption && owed.length === adoption.owed.length) return;
    // A cursor stored by an earlier version counts its keys' failures but names none of them as owed.
    const unnamed = !adoption && run.cursor.counts.failures > (run.cursor.owed?.length ?? 0);
    if (finish.owedTooMany || unnamed) {
      const why = unnamed ? 'an earlier version did not name' : 'too many to name';
      logger.warn(`Adoption incomplete: resources could not be read (${why}); the next run adopts again`, {
        failures: finish.counts.failures,
        maxOwed: MAX_OWED,
      });
      return;
    }
    await recon.markAdopted({
      adoptedAt: adoption?.adoptedAt ?? new Date(now()).toISOString(),
      runId: adoption?.runId ?? run.runId,
      resources: (adoption?.resources ?? 0) + finish.counts.adopted,
      owed,
    });
    if (owed.length > 0) {
      logger.warn(
        `Adoption incomplete: ${owed.length} resource(s) could not be adopted; later runs adopt them silently, and ` +
          'report any other resource without a baseline',
        { owed: owed.length, failures: finish.counts.failures },
      );
    }
  }

  async function completeRun(run: Run, finish: RunCursor, inv: Invocation): Promise<ReconcileResult> {
    const totals = finish.counts;
    if (run.cursor.adopting || run.owing.size > 0) await markAdoption(run, finish);
    await recon.clearCursor(run.runId);
    const seconds = (now() - Date.parse(run.cursor.startedAt)) / 1000;
    metrics.addMetric('OpenDrift', MetricUnit.Count, totals.openDrift);
    count('ReconciledKeys', totals.keys);
    count('ReconciledAliases', totals.aliases);
    count('ReconciledTrails', totals.trails);
    count('GoneResources', totals.gone);
    count('AdoptedResources', totals.adopted);
    // Written by every run, 0 or more, so their alarms keep their state from one run to the next. The run's failures
    // are counted here, once it completes, not by the invocation that met them: a run continued past the hour of
    // its failures would otherwise end on a 0 that clears the alarm.
    count('ReconcileFailures', totals.failures);
    count('NoTrailLogsKms', totals.kmsTrails === 0 ? 1 : 0);
    if (totals.kmsTrails === 0) {
      // Without such a trail EventBridge delivers no KMS event: only these runs see changes, hours late.
      logger.warn('No trail delivers KMS write events in this Region: keydrift sees changes only when it reconciles', {
        region: settings.region,
      });
    }
    metrics.addMetric('ReconcileRunTime', MetricUnit.Seconds, seconds);
    logger.info('Reconcile run completed', {
      runId: run.runId,
      invocations: run.cursor.invocations,
      seconds,
      ...totals,
    });
    return { status: 'completed', runId: run.runId, sequence: run.sequence, counts: totals, findings: inv.findings };
  }

  async function handle(raw: unknown, context: InvocationContext | undefined): Promise<ReconcileResult> {
    const trigger = triggerOf(raw);
    const inv: Invocation = {
      timeLow: () => (context ? context.getRemainingTimeInMillis() < reserveMs : false),
      leaseMs: () => (context ? context.getRemainingTimeInMillis() + LEASE_MARGIN_MS : undefined),
      findings: [],
      succeeded: 0,
      failed: 0,
      broken: 0,
      keyStores: new Map(),
      keyStates: new Map(),
    };
    if (trigger.kind === 'invalid') {
      logger.error('Invalid continuation event: it names no run', { event: raw });
      return { status: 'ignored', findings: [] };
    }
    const current = await recon.cursor<RunCursor>();
    let run: Run | undefined;
    if (trigger.kind === 'continue') {
      if (!current || current.runId !== trigger.runId || current.sequence !== trigger.sequence) {
        logger.info('Continuation of a run that has moved on or finished: ignored', {
          runId: trigger.runId,
          sequence: trigger.sequence,
          current: current ? { runId: current.runId, sequence: current.sequence } : null,
        });
        count('StaleContinuations');
        return { status: 'ignored', findings: [] };
      }
      run = await resumed(current);
    } else if (current) {
      logger.info('Resuming an unfinished reconcile run', { runId: current.runId, sequence: current.sequence });
      run = await resumed(current);
    } else {
      run = await startRun();
      if (!run) return { status: 'ignored', findings: [] };
    }
    // A run stored by an earlier version lacks the counts added since.
    run.cursor.counts = { ...emptyCounts(), ...run.cursor.counts };
    run.cursor.invocations++;

    const world = await survey();
    if (run.cursor.phase === 'keys' && !(await keysPhase(run, world, inv))) return continueRun(run, inv);
    if (inv.timeLow()) return continueRun(run, inv);
    // The finish phase is done again whole by the invocation that completes it: what it counts and owes is kept apart.
    const finish: RunCursor = { ...run.cursor, counts: { ...run.cursor.counts }, owed: [...(run.cursor.owed ?? [])] };
    if (!(await finishPhase(run, world, inv, finish))) return continueRun(run, inv);
    return completeRun(run, finish, inv);
  }

  /** A stored run, with the adoption marker it adopts the owed resources of (none while adopting). */
  async function resumed(current: StoredCursor<RunCursor>): Promise<Run> {
    const adoption = current.cursor.adopting ? undefined : await recon.adoption();
    const { runId, sequence, cursor } = current;
    return { runId, sequence, cursor, adoption, owing: new Set(adoption?.owed) };
  }

  return async (raw, context) => {
    try {
      return await handle(raw, context);
    } catch (error) {
      count('ReconcilerErrors');
      logger.error('Reconcile invocation failed; it will be retried from the stored cursor', {
        error: describe(error),
        cause: describe((error as Error)?.cause),
      });
      throw error;
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}

function triggerOf(raw: unknown): Trigger {
  const event = (raw ?? {}) as { source?: unknown; 'detail-type'?: unknown; detail?: unknown };
  if (event.source !== CONTINUE_SOURCE || event['detail-type'] !== CONTINUE_DETAIL_TYPE) return { kind: 'schedule' };
  const detail = (event.detail ?? {}) as { runId?: unknown; sequence?: unknown };
  if (typeof detail.runId !== 'string' || !Number.isInteger(detail.sequence)) return { kind: 'invalid' };
  return { kind: 'continue', runId: detail.runId, sequence: detail.sequence as number };
}

/** True when two snapshots know the same paths with the same values and the same complete maps. */
export function sameState(a: ResourceSnapshot, b: ResourceSnapshot): boolean {
  const maps = (s: ResourceSnapshot) => [...s.completeMaps].sort().join(',');
  return maps(a) === maps(b) && knownPaths(a, b).every((path) => sameJson(lookup(a, path), lookup(b, path)));
}

/** True when two snapshots know the same aliases (a key's, as its read took them from the account's listing). */
function sameAliases(a: ResourceSnapshot, b: ResourceSnapshot): boolean {
  return (
    a.completeMaps.includes('aliases') === b.completeMaps.includes('aliases') &&
    knownPaths(a, b)
      .filter((path) => splitPath(path).attribute === 'aliases')
      .every((path) => sameJson(lookup(a, path), lookup(b, path)))
  );
}

/**
 * What a resource that appeared unseen is approved as: working, not in the set-up state its creation leaves it in, as
 * the detector approves an unplanned creation (core/effects.ts `workingState`).
 */
function approvedWorking(live: ResourceSnapshot): ResourceSnapshot {
  const working = workingState(live.kind, live.attributes);
  return approvable(working ? { ...live, attributes: { ...live.attributes, ...working } } : live);
}

/** True when the detector (or an accept) saved the resource's state at or after `readAt`. */
function savedSince({ state }: Stored, readAt: number): boolean {
  return !!state?.updatedAt && Date.parse(state.updatedAt) >= readAt;
}

function describe(error: unknown): string | undefined {
  if (error === undefined) return undefined;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
