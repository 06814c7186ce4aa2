import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  CloudTrailClient,
  DescribeTrailsCommand,
  GetEventSelectorsCommand,
  GetTrailStatusCommand,
} from '@aws-sdk/client-cloudtrail';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  DescribeKeyCommand,
  type DescribeKeyCommandOutput,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  type GrantListEntry,
  type KeyMetadata,
  type KeyState,
  KMSClient,
  ListAliasesCommand,
  ListGrantsCommand,
  ListResourceTagsCommand,
} from '@aws-sdk/client-kms';
import { KMSDisabledException, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { PublishError, RetryableKmsError, RetryableStoreError } from '../../lambda/adapters/errors';
import { keySnapshot } from '../../lambda/adapters/kms-reader';
import type { PageMessage } from '../../lambda/adapters/publisher';
import { createStateStore } from '../../lambda/adapters/state-store';
import { formatChatbotNotification } from '../../lambda/alerts/chatbot';
import { formatEmail } from '../../lambda/alerts/email';
import { pagerDutyDedupKey, pagerDutyEventsToSend } from '../../lambda/alerts/pagerduty';
import { parseDetectionConfig } from '../../lambda/core/config';
import { NESTED_TOO_DEEP } from '../../lambda/core/normalize';
import { normalizePolicy } from '../../lambda/core/policy';
import { lookup } from '../../lambda/core/state';
import type { Finding } from '../../lambda/core/types';
import { createDetector, type DetectorDeps, type DetectorSettings } from '../../lambda/handlers/detector-app';
import { createTableReader } from '../../lambda/ops/table-reader';
import { startTable, type TestTable, throttlingError } from '../adapters/dynalite-table';
import { hugeFinding } from '../alerts/fixtures';
import { assumedRole, type CallContext, keyRef, kmsRecords } from '../helpers/cloudtrail-events';
import type { CloudTrailRecord } from '../helpers/fixtures';
import { malformedSampleText, sample } from '../helpers/fixtures';
import { kmsError, sdkOutput } from '../helpers/kms-api';
import { type CapturedOutput, captureOutput, envelope, type Json, LAST_RESORT_TOPIC, readRecord } from './harness';
import { LiveWorld } from './live-world';

const kmsMock = mockClient(KMSClient);
const snsMock = mockClient(SNSClient);
const eventsMock = mockClient(EventBridgeClient);
const trailMock = mockClient(CloudTrailClient);

const REGION = 'us-west-2';

/** A call made in the account's Region at `time` (by Alice, unless `identity` says who). */
const callAt = (eventId: string, time: string, identity?: Json): CallContext => ({
  region: REGION,
  account: '111122223333',
  ...(identity ? { identity } : {}),
  eventId,
  time: new Date(time),
});
const KEY = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const OLD_KEY = 'arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321';
const SELF_KEY = 'arn:aws:kms:us-west-2:111122223333:key/keydrift-own-key';
const topics = {
  chat: 'arn:aws:sns:us-west-2:111122223333:keydrift-chat',
  email: 'arn:aws:sns:us-west-2:111122223333:keydrift-email',
  page: 'arn:aws:sns:us-west-2:111122223333:keydrift-page',
  ops: 'arn:aws:sns:us-west-2:111122223333:keydrift-ops',
};
const none = { $metadata: {} };

let table: TestTable;
let output: CapturedOutput;

beforeEach(async () => {
  kmsMock.reset();
  snsMock.reset();
  eventsMock.reset();
  trailMock.reset();
  snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
  eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
  trailMock.on(DescribeTrailsCommand).resolves({ trailList: [] });
  table = await startTable();
  output = captureOutput();
});

afterEach(async () => {
  output.restore();
  await table.stop();
});

function settings(overrides: Partial<DetectorSettings> = {}): DetectorSettings {
  return {
    tableName: table.tableName,
    topics,
    eventBusName: 'default',
    selfKeyArn: SELF_KEY,
    opsKeyArn: `${SELF_KEY}-ops`,
    lastResortTopicArn: LAST_RESORT_TOPIC,
    config: parseDetectionConfig({}),
    alertMinSeverity: 'error',
    ...overrides,
  };
}

function makeDetector(overrides: Partial<DetectorSettings> = {}, deps: Partial<DetectorDeps> = {}) {
  const sleeps: number[] = [];
  const detect = createDetector({
    kms: new KMSClient({ region: REGION }),
    dynamodb: table.client,
    sns: new SNSClient({ region: REGION }),
    eventBridge: new EventBridgeClient({ region: REGION }),
    cloudtrail: new CloudTrailClient({ region: REGION }),
    settings: settings(overrides),
    logger: new Logger({ serviceName: 'keydrift' }),
    metrics: new Metrics({ serviceName: 'keydrift', namespace: 'KeydriftTest' }),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...deps,
  });
  return { detect, sleeps };
}

const store = () => createStateStore({ client: table.client, tableName: table.tableName });

interface LiveKey {
  arn?: string;
  state?: string;
  policy?: string;
  grants?: GrantListEntry[];
  aliases?: string[];
  tags?: Record<string, string>;
  /** A multi-Region key's primary Region: a replica here unless it is us-west-2. */
  primaryRegion?: string;
}

/** The live KMS answers for a key, built from the recorded DescribeKey and GetKeyRotationStatus responses. */
function liveKey(key: LiveKey = {}) {
  const arn = key.arn ?? KEY;
  const described = sdkOutput<DescribeKeyCommandOutput>('DescribeKey__custodian__1');
  const state = (key.state ?? 'Enabled') as KeyState;
  const describe: DescribeKeyCommandOutput = {
    ...described,
    KeyMetadata: {
      ...described.KeyMetadata,
      AWSAccountId: '111122223333',
      KeyId: arn.slice(arn.indexOf('key/') + 4),
      Arn: arn,
      KeyState: state,
      Enabled: state === 'Enabled',
      ...(key.primaryRegion
        ? {
            MultiRegion: true,
            MultiRegionConfiguration: {
              MultiRegionKeyType: key.primaryRegion === REGION ? 'PRIMARY' : 'REPLICA',
              PrimaryKey: { Arn: arn.replace(`:${REGION}:`, `:${key.primaryRegion}:`), Region: key.primaryRegion },
            },
          }
        : {}),
    },
  };
  return {
    describe,
    policy: { ...none, PolicyName: 'default', Policy: key.policy ?? defaultPolicy() },
    rotation: sdkOutput('GetKeyRotationStatus__custodian__1'),
    tags: {
      ...none,
      Tags: Object.entries(key.tags ?? {}).map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
      Truncated: false,
    },
    aliases: { ...none, Aliases: (key.aliases ?? []).map((AliasName) => ({ AliasName })), Truncated: false },
    grants: { ...none, Grants: key.grants ?? [], Truncated: false },
  };
}

function mockLiveKey(key: LiveKey = {}) {
  const live = liveKey(key);
  const arn = key.arn ?? KEY;
  kmsMock.on(DescribeKeyCommand, { KeyId: arn }).resolves(live.describe);
  kmsMock.on(GetKeyPolicyCommand, { KeyId: arn }).resolves(live.policy);
  kmsMock.on(GetKeyRotationStatusCommand, { KeyId: arn }).resolves(live.rotation);
  kmsMock.on(ListResourceTagsCommand, { KeyId: arn }).resolves(live.tags);
  kmsMock.on(ListAliasesCommand, { KeyId: arn }).resolves(live.aliases);
  kmsMock.on(ListGrantsCommand, { KeyId: arn }).resolves(live.grants);
  return live;
}

/** The snapshot the reader makes of a live key (what an adoption sweep or an operator would accept). */
function keySnapshotOf(live: ReturnType<typeof liveKey>) {
  return keySnapshot(KEY, {
    metadata: live.describe.KeyMetadata as NonNullable<DescribeKeyCommandOutput['KeyMetadata']>,
    policy: live.policy.Policy,
    rotation: live.rotation as never,
    tags: live.tags.Tags,
    aliases: live.aliases.Aliases,
    grants: live.grants.Grants,
  });
}

/** The policy PutKeyPolicy__awskmsdg__1 sets (the KMS default policy for account 111122223333). */
const defaultPolicy = () => String((readRecord('PutKeyPolicy__awskmsdg__1').requestParameters as Json).policy);

/** An EnableKey of the key at 01:00, after DisableKey__awskmsdg__1 (same call, another event). */
function enableKeyAfterDisableKey(): Json {
  return Object.assign(readRecord('DisableKey__awskmsdg__1'), {
    eventName: 'EnableKey',
    eventID: 'e2f4a6c8-0000-4000-8000-000000000002',
    eventTime: '2014-11-04T01:00:00Z',
  });
}

/** The email topic refuses the first message (a network error), then takes every one. */
function emailFailsOnce(): void {
  snsMock
    .on(PublishCommand, { TopicArn: topics.email })
    .rejectsOnce(new Error('connect ETIMEDOUT'))
    .resolves({ MessageId: 'm-2' });
}

const published = (topic: string) =>
  snsMock.commandCalls(PublishCommand, { TopicArn: topic }).map((call) => call.args[0].input);

/** keydrift's table refuses every request, as DynamoDB does when the key that encrypts it is disabled. */
function tableKeyDisabled(): void {
  table.client.middlewareStack.add(
    () => async () => {
      throw Object.assign(new Error('The KMS key that protects this table is disabled'), {
        name: 'KMSAccessDeniedException',
        $metadata: { httpStatusCode: 400 },
      });
    },
    { step: 'initialize', name: 'keyDisabled' },
  );
}

/** The given topics refuse every message, as SNS does when their key is disabled. */
function topicsKeyDisabled(...refusing: string[]): void {
  for (const topic of refusing) {
    snsMock
      .on(PublishCommand, { TopicArn: topic })
      .rejects(new KMSDisabledException({ message: 'Key is disabled.', $metadata: { httpStatusCode: 400 } }));
  }
}

describe('createDetector: alerting', () => {
  it('publishes a PutKeyPolicy change to email, chat and page, and the finding to EventBridge', async () => {
    // Prepare
    mockLiveKey();
    const { detect } = makeDetector();

    // Act
    const { finding } = await detect(envelope(readRecord('PutKeyPolicy__awskmsdg__1')));

    // Assess: the finding
    expect(finding).toMatchObject({
      service: 'kms',
      event: 'PutKeyPolicy',
      eventId: 'c217db1f-903f-4a2f-8f88-9580182d6313',
      timestamp: '2022-09-01T20:06:16Z',
      resource: KEY,
      user: 'arn:aws:iam::111122223333:user/Alice',
      severity: 'critical',
      status: 'drift',
      changes: { policy: { before: null, after: normalizePolicy(defaultPolicy()), external_accounts: [] } },
    });
    if (!finding) throw new Error('no finding');
    // Assess: one message per audience, each in its audience's form
    expect(published(topics.email)).toEqual([
      expect.objectContaining({ Subject: formatEmail(finding).subject, Message: formatEmail(finding).body }),
    ]);
    expect(published(topics.chat).map((m) => JSON.parse(String(m.Message)))).toEqual([
      formatChatbotNotification(finding),
    ]);
    expect(published(topics.page).map((m) => JSON.parse(String(m.Message)))).toEqual([finding]);
    expect(published(topics.ops)).toEqual([]);
    expect(published(topics.email)[0].MessageAttributes?.severity).toEqual({
      DataType: 'String',
      StringValue: 'critical',
    });
    const entries = eventsMock.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries?.[0]);
    expect(entries).toEqual([
      {
        Source: 'keydrift',
        DetailType: 'KMS Drift Finding',
        Detail: JSON.stringify(finding),
        Resources: [KEY],
        EventBusName: 'default',
      },
    ]);
    // Assess: what is kept
    const loaded = await store().load([KEY], {
      finding: { resource: KEY, timestamp: finding.timestamp, eventId: finding.eventId },
    });
    expect(loaded.finding).toEqual(finding);
    expect(loaded.states.get(KEY)?.snapshot.attributes).toMatchObject({
      key_state: 'Enabled',
      policy: normalizePolicy(defaultPolicy()),
    });
    expect(loaded.baselines.get(KEY)?.snapshot).toMatchObject({
      unknownPaths: ['policy'],
      attributes: expect.objectContaining({ key_state: 'Enabled' }),
    });
    expect(output.metric('Findings', { event: 'PutKeyPolicy' })).toBe(1);
    expect(output.lines().find((line) => 'Findings' in line)).toMatchObject({
      service: 'keydrift',
      event: 'PutKeyPolicy',
      _aws: { CloudWatchMetrics: [{ Namespace: 'KeydriftTest', Dimensions: [['service', 'event']] }] },
    });
    expect(output.lines().find((line) => 'ProcessingTime' in line)?._aws).toMatchObject({
      CloudWatchMetrics: [{ Metrics: expect.arrayContaining([{ Name: 'ProcessingTime', Unit: 'Milliseconds' }]) }],
    });
    expect(output.metric('FindingsBySeverity', { severity: 'critical' })).toBe(1);
    expect(output.logs('INFO').find((l) => l.eventId === finding.eventId && l.severity === 'critical')).toBeDefined();
  });

  it('alerts once when the same event arrives three times', async () => {
    mockLiveKey();
    const { detect } = makeDetector();
    const event = envelope(readRecord('PutKeyPolicy__awskmsdg__1'));

    const results = [await detect(event), await detect(structuredClone(event)), await detect(structuredClone(event))];

    expect(results.map((r) => r.duplicate ?? false)).toEqual([false, true, true]);
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 3);
    expect(eventsMock).toHaveReceivedCommandTimes(PutEventsCommand, 1);
    expect(output.metric('DuplicateEvents')).toBe(2);
  });

  it('alerts on the retry after SNS failed: the claim was released, and the saved finding goes where it had not', async () => {
    // Prepare: the email topic refuses the first message.
    mockLiveKey();
    emailFailsOnce();
    const { detect } = makeDetector();
    const event = envelope(readRecord('PutKeyPolicy__awskmsdg__1'));

    // Act
    const first = await detect(event).catch((e: unknown) => e);
    const second = await detect(structuredClone(event));
    const third = await detect(structuredClone(event));

    // Assess
    expect(first).toBeInstanceOf(PublishError);
    expect(second.finding).toMatchObject({ eventId: 'c217db1f-903f-4a2f-8f88-9580182d6313', severity: 'critical' });
    expect(third).toEqual({ duplicate: true });
    expect(published(topics.email)).toHaveLength(2);
    expect(published(topics.chat)).toHaveLength(1);
    expect(published(topics.page)).toHaveLength(1);
    expect(eventsMock).toHaveReceivedCommandTimes(PutEventsCommand, 1);
    expect(output.metric('DetectorErrors')).toBe(1);
    expect(output.metric('AlertPublishFailures')).toBe(1);
  });

  it('alerts on the retry even when releasing the claim failed: the saved claim is taken over once its lease ran out', async () => {
    // Prepare: the email topic refuses the first message, and DynamoDB throttles the claim's release once.
    mockLiveKey();
    emailFailsOnce();
    table.failOnce((_command, input) => String(input.UpdateExpression).includes('ADD delivered'), throttlingError());
    let clock = Date.parse('2026-11-22T03:00:00Z');
    const { detect } = makeDetector({}, { now: () => clock });
    const event = envelope(readRecord('PutKeyPolicy__awskmsdg__1'));

    // Act: Lambda retries a failed asynchronous invocation after a minute or more.
    const first = await detect(event).catch((e: unknown) => e);
    clock += 90_000;
    const retry = await detect(structuredClone(event));

    // Assess
    expect(first).toBeInstanceOf(PublishError);
    expect(retry.finding).toMatchObject({ severity: 'critical' });
    expect(published(topics.email)).toHaveLength(2);
    expect(await detect(structuredClone(event))).toEqual({ duplicate: true });
  });

  it('sends nothing twice when a retry failed before loading what the first attempt delivered', async () => {
    // Prepare: the email topic refuses the first message; on the retry, KMS throttles the live read once.
    mockLiveKey();
    emailFailsOnce();
    const { detect } = makeDetector();
    const event = envelope(readRecord('PutKeyPolicy__awskmsdg__1'));
    await expect(detect(event)).rejects.toBeInstanceOf(PublishError);
    kmsMock.reset();
    mockLiveKey();
    kmsMock
      .on(GetKeyPolicyCommand, { KeyId: KEY })
      .rejectsOnce(kmsError('ThrottlingException', 'Rate exceeded'))
      .resolves(liveKey().policy);

    // Act
    await expect(detect(structuredClone(event))).rejects.toBeInstanceOf(RetryableKmsError);
    const third = await detect(structuredClone(event));

    // Assess: the released claim still held chat, page and EventBridge; only e-mail is sent again
    expect(third.finding).toMatchObject({ severity: 'critical' });
    expect(published(topics.email)).toHaveLength(2);
    expect(published(topics.chat)).toHaveLength(1);
    expect(published(topics.page)).toHaveLength(1);
    expect(eventsMock).toHaveReceivedCommandTimes(PutEventsCommand, 1);
  });

  it('sends nothing twice when saving failed after every alert went out: the retry saves and stays quiet', async () => {
    // Prepare: DynamoDB throttles the transaction that saves the judgement, once.
    mockLiveKey();
    table.failOnce((command) => command === 'TransactWriteItemsCommand', throttlingError());
    const { detect } = makeDetector();
    const event = envelope(readRecord('PutKeyPolicy__awskmsdg__1'));

    // Act
    const first = await detect(event).catch((e: unknown) => e);
    const retry = await detect(structuredClone(event));

    // Assess
    expect(first).toBeInstanceOf(RetryableStoreError);
    expect(retry.finding).toMatchObject({ severity: 'critical' });
    for (const topic of [topics.chat, topics.email, topics.page]) expect(published(topic)).toHaveLength(1);
    expect(eventsMock).toHaveReceivedCommandTimes(PutEventsCommand, 1);
    expect(await detect(structuredClone(event))).toEqual({ duplicate: true });
  });

  it('sends only the EventBridge copy again when PutEvents failed its entry', async () => {
    // Prepare: PutEvents answers 200 with the entry failed, once.
    mockLiveKey();
    eventsMock
      .on(PutEventsCommand)
      .resolvesOnce({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }] })
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    const { detect } = makeDetector();
    const event = envelope(readRecord('PutKeyPolicy__awskmsdg__1'));

    // Act
    const first = await detect(event).catch((e: unknown) => e);
    const retry = await detect(structuredClone(event));

    // Assess
    expect(first).toBeInstanceOf(PublishError);
    expect(retry.finding).toMatchObject({ severity: 'critical' });
    for (const topic of [topics.chat, topics.email, topics.page]) expect(published(topic)).toHaveLength(1);
    expect(eventsMock).toHaveReceivedCommandTimes(PutEventsCommand, 2);
  });

  it('alerts on the retry when the invocation died while publishing, after the finding was saved', async () => {
    // Prepare: SNS never answers the first invocation (it times out once its state is saved).
    mockLiveKey();
    snsMock.on(PublishCommand).callsFake(() => new Promise(() => {}));
    let clock = Date.parse('2026-11-22T03:00:00Z');
    const { detect } = makeDetector({}, { now: () => clock });
    const record = readRecord('PutKeyPolicy__awskmsdg__1');
    void detect(envelope(record));
    const claimStatus = async () =>
      (
        await table.client.send(
          new GetItemCommand({
            TableName: table.tableName,
            Key: { pk: { S: `EVENT#${record.eventID}` }, sk: { S: 'CLAIM' } },
            ConsistentRead: true,
          }),
        )
      ).Item?.status?.S;
    while ((await claimStatus()) !== 'saved') await new Promise((resolve) => setTimeout(resolve, 10));

    // Act
    snsMock.reset();
    snsMock.on(PublishCommand).resolves({ MessageId: 'm-2' });
    clock += 90_000;
    const retry = await detect(envelope(record));

    // Assess
    expect(retry.finding).toMatchObject({ severity: 'critical' });
    expect(published(topics.email)).toHaveLength(1);
    expect(await claimStatus()).toBe('done');
  });

  it('alerts everywhere on the retry of a finding saved too large to keep whole, its commands named as not kept', async () => {
    // Prepare: an earlier attempt judged a PutKeyPolicy on keydrift's own key whose finding is too large for a table
    // item (32 KB policies, 5,000 accounts, 150 KB of commands), saved it shortened and could not alert.
    mockLiveKey();
    const record = readRecord('PutKeyPolicy__awskmsdg__1');
    const large: Finding = {
      ...hugeFinding,
      eventId: String(record.eventID),
      timestamp: String(record.eventTime),
      account: '111122223333',
      region: REGION,
      resource: KEY,
    };
    const earlier = store();
    expect(await earlier.claim(large.eventId)).toBe('new');
    await earlier.save({ eventId: large.eventId, finding: large, states: [], baselines: [] });
    await earlier.release(large.eventId);
    const { detect } = makeDetector({ selfKeyArn: KEY });

    // Act
    const retry = await detect(envelope(record));

    // Assess: every topic took it once, in a form its reader reads, and the claim is done.
    expect(retry.finding).toMatchObject({
      eventId: large.eventId,
      truncated: expect.arrayContaining(['/remediation']),
    });
    for (const topic of [topics.chat, topics.email, topics.page, topics.ops]) expect(published(topic)).toHaveLength(1);
    expect(eventsMock).toHaveReceivedCommandTimes(PutEventsCommand, 1);
    const notKept = `# its commands were too many to keep with the finding: aws kms get-key-policy --key-id ${KEY} --region ${REGION} --policy-name default`;
    expect(published(topics.email)[0].Message).toContain(notKept);
    const chat = JSON.parse(String(published(topics.chat)[0].Message));
    expect(JSON.stringify(chat)).toContain('its commands were too many to keep with the finding');
    const page: PageMessage = JSON.parse(String(published(topics.page)[0].Message));
    expect(pagerDutyEventsToSend(page, 'rk').map((e) => [e.event_action, e.dedup_key])).toEqual(
      ['policy', 'tags', 'description'].map((attribute) => ['trigger', pagerDutyDedupKey(large, attribute)]),
    );
    const ops = JSON.parse(String(published(topics.ops)[0].Message));
    expect(ops.email).toContain(notKept);
    expect(pagerDutyEventsToSend(JSON.parse(ops.lambda), 'rk')).toHaveLength(3);
    expect(await detect(envelope(record))).toEqual({ duplicate: true });
  });

  it.each([
    ['its reason', { reason: 'change window' }, 'change window'],
    ['no reason', {}, 'an ignore rule'],
  ])('keeps a finding an ignore rule matches out of alerts and stores it with %s', async (_, rule, ignoredBy) => {
    mockLiveKey();
    const config = parseDetectionConfig({ ignore: [{ event: 'PutKeyPolicy', ...rule }] });
    const { detect } = makeDetector({ config });

    const { finding } = await detect(envelope(readRecord('PutKeyPolicy__awskmsdg__1')));

    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 0);
    expect(eventsMock).toHaveReceivedCommandTimes(PutEventsCommand, 0);
    expect(finding).toBeDefined();
    expect((await store().load([KEY], { finding })).ignoredBy).toBe(ignoredBy);
  });

  it('keeps an ignored finding quiet when a retry takes over its saved claim that was never marked done', async () => {
    // Prepare: an ignore rule matches; the claim is never marked done (throttled, or the invocation timed out first).
    mockLiveKey();
    let clock = Date.parse('2026-11-22T03:00:00Z');
    const config = parseDetectionConfig({ ignore: [{ event: 'PutKeyPolicy', reason: 'change window' }] });
    const { detect } = makeDetector({ config }, { now: () => clock });
    const event = envelope(readRecord('PutKeyPolicy__awskmsdg__1'));
    table.failOnce((_command, input) => String(input.UpdateExpression).includes('completedAt'), throttlingError());
    await detect(event);

    // Act: a later copy of the event, once the claim's lease ran out
    clock += 90_000;
    const retry = await detect(structuredClone(event));

    // Assess
    expect(retry.finding).toMatchObject({ event: 'PutKeyPolicy' });
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 0);
    expect(eventsMock).toHaveReceivedCommandTimes(PutEventsCommand, 0);
    expect(await detect(structuredClone(event))).toEqual({ duplicate: true });
  });

  describe('a revert by a principal an ignore rule matches', () => {
    const remediation = parseDetectionConfig({
      ignore: [{ user: 'arn:aws:sts::*:assumed-role/auto-remediation/*', reason: 'auto-remediation' }],
    });
    /** Alice disables the key (critical: paged); the ignored remediation role enables it again. */
    async function pagedThenReverted(detect: ReturnType<typeof makeDetector>['detect']) {
      mockLiveKey({ state: 'Disabled' });
      const drift = await detect(envelope(readRecord('DisableKey__awskmsdg__1')));
      mockLiveKey({ state: 'Enabled' });
      snsMock.resetHistory();
      eventsMock.resetHistory();
      const revert = Object.assign(enableKeyAfterDisableKey(), {
        userIdentity: assumedRole('auto-remediation', 'revert', '111122223333'),
      });
      return { drift: drift.finding, revert: envelope(revert) };
    }

    it('still sends its resolve to the pager, which closes the incident, and to no one else', async () => {
      // Prepare
      const { detect } = makeDetector({ config: remediation }, { now: () => Date.parse('2014-11-04T01:00:30Z') });
      const { drift, revert } = await pagedThenReverted(detect);

      // Act
      const { finding } = await detect(revert);

      // Assess: the drift was paged; its revert is kept ignored, and goes to the page topic only, marked ignored.
      expect(drift).toMatchObject({ severity: 'critical', status: 'drift' });
      expect(finding).toMatchObject({ event: 'EnableKey', status: 'resolved' });
      expect(published(topics.page).map((m) => JSON.parse(String(m.Message)))).toEqual([{ ...finding, ignored: true }]);
      for (const topic of [topics.chat, topics.email, topics.ops]) expect(published(topic)).toEqual([]);
      expect(eventsMock).toHaveReceivedCommandTimes(PutEventsCommand, 0);
      expect((await store().load([KEY], { finding })).ignoredBy).toBe('auto-remediation');
    });

    it('still closes the incident when the role is a planned principal too (its revert planned)', async () => {
      // Prepare: the remediation role is planned as well as ignored.
      const config = parseDetectionConfig({
        plannedPrincipals: ['arn:aws:iam::111122223333:role/auto-remediation'],
        ignore: [{ user: 'arn:aws:sts::*:assumed-role/auto-remediation/*', reason: 'auto-remediation' }],
      });
      const { detect } = makeDetector({ config }, { now: () => Date.parse('2014-11-04T01:00:30Z') });
      const { drift, revert } = await pagedThenReverted(detect);

      // Act
      const { finding } = await detect(revert);

      // Assess: the drift was paged; its planned revert, back at the baseline, goes to the page topic only.
      expect(drift).toMatchObject({ severity: 'critical', status: 'drift' });
      expect(finding).toMatchObject({
        event: 'EnableKey',
        status: 'planned',
        changes: { key_state: { back_to_baseline: true } },
      });
      expect(published(topics.page).map((m) => JSON.parse(String(m.Message)))).toEqual([{ ...finding, ignored: true }]);
      for (const topic of [topics.chat, topics.email, topics.ops]) expect(published(topic)).toEqual([]);
      expect(eventsMock).toHaveReceivedCommandTimes(PutEventsCommand, 0);
    });

    it('sends that resolve on the retry when the page topic refused it, once', async () => {
      // Prepare: the page topic refuses the resolve once.
      const { detect } = makeDetector({ config: remediation }, { now: () => Date.parse('2014-11-04T01:00:30Z') });
      const { revert } = await pagedThenReverted(detect);
      snsMock
        .on(PublishCommand, { TopicArn: topics.page })
        .rejectsOnce(new Error('connect ETIMEDOUT'))
        .resolves({ MessageId: 'm-2' });
      await expect(detect(revert)).rejects.toBeInstanceOf(PublishError);

      // Act
      const retry = await detect(structuredClone(revert));

      // Assess: tried twice, taken once; nothing else told; a later copy is a duplicate.
      expect(retry.finding).toMatchObject({ event: 'EnableKey', status: 'resolved' });
      expect(published(topics.page)).toHaveLength(2);
      expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 2);
      expect(eventsMock).toHaveReceivedCommandTimes(PutEventsCommand, 0);
      expect(await detect(structuredClone(revert))).toEqual({ duplicate: true });
      expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 2);
    });
  });

  it('has the pager only resolve, and no one else hear, when a role an ignore rule matches approves paged drift', async () => {
    // Prepare: Alice changes the key policy (critical: paged); the pipeline role, planned and ignored (it applies
    // policies all day), then puts one of its own, which the baseline takes over.
    const config = parseDetectionConfig({
      plannedPrincipals: ['arn:aws:iam::111122223333:role/pipeline'],
      ignore: [{ user: 'arn:aws:sts::*:assumed-role/pipeline/*', reason: 'pipeline' }],
    });
    const { detect } = makeDetector({ config }, { now: () => Date.parse('2022-09-01T20:08:00Z') });
    mockLiveKey();
    const drift = await detect(envelope(readRecord('PutKeyPolicy__awskmsdg__1')));
    const pipelinePolicy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' },
      ],
    });
    const approval = Object.assign(readRecord('PutKeyPolicy__awskmsdg__1'), {
      eventID: 'e2000000-0000-4000-8000-000000000002',
      eventTime: '2022-09-01T20:07:16Z',
      userIdentity: assumedRole('pipeline', 'deploy', '111122223333'),
    });
    (approval.requestParameters as Json).policy = pipelinePolicy;
    mockLiveKey({ policy: pipelinePolicy });
    snsMock.resetHistory();
    eventsMock.resetHistory();

    // Act
    const { finding } = await detect(envelope(approval));

    // Assess: the drift was paged; the approval is kept ignored, and the page topic has it for its resolve only.
    expect(drift.finding).toMatchObject({ severity: 'critical', status: 'drift' });
    expect(finding).toMatchObject({ status: 'planned', changes: { policy: { back_to_baseline: true } } });
    const pages = published(topics.page).map((m) => JSON.parse(String(m.Message)) as PageMessage);
    expect(pages).toEqual([{ ...finding, ignored: true }]);
    const sent = pages.flatMap(({ ignored, ...f }) => pagerDutyEventsToSend(f, 'rk', { ignored }));
    expect(sent.map((e) => [e.event_action, e.dedup_key])).toEqual([
      ['resolve', pagerDutyDedupKey(finding!, 'policy')],
    ]);
    for (const topic of [topics.chat, topics.email, topics.ops]) expect(published(topic)).toEqual([]);
    expect(eventsMock).toHaveReceivedCommandTimes(PutEventsCommand, 0);
    expect((await store().load([KEY], { finding })).ignoredBy).toBe('pipeline');
  });

  it("sends findings on keydrift's own key to the ops topic as well", async () => {
    mockLiveKey();
    const { detect } = makeDetector({ selfKeyArn: KEY });

    await detect(envelope(readRecord('PutKeyPolicy__awskmsdg__1')));

    const [ops] = published(topics.ops);
    expect(ops.MessageStructure).toBe('json');
    // A critical finding: the pager's form too, and the attribute its filter policy on the ops topic selects.
    expect(Object.keys(JSON.parse(String(ops.Message))).sort()).toEqual(['default', 'email', 'https', 'lambda']);
    expect(ops.MessageAttributes?.severity).toEqual({ DataType: 'String', StringValue: 'critical' });
    expect(published(topics.email)).toHaveLength(1);
  });

  it("still warns the ops topic, not the last-resort one, when keydrift's own key is disabled and its table cannot be used", async () => {
    // Prepare: the table is encrypted with keydrift's key, which DisableKey just turned off.
    mockLiveKey({ state: 'Disabled' });
    tableKeyDisabled();
    const { detect } = makeDetector({ selfKeyArn: KEY });

    // Act
    const error = await detect(envelope(readRecord('DisableKey__awskmsdg__1'))).catch((e: unknown) => e);

    // Assess: the invocation fails (Lambda retries it), but the ops topic has the change, judged from the event.
    expect(error).toBeInstanceOf(Error);
    const [ops] = published(topics.ops);
    expect(JSON.parse(String(ops.Message)).email).toContain('DisableKey');
    expect(ops.Subject).toMatch(/CRITICAL/i);
    // It pages from the ops topic too: the page topic, encrypted with the disabled key, cannot take it.
    expect(ops.MessageAttributes?.severity?.StringValue).toBe('critical');
    expect(JSON.parse(JSON.parse(String(ops.Message)).lambda)).toMatchObject({
      event: 'DisableKey',
      severity: 'critical',
    });
    expect(published(topics.email)).toHaveLength(0);
    expect(output.metric('OpsFallbackAlerts')).toBe(1);
    expect(published(LAST_RESORT_TOPIC)).toHaveLength(0);
    expect(output.metric('LastResortAlerts')).toBe(0);
  });

  it("warns the last-resort topic when both of keydrift's keys are disabled, and still fails the invocation", async () => {
    // Prepare: the ops key was disabled first, then DisableKey turned keydrift's main key off: its table refuses, and
    // so do all four topics.
    mockLiveKey({ state: 'Disabled' });
    tableKeyDisabled();
    topicsKeyDisabled(topics.chat, topics.email, topics.page, topics.ops);
    const { detect } = makeDetector({ selfKeyArn: KEY });

    // Act
    const error = await detect(envelope(readRecord('DisableKey__awskmsdg__1'))).catch((e: unknown) => e);

    // Assess: Lambda retries it, and the last-resort topic has what the ops topic would have had, the pager's form too.
    expect(error).toBeInstanceOf(Error);
    expect(published(topics.ops)).toHaveLength(1);
    const [lastResort] = published(LAST_RESORT_TOPIC);
    expect(lastResort.MessageStructure).toBe('json');
    expect(lastResort.Subject).toMatch(/CRITICAL/i);
    expect(Object.keys(JSON.parse(String(lastResort.Message))).sort()).toEqual(['default', 'email', 'https', 'lambda']);
    expect(JSON.parse(String(lastResort.Message)).email).toContain('DisableKey');
    expect(JSON.parse(JSON.parse(String(lastResort.Message)).lambda)).toMatchObject({
      event: 'DisableKey',
      resource: KEY,
      severity: 'critical',
    });
    expect(lastResort.MessageAttributes?.severity?.StringValue).toBe('critical');
    expect(output.metric('OpsFallbackAlerts')).toBe(0);
    expect(output.metric('LastResortAlerts')).toBe(1);
    expect(output.logs('WARN').map((line) => line.message)).toContainEqual(
      expect.stringContaining('sent to the last-resort topic'),
    );
  });

  it("falls back to the last-resort topic for the ops key's own DisableKey once keydrift's main key is disabled", async () => {
    // Prepare: the main key was disabled first (its table refuses), then DisableKey turned the ops key off.
    mockLiveKey({ state: 'Disabled' });
    tableKeyDisabled();
    topicsKeyDisabled(topics.chat, topics.email, topics.page, topics.ops);
    const { detect } = makeDetector({ opsKeyArn: KEY });

    // Act
    await expect(detect(envelope(readRecord('DisableKey__awskmsdg__1')))).rejects.toThrow();

    // Assess
    const [lastResort] = published(LAST_RESORT_TOPIC);
    expect(JSON.parse(JSON.parse(String(lastResort.Message)).lambda)).toMatchObject({
      event: 'DisableKey',
      resource: KEY,
      severity: 'critical',
    });
    expect(output.metric('LastResortAlerts')).toBe(1);
  });

  it("warns the ops topic of a change to the ops key that cannot be processed while keydrift's main key is disabled", async () => {
    // Prepare: the main key is disabled (its table and the chat, email and page topics refuse); the ops key is not.
    mockLiveKey();
    tableKeyDisabled();
    topicsKeyDisabled(topics.chat, topics.email, topics.page);
    const { detect } = makeDetector({ opsKeyArn: KEY });

    // Act
    await expect(detect(envelope(readRecord('PutKeyPolicy__awskmsdg__1')))).rejects.toThrow();

    // Assess
    const [ops] = published(topics.ops);
    expect(JSON.parse(JSON.parse(String(ops.Message)).lambda)).toMatchObject({ event: 'PutKeyPolicy', resource: KEY });
    expect(output.metric('OpsFallbackAlerts')).toBe(1);
    expect(published(LAST_RESORT_TOPIC)).toHaveLength(0);
  });

  it('sends nothing to the last-resort topic when only the ops topic fails and the finding reached chat, e-mail and page', async () => {
    // Prepare: both keys are fine; SNS fails every message to the ops topic alone (an internal error, not its key).
    mockLiveKey();
    snsMock
      .on(PublishCommand, { TopicArn: topics.ops })
      .rejects(Object.assign(new Error('Internal error'), { name: 'InternalErrorException', $metadata: {} }));
    const { detect } = makeDetector({ selfKeyArn: KEY });

    // Act
    await expect(detect(envelope(readRecord('PutKeyPolicy__awskmsdg__1')))).rejects.toThrow();

    // Assess: everyone subscribed to the last-resort topic had the finding already, through chat, e-mail and page.
    expect(published(topics.chat)).toHaveLength(1);
    expect(published(topics.email)).toHaveLength(1);
    expect(published(topics.page)).toHaveLength(1);
    expect(published(LAST_RESORT_TOPIC)).toHaveLength(0);
    expect(output.metric('LastResortAlerts')).toBe(0);
  });

  it("alerts the ops topic once for an event on keydrift's own key when another target fails and Lambda retries", async () => {
    // Prepare: EventBridge fails once, after the ops topic took the finding.
    mockLiveKey({ state: 'Disabled' });
    eventsMock
      .on(PutEventsCommand)
      .rejectsOnce(Object.assign(new Error('Internal failure'), { name: 'InternalException', $metadata: {} }))
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    const { detect } = makeDetector({ selfKeyArn: KEY });
    const record = readRecord('DisableKey__awskmsdg__1');

    // Act
    await expect(detect(envelope(record))).rejects.toThrow();
    await detect(envelope(record));

    // Assess
    expect(published(topics.ops)).toHaveLength(1);
    expect(published(topics.email)).toHaveLength(1);
    expect(eventsMock.commandCalls(PutEventsCommand)).toHaveLength(2);
  });

  it("sends keydrift's own key's finding to ops after its warning when the retry finds the main key's topics refused", async () => {
    // Prepare: the key's approved policy; Alice's PutKeyPolicy; the first attempt's policy read is throttled (ops is
    // warned from the event alone), and by the retry the key refuses the chat, e-mail and page topics.
    const approved = defaultPolicy().replace('"Enable IAM User Permissions"', '"Approved root access"');
    await store().acceptBaseline(
      keySnapshotOf(liveKey({ policy: approved })),
      'arn:aws:sts::111122223333:assumed-role/Admin/carol',
    );
    mockLiveKey({ policy: defaultPolicy() });
    let throttled = true;
    kmsMock.on(GetKeyPolicyCommand).callsFake(async () => {
      if (throttled) throw kmsError('ThrottlingException', 'Rate exceeded');
      return liveKey({ policy: defaultPolicy() }).policy;
    });
    let clock = Date.parse('2026-11-22T03:00:00Z');
    const { detect } = makeDetector({ selfKeyArn: KEY }, { now: () => clock });
    const event = envelope(readRecord('PutKeyPolicy__awskmsdg__1'));
    await expect(detect(structuredClone(event))).rejects.toThrow();
    throttled = false;
    const refused = Object.assign(new Error('Access denied to the key'), {
      name: 'KMSAccessDeniedException',
      $metadata: { httpStatusCode: 400 },
    });
    for (const topic of [topics.chat, topics.email, topics.page]) {
      snsMock.on(PublishCommand, { TopicArn: topic }).rejects(refused);
    }

    // Act
    clock += 90_000;
    const retry = await detect(structuredClone(event));

    // Assess: ops had the warning (the approved policy unknown), then the finding, which says what to put back.
    const ops = published(topics.ops).map((m) => JSON.parse(JSON.parse(String(m.Message)).lambda));
    expect(ops.map((finding) => finding.remediation[0])).toEqual([
      expect.stringMatching(/^# approved value unknown/),
      expect.stringMatching(/^aws kms put-key-policy .*Approved root access/),
    ]);
    expect(ops[1]).toEqual(retry.finding);
  });

  it("warns the ops topic of a failing event on keydrift's own key only as its finding would alert", async () => {
    // Prepare: DynamoDB's routine grant on keydrift's own key (info), an ignored tag change (critical by override);
    // KMS throttles every policy read, so each attempt fails.
    const grant = readRecord('CreateGrant__awskmsdg__3');
    const tag = Object.assign(readRecord('PutKeyPolicy__awskmsdg__1'), {
      eventName: 'TagResource',
      requestParameters: { keyId: KEY, tags: [{ tagKey: 'Team', tagValue: 'payments' }] },
    });
    mockLiveKey();
    kmsMock.on(GetKeyPolicyCommand).rejects(kmsError('ThrottlingException', 'Rate exceeded'));
    const config = parseDetectionConfig({
      severityOverrides: { TagResource: 'critical' },
      ignore: [{ event: 'TagResource', reason: 'tagging pipeline' }],
    });
    const { detect } = makeDetector({ selfKeyArn: KEY, config });

    // Act
    await expect(detect(envelope(grant))).rejects.toBeInstanceOf(RetryableKmsError);
    await expect(detect(envelope(tag))).rejects.toBeInstanceOf(RetryableKmsError);

    // Assess: neither finding would reach any topic, so neither does its warning
    expect(snsMock).not.toHaveReceivedCommand(PublishCommand);
    expect(output.metric('OpsFallbackAlerts')).toBe(0);
  });

  /**
   * The DisableKey of keydrift's own key, just disabled, whose policy reads KMS throttles: the invocation and Lambda's
   * two retries, each failing.
   */
  async function failSelfKeyEventOnEveryAttempt() {
    mockLiveKey({ state: 'Disabled' });
    kmsMock.on(GetKeyPolicyCommand).rejects(kmsError('ThrottlingException', 'Rate exceeded'));
    let clock = Date.parse('2026-11-22T03:00:00Z');
    const { detect } = makeDetector({ selfKeyArn: KEY }, { now: () => clock });
    const event = envelope(readRecord('DisableKey__awskmsdg__1'));
    for (let attempt = 0; attempt < 3; attempt++) {
      await expect(detect(structuredClone(event))).rejects.toBeInstanceOf(RetryableKmsError);
      clock += 90_000;
    }
  }

  it("warns the ops topic once of an event on keydrift's own key that fails on every attempt", async () => {
    // Act: KMS throttles every policy read of keydrift's own key, just disabled: each attempt fails.
    await failSelfKeyEventOnEveryAttempt();

    // Assess: the claim kept the warning, so the retries do not send it again.
    expect(published(topics.ops)).toHaveLength(1);
    expect(output.metric('OpsFallbackAlerts')).toBe(1);
  });

  it("warns the last-resort topic once of an event on keydrift's own key that fails on every attempt, ops refusing", async () => {
    // Prepare: the ops key is disabled too.
    topicsKeyDisabled(topics.ops);

    // Act: KMS throttles every policy read of keydrift's own key, just disabled: each attempt fails.
    await failSelfKeyEventOnEveryAttempt();

    // Assess: the claim kept the last-resort warning, so the retries send it neither there nor to ops again.
    expect(published(LAST_RESORT_TOPIC)).toHaveLength(1);
    expect(published(topics.ops)).toHaveLength(1);
    expect(output.metric('LastResortAlerts')).toBe(1);
  });

  it('does not fall back to the ops topic for a failing event on any other key', async () => {
    mockLiveKey({ state: 'Disabled' });
    table.client.middlewareStack.add(
      () => async () => {
        throw Object.assign(new Error('Internal server error'), { name: 'InternalServerError', $metadata: {} });
      },
      { step: 'initialize', name: 'tableDown' },
    );
    const { detect } = makeDetector();

    await expect(detect(envelope(readRecord('DisableKey__awskmsdg__1')))).rejects.toThrow();

    expect(published(topics.ops)).toHaveLength(0);
    expect(published(LAST_RESORT_TOPIC)).toHaveLength(0);
  });

  it('pages no one for a grant an AWS service created for its caller (invokedBy), but keeps it', async () => {
    // Prepare: DynamoDB's grant as ListGrants reports it.
    const record = readRecord('CreateGrant__awskmsdg__3');
    const request = record.requestParameters as Record<string, never>;
    mockLiveKey({
      grants: [
        {
          KeyId: KEY,
          GrantId: String((record.responseElements as Json).grantId),
          GranteePrincipal: request.granteePrincipal,
          RetiringPrincipal: request.retiringPrincipal,
          Operations: request.operations,
          Constraints: { EncryptionContextSubset: (request.constraints as Json).encryptionContextSubset as never },
        },
      ],
    });
    const { detect, sleeps } = makeDetector();

    // Act
    const { finding } = await detect(envelope(record));

    // Assess
    expect(finding).toMatchObject({ event: 'CreateGrant', severity: 'info', status: 'planned' });
    expect(snsMock).not.toHaveReceivedCommand(PublishCommand);
    expect(eventsMock).toHaveReceivedCommandTimes(PutEventsCommand, 1);
    expect(sleeps).toEqual([]);
    expect(output.metric('FindingsBySeverity', { severity: 'info' })).toBe(1);
  });
});

