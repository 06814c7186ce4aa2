/**
 * The live detector: one EventBridge event in, at most one finding out, alerted once.
 *
 * Normal path, two sequential round trips:
 *  1. in parallel: claim the event, load the stored state and baseline (and a finding saved by an earlier attempt),
 *     read the resource's live state, and (for keys) list the trails to learn which keys encrypt them;
 *  2. in parallel: publish the finding and save state, baseline, finding and "claim saved" in one transaction;
 * then the claim is marked done (after the alert is out, so a lost alert is sent again by the retry).
 * Extra round trips happen only when needed: a live read that does not show the event yet (read-after-write lag),
 * an UpdateAlias whose previous key only the stored alias names, a key's deletion (the aliases keydrift knows on it are
 * read, in parallel with any re-read), or a state saved concurrently by another event.
 *
 * Powertools Idempotency (`makeIdempotent`) is not used on purpose: it writes its INPROGRESS record before the
 * handler runs, which would add a third sequential round trip. The claim item does the same job inside phase 1.
 */

import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { SNSClient } from '@aws-sdk/client-sns';
import { ClaimLostError, KeyUnreadableError, PublishError, RetryableError, StaleStateError } from '../adapters/errors';
import { createKmsReader } from '../adapters/kms-reader';
import {
  createFindingPublisher,
  LAST_RESORT_WARNING,
  OPS_WARNING,
  opsCommand,
  type PublishReport,
} from '../adapters/publisher';
import {
  createStateStore,
  type LoadResult,
  MAX_SAVED_RESOURCES,
  type SnapshotWrite,
  type StoredSnapshot,
} from '../adapters/state-store';
import { createTrailReader } from '../adapters/trail-reader';
import { alertableStoredFinding } from '../alerts/kept-commands';
import { parseArn, resourceKindOf } from '../core/arn';
import { matchingIgnoreRule } from '../core/config';
import { Detector } from '../core/detector';
import { type Effect, effectOf } from '../core/effects';
import { RecordError } from '../core/errors';
import { markUndone, pathsNotYetVisible, settleRelated, settleWithLive, settleWithoutLive } from '../core/live';
import { MemoryStore } from '../core/memory-store';
import { MAX_RECORD_DEPTH, normalizeRecord, withNestingClipped } from '../core/normalize';
import { ownerElsewhere } from '../core/owner';
import { stableJson } from '../core/policy';
import { storeOfUnavailableKey, withHiddenRotationKept, withStoreDisconnection } from '../core/reconcile';
import { isGrantEntry, lookup, splitPath, withoutStagedMadeCurrent } from '../core/state';
import type { ChangeEvent, Finding, ResourceKind, ResourceSnapshot } from '../core/types';
import type { DetectorEnvironment } from '../shared/environment';
import { recordFinding } from '../shared/finding-telemetry';
import { DetectorEventSchema, describeIssues } from './detector-event';

export interface DetectorSettings extends DetectorEnvironment {
  /**
   * The topic under the AWS managed key for SNS, which no one can disable: where an event on one of keydrift's own keys
   * that cannot be processed is reported when the ops topic refuses it too (both keys disabled).
   */
  lastResortTopicArn: string;
  /** Re-reads when the live state does not show the event yet (default 3). */
  lagRetries?: number;
  /** Wait before each re-read (default 500 ms). */
  lagDelayMs?: number;
  /** How long a claim holds when the Lambda context does not say how long the invocation may run (35 s). */
  claimLeaseMs?: number;
  /** Saves tried when another event on the same resource was saved in between (default 3). */
  saveAttempts?: number;
}

export interface DetectorDeps {
  kms: KMSClient;
  dynamodb: DynamoDBClient;
  sns: SNSClient;
  eventBridge: EventBridgeClient;
  cloudtrail: CloudTrailClient;
  settings: DetectorSettings;
  logger: Logger;
  metrics: Metrics;
  /** Waits between live re-reads (tests pass a fake). */
  sleep?: (ms: number) => Promise<void>;
  /** The clock for stored timestamps and claim leases (epoch ms). */
  now?: () => number;
}

export interface DetectorResult {
  finding?: Finding;
  /** The event was already judged (or is being judged right now) by another invocation. */
  duplicate?: boolean;
}

/** The part of the Lambda context the detector uses. */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

export type DetectorHandler = (event: unknown, context?: InvocationContext) => Promise<DetectorResult>;

/** The resource an event names, worked out before anything is loaded. */
interface Target {
  kind: ResourceKind;
  resource: string;
  related: string[];
}

/** The live read the core judges an event by. */
interface LiveRead {
  read: ResourceSnapshot | undefined;
  /** Taken as the truth over the event (`World.settledRead`): the re-reads ran out, or a later change was judged. */
  settled: boolean;
}

interface Judgement {
  finding: Finding;
  states: SnapshotWrite[];
  baselines: SnapshotWrite[];
}

