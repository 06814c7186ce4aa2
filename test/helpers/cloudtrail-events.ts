/**
 * Builds the CloudTrail records (and their EventBridge envelopes) that AWS would write for a change the test just
 * made, starting from the real sample records in `../shared/samples/cloudtrail` (see fixtures.ts). Each builder takes
 * a fresh copy of its sample and puts in the real resource (key, alias, trail), region, account, caller, a fresh
 * `eventID` and an `eventTime` of now; every other field keeps the sample's shape.
 *
 * @example
 * const record = kmsRecords.disableKey(key, { region: 'eu-west-1' });
 * await detect(toEventBridge(record));
 */
import { randomUUID } from 'node:crypto';
import type { EventSelector } from '@aws-sdk/client-cloudtrail';
import { type CloudTrailRecord, malformedSampleText, sample } from './fixtures';

/** The account moto answers for by default. */
export const MOTO_ACCOUNT = '123456789012';

type Json = Record<string, unknown>;

/** A KMS key as records name it: its ARN and its bare key id. */
export interface KeyRef {
  arn: string;
  id: string;
}

/** `{ arn, id }` from a key ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID`). */
export function keyRef(arn: string): KeyRef {
  const id = arn.split(':key/')[1];
  if (!id) throw new Error(`not a key ARN: ${arn}`);
  return { arn, id };
}

/** The `userIdentity` of an IAM user, shaped like the KMS developer guide samples (Alice). */
export function iamUser(userName: string, account = MOTO_ACCOUNT): Json {
  const identity = sample('DisableKey__awskmsdg__1').userIdentity as Json;
  return { ...identity, arn: `arn:aws:iam::${account}:user/${userName}`, accountId: account, userName };
}

/** The `userIdentity` of an assumed-role session, shaped like the KMS developer guide's AssumedRole sample. */
export function assumedRole(role: string, session: string, account = MOTO_ACCOUNT): Json {
  const identity = sample('CreateGrant__awskmsdg__3').userIdentity as Json & { sessionContext: Json };
  const issuer = identity.sessionContext.sessionIssuer as Json;
  const { invokedBy: _service, ...rest } = identity;
  return {
    ...rest,
    principalId: `${issuer.principalId}:${session}`,
    arn: `arn:aws:sts::${account}:assumed-role/${role}/${session}`,
    accountId: account,
    sessionContext: {
      ...identity.sessionContext,
      sessionIssuer: { ...issuer, arn: `arn:aws:iam::${account}:role/${role}`, accountId: account, userName: role },
    },
  };
}

/** Where and by whom a call was made; everything but `region` has a default. */
export interface CallContext {
  region: string;
  account?: string;
  /** `userIdentity`; default: the IAM user Alice of the account. */
  identity?: Json;
  eventId?: string;
  /** Default: now. */
  time?: Date;
  /** Makes the record a failed call, as CloudTrail writes it (e.g. `AccessDenied`). */
  error?: { code: string; message?: string };
}

/** `2026-10-03T12:00:00Z`: CloudTrail's eventTime form. */
export function cloudTrailTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Nov 2, 2021, 11:25:25 PM` (UTC): the form KMS writes `deletionDate` in ScheduleKeyDeletion responses. */
export function kmsResponseDate(date: Date): string {
  const hours = date.getUTCHours();
  const pad = (n: number) => String(n).padStart(2, '0');
  const clock = `${hours % 12 || 12}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
  return `${MONTHS[date.getUTCMonth()]} ${date.getUTCDate()}, ${date.getUTCFullYear()}, ${clock} ${hours < 12 ? 'AM' : 'PM'}`;
}

/** The sample (or `record`, a sample read otherwise) with the call's common fields replaced: ids, time, region, account, caller and outcome. */
function fromSample(name: string, ctx: CallContext, record: CloudTrailRecord = sample(name)): CloudTrailRecord {
  const account = ctx.account ?? MOTO_ACCOUNT;
  record.eventID = ctx.eventId ?? randomUUID();
  record.requestID = randomUUID();
  record.eventTime = cloudTrailTime(ctx.time ?? new Date());
  record.awsRegion = ctx.region;
  record.recipientAccountId = account;
  if (record.userIdentity && record.eventType !== 'AwsServiceEvent') {
    record.userIdentity = ctx.identity ?? iamUser('Alice', account);
  } else if (record.userIdentity) {
    record.userIdentity = { ...record.userIdentity, accountId: account };
  }
  delete record.errorCode;
  delete record.errorMessage;
  if (ctx.error) {
    record.errorCode = ctx.error.code;
    if (ctx.error.message) record.errorMessage = ctx.error.message;
    // A failed call returns nothing.
    record.responseElements = null;
  }
  return record;
}