describe('createDetector: live state', () => {
  it('reads again while KMS still shows the key Enabled after DisableKey, and reports one finding', async () => {
    // Prepare: the first DescribeKey predates the change (read-after-write lag).
    mockLiveKey();
    kmsMock
      .on(DescribeKeyCommand, { KeyId: KEY })
      .resolvesOnce(liveKey({ state: 'Enabled' }).describe)
      .resolves(liveKey({ state: 'Disabled' }).describe);
    const { detect, sleeps } = makeDetector();

    // Act
    const { finding } = await detect(envelope(readRecord('DisableKey__awskmsdg__1')));

    // Assess
    expect(kmsMock).toHaveReceivedCommandTimes(DescribeKeyCommand, 2);
    expect(sleeps).toEqual([500]);
    expect(finding).toMatchObject({
      event: 'DisableKey',
      severity: 'critical',
      changes: { key_state: { before: 'Enabled', after: 'Disabled' } },
    });
    expect(published(topics.email)).toHaveLength(1);
    expect(output.metric('ReadAfterWriteRetries')).toBe(1);
    const saved = await store().load([KEY]);
    expect(saved.states.get(KEY)?.snapshot.attributes.key_state).toBe('Disabled');
    expect(saved.baselines.get(KEY)?.snapshot.attributes.key_state).toBe('Enabled');
  });

  it('names the key by its alias in the first finding about it, from the live read', async () => {
    mockLiveKey({ state: 'Disabled', aliases: ['alias/card-payments'] });
    const { detect } = makeDetector();

    const { finding } = await detect(envelope(readRecord('DisableKey__awskmsdg__1')));

    expect(finding?.summary).toBe('Key alias/card-payments disabled by Alice');
  });

  it('takes the event as the truth for a path the live state never shows, after lagRetries re-reads', async () => {
    mockLiveKey({ state: 'Enabled' });
    const { detect, sleeps } = makeDetector({ lagRetries: 2, lagDelayMs: 200 });

    const { finding } = await detect(envelope(readRecord('DisableKey__awskmsdg__1')));

    expect(sleeps).toEqual([200, 200]);
    expect(finding?.changes.key_state).toEqual({ before: 'Enabled', after: 'Disabled' });
    expect((await store().load([KEY])).states.get(KEY)?.snapshot.attributes.key_state).toBe('Disabled');
    expect(output.metric('ReadAfterWriteLag')).toBe(1);
  });

  it('reports a key KMS no longer knows (DeleteKey service event) as deleted', async () => {
    kmsMock.onAnyCommand().rejects(kmsError('NotFoundException', `Key '${KEY}' does not exist`));
    const { detect } = makeDetector();

    const { finding } = await detect(envelope(readRecord('DeleteKey__awskmsdg__1')));

    expect(finding).toMatchObject({
      event: 'DeleteKey',
      severity: 'critical',
      resource: KEY,
      changes: { key_state: { after: 'Deleted' } },
    });
    expect((await store().load([KEY])).states.get(KEY)?.snapshot.attributes).toEqual({
      key_state: 'Deleted',
      deletion_date: null,
    });
  });

  it('reads again a key KMS says it does not know, right after an event that did not delete it (eventual consistency)', async () => {
    // KMS may answer NotFoundException for a while for a key it has only just created: a key the event changed, not
    // one it deleted, that reads as gone is read again, as a live state that does not show the change yet is.
    mockLiveKey();
    kmsMock
      .on(DescribeKeyCommand, { KeyId: KEY })
      .rejectsOnce(kmsError('NotFoundException', `Key '${KEY}' does not exist`))
      .resolves(liveKey().describe);
    const { detect, sleeps } = makeDetector();

    const { finding } = await detect(envelope(readRecord('PutKeyPolicy__awskmsdg__1')));

    expect(sleeps).toEqual([500]);
    expect(output.metric('ReadAfterWriteRetries')).toBe(1);
    expect(finding).toMatchObject({ event: 'PutKeyPolicy', resource: KEY });
    const saved = await store().load([KEY]);
    expect(saved.states.get(KEY)?.snapshot.attributes).toMatchObject({
      key_state: 'Enabled',
      policy: expect.anything(),
    });
    expect(saved.baselines.get(KEY)?.snapshot.attributes.key_state).toBe('Enabled');
  });

  it('keeps the key material staged for a rotation across live reads: its deletion leaves the key usable, read once', async () => {
    // Prepare: a key with imported material, as KMS shows it throughout (the staged material changes nothing it shows).
    const live = mockLiveKey();
    const material = {
      Origin: 'EXTERNAL',
      ExpirationModel: 'KEY_MATERIAL_EXPIRES',
      ValidTo: new Date('2026-01-01T20:00:00Z'),
    } as const;
    kmsMock.on(DescribeKeyCommand, { KeyId: KEY }).resolves({
      ...live.describe,
      KeyMetadata: { ...live.describe.KeyMetadata, ...material },
    } as DescribeKeyCommandOutput);
    const staged = '123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0';
    const record = (name: string, eventID: string, eventTime: string, edit: (r: Json) => void) => {
      const r = Object.assign(sample(name) as Json, { eventID, eventTime });
      edit(r);
      return envelope(r);
    };
    // Alice's first import, then her new material staged for a rotation (the current ImportKeyMaterial record), then
    // its deletion by its id (the DeleteImportedKeyMaterial record).
    const first = record('ImportKeyMaterial__awskmsdg__1', 'import-1', '2025-05-20T20:30:00Z', (r) => {
      (r.requestParameters as Json).validTo = 'Jan 1, 2026 8:00:00 PM';
    });
    const stage = record('ImportKeyMaterial__awskmsdg__1', 'import-2', '2025-05-20T20:40:00Z', (r) => {
      Object.assign(r.requestParameters as Json, {
        validTo: 'May 21, 2026, 5:47:45 AM',
        importType: 'NEW_KEY_MATERIAL',
      });
      r.responseElements = { keyId: KEY, keyMaterialId: staged };
    });
    const deletion = record(
      'DeleteImportedKeyMaterial__awskmsdg-current__1',
      'delete-1',
      '2025-05-20T20:45:08Z',
      (r) => {
        r.awsRegion = REGION;
        Object.assign(r.requestParameters as Json, { keyMaterialId: staged });
        r.responseElements = { keyId: KEY, keyMaterialId: staged };
      },
    );
    let clock = Date.parse('2025-05-20T20:30:03Z');
    const { detect, sleeps } = makeDetector({}, { now: () => clock });
    await detect(first);
    clock = Date.parse('2025-05-20T20:40:03Z');
    await detect(stage);
    clock = Date.parse('2025-05-20T20:45:11Z');

    // Act
    const { finding } = await detect(deletion);

    // Assess: reported at its severity, but no key waiting for its import, and nothing for the reads to wait for.
    expect(finding).toMatchObject({ event: 'DeleteImportedKeyMaterial', severity: 'error', status: 'drift' });
    expect(finding?.changes).toEqual({});
    expect(finding?.summary).toContain('staged for the next on-demand rotation');
    expect(sleeps).toEqual([]);
    expect(output.metric('ReadAfterWriteLag')).toBe(0);
    const saved = (await store().load([KEY])).states.get(KEY)?.snapshot;
    expect(saved?.attributes.key_state).toBe('Enabled');
    expect(saved?.stagedKeyMaterial).toBeUndefined();
  });

  describe('key material staged for a rotation, its events out of order', () => {
    const CURRENT = '0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a09080706050403020100';
    const STAGED = '123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0';
    /** DescribeKey's answer for the key with imported material: its state, and the material it names current. */
    function describeImportedKey(state: KeyState, currentKeyMaterialId: string): DescribeKeyCommandOutput {
      const { describe } = liveKey({ state });
      return {
        ...describe,
        KeyMetadata: {
          ...describe.KeyMetadata,
          Origin: 'EXTERNAL',
          ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
          CurrentKeyMaterialId: currentKeyMaterialId,
        },
      } as DescribeKeyCommandOutput;
    }
    /** KMS's answers for the key with imported material: its state, and the material DescribeKey names current. */
    function liveImportedKey(state: KeyState, currentKeyMaterialId: string) {
      mockLiveKey({ state });
      kmsMock.on(DescribeKeyCommand, { KeyId: KEY }).resolves(describeImportedKey(state, currentKeyMaterialId));
    }
    const record = (name: string, eventID: string, eventTime: string, edit: (r: Json) => void = () => {}) => {
      const r = Object.assign(sample(name) as Json, { eventID, eventTime, awsRegion: REGION });
      edit(r);
      return envelope(r);
    };
    // Alice's first import, her new material staged (the current ImportKeyMaterial record), her rotation on demand
    // (which makes it current), then Mallory's deletion of that material by its id.
    const firstImport = record('ImportKeyMaterial__awskmsdg__1', 'import-1', '2025-05-20T20:30:00Z', (r) => {
      Object.assign(r.requestParameters as Json, {
        validTo: undefined,
        expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
      });
    });
    const staging = (eventId: string, time: string, material: string) =>
      record('ImportKeyMaterial__awskmsdg__1', eventId, time, (r) => {
        Object.assign(r.requestParameters as Json, {
          validTo: undefined,
          expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
          importType: 'NEW_KEY_MATERIAL',
        });
        r.responseElements = { keyId: KEY, keyMaterialId: material };
      });
    const stage = staging('import-2', '2025-05-20T20:40:00Z', STAGED);
    const rotation = record('RotateKeyOnDemand__awskmsdg-current__1', 'rotate-1', '2025-05-20T20:42:00Z');
    const deletion = record('DeleteImportedKeyMaterial__awskmsdg-current__1', 'delete-1', '2025-05-20T20:45:08Z');
    const NEXT = 'fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210';
    const stageNext = staging('import-3', '2025-05-20T20:50:00Z', NEXT);

    it('takes the deletion of staged material that KMS names current as the deletion of the material the key uses', async () => {
      // Prepare: the import and the staging judged; the rotation's event is still on its way when the deletion comes.
      liveImportedKey('Enabled', CURRENT);
      let clock = Date.parse('2025-05-20T20:30:03Z');
      const { detect } = makeDetector({}, { now: () => clock });
      await detect(firstImport);
      clock = Date.parse('2025-05-20T20:40:03Z');
      await detect(stage);
      liveImportedKey('PendingImport', STAGED);
      clock = Date.parse('2025-05-20T20:45:11Z');

      // Act
      const { finding } = await detect(deletion);

      // Assess: the key is unusable, as KMS shows it: paged, not taken for the staged material's deletion.
      expect(finding).toMatchObject({ event: 'DeleteImportedKeyMaterial', severity: 'critical' });
      expect(finding?.changes.key_state).toMatchObject({ before: 'Enabled', after: 'PendingImport' });
      const saved = (await store().load([KEY])).states.get(KEY)?.snapshot;
      expect(saved?.attributes.key_state).toBe('PendingImport');
      expect(saved?.stagedKeyMaterial).toBeUndefined();
    });

    it('does not take material as staged when its import comes after the rotation that made it current', async () => {
      // Prepare: the first import, then the rotation; the staging ImportKeyMaterial is delivered last.
      liveImportedKey('Enabled', CURRENT);
      let clock = Date.parse('2025-05-20T20:30:03Z');
      const { detect } = makeDetector({}, { now: () => clock });
      await detect(firstImport);
      liveImportedKey('Enabled', STAGED);
      clock = Date.parse('2025-05-20T20:42:03Z');
      await detect(rotation);
      clock = Date.parse('2025-05-20T20:42:05Z');

      // Act
      await detect(stage);

      // Assess: KMS names the material current, so its deletion is that of the material the key uses.
      expect((await store().load([KEY])).states.get(KEY)?.snapshot.stagedKeyMaterial).toBeUndefined();
      liveImportedKey('PendingImport', STAGED);
      clock = Date.parse('2025-05-20T20:45:11Z');
      const { finding } = await detect(deletion);
      expect(finding).toMatchObject({ event: 'DeleteImportedKeyMaterial', severity: 'critical' });
    });

    it('still takes the deletion of material KMS does not name current as that of the staged material', async () => {
      liveImportedKey('Enabled', CURRENT);
      let clock = Date.parse('2025-05-20T20:30:03Z');
      const { detect } = makeDetector({}, { now: () => clock });
      await detect(firstImport);
      clock = Date.parse('2025-05-20T20:40:03Z');
      await detect(stage);
      clock = Date.parse('2025-05-20T20:45:11Z');

      const { finding } = await detect(deletion);

      expect(finding).toMatchObject({ event: 'DeleteImportedKeyMaterial', severity: 'error', changes: {} });
    });

    describe('the deletion of material keydrift does not know staged (EventBridge gives no order)', () => {
      /** Read as the deletion of staged material: an error changing nothing, paged to no one, the key as KMS shows it. */
      async function expectStagedDeletion(finding: Finding | undefined) {
        expect(finding).toMatchObject({ event: 'DeleteImportedKeyMaterial', severity: 'error', status: 'drift' });
        expect(finding?.changes).toEqual({});
        expect(finding?.summary).toContain('staged for the next on-demand rotation');
        expect(published(topics.page)).toHaveLength(0);
        expect((await store().load([KEY])).states.get(KEY)?.snapshot.attributes.key_state).toBe('Enabled');
      }

      /** A detector that judged the first import (20:30), STAGED's staging (20:40) and NEXT's (20:50); its clock 20:50:10. */
      async function detectorAfterNextStaged() {
        let clock = Date.parse('2025-05-20T20:30:03Z');
        const detector = makeDetector({}, { now: () => clock });
        await detector.detect(firstImport);
        clock = Date.parse('2025-05-20T20:40:03Z');
        await detector.detect(stage);
        clock = Date.parse('2025-05-20T20:50:03Z');
        await detector.detect(stageNext);
        clock = Date.parse('2025-05-20T20:50:10Z');
        return detector;
      }

      it('takes a deletion delivered before the import that staged its material as that of staged material, as KMS still shows the key after the re-reads', async () => {
        // Prepare: the first import judged; STAGED's deletion is delivered before the import that staged it. KMS shows
        // the key usable with its first material throughout.
        liveImportedKey('Enabled', CURRENT);
        let clock = Date.parse('2025-05-20T20:30:03Z');
        const { detect, sleeps } = makeDetector({}, { now: () => clock });
        await detect(firstImport);
        clock = Date.parse('2025-05-20T20:45:11Z');

        // Act
        const { finding } = await detect(deletion);

        // Assess: the reads were taken again (a read may lag behind the deletion of the material the key uses), and
        // the last one still names other material current.
        expect(sleeps).toEqual([500, 500, 500]);
        await expectStagedDeletion(finding);
        // The import delivered after it stages nothing: the material it staged is deleted.
        clock = Date.parse('2025-05-20T20:45:20Z');
        await detect(stage);
        const saved = (await store().load([KEY])).states.get(KEY)?.snapshot;
        expect(saved?.attributes.key_state).toBe('Enabled');
        expect(saved?.stagedKeyMaterial).toBeUndefined();
      });

      it('takes a late deletion of material staged before the one keydrift knows staged as that of staged material', async () => {
        // Prepare: STAGED staged, deleted (20:45:08), then NEXT staged (20:50); STAGED's deletion is delivered last.
        liveImportedKey('Enabled', CURRENT);
        const { detect, sleeps } = await detectorAfterNextStaged();

        // Act
        const { finding } = await detect(deletion);

        // Assess: read again first, though NEXT's import was judged since; NEXT is still the material staged.
        expect(sleeps).toEqual([500, 500, 500]);
        await expectStagedDeletion(finding);
        expect((await store().load([KEY])).states.get(KEY)?.snapshot.stagedKeyMaterial).toBe(NEXT);
      });

      it.each([
        ['the deleted material current', STAGED],
        ['the material before the rotation current', CURRENT],
      ])(
        'still pages the deletion of the material the key uses while the first reads lag, showing the key usable with %s',
        async (_, shownCurrent) => {
          // Prepare: STAGED was rotated in (its events not judged yet) and deleted. KMS shows the key usable with CURRENT
          // to the first import; after the deletion, its first two reads still show the key usable, then pending import.
          mockLiveKey();
          kmsMock
            .on(DescribeKeyCommand, { KeyId: KEY })
            .resolvesOnce(describeImportedKey('Enabled', CURRENT))
            .resolvesOnce(describeImportedKey('Enabled', shownCurrent))
            .resolvesOnce(describeImportedKey('Enabled', shownCurrent))
            .resolves(describeImportedKey('PendingImport', STAGED));
          let clock = Date.parse('2025-05-20T20:30:03Z');
          const { detect, sleeps } = makeDetector({}, { now: () => clock });
          await detect(firstImport);
          clock = Date.parse('2025-05-20T20:45:11Z');

          // Act
          const { finding } = await detect(deletion);

          // Assess
          expect(sleeps).toEqual([500, 500]);
          expect(finding).toMatchObject({ event: 'DeleteImportedKeyMaterial', severity: 'critical' });
          expect(finding?.changes.key_state).toMatchObject({ before: 'Enabled', after: 'PendingImport' });
          expect(published(topics.page)).toHaveLength(1);
          expect((await store().load([KEY])).states.get(KEY)?.snapshot.attributes.key_state).toBe('PendingImport');
        },
      );

      it('still pages a late deletion that KMS shows pending import once read again, though a later import was judged', async () => {
        // Prepare: as above, STAGED's deletion delivered after NEXT's import; the first read after it lags, showing the
        // key usable with CURRENT, then KMS shows it pending import.
        mockLiveKey();
        kmsMock
          .on(DescribeKeyCommand, { KeyId: KEY })
          .resolvesOnce(describeImportedKey('Enabled', CURRENT))
          .resolvesOnce(describeImportedKey('Enabled', CURRENT))
          .resolvesOnce(describeImportedKey('Enabled', CURRENT))
          .resolvesOnce(describeImportedKey('Enabled', CURRENT))
          .resolves(describeImportedKey('PendingImport', STAGED));
        const { detect, sleeps } = await detectorAfterNextStaged();

        // Act
        const { finding } = await detect(deletion);

        // Assess
        expect(sleeps).toEqual([500]);
        expect(finding).toMatchObject({ event: 'DeleteImportedKeyMaterial', severity: 'critical' });
        expect(published(topics.page)).toHaveLength(1);
      });

      it('still pages the deletion of the material the key uses when every read lags, naming it current', async () => {
        liveImportedKey('Enabled', CURRENT);
        let clock = Date.parse('2025-05-20T20:30:03Z');
        const { detect, sleeps } = makeDetector({}, { now: () => clock });
        await detect(firstImport);
        liveImportedKey('Enabled', STAGED);
        clock = Date.parse('2025-05-20T20:45:11Z');

        const { finding } = await detect(deletion);

        expect(sleeps).toEqual([500, 500, 500]);
        expect(finding).toMatchObject({ event: 'DeleteImportedKeyMaterial', severity: 'critical' });
        expect(finding?.changes.key_state).toMatchObject({ before: 'Enabled', after: 'PendingImport' });
        expect(published(topics.page)).toHaveLength(1);
        expect((await store().load([KEY])).states.get(KEY)?.snapshot.attributes.key_state).toBe('PendingImport');
      });
    });

    describe('an older staging import delivered after a newer one, the key judged from its events (KMS refuses reads)', () => {
      // Alice stages NEXT (20:50) after the rotation that made STAGED current (20:42); STAGED's own import (20:40)
      // comes last. Then one of them is deleted.
      const deletionOf = (id: string) =>
        record('DeleteImportedKeyMaterial__awskmsdg-current__1', 'delete-2', '2025-05-20T20:55:00Z', (r) => {
          Object.assign(r.requestParameters as Json, { keyMaterialId: id });
          r.responseElements = { keyId: KEY, keyMaterialId: id };
        });

      it.each([
        ['the material staged last (NEXT)', NEXT, 'error', 'staged for the next on-demand rotation'],
        ['the material in use (STAGED, rotated in)', STAGED, 'critical', 'cannot be used until it is re-imported'],
      ])('judges the deletion of %s with its own story', async (_, id, severity, story) => {
        // Prepare
        kmsMock.onAnyCommand().rejects(kmsError('AccessDeniedException', 'not authorized to perform kms:DescribeKey'));
        const { detect } = makeDetector();
        for (const event of [firstImport, rotation, stageNext, stage]) await detect(event);
        expect((await store().load([KEY])).states.get(KEY)?.snapshot.stagedKeyMaterial).toBe(NEXT);

        // Act
        const { finding } = await detect(deletionOf(id));

        // Assess: the older import did not take NEXT's place as the material staged.
        expect(finding).toMatchObject({ event: 'DeleteImportedKeyMaterial', severity });
        expect(finding?.summary).toContain(story);
      });
    });
  });

  describe('expiry of key material staged for a rotation (KMS Imported Key Material Expiration names no material)', () => {
    const CURRENT = '0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a09080706050403020100';
    const STAGED = '123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0';
    /** KMS's answers for the key with imported material, as DescribeKey shows it: its state and its own material. */
    function liveImportedKey(state: KeyState, material: Partial<KeyMetadata>) {
      const live = mockLiveKey({ state });
      const describe = {
        ...live.describe,
        KeyMetadata: { ...live.describe.KeyMetadata, Origin: 'EXTERNAL', CurrentKeyMaterialId: CURRENT, ...material },
      } as DescribeKeyCommandOutput;
      kmsMock.on(DescribeKeyCommand, { KeyId: KEY }).resolves(describe);
      return { ...live, describe };
    }
    const record = (name: string, eventID: string, eventTime: string, edit: (r: Json) => void = () => {}) => {
      const r = Object.assign(sample(name) as Json, { eventID, eventTime, awsRegion: REGION });
      edit(r);
      return envelope(r);
    };
    /** Alice's first import (its expiry as `validTo` says, none without it), then her new material staged until May 21. */
    const imports = (validTo?: string) => [
      record('ImportKeyMaterial__awskmsdg__1', 'import-1', '2025-05-20T20:30:00Z', (r) => {
        Object.assign(r.requestParameters as Json, {
          validTo,
          expirationModel: validTo ? 'KEY_MATERIAL_EXPIRES' : 'KEY_MATERIAL_DOES_NOT_EXPIRE',
        });
      }),
      record('ImportKeyMaterial__awskmsdg__1', 'import-2', '2025-05-20T20:40:00Z', (r) => {
        Object.assign(r.requestParameters as Json, {
          validTo: 'May 21, 2026, 5:47:45 AM',
          expirationModel: 'KEY_MATERIAL_EXPIRES',
          importType: 'NEW_KEY_MATERIAL',
        });
        r.responseElements = { keyId: KEY, keyMaterialId: STAGED };
      }),
    ];
    /** KMS's native event when material of the key expires: the key's id only (the public sample). */
    const nativeExpiry = { ...sample('KMSImportedKeyMaterialExpiration__awskmsdg__1'), time: '2026-05-21T05:47:50Z' };
    /** KMS's record of its deletion of the expired material, naming it (serviceEventDetails.keyMaterialId). */
    const deletedExpired = (id: string) =>
      record('DeleteExpiredKeyMaterial__awskmsdg__1', 'expired-1', '2026-05-21T05:48:55Z', (r) => {
        Object.assign(r.serviceEventDetails as Json, { keyMaterialId: id });
      });

    async function judgedImports(
      detect: ReturnType<typeof makeDetector>['detect'],
      clock: { at: number },
      validTo?: string,
    ) {
      const [first, stage] = imports(validTo);
      clock.at = Date.parse('2025-05-20T20:30:03Z');
      await detect(first);
      clock.at = Date.parse('2025-05-20T20:40:03Z');
      await detect(stage);
    }

    /** Read as the expiry of staged material: an error changing nothing, no re-reads, the key stored as KMS shows it. */
    async function expectStagedExpiry(finding: Finding | undefined, sleeps: number[]) {
      expect(finding).toMatchObject({ severity: 'error' });
      expect(finding?.changes).toEqual({});
      expect(finding?.summary).toContain('staged for the next on-demand rotation');
      expect(sleeps).toEqual([]);
      expect((await store().load([KEY])).states.get(KEY)?.snapshot.attributes.key_state).toBe('Enabled');
    }

    it('takes the expiry as that of the staged material when KMS shows the key usable with its own material valid', async () => {
      // Prepare: the current material does not expire, as an operator accepted the key; the staged one expired.
      const live = liveImportedKey('Enabled', { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' });
      const clock = { at: 0 };
      const { detect, sleeps } = makeDetector({}, { now: () => clock.at });
      await judgedImports(detect, clock);
      await store().acceptBaseline(keySnapshotOf(live), 'arn:aws:sts::111122223333:assumed-role/Admin/carol');
      clock.at = Date.parse('2026-05-21T05:47:53Z');

      // Act
      const { finding } = await detect(nativeExpiry as Json);

      // Assess: an error, not a key waiting for its import; nothing for the reads to wait for; the state is KMS's.
      expect(finding).toMatchObject({
        event: 'KMS Imported Key Material Expiration',
        severity: 'error',
        status: 'drift',
      });
      expect(finding?.changes).toEqual({});
      expect(finding?.summary).toBe(
        'Imported key material staged for the next on-demand rotation of 1234abcd-12ab-34cd-56ef-1234567890ab expired: the key goes on using its current material',
      );
      expect(finding?.remediation).toEqual([]);
      expect(sleeps).toEqual([]);
      expect(published(topics.page)).toHaveLength(0);
      const saved = (await store().load([KEY])).states.get(KEY)?.snapshot;
      expect(saved?.attributes.key_state).toBe('Enabled');
      expect(saved?.stagedKeyMaterial).toBeUndefined();

      // The deletion KMS records next names that material: the key stays as KMS shows it.
      clock.at = Date.parse('2026-05-21T05:48:58Z');
      const deletion = await detect(deletedExpired(STAGED));
      expect(deletion.finding).toMatchObject({ event: 'DeleteExpiredKeyMaterial', severity: 'error' });
      expect(deletion.finding?.changes).toEqual({});
      expect((await store().load([KEY])).states.get(KEY)?.snapshot.attributes.key_state).toBe('Enabled');
    });

    it('takes it so too when the material the key uses expires later than the event', async () => {
      liveImportedKey('Enabled', {
        ExpirationModel: 'KEY_MATERIAL_EXPIRES',
        ValidTo: new Date('2026-06-01T00:00:00Z'),
      });
      const clock = { at: 0 };
      const { detect, sleeps } = makeDetector({}, { now: () => clock.at });
      await judgedImports(detect, clock, 'Jun 1, 2026, 12:00:00 AM');
      clock.at = Date.parse('2026-05-21T05:47:53Z');

      const { finding } = await detect(nativeExpiry as Json);

      await expectStagedExpiry(finding, sleeps);
    });

    it('takes the deletion of expired material keydrift did not know staged as that of staged material, as KMS shows it', async () => {
      // Prepare: the staging import was never seen; KMS names the material it deleted, not the one it names current.
      liveImportedKey('Enabled', { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' });
      const clock = { at: Date.parse('2025-05-20T20:30:03Z') };
      const { detect, sleeps } = makeDetector({}, { now: () => clock.at });
      await detect(imports()[0]);
      clock.at = Date.parse('2026-05-21T05:48:58Z');

      const { finding } = await detect(deletedExpired(STAGED));

      expect(finding?.event).toBe('DeleteExpiredKeyMaterial');
      await expectStagedExpiry(finding, sleeps);
    });

    it('still takes the key as pending import when KMS shows the material the key uses expired by then', async () => {
      // Prepare: the key's own material expires with the event; KMS still shows it Enabled (its read lagging), then
      // PendingImport.
      liveImportedKey('Enabled', {
        ExpirationModel: 'KEY_MATERIAL_EXPIRES',
        ValidTo: new Date('2026-05-21T05:47:45Z'),
      });
      const clock = { at: 0 };
      const { detect } = makeDetector({ lagRetries: 1 }, { now: () => clock.at });
      await judgedImports(detect, clock, 'May 21, 2026, 5:47:45 AM');
      clock.at = Date.parse('2026-05-21T05:47:53Z');

      const { finding } = await detect(nativeExpiry as Json);

      expect(finding?.changes.key_state).toMatchObject({ before: 'Enabled', after: 'PendingImport' });
      expect(finding?.summary).toContain('the key cannot be used until it is re-imported');
      expect((await store().load([KEY])).states.get(KEY)?.snapshot.attributes.key_state).toBe('PendingImport');
    });

    it('still takes the key as pending import when the material keydrift knows it uses expired by then, read re-imported', async () => {
      // Prepare: the key's own material expires with the event (as its import said); an automation re-imports it on
      // KMS's expiry event, before the detector reads the key, whose read then shows it usable with a new ValidTo.
      const clock = { at: 0 };
      const { detect } = makeDetector({ lagRetries: 1 }, { now: () => clock.at });
      liveImportedKey('Enabled', {
        ExpirationModel: 'KEY_MATERIAL_EXPIRES',
        ValidTo: new Date('2026-05-21T05:47:45Z'),
      });
      await judgedImports(detect, clock, 'May 21, 2026, 5:47:45 AM');
      liveImportedKey('Enabled', {
        ExpirationModel: 'KEY_MATERIAL_EXPIRES',
        ValidTo: new Date('2027-05-21T00:00:00Z'),
      });
      clock.at = Date.parse('2026-05-21T05:48:10Z');

      // Act
      const { finding } = await detect(nativeExpiry as Json);

      // Assess: the material in use expired (the key could not be used until its re-import, whose event comes next),
      // not the staged one: the read is newer than the event.
      expect(finding?.changes.key_state).toMatchObject({ before: 'Enabled', after: 'PendingImport' });
      expect(finding?.summary).toContain('the key cannot be used until it is re-imported');
    });

    it('still takes the key as pending import when KMS first shows the material the key uses expired by then, then re-imported', async () => {
      // Prepare: keydrift knows nothing of the key's material; its first read, lagging, shows the material it uses
      // expiring with the event; an automation re-imports it before the re-read, which shows a new ValidTo.
      const expired = liveImportedKey('Enabled', {
        ExpirationModel: 'KEY_MATERIAL_EXPIRES',
        ValidTo: new Date('2026-05-21T05:47:45Z'),
      });
      const reimported = liveImportedKey('Enabled', {
        ExpirationModel: 'KEY_MATERIAL_EXPIRES',
        ValidTo: new Date('2027-05-21T00:00:00Z'),
      });
      kmsMock.on(DescribeKeyCommand, { KeyId: KEY }).resolvesOnce(expired.describe).resolves(reimported.describe);
      const { detect } = makeDetector({ lagRetries: 1 }, { now: () => Date.parse('2026-05-21T05:47:53Z') });

      // Act
      const { finding } = await detect(nativeExpiry as Json);

      // Assess: the expiry of the material in use, as the first read showed, not that of staged material.
      expect(finding?.changes.key_state).toMatchObject({ after: 'PendingImport' });
      expect(finding?.summary).toContain('the key cannot be used until it is re-imported');
    });

    it('still takes the key as pending import when KMS reads it so', async () => {
      liveImportedKey('PendingImport', {});
      const clock = { at: 0 };
      const { detect, sleeps } = makeDetector({}, { now: () => clock.at });
      liveImportedKey('Enabled', { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' });
      await judgedImports(detect, clock);
      liveImportedKey('PendingImport', {});
      clock.at = Date.parse('2026-05-21T05:47:53Z');

      const { finding } = await detect(nativeExpiry as Json);

      expect(finding?.changes.key_state).toMatchObject({ before: 'Enabled', after: 'PendingImport' });
      expect(sleeps).toEqual([]);
      expect((await store().load([KEY])).states.get(KEY)?.snapshot.attributes.key_state).toBe('PendingImport');
    });
  });

  it('takes a key that still reads as gone after the re-reads as deleted since (an event redriven long after)', async () => {
    kmsMock.onAnyCommand().rejects(kmsError('NotFoundException', `Key '${KEY}' does not exist`));
    const { detect, sleeps } = makeDetector({ lagRetries: 2 });

    await detect(envelope(readRecord('PutKeyPolicy__awskmsdg__1')));

    expect(sleeps).toEqual([500, 500]);
    expect((await store().load([KEY])).states.get(KEY)?.snapshot.attributes.key_state).toBe('Deleted');
  });

  it('judges from the event alone when KMS refuses to let keydrift read the key', async () => {
    kmsMock.onAnyCommand().rejects(kmsError('AccessDeniedException', 'not authorized to perform kms:DescribeKey'));
    const { detect } = makeDetector();

    const { finding } = await detect(envelope(readRecord('PutKeyPolicy__awskmsdg__1')));

    expect(finding).toMatchObject({ event: 'PutKeyPolicy', severity: 'critical' });
    expect(published(topics.page)).toHaveLength(1);
    // Counted apart from failures: such a key fails the same way on every event.
    expect(output.metric('UnreadableKeys')).toBe(1);
    expect(output.metric('LiveReadFailures')).toBe(0);
  });

  describe('a key KMS refuses to let keydrift read, its events delivered newest first', () => {
    const alice = (eventId: string, time: string) => callAt(eventId, time);
    /** A detector whose clock is an hour past each event it judges (the redrive of an older one comes last). */
    function lockedOutDetector() {
      kmsMock.onAnyCommand().rejects(kmsError('AccessDeniedException', 'not authorized to perform kms:DescribeKey'));
      let clock = Date.parse('2026-11-01T09:00:00Z');
      const { detect } = makeDetector({}, { now: () => clock });
      return async (record: CloudTrailRecord) => {
        clock = Math.max(clock, Date.parse(String(record.eventTime)) + 3_600_000);
        return (await detect(envelope(record as Json))).finding;
      };
    }
    const opened = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' },
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::444455556666:root' }, Action: 'kms:Decrypt', Resource: '*' },
      ],
    });

    it('keeps the rotation the newer event stored when the older one arrives last', async () => {
      // Prepare: Alice turns rotation off at 09:01 and on again at 09:02; the DisableKeyRotation arrives last.
      const deliver = lockedOutDetector();
      const off = kmsRecords.disableKeyRotation(keyRef(KEY), alice('off', '2026-11-01T09:01:00Z'));
      const on = kmsRecords.enableKeyRotation(keyRef(KEY), alice('on', '2026-11-01T09:02:00Z'));
      await deliver(on);

      // Act
      await deliver(off);
      const saved = await store().load([KEY]);
      const next = await deliver(kmsRecords.disableKeyRotation(keyRef(KEY), alice('off-2', '2026-11-01T12:00:00Z')));

      // Assess: the key's rotation is on, as the newer event left it; the next change is judged from there.
      expect(saved.states.get(KEY)?.snapshot.attributes.enable_key_rotation).toBe(true);
      expect(next?.changes.enable_key_rotation).toMatchObject({ before: true, after: false });
    });

    it("keeps the rotation stored when a failed call to turn it off comes before that state's save was over", async () => {
      // Prepare: Alice turns rotation on at 09:00; the detector saves that an hour later, after Mallory's
      // DisableKeyRotation at 09:30, which AWS refused.
      const deliver = lockedOutDetector();
      await deliver(kmsRecords.enableKeyRotation(keyRef(KEY), alice('on', '2026-11-01T09:00:00Z')));
      const refused = { code: 'AccessDenied', message: 'not authorized to perform kms:DisableKeyRotation' };
      const attempt = kmsRecords.disableKeyRotation(keyRef(KEY), {
        ...alice('try', '2026-11-01T09:30:00Z'),
        error: refused,
      });

      // Act
      const finding = await deliver(attempt);

      // Assess: the attempt is reported, and changed nothing of what keydrift knows.
      expect(finding).toMatchObject({ event: 'DisableKeyRotation', status: 'denied' });
      const saved = await store().load([KEY]);
      expect(saved.states.get(KEY)?.snapshot.attributes).toMatchObject({ enable_key_rotation: true });
    });

    it('keeps the policy the newer PutKeyPolicy stored when the older one arrives last', async () => {
      // Prepare: Alice opens the key to another account at 09:01 and puts the default policy back at 09:02.
      const deliver = lockedOutDetector();
      const open = kmsRecords.putKeyPolicy(keyRef(KEY), opened, alice('open', '2026-11-01T09:01:00Z'));
      const close = kmsRecords.putKeyPolicy(keyRef(KEY), defaultPolicy(), alice('close', '2026-11-01T09:02:00Z'));
      await deliver(close);

      // Act
      const late = await deliver(open);

      // Assess: the older change is still reported; the stored policy stays the one put back.
      expect(late).toMatchObject({ event: 'PutKeyPolicy', status: 'drift', severity: 'critical' });
      const saved = await store().load([KEY]);
      expect(saved.states.get(KEY)?.snapshot.attributes.policy).toEqual(normalizePolicy(defaultPolicy()));
    });

    it('keeps the key material a newer import stored when an older rotation on demand, which leaves it unknown, arrives last', async () => {
      // Prepare: Alice rotates the key (imported material) on demand at 09:01 and imports its material again at 09:02,
      // with a new expiry; the rotation arrives last.
      const deliver = lockedOutDetector();
      const rotation = kmsRecords.rotateKeyOnDemand(keyRef(KEY), alice('rotate', '2026-11-01T09:01:00Z'));
      const reimport = Object.assign(sample('ImportKeyMaterial__awskmsdg__1') as CloudTrailRecord, {
        eventID: 'import',
        eventTime: '2026-11-01T09:02:00Z',
      });
      (reimport.requestParameters as Json).validTo = 'Jan 1, 2027 8:00:00 PM';
      await deliver(reimport);

      // Act
      await deliver(rotation);

      // Assess: the material is the one the newer import set, as if the rotation had come first.
      const saved = await store().load([KEY]);
      expect(saved.states.get(KEY)?.snapshot.attributes.key_material).toEqual({
        expiration_model: 'KEY_MATERIAL_EXPIRES',
        valid_to: '2027-01-01T20:00:00Z',
      });
    });

    it('leaves the key material unknown when an older import arrives after the rotation on demand that followed it', async () => {
      // Prepare: Alice imports the key's material at 09:01 and rotates it on demand at 09:02 (the material it then uses
      // is not the record's to say); the import arrives last.
      const deliver = lockedOutDetector();
      const reimport = Object.assign(sample('ImportKeyMaterial__awskmsdg__1') as CloudTrailRecord, {
        eventID: 'import',
        eventTime: '2026-11-01T09:01:00Z',
      });
      await deliver(kmsRecords.rotateKeyOnDemand(keyRef(KEY), alice('rotate', '2026-11-01T09:02:00Z')));

      // Act
      await deliver(reimport);

      // Assess: the material stays unknown, as in-time delivery leaves it.
      const saved = await store().load([KEY]);
      expect(saved.states.get(KEY)?.snapshot.attributes).not.toHaveProperty('key_material');
    });

    it('keeps the key pending deletion when the deletion of its material, newer, was judged first', async () => {
      // Prepare: Alice schedules the key's deletion at 09:01, and its imported material is deleted at 09:02 (KMS leaves
      // the key pending deletion); the ScheduleKeyDeletion arrives last.
      const deliver = lockedOutDetector();
      const schedule = kmsRecords.scheduleKeyDeletion(
        keyRef(KEY),
        { pendingWindowInDays: 7, deletionDate: new Date('2026-11-08T09:01:00Z') },
        alice('schedule', '2026-11-01T09:01:00Z'),
      );
      const materialGone = Object.assign(sample('DeleteImportedKeyMaterial__awskmsdg-current__1') as CloudTrailRecord, {
        eventID: 'material-gone',
        awsRegion: REGION,
        eventTime: '2026-11-01T09:02:00Z',
      });
      await deliver(materialGone);

      // Act
      await deliver(schedule);

      // Assess: the key is stored pending deletion, as in-time delivery leaves it.
      const saved = await store().load([KEY]);
      expect(saved.states.get(KEY)?.snapshot.attributes).toMatchObject({
        key_state: 'PendingDeletion',
        key_material: null,
      });
    });

    it('keeps the key disabled when an import of its material, newer, was judged first', async () => {
      // Prepare: Alice disables the key at 09:01 and imports its material again at 09:02 (KMS leaves a disabled key
      // disabled); the DisableKey arrives last.
      const deliver = lockedOutDetector();
      const reimport = Object.assign(sample('ImportKeyMaterial__awskmsdg__1') as CloudTrailRecord, {
        eventID: 'import',
        eventTime: '2026-11-01T09:02:00Z',
      });
      await deliver(reimport);

      // Act
      await deliver(kmsRecords.disableKey(keyRef(KEY), alice('disable', '2026-11-01T09:01:00Z')));

      // Assess
      const saved = await store().load([KEY]);
      expect(saved.states.get(KEY)?.snapshot.attributes.key_state).toBe('Disabled');
    });

    describe('its material deleted and imported again, each judging the key state from the one before', () => {
      const materialGone = (time: string) =>
        Object.assign(sample('DeleteImportedKeyMaterial__awskmsdg-current__1') as CloudTrailRecord, {
          eventID: 'material-gone',
          awsRegion: REGION,
          eventTime: time,
        });
      const reimport = (time: string) =>
        Object.assign(sample('ImportKeyMaterial__awskmsdg__1') as CloudTrailRecord, {
          eventID: 'import',
          eventTime: time,
        });

      it('keeps the key enabled by the newer import when the deletion of its material arrives last', async () => {
        // Prepare: Alice deletes the key's material at 09:01 and imports it again at 09:02; the deletion arrives last.
        const deliver = lockedOutDetector();
        await deliver(reimport('2026-11-01T09:02:00Z'));

        // Act
        await deliver(materialGone('2026-11-01T09:01:00Z'));

        // Assess: enabled with the imported material, as KMS (and in-time delivery) leaves it.
        const saved = await store().load([KEY]);
        expect(saved.states.get(KEY)?.snapshot.attributes).toMatchObject({
          key_state: 'Enabled',
          key_material: { expiration_model: 'KEY_MATERIAL_EXPIRES', valid_to: '2021-01-01T20:00:00Z' },
        });
      });

      it('keeps the key pending import by the newer deletion of its material when the import arrives last', async () => {
        // Prepare: Alice imports the key's material at 09:01 and deletes it at 09:02; the import arrives last.
        const deliver = lockedOutDetector();
        await deliver(materialGone('2026-11-01T09:02:00Z'));

        // Act
        await deliver(reimport('2026-11-01T09:01:00Z'));

        // Assess
        const saved = await store().load([KEY]);
        expect(saved.states.get(KEY)?.snapshot.attributes).toMatchObject({
          key_state: 'PendingImport',
          key_material: null,
        });
      });
    });

    describe('its tags, grants and aliases, each entry dated by the event that set or removed it', () => {
      const grant = {
        grantId: '0c237476b39f8bc44e45212e08498fbe3151305030726c0590dd8d3e9f3d6a60',
        granteePrincipal: 'arn:aws:iam::111122223333:role/payments-app',
        operations: ['Decrypt'],
      };

      it('keeps the tag removed when the TagResource that added it, older, arrives after the UntagResource', async () => {
        // Prepare: Alice tags the key owner=alice at 09:01 and removes the tag at 09:02; the TagResource arrives last.
        const deliver = lockedOutDetector();
        await deliver(kmsRecords.untagResource(keyRef(KEY), ['owner'], alice('untag', '2026-11-01T09:02:00Z')));

        // Act
        await deliver(kmsRecords.tagResource(keyRef(KEY), { owner: 'alice' }, alice('tag', '2026-11-01T09:01:00Z')));
        const saved = await store().load([KEY]);
        const next = await deliver(
          kmsRecords.tagResource(keyRef(KEY), { owner: 'bob' }, alice('tag-2', '2026-11-01T12:00:00Z')),
        );

        // Assess: the tag is known gone, as the newer event left it; the next change is judged from there.
        expect(saved.states.get(KEY)?.snapshot.attributes['tags#owner']).toBeNull();
        expect(next?.changes.tags).toMatchObject({ before: {}, after: { owner: 'bob' } });
      });

      it('keeps the tag the newer TagResource stored when an older UntagResource of it arrives last', async () => {
        // Prepare: Alice removes the tag owner at 09:01 and tags the key owner=alice at 09:02; the UntagResource arrives
        // last.
        const deliver = lockedOutDetector();
        await deliver(kmsRecords.tagResource(keyRef(KEY), { owner: 'alice' }, alice('tag', '2026-11-01T09:02:00Z')));

        // Act
        await deliver(kmsRecords.untagResource(keyRef(KEY), ['owner'], alice('untag', '2026-11-01T09:01:00Z')));

        // Assess
        const saved = await store().load([KEY]);
        expect(saved.states.get(KEY)?.snapshot.attributes['tags#owner']).toBe('alice');
      });

      it("keeps the tag's value the newer TagResource stored when an older one of another value arrives last", async () => {
        // Prepare: Alice tags the key owner=alice at 09:01 and owner=bob at 09:02; the first TagResource arrives last.
        const deliver = lockedOutDetector();
        await deliver(kmsRecords.tagResource(keyRef(KEY), { owner: 'bob' }, alice('bob', '2026-11-01T09:02:00Z')));

        // Act
        await deliver(kmsRecords.tagResource(keyRef(KEY), { owner: 'alice' }, alice('alice', '2026-11-01T09:01:00Z')));

        // Assess
        const saved = await store().load([KEY]);
        expect(saved.states.get(KEY)?.snapshot.attributes['tags#owner']).toBe('bob');
      });

      it('keeps the alias off the key when its CreateAlias, older, arrives after the DeleteAlias', async () => {
        // Prepare: Alice creates alias/payments on the key at 09:01 and deletes it at 09:02; the CreateAlias arrives
        // last.
        const deliver = lockedOutDetector();
        await deliver(kmsRecords.deleteAlias('alias/payments', keyRef(KEY), alice('delete', '2026-11-01T09:02:00Z')));

        // Act
        await deliver(kmsRecords.createAlias('alias/payments', keyRef(KEY), alice('create', '2026-11-01T09:01:00Z')));

        // Assess: neither the key nor the alias is known to have it, as in-time delivery leaves them.
        const saved = await store().load([KEY, `${KEY.split(':key/')[0]}:alias/payments`]);
        expect(saved.states.get(KEY)?.snapshot.attributes['aliases#alias/payments']).toBeNull();
        expect(
          saved.states.get(`${KEY.split(':key/')[0]}:alias/payments`)?.snapshot.attributes.target_key_id,
        ).toBeNull();
      });

      it.each([
        ['RevokeGrant', kmsRecords.revokeGrant],
        ['RetireGrant', kmsRecords.retireGrant],
      ])('keeps the grant ended when its CreateGrant, older, arrives after the %s', async (_name, end) => {
        // Prepare: Alice grants the payments app Decrypt at 09:01, and the grant ends at 09:02; the CreateGrant arrives
        // last.
        const deliver = lockedOutDetector();
        await deliver(end(keyRef(KEY), grant.grantId, alice('end', '2026-11-01T09:02:00Z')));

        // Act
        await deliver(kmsRecords.createGrant(keyRef(KEY), grant, alice('create', '2026-11-01T09:01:00Z')));

        // Assess: the grant is known gone, as in-time delivery leaves it.
        const saved = await store().load([KEY]);
        expect(saved.states.get(KEY)?.snapshot.attributes[`grants#${grant.grantId}`]).toBeNull();
      });
    });
  });

  it('fails and releases the claim when KMS keeps throttling, so that the retry judges the event', async () => {
    mockLiveKey();
    kmsMock
      .on(GetKeyPolicyCommand, { KeyId: KEY })
      .rejectsOnce(kmsError('ThrottlingException', 'Rate exceeded'))
      .resolves(liveKey().policy);
    const { detect } = makeDetector();
    const event = envelope(readRecord('PutKeyPolicy__awskmsdg__1'));

    await expect(detect(event)).rejects.toBeInstanceOf(RetryableKmsError);
    const retry = await detect(structuredClone(event));

    expect(retry.finding?.event).toBe('PutKeyPolicy');
    expect(published(topics.email)).toHaveLength(1);
  });

  it('judges a second event on the key against the state the first one saved', async () => {
    // The first event is processed two minutes after it happened, well before the second one.
    const { detect } = makeDetector({}, { now: () => Date.parse('2014-11-04T00:54:43Z') });
    mockLiveKey({ state: 'Disabled' });
    await detect(envelope(readRecord('DisableKey__awskmsdg__1')));
    const enable = readRecord('DisableKey__awskmsdg__1');
    Object.assign(enable, {
      eventName: 'EnableKey',
      eventID: 'e2f4a6c8-0000-4000-8000-000000000001',
      eventTime: '2014-11-04T01:00:00Z',
    });
    mockLiveKey({ state: 'Enabled' });

    const { finding } = await detect(envelope(enable));

    expect(finding).toMatchObject({
      event: 'EnableKey',
      status: 'resolved',
      severity: 'info',
      changes: { key_state: { before: 'Disabled', after: 'Enabled' } },
    });
  });

  it("approves a replica's primary moved between two other Regions, which its read shows with no event here", async () => {
    // Prepare: a replica here of a primary in us-east-1, known from an earlier event's read.
    const { detect } = makeDetector({}, { now: () => Date.parse('2014-11-04T00:54:43Z') });
    mockLiveKey({ state: 'Disabled', primaryRegion: 'us-east-1' });
    await detect(envelope(readRecord('DisableKey__awskmsdg__1')));
    // The primary moved to eu-west-1: UpdatePrimaryRegion is recorded in us-east-1 and eu-west-1 only.
    mockLiveKey({ state: 'Enabled', primaryRegion: 'eu-west-1' });

    // Act: an event here about the key
    const { finding } = await detect(envelope(enableKeyAfterDisableKey()));

    // Assess: nothing of the move is drift here; the baseline follows it, as the state does.
    expect(Object.keys(finding?.changes ?? {})).toEqual(['key_state']);
    const loaded = await store().load([KEY]);
    expect(loaded.states.get(KEY)?.snapshot.attributes.primary_region).toBe('eu-west-1');
    expect(loaded.baselines.get(KEY)?.snapshot.attributes.primary_region).toBe('eu-west-1');
  });

  it("never approves a replica's primary moved on from here, where keydrift last saw it (a promotion, drift)", async () => {
    // Prepare: a replica here of a primary in us-east-1, then promoted here, unapproved (reported as drift); each
    // event judged half a minute after it happened.
    let clock = Date.parse('2014-11-04T00:53:13Z');
    const { detect } = makeDetector({}, { now: () => clock });
    mockLiveKey({ state: 'Disabled', primaryRegion: 'us-east-1' });
    await detect(envelope(readRecord('DisableKey__awskmsdg__1')));
    mockLiveKey({ state: 'Disabled', primaryRegion: REGION });
    clock = Date.parse('2014-11-04T01:00:30Z');
    const promoted = await detect(
      envelope(
        Object.assign(sample('UpdatePrimaryRegion__awskmsdg__2') as Json, {
          awsRegion: REGION,
          eventTime: '2014-11-04T01:00:00Z',
          requestParameters: { keyId: KEY, primaryRegion: REGION },
        }),
      ),
    );
    expect(promoted.finding).toMatchObject({ status: 'drift', changes: { primary_region: { after: REGION } } });
    // Moved on from here to eu-west-1 (recorded here too, the old primary's Region).
    mockLiveKey({ state: 'Disabled', primaryRegion: 'eu-west-1' });
    clock = Date.parse('2014-11-04T01:30:30Z');

    // Act: another event here about the key
    await detect(
      envelope(
        Object.assign(readRecord('DisableKey__awskmsdg__1'), {
          eventID: 'e2f4a6c8-0000-4000-8000-000000000003',
          eventTime: '2014-11-04T01:30:00Z',
        }),
      ),
    );

    // Assess: the approved primary is still us-east-1; the state keeps the promotion reported, so that the reconciler
    // reports the move on, which no event judged here explained.
    const loaded = await store().load([KEY]);
    expect(loaded.states.get(KEY)?.snapshot.attributes.primary_region).toBe(REGION);
    expect(loaded.baselines.get(KEY)?.snapshot.attributes.primary_region).toBe('us-east-1');
  });

  it('keeps the live state when an older event arrives after a later change was judged (no lag re-reads)', async () => {
    // Prepare: EnableKey (01:00) is judged first; the DisableKey before it arrives late, and KMS shows Enabled.
    const { detect, sleeps } = makeDetector({}, { now: () => Date.parse('2014-11-04T01:00:30Z') });
    mockLiveKey({ state: 'Enabled' });
    const enable = enableKeyAfterDisableKey();
    await detect(envelope(enable));

    // Act
    const { finding } = await detect(envelope(readRecord('DisableKey__awskmsdg__1')));

    // Assess: the late DisableKey is still reported, but the stored state stays what KMS shows.
    expect(finding).toMatchObject({ event: 'DisableKey', severity: 'critical' });
    expect(sleeps).toEqual([]);
    const loaded = await store().load([KEY]);
    expect(loaded.states.get(KEY)?.snapshot.attributes.key_state).toBe('Enabled');
  });

  describe('planned changes EventBridge delivers out of order', () => {
    // The pipeline is a planned principal; it opens or closes the key to account 444455556666 a minute apart.
    const pipelineDetector = () =>
      makeDetector(
        { config: parseDetectionConfig({ plannedPrincipals: ['arn:aws:iam::111122223333:user/Pipeline'] }) },
        { now: () => Date.parse('2022-09-01T20:08:00Z') },
      ).detect;
    const opened = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' },
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::444455556666:root' }, Action: 'kms:Decrypt', Resource: '*' },
      ],
    });
    /** `record` as made by IAM user `user` at `eventTime`, delivered by EventBridge. */
    const as = (record: Json, user: string, eventTime: string, eventID: string) => {
      Object.assign(record.userIdentity as Json, { arn: `arn:aws:iam::111122223333:user/${user}`, userName: user });
      return envelope(Object.assign(record, { eventTime, eventID }));
    };
    const put = (user: string, policy: string, eventTime: string, eventID: string) => {
      const record = readRecord('PutKeyPolicy__awskmsdg__1');
      (record.requestParameters as Json).policy = policy;
      return as(record, user, eventTime, eventID);
    };

    it('keeps the later of two planned policy changes approved when the earlier arrives last: a revert to it is drift', async () => {
      // Prepare: the pipeline puts the default policy at 20:06:16, then opens the key; the second comes first.
      const detect = pipelineDetector();
      mockLiveKey({ policy: opened });
      await detect(put('Pipeline', opened, '2022-09-01T20:07:16Z', 'e2000000-0000-4000-8000-000000000002'));

      // Act: the earlier planned change arrives; then someone else puts that earlier policy back.
      const late = await detect(
        put('Pipeline', defaultPolicy(), '2022-09-01T20:06:16Z', 'e1000000-0000-4000-8000-000000000001'),
      );
      mockLiveKey({ policy: defaultPolicy() });
      const revert = await detect(
        put('Mallory', defaultPolicy(), '2022-09-01T20:10:00Z', 'e3000000-0000-4000-8000-000000000003'),
      );

      // Assess
      expect(late.finding).toMatchObject({ status: 'planned' });
      expect(revert.finding).toMatchObject({
        status: 'drift',
        changes: { policy: { removed_principals: ['arn:aws:iam::444455556666:root'] } },
      });
    });

    it('keeps a planned policy change approved when the planned CreateKey before it arrives last: reopening is drift', async () => {
      // Prepare: the pipeline creates the key open at 20:06:16, then closes it; the policy change comes first.
      const detect = pipelineDetector();
      const created = sample('CreateKey__awskmsdg__2') as Json;
      (created.requestParameters as Json).policy = opened;
      Object.assign((created.responseElements as { keyMetadata: Json }).keyMetadata, {
        keyId: KEY.split('/').pop(),
        arn: KEY,
      });
      created.resources = [{ accountId: '111122223333', type: 'AWS::KMS::Key', ARN: KEY }];
      mockLiveKey({ policy: defaultPolicy() });
      await detect(put('Pipeline', defaultPolicy(), '2022-09-01T20:07:16Z', 'e2000000-0000-4000-8000-000000000002'));

      // Act: the creation arrives; then someone else opens the key again.
      const late = await detect(
        as(created, 'Pipeline', '2022-09-01T20:06:16Z', 'e1000000-0000-4000-8000-000000000001'),
      );
      mockLiveKey({ policy: opened });
      const reopened = await detect(
        put('Mallory', opened, '2022-09-01T20:10:00Z', 'e3000000-0000-4000-8000-000000000003'),
      );

      // Assess
      expect(late.finding).toMatchObject({ event: 'CreateKey', status: 'planned' });
      expect(reopened.finding).toMatchObject({
        status: 'drift',
        severity: 'critical',
        changes: { policy: { external_accounts: ['444455556666'] } },
      });
    });

    it('keeps who accepted the baseline, when and why, when a planned change moves it on', async () => {
      // Prepare: at 20:00 carol accepts the key closed, saying why; at 20:07:16 the pipeline opens it.
      const detect = pipelineDetector();
      await store().acceptBaseline(
        keySnapshotOf(liveKey({ policy: defaultPolicy() })),
        'arn:aws:sts::111122223333:assumed-role/Admin/carol',
        undefined,
        { expectedVersion: null, readAt: '2022-09-01T20:00:00.000Z' },
        'CHG-4711: closed until the audit',
      );
      const accepted = (await store().load([KEY])).baselines.get(KEY);
      mockLiveKey({ policy: opened });

      // Act
      const planned = await detect(
        put('Pipeline', opened, '2022-09-01T20:07:16Z', 'e2000000-0000-4000-8000-000000000002'),
      );

      // Assess: the planned change is approved; the accept it builds on is still recorded as it was
      expect(planned.finding).toMatchObject({ status: 'planned' });
      const baseline = (await store().load([KEY])).baselines.get(KEY);
      expect(baseline?.snapshot.attributes.policy).toEqual(normalizePolicy(opened));
      expect(baseline).toMatchObject({
        version: 2,
        acceptedBy: accepted?.acceptedBy,
        acceptedAt: accepted?.acceptedAt,
        acceptReason: 'CHG-4711: closed until the audit',
      });
    });

    it("leaves an operator's accept approved when a planned change made before it arrives last: reopening is drift", async () => {
      // Prepare: the pipeline opens the key at 20:06:16 (delivered late); Mallory closes it at 20:07:16; at 20:08
      // carol accepts the key as it is, closed (as keydrift baseline accept writes it, read then).
      const detect = pipelineDetector();
      mockLiveKey({ policy: defaultPolicy() });
      await detect(put('Mallory', defaultPolicy(), '2022-09-01T20:07:16Z', 'e2000000-0000-4000-8000-000000000002'));
      const { states } = await store().load([KEY]);
      await store().acceptBaseline(
        keySnapshotOf(liveKey({ policy: defaultPolicy() })),
        'arn:aws:sts::111122223333:assumed-role/Admin/carol',
        undefined,
        { expectedVersion: states.get(KEY)?.version ?? null, readAt: '2022-09-01T20:08:00.000Z' },
      );

      // Act: the pipeline's older change arrives; then someone opens the key again.
      const late = await detect(
        put('Pipeline', opened, '2022-09-01T20:06:16Z', 'e1000000-0000-4000-8000-000000000001'),
      );
      mockLiveKey({ policy: opened });
      const reopened = await detect(
        put('Mallory', opened, '2022-09-01T20:10:00Z', 'e3000000-0000-4000-8000-000000000003'),
      );

      // Assess: the accept, newer than the pipeline's change, is still what is approved.
      expect(late.finding).toMatchObject({ status: 'planned' });
      expect((await store().load([KEY])).baselines.get(KEY)?.snapshot.attributes.policy).toEqual(
        normalizePolicy(defaultPolicy()),
      );
      expect(reopened.finding).toMatchObject({
        status: 'drift',
        severity: 'critical',
        changes: { policy: { external_accounts: ['444455556666'] } },
      });
    });

    describe('a tag the pipeline adds and removes a minute apart, the later change delivered first', () => {
      const tag = (user: string, eventTime: string, eventID: string) => {
        const record = sample('TagResource__awskmsdg__1') as Json;
        (record.requestParameters as Json).tags = [{ tagKey: 'owner', tagValue: 'alice' }];
        return as(record, user, eventTime, eventID);
      };
      const untag = (user: string, eventTime: string, eventID: string) => {
        const record = sample('UntagResource__awskmsdg__1') as Json;
        (record.requestParameters as Json).tagKeys = ['owner'];
        return as(record, user, eventTime, eventID);
      };
      const liveTags = (tags: Record<string, string>) => mockLiveKey({ tags });
      /** carol accepts the key at 20:08 with these tags, as keydrift baseline accept writes it. */
      const acceptedAt2008 = (tags: Record<string, string>) =>
        store().acceptBaseline(
          keySnapshotOf(liveTags(tags)),
          'arn:aws:sts::111122223333:assumed-role/Admin/carol',
          undefined,
          {
            expectedVersion: null,
            readAt: '2022-09-01T20:08:00.000Z',
          },
        );
      const approvedOwner = async () =>
        (await store().load([KEY])).baselines.get(KEY)?.snapshot.attributes['tags#owner'];

      it('keeps the tag approved removed when the earlier TagResource arrives last: tagging it again is drift', async () => {
        // Prepare: the pipeline tags the key owner=alice at 20:06:16 and removes the tag at 20:07:16; the removal comes
        // first.
        const detect = pipelineDetector();
        liveTags({});
        await detect(untag('Pipeline', '2022-09-01T20:07:16Z', 'e2000000-0000-4000-8000-000000000002'));

        // Act: the earlier TagResource arrives; then someone else puts the tag back.
        const late = await detect(tag('Pipeline', '2022-09-01T20:06:16Z', 'e1000000-0000-4000-8000-000000000001'));
        liveTags({ owner: 'alice' });
        const retagged = await detect(tag('Mallory', '2022-09-01T20:10:00Z', 'e3000000-0000-4000-8000-000000000003'));

        // Assess
        expect(late.finding).toMatchObject({ status: 'planned' });
        expect(await approvedOwner()).toBeNull();
        expect(retagged.finding).toMatchObject({ status: 'drift', changes: { tags: { after: { owner: 'alice' } } } });
      });

      it('keeps the tag approved when the earlier UntagResource of it arrives last: removing it again is drift', async () => {
        // Prepare: the pipeline removes the tag owner at 20:06:16 and tags the key owner=alice at 20:07:16; the tag comes
        // first.
        const detect = pipelineDetector();
        liveTags({ owner: 'alice' });
        await detect(tag('Pipeline', '2022-09-01T20:07:16Z', 'e2000000-0000-4000-8000-000000000002'));

        // Act: the earlier UntagResource arrives; then someone else removes the tag.
        const late = await detect(untag('Pipeline', '2022-09-01T20:06:16Z', 'e1000000-0000-4000-8000-000000000001'));
        liveTags({});
        const untagged = await detect(untag('Mallory', '2022-09-01T20:10:00Z', 'e3000000-0000-4000-8000-000000000003'));

        // Assess
        expect(late.finding).toMatchObject({ status: 'planned' });
        expect(await approvedOwner()).toBe('alice');
        expect(untagged.finding).toMatchObject({ status: 'drift', changes: { tags: { after: { owner: null } } } });
      });

      it("leaves an operator's accept of the tag approved when the pipeline's older tagging of it arrives last", async () => {
        // Prepare: at 20:08 carol accepts the key tagged owner=bob.
        const detect = pipelineDetector();
        await acceptedAt2008({ owner: 'bob' });

        // Act: the pipeline's tagging owner=alice at 20:06:16 arrives after the accept.
        const late = await detect(tag('Pipeline', '2022-09-01T20:06:16Z', 'e1000000-0000-4000-8000-000000000001'));

        // Assess: the accept, newer than the pipeline's change, is still what is approved.
        expect(late.finding).toMatchObject({ status: 'planned' });
        expect(await approvedOwner()).toBe('bob');
      });

      it("leaves an operator's accept of the key without the tag approved when the pipeline's older tagging arrives last", async () => {
        // Prepare: the pipeline tags the key owner=alice at 20:06:16 and removes the tag at 20:07:16; at 20:08 carol
        // accepts the key, untagged.
        const detect = pipelineDetector();
        await acceptedAt2008({});

        // Act: the pipeline's tagging at 20:06:16 arrives after the accept; then someone else puts the tag back.
        const late = await detect(tag('Pipeline', '2022-09-01T20:06:16Z', 'e1000000-0000-4000-8000-000000000001'));
        liveTags({ owner: 'alice' });
        const retagged = await detect(tag('Mallory', '2022-09-01T20:10:00Z', 'e3000000-0000-4000-8000-000000000003'));

        // Assess: the accept approved the key without the tag, and that is still what is approved.
        expect(late.finding).toMatchObject({ status: 'planned' });
        expect(await approvedOwner()).toBeUndefined();
        expect(retagged.finding).toMatchObject({ status: 'drift', changes: { tags: { after: { owner: 'alice' } } } });
      });
    });
  });

  it("says an older event's drift is since undone when the later change judged first put the key back", async () => {
    // Prepare: the key approved Enabled; EnableKey (01:00) is judged first, then the DisableKey made before it.
    const { detect } = makeDetector({}, { now: () => Date.parse('2014-11-04T01:00:30Z') });
    const live = mockLiveKey({ state: 'Enabled' });
    await store().acceptBaseline(keySnapshotOf(live), 'arn:aws:sts::111122223333:assumed-role/Admin/carol');
    const enable = enableKeyAfterDisableKey();
    await detect(envelope(enable));

    // Act
    const { finding } = await detect(envelope(readRecord('DisableKey__awskmsdg__1')));

    // Assess: still the critical change it was, who made it, but nothing to undo.
    expect(finding).toMatchObject({
      event: 'DisableKey',
      severity: 'critical',
      status: 'drift',
      changes: { key_state: { before: 'Enabled', after: 'Disabled', since_undone: true } },
      remediation: ['# nothing to undo: a later change put it back at its approved state, as the live state shows'],
    });
    expect(finding?.summary).toMatch(/ \(since undone: back at its baseline\)$/);
    const [email] = published(topics.email).slice(-1);
    expect(email.Message).toContain('Status:    drift (it made the resource differ from its approved baseline; a');
    expect(email.Message).toContain('since undone: a later change put it back at the approved value');
  });

  it('says nothing is undone of a map another entry of which still drifts, nor of what the event itself put back', async () => {
    // Prepare: the key approved with no tags; TagResource B, TagResource A, then UntagResource A, each judged 40 s
    // after it happened, in order; KMS still shows B.
    let clock = Date.parse('2020-07-01T21:00:40Z');
    const { detect } = makeDetector({}, { now: () => clock });
    const live = mockLiveKey({ state: 'Enabled' });
    await store().acceptBaseline(keySnapshotOf(live), 'arn:aws:sts::111122223333:assumed-role/Admin/carol');
    const liveTags = (tags: Record<string, string>) =>
      kmsMock.on(ListResourceTagsCommand, { KeyId: KEY }).resolves({
        ...none,
        Tags: Object.entries(tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
        Truncated: false,
      });
    const at = (record: Json, eventID: string, eventTime: string, requestParameters: Json) =>
      Object.assign(record, { eventID, eventTime, requestParameters: { keyId: KEY, ...requestParameters } });
    const tag = (n: number, key: string, value: string) =>
      at(
        sample('TagResource__awskmsdg__1') as Json,
        `e0000000-0000-4000-8000-00000000000${n}`,
        `2020-07-01T21:00:${n}0Z`,
        {
          tags: [{ tagKey: key, tagValue: value }],
        },
      );
    liveTags({ B: '2' });
    await detect(envelope(tag(0, 'B', '2')));
    clock += 10_000;
    liveTags({ A: '1', B: '2' });
    await detect(envelope(tag(1, 'A', '1')));
    clock += 10_000;
    liveTags({ B: '2' });
    const untag = at(
      sample('UntagResource__awskmsdg__1') as Json,
      'e0000000-0000-4000-8000-000000000002',
      '2020-07-01T21:00:20Z',
      {
        tagKeys: ['A'],
      },
    );

    // Act
    const { finding } = await detect(envelope(untag));

    // Assess: B is still to undo.
    expect(finding?.changes.tags).not.toHaveProperty('since_undone');
    expect(finding?.remediation.join('\n')).toMatch(/aws kms untag-resource .*--tag-keys B/);
  });

  it('does not take a stored state written after the event as the value before it', async () => {
    // Prepare: DisableKey was processed after EnableKey happened, so its live read already showed Enabled again.
    const { detect } = makeDetector({}, { now: () => Date.parse('2014-11-04T01:00:30Z') });
    mockLiveKey({ state: 'Enabled' });
    const disable = envelope(readRecord('DisableKey__awskmsdg__1'));
    const enable = enableKeyAfterDisableKey();
    await detect(disable);

    // Act
    const { finding } = await detect(envelope(enable));

    // Assess: "Enabled before Enabled" would hide the change; the stored value is set aside.
    expect(finding?.changes.key_state).toMatchObject({ before: null, after: 'Enabled' });
    expect(finding?.status).toBe('resolved');
  });

  it('does not approve, as first seen, a rotation turned off just before its read, its event arriving after', async () => {
    // Prepare: a PutKeyPolicy on a key keydrift has not seen makes it read the key at 20:08:00; a second before, Alice
    // turned its rotation off, which the read shows; EventBridge delivers that DisableKeyRotation after.
    const { detect } = makeDetector({}, { now: () => Date.parse('2022-09-01T20:08:00Z') });
    mockLiveKey();
    await detect(envelope(readRecord('PutKeyPolicy__awskmsdg__1')));
    const disableRotation = Object.assign(sample('DisableKeyRotation__awskmsdg__1') as Json, {
      eventTime: '2022-09-01T20:07:59Z',
    });

    // Act
    const { finding } = await detect(envelope(disableRotation));

    // Assess: reported, not 'already at its baseline'.
    expect(finding).toMatchObject({ event: 'DisableKeyRotation', status: 'drift' });
    expect(finding?.changes.enable_key_rotation).toMatchObject({ after: false });
  });

  it('does not approve, as first seen, any of two changes made just before its read, their events arriving after', async () => {
    // Prepare: as above, and Alice changed the description too, a second before the read, which shows both.
    const { detect } = makeDetector({}, { now: () => Date.parse('2022-09-01T20:08:00Z') });
    const live = mockLiveKey();
    Object.assign(live.describe.KeyMetadata ?? {}, { Description: 'New key description' });
    await detect(envelope(readRecord('PutKeyPolicy__awskmsdg__1')));
    const disableRotation = Object.assign(sample('DisableKeyRotation__awskmsdg__1') as Json, {
      eventTime: '2022-09-01T20:07:58Z',
    });
    const describe = Object.assign(sample('UpdateKeyDescription__awskmsdg__1') as Json, {
      eventTime: '2022-09-01T20:07:59Z',
    });

    // Act
    const rotation = (await detect(envelope(disableRotation))).finding;
    const description = (await detect(envelope(describe))).finding;

    // Assess: the first one judged leaves the read's date of the other path, which is reported too.
    expect(rotation).toMatchObject({ event: 'DisableKeyRotation', status: 'drift' });
    expect(description).toMatchObject({ event: 'UpdateKeyDescription', status: 'drift' });
    expect(description?.changes.description).toMatchObject({ after: 'New key description' });
  });

  it.each(['20:07:59', '20:08:00'])(
    'does not approve, as first seen, a grant revoked or a tag removed just before its read (at %s), their events arriving after',
    async (madeAt) => {
      // Prepare: a PutKeyPolicy on a key keydrift has not seen makes it read the key at 20:08:00 (its grants and tags
      // whole); a second before (or in the second of the read, which CloudTrail dates 20:08:00), Alice revoked a grant
      // and removed a tag, which the read shows gone; EventBridge delivers the RevokeGrant and the UntagResource after.
      const { detect } = makeDetector({}, { now: () => Date.parse('2022-09-01T20:08:00Z') });
      mockLiveKey();
      await detect(envelope(readRecord('PutKeyPolicy__awskmsdg__1')));
      const eventTime = `2022-09-01T${madeAt}Z`;
      const revoke = Object.assign(sample('RevokeGrant__awskmsdg__1') as Json, { eventTime });
      const untag = Object.assign(sample('UntagResource__awskmsdg__1') as Json, { eventTime });

      // Act
      const revoked = (await detect(envelope(revoke))).finding;
      const untagged = (await detect(envelope(untag))).finding;

      // Assess: reported, not 'back to its baseline'.
      expect(revoked).toMatchObject({ event: 'RevokeGrant', status: 'drift' });
      expect(revoked?.changes.grants).not.toHaveProperty('back_to_baseline');
      expect(untagged).toMatchObject({ event: 'UntagResource', status: 'drift' });
      expect(untagged?.changes.tags).not.toHaveProperty('back_to_baseline');
    },
  );

  it('judges a grant revoked after its read, which did not show it, as made since: its approval unknown, drift', async () => {
    // Prepare: as above, but the grant was revoked a second after the read, which did not show it: it was made since.
    const { detect } = makeDetector({}, { now: () => Date.parse('2022-09-01T20:08:00Z') });
    mockLiveKey();
    await detect(envelope(readRecord('PutKeyPolicy__awskmsdg__1')));
    const revoke = Object.assign(sample('RevokeGrant__awskmsdg__1') as Json, { eventTime: '2022-09-01T20:08:01Z' });

    // Act
    const { finding } = await detect(envelope(revoke));

    // Assess: only its CreateGrant, still to come, can tell whether the grant was approved (a service's routine grant
    // is); Alice, no planned principal, revoking it is drift, as it is once that CreateGrant approved it.
    expect(finding).toMatchObject({ event: 'RevokeGrant', status: 'drift', severity: 'warning' });
  });

  it('saves a key with thousands of grants, first seen by its read, under 400 KB (their dates left out with them)', async () => {
    // Prepare: EBS-style grants, one a volume, on a key keydrift has not seen.
    const grants: GrantListEntry[] = Array.from({ length: 4500 }, (_, i) => ({
      KeyId: KEY,
      GrantId: `${String(i).padStart(8, '0')}0e4e15d7f1ad2d4b6d1ad1b8a1e3b7bdbd0b1c0e7c2c1a3b4f`,
      GranteePrincipal: `arn:aws:iam::111122223333:role/ebs-volume-attacher-${i}`,
      Operations: ['Decrypt'],
    }));
    mockLiveKey({ grants });
    const { detect } = makeDetector({}, { now: () => Date.parse('2022-09-01T20:08:00Z') });

    // Act
    await detect(envelope(readRecord('PutKeyPolicy__awskmsdg__1')));

    // Assess: the grants are left unknown in the baseline, and so are their first-seen dates.
    const baseline = (await store().load([KEY])).baselines.get(KEY);
    expect(baseline?.truncated).toEqual(['grants']);
    expect(Object.keys(baseline?.snapshot.firstSeenAt ?? {}).some((p) => p.startsWith('grants#'))).toBe(false);
    expect(baseline?.snapshot.firstSeenAt?.enable_key_rotation).toBe('2022-09-01T20:08:00.000Z');
  });

  it('keeps the baseline of a key the same size however many grants an AWS service creates and retires on it', async () => {
    // Prepare: DynamoDB, for its caller, creates a grant on a key keydrift reads and retires it a minute later, over
    // and over: each pair routine.
    const world = new LiveWorld();
    world.addKey(KEY);
    world.installKms(kmsMock);
    let clock = Date.parse('2026-11-01T09:00:00Z');
    const { detect } = makeDetector({}, { now: () => clock });
    const dynamodb = sample('CreateGrant__awskmsdg__3').userIdentity as Json;
    const baselineSize = async () => JSON.stringify((await store().load([KEY])).baselines.get(KEY)?.snapshot).length;
    const churn = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const grantId = `${String(i).padStart(8, '0')}7f76e4ba7987489ac329fbfba6ad343d6f7075dbd1ef191f0120514a`;
        const at = (minutes: number) => ({
          region: REGION,
          account: '111122223333',
          identity: dynamodb,
          eventId: `${grantId.slice(0, 8)}-${minutes}`,
          time: new Date(Date.parse('2026-11-01T09:00:00Z') + (2 * i + minutes) * 60_000),
        });
        const grant = { grantId, granteePrincipal: 'arn:aws:iam::111122223333:role/app', operations: ['Decrypt'] };
        for (const record of [
          kmsRecords.createGrant(keyRef(KEY), grant, at(0)),
          kmsRecords.retireGrant(keyRef(KEY), grantId, at(1)),
        ]) {
          world.apply(record);
          clock = Date.parse(String(record.eventTime)) + 3000;
          const { finding } = await detect(envelope(record as Json));
          expect(finding).toMatchObject({ severity: 'info', status: 'planned' });
        }
      }
    };
    await churn(0, 5);
    const after5 = await baselineSize();

    // Act
    await churn(5, 45);

    // Assess: the grants that ended are not kept in the baseline: a grant absent from its map, read whole, is ended.
    expect(await baselineSize()).toBe(after5);
    const baseline = (await store().load([KEY])).baselines.get(KEY)?.snapshot;
    expect(Object.keys(baseline?.attributes ?? {}).filter((path) => path.startsWith('grants#'))).toEqual([]);
    expect(baseline?.completeMaps).toContain('grants');
  });

  /** The grant is ended in the stored state and baseline, and the baseline keeps no entry of any grant. */
  async function expectEndedAndNotKept(grantId: string) {
    const saved = await store().load([KEY]);
    expect(lookup(saved.states.get(KEY)?.snapshot, `grants#${grantId}`)).toBeNull();
    expect(lookup(saved.baselines.get(KEY)?.snapshot, `grants#${grantId}`)).toBeNull();
    expect(
      Object.keys(saved.baselines.get(KEY)?.snapshot.attributes ?? {}).filter((p) => p.startsWith('grants#')),
    ).toEqual([]);
  }

  /**
   * A key keydrift reads and knows (tagged at 09:00) and a grant DynamoDB makes on it: `at` dates DynamoDB's records,
   * `deliver` hands one to the detector 3 s after the last delivery (or after `setClock`).
   */
  async function dynamoDbGrantOnKnownKey() {
    const world = new LiveWorld();
    world.addKey(KEY);
    world.installKms(kmsMock);
    let clock = Date.parse('2026-11-01T09:00:00Z');
    const { detect, sleeps } = makeDetector({}, { now: () => clock });
    const dynamodb = sample('CreateGrant__awskmsdg__3').userIdentity as Json;
    const at = (eventId: string, time: string) => callAt(eventId, time, dynamodb);
    const deliver = async (record: CloudTrailRecord) => {
      clock += 3000;
      return (await detect(envelope(record as Json))).finding;
    };
    const tag = kmsRecords.tagResource(keyRef(KEY), { team: 'payments' }, at('tag', '2026-11-01T09:00:00Z'));
    world.apply(tag);
    await deliver(tag);
    const grant = {
      grantId: '0c237476b39f8bc44e45212e08498fbe3151305030726c0590dd8d3e9f3d6a60',
      granteePrincipal: 'arn:aws:iam::111122223333:role/app',
      operations: ['Decrypt'],
    };
    const setClock = (time: string) => {
      clock = Date.parse(time);
    };
    return { world, sleeps, at, deliver, grant, setClock };
  }

  it.each([
    ['RetireGrant', kmsRecords.retireGrant],
    ['RevokeGrant', kmsRecords.revokeGrant],
  ])('keeps ended a grant on a key it reads whose CreateGrant arrives after the %s', async (_name, end) => {
    // Prepare: DynamoDB, for its caller, creates a grant on a key keydrift reads and knows at 09:01, and the grant ends
    // at 09:02; EventBridge delivers the end first, then the CreateGrant, whose read shows the grant gone.
    const { world, sleeps, at, deliver, grant, setClock } = await dynamoDbGrantOnKnownKey();
    const create = kmsRecords.createGrant(keyRef(KEY), grant, at('create', '2026-11-01T09:01:00Z'));
    const ended = end(keyRef(KEY), grant.grantId, at('end', '2026-11-01T09:02:00Z'));
    world.apply(create);
    world.apply(ended);
    setClock('2026-11-01T09:02:00Z');
    await deliver(ended);

    // Act
    const finding = await deliver(create);

    // Assess: the grant is neither live nor approved, as in-time delivery leaves it (no entry kept for it), and the
    // read showing it gone is not taken for one lagging behind the CreateGrant.
    expect(finding).toMatchObject({ event: 'CreateGrant', severity: 'info' });
    await expectEndedAndNotKept(grant.grantId);
    expect(sleeps).toEqual([]);
  });

  it('does not call an unapproved grant since undone when its read lags and a later call that changed nothing was judged first', async () => {
    // Prepare: Alice, no planned principal, grants an app Decrypt on a key keydrift reads and knows at 09:01:00, then
    // tags the key again as it is at 09:01:02. The tag is judged first; the CreateGrant's first read, seconds after,
    // does not show the grant yet (KMS grants take up to minutes to read), the next one does.
    const world = new LiveWorld();
    world.addKey(KEY);
    world.installKms(kmsMock);
    let clock = Date.parse('2026-11-01T09:00:00Z');
    const grant = {
      grantId: '0c237476b39f8bc44e45212e08498fbe3151305030726c0590dd8d3e9f3d6a60',
      granteePrincipal: 'arn:aws:iam::111122223333:role/app',
      operations: ['Decrypt'],
    };
    const alice = (eventId: string, time: string) => callAt(eventId, time);
    const create = kmsRecords.createGrant(keyRef(KEY), grant, alice('create', '2026-11-01T09:01:00Z'));
    const { detect } = makeDetector({}, { now: () => clock, sleep: async () => world.apply(create) });
    const deliver = async (record: CloudTrailRecord) => {
      clock += 2000;
      return (await detect(envelope(record as Json))).finding;
    };
    const tag = kmsRecords.tagResource(keyRef(KEY), { team: 'payments' }, alice('tag', '2026-11-01T09:00:00Z'));
    world.apply(tag);
    await deliver(tag);
    const again = kmsRecords.tagResource(keyRef(KEY), { team: 'payments' }, alice('tag-2', '2026-11-01T09:01:02Z'));
    world.apply(again);
    clock = Date.parse('2026-11-01T09:01:02Z');
    await deliver(again);

    // Act
    const finding = await deliver(create);

    // Assess: the grant is drift still to undo, and stored live.
    expect(finding).toMatchObject({ event: 'CreateGrant', status: 'drift' });
    expect(finding?.summary).not.toContain('since undone');
    const saved = await store().load([KEY]);
    expect(lookup(saved.states.get(KEY)?.snapshot, `grants#${grant.grantId}`)).toMatchObject({
      grantee_principal: grant.granteePrincipal,
    });
  });

  it('keeps no ended grant whose CreateGrant, judged before its RetireGrant, found a later change saved', async () => {
    // Prepare: DynamoDB creates a grant on a key keydrift reads at 09:01 and retires it at 09:02; the key is tagged at
    // 09:03. EventBridge delivers the tag first, then the CreateGrant (its read shows the grant gone), then the end.
    const { world, at, deliver, grant, setClock } = await dynamoDbGrantOnKnownKey();
    const create = kmsRecords.createGrant(keyRef(KEY), grant, at('create', '2026-11-01T09:01:00Z'));
    const retire = kmsRecords.retireGrant(keyRef(KEY), grant.grantId, at('retire', '2026-11-01T09:02:00Z'));
    const later = kmsRecords.tagResource(keyRef(KEY), { team: 'ledger' }, at('tag-2', '2026-11-01T09:03:00Z'));
    for (const record of [create, retire, later]) world.apply(record);
    setClock('2026-11-01T09:03:00Z');
    await deliver(later);
    await deliver(create);

    // Act
    const finding = await deliver(retire);

    // Assess: the grant is ended, and its end, its CreateGrant judged already, is not kept as an entry for good.
    expect(finding).toMatchObject({ event: 'RetireGrant', severity: 'info' });
    await expectEndedAndNotKept(grant.grantId);
  });

  it.each(['20:08:00.600', '20:08:00.000'])(
    'does not approve, as first seen, a rotation turned off in the second of its read (%s), before it',
    async (readAt) => {
      // Prepare: as above, but the rotation was turned off at 20:08:00.2 (or in the millisecond of the read), which
      // CloudTrail dates 20:08:00, and the read, at 20:08:00.6 (or 20:08:00.000), shows it off.
      const { detect } = makeDetector({}, { now: () => Date.parse(`2022-09-01T${readAt}Z`) });
      mockLiveKey();
      await detect(envelope(readRecord('PutKeyPolicy__awskmsdg__1')));
      const disableRotation = Object.assign(sample('DisableKeyRotation__awskmsdg__1') as Json, {
        eventTime: '2022-09-01T20:08:00Z',
      });

      // Act
      const { finding } = await detect(envelope(disableRotation));

      // Assess: judged from the value before it (on), which the state the read left does not hold.
      expect(finding).toMatchObject({ event: 'DisableKeyRotation', status: 'drift' });
      expect(finding?.changes.enable_key_rotation).toMatchObject({ before: true, after: false });
    },
  );

  it('still judges against what its read saw first a change made after that read, delivered late', async () => {
    // Prepare: as above, but the rotation was turned off (again) a second after the read.
    const { detect } = makeDetector({}, { now: () => Date.parse('2022-09-01T20:08:00Z') });
    mockLiveKey();
    await detect(envelope(readRecord('PutKeyPolicy__awskmsdg__1')));
    const disableRotation = Object.assign(sample('DisableKeyRotation__awskmsdg__1') as Json, {
      eventTime: '2022-09-01T20:08:01Z',
    });

    // Act
    const { finding } = await detect(envelope(disableRotation));

    // Assess: the read showed it off before this call: it changed nothing.
    expect(finding).toMatchObject({ event: 'DisableKeyRotation', status: 'resolved' });
  });

  it('reads a trail change from CloudTrail (StopLogging)', async () => {
    const record = readRecord('StopLogging__stratus__1');
    const trail = `arn:aws:cloudtrail:${record.awsRegion}:143434273843:trail/stratus-red-team-ct-stop-trail-buykxbqejv`;
    trailMock
      .on(DescribeTrailsCommand, { trailNameList: [trail] })
      .resolves({ trailList: [{ TrailARN: trail, IsMultiRegionTrail: true, KmsKeyId: KEY }] });
    trailMock.on(GetTrailStatusCommand).resolves({ IsLogging: false });
    trailMock
      .on(GetEventSelectorsCommand)
      .resolves({ EventSelectors: [{ ReadWriteType: 'All', IncludeManagementEvents: true }] });
    const { detect } = makeDetector();

    const { finding } = await detect(envelope(record));

    expect(finding).toMatchObject({
      service: 'cloudtrail',
      event: 'StopLogging',
      resource: trail,
      severity: 'critical',
    });
    expect(trailMock).toHaveReceivedCommandWith(GetTrailStatusCommand, { Name: trail });
    expect((await store().load([trail])).states.get(trail)?.snapshot.attributes).toMatchObject({
      logging: false,
      kms_key_id: KEY,
    });
  });
});

