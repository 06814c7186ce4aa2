import { createHash } from 'node:crypto';
import { resolveActor } from './actor';
import { RecordError } from './errors';
import { parseAwsDate, toIsoSeconds } from './time';
import type { ChangeEvent, Service } from './types';
import { KMS_API_WRITES, KMS_NATIVE_EVENTS, KMS_SERVICE_EVENTS, TRAIL_WRITES } from './watched-events';

const WATCHED_SOURCES: Record<string, Service> = {
  'kms.amazonaws.com': 'kms',
  'cloudtrail.amazonaws.com': 'cloudtrail',
};
const KNOWN_WRITES = new Set<string>([...KMS_API_WRITES, ...KMS_SERVICE_EVENTS, ...TRAIL_WRITES]);
const NATIVE = new Set<string>(KMS_NATIVE_EVENTS);
const CLOUDTRAIL_DETAIL_TYPES = new Set(['AWS API Call via CloudTrail', 'AWS Service Event via CloudTrail']);
/** Calls that never change state, whatever their `readOnly` flag says (older records lack it). */
const READ_NAME =
  /^(Describe|Get|List|Lookup|Encrypt|Decrypt|ReEncrypt|GenerateDataKey|GenerateRandom|GenerateMac|VerifyMac|Sign|Verify|DeriveSharedSecret)/;

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => !!value && typeof value === 'object' && !Array.isArray(value);
const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** What a raw record is, judged cheaply (the replay's workers call this for every record). */
export type RecordKind = 'write' | 'read' | 'other';

/** Event categories that record traffic, never a change of configuration (CloudTrail network activity and data events). */
const NOT_MANAGEMENT_CATEGORIES = new Set(['NetworkActivity', 'Data']);

/**
 * Sorts a raw CloudTrail record or EventBridge event into a watched write (KMS or trail change, or a
 * native KMS event), a read-only KMS/CloudTrail call, or anything else: another service's record, or a
 * network-activity or data event (a call seen at a VPC endpoint, even one named `UpdateTrail`, is not a change).
 */
export function classifyRecord(raw: unknown): RecordKind {
  if (!isObject(raw)) return 'other';
  const detailType = raw['detail-type'];
  if (typeof detailType === 'string') {
    if (NATIVE.has(detailType) && raw.source === 'aws.kms') return 'write';
    // The detail is a CloudTrail record, not another event: events nested in events (a forged log, thousands deep)
    // are not unwrapped further, which overflowed the stack and lost the whole file.
    return CLOUDTRAIL_DETAIL_TYPES.has(detailType) ? classifyTrailRecord(raw.detail) : 'other';
  }
  return classifyTrailRecord(raw);
}

function classifyTrailRecord(raw: unknown): RecordKind {
  if (!isObject(raw)) return 'other';
  const source = raw.eventSource;
  if (typeof source !== 'string' || !(source in WATCHED_SOURCES)) return 'other';
  if (NOT_MANAGEMENT_CATEGORIES.has(String(raw.eventCategory)) || raw.eventType === 'AwsVpceEvent') return 'other';
  const name = typeof raw.eventName === 'string' ? raw.eventName : '';
  if (KNOWN_WRITES.has(name)) return 'write';
  if (raw.readOnly === true || READ_NAME.test(name)) return 'read';
  // A call that names no call may be any change: judged, so that normalizeRecord reports what it lacks.
  if (name === '') return 'write';
  // CloudTrail calls that change no trail's logging (CloudTrail Lake, channels, tags, Insights): the deployed rules do
  // not watch them either.
  if (source === 'cloudtrail.amazonaws.com') return 'other';
  // A write keydrift does not know yet (a new KMS API): still watched, so nothing passes silently.
  return raw.readOnly === false ? 'write' : 'read';
}

/** Turns a raw record (CloudTrail record, EventBridge envelope or native KMS event) into a ChangeEvent. */
export function normalizeRecord(raw: unknown, where?: string): ChangeEvent {
  if (!isObject(raw)) throw new RecordError('not a JSON object', where);
  const detailType = raw['detail-type'];
  if (typeof detailType === 'string') {
    if (NATIVE.has(detailType)) return fromNativeEvent(raw, detailType, where);
    if (!isObject(raw.detail)) throw new RecordError(`EventBridge event "${detailType}" has no detail`, where);
    const detail = raw.detail;
    return fromCloudTrailRecord({ ...detail, eventID: detail.eventID ?? raw.id }, where);
  }
  return fromCloudTrailRecord(raw, where);
}

/** The deepest a record may nest objects and arrays: CloudTrail's go about ten levels deep (advanced event selectors). */
export const MAX_RECORD_DEPTH = 100;

/** Whether a value nests objects and arrays deeper than `limit` levels, counted without recursion. */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  const pending: Array<{ value: unknown; depth: number }> = [{ value, depth: 1 }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    if (next.depth > limit) return true;
    for (const child of Object.values(next.value as object))
      if (child && typeof child === 'object') pending.push({ value: child, depth: next.depth + 1 });
  }
  return false;
}

/** What stands in for a value nested deeper than {@link withNestingClipped} keeps. */
export const NESTED_TOO_DEEP = '(nested too deep to read)';

/**
 * A copy of a JSON value whose objects and arrays nested deeper than `limit` levels are each replaced by
 * {@link NESTED_TOO_DEEP}, built without recursion: the core compares and copies values recursively, and a value
 * thousands of levels deep (JSON.parse takes it) would overflow the stack there.
 */
