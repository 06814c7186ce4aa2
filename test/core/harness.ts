/**
 * Builds variations of the public CloudTrail samples for the core tests, and runs them through a fresh
 * detector. Every record starts as a real sample; only the fields a test is about are changed.
 */
import { type DetectionConfig, parseDetectionConfig } from '../../lambda/core/config';
import { Detector } from '../../lambda/core/detector';
import { MemoryStore } from '../../lambda/core/memory-store';
import { normalizeRecord } from '../../lambda/core/normalize';
import type { Finding } from '../../lambda/core/types';
import { type CloudTrailRecord, sample } from '../helpers/fixtures';

type Json = Record<string, unknown>;

/** Most KMS documentation samples name this key, in this account and Region. */
export const ACCOUNT = '111122223333';
export const REGION = 'us-west-2';
export const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
export const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${KEY_ID}`;
/** The second key of the samples (ReEncrypt's destination, CreateKey__awskmsdg__2). */
export const OTHER_KEY_ID = '0987dcba-09fe-87dc-65ba-ab0987654321';
export const OTHER_KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${OTHER_KEY_ID}`;
export const ALICE = `arn:aws:iam::${ACCOUNT}:user/Alice`;
export const EXTERNAL_ACCOUNT = '444455556666';
export const TRAIL_NAME = 'org-audit';
export const TRAIL_ARN = `arn:aws:cloudtrail:${REGION}:${ACCOUNT}:trail/${TRAIL_NAME}`;

/** A sample, changed by `edit`. */
export function rec(name: string, edit?: (record: CloudTrailRecord) => void): CloudTrailRecord {
  const record = sample(name);
  edit?.(record);
  return record;
}

/** The same record with another eventID and eventTime, so sequences read like a real log. */
export function at(record: CloudTrailRecord, eventId: string, eventTime?: string): CloudTrailRecord {
  record.eventID = eventId;
  if (eventTime) record.eventTime = eventTime;
  return record;
}

/**
 * Points a KMS record at `keyArn`: Region and account of the key, `keyId` (when the request has one) and
 * `resources[]`.
 */
export function onKey(record: CloudTrailRecord, keyArn = KEY_ARN): CloudTrailRecord {
  const [, , , region, account, resource] = keyArn.split(':');
  record.awsRegion = region;
  record.recipientAccountId = account;
  if (record.requestParameters && 'keyId' in record.requestParameters) {
    record.requestParameters.keyId = resource.slice('key/'.length);
  }
  record.resources = [{ accountId: account, type: 'AWS::KMS::Key', ARN: keyArn }];
  return record;
}

/** Drops `resources[]`, so the detector has to resolve the key from the request. */
export function withoutResources(record: CloudTrailRecord): CloudTrailRecord {
  delete record.resources;
  return record;
}

/** Alice's IAM user identity, as every KMS documentation sample has it. */
export function aliceIdentity(): Json {
  return sample('EnableKey__awskmsdg__1').userIdentity as Json;
}

/**
 * An assumed-role session identity (from CreateGrant__awskmsdg__3, without its `invokedBy`), for role
 * `roleName` and session `sessionName` in the samples' account.
 */
export function sessionIdentity(roleName: string, sessionName: string, account = ACCOUNT): Json {
  const identity = sample('CreateGrant__awskmsdg__3').userIdentity as Json & {
    sessionContext: { sessionIssuer: Json };
  };
  delete identity.invokedBy;
  identity.arn = `arn:aws:sts::${account}:assumed-role/${roleName}/${sessionName}`;
  identity.accountId = account;
  identity.principalId = `AROAEXAMPLE:${sessionName}`;
  identity.sessionContext.sessionIssuer.arn = `arn:aws:iam::${account}:role/${roleName}`;
  identity.sessionContext.sessionIssuer.userName = roleName;
  identity.sessionContext.sessionIssuer.accountId = account;
  return identity;
}

/** `identity`, a role session's, with the source identity `sourceIdentity` (`sessionContext.sourceIdentity`). */
export function withSourceIdentity(identity: Json, sourceIdentity: string): Json {
  (identity.sessionContext as { sourceIdentity?: string }).sourceIdentity = sourceIdentity;
  return identity;
}

/**
 * A DisableKey by an IAM Identity Center session named after its source identity, carol@example.com, as the core
 * judges it: the summary names her once.
 */
export function disabledInSessionNamedAfterSourceIdentity(): Finding {
  const carol = sessionIdentity('AWSReservedSSO_Admin_0123456789abcdef', 'carol@example.com');
  return detect([by(onKey(rec('DisableKey__awskmsdg__1')), withSourceIdentity(carol, 'carol@example.com'))]).last;
}

export function by(record: CloudTrailRecord, identity: Json): CloudTrailRecord {
  record.userIdentity = identity;
  return record;
}

/** The key policy of PutKeyPolicy__awskmsdg__1 (KMS's default policy: the account root may do everything). */
export function defaultPolicy(): { Version: string; Id: string; Statement: Json[] } {
  return JSON.parse(String(sample('PutKeyPolicy__awskmsdg__1').requestParameters?.policy));
}

/** The default policy plus `statements`. */
export function policyWith(...statements: Json[]): { Version: string; Id: string; Statement: Json[] } {
  const policy = defaultPolicy();
  policy.Statement.push(...statements);
  return policy;
}

/** A statement letting `principal` decrypt with the key, under `condition` when given. */
export const decryptFor = (principal: unknown, condition?: Record<string, unknown>): Json => ({
  Sid: 'Decrypt',
  Effect: 'Allow',
  Principal: principal,
  Action: 'kms:Decrypt',
  Resource: '*',
  ...(condition ? { Condition: condition } : {}),
});