describe('createDetector: aliases and concurrency', () => {
  it('loads the key an alias leaves, known only from the stored alias, and takes the alias off it', async () => {
    // Prepare: alias/my_alias was created on OLD_KEY (and judged) before UpdateAlias moved it to KEY.
    const { detect } = makeDetector({}, { now: () => Date.parse('2020-11-13T23:00:05Z') });
    const create = readRecord('CreateAlias__awskmsdg__1');
    Object.assign(create, {
      eventTime: '2020-11-13T23:00:00Z',
      requestParameters: { aliasName: 'alias/my_alias', targetKeyId: OLD_KEY },
      resources: [{ ARN: OLD_KEY }, { ARN: 'arn:aws:kms:us-west-2:111122223333:alias/my_alias' }],
    });
    const alias = 'arn:aws:kms:us-west-2:111122223333:alias/my_alias';
    kmsMock.on(DescribeKeyCommand, { KeyId: alias }).resolves(liveKey({ arn: OLD_KEY }).describe);
    await detect(envelope(create));
    kmsMock.on(DescribeKeyCommand, { KeyId: alias }).resolves(liveKey({ arn: KEY }).describe);
    const loadsBefore = table.calls.filter((c) => c.command === 'BatchGetItemCommand').length;

    // Act
    const { finding } = await detect(envelope(readRecord('UpdateAlias__awskmsdg__1')));

    // Assess
    expect(finding).toMatchObject({
      event: 'UpdateAlias',
      resource: alias,
      changes: { target_key_id: { before: OLD_KEY, after: KEY } },
    });
    expect(table.calls.filter((c) => c.command === 'BatchGetItemCommand').length - loadsBefore).toBe(2);
    const saved = await store().load([OLD_KEY, KEY, alias]);
    expect(saved.states.get(OLD_KEY)?.snapshot.attributes['aliases#alias/my_alias']).toBeNull();
    expect(saved.states.get(KEY)?.snapshot.attributes['aliases#alias/my_alias']).toBe(true);
    expect(saved.states.get(alias)?.snapshot.attributes.target_key_id).toBe(KEY);
  });

  it('does not load the key an alias is approved on for a denied call on the alias, whose finding has no undo', async () => {
    // Prepare: Alice, a planned principal, created alias/my_alias on OLD_KEY (approved there); Mallory moved it to KEY.
    const config = parseDetectionConfig({ plannedPrincipals: ['arn:aws:iam::111122223333:user/Alice'] });
    const { detect } = makeDetector({ config }, { now: () => Date.parse('2020-11-13T23:20:00Z') });
    const alias = 'arn:aws:kms:us-west-2:111122223333:alias/my_alias';
    const createOn = (key: string, fields: Json) =>
      Object.assign(readRecord('CreateAlias__awskmsdg__1'), {
        requestParameters: { aliasName: 'alias/my_alias', targetKeyId: key },
        resources: [{ ARN: key }, { ARN: alias }],
        ...fields,
      });
    kmsMock.on(DescribeKeyCommand, { KeyId: alias }).resolves(liveKey({ arn: OLD_KEY }).describe);
    await detect(envelope(createOn(OLD_KEY, { eventTime: '2020-11-13T23:00:00Z' })));
    kmsMock.on(DescribeKeyCommand, { KeyId: alias }).resolves(liveKey({ arn: KEY }).describe);
    const moved = readRecord('UpdateAlias__awskmsdg__1');
    moved.userIdentity = { ...(moved.userIdentity as Json), arn: 'arn:aws:iam::111122223333:user/Mallory' };
    await detect(envelope(moved));
    const loadsBefore = table.calls.filter((c) => c.command === 'BatchGetItemCommand').length;

    // Act: the alias created again on KEY, which KMS refuses (it exists).
    const refused = createOn(KEY, {
      eventID: 'refused',
      eventTime: '2020-11-13T23:19:00Z',
      errorCode: 'AlreadyExistsException',
      errorMessage: 'An alias with the name alias/my_alias already exists',
    });
    const { finding } = await detect(envelope(refused));

    // Assess: the event's resources are loaded, and nothing more.
    expect(finding).toMatchObject({ event: 'CreateAlias', resource: alias, status: 'denied', remediation: [] });
    expect(table.calls.filter((c) => c.command === 'BatchGetItemCommand').length - loadsBefore).toBe(1);
  });

  it.each([
    ['text that is no JSON', '{"Statement": ['],
    [
      'an action nested 10,000 arrays deep',
      `{"Statement":[{"Effect":"Allow","Principal":"*","Action":${'['.repeat(10_000)}"kms:*"${']'.repeat(10_000)}}]}`,
    ],
  ])('reports a PutKeyPolicy KMS refused as malformed (%s) as a denied attempt on the key', async (_name, policy) => {
    // Prepare: denied attempts alert
    mockLiveKey();
    const { detect } = makeDetector({ alertMinSeverity: 'warning' });
    const refused = readRecord('PutKeyPolicy__awskmsdg__1');
    Object.assign(refused, {
      requestParameters: { ...(refused.requestParameters as Json), policy },
      errorCode: 'MalformedPolicyDocumentException',
    });

    // Act
    const { finding } = await detect(envelope(refused));

    // Assess
    expect(finding).toMatchObject({ event: 'PutKeyPolicy', resource: KEY, status: 'denied', changes: {} });
    expect(published(topics.email)).toHaveLength(1);
    expect(output.logs('WARN').map((line) => line.message)).toContainEqual(
      "A denied call's request could not be read; it is reported as an attempt",
    );
  });

  it('records and alerts a denied DisableKey naming a key id too long for a DynamoDB key, and lists it in the findings', async () => {
    // Prepare: Mallory's DisableKey of a 2,010-character key id (KMS takes ids of up to 2,048), which KMS refused:
    // `RESOURCE#` and its ARN are over DynamoDB's 2,048-byte partition key.
    const { detect } = makeDetector({ alertMinSeverity: 'warning' });
    const keyId = 'x'.repeat(2010);
    const probe = readRecord('DisableKey__awskmsdg__1');
    delete probe.resources;
    Object.assign(probe, {
      eventTime: '2026-11-01T09:00:00Z',
      requestParameters: { keyId },
      errorCode: 'AccessDeniedException',
      errorMessage: 'not authorized to perform kms:DisableKey',
    });

    // Act
    const { finding } = await detect(envelope(probe));

    // Assess: the attempt is reported under the key id it named, and `keydrift findings` lists it.
    const resource = `arn:aws:kms:us-east-1:111122223333:key/${keyId}`;
    expect(finding).toMatchObject({ event: 'DisableKey', resource, status: 'denied' });
    expect(published(topics.email)).toHaveLength(1);
    const reader = createTableReader({ client: table.client, tableName: table.tableName });
    const day = { sinceMs: Date.parse('2026-11-01T00:00:00Z'), nowMs: Date.parse('2026-11-02T00:00:00Z') };
    const listed = expect.objectContaining({ event: 'DisableKey', resource, status: 'denied' });
    expect(await reader.findings(day)).toEqual([listed]);
    expect(await reader.findings({ ...day, resource })).toEqual([listed]);
  });

  it.each([false, true])(
    'alerts on a CreateGrant whose constraints nest 10,000 levels deep, the deep part marked (denied: %s)',
    async (denied) => {
      // Prepare
      mockLiveKey();
      const { detect } = makeDetector({ alertMinSeverity: 'warning' });
      const record = sample('CreateGrant__awskmsdg__1') as Json;
      Object.assign(record.requestParameters as Json, {
        constraints: JSON.parse(`${'{"a":'.repeat(10_000)}"x"${'}'.repeat(10_000)}`),
      });
      if (denied) record.errorCode = 'ValidationException';

      // Act
      const { finding } = await detect(envelope(record));

      // Assess
      expect(finding).toMatchObject({ event: 'CreateGrant', resource: KEY, status: denied ? 'denied' : 'drift' });
      expect(JSON.stringify(finding)).toContain(NESTED_TOO_DEEP);
      expect(published(topics.email)).toHaveLength(1);
    },
  );

  it("records the key's aliases gone with it when KMS deletes the key, loading them from the key's stored aliases", async () => {
    // Prepare: alias/ExampleAlias created on KEY (CreateAlias__awskmsdg__1, judged); KMS then deletes the key, and the
    // alias with it (no DeleteAlias event).
    const alias = 'arn:aws:kms:us-west-2:111122223333:alias/ExampleAlias';
    const { detect } = makeDetector();
    mockLiveKey({ aliases: ['alias/ExampleAlias'] });
    kmsMock.on(DescribeKeyCommand, { KeyId: alias }).resolves(liveKey().describe);
    await detect(envelope(readRecord('CreateAlias__awskmsdg__1')));
    kmsMock.reset();
    kmsMock.onAnyCommand().rejects(kmsError('NotFoundException', `Key '${KEY}' does not exist`));
    // (The sample's awsRegion is not its key's: KMS records the deletion in the key's Region.)
    const deleteKey = Object.assign(readRecord('DeleteKey__awskmsdg__1'), {
      awsRegion: 'us-west-2',
      eventTime: '2022-09-20T10:00:00Z',
    });

    // Act
    const { finding } = await detect(envelope(deleteKey));

    // Assess: the key's deletion is the only finding, and names the alias; the alias is saved gone, and approved so.
    expect(finding).toMatchObject({ event: 'DeleteKey', resource: KEY, severity: 'critical' });
    expect(finding?.changes.key_state?.aliases_deleted).toEqual(['alias/ExampleAlias']);
    expect(finding?.summary).toMatch(/; its alias alias\/ExampleAlias went with it$/);
    const saved = await store().load([alias]);
    expect(saved.states.get(alias)?.snapshot.attributes).toEqual({ target_key_id: null });
    expect(saved.baselines.get(alias)?.snapshot.attributes).toEqual({ target_key_id: null });
  });

  it("saves the deletion of a key with as many aliases as KMS allows one key (50), in DynamoDB's 100-action transaction", async () => {
    // Prepare: the key was read with 50 aliases (KMS's default quota per key) when DisableKey__awskmsdg__1 was judged.
    const names = Array.from({ length: 50 }, (_, i) => `alias/app-${String(i).padStart(2, '0')}`);
    const aliases = names.map((name) => `arn:aws:kms:us-west-2:111122223333:${name}`);
    const { detect } = makeDetector();
    mockLiveKey({ aliases: names, state: 'Disabled' });
    await detect(envelope(readRecord('DisableKey__awskmsdg__1')));
    kmsMock.reset();
    kmsMock.onAnyCommand().rejects(kmsError('NotFoundException', `Key '${KEY}' does not exist`));
    const deleteKey = Object.assign(readRecord('DeleteKey__awskmsdg__1'), {
      awsRegion: 'us-west-2',
      eventTime: '2022-09-20T10:00:00Z',
    });
    const goneIn = async () => {
      const saved = await store().load(aliases);
      return aliases.filter(
        (alias) =>
          saved.states.get(alias)?.snapshot.attributes.target_key_id === null &&
          saved.baselines.get(alias)?.snapshot.attributes.target_key_id === null,
      ).length;
    };

    // Act
    const { finding } = await detect(envelope(deleteKey));

    // Assess: the DeleteKey is saved (its claim done), with the aliases one transaction holds; the other two are left
    // as stored (here, not at all), for the reconciler, which approves an alias gone with its key alike.
    expect(finding).toMatchObject({ event: 'DeleteKey', resource: KEY, severity: 'critical' });
    expect(finding?.changes.key_state?.aliases_deleted).toEqual(names);
    expect(await store().claim(String(deleteKey.eventID))).toBe('done');
    expect((await store().load([KEY])).states.get(KEY)?.snapshot.attributes.key_state).toBe('Deleted');
    expect(await goneIn()).toBe(48);
  });

  const MOVED = 'arn:aws:kms:us-west-2:111122223333:alias/moved';

  /**
   * Both keys exist; alias/payments and alias/moved are created on KEY, whose deletion Admin (planned) schedules, all
   * judged. The test applies its records (`ctx` dates one of Admin's; `deletion` is KMS's DeleteKey of KEY) to `world`
   * and delivers them in its order (`deliver` sets the clock past each record's time, `later` an hour on).
   */
  async function aliasesOfScheduledKey() {
    const admin = assumedRole('Admin', 'deployer', '111122223333');
    const ctx = (eventId: string, time: string) => callAt(eventId, time, admin);
    const world = new LiveWorld();
    world.addKey(KEY);
    world.addKey(OLD_KEY);
    world.installKms(kmsMock);
    let clock = Date.parse('2026-11-01T09:00:00Z');
    const config = parseDetectionConfig({ plannedPrincipals: ['arn:aws:iam::111122223333:role/Admin'] });
    const { detect } = makeDetector({ config }, { now: () => clock });
    const deliver = async (record: CloudTrailRecord) => {
      clock = Math.max(clock, Date.parse(String(record.eventTime)) + 3000);
      return (await detect(envelope(record as Json))).finding;
    };
    for (const record of [
      kmsRecords.createAlias('alias/payments', keyRef(KEY), ctx('a1', '2026-11-01T09:00:00Z')),
      kmsRecords.createAlias('alias/moved', keyRef(KEY), ctx('a2', '2026-11-01T09:01:00Z')),
      kmsRecords.scheduleKeyDeletion(
        keyRef(KEY),
        { pendingWindowInDays: 7, deletionDate: new Date('2026-11-08T09:02:00Z') },
        ctx('s', '2026-11-01T09:02:00Z'),
      ),
    ]) {
      world.apply(record);
      await deliver(record);
    }
    const deletion = kmsRecords.deleteKey(keyRef(KEY), callAt('d', '2026-11-08T09:10:00Z'));
    const later = () => {
      clock += 3_600_000;
    };
    return { world, ctx, deletion, deliver, later };
  }
  type AliasStory = Awaited<ReturnType<typeof aliasesOfScheduledKey>>;

  it('leaves an alias KMS shows on another key out of the deletion: moved there by a planned UpdateAlias delivered late', async () => {
    // Prepare: Admin moves alias/moved to OLD_KEY just before KMS deletes KEY, but that UpdateAlias reaches the
    // detector only after the deletion (a redrive from the dead-letter queue).
    const { world, ctx, deletion, deliver, later } = await aliasesOfScheduledKey();
    const update = kmsRecords.updateAlias('alias/moved', keyRef(OLD_KEY), ctx('u', '2026-11-08T09:01:00Z'));
    world.apply(update);
    world.apply(deletion);

    // Act
    const deleted = await deliver(deletion);
    later();
    const late = await deliver(update);

    // Assess: the deletion names only the alias that went with it; the late UpdateAlias is planned, and approved.
    expect(deleted).toMatchObject({ event: 'DeleteKey', status: 'planned', severity: 'info' });
    expect(deleted?.changes.key_state?.aliases_deleted).toEqual(['alias/payments']);
    expect(late).toMatchObject({ event: 'UpdateAlias', resource: MOVED, status: 'planned', severity: 'info' });
    expect(late?.changes.target_key_id).toMatchObject({ before: KEY, after: OLD_KEY });
    const saved = await store().load([MOVED]);
    expect(saved.states.get(MOVED)?.snapshot.attributes).toEqual({ target_key_id: OLD_KEY });
    expect(saved.baselines.get(MOVED)?.snapshot.attributes).toEqual({ target_key_id: OLD_KEY });
  });

  it('keeps an alias gone with the key for a planned move off it that an unplanned move back onto it followed, delivered late', async () => {
    // Prepare: Admin moves alias/moved to OLD_KEY; Alice (no one planned) moves it back to KEY before KEY's
    // deletion. The planned move comes last.
    const { world, ctx, deletion, deliver, later } = await aliasesOfScheduledKey();
    const off = kmsRecords.updateAlias('alias/moved', keyRef(OLD_KEY), ctx('off', '2026-11-01T09:01:20Z'));
    const { identity: _, ...byAlice } = ctx('back', '2026-11-01T09:01:40Z');
    const back = kmsRecords.updateAlias('alias/moved', keyRef(KEY), byAlice);
    for (const record of [off, back, deletion]) world.apply(record);

    // Act
    await deliver(back);
    const deleted = await deliver(deletion);
    later();
    await deliver(off);

    // Assess: the alias was on KEY when KMS deleted it (the move back came later than the planned move).
    expect(deleted?.changes.key_state?.aliases_deleted).toEqual(['alias/moved', 'alias/payments']);
    const saved = await store().load([MOVED]);
    expect(saved.baselines.get(MOVED)?.snapshot.attributes).toEqual({ target_key_id: null });
    expect(saved.states.get(MOVED)?.snapshot.attributes).toEqual({ target_key_id: null });
  });

  describe("an alias unreadable (its new key's policy keeps keydrift out), its move delivered after its old key's deletion", () => {
    const lockedOut = () =>
      kmsMock
        .on(DescribeKeyCommand, { KeyId: MOVED })
        .rejects(kmsError('AccessDeniedException', 'not authorized to perform kms:DescribeKey'));

    /**
     * alias/moved goes to OLD_KEY (planned) and back to KEY (planned or by Alice, whom no one planned) before KEY's
     * deletion; the move back and the deletion are judged, and `off`, the first move, is left to come last.
     */
    async function movedOffAndBackBeforeDeletion({ backPlanned }: { backPlanned: boolean }) {
      const story = await aliasesOfScheduledKey();
      const off = kmsRecords.updateAlias('alias/moved', keyRef(OLD_KEY), story.ctx('off', '2026-11-01T09:01:20Z'));
      const byAdmin = story.ctx('back', '2026-11-01T09:01:40Z');
      const { identity: _, ...byAlice } = byAdmin;
      const back = kmsRecords.updateAlias('alias/moved', keyRef(KEY), backPlanned ? byAdmin : byAlice);
      for (const record of [off, back, story.deletion]) story.world.apply(record);
      lockedOut();
      await story.deliver(back);
      await story.deliver(story.deletion);
      return { ...story, off };
    }

    it('moves its baseline to the key a planned UpdateAlias made before the deletion named: no open drift', async () => {
      // Prepare: Admin moves alias/moved to OLD_KEY, whose policy keydrift cannot read, just before KMS deletes KEY;
      // that UpdateAlias reaches the detector after the deletion.
      const { world, ctx, deletion, deliver, later } = await aliasesOfScheduledKey();
      const update = kmsRecords.updateAlias('alias/moved', keyRef(OLD_KEY), ctx('u', '2026-11-08T09:01:00Z'));
      world.apply(update);
      world.apply(deletion);
      lockedOut();

      // Act
      await deliver(deletion);
      later();
      const late = await deliver(update);

      // Assess: the alias was not on KEY when KMS deleted it; the move is approved.
      expect(late).toMatchObject({ event: 'UpdateAlias', resource: MOVED, status: 'planned', severity: 'info' });
      const saved = await store().load([MOVED]);
      expect(saved.states.get(MOVED)?.snapshot.attributes).toEqual({ target_key_id: OLD_KEY });
      expect(saved.baselines.get(MOVED)?.snapshot.attributes).toEqual({ target_key_id: OLD_KEY });
    });

    it('keeps it gone with the key for a move off it that a planned move back onto it followed', async () => {
      // Prepare
      const { deliver, later, off } = await movedOffAndBackBeforeDeletion({ backPlanned: true });

      // Act
      later();
      await deliver(off);

      // Assess
      expect((await store().load([MOVED])).baselines.get(MOVED)?.snapshot.attributes).toEqual({ target_key_id: null });
    });

    it('keeps it gone with the key for a move off it that a planned move back followed, as an earlier version stored it', async () => {
      // Prepare: as above, the deletion saved by an earlier version, which dated the alias's approval before it
      // `approvedBefore` and kept no state dates.
      const { deliver, later, off } = await movedOffAndBackBeforeDeletion({ backPlanned: true });
      for (const sk of ['BASELINE', 'STATE']) {
        const Key = { pk: { S: `RESOURCE#${MOVED}` }, sk: { S: sk } };
        const { Item } = await table.client.send(new GetItemCommand({ TableName: table.tableName, Key }));
        const { goneWithKey, changedAt: _, ...snapshot } = JSON.parse(Item?.snapshot?.S ?? '{}');
        const earlier = goneWithKey
          ? { ...snapshot, goneWithKey: { key: KEY, approvedBefore: '2026-11-01T09:01:40Z' } }
          : snapshot;
        const rewritten = { ...Item, snapshot: { S: JSON.stringify(earlier) } };
        await table.client.send(new PutItemCommand({ TableName: table.tableName, Item: rewritten }));
      }

      // Act
      later();
      await deliver(off);

      // Assess
      expect((await store().load([MOVED])).baselines.get(MOVED)?.snapshot.attributes).toEqual({ target_key_id: null });
    });

    it('keeps it gone with the key for a move off it that an unplanned move back onto it followed', async () => {
      // Prepare: Admin moves alias/moved to OLD_KEY; Alice (no one planned) moves it back to KEY before KEY's
      // deletion. The planned move comes last.
      const { deliver, later, off } = await movedOffAndBackBeforeDeletion({ backPlanned: false });

      // Act
      later();
      await deliver(off);

      // Assess: the alias was on KEY when KMS deleted it (the move back came later than the planned move).
      const saved = await store().load([MOVED]);
      expect(saved.baselines.get(MOVED)?.snapshot.attributes).toEqual({ target_key_id: null });
      expect(saved.states.get(MOVED)?.snapshot.attributes).toEqual({ target_key_id: null });
    });

    const THIRD_KEY = 'arn:aws:kms:us-west-2:111122223333:key/3333cccc-33cc-33cc-33cc-333333333333';
    it.each([
      [
        'a planned DeleteAlias',
        (ctx: AliasStory['ctx']) =>
          kmsRecords.deleteAlias('alias/moved', keyRef(OLD_KEY), ctx('x', '2026-11-08T09:20:00Z')),
        null,
      ],
      [
        'a planned UpdateAlias',
        (ctx: AliasStory['ctx']) =>
          kmsRecords.updateAlias('alias/moved', keyRef(THIRD_KEY), ctx('x', '2026-11-08T09:20:00Z')),
        THIRD_KEY,
      ],
    ])(
      'keeps what %s made after the deletion, judged before the move delivered late',
      async (_, afterwards, approved) => {
        // Prepare: alias/moved goes to OLD_KEY before KEY's deletion, then changes again after it; the move comes last.
        const { world, ctx, deletion, deliver, later } = await aliasesOfScheduledKey();
        world.addKey(THIRD_KEY);
        const update = kmsRecords.updateAlias('alias/moved', keyRef(OLD_KEY), ctx('u', '2026-11-08T09:01:00Z'));
        const change = afterwards(ctx);
        for (const record of [update, deletion, change]) world.apply(record);
        lockedOut();

        // Act
        await deliver(deletion);
        await deliver(change);
        later();
        await deliver(update);

        // Assess: the newer change stays approved.
        const saved = await store().load([MOVED]);
        expect(saved.baselines.get(MOVED)?.snapshot.attributes).toEqual({ target_key_id: approved });
      },
    );
  });

  it("names a key's more than 48 aliases once: the deletion's second event names none again", async () => {
    // Prepare: a key with 50 aliases. KMS deletes it; its DeleteKey is judged while reads still show the key pending
    // deletion with its aliases (read-after-write lag: taken as the event after the re-reads), and saves 48 of them
    // gone (one transaction's worth). KMS CMK Deletion, a second later, is judged once the key reads gone.
    const names = Array.from({ length: 50 }, (_, i) => `alias/app-${String(i).padStart(2, '0')}`);
    let clock = Date.parse('2022-09-01T10:00:00Z');
    const { detect } = makeDetector({}, { now: () => clock });
    mockLiveKey({ aliases: names, state: 'Disabled' });
    await detect(envelope(readRecord('DisableKey__awskmsdg__1')));
    mockLiveKey({ aliases: names, state: 'PendingDeletion' });
    clock = Date.parse('2022-09-20T10:00:03Z');
    const deleteKey = Object.assign(readRecord('DeleteKey__awskmsdg__1'), {
      awsRegion: 'us-west-2',
      eventTime: '2022-09-20T10:00:00Z',
    });
    const cmkDeletion = { ...sample('KMSCMKDeletion__awskmsdg__1'), time: '2022-09-20T10:00:01Z' };
    const first = await detect(envelope(deleteKey));
    kmsMock.reset();
    kmsMock.onAnyCommand().rejects(kmsError('NotFoundException', `Key '${KEY}' does not exist`));
    clock += 1000;

    // Act
    const { finding } = await detect(cmkDeletion as Json);

    // Assess: the first named all 50; the second, the deletion known already, names none of them again (no second
    // alert about them).
    expect(first.finding?.changes.key_state?.aliases_deleted).toEqual(names);
    expect(finding).toMatchObject({ event: 'KMS CMK Deletion', resource: KEY, status: 'drift', severity: 'critical' });
    expect(finding?.changes.key_state).toEqual({ before: 'Deleted', after: 'Deleted', already_known: true });
    expect(finding?.summary).toBe('Key alias/app-00 deleted (KMS CMK Deletion)');
    // The two the first had no room to save are recorded gone with the key by the second, without a word.
    const last = names.slice(48).map((name) => `arn:aws:kms:us-west-2:111122223333:${name}`);
    const saved = await store().load(last);
    expect(last.map((alias) => saved.baselines.get(alias)?.snapshot.attributes.target_key_id)).toEqual([null, null]);
  });

  it("takes the deletion's second event, judged after the first was saved, as the deletion known already", async () => {
    // Prepare: KMS deletes the key and records it twice, DeleteKey and KMS CMK Deletion a second later; EventBridge
    // delivers each within seconds, so the first is saved after the second happened.
    let clock = Date.parse('2022-09-20T10:00:03Z');
    const { detect } = makeDetector({}, { now: () => clock });
    kmsMock.onAnyCommand().rejects(kmsError('NotFoundException', `Key '${KEY}' does not exist`));
    const deleteKey = Object.assign(readRecord('DeleteKey__awskmsdg__1'), {
      awsRegion: 'us-west-2',
      eventTime: '2022-09-20T10:00:00Z',
    });
    const cmkDeletion = { ...sample('KMSCMKDeletion__awskmsdg__1'), time: '2022-09-20T10:00:01Z' };
    await detect(envelope(deleteKey));
    clock += 1000;

    // Act
    const { finding } = await detect(cmkDeletion as Json);

    // Assess: the key was stored Deleted by its DeleteKey, as the replay knows it; nothing can come after a deletion.
    expect(finding).toMatchObject({ event: 'KMS CMK Deletion', resource: KEY, status: 'drift', severity: 'critical' });
    expect(finding?.changes.key_state).toEqual({ before: 'Deleted', after: 'Deleted', already_known: true });
  });

  it('judges again and saves both when two events on one key are saved at the same time', async () => {
    // Prepare: an operator accepted the key as it was (Enabled, root-only policy); both changes are visible in KMS.
    const opened = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::444455556666:root' }, Action: 'kms:*', Resource: '*' },
      ],
    });
    const accepted = liveKey({ policy: defaultPolicy() });
    await store().acceptBaseline(keySnapshotOf(accepted), 'arn:aws:sts::111122223333:assumed-role/Admin/carol');
    mockLiveKey({ state: 'Disabled', policy: opened });
    const put = readRecord('PutKeyPolicy__awskmsdg__1');
    (put.requestParameters as Json).policy = opened;
    const { detect } = makeDetector();

    // Act
    const [policy, disable] = await Promise.all([
      detect(envelope(put)),
      detect(envelope(readRecord('DisableKey__awskmsdg__1'))),
    ]);

    // Assess: both alerted as drift from the accepted baseline
    expect(policy.finding).toMatchObject({ severity: 'critical', status: 'drift' });
    expect(policy.finding?.changes.policy?.external_accounts).toEqual(['444455556666']);
    expect(disable.finding).toMatchObject({ severity: 'critical', status: 'drift' });
    expect(disable.finding?.changes.key_state).toEqual({ before: 'Enabled', after: 'Disabled' });
    // The loser of the race judged again on the winner's state, which left out the loser's change (the winner's read
    // showed it, but only the loser's finding reports it), and saved its own change over it.
    expect(output.metric('StaleStateRetries')).toBe(1);
    const saved = await store().load([KEY]);
    expect(saved.states.get(KEY)?.version).toBe(2);
    expect(saved.states.get(KEY)?.snapshot.attributes).toMatchObject({
      key_state: 'Disabled',
      policy: normalizePolicy(opened),
    });
    expect(saved.baselines.get(KEY)).toMatchObject({ version: 1, acceptedBy: expect.stringContaining('carol') });
  });
});