export function withNestingClipped(value: unknown, limit: number): unknown {
  if (!value || typeof value !== 'object') return value;
  const copy = (from: object): Json | unknown[] => (Array.isArray(from) ? [...from] : { ...from });
  const top = copy(value);
  const pending: Array<{ holder: Json | unknown[]; depth: number }> = [{ holder: top, depth: 1 }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const holder = next.holder as Json;
    for (const [key, child] of Object.entries(holder)) {
      if (!child || typeof child !== 'object') continue;
      if (next.depth >= limit) {
        holder[key] = NESTED_TOO_DEEP;
        continue;
      }
      const inner = copy(child);
      holder[key] = inner;
      pending.push({ holder: inner, depth: next.depth + 1 });
    }
  }
  return top;
}

/** What a JSON value is, for messages: `a number`, `an array`, `null`... */
export function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * Why a CloudTrail record names no caller (its `userIdentity` is missing or no object), if so: such a write is still
 * judged, as made by an unknown user, and the replay says so. Service events and KMS's native events name the service.
 */
export function missingCaller(raw: unknown): string | undefined {
  if (!isObject(raw)) return undefined;
  const detailType = raw['detail-type'];
  const record = typeof detailType === 'string' ? (NATIVE.has(detailType) ? undefined : raw.detail) : raw;
  if (!isObject(record) || isObject(record.userIdentity) || record.eventType === 'AwsServiceEvent') return undefined;
  const identity = record.userIdentity;
  return identity === undefined || identity === null
    ? 'no userIdentity'
    : `userIdentity is ${jsonType(identity)}, not an object`;
}

function fromCloudTrailRecord(record: Json, where?: string): ChangeEvent {
  const eventName = text(record.eventName);
  if (!eventName) {
    const name = record.eventName;
    const missing = name === undefined || name === null || name === '';
    throw new RecordError(missing ? 'record has no eventName' : `eventName is ${jsonType(name)}, not a string`, where);
  }
  const service = WATCHED_SOURCES[String(record.eventSource)];
  if (!service) throw new RecordError(`eventSource "${String(record.eventSource)}" is not KMS or CloudTrail`, where);
  const epochMs = recordTime(record.eventTime);
  if (epochMs === undefined) {
    const time = record.eventTime;
    throw new RecordError(
      time === undefined
        ? `${eventName} has no eventTime`
        : `${eventName} has no valid eventTime (${JSON.stringify(time)})`,
      where,
    );
  }
  const identity = isObject(record.userIdentity) ? record.userIdentity : undefined;
  const resources = Array.isArray(record.resources) ? record.resources.filter(isObject) : [];
  const region = text(record.awsRegion) ?? 'unknown';
  const account =
    text(record.recipientAccountId) ?? text(identity?.accountId) ?? text(resources[0]?.accountId) ?? 'unknown';
  // Service events, and calls a service made itself (no identity type or ARN, only `invokedBy`, e.g. KMS's
  // SynchronizeMultiRegionKey), are named by the service that wrote the record where nothing is more precise.
  const isServiceEvent =
    record.eventType === 'AwsServiceEvent' ||
    (!!identity && !text(identity.type) && !text(identity.arn) && !!text(identity.invokedBy));
  return {
    eventId: text(record.eventID) ?? syntheticId(record),
    eventName,
    time: toIsoSeconds(epochMs),
    epochMs,
    service,
    account,
    region,
    actor: resolveActor(
      identity,
      isServiceEvent ? String(record.eventSource) : undefined,
      region,
      text(record.recipientAccountId),
    ),
    readOnly: classifyRecord(record) !== 'write',
    errorCode: text(record.errorCode),
    errorMessage: text(record.errorMessage),
    requestParameters: isObject(record.requestParameters) ? record.requestParameters : {},
    responseElements: isObject(record.responseElements) ? record.responseElements : {},
    resourceArns: resources.map((r) => text(r.ARN) ?? text(r.arn)).filter((arn): arn is string => !!arn),
    additionalEventData: {
      ...(isObject(record.additionalEventData) ? record.additionalEventData : {}),
      ...(isObject(record.serviceEventDetails) ? record.serviceEventDetails : {}),
    },
    sourceIp: text(record.sourceIPAddress),
    userAgent: text(record.userAgent),
  };
}

/**
 * A record's or event's own time: CloudTrail and EventBridge write it as an ISO string only. (parseAwsDate also reads
 * the epoch seconds KMS responses hold; a number here is no time AWS wrote.)
 */
const recordTime = (value: unknown): number | undefined =>
  typeof value === 'string' ? parseAwsDate(value) : undefined;

function fromNativeEvent(envelope: Json, detailType: string, where?: string): ChangeEvent {
  const epochMs = recordTime(envelope.time);
  if (epochMs === undefined) throw new RecordError(`"${detailType}" event has no valid time`, where);
  const detail = isObject(envelope.detail) ? envelope.detail : {};
  const resources = Array.isArray(envelope.resources) ? envelope.resources.filter((r) => typeof r === 'string') : [];
  return {
    eventId: text(envelope.id) ?? syntheticId(envelope),
    eventName: detailType,
    time: toIsoSeconds(epochMs),
    epochMs,
    service: 'kms',
    account: text(envelope.account) ?? 'unknown',
    region: text(envelope.region) ?? 'unknown',
    actor: resolveActor(undefined, 'kms.amazonaws.com'),
    readOnly: false,
    requestParameters: { keyId: detail['key-id'] },
    responseElements: {},
    resourceArns: resources as string[],
    additionalEventData: detail,
  };
}

/** Records without an eventID (hand-made fixtures, some exports) get a stable id from their content. */
function syntheticId(record: Json): string {
  return `synthetic-${createHash('sha256').update(JSON.stringify(record)).digest('hex').slice(0, 32)}`;
}