/** Where one attempt got to: the claim is released on failure only once it is ours. */
interface Progress {
  claimed: boolean;
  eventId?: string;
  /**
   * Set for an event on one of keydrift's own keys (`main` or `ops`) until its alert is out: a failure then warns the
   * ops topic, or the last-resort topic should ops refuse.
   */
  selfKeyEvent?: { event: ChangeEvent; key: 'main' | 'ops' };
  /** Alert targets the event reached, in this attempt or an earlier one: kept with a released claim, not sent again. */
  delivered: string[];
}

const LEASE_MARGIN_MS = 5_000;
/**
 * The topics with people behind them, each subscribed like the last-resort topic (alertEmails, Slack, the pager): one
 * that took the finding leaves nothing for the last-resort topic to tell.
 */
const AUDIENCE_TOPICS: readonly string[] = ['chat', 'email', 'page', 'ops'];

/**
 * Creates the detector handler from clients and settings.
 *
 * @example
 * export const handler = createDetector({ kms, dynamodb, sns, eventBridge, cloudtrail, settings, logger, metrics });
 */
export function createDetector(deps: DetectorDeps): DetectorHandler {
  const { settings, logger, metrics } = deps;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = deps.now ?? Date.now;
  const lagRetries = settings.lagRetries ?? 3;
  const lagDelayMs = settings.lagDelayMs ?? 500;
  const saveAttempts = settings.saveAttempts ?? 3;
  const kmsReader = createKmsReader({ client: deps.kms });
  const trailReader = createTrailReader({ client: deps.cloudtrail });
  const store = createStateStore({ client: deps.dynamodb, tableName: settings.tableName, now, sleep });
  const publisher = createFindingPublisher(deps, settings);

  const count = (name: string, value = 1) => metrics.addMetric(name, MetricUnit.Count, value);

  /** Rejects what is not a watched change; `undefined` means "log, count and stop" (never worth a retry). */
  function parse(raw: unknown): ChangeEvent | undefined {
    const validated = DetectorEventSchema.safeParse(raw);
    if (!validated.success) {
      logger.error('Invalid event: not a KMS or CloudTrail change event', { issues: describeIssues(validated.error) });
      count('InvalidEvents');
      return undefined;
    }
    try {
      // What is nested deeper than any CloudTrail record (a value thousands of levels deep in a request) would overflow
      // the stack where the core compares values, failing the event for good: it is marked, and the call still judged.
      return normalizeRecord(withNestingClipped(raw, MAX_RECORD_DEPTH));
    } catch (error) {
      if (!(error instanceof RecordError)) throw error;
      logger.error('Invalid event: the record cannot be read', { error: error.message, id: validated.data.id });
      count('InvalidEvents');
      return undefined;
    }
  }

  function targetOf(event: ChangeEvent): Target | undefined {
    try {
      const effect = effectOf(event, new MemoryStore());
      return { kind: effect.kind, resource: effect.resource, related: effect.related.map((r) => r.resource) };
    } catch (error) {
      if (event.errorCode) {
        // A denied call may name too little for its effect, or carry what KMS refused (a policy that is no JSON, or
        // nested past what can be read): the core still reports the attempt on what it aimed at. Anything but a
        // record too thin is said, should it be a fault of keydrift's own.
        if (!(error instanceof RecordError)) {
          logger.warn("A denied call's request could not be read; it is reported as an attempt", {
            eventId: event.eventId,
            error: describe(error),
          });
        }
        const { resource } = new Detector(settings.config, new MemoryStore()).observe(event);
        return { kind: resourceKindOf(resource), resource, related: [] };
      }
      if (!(error instanceof RecordError)) throw error;
      logger.error('Invalid event: it names no resource', { error: error.message, eventId: event.eventId });
      count('InvalidEvents');
      return undefined;
    }
  }

  /** The live state, or `undefined` when it cannot be known (no reader for the kind, or KMS refused us). */
  async function readLive(target: Target, eventId: string): Promise<ResourceSnapshot | undefined> {
    try {
      switch (target.kind) {
        case 'key':
          return target.resource.endsWith('/*') ? undefined : await kmsReader.readKey(target.resource);
        case 'alias':
          return await kmsReader.readAlias(target.resource);
        case 'trail':
          return await trailReader.readTrail(target.resource);
        default:
          return undefined;
      }
    } catch (error) {
      if (error instanceof RetryableError) throw error;
      // A policy that locks keydrift out must still be reported: judge from the event alone.
      logger.warn('Live state could not be read; judging from the event alone', {
        eventId,
        resource: target.resource,
        error: describe(error),
      });
      // A key whose policy keeps keydrift out fails the same way on every event: counted apart from real failures.
      count(error instanceof KeyUnreadableError ? 'UnreadableKeys' : 'LiveReadFailures');
      return undefined;
    }
  }

  async function readTrails(target: Target, eventId: string): Promise<ResourceSnapshot[]> {
    if (target.kind !== 'key') return [];
    try {
      return await trailReader.readTrails({ details: false });
    } catch (error) {
      if (error instanceof RetryableError) throw error;
      logger.warn('Trails could not be listed; trail keys come from configuration only', {
        eventId,
        error: describe(error),
      });
      count('TrailReadFailures');
      return [];
    }
  }

  /**
   * A memory store holding what was loaded (copies: the core changes snapshots in place), the live trails and the
   * resource's live read (and those of a deleted key's aliases, `relatedReads`). The resource's key material stored as
   * staged is not, once its live read names it current (`withoutStagedMadeCurrent`).
   */
  function seed(
    loaded: LoadResult,
    trails: ResourceSnapshot[],
    touched: Set<string>,
    live: ResourceSnapshot | undefined,
    relatedReads: ResourceSnapshot[] = [],
    settled = false,
  ): MemoryStore {
    const memory = new MemoryStore(settings.config.trailKeys);
    for (const trail of trails) if (!touched.has(trail.arn)) memory.putState(trail);
    for (const stored of loaded.states.values())
      memory.putState(withoutStagedMadeCurrent(structuredClone(stored.snapshot), live));
    for (const stored of loaded.baselines.values()) memory.putBaseline(structuredClone(stored.snapshot));
    if (live) memory.putLiveRead(live, { settled });
    for (const read of relatedReads) memory.putLiveRead(read);
    return memory;
  }

  /**
   * A stored state written after the event happened was read live after it, so it may already show this event's
   * change (events are delivered concurrently and out of order). Its values for the paths the event sets are not
   * "before" values: they are dropped, and the core falls back to what the event implies or to unknown. Not for a
   * key's deletion whose key is stored Deleted already: nothing comes after a deletion, so that state is this same
   * deletion, recorded by its other event (DeleteKey and KMS CMK Deletion record one) or by a reconcile run.
   */
  function withoutLaterValues(event: ChangeEvent, effect: Effect, loaded: LoadResult): LoadResult {
    const stored = loaded.states.get(effect.resource);
    if (!stored || !savedAfter(event, stored)) return loaded;
    if (effect.set.key_state === 'Deleted' && stored.snapshot.attributes.key_state === 'Deleted') return loaded;
    const paths = Object.keys(effect.set).filter((path) => path in stored.snapshot.attributes);
    const maps = new Set(Object.keys(effect.set).map((path) => splitPath(path).attribute));
    if (paths.length === 0 && !stored.snapshot.completeMaps.some((m) => maps.has(m))) return loaded;
    const snapshot = structuredClone(stored.snapshot);
    for (const path of paths) delete snapshot.attributes[path];
    // An entry missing from a complete map reads as "known absent"; the map is no longer complete.
    snapshot.completeMaps = snapshot.completeMaps.filter((m) => !maps.has(m));
    logger.info('Stored state is newer than the event; its values for the changed paths are not used', {
      eventId: event.eventId,
      resource: effect.resource,
      storedAt: stored.updatedAt,
      paths: Object.keys(effect.set),
    });
    return { ...loaded, states: new Map([...loaded.states, [effect.resource, { ...stored, snapshot }]]) };
  }

  /**
   * The state the core judges against: the stored values of the paths the event sets (the "before"), and the live
   * read for everything else, so that summaries name a key by the aliases it has now, even on a first event.
   * Attributes and maps the event touches are left exactly as stored.
   */
  function withLiveContext(
    stored: ResourceSnapshot | undefined,
    live: ResourceSnapshot,
    effect: Effect,
  ): ResourceSnapshot {
    const touched = new Set(Object.keys(effect.set).map((path) => splitPath(path).attribute));
    const attributes: Record<string, unknown> = {};
    for (const [path, value] of Object.entries(stored?.attributes ?? {})) {
      if (touched.has(splitPath(path).attribute) || !(path in live.attributes || liveKnowsGroup(live, path))) {
        attributes[path] = value;
      }
    }
    for (const [path, value] of Object.entries(live.attributes)) {
      if (!touched.has(splitPath(path).attribute)) attributes[path] = value;
    }
    const completeMaps = new Set([
      ...(stored?.completeMaps ?? []).filter((m) => touched.has(m) || !live.completeMaps.includes(m)),
      ...live.completeMaps.filter((m) => !touched.has(m)),
    ]);
    return {
      ...(stored ?? { kind: live.kind, arn: live.arn }),
      attributes,
      completeMaps: [...completeMaps],
    };
  }

  function effectFor(event: ChangeEvent, memory: MemoryStore, target: Target): Effect {
    try {
      return effectOf(event, memory);
    } catch (error) {
      // A denied call's attempt is reported whatever it carried (see targetOf).
      if (!event.errorCode) throw error;
      return { kind: target.kind, resource: target.resource, set: {}, implied: {}, related: [], notes: {} };
    }
  }

  /** Runs the core on one event: the finding, and the states and baselines that changed. */
  function judge(
    event: ChangeEvent,
    target: Target,
    loaded: LoadResult,
    { read: live, settled }: LiveRead,
    trails: ResourceSnapshot[],
    relatedReads: ResourceSnapshot[],
  ): Judgement {
    const touched = new Set([target.resource, ...target.related]);
    const effect = effectFor(event, seed(loaded, trails, touched, live, relatedReads, settled), target);
    const memory = seed(withoutLaterValues(event, effect, loaded), trails, touched, live, relatedReads, settled);
    if (live && live.arn === effect.resource) memory.putState(withLiveContext(memory.snapshot(live.arn), live, effect));
    const finding = new Detector(settings.config, memory).observe(event);
    const stored = loaded.states.get(effect.resource);
    if (!live || live.arn !== effect.resource) settleWithoutLive(memory, event, effect, stored?.snapshot);
    settleRelated(memory, event, effect, (arn) => loaded.states.get(arn)?.snapshot);
    if (live && live.arn === effect.resource && stored && savedAfter(event, stored)) {
      // A later change was judged first: what the live state shows back at the baseline, it undid.
      markUndone(finding, effect, live, memory.baseline(effect.resource));
    }
    if (live && live.arn === effect.resource) {
      // A failed call changed nothing, nor left anything unknown: the live state is simply the state, and adopts
      // unknown baseline paths, dated by now (the read is over): a change made before it whose event comes later is
      // not judged against that read.
      const readAt = new Date(now()).toISOString();
      const settled = event.errorCode ? { ...effect, set: {}, forgets: [] } : effect;
      settleWithLive(memory, settled, live, stored?.snapshot, readAt);
    }
    // This Region's resources only: the replica a ReplicateKey makes in another Region is that Region's to watch (it
    // has its own CreateKey record there), and this Region's table would hold it unbaselined for good.
    const inThisRegion = (arn: string) => parseArn(arn)?.region === event.region;
    const related = effect.related.map((r) => r.resource).filter(inThisRegion);
    // One save is one DynamoDB transaction (100 actions): a key deleted with more aliases than it holds (KMS allows 50
    // a key) leaves the others on the key, as stored, for the next reconcile run, which records them gone with it
    // (the deletion's other event finds the key stored Deleted, without them). Saving them all would fail the event on
    // every attempt.
    const arns = [effect.resource, ...related].slice(0, MAX_SAVED_RESOURCES);
    if (related.length >= MAX_SAVED_RESOURCES) {
      logger.warn('More resources changed than one save holds; the others are left to the next reconcile run', {
        eventId: event.eventId,
        resource: effect.resource,
        left: related.slice(MAX_SAVED_RESOURCES - 1),
      });
    }
    // The end of a grant, judged by a read of its key, is saved even when the state stays the same: that save tells its
    // CreateGrant, delivered after it, that the read showing the grant gone is not lagging (`savedAfter`). Not any call
    // that changed nothing: an older event delivered after it would take a read still lagging for the truth.
    const endsGrant =
      !event.errorCode &&
      live?.arn === effect.resource &&
      Object.entries(effect.set).some(([path, value]) => value === null && isGrantEntry(path));
    return {
      finding,
      states: changedWrites(arns, (arn) => memory.snapshot(arn), loaded.states, endsGrant ? [effect.resource] : []),
      baselines: changedWrites(arns, (arn) => memory.baseline(arn), loaded.baselines),
    };
  }

  /**
   * A key's deletion: what KMS shows of the aliases keydrift knows on it (`effect.related`), in parallel. One moved to
   * another key before the deletion, its UpdateAlias not judged yet (delivered late), did not go with it; the others
   * read gone. Unreadable ones are judged from what keydrift stored. Nothing for any other event.
   */
  async function aliasesOfDeletedKey(event: ChangeEvent, effect: Effect): Promise<ResourceSnapshot[]> {
    if (event.errorCode || effect.kind !== 'key' || effect.set.key_state !== 'Deleted') return [];
    const aliases = effect.related.filter((related) => related.kind === 'alias');
    const reads = await Promise.all(
      aliases.map((alias) => readLive({ kind: 'alias', resource: alias.resource, related: [] }, event.eventId)),
    );
    return reads.filter((read): read is ResourceSnapshot => !!read);
  }

  /**
   * The custom key store of a key read `Unavailable`, as keydrift stored it (its state, else its baseline): one more
   * read of the table, only for such a key. `undefined` for any other resource, or a store keydrift has no record of.
   */
  async function keyStoreOf(live: ResourceSnapshot | undefined): Promise<ResourceSnapshot | undefined> {
    const arn = live && storeOfUnavailableKey(live);
    if (!arn) return undefined;
    const loaded = await store.load([arn]);
    return (loaded.states.get(arn) ?? loaded.baselines.get(arn))?.snapshot;
  }

  /**
   * Re-reads while the live state does not show what the event set (KMS reads are eventually consistent). If it
   * never does, the last read is settled: the core judges the event by it (`World.settledRead`), and takes the event
   * as the truth for the paths it still sets that the read does not show: a later change would have its own event.
   * `keyStore`: the key's custom key store as stored; while it is disconnected, no read shows the key's own state.
   */
  async function settledLive(
    event: ChangeEvent,
    target: Target,
    effect: Effect,
    first: ResourceSnapshot | undefined,
    loaded: LoadResult,
    trails: ResourceSnapshot[],
    keyStore?: ResourceSnapshot,
  ): Promise<LiveRead> {
    // What a read cannot show (a key's own state, which its store's disconnection hides; its rotation, while it is
    // pending deletion) is as stored: drift reported before stays known. A key state this event set is as it set it: the
    // stored one would read as a read lagging behind the event (re-read for nothing, then overruled by the event).
    // (Not when a later change was saved already: the stored state is then the newer truth.)
    const known = first && loaded.states.get(first.arn);
    const setsKeyState =
      !event.errorCode &&
      first?.arn === effect.resource &&
      'key_state' in effect.set &&
      !!known &&
      !savedAfter(event, known);
    const previous =
      known && setsKeyState
        ? { ...known.snapshot, attributes: { ...known.snapshot.attributes, key_state: effect.set.key_state } }
        : known?.snapshot;
    const asKnown = (read: ResourceSnapshot) =>
      withHiddenRotationKept(withStoreDisconnection(read, keyStore, previous), previous);
    first = first && asKnown(first);
    if (!first || event.errorCode || first.arn !== effect.resource) return { read: first, settled: false };
    const touched = new Set([target.resource, ...target.related]);
    const judgedBy = (read: ResourceSnapshot, settled: boolean) =>
      effectFor(event, seed(loaded, trails, touched, read, [], settled), target);
    /** The event's effect when the core, taking `read` as the truth over the event, judges it otherwise; else none. */
    const settlingOtherwise = (read: ResourceSnapshot): Effect | undefined => {
      const settled = judgedBy(read, true);
      return stableJson(settled) === stableJson(judgedBy(read, false)) ? undefined : settled;
    };
    // A state saved after this event happened means a later change was already judged: the live state that differs
    // from this event is that later change, not lag, and stays the truth. Unless the core, taking it so, judges the
    // event otherwise (a material's deletion read as that of staged material): that read may lag, and is read again.
    const stored = loaded.states.get(effect.resource);
    const laterSaved = !!stored && savedAfter(event, stored);
    if (laterSaved && !settlingOtherwise(first)) return { read: first, settled: true };
    let live = first;
    let lagging = pathsNotYetVisible(effect, live);
    for (let attempt = 1; lagging.length > 0 && attempt <= lagRetries; attempt++) {
      logger.info('Live state does not show the event yet; reading again', {
        eventId: event.eventId,
        resource: target.resource,
        paths: lagging,
        attempt,
      });
      count('ReadAfterWriteRetries');
      await sleep(lagDelayMs);
      const again = await readLive(target, event.eventId);
      live = again ? asKnown(again) : live;
      lagging = pathsNotYetVisible(effect, live);
    }
    if (lagging.length === 0) return { read: live, settled: false };
    // The re-reads ran out: the core judges the event by the last read. What the event then still sets that the read
    // does not show is taken from the event, but after a later change was judged: the read shows that change. Only
    // when taking the read as the truth changes the judgement: any other event is judged as its first read showed it
    // (a lagging read of an expiry shows the material in use, which a re-import then hides).
    const byLastRead = settlingOtherwise(live) ?? effect;
    lagging = laterSaved ? [] : pathsNotYetVisible(byLastRead, live);
    if (lagging.length === 0) return { read: live, settled: true };
    logger.warn('Live state still differs from the event; taking the event for those paths', {
      eventId: event.eventId,
      resource: target.resource,
      paths: lagging,
    });
    count('ReadAfterWriteLag');
    // Only the paths the event set: a key still read as gone after an event that did not delete it was deleted since
    // (an event redriven from the dead-letter queue long after), and stays so.
    const attributes = { ...live.attributes };
    for (const path of lagging) if (path in byLastRead.set) attributes[path] = byLastRead.set[path];
    return { read: { ...live, attributes }, settled: true };
  }

  async function saveJudgement(
    event: ChangeEvent,
    target: Target,
    published: Finding,
    first: Judgement,
    rejudge: () => Promise<Judgement>,
    ignoredBy: string | undefined,
  ): Promise<void> {
    let judgement = first;
    for (let attempt = 1; ; attempt++) {
      try {
        await store.save({
          eventId: event.eventId,
          // The finding kept is the one alerted, even when the state is judged again below.
          finding: published,
          states: judgement.states,
          baselines: judgement.baselines,
          ignoredBy,
        });
        return;
      } catch (error) {
        if (!(error instanceof StaleStateError) || attempt >= saveAttempts) throw error;
        logger.info('State changed since it was loaded; judging again on the fresh state', {
          eventId: event.eventId,
          resource: target.resource,
          items: error.items,
        });
        count('StaleStateRetries');
        judgement = await rejudge();
      }
    }
  }

  /**
   * Publishes (to the targets no earlier attempt reached) and saves in parallel, then marks the claim done. A failed
   * delivery or save fails the invocation, and the claim is then released with the targets reached so far (by the
   * caller), so that Lambda's retry sends to the others instead of finding the event done, or alerting twice; should
   * the release fail, or the invocation die mid-publish, the saved claim's lease runs out and the retry takes over.
   */
  async function deliver(
    event: ChangeEvent,
    finding: Finding,
    save: () => Promise<void>,
    ignoredBy: string | undefined,
    progress: Progress,
  ): Promise<PublishReport | undefined> {
    const [published, saved] = await Promise.allSettled([
      // Ignored, it goes nowhere but for the pager's resolves (an incident keydrift opened must not stay open).
      publisher.publish(finding, { skip: progress.delivered, ignored: ignoredBy !== undefined }),
      save(),
    ]);
    const reached =
      published.status === 'fulfilled'
        ? (published.value?.delivered ?? [])
        : published.reason instanceof PublishError
          ? published.reason.delivered
          : [];
    progress.delivered.push(...reached);
    if (published.status === 'rejected') {
      count('AlertPublishFailures');
      throw published.reason;
    }
    if (saved.status === 'rejected') {
      if (saved.reason instanceof ClaimLostError) {
        logger.warn('Another invocation took this event over; it will save the state', {
          eventId: event.eventId,
          error: saved.reason.message,
        });
        return published.value;
      }
      throw saved.reason;
    }
    await completeQuietly(event.eventId);
    return published.value;
  }

  /** The alert is out: failing now would only make the retry alert twice. */
  async function completeQuietly(eventId: string): Promise<void> {
    try {
      await store.complete(eventId);
    } catch (error) {
      count('ClaimCompletionFailures');
      logger.warn('Alert sent, but its claim could not be marked done; a later copy of the event may alert again', {
        eventId,
        error: describe(error),
      });
    }
  }

  /**
   * keydrift's table, queues and topics use its own key: when that key is disabled or locked, the store fails before
   * anything is judged, and the retries and dead-letter queue may fail the same way. The ops topic does not depend
   * on the key, so the change, judged from the event alone, goes there before the invocation fails; should the ops
   * topic refuse it too (its key disabled as well: an attacker disabling both keys back to back), it goes to the
   * last-resort topic, under the AWS managed key for SNS, which no one can disable. The same for an event on the ops
   * key. Only a finding that would alert does: one matched by an ignore rule (but for the page of one that closes an
   * incident), or under alertMinSeverity (DynamoDB's routine grants on the key: the publisher sends none such to ops),
   * reaches no topic when it is processed, so its failure is left to the retries and the dead-letter queue.
   *
   * `lastResort` false: the finding reached an audience topic already (chat, e-mail or page took it while ops failed),
   * whose subscribers the last-resort topic has too; ops is tried again, but no one is told twice.
   *
   * @returns the warning to keep among the targets reached, or `undefined` when none went out
   */
  async function warnOps(event: ChangeEvent, { lastResort }: { lastResort: boolean }): Promise<string | undefined> {
    let finding: Finding;
    try {
      finding = new Detector(settings.config, new MemoryStore(settings.config.trailKeys)).observe(event);
      if (matchingIgnoreRule(settings.config, finding)) return undefined;
    } catch (error) {
      logger.error('Could not judge the event alone to warn the ops topic', {
        eventId: event.eventId,
        error: describe(error),
      });
      return undefined;
    }
    try {
      if (!(await publisher.publishToOps(finding))) return undefined;
      count('OpsFallbackAlerts');
      logger.warn("Event on keydrift's own key could not be processed; sent to the ops topic from the event alone", {
        eventId: event.eventId,
        severity: finding.severity,
      });
      return OPS_WARNING;
    } catch (error) {
      logger.error('Could not warn the ops topic either; trying the last-resort topic', {
        eventId: event.eventId,
        error: describe(error),
      });
    }
    if (!lastResort) return undefined;
    try {
      await deps.sns.send(opsCommand(settings.lastResortTopicArn, finding));
      count('LastResortAlerts');
      logger.warn(
        "Event on keydrift's own key could not be processed and the ops topic refused it; sent to the last-resort topic",
        { eventId: event.eventId, severity: finding.severity },
      );
      return LAST_RESORT_WARNING;
    } catch (error) {
      logger.error('Could not warn the last-resort topic either', { eventId: event.eventId, error: describe(error) });
      return undefined;
    }
  }

  /**
   * Whether someone already heard of an event on one of keydrift's own keys, in this attempt or an earlier one: a
   * warning, or the topic its finding goes to under the other key (ops for the main key; chat, email or page for the
   * ops key). The failure may then be another target's: no warning is sent.
   */
  function alreadyHeard({ key }: { key: 'main' | 'ops' }, delivered: readonly string[]): boolean {
    const underOtherKey = key === 'main' ? ['ops'] : ['chat', 'email', 'page'];
    return [OPS_WARNING, LAST_RESORT_WARNING, ...underOtherKey].some((target) => delivered.includes(target));
  }

  async function releaseQuietly(eventId: string, delivered: readonly string[]): Promise<void> {
    try {
      await store.release(eventId, delivered);
    } catch (error) {
      // The claim's lease runs out on its own; the retry takes it over then.
      logger.warn('Could not release the claim', { eventId, error: describe(error) });
    }
  }

  async function handle(raw: unknown, context: InvocationContext | undefined, progress: Progress) {
    const event = parse(raw);
    if (!event) return {};
    progress.eventId = event.eventId;
    if (event.readOnly) {
      logger.info('Not a change: ignored', { eventId: event.eventId, event: event.eventName });
      count('IgnoredEvents');
      return {};
    }
    const target = targetOf(event);
    if (!target) return {};
    const owner = ownerElsewhere(event, target.resource);
    if (owner) {
      logger.info("Not this account's resource: judged in its owner's account", { eventId: event.eventId, owner });
      count('OtherAccountEvents');
      return {};
    }
    const named = [target.resource, ...target.related];
    if (named.includes(settings.selfKeyArn)) progress.selfKeyEvent = { event, key: 'main' };
    else if (named.includes(settings.opsKeyArn)) progress.selfKeyEvent = { event, key: 'ops' };

    const leaseMs = context ? context.getRemainingTimeInMillis() + LEASE_MARGIN_MS : settings.claimLeaseMs;
    const requested = new Set([target.resource, ...target.related]);
    const [claim, loadedResult, liveResult, trailsResult] = await Promise.allSettled([
      store.claimWithDelivered(event.eventId, { leaseMs }),
      store.load([...requested], {
        finding: { resource: target.resource, timestamp: event.time, eventId: event.eventId },
      }),
      readLive(target, event.eventId),
      readTrails(target, event.eventId),
    ]);
    if (claim.status === 'rejected') throw claim.reason;
    if (claim.value.outcome !== 'new') {
      logger.info('Duplicate event: already judged or being judged', {
        eventId: event.eventId,
        claim: claim.value.outcome,
      });
      count('DuplicateEvents');
      return { duplicate: true };
    }
    progress.claimed = true;
    // What earlier attempts delivered, as the claim found it: the load beside it may have read it before the last
    // attempt's release added what that one sent.
    progress.delivered.push(...claim.value.delivered);
    for (const result of [loadedResult, liveResult, trailsResult])
      if (result.status === 'rejected') throw result.reason;
    let loaded = (loadedResult as PromiseFulfilledResult<LoadResult>).value;
    const firstLive = (liveResult as PromiseFulfilledResult<ResourceSnapshot | undefined>).value;
    const trails = (trailsResult as PromiseFulfilledResult<ResourceSnapshot[]>).value;

    if (loaded.finding) {
      // An earlier attempt judged and saved this event but could not alert: send that finding again (unless an
      // ignore rule kept it from alerting: then only its page goes, when it closes an incident, and it is marked done).
      // Too large for a table item, it was kept shortened: what alerts read of it is made whole enough to read.
      const saved = loaded.finding;
      const { ignoredBy } = loaded;
      const report = await deliver(
        event,
        alertableStoredFinding(saved),
        () => store.save({ eventId: event.eventId, finding: saved, states: [], baselines: [], ignoredBy }),
        ignoredBy,
        progress,
      );
      if (!ignoredBy) recordFinding(logger, metrics, saved, report, { redelivered: true });
      return { finding: saved };
    }

    let effect = effectFor(event, seed(loaded, trails, requested, firstLive), target);
    // UpdateAlias: the key the alias left is known only from the stored alias, so it is loaded now.
    const missing = [effect.resource, ...effect.related.map((r) => r.resource)].filter((arn) => !requested.has(arn));
    // An alias's approved key, as keydrift stored it: pending deletion or deleted, it takes no alias, which the alias's
    // undo says. Only read: nothing of it is saved from this event. A denied call's finding has no undo: not read then.
    const approvedKey =
      effect.kind === 'alias' && !event.errorCode
        ? lookup(loaded.baselines.get(effect.resource)?.snapshot, 'target_key_id')
        : undefined;
    const readOnly =
      typeof approvedKey === 'string' && !requested.has(approvedKey) && !missing.includes(approvedKey)
        ? [approvedKey]
        : [];
    if (missing.length + readOnly.length > 0) {
      loaded = merge(loaded, await store.load([...missing, ...readOnly]));
      for (const arn of missing) requested.add(arn);
      if (missing.length > 0) effect = effectFor(event, seed(loaded, trails, requested, firstLive), target);
    }
    const fullTarget: Target = { ...target, related: [...requested].filter((arn) => arn !== target.resource) };
    // A key of a custom key store keydrift knows disconnected reads Unavailable: the store's doing, not the key's
    // state, which the stored state must not take (the store's reconnection would then read as the key's return).
    const keyStore = await keyStoreOf(firstLive);
    const [live, relatedReads] = await Promise.all([
      settledLive(event, fullTarget, effect, firstLive, loaded, trails, keyStore),
      aliasesOfDeletedKey(event, effect),
    ]);

    const judgement = judge(event, fullTarget, loaded, live, trails, relatedReads);
    const { finding } = judgement;
    const ignore = matchingIgnoreRule(settings.config, finding);
    const ignoredBy = ignore ? ignore.reason || 'an ignore rule' : undefined;
    // Another event on the resource was saved in between, maybe from a newer live read than this one: the live state
    // is read again with the fresh state, so that an older read never overwrites it.
    const rejudge = async () => {
      const [fresh, again] = await Promise.all([store.load([...requested]), readLive(fullTarget, event.eventId)]);
      const merged = merge(loaded, fresh);
      const newer = await settledLive(event, fullTarget, effect, again ?? live.read, merged, trails, keyStore);
      return judge(event, fullTarget, merged, newer, trails, relatedReads);
    };
    const report = await deliver(
      event,
      finding,
      () => saveJudgement(event, fullTarget, finding, judgement, rejudge, ignoredBy),
      ignoredBy,
      progress,
    );
    recordFinding(logger, metrics, finding, report, {}, ignoredBy);
    return { finding };
  }

  return async (raw, context) => {
    const started = performance.now();
    const progress: Progress = { claimed: false, delivered: [] };
    try {
      return await handle(raw, context, progress);
    } catch (error) {
      count('DetectorErrors');
      logger.error('Event could not be processed; it will be retried', {
        eventId: progress.eventId,
        error: describe(error),
        cause: describe((error as Error)?.cause),
      });
      // Only when no one heard of it already: the failure may be another target's. Before the release, so that the
      // claim keeps the warning, and the retry sends the finding to ops only should the main key's topics refuse it.
      const { selfKeyEvent } = progress;
      if (selfKeyEvent && !alreadyHeard(selfKeyEvent, progress.delivered)) {
        const reached = AUDIENCE_TOPICS.some((target) => progress.delivered.includes(target));
        const warning = await warnOps(selfKeyEvent.event, { lastResort: !reached });
        if (warning) progress.delivered.push(warning);
      }
      if (progress.claimed && progress.eventId && !(error instanceof ClaimLostError)) {
        await releaseQuietly(progress.eventId, progress.delivered);
      }
      throw error;
    } finally {
      metrics.addMetric('ProcessingTime', MetricUnit.Milliseconds, Math.round(performance.now() - started));
      metrics.publishStoredMetrics();
    }
  };
}