describe('createDetector: multi-Region keys', () => {
  it("keeps this Region's primary and leaves the replica a ReplicateKey makes in another Region to that Region", async () => {
    // Prepare: the documented ReplicateKey (us-east-1 to us-west-2), without the trailing comma of its source.
    const primary = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const replica = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const record = JSON.parse(
      malformedSampleText('ReplicateKey__awskmsdg__1').replace(/("replicaPolicy": ".*"),(\s*\})/, '$1$2'),
    ) as Json;
    mockLiveKey({ arn: primary });

    // Act
    const { finding } = await makeDetector().detect(envelope(record));

    // Assess
    expect(finding).toMatchObject({ event: 'ReplicateKey', resource: primary, severity: 'critical' });
    const saved = await store().load([primary, replica]);
    expect([saved.states.has(primary), saved.states.has(replica), saved.baselines.has(replica)]).toEqual([
      true,
      false,
      false,
    ]);
  });
});

describe('createDetector: concurrent events and live reads', () => {
  it('does not overwrite the state a later event saved from a newer live read with its own older read', async () => {
    // Prepare: the DisableKey's live read sees the key Disabled, then stalls; KMS shows it Enabled from then on.
    const now = () => Date.parse('2014-11-04T01:00:30Z');
    const first = makeDetector({}, { now });
    const second = makeDetector({}, { now });
    const enabled = mockLiveKey({ state: 'Enabled' });
    kmsMock
      .on(DescribeKeyCommand, { KeyId: KEY })
      .resolvesOnce(liveKey({ state: 'Disabled' }).describe)
      .resolves(enabled.describe);
    let resume = () => {};
    const stalled = new Promise<void>((resolve) => {
      resume = resolve;
    });
    let policyReads = 0;
    kmsMock.on(GetKeyPolicyCommand, { KeyId: KEY }).callsFake(async () => {
      if (policyReads++ === 0) await stalled;
      return enabled.policy;
    });

    // Act: the EnableKey after it is judged and saved meanwhile; then the DisableKey goes on
    const disable = first.detect(envelope(readRecord('DisableKey__awskmsdg__1')));
    // Until the DisableKey's claim and load are answered and its policy read stalls.
    const stalling = () => policyReads > 0 && table.calls.length >= 2 && table.calls.every((c) => c.end >= 0);
    while (!stalling()) await new Promise((resolve) => setTimeout(resolve, 5));
    await second.detect(envelope(enableKeyAfterDisableKey()));
    resume();
    const { finding } = await disable;

    // Assess: the DisableKey is reported, judged again on the saved state, which stays what KMS shows now
    expect(finding).toMatchObject({ event: 'DisableKey', severity: 'critical' });
    expect(output.metric('StaleStateRetries')).toBe(1);
    expect((await store().load([KEY])).states.get(KEY)?.snapshot.attributes.key_state).toBe('Enabled');
  });
});