function keyResource(key: KeyRef, account: string): Json {
  return { accountId: account, type: 'AWS::KMS::Key', ARN: key.arn };
}

/** The key as the sample's request named it: a key ARN where the sample used one, the bare key id otherwise. */
function sameForm(sampleValue: unknown, key: KeyRef): string {
  return typeof sampleValue === 'string' && sampleValue.startsWith('arn:') ? key.arn : key.id;
}

/** A record about one key: its `resources[]` and its request's `keyId` point at the real key. */
function keyRecord(name: string, key: KeyRef, ctx: CallContext): CloudTrailRecord {
  const record = fromSample(name, ctx);
  const account = ctx.account ?? MOTO_ACCOUNT;
  record.resources = [keyResource(key, account)];
  if (record.requestParameters && 'keyId' in record.requestParameters) {
    record.requestParameters.keyId = sameForm(record.requestParameters.keyId, key);
  }
  if (record.responseElements && 'keyId' in record.responseElements) record.responseElements.keyId = key.arn;
  return record;
}

/** What CreateKey was asked for: the key's description and, when given, its policy (a JSON string). */
export interface CreateKeyRequest {
  description?: string;
  policy?: string;
  tags?: Array<{ tagKey: string; tagValue: string }>;
  /** A multi-Region primary key (its id starts with `mrk-`). */
  multiRegion?: boolean;
}