/** The statement CloudTrail needs on a key that encrypts its logs (from the AWS CloudTrail key policy). */
export function cloudTrailStatement(account = ACCOUNT): Json {
  return {
    Sid: 'Allow CloudTrail to encrypt logs',
    Effect: 'Allow',
    Principal: { Service: 'cloudtrail.amazonaws.com' },
    Action: 'kms:GenerateDataKey*',
    Resource: '*',
    Condition: { StringEquals: { 'aws:SourceAccount': account } },
  };
}

/**
 * The statement CloudTrail's guide used to give for a key shared by the trails of several accounts: fenced only by the
 * encryption context CloudTrail sets to the trail it writes, no aws:SourceArn.
 */
export function cloudTrailStatementForTrailsOf(accounts: string[]): Json {
  return {
    ...cloudTrailStatement(),
    Condition: {
      StringLike: {
        'kms:EncryptionContext:aws:cloudtrail:arn': accounts.map(
          (account) => `arn:aws:cloudtrail:*:${account}:trail/*`,
        ),
      },
    },
  };
}

/** CloudWatch Logs' statement for encrypting the log groups of `account` in us-east-1 (its user guide's form). */
export function logsStatement(account: string): Json {
  return {
    Effect: 'Allow',
    Principal: { Service: 'logs.us-east-1.amazonaws.com' },
    Action: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
    Resource: '*',
    Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:aws:logs:us-east-1:${account}:log-group:*` } },
  };
}

/**
 * CreateKey__awskmsdg__2 (an Enabled key made by Alice), creating `keyArn` with the given policy and tags.
 * Without a policy, KMS gives the key its default policy.
 */
export function createKey(
  options: { keyArn?: string; policy?: unknown; tags?: Record<string, string>; identity?: Json } = {},
): CloudTrailRecord {
  const keyArn = options.keyArn ?? KEY_ARN;
  const record = sample('CreateKey__awskmsdg__2');
  onKey(record, keyArn);
  const request = record.requestParameters as Json;
  const metadata = (record.responseElements as { keyMetadata: Json }).keyMetadata;
  metadata.keyId = keyArn.split('/').pop();
  metadata.arn = keyArn;
  if (options.policy !== undefined) request.policy = JSON.stringify(options.policy, null, 2);
  if (options.tags) {
    request.tags = Object.entries(options.tags).map(([tagKey, tagValue]) => ({ tagKey, tagValue }));
  }
  if (options.identity) record.userIdentity = options.identity;
  return record;
}

/** CreateAlias__awskmsdg__1 creating `aliasName` for the key `targetKeyId` (in the samples' account and Region). */
export function createAlias(aliasName: string, targetKeyId: string): CloudTrailRecord {
  const record = sample('CreateAlias__awskmsdg__1');
  record.requestParameters = { aliasName, targetKeyId };
  record.resources = [
    { accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: `arn:aws:kms:${REGION}:${ACCOUNT}:key/${targetKeyId}` },
    { accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: `arn:aws:kms:${REGION}:${ACCOUNT}:${aliasName}` },
  ];
  return record;
}

/** PutKeyPolicy__awskmsdg__1 setting `policy` (an object or the exact text) on `keyArn`. */
export function putKeyPolicy(policy: unknown, keyArn = KEY_ARN): CloudTrailRecord {
  const record = onKey(sample('PutKeyPolicy__awskmsdg__1'), keyArn);
  (record.requestParameters as Json).policy = typeof policy === 'string' ? policy : JSON.stringify(policy, null, 2);
  return record;
}

/**
 * CreateTrail__panther__1 turned into a successful call by Alice in the samples' account: trail `name`,
 * encrypted with `kmsKeyId` when given.
 */
export function createTrail(name = TRAIL_NAME, kmsKeyId?: string): CloudTrailRecord {
  const record = sample('CreateTrail__panther__1');
  delete record.errorCode;
  record.awsRegion = REGION;
  record.recipientAccountId = ACCOUNT;
  record.userIdentity = aliceIdentity();
  record.requestParameters = {
    name,
    s3BucketName: 'org-audit-logs',
    isMultiRegionTrail: true,
    enableLogFileValidation: true,
    ...(kmsKeyId ? { kmsKeyId } : {}),
  };
  return record;
}

/** A trail record (StopLogging__stratus__1 and friends) moved into the samples' account, naming `name`. */
export function onTrail(record: CloudTrailRecord, name: string = TRAIL_NAME): CloudTrailRecord {
  record.awsRegion = REGION;
  record.recipientAccountId = ACCOUNT;
  record.userIdentity = aliceIdentity();
  const request = record.requestParameters as Json;
  if ('trailName' in request) request.trailName = name;
  else request.name = name;
  if (record.responseElements && 'trailARN' in record.responseElements) {
    record.responseElements.trailARN = name.startsWith('arn:') ? name : TRAIL_ARN;
  }
  return record;
}

/** Configuration as a user would write it (validated). */
export function config(input: unknown = {}): DetectionConfig {
  return parseDetectionConfig(input);
}

export interface Run {
  findings: Finding[];
  /** The finding of the last record. */
  last: Finding;
  store: MemoryStore;
}

/** Runs the records, in the order given, through a fresh detector. */
export function detect(records: CloudTrailRecord[], configInput: unknown = {}): Run {
  const detectionConfig = config(configInput);
  const store = new MemoryStore(detectionConfig.trailKeys);
  const detector = new Detector(detectionConfig, store);
  const findings = records.map((record, index) => detector.observe(normalizeRecord(record, `record ${index}`)));
  return { findings, last: findings[findings.length - 1], store };
}