describe('createDetector: events it does not judge', () => {
  it.each([
    ['not an EventBridge event', { hello: 'world' }],
    ['another service', { ...envelope(readRecord('PutKeyPolicy__awskmsdg__1')), source: 'aws.s3' }],
    [
      'a record without eventTime',
      (() => {
        const event = envelope(readRecord('PutKeyPolicy__awskmsdg__1'));
        delete (event.detail as Json).eventTime;
        return event;
      })(),
    ],
  ])('logs and counts an invalid event (%s), without throwing or calling AWS', async (_name, event) => {
    const { detect } = makeDetector();

    await expect(detect(event)).resolves.toEqual({});

    expect(output.metric('InvalidEvents')).toBe(1);
    expect(output.logs('ERROR')).toHaveLength(1);
    expect(table.calls).toEqual([]);
    expect(kmsMock.calls()).toEqual([]);
  });

  it('ignores a read-only call that reached it', async () => {
    const { detect } = makeDetector();
    const record = readRecord('PutKeyPolicy__awskmsdg__1');
    Object.assign(record, { eventName: 'GetKeyPolicy', readOnly: true });

    await expect(detect(envelope(record))).resolves.toEqual({});
    expect(output.metric('IgnoredEvents')).toBe(1);
  });

  it("leaves a call on another account's key, recorded here because this account made it, to the key's owner", async () => {
    const { detect } = makeDetector();
    const sharedKey = 'arn:aws:kms:us-west-2:999988887777:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const record = readRecord('CreateGrant__awskmsdg__3');
    Object.assign(record, {
      requestParameters: { ...(record.requestParameters as Json), keyId: sharedKey },
      resources: [{ ARN: sharedKey, accountId: '999988887777' }],
    });

    await expect(detect(envelope(record))).resolves.toEqual({});

    expect(output.metric('OtherAccountEvents')).toBe(1);
    expect(table.calls).toEqual([]);
    expect(kmsMock.calls()).toEqual([]);
    expect(snsMock.calls()).toEqual([]);
  });
});