/** Records of KMS calls, each built from its `<Event>__awskmsdg__<n>.json` sample. */
export const kmsRecords = {
  /** CreateKey of a symmetric AWS_KMS key, Enabled, as moto created it. */
  createKey(key: KeyRef, request: CreateKeyRequest, ctx: CallContext): CloudTrailRecord {
    // Sample 1 is an EXTERNAL-origin key; the request and response below describe an ordinary AWS_KMS key.
    const record = keyRecord('CreateKey__awskmsdg__1', key, ctx);
    const account = ctx.account ?? MOTO_ACCOUNT;
    const params = record.requestParameters as Json;
    params.description = request.description ?? '';
    params.origin = 'AWS_KMS';
    if (request.policy !== undefined) params.policy = request.policy;
    if (request.tags) params.tags = request.tags;
    if (request.multiRegion) params.multiRegion = true;
    const metadata = (record.responseElements as { keyMetadata: Json }).keyMetadata;
    if (request.multiRegion) {
      metadata.multiRegion = true;
      metadata.multiRegionConfiguration = {
        multiRegionKeyType: 'PRIMARY',
        primaryKey: { arn: key.arn, region: ctx.region },
        replicaKeys: [],
      };
    }
    Object.assign(metadata, {
      AWSAccountId: account,
      keyId: key.id,
      arn: key.arn,
      creationDate: kmsResponseDate(ctx.time ?? new Date()),
      enabled: true,
      description: request.description ?? '',
      keyState: 'Enabled',
      origin: 'AWS_KMS',
    });
    return record;
  },
  disableKey: (key: KeyRef, ctx: CallContext) => keyRecord('DisableKey__awskmsdg__1', key, ctx),
  enableKey: (key: KeyRef, ctx: CallContext) => keyRecord('EnableKey__awskmsdg__1', key, ctx),
  /** ScheduleKeyDeletion; `deletionDate` is the one KMS answered (moto's `DeletionDate`). */
  scheduleKeyDeletion(
    key: KeyRef,
    request: { pendingWindowInDays: number; deletionDate: Date },
    ctx: CallContext,
  ): CloudTrailRecord {
    const record = keyRecord('ScheduleKeyDeletion__awskmsdg__1', key, ctx);
    (record.requestParameters as Json).pendingWindowInDays = request.pendingWindowInDays;
    if (record.responseElements) record.responseElements.deletionDate = kmsResponseDate(request.deletionDate);
    return record;
  },
  cancelKeyDeletion: (key: KeyRef, ctx: CallContext) => keyRecord('CancelKeyDeletion__awskmsdg__1', key, ctx),
  /** PutKeyPolicy with the policy document exactly as sent (a JSON string). */
  putKeyPolicy(key: KeyRef, policy: string, ctx: CallContext): CloudTrailRecord {
    const record = keyRecord('PutKeyPolicy__awskmsdg__1', key, ctx);
    (record.requestParameters as Json).policy = policy;
    return record;
  },
  disableKeyRotation: (key: KeyRef, ctx: CallContext) => keyRecord('DisableKeyRotation__awskmsdg__1', key, ctx),
  enableKeyRotation: (key: KeyRef, ctx: CallContext) => keyRecord('EnableKeyRotation__awskmsdg__1', key, ctx),
  tagResource(key: KeyRef, tags: Record<string, string>, ctx: CallContext): CloudTrailRecord {
    const record = keyRecord('TagResource__awskmsdg__1', key, ctx);
    (record.requestParameters as Json).tags = Object.entries(tags).map(([tagKey, tagValue]) => ({ tagKey, tagValue }));
    return record;
  },
  untagResource(key: KeyRef, tagKeys: string[], ctx: CallContext): CloudTrailRecord {
    const record = keyRecord('UntagResource__awskmsdg__1', key, ctx);
    (record.requestParameters as Json).tagKeys = tagKeys;
    return record;
  },
  rotateKeyOnDemand: (key: KeyRef, ctx: CallContext) => keyRecord('RotateKeyOnDemand__awskmsdg-current__1', key, ctx),
  updateKeyDescription(key: KeyRef, description: string, ctx: CallContext): CloudTrailRecord {
    const record = keyRecord('UpdateKeyDescription__awskmsdg__1', key, ctx);
    (record.requestParameters as Json).description = description;
    return record;
  },
  /** CreateAlias: `resources[]` names the alias and the key, as KMS records it. */
  createAlias(aliasName: string, key: KeyRef, ctx: CallContext): CloudTrailRecord {
    return aliasRecord('CreateAlias__awskmsdg__1', aliasName, key, ctx);
  },
  /** UpdateAlias: the record names only the alias and the new key (aws-facts §2.1). */
  updateAlias(aliasName: string, newKey: KeyRef, ctx: CallContext): CloudTrailRecord {
    return aliasRecord('UpdateAlias__awskmsdg__1', aliasName, newKey, ctx);
  },
  createGrant(
    key: KeyRef,
    grant: {
      grantId: string;
      granteePrincipal: string;
      operations: string[];
      retiringPrincipal?: string;
      /** As CloudTrail records them: `{ encryptionContextSubset: {…} }`. */
      constraints?: Json;
      name?: string;
    },
    ctx: CallContext,
  ): CloudTrailRecord {
    const record = keyRecord('CreateGrant__awskmsdg__1', key, ctx);
    const params = record.requestParameters as Json;
    // The sample's encryption-context constraint is replaced by the grant the test made.
    delete params.constraints;
    params.granteePrincipal = grant.granteePrincipal;
    params.operations = grant.operations;
    if (grant.retiringPrincipal) params.retiringPrincipal = grant.retiringPrincipal;
    if (grant.constraints) params.constraints = grant.constraints;
    if (grant.name) params.name = grant.name;
    if (record.responseElements) record.responseElements.grantId = grant.grantId;
    return record;
  },
  revokeGrant(key: KeyRef, grantId: string, ctx: CallContext): CloudTrailRecord {
    const record = keyRecord('RevokeGrant__awskmsdg__1', key, ctx);
    (record.requestParameters as Json).grantId = grantId;
    return record;
  },
  /**
   * ReplicateKey of a multi-Region primary to `replica` (its ARN in the replica's Region), from the KMS guide's sample
   * (malformed in its source by one trailing comma, dropped here), with the replica's policy as KMS answered it.
   */
  replicateKey(primary: KeyRef, replica: KeyRef, replicaPolicy: string, ctx: CallContext): CloudTrailRecord {
    const text = malformedSampleText('ReplicateKey__awskmsdg__1').replace(/("replicaPolicy": ".*"),(\s*\})/, '$1$2');
    const record = fromSample('ReplicateKey__awskmsdg__1', ctx, JSON.parse(text) as CloudTrailRecord);
    const account = ctx.account ?? MOTO_ACCOUNT;
    const replicaRegion = replica.arn.split(':')[3];
    record.resources = [keyResource(primary, account)];
    Object.assign(record.requestParameters as Json, { keyId: primary.id, replicaRegion });
    const response = record.responseElements as { replicaKeyMetadata: Json; replicaPolicy: string };
    response.replicaPolicy = replicaPolicy;
    Object.assign(response.replicaKeyMetadata, {
      aWSAccountId: account,
      keyId: replica.id,
      arn: replica.arn,
      creationDate: kmsResponseDate(ctx.time ?? new Date()),
      multiRegionConfiguration: {
        multiRegionKeyType: 'REPLICA',
        primaryKey: { arn: primary.arn, region: ctx.region },
        replicaKeys: [{ arn: replica.arn, region: replicaRegion }],
      },
    });
    return record;
  },
  /** RetireGrant: the sample records the grant only in `additionalEventData`, the key only in `resources[]`. */
  retireGrant(key: KeyRef, grantId: string, ctx: CallContext): CloudTrailRecord {
    const record = keyRecord('RetireGrant__awskmsdg__1', key, ctx);
    (record.additionalEventData as Json).grantId = grantId;
    return record;
  },
  /** The service event KMS writes when a key's waiting period ends and it is deleted. */
  deleteKey: (key: KeyRef, ctx: CallContext) => keyRecord('DeleteKey__awskmsdg__1', key, ctx),
  /** DeleteAlias: `resources[]` names the alias and the key it pointed to, as KMS records it. */
  deleteAlias(aliasName: string, key: KeyRef, ctx: CallContext): CloudTrailRecord {
    return aliasRecord('DeleteAlias__awskmsdg__1', aliasName, key, ctx);
  },
};