/** CloudTrail's eventTime has whole seconds: a state saved within the event's own second may be from before it. */
function savedAfter(event: ChangeEvent, stored: StoredSnapshot): boolean {
  return !!stored.updatedAt && Date.parse(stored.updatedAt) >= event.epochMs + 1000;
}

/** True when the live read knows the whole map `path` belongs to (so a stored entry it lacks is gone). */
function liveKnowsGroup(live: ResourceSnapshot, path: string): boolean {
  const { attribute, entry } = splitPath(path);
  return entry !== undefined && live.completeMaps.includes(attribute);
}

/**
 * Writes for the snapshots the core changed (and those of `always`, changed or not), each expecting the version it
 * was loaded at.
 */
function changedWrites(
  arns: string[],
  current: (arn: string) => ResourceSnapshot | undefined,
  loaded: Map<string, StoredSnapshot>,
  always: readonly string[] = [],
): SnapshotWrite[] {
  const writes: SnapshotWrite[] = [];
  for (const arn of new Set(arns)) {
    const snapshot = current(arn);
    const before = loaded.get(arn);
    const unchanged = before && stableJson(before.snapshot) === stableJson(snapshot);
    if (!snapshot || (unchanged && !always.includes(arn))) continue;
    writes.push({
      snapshot,
      expectedVersion: before ? before.version : null,
      ...(before?.acceptedBy ? { acceptedBy: before.acceptedBy } : {}),
      ...(before?.acceptedAt ? { acceptedAt: before.acceptedAt } : {}),
      ...(before?.acceptReason ? { acceptReason: before.acceptReason } : {}),
    });
  }
  return writes;
}

/** `fresh` wins for every resource it holds. */
function merge(base: LoadResult, fresh: LoadResult): LoadResult {
  return {
    states: new Map([...base.states, ...fresh.states]),
    baselines: new Map([...base.baselines, ...fresh.baselines]),
    finding: fresh.finding ?? base.finding,
  };
}

function describe(error: unknown): string | undefined {
  if (error === undefined) return undefined;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
