import { existsSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { aliasNameOf } from '../core/arn';
import { type DetectionConfig, matchingIgnoreRule } from '../core/config';
import { Detector } from '../core/detector';
import { MemoryStore } from '../core/memory-store';
import { missingCaller, normalizeRecord } from '../core/normalize';
import { stableJson } from '../core/policy';
import { type ChangeEvent, type Finding, SEVERITIES, type Severity } from '../core/types';
import { EndedGrants } from './ended-grants';
import {
  emptyResult,
  type FileResult,
  type ParseOptions,
  type ParseRequest,
  readInputFile,
  withoutPath,
} from './parse-file';
import { SeenIds } from './seen-ids';
import { readStandardInput } from './stdin';

export interface ReplayOptions {
  config: DetectionConfig;
  /** Standard input's bytes, read when a path is `-`. */
  stdin?: AsyncIterable<Buffer>;
  /** Called after each input is read. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Called with each finding as it is judged, in order; the result's `findings` is then empty, so a long replay holds
   * none of them.
   */
  onFinding?: (finding: Finding) => void;
  /** Worker threads for reading and parsing; by default one per core for large inputs, none for small. */
  workers?: number;
  /** Decompressed bytes past which one input is reported as too large to read (default: V8's longest string). */
  maxFileBytes?: number;
  /** Decompressed bytes from which a JSON Lines file is read as a stream (default: 64 MiB). */
  streamFromBytes?: number;
}

export interface ReplaySummary {
  inputs: number;
  /** CloudTrail log inputs read, with or without records (a digest, missing, unreadable or broken file is not one). */
  inputsRead: number;
  bytes: number;
  /** Records read, each eventID once (and so are `writes`, `reads` and `others`); `duplicates`: the copies left out. */
  records: number;
  writes: number;
  reads: number;
  others: number;
  duplicates: number;
  /** Writes to another account's resources, recorded in the caller's account: judged in the owner's account. */
  otherAccounts: number;
  ignored: number;
  findings: Record<Severity, number>;
  /** Inputs that could not be read, or were passed over, and why (`missing`: a named path that does not exist). */
  skipped: Array<{ source: string; reason: string; missing?: true }>;
  /** Records that could not be judged, each naming its file and record. */
  recordErrors: string[];
}

export interface ReplayResult {
  findings: Finding[];
  summary: ReplaySummary;
}

const LOG_FILE = /\.(json|jsonl|ndjson)(\.gz)?$/i;
/** Why a folder named is skipped when no file in it is read. */
const NO_LOG_FILES = 'no .json, .jsonl or .ndjson files (gzipped or not) in it';
/**
 * A worker holds one parsed log file at a time; a small young generation makes V8 collect each file's
 * garbage early, which keeps the process's peak memory well under 256 MiB on a million records.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 8 };
/** Below this many bytes of input, starting worker threads costs more than it saves. */
const WORKER_THRESHOLD_BYTES = 4 * 1024 * 1024;

interface InputList {
  files: Array<{ path: string; size: number }>;
  stdin: boolean;
  skipped: ReplaySummary['skipped'];
}

/**
 * Why a path that cannot be followed is missing: it does not exist, or it is a symlink whose target does not (`ls`
 * lists it, so "no such file" alone would send the user looking at the wrong name).
 */
function whyMissing(path: string): string {
  try {
    return `broken symlink to ${readlinkSync(path)} (no such file or folder)`;
  } catch {
    return 'no such file or folder';
  }
}

/**
 * Expands the given paths: folders recursively (log files only, in name order), files as given. Each folder
 * and file is taken once by its real path, so a path named twice or a symlink loop (`up -> ..`) reads nothing twice.
 * A folder named that holds no log file, at any depth, is skipped by name (a file or folder reached again counts as
 * one found: it was taken, or reported, where first reached).
 */
export function listInputs(paths: string[]): InputList {
  const list: InputList = { files: [], stdin: false, skipped: [] };
  const seen = new Set<string>();
  const firstVisit = (path: string): boolean => {
    let real: string;
    try {
      real = realpathSync(path);
    } catch {
      real = path;
    }
    if (seen.has(real)) return false;
    seen.add(real);
    return true;
  };
  /** Lists what is under `path`; returns how many log files it found there. */
  const walk = (path: string, named: boolean): number => {
    let stats: ReturnType<typeof statSync>;
    try {
      stats = statSync(path);
    } catch (error) {
      // Only a path named can be mistyped; one found in a folder (a broken symlink) leaves the replay complete.
      list.skipped.push(
        (error as NodeJS.ErrnoException).code === 'ENOENT'
          ? { source: path, reason: whyMissing(path), ...(named ? { missing: true as const } : {}) }
          : { source: path, reason: withoutPath((error as Error).message) },
      );
      return 0;
    }
    if (stats.isDirectory()) {
      if (!firstVisit(path)) return 1;
      let entries: string[];
      try {
        entries = readdirSync(path).sort();
      } catch (error) {
        // A folder this user may not list (EACCES) costs that folder only; reported, it counts as one found.
        list.skipped.push({ source: path, reason: `could not be listed (${withoutPath((error as Error).message)})` });
        return 1;
      }
      let found = 0;
      for (const entry of entries) found += walk(join(path, entry), false);
      // An empty folder named, or one of other files only, would otherwise end the run unnamed.
      if (named && found === 0) list.skipped.push({ source: path, reason: NO_LOG_FILES });
      return found;
    }
    // In a folder, a FIFO or device named like a log (`x.json -> /dev/zero`) would be read for ever; named, it is
    // what the user asked for (`keydrift replay <(zcat x.gz)`).
    if (!named && LOG_FILE.test(path) && !stats.isFile()) {
      list.skipped.push({ source: path, reason: 'not a regular file (a FIFO, socket or device)' });
      return 0;
    }
    if (named || LOG_FILE.test(path)) {
      if (firstVisit(path)) list.files.push({ path, size: stats.size });
      return 1;
    }
    list.skipped.push({ source: path, reason: 'not a .json, .jsonl or .ndjson file, gzipped or not' });
    return 0;
  };
  for (const path of paths) {
    if (path === '-') list.stdin = true;
    else walk(path, true);
  }
  return list;
}

/**
 * The CLI runs as an esbuild bundle with the worker bundled beside it; tests and tsx run the TypeScript,
 * where the worker needs tsx's loader.
 */
function startParseWorker(): Worker {
  const bundled = join(__dirname, 'parse-worker.cjs');
  if (__filename.endsWith('.cjs') && existsSync(bundled)) return new Worker(bundled, { resourceLimits: WORKER_LIMITS });
  const script = join(__dirname, 'parse-worker.ts');
  return new Worker(`require('tsx/cjs/api').register(); require(${JSON.stringify(script)});`, {
    eval: true,
    resourceLimits: WORKER_LIMITS,
  });
}

/**
 * Reads the files on worker threads (both cores), handing out one file at a time. A worker that dies on a
 * file (out of memory, say) costs that file only: it is reported and a fresh worker takes the rest.
 */
async function readOnWorkers(
  paths: string[],
  count: number,
  parse: ParseOptions,
  onResult: (result: FileResult<ArrayLike<number>>) => void,
): Promise<void> {
  let next = 0;
  const readSome = async (): Promise<void> => {
    const worker = startParseWorker();
    let current: string | undefined;
    let failure: Error | undefined;
    try {
      await new Promise<void>((resolve) => {
        const feed = () => {
          if (next >= paths.length) return resolve();
          current = paths[next++];
          worker.postMessage({ path: current, options: parse } satisfies ParseRequest);
        };
        worker.on('message', (result: FileResult<Uint32Array>) => {
          current = undefined;
          onResult(result);
          feed();
        });
        const fail = (error: Error) => {
          failure = error;
          resolve();
        };
        worker.on('error', fail);
        // A result this thread cannot copy in is dropped with this event alone: without it the file's result never
        // comes, and the run waits for ever.
        worker.on('messageerror', fail);
        feed();
      });
    } finally {
      await worker.terminate();
    }
    if (!failure) return;
    if (current === undefined) throw failure;
    onResult({ ...emptyResult(current, 0), fileError: `could not be read (${failure.message})` });
    if (next < paths.length) await readSome();
  };
  await Promise.all(Array.from({ length: Math.min(count, paths.length) }, readSome));
}

/** Same-second events: creations first, deletions last, so a key is not changed before it exists. */
function phase(eventName: string): number {
  if (eventName.startsWith('Create')) return 0;
  if (eventName.startsWith('Delete') || eventName === 'KMS CMK Deletion') return 2;
  return 1;
}

/**
 * The alias or trail a successful Create/Delete call names (`alias/payments in 111122223333 eu-west-1`), else
 * undefined. Names are an account's and Region's own: an organization trail holds the same alias name in many accounts.
 */
function recreatable(event: ChangeEvent): string | undefined {
  if (event.errorCode || !/^(Create|Delete)(Alias|Trail)$/.test(event.eventName)) return undefined;
  const { aliasName, name } = event.requestParameters;
  const where = `in ${event.account} ${event.region}`;
  // Alias names may hold slashes (`alias/team-a/db`); a trail may be named by its ARN.
  if (typeof aliasName === 'string') return `${aliasNameOf(aliasName)} ${where}`;
  if (typeof name === 'string') return `trail ${name.slice(name.lastIndexOf('/') + 1)} ${where}`;
  return undefined;
}

/**
 * Within one second, a deletion and a creation of the same alias or trail name can only have come in that order when
 * the name existed (it cannot be created twice): moves such a deletion before the creation {@link phase} put first. A
 * name never seen before is taken to exist, as a replay window mostly starts long after its aliases were made.
 */
function deleteBeforeRecreate(events: Located[]): void {
  const exists = new Map<string, boolean>();
  for (let i = 0; i < events.length; i++) {
    const name = recreatable(events[i].event);
    if (!name) continue;
    const creating = events[i].event.eventName.startsWith('Create');
    if (creating && (exists.get(name) ?? true)) {
      const second = events[i].event.epochMs;
      for (let j = i + 1; j < events.length && events[j].event.epochMs === second; j++) {
        const later = events[j].event;
        if (later.eventName.startsWith('Delete') && recreatable(later) === name) {
          events.splice(i, 0, ...events.splice(j, 1));
          break;
        }
      }
    }
    exists.set(name, events[i].event.eventName.startsWith('Create'));
  }
}

/**
 * Gives an event's caller, account, Region, client and resources the copy of each string already held: every record
 * brings its own copies, and a month of grant churn repeats the same few callers and keys hundreds of thousands of
 * times (a third of what the writes held until judged).
 */
function shareStrings(event: ChangeEvent, strings: Map<string, string>): void {
  const shared = (text: string): string => {
    const known = strings.get(text);
    if (known !== undefined) return known;
    strings.set(text, text);
    return text;
  };
  // Only the fields present: an absent one stays absent, not set to undefined.
  const share = <T extends object>(object: T, keys: Array<keyof T>) => {
    for (const key of keys) {
      const text = object[key];
      if (typeof text === 'string') object[key] = shared(text) as T[keyof T];
    }
  };
  share(event, ['account', 'region', 'sourceIp', 'userAgent']);
  share(event.actor, ['arn', 'name', 'type', 'issuerArn', 'invokedBy', 'sourceIdentity']);
  event.resourceArns = event.resourceArns.map(shared);
}

/** A write to judge and where it was read (`file: Records[i]`). */
interface Located {
  event: ChangeEvent;
  where: string;
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * eventTime order (see {@link phase}); records sharing an eventID by name, service and place, so which of them is
 * judged and which is the duplicate never depends on the order files are given or read in.
 */
function byTime(a: Located, b: Located): number {
  return (
    a.event.epochMs - b.event.epochMs ||
    phase(a.event.eventName) - phase(b.event.eventName) ||
    compare(a.event.eventId, b.event.eventId) ||
    compare(a.event.eventName, b.event.eventName) ||
    compare(a.event.service, b.event.service) ||
    compare(a.where, b.where)
  );
}

/**
 * How a record differs from the one kept with its eventID (a different call, not a second copy of it), or
 * `undefined` when it is a copy: the same eventName, eventSource, eventTime, account, Region, user, source identity,
 * errorCode, requestParameters and resources.
 */
function conflict(kept: ChangeEvent, copy: ChangeEvent): string | undefined {
  const sameSecond = kept.time === copy.time;
  const at = (e: ChangeEvent) => (sameSecond ? new Date(e.epochMs).toISOString() : e.time);
  const listed = (differences: Array<string | false>) => differences.filter((d) => d !== false).join('; ');
  const call = listed([
    kept.eventName !== copy.eventName && `eventName ${copy.eventName}, not ${kept.eventName}`,
    kept.service !== copy.service && `eventSource ${copy.service}.amazonaws.com, not ${kept.service}.amazonaws.com`,
    kept.epochMs !== copy.epochMs && `eventTime ${at(copy)}, not ${at(kept)}`,
    // An organization trail holds every account's records: a copy is the same account's and Region's.
    kept.account !== copy.account && `recipientAccountId ${copy.account}, not ${kept.account}`,
    kept.region !== copy.region && `awsRegion ${copy.region}, not ${kept.region}`,
  ]);
  // The same call at the same time can still be another one: a forged copy naming another trail or user, or (KMS
  // deleting a key, which has no caller or parameters) another key in resources[].
  const details = listed([
    kept.actor.arn !== copy.actor.arn && `user ${copy.actor.arn}, not ${kept.actor.arn}`,
    // The finding names the source identity as who was behind the session: a copy naming another (or none) is
    // another caller, not a second delivery (a session's source identity cannot change).
    kept.actor.sourceIdentity !== copy.actor.sourceIdentity &&
      `source identity ${copy.actor.sourceIdentity ?? 'none'}, not ${kept.actor.sourceIdentity ?? 'none'}`,
    kept.errorCode !== copy.errorCode && `errorCode ${copy.errorCode ?? 'none'}, not ${kept.errorCode ?? 'none'}`,
    stableJson(kept.requestParameters) !== stableJson(copy.requestParameters) && 'other requestParameters',
    otherResources(kept, copy) && 'other resources',
  ]);
  return call || details || undefined;
}

/**
 * Whether two records name different resources. A copy may name none where the other does: the detail of an
 * EventBridge event can leave out resources[], which the log file's record has.
 */
function otherResources(kept: ChangeEvent, copy: ChangeEvent): boolean {
  if (kept.resourceArns.length === 0 || copy.resourceArns.length === 0) return false;
  return stableJson([...kept.resourceArns].sort()) !== stableJson([...copy.resourceArns].sort());
}

/**
 * Replays CloudTrail logs offline: reads every input (in parallel for large inputs), keeps only KMS and
 * trail writes, judges them in eventTime order with each eventID once, and returns the findings.
 * Memory grows with the number of writes, and by 16 to 32 bytes a record (the fingerprints that count each
 * record once), beside the log files being read (each whole, one per worker).
 */
export async function replay(paths: string[], options: ReplayOptions): Promise<ReplayResult> {
  const inputs = listInputs(paths);
  const summary: ReplaySummary = {
    inputs: inputs.files.length + (inputs.stdin ? 1 : 0),
    inputsRead: 0,
    bytes: 0,
    records: 0,
    writes: 0,
    reads: 0,
    others: 0,
    duplicates: 0,
    otherAccounts: 0,
    ignored: 0,
    findings: Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>,
    skipped: [...inputs.skipped],
    recordErrors: [],
  };
  const events: Located[] = [];
  // Reads and other services' records by fingerprint (there are millions); writes by eventID, below.
  const seenIds = new SeenIds();
  const unjudged = new Set<string>();
  const strings = new Map<string, string>();
  let done = 0;
  const onResult = (result: FileResult<ArrayLike<number>>) => {
    const repeatedReads = seenIds.addAll(result.readIds);
    const repeatedOthers = seenIds.addAll(result.otherIds);
    summary.duplicates += repeatedReads + repeatedOthers;
    summary.bytes += result.bytes;
    summary.records += result.records - repeatedReads - repeatedOthers;
    summary.reads += result.reads - repeatedReads;
    summary.others += result.others - repeatedOthers;
    summary.writes += result.writes.length;
    if (!result.fileError && !result.skipped) summary.inputsRead++;
    const reason = result.fileError ?? result.skipped;
    if (reason) summary.skipped.push({ source: result.source, reason });
    // One by one: a file of many bad records has more errors than a call takes arguments.
    for (const error of result.recordErrors) summary.recordErrors.push(`${result.source}: ${error}`);
    for (const { raw, where } of result.writes) {
      const location = `${result.source}: ${where}`;
      try {
        const event = normalizeRecord(raw);
        shareStrings(event, strings);
        events.push({ event, where: location });
        // Judged all the same (a write is never lost), but said: its finding can name no one.
        const noCaller = missingCaller(raw);
        if (noCaller)
          summary.recordErrors.push(
            `${location}: ${event.eventName} ${event.eventId}: ${noCaller}; judged as made by an unknown user`,
          );
      } catch (error) {
        // A second copy of the same record (delivered twice) is a duplicate, as with the writes judged below, not a
        // second error; another record under the same eventID is its own error.
        const copy = JSON.stringify(raw);
        if (unjudged.has(copy)) {
          summary.duplicates++;
          summary.records--;
          summary.writes--;
          continue;
        }
        unjudged.add(copy);
        summary.recordErrors.push(`${location}: ${(error as Error).message}`);
      }
    }
    options.onProgress?.(++done, summary.inputs);
  };

  const parse: ParseOptions = { maxBytes: options.maxFileBytes, streamFrom: options.streamFromBytes };
  if (inputs.stdin) onResult(await readStandardInput(options.stdin ?? Readable.from([]), parse));
  const totalBytes = inputs.files.reduce((sum, f) => sum + f.size, 0);
  const workers = options.workers ?? (totalBytes >= WORKER_THRESHOLD_BYTES ? availableParallelism() : 0);
  const paths_ = inputs.files.map((f) => f.path);
  if (workers > 0 && paths_.length > 1) await readOnWorkers(paths_, workers, parse, onResult);
  else for (const path of paths_) onResult(await readInputFile(path, parse));
  // All is read: the lookups of the reading are let go (each event keeps its shared strings until judged).
  strings.clear();
  unjudged.clear();

  events.sort(byTime);
  deleteBeforeRecreate(events);
  // Only an eventID read more than once needs its first write kept past judging (to tell a copy from another call):
  // the others are let go as judged, so a month of grant churn is not held until the end.
  const ids = new Set<string>();
  const repeated = new Set<string>();
  for (const { event } of events) {
    if (ids.has(event.eventId)) repeated.add(event.eventId);
    else ids.add(event.eventId);
  }
  ids.clear();
  events.reverse();
  const store = new MemoryStore(options.config.trailKeys);
  const detector = new Detector(options.config, store);
  const endedGrants = new EndedGrants(store);
  // Writes by exact eventID: the first in the sorted order is judged, a later one is its duplicate.
  const kept = new Map<string, Located>();
  const findings: Finding[] = [];
  for (let located = events.pop(); located; located = events.pop()) {
    const { event, where } = located;
    const first = kept.get(event.eventId);
    if (first) {
      summary.duplicates++;
      summary.records--;
      summary.writes--;
      // The same eventID on another call (a reused or forged ID) must not hide it silently.
      const differs = conflict(first.event, event);
      if (differs)
        summary.recordErrors.push(
          `${where}: eventID ${event.eventId} already seen for ${first.event.eventName} at ${first.where}: ` +
            `this ${event.eventName} record is ignored (${differs})`,
        );
      continue;
    }
    if (repeated.has(event.eventId)) kept.set(event.eventId, located);
    try {
      endedGrants.restore(event);
      const finding = detector.observeOwn(event);
      if (finding) endedGrants.setAside(event, finding.resource);
      if (!finding) {
        summary.otherAccounts++;
        continue;
      }
      if (matchingIgnoreRule(options.config, finding)) {
        summary.ignored++;
        continue;
      }
      summary.findings[finding.severity]++;
      if (options.onFinding) options.onFinding(finding);
      else findings.push(finding);
    } catch (error) {
      summary.recordErrors.push(`${where}: ${event.eventName} ${event.eventId}: ${(error as Error).message}`);
    }
  }
  return { findings, summary };
}