/** A KMS native EventBridge event (not a CloudTrail record) from its sample `name`, about `key`. */
function nativeKmsEvent(name: string, key: KeyRef, ctx: CallContext): Json {
  const event = sample(name) as Json;
  event.id = ctx.eventId ?? randomUUID();
  event.time = cloudTrailTime(ctx.time ?? new Date());
  event.region = ctx.region;
  event.account = ctx.account ?? MOTO_ACCOUNT;
  event.resources = [key.arn];
  event.detail = { 'key-id': key.id };
  return event;
}

/** KMS's native "KMS CMK Deletion" event: the key KMS deleted at the end of its waiting period. */
export const kmsCmkDeletionEvent = (key: KeyRef, ctx: CallContext): Json =>
  nativeKmsEvent('KMSCMKDeletion__awskmsdg__1', key, ctx);

/** KMS's native "KMS CMK Rotation" event: KMS rotated the key's material itself. */
export const kmsCmkRotationEvent = (key: KeyRef, ctx: CallContext): Json =>
  nativeKmsEvent('KMSCMKRotation__awskmsdg__1', key, ctx);

function aliasRecord(name: string, aliasName: string, key: KeyRef, ctx: CallContext): CloudTrailRecord {
  const record = fromSample(name, ctx);
  const account = ctx.account ?? MOTO_ACCOUNT;
  const params = record.requestParameters as Json;
  params.aliasName = aliasName;
  params.targetKeyId = sameForm(params.targetKeyId, key);
  const alias = { accountId: account, type: 'AWS::KMS::Key', ARN: `arn:aws:kms:${ctx.region}:${account}:${aliasName}` };
  // In the sample's order (CreateAlias lists the key first, UpdateAlias the alias).
  record.resources = (record.resources ?? []).map((r) =>
    String(r.ARN).includes(':alias/') ? alias : keyResource(key, account),
  );
  return record;
}

/** What CloudTrail answers CreateTrail and UpdateTrail with (the SDK's output), recorded in camel case. */
export interface TrailResponse {
  Name?: string;
  S3BucketName?: string;
  IncludeGlobalServiceEvents?: boolean;
  IsMultiRegionTrail?: boolean;
  TrailARN?: string;
  LogFileValidationEnabled?: boolean;
  KmsKeyId?: string;
  IsOrganizationTrail?: boolean;
}