describe('createDetector: round trips', () => {
  it('makes at most two sequential round trips from the event to its published alert', async () => {
    // Prepare: every AWS call answers after `delay` ms; record when each one starts and is answered.
    let delay = 0;
    const mocked: Array<{ start: number; end: number }> = [];
    let publishedAt = 0;
    const slow =
      <T>(value: T) =>
      async () => {
        const call = { start: performance.now(), end: Number.NaN };
        mocked.push(call);
        await new Promise((resolve) => setTimeout(resolve, delay));
        call.end = performance.now();
        return value;
      };
    const live = liveKey();
    kmsMock.on(DescribeKeyCommand).callsFake(slow(live.describe));
    kmsMock.on(GetKeyPolicyCommand).callsFake(slow(live.policy));
    kmsMock.on(GetKeyRotationStatusCommand).callsFake(slow(live.rotation));
    kmsMock.on(ListResourceTagsCommand).callsFake(slow(live.tags));
    kmsMock.on(ListAliasesCommand).callsFake(slow(live.aliases));
    kmsMock.on(ListGrantsCommand).callsFake(slow(live.grants));
    trailMock.on(DescribeTrailsCommand).callsFake(slow({ trailList: [] }));
    snsMock.on(PublishCommand).callsFake(async () => {
      const answer = await slow({ MessageId: 'm-1' })();
      publishedAt = performance.now();
      return answer;
    });
    eventsMock.on(PutEventsCommand).callsFake(slow({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] }));
    const { detect } = makeDetector();
    /**
     * How many round trips deep the deepest of `calls` is: a call waited for those answered before it started, so it
     * is one round trip after the deepest of them. Counted from the order of starts and answers, not from durations,
     * so a loaded machine cannot change the count.
     */
    const roundTrips = (calls: Array<{ start: number; end: number }>) => {
      const depth = new Map<{ start: number; end: number }, number>();
      for (const call of [...calls].sort((a, b) => a.start - b.start)) {
        const before = calls.filter((c) => c.end <= call.start).map((c) => depth.get(c) ?? 0);
        depth.set(call, 1 + Math.max(0, ...before));
      }
      return Math.max(0, ...depth.values());
    };
    const run = async (eventId: string) => {
      const record = readRecord('PutKeyPolicy__awskmsdg__1');
      record.eventID = eventId;
      mocked.length = 0;
      table.calls.length = 0;
      table.setDelay(delay);
      const started = performance.now();
      const { finding } = await detect(envelope(record));
      const elapsed = publishedAt - started;
      const all = [...mocked, ...table.calls];
      const beforePublished = all.filter((call) => call.start < publishedAt);
      return { finding, elapsed, calls: all.length, toAlert: roundTrips(beforePublished), inAll: roundTrips(all) };
    };

    // Act: the same path with instant answers (after a warm-up), then with 20 ms answers
    await run('warm-up-0000-4000-8000-000000000000');
    const instant = await run('c217db1f-903f-4a2f-8f88-000000000001');
    delay = 20;
    const timed = await run('c217db1f-903f-4a2f-8f88-000000000002');

    // Assess
    expect(timed.finding?.severity).toBe('critical');
    // KMS, DescribeTrails, claim + load, SNS, PutEvents, save, then "claim done" once the alert is out
    expect(timed.calls).toBe(6 + 1 + 2 + 3 + 1 + 1 + 1);
    expect(timed.toAlert).toBe(2);
    expect(timed.inAll).toBe(3);
    expect(timed.elapsed).toBeGreaterThanOrEqual(2 * delay);
    if (process.env.KEYDRIFT_TIMING_FILE) {
      require('node:fs').appendFileSync(
        process.env.KEYDRIFT_TIMING_FILE,
        `instant ${instant.elapsed.toFixed(1)} ms, 20 ms per call ${timed.elapsed.toFixed(1)} ms\n`,
      );
    }
  });
});