function trailResponse(response: TrailResponse): Json {
  const camel = Object.entries(response)
    .filter(([field, value]) => value !== undefined && field !== '$metadata')
    .map(([field, value]) => [field === 'TrailARN' ? 'trailARN' : field[0].toLowerCase() + field.slice(1), value]);
  return Object.fromEntries(camel);
}

/** Records of CloudTrail calls on a trail. */
export const trailRecords = {
  /** CreateTrail with the request as sent (CloudTrail's camel case) and CloudTrail's answer, from the Panther sample. */
  createTrail(request: Json, response: TrailResponse, ctx: CallContext): CloudTrailRecord {
    const record = fromSample('CreateTrail__panther__1', ctx);
    record.requestParameters = request;
    record.responseElements = trailResponse(response);
    return record;
  },
  /** UpdateTrail with the request as sent and CloudTrail's answer (the Stream Alert sample's shape). */
  updateTrail(request: Json, response: TrailResponse, ctx: CallContext): CloudTrailRecord {
    const record = fromSample('UpdateTrail__streamalert__1', ctx);
    record.requestParameters = request;
    if (!ctx.error) record.responseElements = trailResponse(response);
    return record;
  },
  /** DeleteTrail, from the real Stratus Red Team detonation. */
  deleteTrail(trailName: string, ctx: CallContext): CloudTrailRecord {
    const record = fromSample('DeleteTrail__stratus__1', ctx);
    (record.requestParameters as Json).name = trailName;
    delete record.tlsDetails;
    return record;
  },
  /** StopLogging, from the real Stratus Red Team detonation (the KMS guide has no trail samples). */
  stopLogging(trailName: string, ctx: CallContext): CloudTrailRecord {
    const record = fromSample('StopLogging__stratus__1', ctx);
    (record.requestParameters as Json).name = trailName;
    delete record.tlsDetails;
    return record;
  },
  /**
   * StartLogging. No public sample records it: it is the Stratus StopLogging record with the other event name, the
   * two calls taking the same request (the trail's `name`) and answering nothing.
   */
  startLogging(trailName: string, ctx: CallContext): CloudTrailRecord {
    const record = trailRecords.stopLogging(trailName, ctx);
    record.eventName = 'StartLogging';
    return record;
  },
  /** PutEventSelectors with basic selectors as the SDK takes them, recorded in CloudTrail's camel case. */
  putEventSelectors(trailArn: string, selectors: EventSelector[], ctx: CallContext): CloudTrailRecord {
    const record = fromSample('PutEventSelectors__stratus__1', ctx);
    const eventSelectors = selectors.map((selector) => ({
      readWriteType: selector.ReadWriteType,
      includeManagementEvents: selector.IncludeManagementEvents,
      excludeManagementEventSources: selector.ExcludeManagementEventSources ?? [],
      dataResources: (selector.DataResources ?? []).map((resource) => ({
        type: resource.Type,
        values: resource.Values,
      })),
    }));
    record.requestParameters = { trailName: trailArn, eventSelectors };
    record.responseElements = { trailARN: trailArn, eventSelectors };
    delete record.tlsDetails;
    return record;
  },
};

/** The EventBridge event CloudTrail's record arrives in (`detail-type` "AWS API Call via CloudTrail"). */
export interface CloudTrailEventBridgeEvent {
  version: '0';
  id: string;
  'detail-type': 'AWS API Call via CloudTrail' | 'AWS Service Event via CloudTrail';
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: CloudTrailRecord;
}

/** Wraps a record in the EventBridge envelope a rule on `aws.kms` / `aws.cloudtrail` delivers to the detector. */
export function toEventBridge(record: CloudTrailRecord): CloudTrailEventBridgeEvent {
  const source = String(record.eventSource ?? '').replace(/\.amazonaws\.com$/, '');
  return {
    version: '0',
    id: randomUUID(),
    'detail-type':
      record.eventType === 'AwsServiceEvent' ? 'AWS Service Event via CloudTrail' : 'AWS API Call via CloudTrail',
    source: `aws.${source}`,
    account: String(record.recipientAccountId ?? MOTO_ACCOUNT),
    time: String(record.eventTime),
    region: String(record.awsRegion),
    resources: [],
    detail: record,
  };
}
