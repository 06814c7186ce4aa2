/**
 * The reconciler application (lambda/handlers/reconciler-app.ts) against an in-memory KMS account
 * (aws-sdk-client-mock, test/helpers/fake-kms.ts) and an in-process DynamoDB (dynalite): adoption, drift found by
 * comparison, accounts that throttle, and runs continued across invocations.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  CloudTrailClient,
  DescribeTrailsCommand,
  GetEventSelectorsCommand,
  GetTrailStatusCommand,
} from '@aws-sdk/client-cloudtrail';
import { GetItemCommand, PutItemCommand, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { DescribeKeyCommand, KMSClient, ListGrantsCommand, ListKeysCommand } from '@aws-sdk/client-kms';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { createStateStore } from '../../lambda/adapters/state-store';
import { deletedKeyResolves, pagerDutyEventsToSend } from '../../lambda/alerts/pagerduty';
import { parseDetectionConfig } from '../../lambda/core/config';
import { snapshotFromState } from '../../lambda/core/state';
import type { Finding, ResourceSnapshot } from '../../lambda/core/types';
import { createDetector } from '../../lambda/handlers/detector-app';
import {
  CONTINUE_DETAIL_TYPE,
  createReconciler,
  type ReconcileResult,
  type ReconcilerSettings,
} from '../../lambda/handlers/reconciler-app';
import { startTable, type TestTable, throttlingError } from '../adapters/dynalite-table';
import { basicPolicy, type FakeKey, FakeKms, seeded } from '../helpers/fake-kms';
import { sample } from '../helpers/fixtures';
import { kmsError } from '../helpers/kms-api';
import { captureOutput, envelope, type Json } from './harness';

const kmsMock = mockClient(KMSClient);
const snsMock = mockClient(SNSClient);
const eventsMock = mockClient(EventBridgeClient);
const trailMock = mockClient(CloudTrailClient);

const REGION = 'us-west-2';
const ACCOUNT = '111122223333';
const TRAIL = `arn:aws:cloudtrail:${REGION}:${ACCOUNT}:trail/org-audit`;
const topics = {
  chat: `arn:aws:sns:${REGION}:${ACCOUNT}:keydrift-chat`,
  email: `arn:aws:sns:${REGION}:${ACCOUNT}:keydrift-email`,
  page: `arn:aws:sns:${REGION}:${ACCOUNT}:keydrift-page`,
  ops: `arn:aws:sns:${REGION}:${ACCOUNT}:keydrift-ops`,
};

let table: TestTable;
let account: FakeKms;

beforeAll(() => {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
});

beforeEach(async () => {
  for (const mock of [kmsMock, snsMock, eventsMock, trailMock]) mock.reset();
  snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
  eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
  trailMock.on(DescribeTrailsCommand).resolves({
    trailList: [
      {
        Name: 'org-audit',
        TrailARN: TRAIL,
        HomeRegion: REGION,
        IsMultiRegionTrail: true,
        LogFileValidationEnabled: true,
      },
    ],
  });
  trailMock.on(GetTrailStatusCommand).resolves({ IsLogging: true });
  trailMock.on(GetEventSelectorsCommand).resolves({
    EventSelectors: [{ ReadWriteType: 'All', IncludeManagementEvents: true }],
  });
  table = await startTable();
});

afterEach(async () => {
  await table.stop();
});

const logger = new Logger({ serviceName: 'keydrift-test', logLevel: 'SILENT' });

function reconciler(overrides: Partial<ReconcilerSettings> = {}, now?: () => number) {
  const settings: ReconcilerSettings = {
    tableName: table.tableName,
    topics,
    eventBusName: 'default',
    selfKeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/keydrift-own-key`,
    opsKeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/keydrift-ops-key`,
    config: parseDetectionConfig({}),
    alertMinSeverity: 'error',
    region: REGION,
    concurrency: 4,
    kmsBackoffMs: 5,
    ...overrides,
  };
  return createReconciler({
    kms: new KMSClient({ region: REGION }),
    dynamodb: table.client,
    sns: new SNSClient({ region: REGION }),
    eventBridge: new EventBridgeClient({ region: REGION }),
    cloudtrail: new CloudTrailClient({ region: REGION }),
    settings,
    logger,
    metrics: new Metrics({ namespace: 'KeydriftTest', serviceName: 'keydrift-test' }),
    ...(now ? { now } : {}),
  });
}

/** The detector on the same table and accounts, for an event the reconciler ran before. */
function detector(now?: () => number, config = parseDetectionConfig({})) {
  return createDetector({
    kms: new KMSClient({ region: REGION }),
    dynamodb: table.client,
    sns: new SNSClient({ region: REGION }),
    eventBridge: new EventBridgeClient({ region: REGION }),
    cloudtrail: new CloudTrailClient({ region: REGION }),
    settings: {
      tableName: table.tableName,
      topics,
      eventBusName: 'default',
      selfKeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/keydrift-own-key`,
      opsKeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/keydrift-ops-key`,
      lastResortTopicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:keydrift-last-resort`,
      config,
      alertMinSeverity: 'error',
    },
    logger,
    metrics: new Metrics({ namespace: 'KeydriftTest', serviceName: 'keydrift-test' }),
    sleep: async () => {},
    ...(now ? { now } : {}),
  });
}

/** An account of `n` customer managed keys, an alias on the first, and one AWS managed key. */
function accountWith(n: number, options: ConstructorParameters<typeof FakeKms>[0] = {}): FakeKms {
  const fake = new FakeKms({ region: REGION, account: ACCOUNT, ...options });
  for (let i = 0; i < n; i++) fake.addKey({ tags: { team: `team-${i % 3}` } });
  const first = [...fake.keys.values()][0];
  fake.aliases.set('alias/payments', first.id);
  const ebs = fake.addKey({ keyManager: 'AWS', description: 'Default key for EBS' });
  fake.aliases.set('alias/aws/ebs', ebs.id);
  fake.install(kmsMock);
  return fake;
}

async function item(pk: string, sk: string) {
  const { Item } = await table.client.send(
    new GetItemCommand({ TableName: table.tableName, Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: true }),
  );
  return Item;
}

/** How many messages were published to a topic. */
const sent = (topic: string) => snsMock.commandCalls(PublishCommand, { TopicArn: topic }).length;

const customerKeys = (fake: FakeKms) => [...fake.keys.values()].filter((k) => k.keyManager === 'CUSTOMER');

/** An account of one customer key, adopted by a first run: that key. */
async function adoptedKey(): Promise<FakeKey> {
  account = accountWith(1);
  await reconciler()({});
  return customerKeys(account)[0];
}
/** A key policy with one more statement, which lets another account decrypt. */
function openedToAnotherAccount(policyJson: string): string {
  const policy = JSON.parse(policyJson) as { Statement: Json[] };
  policy.Statement.push({
    Sid: 'Outside',
    Effect: 'Allow',
    Principal: { AWS: 'arn:aws:iam::444455556666:root' },
    Action: 'kms:Decrypt',
    Resource: '*',
  });
  return JSON.stringify(policy);
}

const snapshotOf = async (arn: string, sk: 'STATE' | 'BASELINE') =>
  JSON.parse((await item(`RESOURCE#${arn}`, sk))?.snapshot?.S ?? '{}').attributes;
const findingEvents = () =>
  eventsMock
    .commandCalls(PutEventsCommand)
    .flatMap((c) => c.args[0].input.Entries ?? [])
    .filter((e) => e.DetailType !== CONTINUE_DETAIL_TYPE);

/** What starts a run: the schedule, and CloudFormation's event for the stack's completed deployment. */
const SCHEDULED = { source: 'aws.events', 'detail-type': 'Scheduled Event' };
const STACK_DEPLOYED = {
  version: '0',
  id: 'f7c5a2d8-0d4c-4f7e-8c57-2b8e4d7f1a90',
  'detail-type': 'CloudFormation Stack Status Change',
  source: 'aws.cloudformation',
  account: ACCOUNT,
  time: '2026-12-04T17:20:11Z',
  region: REGION,
  resources: [`arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/Keydrift/5b1c3e40-d1f2-11f0-9c2a-0a8f3d5e6b71`],
  detail: {
    'stack-id': `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/Keydrift/5b1c3e40-d1f2-11f0-9c2a-0a8f3d5e6b71`,
    'status-details': { status: 'CREATE_COMPLETE', 'status-reason': '' },
    'client-request-token': 'exec-7e5e6a55-2c5f-4a3b-9f21-6d1c0e8b4a12',
  },
};

describe('Reconciler: adoption and drift', () => {
  it.each([
    ['on its schedule', SCHEDULED],
    ["right after the stack's deployment", STACK_DEPLOYED],
  ])(
    'adopts every customer managed key, alias and trail on the first run, %s, without alerting',
    async (_, trigger) => {
      // Prepare
      account = accountWith(5);

      // Act
      const result = await reconciler()(trigger);

      // Assess
      expect(result).toMatchObject({ status: 'completed', findings: [] });
      expect(result.counts).toMatchObject({ keys: 5, awsManagedKeys: 1, aliases: 1, trails: 1, adopted: 7 });
      expect(snsMock).not.toHaveReceivedCommand(PublishCommand);
      expect(findingEvents()).toEqual([]);
      for (const key of customerKeys(account)) {
        const baseline = await item(`RESOURCE#${key.arn}`, 'BASELINE');
        expect(baseline?.acceptedBy?.S).toBe('keydrift adoption');
        expect(JSON.parse(baseline?.snapshot?.S ?? '{}').attributes).toMatchObject({ key_state: 'Enabled' });
        expect(await item(`RESOURCE#${key.arn}`, 'STATE')).toBeDefined();
      }
      // The AWS managed key is known from its alias/aws/ alias: not even read.
      const ebs = [...account.keys.values()].find((k) => k.keyManager === 'AWS');
      expect(account.callsByKey.get(ebs?.arn ?? '')).toBeUndefined();
      expect(await item('META', 'ADOPTION')).toBeDefined();
      expect(await item('META', 'RECONCILE')).toBeUndefined();
    },
  );

  it.each([
    ['its reason', { reason: 'HSM team' }, 'HSM team'],
    ['no reason', {}, 'an ignore rule'],
  ])('keeps drift an ignore rule matches out of alerts and stores it with %s', async (_, rule, ignoredBy) => {
    // Prepare: an ignore rule for one key's findings; both keys disabled behind keydrift's back.
    account = accountWith(2);
    await reconciler()({});
    const [ignored, alerted] = customerKeys(account);
    const config = parseDetectionConfig({ ignore: [{ resource: ignored.arn, ...rule }] });
    ignored.keyState = 'Disabled';
    alerted.keyState = 'Disabled';
    snsMock.resetHistory();

    // Act
    const result = await reconciler({ config })({});

    // Assess: both found; only the other key's reaches the topics; the ignored one is kept, marked.
    const found = (key: { arn: string }) => result.findings.find((f) => f.resource === key.arn);
    expect(found(ignored)).toMatchObject({ severity: 'critical', status: 'drift' });
    expect(found(alerted)).toMatchObject({ severity: 'critical', status: 'drift' });
    const messages = snsMock.commandCalls(PublishCommand).map((call) => String(call.args[0].input.Message));
    expect(messages.some((m) => m.includes(found(alerted)?.eventId ?? '-'))).toBe(true);
    expect(messages.some((m) => m.includes(found(ignored)?.eventId ?? '-'))).toBe(false);
    const kept = found(ignored) as Finding;
    const stored = await item(`RESOURCE#${ignored.arn}`, `FINDING#${kept.timestamp}#${kept.eventId}`);
    expect(stored?.ignoredBy?.S).toBe(ignoredBy);
  });

  it('still has the pager close the incident of paged drift whose return an ignore rule matches, and tells no one else', async () => {
    // Prepare: adopted; the key disabled behind keydrift's back (paged); then an ignore rule for it, and it is back.
    const key = await adoptedKey();
    key.keyState = 'Disabled';
    const drift = await reconciler()({});
    key.keyState = 'Enabled';
    snsMock.resetHistory();
    eventsMock.resetHistory();
    const config = parseDetectionConfig({ ignore: [{ resource: key.arn, reason: 'handed to the HSM team' }] });

    // Act
    const back = await reconciler({ config })({});

    // Assess: the drift was paged; its return goes to the page topic only, and is kept ignored.
    expect(drift.findings.map((f) => [f.status, f.severity])).toEqual([['drift', 'critical']]);
    const [resolved] = back.findings;
    expect(back.findings.map((f) => f.status)).toEqual(['resolved']);
    const paged = snsMock
      .commandCalls(PublishCommand, { TopicArn: topics.page })
      .map((call) => JSON.parse(String(call.args[0].input.Message)) as Finding);
    expect(paged.flatMap((f) => pagerDutyEventsToSend(f, 'k')).map((e) => e.event_action)).toEqual(['resolve']);
    expect(sent(topics.chat) + sent(topics.email) + sent(topics.ops)).toBe(0);
    expect(findingEvents()).toEqual([]);
    const stored = await item(`RESOURCE#${key.arn}`, `FINDING#${resolved.timestamp}#${resolved.eventId}`);
    expect(stored?.ignoredBy?.S).toBe('handed to the HSM team');
  });

  it('sends that ignored return to the pager on the next run when the page topic refused it', async () => {
    // Prepare: as above; the page topic refuses the resolve once.
    const key = await adoptedKey();
    key.keyState = 'Disabled';
    await reconciler()({});
    key.keyState = 'Enabled';
    snsMock.resetHistory();
    snsMock
      .on(PublishCommand, { TopicArn: topics.page })
      .rejectsOnce(new Error('connect ETIMEDOUT'))
      .resolves({ MessageId: 'm-2' });
    const config = parseDetectionConfig({ ignore: [{ resource: key.arn }] });

    // Act
    const failed = await reconciler({ config })({});
    const next = await reconciler({ config })({});

    // Assess
    expect(failed).toMatchObject({ status: 'completed', findings: [], counts: { failures: 1 } });
    expect(next.findings.map((f) => f.status)).toEqual(['resolved']);
    expect([sent(topics.chat), sent(topics.email), sent(topics.ops), sent(topics.page)]).toEqual([0, 0, 0, 2]);
  });

  it('reports unexplained drift once, a key that appeared later as a warning, and resolves the drift', async () => {
    // Prepare
    account = accountWith(3);
    await reconciler()({});
    const [first, second] = customerKeys(account);

    // Act: disabled behind keydrift's back, and a new key nobody told keydrift about
    first.keyState = 'Disabled';
    const late = account.addKey({ description: 'created while the detector was down' });
    const drift = await reconciler()({});
    const again = await reconciler()({});
    first.keyState = 'Enabled';
    second.tags.team = 'someone-else';
    const resolved = await reconciler()({});

    // Assess
    expect(drift.findings).toHaveLength(2);
    expect(drift.findings.find((f) => f.resource === first.arn)).toMatchObject({
      event: 'Reconcile',
      severity: 'critical',
      status: 'drift',
      changes: { key_state: { before: 'Enabled', after: 'Disabled' } },
    });
    const appeared = drift.findings.find((f) => f.resource === late.arn);
    expect(appeared).toMatchObject({ event: 'Unbaselined', severity: 'warning', status: 'drift' });
    expect(appeared?.summary).toMatch(/^Key .* appeared without a baseline/);
    expect(appeared?.remediation[0]).toMatch(/^# if this key is not wanted: aws kms schedule-key-deletion/);
    expect(snsMock).toHaveReceivedCommandWith(PublishCommand, { TopicArn: topics.page });
    expect(drift.counts?.openDrift).toBe(1);
    expect(again).toMatchObject({ status: 'completed', findings: [] });
    expect(again.counts?.openDrift).toBe(1);
    expect((await item(`RESOURCE#${late.arn}`, 'BASELINE'))?.acceptedBy?.S).toMatch(/appeared without a baseline/);
    expect(resolved.findings.map((f) => [f.resource, f.status, f.severity]).sort()).toEqual(
      [
        [first.arn, 'resolved', 'info'],
        [second.arn, 'drift', 'warning'],
      ].sort(),
    );
  });

  it('has the pager resolve the incidents of the other attributes of a key it finds deleted', async () => {
    // Prepare: adopted; the key's policy opened to another account behind keydrift's back (paged), then the key
    // deleted, its events missed.
    const key = await adoptedKey();
    key.policy = openedToAnotherAccount(key.policy);
    const opened = await reconciler()({});
    account.keys.delete(key.arn);
    snsMock.resetHistory();

    // Act
    const found = await reconciler()({});

    // Assess: the deletion pages the key's state, and closes the policy's incident.
    expect([...opened.findings, ...found.findings].map((f) => [f.status, f.severity, Object.keys(f.changes)])).toEqual([
      ['drift', 'critical', ['policy']],
      ['drift', 'critical', ['key_state']],
    ]);
    const paged = snsMock
      .commandCalls(PublishCommand, { TopicArn: topics.page })
      .map((call) => JSON.parse(String(call.args[0].input.Message)) as Finding)
      .flatMap((f) => [...pagerDutyEventsToSend(f, 'k'), ...deletedKeyResolves(f, 'k')])
      .map((event) => [event.event_action, event.dedup_key.split(':').pop()]);
    expect(paged).toEqual(
      expect.arrayContaining([
        ['trigger', 'key_state'],
        ['resolve', 'policy'],
      ]),
    );
    expect(paged.filter(([action]) => action === 'trigger')).toEqual([['trigger', 'key_state']]);
  });

  it('alerts a drift again when it recurs after it was resolved', async () => {
    // Prepare: adopted; the key disabled behind keydrift's back (alerted), then enabled again (resolved).
    const key = await adoptedKey();
    key.keyState = 'Disabled';
    const first = await reconciler()({});
    key.keyState = 'Enabled';
    await reconciler()({});
    snsMock.resetHistory();

    // Act: disabled again
    key.keyState = 'Disabled';
    const recurred = await reconciler()({});

    // Assess
    expect(first.findings.map((f) => [f.status, f.severity])).toEqual([['drift', 'critical']]);
    expect(recurred.findings.map((f) => [f.status, f.severity])).toEqual([['drift', 'critical']]);
    expect(recurred.findings[0].eventId).not.toBe(first.findings[0].eventId);
    expect(snsMock).toHaveReceivedCommandWith(PublishCommand, { TopicArn: topics.page });
  });

  it('alerts a drift whose alert failed part-way on the next run, only to the channels that missed it', async () => {
    // Prepare: the chat topic refuses the first message.
    account = accountWith(2);
    await reconciler()({});
    const [first] = customerKeys(account);
    first.keyState = 'Disabled';
    snsMock
      .on(PublishCommand, { TopicArn: topics.chat })
      .rejectsOnce(new Error('connect ETIMEDOUT'))
      .resolves({ MessageId: 'm-2' });

    // Act
    const failed = await reconciler()({});
    const next = await reconciler()({});

    // Assess
    expect(next.findings.map((f) => [f.resource, f.severity])).toEqual([[first.arn, 'critical']]);
    expect(failed).toMatchObject({ status: 'completed', findings: [], counts: { failures: 1 } });
    expect([sent(topics.chat), sent(topics.email), sent(topics.page)]).toEqual([2, 1, 1]);
    expect(findingEvents()).toHaveLength(1);
  });

  it('alerts a drift whose invocation died while alerting it on the first run after its claim expires', async () => {
    // Prepare: adopted; then the key is disabled, and the invocation that finds it dies with its alert unconfirmed.
    account = accountWith(1);
    let clock = Date.parse('2026-12-01T00:00:00Z');
    const run = () => reconciler({}, () => clock);
    await run()({});
    const [key] = customerKeys(account);
    key.keyState = 'Disabled';
    const lambda = { getRemainingTimeInMillis: () => 600_000 };
    const hung: Array<(error: Error) => void> = [];
    let dying = true;
    let publishing = () => {};
    const published = new Promise<void>((resolve) => {
      publishing = resolve;
    });
    snsMock.on(PublishCommand).callsFake(() => {
      if (!dying) return Promise.resolve({ MessageId: 'm-2' });
      publishing();
      return new Promise((_, reject) => hung.push(reject));
    });
    const dead = run()({}, lambda).catch(() => undefined);
    await published;
    dying = false;
    snsMock.resetHistory();

    // Act: Lambda's retry, while the dead invocation's claim still holds; then a run once it has run out
    const retry = await run()({}, lambda);
    const stateAfterRetry = await snapshotOf(key.arn, 'STATE');
    const pagedByRetry = snsMock.commandCalls(PublishCommand).length;
    clock += 11 * 60 * 1000;
    const later = await run()({}, lambda);
    for (const reject of hung) reject(new Error('Task timed out after 900.00 seconds'));
    await dead;

    // Assess
    expect(retry).toMatchObject({ status: 'completed', findings: [], counts: { pending: 1, duplicates: 0 } });
    expect(pagedByRetry).toBe(0);
    expect(stateAfterRetry).toMatchObject({ key_state: 'Enabled' });
    expect(later.findings.map((f) => [f.resource, f.status, f.severity])).toEqual([[key.arn, 'drift', 'critical']]);
    expect(snsMock).toHaveReceivedCommandWith(PublishCommand, { TopicArn: topics.page });
  });

  it('stores a drift on the next run, without alerting it again, when saving it failed after its alert went out', async () => {
    // Prepare: DynamoDB throttles the transaction that saves the finding, once.
    account = accountWith(2);
    await reconciler()({});
    const [first] = customerKeys(account);
    first.keyState = 'Disabled';
    table.failOnce((command) => command === 'TransactWriteItemsCommand', throttlingError());

    // Act
    const failed = await reconciler()({});
    const next = await reconciler()({});
    const after = await reconciler()({});

    // Assess
    expect(failed).toMatchObject({ counts: { failures: 1 } });
    expect(next.counts?.failures).toBe(0);
    expect([sent(topics.chat), sent(topics.email), sent(topics.page)]).toEqual([1, 1, 1]);
    expect(findingEvents()).toHaveLength(1);
    expect(after).toMatchObject({ findings: [], counts: { openDrift: 1 } });
    expect(JSON.parse((await item(`RESOURCE#${first.arn}`, 'STATE'))?.snapshot?.S ?? '{}').attributes.key_state).toBe(
      'Disabled',
    );
  });

  it('alerts nothing again when the detector saved the key meanwhile and the save of the finding alone then failed', async () => {
    // Prepare: the save of the finding with the key's state finds the state changed (the detector saved it), and the
    // save of the finding alone is then throttled.
    account = accountWith(2);
    let clock = Date.parse('2026-12-01T00:00:00Z');
    const run = () => reconciler({}, () => clock);
    await run()({});
    const [first] = customerKeys(account);
    first.keyState = 'Disabled';
    const stale = new TransactionCanceledException({
      message:
        'Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None, None]',
      $metadata: { httpStatusCode: 400 },
      CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }, { Code: 'None' }],
    });
    table.failOnce((command) => command === 'TransactWriteItemsCommand', stale);
    table.failOnce((command) => command === 'TransactWriteItemsCommand', throttlingError());

    // Act: the run that alerts, and one after the claim's lease ran out
    const failed = await run()({});
    clock += 11 * 60 * 1000;
    const next = await run()({});

    // Assess
    expect(failed).toMatchObject({ counts: { failures: 1 } });
    expect(next.counts?.failures).toBe(0);
    expect([sent(topics.chat), sent(topics.email), sent(topics.page)]).toEqual([1, 1, 1]);
    expect(findingEvents()).toHaveLength(1);
  });

  it.each([
    ['a conflicting write to the same item', 'TransactionConflict'],
    ['throttling', 'ThrottlingError'],
  ])(
    'counts a resource whose adoption DynamoDB cancelled for %s as a failure, and adopts it on the next run',
    async (_, code) => {
      // Prepare: the transaction that adopts the first resource is cancelled, once.
      account = accountWith(3);
      table.failOnce(
        (command) => command === 'TransactWriteItemsCommand',
        new TransactionCanceledException({
          message: `Transaction cancelled, please refer cancellation reasons for specific reasons [None, ${code}]`,
          $metadata: { httpStatusCode: 400 },
          CancellationReasons: [{ Code: 'None' }, { Code: code }],
        }),
      );

      // Act
      const first = await reconciler()({});
      const next = await reconciler()({});

      // Assess: one failure, not a failed invocation; the run after it adopts what is left, silently.
      expect(first).toMatchObject({ status: 'completed', counts: { adopted: 4, failures: 1 } });
      expect(next).toMatchObject({ status: 'completed', findings: [], counts: { adopted: 1, failures: 0 } });
      expect(await item('META', 'ADOPTION')).toBeDefined();
    },
  );

  describe('an adoption that could not read every resource', () => {
    /** Every DescribeKey of `key` throttled, past each retry. */
    const throttled = (key: FakeKey) =>
      kmsMock.on(DescribeKeyCommand, { KeyId: key.arn }).rejects(kmsError('ThrottlingException', 'Rate exceeded'));

    it('adopts the key it could not read silently on the next run, and reports a key that appeared since', async () => {
      // Prepare: the first run's reads of one key are throttled past their retries; then, its CreateKey event lost,
      // a key appears whose policy lets another account in.
      account = accountWith(3);
      const owed = customerKeys(account)[1];
      throttled(owed);
      const first = await reconciler()({});
      kmsMock.reset();
      account.install(kmsMock);
      const late = account.addKey({ policy: openedToAnotherAccount(basicPolicy(ACCOUNT)) });

      // Act
      const next = await reconciler()({});

      // Assess: the adoption is marked, owing the key; the next run adopts it and reports only the new key.
      expect(first).toMatchObject({ status: 'completed', findings: [], counts: { adopted: 4, failures: 1 } });
      expect(next.findings.map((f) => [f.resource, f.event, f.severity])).toEqual([
        [late.arn, 'Unbaselined', 'critical'],
      ]);
      expect(next.counts).toMatchObject({ adopted: 1, failures: 0 });
      expect((await item(`RESOURCE#${owed.arn}`, 'BASELINE'))?.acceptedBy?.S).toBe('keydrift adoption');
      // Paid: the marker owes nothing more.
      expect(await item('META', 'ADOPTION')).toMatchObject({ resources: { N: '5' } });
      expect((await item('META', 'ADOPTION'))?.owed).toBeUndefined();
    });

    it('keeps owing a key whose read fails again, and adopts it once it reads', async () => {
      // Prepare: the first two runs cannot read one key.
      account = accountWith(2);
      const owed = customerKeys(account)[0];
      throttled(owed);
      await reconciler()({});
      const again = await reconciler()({});
      kmsMock.reset();
      account.install(kmsMock);

      // Act
      const paid = await reconciler()({});

      // Assess
      expect(again).toMatchObject({ status: 'completed', findings: [], counts: { adopted: 0, failures: 1 } });
      expect(paid).toMatchObject({ status: 'completed', findings: [], counts: { adopted: 1, failures: 0 } });
      expect((await item(`RESOURCE#${owed.arn}`, 'BASELINE'))?.acceptedBy?.S).toBe('keydrift adoption');
    });

    it('reads an adoption marker stored without owed resources, as earlier versions stored it, as owing none', async () => {
      // Prepare: an account adopted by an earlier version (its marker has no owed list), whose keys have no baseline
      // yet (their CreateKey events lost).
      account = accountWith(2);
      await table.client.send(
        new PutItemCommand({
          TableName: table.tableName,
          Item: {
            pk: { S: 'META' },
            sk: { S: 'ADOPTION' },
            adoptedAt: { S: '2026-11-20T06:00:03.512Z' },
            runId: { S: 'run-of-an-earlier-version' },
            resources: { N: '12' },
          },
        }),
      );

      // Act
      const result = await reconciler()({});

      // Assess: every resource without a baseline is reported as appeared; the marker is left as it was.
      expect(result).toMatchObject({ status: 'completed', counts: { adopted: 0, failures: 0 } });
      expect(result.findings.filter((f) => f.event === 'Unbaselined')).toHaveLength(4);
      expect(await item('META', 'ADOPTION')).toEqual({
        pk: { S: 'META' },
        sk: { S: 'ADOPTION' },
        adoptedAt: { S: '2026-11-20T06:00:03.512Z' },
        runId: { S: 'run-of-an-earlier-version' },
        resources: { N: '12' },
      });
    });
  });

  it('reports a baselined key that KMS no longer lists as deleted (critical)', async () => {
    // Prepare
    account = accountWith(2);
    await reconciler()({});
    const [gone] = customerKeys(account);
    account.keys.delete(gone.arn);

    // Act
    const result = await reconciler()({});

    // Assess
    expect(result.findings).toHaveLength(1);
    expect(result.findings[0]).toMatchObject({
      resource: gone.arn,
      severity: 'critical',
      changes: { key_state: { before: 'Enabled', after: 'Deleted' } },
    });
    expect(result.counts?.gone).toBe(1);
  });

  it("goes on with the aliases and the keys KMS no longer lists when a trail's status cannot be read", async () => {
    // Prepare: adopted; then a key deleted and an alias moved unseen, while CloudTrail throttles the trail's status.
    account = accountWith(2);
    await reconciler()({});
    const [gone, other] = customerKeys(account);
    account.aliases.set('alias/payments', other.id);
    account.keys.delete(gone.arn);
    trailMock.on(GetTrailStatusCommand).rejects(throttlingError());

    // Act
    const result = await reconciler()({});

    // Assess: the trail is a failure of its own (alarmed, read again next run); the rest is reconciled.
    expect(result).toMatchObject({ status: 'completed', counts: { failures: 1, gone: 1, aliases: 1 } });
    expect(result.findings.map((f) => [f.resource, f.severity]).sort()).toEqual(
      [
        [gone.arn, 'critical'],
        [other.arn, 'warning'],
        [`arn:aws:kms:${REGION}:${ACCOUNT}:alias/payments`, 'error'],
      ].sort(),
    );
    // A trail it could not read is given the benefit of the doubt: no "no trail delivers KMS events" alarm.
    expect(result.counts?.kmsTrails).toBe(1);
  });

  it('leaves an organization trail to the management account that owns it, and finishes the run', async () => {
    // Prepare: the member account sees the organization's trail; its role may not read that trail's status.
    const orgTrail = `arn:aws:cloudtrail:${REGION}:999988887777:trail/o-exampleorgid-audit`;
    trailMock.on(DescribeTrailsCommand).resolves({
      trailList: [
        { Name: 'org-audit', TrailARN: TRAIL, HomeRegion: REGION, IsMultiRegionTrail: true },
        { Name: 'o-exampleorgid-audit', TrailARN: orgTrail, HomeRegion: REGION, IsOrganizationTrail: true },
      ],
    });
    const denied = Object.assign(new Error('User is not authorized to perform: cloudtrail:GetTrailStatus'), {
      name: 'AccessDeniedException',
      $metadata: { httpStatusCode: 400 },
    });
    trailMock.on(GetTrailStatusCommand, { Name: orgTrail }).rejects(denied);
    trailMock.on(GetEventSelectorsCommand, { TrailName: orgTrail }).rejects(denied);
    account = accountWith(1);

    // Act
    const result = await reconciler()({});

    // Assess
    expect(result).toMatchObject({ status: 'completed', counts: { trails: 1 } });
    expect(trailMock).not.toHaveReceivedCommandWith(GetTrailStatusCommand, { Name: orgTrail });
    expect(await item(`RESOURCE#${orgTrail}`, 'BASELINE')).toBeUndefined();
    expect(await item(`RESOURCE#${TRAIL}`, 'BASELINE')).toBeDefined();
  });

  it("reports a trail's logs moved to another bucket, its data events retargeted, and their return as resolved", async () => {
    // Prepare: an organization trail logging payroll objects, adopted as it is.
    const trail = (bucket: string, organization: boolean) => ({
      Name: 'org-audit',
      TrailARN: TRAIL,
      HomeRegion: REGION,
      S3BucketName: bucket,
      IsOrganizationTrail: organization,
      IncludeGlobalServiceEvents: true,
      IsMultiRegionTrail: true,
      LogFileValidationEnabled: true,
    });
    const selectors = (prefix: string) => ({
      AdvancedEventSelectors: [
        { Name: 'Management events', FieldSelectors: [{ Field: 'eventCategory', Equals: ['Management'] }] },
        {
          Name: 'Payroll export objects',
          FieldSelectors: [
            { Field: 'eventCategory', Equals: ['Data'] },
            { Field: 'resources.type', Equals: ['AWS::S3::Object'] },
            { Field: 'resources.ARN', StartsWith: [prefix] },
          ],
        },
      ],
    });
    const live = (bucket: string, organization: boolean, prefix: string) => {
      trailMock.on(DescribeTrailsCommand).resolves({ trailList: [trail(bucket, organization)] });
      trailMock.on(GetEventSelectorsCommand).resolves(selectors(prefix));
    };
    live('org-audit-logs', true, 'arn:aws:s3:::payroll-exports/');
    account = accountWith(1);
    expect(await reconciler()({})).toMatchObject({ status: 'completed', findings: [] });

    // Act: changed behind keydrift's back, then put back
    live('attacker-bucket-999988887777', false, 'arn:aws:s3:::payroll-exports-decoy/');
    const drift = await reconciler()({});
    live('org-audit-logs', true, 'arn:aws:s3:::payroll-exports/');
    const resolved = await reconciler()({});

    // Assess
    expect(drift.findings).toHaveLength(1);
    expect(drift.findings[0]).toMatchObject({
      resource: TRAIL,
      severity: 'error',
      status: 'drift',
      changes: {
        s3_bucket_name: { before: 'org-audit-logs', after: 'attacker-bucket-999988887777' },
        organization_trail: { before: true, after: false },
        event_selectors: {},
      },
    });
    expect(drift.findings[0].remediation).toEqual(
      expect.arrayContaining([
        `aws cloudtrail update-trail --name ${TRAIL} --region ${REGION} --s3-bucket-name org-audit-logs`,
        `aws cloudtrail update-trail --name ${TRAIL} --region ${REGION} --is-organization-trail`,
      ]),
    );
    expect(resolved.findings.map((f) => [f.resource, f.status])).toEqual([[TRAIL, 'resolved']]);
  });
});

describe('Reconciler: resources that appear in their set-up state', () => {
  it('approves a key for imported material that appeared pending import as enabled, so losing its material is critical', async () => {
    // Prepare: adopted; then a key for imported material appears, created while the detector was down.
    account = accountWith(1);
    await reconciler()({});
    const imported = account.addKey({ keyState: 'PendingImport', rotation: false });
    kmsMock.on(DescribeKeyCommand, { KeyId: imported.arn }).callsFake(() => ({
      KeyMetadata: {
        ...account.metadata(imported),
        Origin: 'EXTERNAL',
        ...(imported.keyState === 'PendingImport' ? {} : { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }),
      },
    }));

    // Act: its creator imports the material; later someone deletes it
    const appeared = await reconciler()({});
    imported.keyState = 'Enabled';
    const importedRun = await reconciler()({});
    imported.keyState = 'PendingImport';
    const deleted = await reconciler()({});

    // Assess
    expect(appeared.findings.map((f) => [f.resource, f.event])).toEqual([[imported.arn, 'Unbaselined']]);
    expect(await snapshotOf(imported.arn, 'BASELINE')).toMatchObject({ key_state: 'Enabled', origin: 'EXTERNAL' });
    // The import puts it in its approved state: only the new material is news.
    const stateDrift = importedRun.findings.filter((f) => f.changes.key_state && !f.changes.key_state.back_to_baseline);
    expect(stateDrift).toEqual([]);
    expect(deleted.findings).toHaveLength(1);
    expect(deleted.findings[0]).toMatchObject({
      resource: imported.arn,
      status: 'drift',
      severity: 'critical',
      changes: { key_state: { before: 'Enabled', after: 'PendingImport' } },
    });
    // Its material was not approved as none: the import, seen first by a run, is approved, and losing it is drift.
    const material = { expiration_model: 'KEY_MATERIAL_DOES_NOT_EXPIRE', valid_to: null };
    expect(await snapshotOf(imported.arn, 'BASELINE')).toMatchObject({ key_material: material });
    expect(deleted.findings[0].changes.key_material).toEqual({ before: material, after: null });
  });

  it('approves a trail that appeared not yet logging as logging, so its creator starting it is no drift and stopping it is', async () => {
    // Prepare: adopted; then a trail appears, created while the detector was down and not started yet.
    account = accountWith(1);
    await reconciler()({});
    const created = `arn:aws:cloudtrail:${REGION}:${ACCOUNT}:trail/new-trail`;
    const trail = (name: string, arn: string) => ({
      Name: name,
      TrailARN: arn,
      HomeRegion: REGION,
      IsMultiRegionTrail: true,
      LogFileValidationEnabled: true,
    });
    trailMock.on(DescribeTrailsCommand).resolves({
      trailList: [trail('org-audit', TRAIL), trail('new-trail', created)],
    });
    const logging = (on: boolean) => trailMock.on(GetTrailStatusCommand, { Name: created }).resolves({ IsLogging: on });
    logging(false);

    // Act: its creator starts it; later someone stops it
    const appeared = await reconciler()({});
    logging(true);
    const started = await reconciler()({});
    logging(false);
    const stopped = await reconciler()({});

    // Assess
    expect(appeared.findings.map((f) => [f.resource, f.event])).toEqual([[created, 'Unbaselined']]);
    expect(await snapshotOf(created, 'BASELINE')).toMatchObject({ logging: true });
    expect(started.findings.filter((f) => f.status === 'drift')).toEqual([]);
    expect(stopped.findings).toHaveLength(1);
    expect(stopped.findings[0]).toMatchObject({
      resource: created,
      status: 'drift',
      severity: 'critical',
      changes: { logging: { before: true, after: false } },
    });
  });
});

describe('Reconciler: a revoked grant re-created by its remediation', () => {
  it('resolves the drift when the grant is back under a new id, and approves it under that id', async () => {
    // Prepare: a key with an approved grant that is revoked unseen (alerted, with its create-grant), then re-created.
    account = accountWith(1);
    const [key] = customerKeys(account);
    const grant = (id: string) => ({
      KeyId: key.arn,
      GrantId: id,
      Name: '',
      CreationDate: new Date('2026-01-01T00:00:00Z'),
      GranteePrincipal: `arn:aws:iam::${ACCOUNT}:role/app`,
      RetiringPrincipal: `arn:aws:iam::${ACCOUNT}:role/app`,
      IssuingAccount: `arn:aws:iam::${ACCOUNT}:root`,
      Operations: ['Encrypt' as const, 'Decrypt' as const],
    });
    key.grants = [grant(`g1${'a'.repeat(62)}`)];
    await reconciler()({});
    key.grants = [];
    const revoked = await reconciler()({});
    expect(revoked.findings.map((f) => f.remediation.some((r) => r.includes('kms create-grant')))).toEqual([true]);
    key.grants = [grant(`g2${'b'.repeat(62)}`)];

    // Act
    const restored = await reconciler()({});
    const after = await reconciler()({});

    // Assess
    expect(restored.findings.map((f) => [f.status, f.severity])).toEqual([['resolved', 'info']]);
    expect(Object.keys(await snapshotOf(key.arn, 'BASELINE')).filter((p) => p.startsWith('grants#'))).toEqual([
      `grants#g2${'b'.repeat(62)}`,
    ]);
    expect(after.findings).toEqual([]);
    expect(after.counts?.openDrift).toBe(0);
  });
});

/** The sample record `name` made on `key` at `ms`, in the account's Region, as the detector receives it. */
const recorded = (key: { arn: string }, name: string, ms: number, fields: Json = {}) =>
  envelope({
    ...sample(name),
    eventID: `${name}@${ms}`,
    eventTime: new Date(ms).toISOString().replace('.000Z', 'Z'),
    awsRegion: REGION,
    recipientAccountId: ACCOUNT,
    requestParameters: { keyId: key.arn },
    resources: [{ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: key.arn }],
    ...fields,
  });

/** A Lambda context whose remaining time drops below the reserve once `budget` keys have been read. */
const contextReading = (fake: FakeKms, budget: number) => {
  const base = fake.calls.get('DescribeKey') ?? 0;
  return {
    getRemainingTimeInMillis: () => ((fake.calls.get('DescribeKey') ?? 0) - base < budget ? 600_000 : 1_000),
  };
};
const continuation = (entry: PutEventsRequestEntry | undefined) => ({
  version: '0',
  source: entry?.Source,
  'detail-type': entry?.DetailType,
  detail: JSON.parse(entry?.Detail ?? '{}'),
});
const lastContinue = () =>
  eventsMock
    .commandCalls(PutEventsCommand)
    .flatMap((c) => c.args[0].input.Entries ?? [])
    .filter((e) => e.DetailType === CONTINUE_DETAIL_TYPE)
    .at(-1);

/** Days of a key's deletion: adopted at START, deleted 7 days on. */
const DAY = 24 * 60 * 60 * 1000;
const START = Date.parse('2026-12-01T00:00:00Z');
const DELETION = START + 7 * DAY;

/** `key` scheduled for deletion on DELETION a minute after START, the detector told: its finding. */
async function deletionScheduledSeen(key: { arn: string }, config = parseDetectionConfig({})) {
  Object.assign(key, { keyState: 'PendingDeletion', deletionDate: new Date(DELETION) });
  const response = { keyId: key.arn, keyState: 'PendingDeletion', deletionDate: new Date(DELETION).toISOString() };
  const schedule = recorded(key, 'ScheduleKeyDeletion__awskmsdg__1', START + 60_000, { responseElements: response });
  return (await detector(() => START + 61_000, config)(schedule)).finding;
}

/** KMS deletes `key` 40 minutes after DELETION, the detector told an hour after: its finding. */
async function deletionSeen(key: { arn: string }, config = parseDetectionConfig({})) {
  account.keys.delete(key.arn);
  const deleteKey = recorded(key, 'DeleteKey__awskmsdg__1', DELETION + 40 * 60_000, { requestParameters: null });
  return (await detector(() => DELETION + 60 * 60_000, config)(deleteKey)).finding;
}

describe('Reconciler: keys found pending deletion', () => {
  /** An account whose second key is 6.5 days from deletion at START, adopted by a first run then. */
  async function adoptedPendingDeletion() {
    account = accountWith(2);
    const [, doomed] = customerKeys(account);
    doomed.keyState = 'PendingDeletion';
    doomed.deletionDate = new Date(START + 6.5 * DAY);
    await reconciler({}, () => START)({});
    return doomed;
  }

  /** The sample record `name` made on `key` at `ms`, as the detector receives it. */
  const madeOn = (key: { arn: string }, name: string, ms: number) =>
    ({
      ...sample(name),
      eventID: `${name}@${ms}`,
      eventTime: new Date(ms).toISOString().replace('.000Z', 'Z'),
      requestParameters: { keyId: key.arn },
      resources: [{ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: key.arn }],
    }) as unknown as Json;

  it('adopts a key already pending deletion without approving the deletion: its reminders are alerts', async () => {
    // Prepare
    const doomed = await adoptedPendingDeletion();
    let clock = START;
    snsMock.resetHistory();

    // Act: runs at 6.25 and 2.5 days before the deletion.
    clock = START + 0.25 * DAY;
    const week = await reconciler({}, () => clock)({});
    clock = START + 4 * DAY;
    const days = await reconciler({}, () => clock)({});

    // Assess: approved working.
    expect(await snapshotOf(doomed.arn, 'BASELINE')).toMatchObject({ key_state: 'Enabled', deletion_date: null });
    expect([...week.findings, ...days.findings].map((f) => [f.event, f.severity, f.status])).toEqual([
      ['DeletionReminder', 'error', 'drift'],
      ['DeletionReminder', 'critical', 'drift'],
    ]);
    expect(sent(topics.email)).toBe(2);
  });

  it('watches the rotation of a key adopted pending deletion once it is back: KMS hid it while pending', async () => {
    // Prepare: adopted pending deletion (no rotation read then); cancelled and enabled unseen, rotation on again.
    const doomed = await adoptedPendingDeletion();
    Object.assign(doomed, { keyState: 'Enabled', deletionDate: undefined, rotation: true });
    const back = await reconciler({}, () => START + DAY)({});
    expect(back.findings.map((f) => f.status)).toEqual(['resolved']);
    expect(await snapshotOf(doomed.arn, 'BASELINE')).toMatchObject({ enable_key_rotation: true });

    // Act: rotation turned off, unseen.
    doomed.rotation = false;
    const result = await reconciler({}, () => START + 2 * DAY)({});

    // Assess
    expect(result.findings.map((f) => [f.event, f.severity, f.changes.enable_key_rotation])).toEqual([
      ['Reconcile', 'error', { before: true, after: false }],
    ]);
  });

  it('does not approve, as first seen, a rotation turned off just before the run, its event arriving after it', async () => {
    // Prepare: adopted pending deletion (no rotation read then); cancelled, enabled and its rotation turned off a
    // minute before a run, whose read shows rotation off; the DisableKeyRotation event reaches the detector after.
    const doomed = await adoptedPendingDeletion();
    Object.assign(doomed, { keyState: 'Enabled', deletionDate: undefined, rotation: false });
    await reconciler({}, () => START + DAY)({});

    // Act
    const { finding } = await detector()(
      envelope(madeOn(doomed, 'DisableKeyRotation__awskmsdg__1', START + DAY - 60_000)),
    );

    // Assess: reported, not 'already at its baseline'.
    expect(finding?.status).toBe('drift');
  });

  it('does not approve, as first seen, a rotation turned off after the run began but before it read the key', async () => {
    // Prepare: as above, but the rotation was turned off 30 s after the run began (its alias listing, the time its
    // key reads are dated by), and the run read the key a minute after it began, when it showed rotation off.
    const doomed = await adoptedPendingDeletion();
    Object.assign(doomed, { keyState: 'Enabled', deletionDate: undefined, rotation: false });
    const rotationReads = () => account.callsByKey.get(doomed.arn)?.get('GetKeyRotationStatus') ?? 0;
    const before = rotationReads();
    await reconciler({}, () => START + DAY + (rotationReads() > before ? 60_000 : 0))({});

    // Act
    const { finding } = await detector()(
      envelope(madeOn(doomed, 'DisableKeyRotation__awskmsdg__1', START + DAY + 30_000)),
    );

    // Assess: reported, not 'already at its baseline'.
    expect(finding?.status).toBe('drift');
  });

  it("does not approve, as first seen, a rotation a detector's read saw turned off before that change's event", async () => {
    // Prepare: adopted pending deletion (no rotation read then); cancelled, enabled, and its rotation turned off a
    // minute later. The EnableKey event is judged after that: its read shows rotation off, seen for the first time.
    const doomed = await adoptedPendingDeletion();
    Object.assign(doomed, { keyState: 'Enabled', deletionDate: undefined, rotation: false });
    await detector(() => START + DAY)(envelope(madeOn(doomed, 'EnableKey__awskmsdg__1', START + DAY - 120_000)));

    // Act: the DisableKeyRotation event, made before that read, arrives after it.
    const { finding } = await detector(() => START + DAY + 1000)(
      envelope(madeOn(doomed, 'DisableKeyRotation__awskmsdg__1', START + DAY - 60_000)),
    );

    // Assess: reported, not 'already at its baseline'.
    expect([finding?.status, finding?.changes.enable_key_rotation]).toEqual(['drift', { before: true, after: false }]);
  });

  describe('a deletion Alice, a planned principal, scheduled', () => {
    const HOUR = 60 * 60 * 1000;
    const planned = parseDetectionConfig({ plannedPrincipals: [`arn:aws:iam::${ACCOUNT}:user/Alice`] });
    /** KMS's record of `name` on `key` at `ms`, in the account's Region. */
    const recorded = (key: { arn: string }, name: string, ms: number, fields: Json = {}) =>
      envelope({ ...madeOn(key, name, ms), awsRegion: REGION, recipientAccountId: ACCOUNT, ...fields });

    /** The second key, adopted Enabled, then scheduled for deletion by Alice for DELETION; gone from KMS after it. */
    async function deletedAsScheduled() {
      account = accountWith(2);
      const [, doomed] = customerKeys(account);
      await reconciler({ config: planned }, () => START)({});
      const finding = await deletionScheduledSeen(doomed, planned);
      expect(finding).toMatchObject({ status: 'planned', severity: 'info' });
      account.keys.delete(doomed.arn);
      snsMock.resetHistory();
      return doomed;
    }

    it('takes the DeleteKey KMS records at the end of the waiting period as planned: no page, baseline Deleted', async () => {
      // Prepare
      const doomed = await deletedAsScheduled();

      // Act: KMS deletes the key 40 minutes after the date; a run follows.
      const deleteKey = recorded(doomed, 'DeleteKey__awskmsdg__1', DELETION + 40 * 60_000, { requestParameters: null });
      const { finding } = await detector(() => DELETION + HOUR, planned)(deleteKey);
      const after = await reconciler({ config: planned }, () => DELETION + 2 * HOUR)({});

      // Assess
      expect(finding).toMatchObject({ event: 'DeleteKey', status: 'planned', severity: 'info', remediation: [] });
      expect(finding?.summary).toMatch(
        /deleted by KMS as approved: its deletion was scheduled for 2026-12-08T00:00:00Z$/,
      );
      expect(await snapshotOf(doomed.arn, 'BASELINE')).toMatchObject({ key_state: 'Deleted', deletion_date: null });
      expect(after).toMatchObject({ findings: [], counts: { openDrift: 0 } });
      expect([sent(topics.chat), sent(topics.email)]).toEqual([0, 0]);
    });

    it('takes a key found deleted after the date, its DeleteKey missed, as planned: no page, baseline Deleted', async () => {
      // Prepare
      const doomed = await deletedAsScheduled();

      // Act: the run a day after the date finds the key gone, and the next one again.
      const found = await reconciler({ config: planned }, () => DELETION + DAY)({});
      const next = await reconciler({ config: planned }, () => DELETION + 2 * DAY)({});

      // Assess
      expect(found.findings.map((f) => [f.event, f.status, f.severity, f.remediation])).toEqual([
        ['Reconcile', 'planned', 'info', []],
      ]);
      expect(found.counts?.openDrift).toBe(0);
      expect(await snapshotOf(doomed.arn, 'BASELINE')).toMatchObject({ key_state: 'Deleted', deletion_date: null });
      expect(next).toMatchObject({ findings: [], counts: { openDrift: 0 } });
      expect([sent(topics.chat), sent(topics.email)]).toEqual([0, 0]);
    });
  });

  describe('a multi-Region primary with a replica, whose deletion Alice, a planned principal, scheduled', () => {
    const HOUR = 60 * 60 * 1000;
    /** ScheduleKeyDeletion__awskmsdg__2's key: a multi-Region primary here, with a replica in eu-west-1. */
    const MRK = 'mrk-1234abcd12ab34cd56ef1234567890ab';
    /** When KMS deletes the replica: the primary's 7-day waiting period starts then. */
    const REPLICA_GONE = START + 3 * DAY;
    const DELETION = REPLICA_GONE + 7 * DAY;
    const planned = parseDetectionConfig({ plannedPrincipals: [`arn:aws:iam::${ACCOUNT}:user/Alice`] });
    const recorded = (key: { arn: string }, name: string, ms: number, fields: Json = {}) =>
      envelope({ ...madeOn(key, name, ms), awsRegion: REGION, recipientAccountId: ACCOUNT, ...fields });
    /** How many critical findings were published to `topic` (a resolve goes to the page topic too, and wakes no one). */
    const critical = (topic: string) =>
      snsMock
        .commandCalls(PublishCommand, { TopicArn: topic })
        .filter((c) => JSON.parse(c.args[0].input.Message ?? '{}').severity === 'critical').length;

    /** The primary, adopted, then scheduled for deletion by Alice (7 days): KMS waits for its replicas (no date). */
    async function awaitingItsReplica(replicaRegions = ['eu-west-1']) {
      account = accountWith(1);
      const primary = account.addKey({
        id: MRK,
        multiRegion: { primaryRegion: REGION, replicaRegions },
      });
      await reconciler({ config: planned }, () => START)({});
      primary.keyState = 'PendingReplicaDeletion';
      const sampled = sample('ScheduleKeyDeletion__awskmsdg__2').responseElements as Json;
      const schedule = recorded(primary, 'ScheduleKeyDeletion__awskmsdg__2', START + 60_000, {
        requestParameters: { keyId: primary.arn, pendingWindowInDays: 7 },
        responseElements: { ...sampled, keyId: primary.arn, pendingWindowInDays: 7 },
      });
      const { finding } = await detector(() => START + 61_000, planned)(schedule);
      expect(finding).toMatchObject({ status: 'planned', severity: 'info' });
      expect(await snapshotOf(primary.arn, 'BASELINE')).toMatchObject({
        key_state: 'PendingReplicaDeletion',
        deletion_date: null,
      });
      snsMock.resetHistory();
      return primary;
    }

    /** KMS deletes the replica in eu-west-1 (recorded there): the primary is pending deletion, dated, no event here. */
    function replicaDeleted(primary: { multiRegion?: unknown; keyState: string; deletionDate?: Date }) {
      Object.assign(primary, {
        multiRegion: { primaryRegion: REGION, replicaRegions: [] },
        keyState: 'PendingDeletion',
        deletionDate: new Date(DELETION),
      });
    }

    it('takes the date KMS sets once the replica is gone as the approved schedule going on: no alert, baseline dated', async () => {
      // Prepare
      const primary = await awaitingItsReplica();
      replicaDeleted(primary);

      // Act: the run an hour later; the next one an hour after.
      const found = await reconciler({ config: planned }, () => REPLICA_GONE + HOUR)({});
      const next = await reconciler({ config: planned }, () => REPLICA_GONE + 2 * HOUR)({});

      // Assess: recorded as planned, and the reminder due 7 days before the date reminds it as approved.
      expect(found.findings.map((f) => [f.event, f.status, f.severity])).toEqual([
        ['Reconcile', 'planned', 'info'],
        ['ApprovedDeletionReminder', 'planned', 'info'],
      ]);
      expect(found.findings[0].changes).toEqual({
        key_state: { before: 'PendingReplicaDeletion', after: 'PendingDeletion' },
        deletion_date: { before: null, after: '2026-12-11T00:00:00Z' },
        replica_regions: { before: { 'eu-west-1': true }, after: { 'eu-west-1': null } },
      });
      expect(found.counts?.openDrift).toBe(0);
      expect(await snapshotOf(primary.arn, 'BASELINE')).toMatchObject({
        key_state: 'PendingDeletion',
        deletion_date: '2026-12-11T00:00:00Z',
      });
      expect(next).toMatchObject({ findings: [], counts: { openDrift: 0 } });
      expect([sent(topics.chat), sent(topics.email), critical(topics.page)]).toEqual([0, 0, 0]);

      // Act: KMS deletes the primary 40 minutes after the date.
      account.keys.delete(primary.arn);
      const deleteKey = recorded(primary, 'DeleteKey__awskmsdg__1', DELETION + 40 * 60_000, {
        requestParameters: null,
      });
      const { finding } = await detector(() => DELETION + HOUR, planned)(deleteKey);

      // Assess
      expect(finding).toMatchObject({ event: 'DeleteKey', status: 'planned', severity: 'info' });
      expect(finding?.summary).toMatch(
        /deleted by KMS as approved: its deletion was scheduled for 2026-12-11T00:00:00Z$/,
      );
      expect([sent(topics.chat), sent(topics.email), critical(topics.page)]).toEqual([0, 0, 0]);
    });

    describe('with replicas in two Regions', () => {
      const REPLICAS = ['eu-west-1', 'ap-southeast-2'];
      /** KMS deletes the replica in eu-west-1 (recorded there): the primary still waits for the other, no event here. */
      const firstReplicaDeleted = (primary: { multiRegion?: unknown }) => {
        primary.multiRegion = { primaryRegion: REGION, replicaRegions: ['ap-southeast-2'] };
      };

      it('takes a replica deleted before the last as the approved schedule going on: no alert, baseline follows', async () => {
        // Prepare
        const primary = await awaitingItsReplica(REPLICAS);
        firstReplicaDeleted(primary);

        // Act: the run a day after the first replica's deletion, and the next one.
        const found = await reconciler({ config: planned }, () => REPLICA_GONE - DAY)({});
        const next = await reconciler({ config: planned }, () => REPLICA_GONE - DAY + HOUR)({});

        // Assess: recorded as planned, info, naming the replica gone; the baseline no longer has it.
        expect(found.findings.map((f) => [f.event, f.status, f.severity, f.remediation])).toEqual([
          ['Reconcile', 'planned', 'info', []],
        ]);
        expect(found.findings[0].changes).toEqual({
          replica_regions: { before: { 'eu-west-1': true }, after: { 'eu-west-1': null } },
        });
        expect(found.findings[0].summary).toBe(
          `Replica of key ${MRK} in eu-west-1 deleted, as approved: the key's deletion waits for its last replica`,
        );
        expect(found.counts?.openDrift).toBe(0);
        expect(await snapshotOf(primary.arn, 'BASELINE')).toMatchObject({
          key_state: 'PendingReplicaDeletion',
          'replica_regions#eu-west-1': null,
          'replica_regions#ap-southeast-2': true,
        });
        expect(next).toMatchObject({ findings: [], counts: { openDrift: 0 } });
        expect([sent(topics.chat), sent(topics.email), critical(topics.page)]).toEqual([0, 0, 0]);

        // Act: the last replica deleted, KMS dates the primary; then deletes it on that date.
        replicaDeleted(primary);
        const dated = await reconciler({ config: planned }, () => REPLICA_GONE + HOUR)({});
        account.keys.delete(primary.arn);
        const deleteKey = recorded(primary, 'DeleteKey__awskmsdg__1', DELETION + 40 * 60_000, {
          requestParameters: null,
        });
        const { finding } = await detector(() => DELETION + HOUR, planned)(deleteKey);

        // Assess: each step approved, none alerted.
        expect(dated.findings.map((f) => [f.event, f.status, f.severity])).toEqual([
          ['Reconcile', 'planned', 'info'],
          ['ApprovedDeletionReminder', 'planned', 'info'],
        ]);
        expect(dated.findings[0].changes.replica_regions).toEqual({
          before: { 'ap-southeast-2': true },
          after: { 'ap-southeast-2': null },
        });
        expect(dated.counts?.openDrift).toBe(0);
        expect(finding).toMatchObject({ event: 'DeleteKey', status: 'planned', severity: 'info' });
        expect([sent(topics.chat), sent(topics.email), critical(topics.page)]).toEqual([0, 0, 0]);
      });

      it('takes a replica deleted before the last as approved after the detector read the primary for a tag by Bob', async () => {
        // Prepare: a replica gone; then, before the next run, Bob tags the primary (read live by the detector).
        const primary = await awaitingItsReplica(REPLICAS);
        firstReplicaDeleted(primary);
        primary.tags = { Department: 'IT' };
        const tag = recorded(primary, 'TagResource__awskmsdg__1', REPLICA_GONE - DAY, {
          requestParameters: { keyId: primary.arn, tags: [{ tagKey: 'Department', tagValue: 'IT' }] },
          userIdentity: {
            type: 'IAMUser',
            principalId: 'EX_PRINCIPAL_ID',
            arn: `arn:aws:iam::${ACCOUNT}:user/Bob`,
            accountId: ACCOUNT,
            userName: 'Bob',
          },
        });

        // Act
        const { finding } = await detector(() => REPLICA_GONE - DAY + 60_000, planned)(tag);
        const found = await reconciler({ config: planned }, () => REPLICA_GONE - DAY + HOUR)({});

        // Assess: the tag is judged as ever, its drift still open; the replica gone is the approved schedule going on.
        expect([finding?.event, finding?.status, finding?.severity]).toEqual(['TagResource', 'drift', 'warning']);
        expect(found.findings.map((f) => [f.event, f.status, f.severity])).toEqual([['Reconcile', 'planned', 'info']]);
        expect(found.counts?.openDrift).toBe(1);
        expect(await snapshotOf(primary.arn, 'BASELINE')).toMatchObject({ 'replica_regions#eu-west-1': null });
        expect(critical(topics.page)).toBe(0);
      });

      it('reports a replica deleted before the last as ever when no planned principal approved the wait', async () => {
        // Prepare: adopted, then scheduled unseen (no event reached keydrift), a replica deleted.
        account = accountWith(1);
        const primary = account.addKey({ id: MRK, multiRegion: { primaryRegion: REGION, replicaRegions: REPLICAS } });
        await reconciler({ config: planned }, () => START)({});
        primary.keyState = 'PendingReplicaDeletion';
        firstReplicaDeleted(primary);

        // Act
        const found = await reconciler({ config: planned }, () => REPLICA_GONE - DAY)({});

        // Assess
        expect(found.findings.map((f) => [f.event, f.status, f.severity])).toEqual([
          ['Reconcile', 'drift', 'critical'],
        ]);
        expect(Object.keys(found.findings[0].changes).sort()).toEqual(['key_state', 'replica_regions']);
        expect(await snapshotOf(primary.arn, 'BASELINE')).toMatchObject({
          key_state: 'Enabled',
          'replica_regions#eu-west-1': true,
        });
      });

      it('reports a replica deleted before the last as ever once the wait is cancelled (key read Disabled)', async () => {
        // Prepare: Alice's wait approved, then cancelled unseen and a replica deleted.
        const primary = await awaitingItsReplica(REPLICAS);
        primary.keyState = 'Disabled';
        firstReplicaDeleted(primary);

        // Act
        const found = await reconciler({ config: planned }, () => REPLICA_GONE - DAY)({});

        // Assess
        expect(found.findings.map((f) => [f.event, f.status])).toEqual([['Reconcile', 'drift']]);
        expect(Object.keys(found.findings[0].changes).sort()).toEqual(['key_state', 'replica_regions']);
        expect(await snapshotOf(primary.arn, 'BASELINE')).toMatchObject({ 'replica_regions#eu-west-1': true });
      });

      it('keeps a replica deleted while the wait was cancelled as drift once the primary waits again', async () => {
        // Prepare: Alice's wait cancelled unseen (a run reads the key Disabled), a replica deleted meanwhile (reported),
        // then the deletion scheduled again unseen.
        const primary = await awaitingItsReplica(REPLICAS);
        primary.keyState = 'Disabled';
        await reconciler({ config: planned }, () => START + DAY)({});
        firstReplicaDeleted(primary);
        const gone = await reconciler({ config: planned }, () => START + 2 * DAY)({});
        primary.keyState = 'PendingReplicaDeletion';
        const waiting = await reconciler({ config: planned }, () => START + 2 * DAY + HOUR)({});

        // Act: the next run, and the one after the last replica's deletion.
        const next = await reconciler({ config: planned }, () => START + 2 * DAY + 2 * HOUR)({});
        replicaDeleted(primary);
        const dated = await reconciler({ config: planned }, () => REPLICA_GONE + HOUR)({});

        // Assess: the replica gone is still the drift reported then, never "deleted, as approved".
        expect(gone.findings.map((f) => [f.event, f.status, f.severity])).toEqual([['Reconcile', 'drift', 'error']]);
        // The wait taken up again is not the one approved (the run that read it cancelled spent that approval).
        expect(waiting.findings.map((f) => [f.event, f.status])).toEqual([['Reconcile', 'drift']]);
        expect(next).toMatchObject({ findings: [], counts: { openDrift: 1 } });
        expect(dated.findings[0].changes.replica_regions).toEqual({
          before: { 'ap-southeast-2': true },
          after: { 'ap-southeast-2': null },
        });
        expect(dated.counts?.openDrift).toBe(1);
        expect(await snapshotOf(primary.arn, 'BASELINE')).toMatchObject({
          key_state: 'PendingDeletion',
          deletion_date: null,
          'replica_regions#eu-west-1': true,
          'replica_regions#ap-southeast-2': true,
        });
      });

      it('pages the wait scheduled again unseen after a run read it cancelled, and approves none of its steps', async () => {
        // Prepare: Alice's wait cancelled unseen (a run reads the key Disabled), then scheduled again unseen: KMS shows
        // the new wait exactly as the approved one, and no event says who made it.
        const primary = await awaitingItsReplica(REPLICAS);
        primary.keyState = 'Disabled';
        const cancelled = await reconciler({ config: planned }, () => START + DAY)({});
        primary.keyState = 'PendingReplicaDeletion';

        // Act: the run reading the new wait; one after a replica's deletion, one after the last's (KMS dates the key);
        // then KMS deletes the key on that date.
        const waiting = await reconciler({ config: planned }, () => START + DAY + HOUR)({});
        firstReplicaDeleted(primary);
        const oneGone = await reconciler({ config: planned }, () => REPLICA_GONE - DAY)({});
        replicaDeleted(primary);
        const dated = await reconciler({ config: planned }, () => REPLICA_GONE + HOUR)({});
        account.keys.delete(primary.arn);
        const deleteKey = recorded(primary, 'DeleteKey__awskmsdg__1', DELETION + 40 * 60_000, {
          requestParameters: null,
        });
        const { finding } = await detector(() => DELETION + HOUR, planned)(deleteKey);

        // Assess: the new wait is a deletion no one approved, paged with the command that cancels it; KMS's steps and
        // its deletion are drift, never "as approved".
        expect(cancelled.findings.map((f) => [f.event, f.status, f.severity])).toEqual([
          ['Reconcile', 'drift', 'critical'],
        ]);
        expect(waiting.findings.map((f) => [f.event, f.status, f.severity])).toEqual([
          ['Reconcile', 'drift', 'critical'],
        ]);
        expect(waiting.findings[0].changes.key_state).toEqual({
          before: 'PendingDeletion',
          after: 'PendingReplicaDeletion',
        });
        expect(waiting.findings[0].remediation[0]).toMatch(/^aws kms cancel-key-deletion --key-id /);
        expect(oneGone.findings.map((f) => [f.event, f.status])).toEqual([['Reconcile', 'drift']]);
        expect(dated.findings.map((f) => [f.event, f.status])).toEqual([
          ['Reconcile', 'drift'],
          ['DeletionReminder', 'drift'],
        ]);
        expect(await snapshotOf(primary.arn, 'BASELINE')).toMatchObject({
          key_state: 'PendingDeletion',
          deletion_date: null,
          'replica_regions#eu-west-1': true,
        });
        expect(finding).toMatchObject({ event: 'DeleteKey', status: 'drift', severity: 'critical' });
      });

      it('reports a replica added while the primary waits as drift, error', async () => {
        // Prepare
        const primary = await awaitingItsReplica(REPLICAS);
        primary.multiRegion = { primaryRegion: REGION, replicaRegions: [...REPLICAS, 'us-east-1'] };

        // Act
        const found = await reconciler({ config: planned }, () => REPLICA_GONE - DAY)({});

        // Assess
        expect(found.findings.map((f) => [f.event, f.status, f.severity])).toEqual([['Reconcile', 'drift', 'error']]);
        expect(found.findings[0].changes).toEqual({
          replica_regions: { before: { 'us-east-1': null }, after: { 'us-east-1': true } },
        });
        expect(found.counts?.openDrift).toBe(1);
      });
    });

    it('takes the primary found deleted, no run having seen its date, as the approved deletion: no page', async () => {
      // Prepare: no run between the replica's deletion and the primary's.
      const primary = await awaitingItsReplica();
      account.keys.delete(primary.arn);

      // Act
      const found = await reconciler({ config: planned }, () => DELETION + DAY)({});

      // Assess
      expect(found.findings.map((f) => [f.event, f.status, f.severity])).toEqual([['Reconcile', 'planned', 'info']]);
      expect(found.counts?.openDrift).toBe(0);
      expect(await snapshotOf(primary.arn, 'BASELINE')).toMatchObject({ key_state: 'Deleted', deletion_date: null });
      expect([sent(topics.chat), sent(topics.email)]).toEqual([0, 0]);
    });

    it.each([
      ['Bob, unplanned', 'Bob', [['TagResource', 'drift', 'warning']]],
      ['Alice, planned', 'Alice', [['TagResource', 'planned', 'info']]],
    ])(
      'takes the date as approved after the detector read the dated primary for a tag by %s',
      async (_, user, tagged) => {
        // Prepare: the replica gone; then, before the next run, a tag on the primary (read live by the detector).
        const primary = await awaitingItsReplica();
        replicaDeleted(primary);
        primary.tags = { Department: 'IT' };
        const tag = recorded(primary, 'TagResource__awskmsdg__1', REPLICA_GONE + 10 * 60_000, {
          requestParameters: { keyId: primary.arn, tags: [{ tagKey: 'Department', tagValue: 'IT' }] },
          userIdentity: {
            type: 'IAMUser',
            principalId: 'EX_PRINCIPAL_ID',
            arn: `arn:aws:iam::${ACCOUNT}:user/${user}`,
            accountId: ACCOUNT,
            userName: user,
          },
        });

        // Act
        const { finding } = await detector(() => REPLICA_GONE + 11 * 60_000, planned)(tag);
        const found = await reconciler({ config: planned }, () => REPLICA_GONE + HOUR)({});

        // Assess: the tag is judged as ever; the date is the approved schedule going on.
        expect([finding].map((f) => [f?.event, f?.status, f?.severity])).toEqual(tagged);
        expect(found.findings.map((f) => [f.event, f.status, f.severity])).toEqual([
          ['Reconcile', 'planned', 'info'],
          ['ApprovedDeletionReminder', 'planned', 'info'],
        ]);
        expect(found.counts?.openDrift).toBe(user === 'Bob' ? 1 : 0);
        expect(await snapshotOf(primary.arn, 'BASELINE')).toMatchObject({
          key_state: 'PendingDeletion',
          deletion_date: '2026-12-11T00:00:00Z',
        });
        expect(critical(topics.page)).toBe(0);
      },
    );

    it("pages Bob's deletion scheduled again after he cancelled the approved wait, and KMS's date and deletion", async () => {
      // Prepare: Bob, unplanned, cancels Alice's wait and schedules the deletion again, both seen by the detector.
      const primary = await awaitingItsReplica();
      const bob = {
        type: 'IAMUser',
        principalId: 'EX_PRINCIPAL_ID',
        arn: `arn:aws:iam::${ACCOUNT}:user/Bob`,
        accountId: ACCOUNT,
        userName: 'Bob',
      };
      primary.keyState = 'Disabled';
      const cancel = recorded(primary, 'CancelKeyDeletion__awskmsdg__1', START + DAY, {
        requestParameters: { keyId: primary.arn },
        userIdentity: bob,
      });
      const cancelled = await detector(() => START + DAY + 60_000, planned)(cancel);
      primary.keyState = 'PendingReplicaDeletion';
      const sampled = sample('ScheduleKeyDeletion__awskmsdg__2').responseElements as Json;
      const again = recorded(primary, 'ScheduleKeyDeletion__awskmsdg__2', START + DAY + HOUR, {
        requestParameters: { keyId: primary.arn, pendingWindowInDays: 7 },
        responseElements: { ...sampled, keyId: primary.arn, pendingWindowInDays: 7 },
        userIdentity: bob,
      });

      // Act: his schedule; the run after the replica's deletion (KMS dates the key); KMS's deletion on that date.
      const { finding: scheduled } = await detector(() => START + DAY + HOUR + 60_000, planned)(again);
      replicaDeleted(primary);
      const dated = await reconciler({ config: planned }, () => REPLICA_GONE + HOUR)({});
      account.keys.delete(primary.arn);
      const deleteKey = recorded(primary, 'DeleteKey__awskmsdg__1', DELETION + 40 * 60_000, {
        requestParameters: null,
      });
      const { finding: deleted } = await detector(() => DELETION + HOUR, planned)(deleteKey);

      // Assess
      expect(cancelled.finding).toMatchObject({ event: 'CancelKeyDeletion', status: 'drift' });
      expect(scheduled).toMatchObject({ event: 'ScheduleKeyDeletion', status: 'drift', severity: 'critical' });
      expect(scheduled?.remediation[0]).toMatch(/^aws kms cancel-key-deletion --key-id /);
      expect(dated.findings.map((f) => [f.event, f.status])).toEqual([
        ['Reconcile', 'drift'],
        ['DeletionReminder', 'drift'],
      ]);
      expect(deleted).toMatchObject({ event: 'DeleteKey', status: 'drift', severity: 'critical' });
    });

    it('spends the approval of a wait keydrift stored cancelled before a run read it so, with nothing new to report', async () => {
      // Prepare: the key stored Disabled (its cancel seen) while the baseline still approves the wait; read so.
      const primary = await awaitingItsReplica();
      primary.keyState = 'Disabled';
      await detectorSavesDisabled(primary.arn);
      // On the clock the detector saved by: a run that began before that save leaves the key to the next.
      const quiet = await reconciler({ config: planned })({});
      primary.keyState = 'PendingReplicaDeletion';

      // Act: the deletion scheduled again unseen.
      const waiting = await reconciler({ config: planned })({});

      // Assess
      expect(quiet.findings).toEqual([]);
      expect(waiting.findings.map((f) => [f.event, f.status, f.severity])).toEqual([
        ['Reconcile', 'drift', 'critical'],
      ]);
    });

    it('still pages the date KMS sets on a primary whose deletion no one approved', async () => {
      // Prepare: adopted, then scheduled unseen (no event reached keydrift), its replica deleted.
      account = accountWith(1);
      const primary = account.addKey({
        id: MRK,
        multiRegion: { primaryRegion: REGION, replicaRegions: ['eu-west-1'] },
      });
      await reconciler({ config: planned }, () => START)({});
      replicaDeleted(primary);

      // Act
      const found = await reconciler({ config: planned }, () => REPLICA_GONE + HOUR)({});

      // Assess
      expect(found.findings.map((f) => [f.event, f.status, f.severity])).toEqual([
        ['Reconcile', 'drift', 'critical'],
        ['DeletionReminder', 'drift', 'error'],
      ]);
    });
  });

  it('reports the deletion of a key adopted pending deletion, critical, when it happens', async () => {
    // Prepare
    const doomed = await adoptedPendingDeletion();
    account.keys.delete(doomed.arn);

    // Act
    const result = await reconciler({}, () => START + 7 * DAY)({});

    // Assess
    expect(result.findings.map((f) => [f.event, f.severity, f.changes.key_state?.after])).toEqual([
      ['Reconcile', 'critical', 'Deleted'],
    ]);
  });

  it('resolves a key adopted pending deletion once it is cancelled and enabled, and reports a later disable', async () => {
    // Prepare
    const doomed = await adoptedPendingDeletion();
    doomed.keyState = 'Enabled';
    doomed.deletionDate = undefined;

    // Act
    const recovered = await reconciler({}, () => START + DAY)({});
    doomed.keyState = 'Disabled';
    const disabled = await reconciler({}, () => START + 2 * DAY)({});

    // Assess
    expect(recovered.findings.map((f) => [f.status, f.changes.key_state?.after])).toEqual([['resolved', 'Enabled']]);
    expect(disabled.findings.map((f) => [f.status, f.severity, f.remediation])).toEqual([
      ['drift', 'critical', [`aws kms enable-key --key-id ${doomed.arn} --region ${REGION}`]],
    ]);
  });

  it('takes a deletion cancelled unseen as CancelKeyDeletion: info, the key left Disabled still drift, no second page', async () => {
    // Prepare: adopted Enabled; its deletion scheduled unseen, which a run pages.
    account = accountWith(1);
    const [key] = customerKeys(account);
    await reconciler({}, () => START)({});
    Object.assign(key, { keyState: 'PendingDeletion', deletionDate: new Date(START + 30 * DAY) });
    const scheduled = await reconciler({}, () => START + DAY)({});
    expect(scheduled.findings.map((f) => [f.severity, f.status])).toEqual([['critical', 'drift']]);
    snsMock.resetHistory();

    // Act: the deletion cancelled unseen, which leaves the key Disabled.
    Object.assign(key, { keyState: 'Disabled', deletionDate: undefined });
    const cancelled = await reconciler({}, () => START + 2 * DAY)({});

    // Assess: as the detector judges the CancelKeyDeletion record; the key still to be enabled.
    expect(cancelled.findings.map((f) => [f.severity, f.status, f.changes.key_state?.after, f.remediation])).toEqual([
      ['info', 'drift', 'Disabled', [`aws kms enable-key --key-id ${key.arn} --region ${REGION}`]],
    ]);
    expect(cancelled.findings[0].summary).toBe(
      'Deletion of key alias/payments cancelled with no change event seen; the key is left Disabled',
    );
    expect(snsMock).not.toHaveReceivedCommandWith(PublishCommand, { TopicArn: topics.page });
  });

  it("takes a multi-Region primary's wait for its replicas cancelled unseen as CancelKeyDeletion: info, no second page", async () => {
    // Prepare: ScheduleKeyDeletion__awskmsdg__2's primary, adopted Enabled with a replica; its deletion scheduled
    // unseen, which puts it in PendingReplicaDeletion (no date, as that record's answer), paged by a run.
    account = accountWith(1);
    const primary = account.addKey({
      id: 'mrk-1234abcd12ab34cd56ef1234567890ab',
      multiRegion: { primaryRegion: REGION, replicaRegions: ['eu-west-1'] },
    });
    await reconciler({}, () => START)({});
    primary.keyState = 'PendingReplicaDeletion';
    const scheduled = await reconciler({}, () => START + DAY)({});
    expect(scheduled.findings.map((f) => [f.severity, f.status, f.changes.key_state?.after])).toEqual([
      ['critical', 'drift', 'PendingReplicaDeletion'],
    ]);
    snsMock.resetHistory();

    // Act: the deletion cancelled unseen, which leaves the primary Disabled; no deletion date before or after.
    primary.keyState = 'Disabled';
    const cancelled = await reconciler({}, () => START + 2 * DAY)({});

    // Assess: as the detector judges the CancelKeyDeletion record; the key still to be enabled.
    expect(cancelled.findings.map((f) => [f.severity, f.status, f.changes.key_state?.after, f.remediation])).toEqual([
      ['info', 'drift', 'Disabled', [`aws kms enable-key --key-id ${primary.arn} --region ${REGION}`]],
    ]);
    expect(cancelled.findings[0].summary).toBe(
      `Deletion of key ${primary.id} cancelled with no change event seen; the key is left Disabled`,
    );
    expect(snsMock).not.toHaveReceivedCommandWith(PublishCommand, { TopicArn: topics.page });
  });

  it.each([
    ['its deletion', {}, { keyState: 'PendingDeletion', deletionDate: new Date(START + 30 * DAY) }],
    [
      'its wait for its replicas (a multi-Region primary)',
      {
        id: 'mrk-1234abcd12ab34cd56ef1234567890ab',
        multiRegion: { primaryRegion: REGION, replicaRegions: ['eu-west-1'] },
      },
      { keyState: 'PendingReplicaDeletion' },
    ],
  ])(
    'still pages the key of a trail found Disabled once %s is cancelled unseen: the audit log stops',
    async (_, made, pending) => {
      // Prepare: the key encrypts org-audit's logs; adopted Enabled, then its deletion scheduled unseen, paged by a run.
      account = accountWith(1);
      const key = account.addKey(made);
      trailMock.on(DescribeTrailsCommand).resolves({
        trailList: [
          { Name: 'org-audit', TrailARN: TRAIL, HomeRegion: REGION, IsMultiRegionTrail: true, KmsKeyId: key.arn },
        ],
      });
      await reconciler({}, () => START)({});
      Object.assign(key, pending);
      await reconciler({}, () => START + DAY)({});
      snsMock.resetHistory();

      // Act: the deletion cancelled unseen, which leaves the key Disabled.
      Object.assign(key, { keyState: 'Disabled', deletionDate: undefined });
      const cancelled = await reconciler({}, () => START + 2 * DAY)({});

      // Assess: a disabled trail key is critical however it got there.
      expect(cancelled.findings.map((f) => [f.severity, f.status, f.changes.key_state?.after, f.reasons])).toEqual([
        [
          'critical',
          'drift',
          'Disabled',
          [`TrailKeyStaysUsable: the key encrypting the logs of ${TRAIL} is now Disabled`],
        ],
      ]);
      expect(snsMock).toHaveReceivedCommandWith(PublishCommand, { TopicArn: topics.page });
    },
  );

  it('approves a key caught while being created or updated as working: nothing to report once it is', async () => {
    for (const passing of ['Creating', 'Updating']) {
      // Prepare
      account = accountWith(1);
      const [key] = customerKeys(account);
      key.keyState = passing;
      await reconciler()({});
      key.keyState = 'Enabled';

      // Act
      const next = await reconciler()({});

      // Assess
      expect([passing, await snapshotOf(key.arn, 'BASELINE')]).toEqual([
        passing,
        expect.objectContaining({ key_state: 'Enabled' }),
      ]);
      // Its passing state was never drift: no all-clear either.
      expect([passing, next.findings.map((f) => [f.status, f.severity])]).toEqual([passing, []]);
      expect(next.counts?.openDrift).toBe(0);
    }
  });

  it('approves a key that appears pending deletion as working, not as pending deletion', async () => {
    // Prepare: adopted; then a key appears 2.5 days from deletion.
    account = accountWith(1);
    let clock = START;
    await reconciler({}, () => clock)({});
    const doomed = account.addKey({ keyState: 'PendingDeletion', deletionDate: new Date(START + 2.5 * DAY) });

    // Act
    const appeared = await reconciler({}, () => clock)({});
    clock = START + 2 * DAY;
    const reminded = await reconciler({}, () => clock)({});

    // Assess
    expect(appeared.findings.map((f) => f.event)).toEqual(['Unbaselined']);
    expect(await snapshotOf(doomed.arn, 'BASELINE')).toMatchObject({ key_state: 'Enabled', deletion_date: null });
    expect(reminded.findings.map((f) => [f.event, f.severity])).toEqual([['DeletionReminder', 'critical']]);
  });
});

describe('Reconciler: aliases KMS deleted with their key', () => {
  const ALICE = parseDetectionConfig({ plannedPrincipals: [`arn:aws:iam::${ACCOUNT}:user/Alice`] });
  const ALIAS = `arn:aws:kms:${REGION}:${ACCOUNT}:alias/doomed`;

  /** Two keys, the second with alias/doomed, adopted at START. */
  async function adopted(config = parseDetectionConfig({})) {
    account = accountWith(2);
    const [, doomed] = customerKeys(account);
    account.aliases.set('alias/doomed', doomed.id);
    await reconciler({ config }, () => START)({});
    expect(await snapshotOf(ALIAS, 'BASELINE')).toEqual({ target_key_id: doomed.arn });
    return doomed;
  }

  /** Alice schedules the key's deletion for DELETION (seen by the detector); KMS deletes it and its alias then. */
  async function scheduledAndDeleted(doomed: { arn: string }, config: ReturnType<typeof parseDetectionConfig>) {
    await deletionScheduledSeen(doomed, config);
    account.aliases.delete('alias/doomed');
    snsMock.resetHistory();
    return deletionSeen(doomed, config);
  }

  it('reports nothing of the alias of a key deleted as approved, on the next runs either', async () => {
    // Prepare
    const doomed = await adopted(ALICE);
    const deleted = await scheduledAndDeleted(doomed, ALICE);

    // Act
    const next = await reconciler({ config: ALICE }, () => DELETION + DAY)({});

    // Assess: the DeleteKey is the only record, planned; the alias is approved gone with its key.
    expect(deleted).toMatchObject({ event: 'DeleteKey', status: 'planned', severity: 'info' });
    expect(next).toMatchObject({ findings: [], counts: { openDrift: 0 } });
    expect(await snapshotOf(ALIAS, 'STATE')).toEqual({ target_key_id: null });
    expect(await snapshotOf(ALIAS, 'BASELINE')).toEqual({ target_key_id: null });
    expect([sent(topics.chat), sent(topics.email)]).toEqual([0, 0]);
  });

  it("reports nothing of the alias of a key whose deletion no one approved: the key's page covers it", async () => {
    // Prepare
    const doomed = await adopted();
    const deleted = await scheduledAndDeleted(doomed, parseDetectionConfig({}));

    // Act
    const next = await reconciler({}, () => DELETION + DAY)({});

    // Assess: the key stays open drift, once; its alias is no drift of its own.
    expect(deleted).toMatchObject({ event: 'DeleteKey', status: 'drift', severity: 'critical' });
    expect(next).toMatchObject({ findings: [], counts: { openDrift: 1 } });
    expect(await snapshotOf(ALIAS, 'BASELINE')).toEqual({ target_key_id: null });
  });

  it('reports a key found gone with its alias, their events missed, once: on the key', async () => {
    // Prepare
    const doomed = await adopted();
    account.keys.delete(doomed.arn);
    account.aliases.delete('alias/doomed');

    // Act
    const found = await reconciler({}, () => START + DAY)({});
    const next = await reconciler({}, () => START + 2 * DAY)({});

    // Assess
    expect(found.findings.map((f) => [f.resource, f.status, f.severity, Object.keys(f.changes)])).toEqual([
      [doomed.arn, 'drift', 'critical', ['key_state']],
    ]);
    expect(found.findings[0].changes.key_state?.aliases_deleted).toEqual(['alias/doomed']);
    expect(found.findings[0].summary).toMatch(/; its alias alias\/doomed went with it$/);
    expect(found.counts).toMatchObject({ gone: 2, openDrift: 1 });
    expect(await snapshotOf(ALIAS, 'BASELINE')).toEqual({ target_key_id: null });
    expect(next).toMatchObject({ findings: [], counts: { openDrift: 1 } });
  });

  it('reports nothing of an alias found gone after a run found its key deleted', async () => {
    // Prepare: the key found deleted (critical) while its alias was still listed; then the alias is gone.
    const doomed = await adopted();
    account.keys.delete(doomed.arn);
    const keyGone = await reconciler({}, () => START + DAY)({});
    expect(keyGone.findings.map((f) => f.resource)).toEqual([doomed.arn]);
    // Listed still on the deleted key (the listing came first): gone with it, and named on the key's finding.
    expect(keyGone.findings[0].changes.key_state?.aliases_deleted).toEqual(['alias/doomed']);
    account.aliases.delete('alias/doomed');

    // Act
    const next = await reconciler({}, () => START + 2 * DAY)({});

    // Assess
    expect(next).toMatchObject({ findings: [], counts: { openDrift: 1 } });
  });

  it('does not name on a key found deleted its alias that KMS lists on another key (moved unseen)', async () => {
    // Prepare: alias/doomed moved to the first key, its UpdateAlias missed; then the doomed key deleted.
    const doomed = await adopted();
    const [kept] = customerKeys(account);
    account.aliases.set('alias/doomed', kept.id);
    account.keys.delete(doomed.arn);

    // Act
    const found = await reconciler({}, () => START + DAY)({});

    // Assess: the key's deletion, critical, names no alias; the alias's move is its own drift.
    const deletion = found.findings.find((f) => f.resource === doomed.arn);
    expect(deletion).toMatchObject({ status: 'drift', severity: 'critical' });
    expect(deletion?.changes.key_state).not.toHaveProperty('aliases_deleted');
    expect(deletion?.summary).not.toContain('went with it');
    expect(found.findings.find((f) => f.resource === ALIAS)?.changes.target_key_id?.after).toBe(kept.arn);
  });

  it('reports an alias deleted while its key exists as DeleteAlias would be: error, with the command back', async () => {
    // Prepare
    const doomed = await adopted();
    account.aliases.delete('alias/doomed');

    // Act
    const found = await reconciler({}, () => START + DAY)({});

    // Assess: (the key's finding beside it names its aliases changed)
    expect(found.findings.filter((f) => f.resource === ALIAS)).toMatchObject([
      {
        resource: ALIAS,
        status: 'drift',
        severity: 'error',
        changes: { target_key_id: { before: doomed.arn, after: null } },
        remediation: [expect.stringContaining(`aws kms create-alias --alias-name alias/doomed`)],
      },
    ]);
  });
});

describe('Reconciler: an alias found moved off its approved key, that key pending deletion or deleted', () => {
  const ALIAS = `arn:aws:kms:${REGION}:${ACCOUNT}:alias/payments`;
  const region = `--region ${REGION}`;
  const aliasFindingOf = (result: ReconcileResult) => result.findings.find((f) => f.resource === ALIAS);

  it('cancels the deletion of the approved key the run found scheduled, and enables it, before pointing the alias back', async () => {
    // Prepare: adopted; then, unseen, alias/payments moved to the second key and the first scheduled for deletion.
    account = accountWith(2);
    const [approved, other] = customerKeys(account);
    await reconciler({}, () => START)({});
    account.aliases.set('alias/payments', other.id);
    Object.assign(approved, { keyState: 'PendingDeletion', deletionDate: new Date(DELETION) });

    // Act
    const found = await reconciler({}, () => START + DAY)({});

    // Assess: not the update-alias alone, which KMS refuses for a key pending deletion.
    expect(aliasFindingOf(found)?.remediation).toEqual([
      `aws kms cancel-key-deletion --key-id ${approved.arn} ${region}`,
      `aws kms enable-key --key-id ${approved.arn} ${region}`,
      `aws kms update-alias --alias-name alias/payments ${region} --target-key-id ${approved.arn}`,
    ]);
  });

  it('says the approved key cannot be a target again when it was deleted unseen too (no longer listed, stored Enabled)', async () => {
    // Prepare: adopted; then, unseen, alias/payments moved to the second key and the first deleted (its waiting
    // period over): the run finds the key gone only after the aliases.
    account = accountWith(2);
    const [approved, other] = customerKeys(account);
    await reconciler({}, () => START)({});
    account.aliases.set('alias/payments', other.id);
    account.keys.delete(approved.arn);

    // Act
    const found = await reconciler({}, () => DELETION + DAY)({});

    // Assess: not the update-alias the stale stored state (Enabled) would give, which KMS refuses for ever.
    expect(await snapshotOf(approved.arn, 'STATE')).toMatchObject({ key_state: 'Deleted' });
    expect(aliasFindingOf(found)?.remediation).toEqual([
      `# the approved key ${approved.arn} is deleted and cannot be a target again: point the alias at its replacement, then approve that: keydrift baseline accept ${ALIAS} ${region}`,
    ]);
  });

  /**
   * Adopted; alias/payments moved to the second key unseen; then the first key scheduled for deletion, seen by the
   * detector. A run's first invocation reads both keys and stops; the aliases are the next one's, which read neither
   * key: it knows the first from its stored state. Returns the key and that second invocation.
   */
  async function aliasesAfterTheKeysInvocation(): Promise<{
    approved: FakeKey;
    aliases: () => Promise<ReconcileResult>;
  }> {
    account = accountWith(2);
    const [approved, other] = customerKeys(account);
    await reconciler({}, () => START)({});
    account.aliases.set('alias/payments', other.id);
    await deletionScheduledSeen(approved);
    const run = reconciler({ concurrency: 1 }, () => START + DAY);
    expect(await run({}, contextReading(account, 2))).toMatchObject({ status: 'continued' });
    return { approved, aliases: () => run(continuation(lastContinue()), contextReading(account, 100)) };
  }

  it('cancels the deletion of the approved key as stored when the run read that key in an earlier invocation', async () => {
    // Prepare
    const { approved, aliases } = await aliasesAfterTheKeysInvocation();

    // Act
    const found = await aliases();

    // Assess
    expect(aliasFindingOf(found)?.remediation).toEqual([
      `aws kms cancel-key-deletion --key-id ${approved.arn} ${region}`,
      `aws kms enable-key --key-id ${approved.arn} ${region}`,
      `aws kms update-alias --alias-name alias/payments ${region} --target-key-id ${approved.arn}`,
    ]);
  });

  it('still reports the alias, pointing it back, when the stored state of its approved key cannot be read', async () => {
    // Prepare: the read of the approved key's stored state fails (DynamoDB throttling past the SDK's retries).
    const { approved, aliases } = await aliasesAfterTheKeysInvocation();
    table.failOnce(
      (command, input) => command === 'BatchGetItemCommand' && JSON.stringify(input).includes(approved.arn),
      throttlingError(),
    );

    // Act
    const found = await aliases();

    // Assess: the alias's drift is alerted, not left to the next run; its undo is the one keydrift gives knowing
    // nothing of the key.
    expect(found.counts).toMatchObject({ failures: 0 });
    expect(aliasFindingOf(found)?.remediation).toEqual([
      `aws kms update-alias --alias-name alias/payments ${region} --target-key-id ${approved.arn}`,
    ]);
  });
});

describe("Reconciler: keydrift's own keys", () => {
  it.each([
    ['main key', 'selfKeyArn'],
    ['ops key', 'opsKeyArn'],
  ] as const)(
    "says in a deletion reminder that keydrift itself uses its %s, and sends it where the other key's topics carry it",
    async (_, setting) => {
      // Prepare: keydrift's two keys adopted, then one of them scheduled for deletion in 2 days.
      account = accountWith(2);
      const [main, ops] = customerKeys(account);
      const own = { selfKeyArn: main.arn, opsKeyArn: ops.arn };
      const now = Date.parse('2026-12-01T00:00:00Z');
      await reconciler(own, () => now)({});
      const scheduled = setting === 'selfKeyArn' ? main : ops;
      scheduled.keyState = 'PendingDeletion';
      scheduled.deletionDate = new Date(now + 2 * 24 * 3600 * 1000);
      snsMock.resetHistory();

      // Act
      const result = await reconciler(own, () => now)({});

      // Assess
      const reminder = result.findings.find((f) => f.event === 'DeletionReminder');
      expect(reminder).toMatchObject({ resource: scheduled.arn, severity: 'critical' });
      expect(reminder?.changes.deletion_date).toMatchObject({ used_by_keydrift: true });
      const published = (topic: string) =>
        snsMock
          .commandCalls(PublishCommand, { TopicArn: topic })
          .some((call) => String(call.args[0].input.Message).includes('DeletionReminder'));
      expect(published(topics.ops)).toBe(setting === 'selfKeyArn');
      expect(published(topics.page)).toBe(true);
    },
  );
});

describe('Reconciler: trails that deliver KMS events', () => {
  /** What the run reported as NoTrailLogsKms: written by every run, 1 when no trail delivers KMS events. */
  const noTrailMetric = () => {
    const added = jest.spyOn(Metrics.prototype, 'addMetric');
    return () => added.mock.calls.filter(([name]) => name === 'NoTrailLogsKms').map(([, , value]) => value);
  };

  it('reports a Region where no trail delivers KMS events, which leaves keydrift only its reconcile runs', async () => {
    // Prepare: the account has no trail at all.
    trailMock.on(DescribeTrailsCommand).resolves({ trailList: [] });
    account = accountWith(1);
    const reported = noTrailMetric();

    // Act
    const result = await reconciler()({});

    // Assess
    expect(result).toMatchObject({ status: 'completed', counts: { kmsTrails: 0 } });
    expect(reported()).toEqual([1]);
  });

  it.each([
    [
      'a stopped trail',
      { IsLogging: false },
      { EventSelectors: [{ ReadWriteType: 'All' as const, IncludeManagementEvents: true }] },
    ],
    [
      'a trail that leaves KMS out',
      { IsLogging: true },
      {
        EventSelectors: [
          {
            ReadWriteType: 'All' as const,
            IncludeManagementEvents: true,
            ExcludeManagementEventSources: ['kms.amazonaws.com'],
          },
        ],
      },
    ],
  ])('counts %s as delivering no KMS events', async (_, status, selectors) => {
    trailMock.on(GetTrailStatusCommand).resolves(status);
    trailMock.on(GetEventSelectorsCommand).resolves(selectors);
    account = accountWith(1);
    const reported = noTrailMetric();

    const result = await reconciler()({});

    expect(result).toMatchObject({ status: 'completed', counts: { kmsTrails: 0 } });
    expect(reported()).toEqual([1]);
  });

  it('counts a logging trail that records KMS write events', async () => {
    account = accountWith(1);
    const reported = noTrailMetric();

    const result = await reconciler()({});

    expect(result).toMatchObject({ status: 'completed', counts: { kmsTrails: 1 } });
    expect(reported()).toEqual([0]);
  });

  it("counts an organization's trail it cannot check as delivering KMS events", async () => {
    trailMock.on(GetTrailStatusCommand).resolves({ IsLogging: false });
    trailMock.on(DescribeTrailsCommand).resolves({
      trailList: [
        { Name: 'org-audit', TrailARN: TRAIL, HomeRegion: REGION, IsMultiRegionTrail: true },
        {
          Name: 'o-exampleorgid-audit',
          TrailARN: `arn:aws:cloudtrail:${REGION}:999988887777:trail/o-exampleorgid-audit`,
          HomeRegion: REGION,
          IsOrganizationTrail: true,
        },
      ],
    });
    account = accountWith(1);
    const reported = noTrailMetric();

    const result = await reconciler()({});

    expect(result).toMatchObject({ status: 'completed', counts: { kmsTrails: 1 } });
    expect(reported()).toEqual([0]);
  });

  afterEach(() => jest.restoreAllMocks());
});

describe('Reconciler: the custom metrics the README prices', () => {
  it('writes as many metrics per completed run as the cost table charges for', async () => {
    // Prepare: adopted, so the run finds nothing (no finding adds its own metrics)
    account = accountWith(2);
    await reconciler()({});
    // Written, for once: the Metrics the run is given is made with this file's switch off.
    delete process.env.POWERTOOLS_METRICS_DISABLED;
    const output = captureOutput();

    // Act
    let result: ReconcileResult;
    try {
      result = await reconciler()({});
    } finally {
      output.restore();
      process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    }

    // Assess: CloudWatch bills each metric and dimension value for each hour it is written in
    expect(result).toMatchObject({ status: 'completed', findings: [] });
    const metrics = new Set(
      output.lines().flatMap((line) => {
        const directives = (
          line._aws as { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] }
        ).CloudWatchMetrics;
        return directives.flatMap((d) =>
          d.Metrics.map((m) => JSON.stringify([m.Name, d.Dimensions.flat().map((name) => [name, line[name]])])),
        );
      }),
    );
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    const costs = readme.slice(readme.indexOf('### What it costs'), readme.indexOf('### The reconciler'));
    const [, quoted] = costs.match(/the (\d+) that each reconcile run writes/i) ?? [];
    expect(Number(quoted)).toBe(metrics.size);
  });
});

describe('Reconciler: what the dashboard counts', () => {
  it('counts a finding an ignore rule keeps out of alerts as ignored, not among the findings, as the detector does', async () => {
    // Prepare: adopted; a key disabled unseen, in a change window an ignore rule covers
    account = accountWith(2);
    await reconciler()({});
    const [key] = customerKeys(account);
    key.keyState = 'Disabled';
    const config = parseDetectionConfig({ ignore: [{ resource: key.arn, reason: 'change window' }] });
    delete process.env.POWERTOOLS_METRICS_DISABLED;
    const output = captureOutput();

    // Act
    let result: ReconcileResult;
    try {
      result = await reconciler({ config })({});
    } finally {
      output.restore();
      process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    }

    // Assess: the finding is kept, counted apart; the dashboard's findings graphs are of what alerted
    expect(result.findings.map((f) => [f.resource, f.severity])).toEqual([[key.arn, 'critical']]);
    expect(output.metric('IgnoredFindings')).toBe(1);
    expect(output.metric('Findings')).toBe(0);
    expect(output.metric('FindingsBySeverity')).toBe(0);
  });
});

describe('Reconciler: keys that deny keydrift its reads', () => {
  it('counts a key whose policy never let keydrift in apart from failures, so no alarm fires on every run', async () => {
    // Prepare: three keys; the second one's policy does not let the account's IAM policies in.
    account = accountWith(3);
    const locked = customerKeys(account)[1].arn;
    const denied = Object.assign(new Error(`User is not authorized to perform: kms:DescribeKey on ${locked}`), {
      name: 'AccessDeniedException',
      $metadata: { httpStatusCode: 400 },
    });
    kmsMock.on(DescribeKeyCommand, { KeyId: locked }).rejects(denied);

    // Act
    const result = await reconciler()({});

    // Assess: the other keys are reconciled; the locked one is counted as unreadable, not failed.
    expect(result).toMatchObject({ status: 'completed', counts: { keys: 2, unreadable: 1, failures: 0 } });
    expect(await item(`RESOURCE#${locked}`, 'BASELINE')).toBeUndefined();
  });

  it('counts a key it could read before (it has a baseline) and no longer can as a failure, which alarms', async () => {
    // Prepare: a first run adopts all three keys; then the second one's policy shuts keydrift out.
    account = accountWith(3);
    await reconciler()({});
    const locked = customerKeys(account)[1].arn;
    kmsMock.on(DescribeKeyCommand, { KeyId: locked }).rejects(
      Object.assign(new Error('not authorized to perform: kms:DescribeKey'), {
        name: 'AccessDeniedException',
        $metadata: { httpStatusCode: 400 },
      }),
    );

    // Act
    const result = await reconciler()({});

    // Assess
    expect(result).toMatchObject({ status: 'completed', counts: { keys: 2, unreadable: 0, failures: 1 } });
  });

  it('goes on reconciling the other keys when the first twenty it reads have all shut keydrift out', async () => {
    // Prepare: adopted; then the first 20 keys listed shut keydrift out, and a later one is disabled.
    account = accountWith(22);
    await reconciler()({});
    const keys = customerKeys(account);
    for (const key of keys.slice(0, 20)) {
      kmsMock.on(DescribeKeyCommand, { KeyId: key.arn }).rejects(
        Object.assign(new Error('not authorized to perform: kms:DescribeKey'), {
          name: 'AccessDeniedException',
          $metadata: { httpStatusCode: 400 },
        }),
      );
    }
    keys[21].keyState = 'Disabled';

    // Act
    const result = await reconciler()({});

    // Assess: each locked key is a failure (which alarms); the run still reaches the rest
    expect(result).toMatchObject({ status: 'completed', counts: { keys: 2, failures: 20 } });
    expect(result.findings.map((f) => [f.resource, f.severity])).toEqual([[keys[21].arn, 'critical']]);
  });
});

describe('Reconciler: KMS request quotas', () => {
  it('completes in an account that throttles a share of its calls, retrying with backoff', async () => {
    // Prepare: 30% of all calls throttled (others using the quota), deterministically
    account = accountWith(30, { throttleShare: 0.3, random: seeded(7) });

    // Act
    const result = await reconciler({ kmsAttempts: 10 })({});

    // Assess
    expect(account.throttled).toBeGreaterThan(30);
    expect(result).toMatchObject({ status: 'completed', counts: { keys: 30, adopted: 32, failures: 0 } });
  });

  it('never sends more ListGrants per second than the quota allows, and still completes', async () => {
    // Prepare: this account's ListGrants quota is 25 per second (KMS's is 100); the mock rejects anything above it.
    // The reconciler paces itself at 80% of it, as it does by default with the real quotas.
    account = accountWith(50, { quotas: { ListGrants: 25 } });
    const started = performance.now();

    // Act
    const result = await reconciler({ kmsRates: { ListGrants: 20 }, concurrency: 8 })({});

    // Assess
    expect(result).toMatchObject({ status: 'completed', counts: { keys: 50, failures: 0 } });
    expect(account.overQuota.get('ListGrants') ?? 0).toBe(0);
    expect(account.maxInWindow('ListGrants')).toBeLessThanOrEqual(25);
    // 50 calls at 20 per second: calls 41 to 50 cannot start before two full windows have passed.
    expect(performance.now() - started).toBeGreaterThanOrEqual(2000);
  });
});

describe('Reconciler: runs continued across invocations', () => {
  /**
   * An adopted account of 8 keys whose 4th is disabled unseen; a run's first invocation reads 3 keys, then the keys at
   * `deleted` go, and the run continues to its end.
   */
  async function runContinuedAfterDeleting(deleted: number[]) {
    account = accountWith(8, { keysPageSize: 20 });
    await reconciler()({});
    const keys = customerKeys(account);
    keys[3].keyState = 'Disabled';
    const run = reconciler({ concurrency: 1 });
    const results: ReconcileResult[] = [await run({}, contextReading(account, 3))];
    expect(results[0].status).toBe('continued');
    for (const index of deleted) account.keys.delete(keys[index].arn);
    while (results.at(-1)?.status === 'continued') {
      results.push(await run(continuation(lastContinue()), contextReading(account, 100)));
    }
    const found = results.flatMap((r) => r.findings).filter((f) => f.resource === keys[3].arn);
    return { found };
  }

  it('reads the key after the last one done even when that one was deleted before the run continued', async () => {
    // Prepare, Act: the 3rd key, the last one done, deleted between the invocations.
    const { found } = await runContinuedAfterDeleting([2]);

    // Assess: the 4th key's drift is found in this run, not the next.
    expect(found.map((f) => [f.event, f.severity])).toEqual([['Reconcile', 'critical']]);
  });

  it('reads every key not done yet when the last keys done were deleted before the run continued', async () => {
    // Prepare, Act: the 2nd and 3rd keys deleted between the invocations, so the 4th moves back two places in the page.
    const { found } = await runContinuedAfterDeleting([1, 2]);

    // Assess: the 4th key's drift is found in this run, and no key still listed is read twice.
    expect(found.map((f) => [f.event, f.severity])).toEqual([['Reconcile', 'critical']]);
    for (const key of customerKeys(account)) {
      expect(account.callsByKey.get(key.arn)?.get('DescribeKey')).toBe(2);
    }
  });

  it('resumes a run stored by an earlier version, which names only the last key done, at the key after it', async () => {
    // Prepare: the first invocation reads 3 keys; its cursor is then stored as an earlier version did.
    account = accountWith(6, { keysPageSize: 20 });
    const run = reconciler({ concurrency: 1 });
    await run({}, contextReading(account, 3));
    const stored = await item('META', 'RECONCILE');
    const { doneKeyIds, ...cursor } = JSON.parse(stored?.cursor?.S ?? '{}');
    expect(doneKeyIds).toHaveLength(3);
    await table.client.send(
      new PutItemCommand({
        TableName: table.tableName,
        Item: { ...stored, cursor: { S: JSON.stringify({ ...cursor, lastKeyId: doneKeyIds[2] }) } },
      }),
    );

    // Act
    const resumed = await run(continuation(lastContinue()), contextReading(account, 100));

    // Assess
    expect(resumed).toMatchObject({ status: 'completed', counts: { keys: 6 } });
    for (const key of customerKeys(account)) expect(account.callsByKey.get(key.arn)?.get('DescribeKey')).toBe(1);
  });

  it('stores its place when time runs low and resumes there, reading every key exactly once', async () => {
    // Prepare: 25 keys listed 7 per page
    account = accountWith(25, { keysPageSize: 7 });
    const run = reconciler({ concurrency: 3 });

    // Act
    const results: ReconcileResult[] = [await run({}, contextReading(account, 10))];
    while (results.at(-1)?.status === 'continued') {
      results.push(await run(continuation(lastContinue()), contextReading(account, 8)));
    }

    // Assess
    expect(results.length).toBeGreaterThanOrEqual(3);
    expect(results.slice(0, -1).every((r) => r.status === 'continued')).toBe(true);
    expect(results.at(-1)?.status).toBe('completed');
    expect(results.at(-1)?.counts).toMatchObject({ keys: 25, adopted: 27, failures: 0 });
    for (const key of customerKeys(account)) {
      expect(account.callsByKey.get(key.arn)?.get('DescribeKey')).toBe(1);
      expect(await item(`RESOURCE#${key.arn}`, 'BASELINE')).toBeDefined();
    }
    expect(kmsMock.calls().some((c) => (c.args[0].input as { Marker?: string }).Marker === '7')).toBe(true);
    expect(lastContinue()).toMatchObject({
      Source: 'keydrift',
      DetailType: 'Reconcile Continue',
      EventBusName: 'default',
    });
    expect(await item('META', 'RECONCILE')).toBeUndefined();
    expect(await item('META', 'ADOPTION')).toBeDefined();
  });

  it('reports the failures of a run continued across invocations when the run completes, so its alarm stays on', async () => {
    // Prepare: adopted; then the first key listed shuts keydrift out, and the run reads 2 keys per invocation.
    account = accountWith(6, { keysPageSize: 2 });
    await reconciler()({});
    kmsMock.on(DescribeKeyCommand, { KeyId: customerKeys(account)[0].arn }).rejects(
      Object.assign(new Error('not authorized to perform: kms:DescribeKey'), {
        name: 'AccessDeniedException',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    const added = jest.spyOn(Metrics.prototype, 'addMetric');
    const failuresReported = () =>
      added.mock.calls.filter(([name]) => name === 'ReconcileFailures').map(([, , value]) => value);
    const run = reconciler({ concurrency: 1 });

    // Act: the invocation that met the failure reports none; the run goes on
    const results: ReconcileResult[] = [await run({}, contextReading(account, 2))];
    expect(results[0].status).toBe('continued');
    expect(failuresReported()).toEqual([]);
    while (results.at(-1)?.status === 'continued') {
      results.push(await run(continuation(lastContinue()), contextReading(account, 2)));
    }

    // Assess: the last invocation reports the run's failure, not the 0 that would clear the alarm
    expect(results.at(-1)).toMatchObject({ status: 'completed', counts: { failures: 1 } });
    expect(failuresReported()).toEqual([1]);
    added.mockRestore();
  });

  it('owes the adoption a key whose read failed in the first invocation of a run continued in another', async () => {
    // Prepare: the first listed key's reads are throttled past their retries; the run reads 2 keys per invocation.
    account = accountWith(6, { keysPageSize: 2 });
    const owed = customerKeys(account)[0];
    kmsMock.on(DescribeKeyCommand, { KeyId: owed.arn }).rejects(kmsError('ThrottlingException', 'Rate exceeded'));
    const run = reconciler({ concurrency: 1 });

    // Act
    const results: ReconcileResult[] = [await run({}, contextReading(account, 2))];
    expect(results[0].status).toBe('continued');
    while (results.at(-1)?.status === 'continued') {
      results.push(await run(continuation(lastContinue()), contextReading(account, 2)));
    }

    // Assess: the run completed over several invocations, and its adoption marker names the key.
    expect(results.length).toBeGreaterThan(2);
    expect(results.at(-1)).toMatchObject({ status: 'completed', counts: { adopted: 7, failures: 1 } });
    expect((await item('META', 'ADOPTION'))?.owed?.SS).toEqual([owed.arn]);
    kmsMock.reset();
    account.install(kmsMock);
    expect(await reconciler()({})).toMatchObject({ status: 'completed', findings: [], counts: { adopted: 1 } });
  });

  it('leaves unmarked an adoption resumed from a cursor of an earlier version that failed a key it named nowhere', async () => {
    // Prepare: the first invocation, which cannot read the first key, runs as an earlier version did: its stored
    // cursor counts the failure but names no owed resource.
    account = accountWith(6, { keysPageSize: 2 });
    const failed = customerKeys(account)[0];
    kmsMock.on(DescribeKeyCommand, { KeyId: failed.arn }).rejects(kmsError('ThrottlingException', 'Rate exceeded'));
    const run = reconciler({ concurrency: 1 });
    expect(await run({}, contextReading(account, 2))).toMatchObject({ status: 'continued' });
    const stored = await item('META', 'RECONCILE');
    const { owed, ...cursor } = JSON.parse(stored?.cursor?.S ?? '{}');
    expect(owed).toEqual([failed.arn]);
    await table.client.send(
      new PutItemCommand({ TableName: table.tableName, Item: { ...stored, cursor: { S: JSON.stringify(cursor) } } }),
    );
    kmsMock.reset();
    account.install(kmsMock);

    // Act
    const resumed = await run(continuation(lastContinue()), contextReading(account, 100));
    const next = await reconciler()({});

    // Assess: no adoption marker (as the earlier version left it), so the next run adopts the key silently.
    expect(resumed).toMatchObject({ status: 'completed', counts: { failures: 1 } });
    expect(next).toMatchObject({ status: 'completed', findings: [], counts: { adopted: 1 } });
    expect((await item(`RESOURCE#${failed.arn}`, 'BASELINE'))?.acceptedBy?.S).toBe('keydrift adoption');
  });

  it('ignores a continuation event delivered twice or after its run moved on', async () => {
    // Prepare
    account = accountWith(6, { keysPageSize: 2 });
    const run = reconciler({ concurrency: 1 });
    await run({}, contextReading(account, 2));
    const first = continuation(lastContinue());
    await run(first, contextReading(account, 2));

    // Act
    const replayed = await run(first, contextReading(account, 100));

    // Assess
    expect(replayed.status).toBe('ignored');
    const resumed = await run(continuation(lastContinue()), contextReading(account, 100));
    expect(resumed).toMatchObject({ status: 'completed', counts: { keys: 6 } });
    for (const key of customerKeys(account)) expect(account.callsByKey.get(key.arn)?.get('DescribeKey')).toBe(1);
  });

  it('resumes an unfinished run on the next schedule when its continuation was lost', async () => {
    // Prepare
    account = accountWith(5, { keysPageSize: 2 });
    const run = reconciler({ concurrency: 1 });
    await run({}, contextReading(account, 3));

    // Act: the continuation event never arrives; the schedule fires
    const resumed = await run(SCHEDULED);

    // Assess
    expect(resumed).toMatchObject({ status: 'completed', counts: { keys: 5, adopted: 7 } });
    for (const key of customerKeys(account)) expect(account.callsByKey.get(key.arn)?.get('DescribeKey')).toBe(1);
  });
});

describe('Reconciler: keys KMS lists but does not know yet', () => {
  it('neither adopts nor reports as deleted a new key whose read found nothing yet: the next run finds it', async () => {
    // Prepare: adopted; a new key is listed, but its DescribeKey answers NotFound once (KMS reads are eventually
    // consistent right after CreateKey).
    account = accountWith(1);
    await reconciler()({});
    const fresh = account.addKey({ description: 'fresh' });
    let described = 0;
    kmsMock.on(DescribeKeyCommand, { KeyId: fresh.arn }).callsFake(async () => {
      if (described++ === 0) throw kmsError('NotFoundException', `Key '${fresh.arn}' does not exist`);
      return { KeyMetadata: account.metadata(fresh) };
    });

    // Act
    const first = await reconciler()({});
    const next = await reconciler()({});

    // Assess
    expect(first.findings).toEqual([]);
    expect(next.findings.map((f) => [f.event, f.resource, f.changes.key_state?.after])).toEqual([
      ['Unbaselined', fresh.arn, 'Enabled'],
    ]);
    expect(await snapshotOf(fresh.arn, 'BASELINE')).toMatchObject({ key_state: 'Enabled', description: 'fresh' });
  });
});

describe('Reconciler: stored state', () => {
  it('keeps a state the detector saved when the drift it shows was already reported', async () => {
    // Prepare: adopted, then the detector saw a DisableKey event and saved the state
    const key = await adoptedKey();
    key.keyState = 'Disabled';
    await detectorSavesDisabled(key.arn);

    // Act
    const result = await reconciler()({});

    // Assess: the detector already alerted; the drift is open but not news
    expect(result.findings).toEqual([]);
    expect(result.counts?.openDrift).toBe(1);
  });

  it('leaves a key to the next run when the detector saved a change its read missed: no false resolve, no overwrite', async () => {
    // Prepare: a missed DisableKey was reported; the key is enabled again unseen; during the next run, after
    // DescribeKey answered Enabled, it is disabled again and the detector alerts and saves that.
    const key = await adoptedKey();
    key.keyState = 'Disabled';
    expect((await reconciler()({})).findings.map((f) => [f.status, f.severity])).toEqual([['drift', 'critical']]);
    key.keyState = 'Enabled';
    let disabled = false;
    kmsMock.on(ListGrantsCommand, { KeyId: key.arn }).callsFake(async () => {
      if (!disabled) {
        disabled = true;
        key.keyState = 'Disabled';
        await detectorSavesDisabled(key.arn);
      }
      return { Grants: [], Truncated: false };
    });
    snsMock.resetHistory();

    // Act
    const racing = await reconciler()({});
    const next = await reconciler()({});

    // Assess
    expect(racing.findings).toEqual([]);
    expect(racing.counts?.openDrift).toBe(1);
    expect(await snapshotOf(key.arn, 'STATE')).toMatchObject({ key_state: 'Disabled' });
    expect(next.findings).toEqual([]);
    expect(snsMock).not.toHaveReceivedCommand(PublishCommand);
  });

  it('does not report again a change the detector alerted while the run was reading the keys', async () => {
    // Prepare: adopted; the states of the page are loaded, then the key is disabled and the detector alerts it
    // before the reconciler gets to read that key.
    const key = await adoptedKey();
    snsMock.resetHistory();
    kmsMock.on(DescribeKeyCommand, { KeyId: key.arn }).callsFake(async () => {
      if (key.keyState !== 'Disabled') {
        key.keyState = 'Disabled';
        await detectorSavesDisabled(key.arn);
      }
      return { KeyMetadata: account.metadata(key) };
    });

    // Act
    const result = await reconciler()({});

    // Assess
    expect(result.findings).toEqual([]);
    expect(result.counts?.openDrift).toBe(1);
    expect(snsMock).not.toHaveReceivedCommand(PublishCommand);
    expect(await snapshotOf(key.arn, 'STATE')).toMatchObject({ key_state: 'Disabled' });
  });

  it("does not take a key's aliases, listed before the detector saved a new one, for the alias gone", async () => {
    // Prepare: adopted; the run lists the aliases, then an alias is created on the second key and the detector
    // alerts it and saves the key's state, all before the run loads and reads that key's page.
    account = accountWith(2);
    await reconciler()({});
    const key = customerKeys(account)[1];
    const keys = () => [...account.keys.values()].map((k) => ({ KeyId: k.id, KeyArn: k.arn }));
    kmsMock.on(ListKeysCommand).callsFake(async () => {
      if (!account.aliases.has('alias/rogue')) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        account.aliases.set('alias/rogue', key.id);
        await detectorSaves(key.arn, (snapshot) => {
          snapshot.attributes['aliases#alias/rogue'] = true;
        });
        // The alias itself, as the detector keeps an unplanned one: its state, and "no alias" approved.
        const alias = `arn:aws:kms:${REGION}:${ACCOUNT}:alias/rogue`;
        const store = createStateStore({ client: table.client, tableName: table.tableName });
        await store.claim('detector-alias');
        await store.save({
          eventId: 'detector-alias',
          finding: { ...(await fakeFinding(alias)), eventId: 'detector-alias' },
          states: [{ snapshot: snapshotFromState('alias', alias, { target_key_id: key.arn }), expectedVersion: null }],
          baselines: [{ snapshot: snapshotFromState('alias', alias, { target_key_id: null }), expectedVersion: null }],
          alertSent: true,
        });
      }
      return { Keys: keys(), Truncated: false };
    });
    snsMock.resetHistory();

    // Act
    const racing = await reconciler()({});
    const next = await reconciler()({});

    // Assess: no false resolve of the alias, no state without it, and no second alert of the CreateAlias
    expect(racing.findings).toEqual([]);
    expect(await snapshotOf(key.arn, 'STATE')).toMatchObject({ 'aliases#alias/rogue': true });
    expect(next.findings).toEqual([]);
    expect(findingEvents()).toEqual([]);
  });
});

describe('Reconciler: changes no event explained that an event on the key read', () => {
  let clock = Date.parse('2026-12-01T00:00:00Z');
  const ALICE = `arn:aws:iam::${ACCOUNT}:user/Alice`;
  /** A call Alice made on `key` at the clock, as EventBridge delivers its record. */
  const call = (name: string, key: string, requestParameters: Json = {}, at = clock) =>
    envelope({
      ...sample(`${name}__awskmsdg__1`),
      eventID: `${name}@${at}`,
      eventTime: new Date(at).toISOString().replace('.000Z', 'Z'),
      awsRegion: REGION,
      userIdentity: { type: 'IAMUser', arn: ALICE, accountId: ACCOUNT, userName: 'Alice' },
      requestParameters: { keyId: key, ...requestParameters },
      resources: [{ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: key }],
    } as unknown as Json);
  const tagCall = (key: string, at = clock) =>
    call('TagResource', key, { tags: [{ tagKey: 'team', tagValue: 'blue' }] }, at);
  /** An adopted key (its alias left to another key, as the fake lists every alias for the read of one). */
  async function adoptedKey() {
    account = accountWith(1);
    account.aliases.clear();
    const [key] = customerKeys(account);
    await reconciler({}, () => clock)({});
    return key;
  }

  /** A grant to account 444455556666 made on `key` with no CreateGrant reaching keydrift. */
  const grantUnseenToAnotherAccount = (key: FakeKey) =>
    key.grants.push({
      KeyId: key.arn,
      GrantId: 'unseen-grant',
      GranteePrincipal: 'arn:aws:iam::444455556666:root',
      Operations: ['Decrypt'],
    });

  it("reports a key disabled unseen, which the read of a later tag's event showed, on the next run", async () => {
    // Prepare: the key disabled with no event reaching keydrift; then tagged, and that event judged.
    const key = await adoptedKey();
    clock += 60_000;
    key.keyState = 'Disabled';
    clock += 1000;
    key.tags.team = 'blue';
    const { finding } = await detector(() => clock)(tagCall(key.arn));
    snsMock.resetHistory();

    // Act
    clock += 60_000;
    const result = await reconciler({}, () => clock)({});
    clock += 60_000;
    const again = await reconciler({}, () => clock)({});

    // Assess: the tag's finding names the tag; the run reports the disabled key, critical, once.
    expect(Object.keys(finding?.changes ?? {})).toEqual(['tags']);
    expect(result.findings.map((f) => [f.event, f.severity, f.status, f.changes.key_state])).toEqual([
      ['Reconcile', 'critical', 'drift', expect.objectContaining({ before: 'Enabled', after: 'Disabled' })],
    ]);
    expect(sent(topics.page)).toBe(1);
    expect(again.findings).toEqual([]);
  });

  it("resolves a disabled key enabled unseen, which the read of a later tag's event showed, on the next run", async () => {
    // Prepare: DisableKey judged (paged); the key enabled with no event reaching keydrift; then tagged.
    const key = await adoptedKey();
    clock += 60_000;
    key.keyState = 'Disabled';
    const disabled = await detector(() => clock + 30_000)(call('DisableKey', key.arn));
    clock += 60_000;
    key.keyState = 'Enabled';
    key.tags.team = 'blue';
    await detector(() => clock)(tagCall(key.arn));

    // Act
    clock += 60_000;
    const result = await reconciler({}, () => clock)({});

    // Assess: the page's incident is closed by the run's resolved finding.
    expect(disabled.finding).toMatchObject({ severity: 'critical', status: 'drift' });
    expect(result.findings.map((f) => [f.event, f.status, f.changes.key_state])).toEqual([
      [
        'Reconcile',
        'resolved',
        expect.objectContaining({ before: 'Disabled', after: 'Enabled', back_to_baseline: true }),
      ],
    ]);
  });

  it("reports a grant made unseen for another account, which the read of a later tag's event showed", async () => {
    // Prepare: a grant to account 444455556666 whose CreateGrant never reached keydrift; then the key tagged.
    const key = await adoptedKey();
    clock += 60_000;
    grantUnseenToAnotherAccount(key);
    key.tags.team = 'blue';
    await detector(() => clock)(tagCall(key.arn));

    // Act
    clock += 60_000;
    const result = await reconciler({}, () => clock)({});

    // Assess
    expect(result.findings.map((f) => [f.event, f.severity, Object.keys(f.changes)])).toEqual([
      ['Reconcile', 'critical', ['grants']],
    ]);
    expect(result.findings[0].changes.grants?.external_accounts).toEqual(['444455556666']);
  });

  it('reports a grant made unseen for another account on a key tagged after the run listed the aliases, before it read the key', async () => {
    // Prepare: a grant to account 444455556666 whose CreateGrant never reached keydrift; the run lists the account's
    // aliases, then the key is tagged and that event judged, and only then does the run read the key.
    const key = await adoptedKey();
    clock += 60_000;
    grantUnseenToAnotherAccount(key);
    kmsMock.on(ListKeysCommand).callsFake(async () => {
      if (key.tags.team !== 'blue') {
        clock += 1000;
        key.tags.team = 'blue';
        await detector(() => clock)(tagCall(key.arn));
        clock += 1000;
      }
      return { Keys: [...account.keys.values()].map((k) => ({ KeyId: k.id, KeyArn: k.arn })), Truncated: false };
    });

    // Act
    clock += 60_000;
    const result = await reconciler({}, () => clock)({});

    // Assess: the read, made after the tag was saved, is the newer: the grant is news now, not a run later.
    expect(result.findings.map((f) => [f.event, f.severity, Object.keys(f.changes)])).toEqual([
      ['Reconcile', 'critical', ['grants']],
    ]);
  });

  it('reports rotation turned off once, not again once a deletion scheduled since is cancelled', async () => {
    // Prepare: rotation turned off (its event judged); then the key scheduled for deletion, a run while it is pending
    // deletion (KMS hides its rotation then), and the deletion cancelled (KMS shows the rotation again).
    const key = await adoptedKey();
    clock += 60_000;
    key.rotation = false;
    const off = await detector(() => clock)(call('DisableKeyRotation', key.arn));
    clock += 60_000;
    key.keyState = 'PendingDeletion';
    key.deletionDate = new Date(clock + 30 * 86_400_000);
    await detector(() => clock)(call('ScheduleKeyDeletion', key.arn, { pendingWindowInDays: 30 }));
    clock += 60_000;
    await reconciler({}, () => clock)({});
    clock += 60_000;
    key.keyState = 'Disabled';
    key.deletionDate = undefined;
    await detector(() => clock)(call('CancelKeyDeletion', key.arn));
    snsMock.resetHistory();

    // Act
    clock += 60_000;
    const result = await reconciler({}, () => clock)({});

    // Assess: the rotation's drift was reported by its own event, and the run knows it.
    expect(off.finding).toMatchObject({ event: 'DisableKeyRotation', severity: 'error', status: 'drift' });
    expect(result.findings).toEqual([]);
    expect(await snapshotOf(key.arn, 'STATE')).toMatchObject({ enable_key_rotation: false });
    expect(snsMock).not.toHaveReceivedCommand(PublishCommand);
  });

  it('reports a key disabled and then tagged, its DisableKey judged after the TagResource, once: from its event', async () => {
    // Prepare: DisableKey at t0 and TagResource at t0 + 1 s; EventBridge delivers the TagResource first.
    const key = await adoptedKey();
    clock += 60_000;
    const disabledAt = clock;
    key.keyState = 'Disabled';
    key.tags.team = 'blue';
    const tagged = await detector(() => clock + 30_000)(tagCall(key.arn, disabledAt + 1000));

    // Act: the DisableKey arrives later; then a run.
    const disabled = await detector(() => clock + 40_000)(call('DisableKey', key.arn, {}, disabledAt));
    clock += 60_000;
    const result = await reconciler({}, () => clock)({});

    // Assess
    expect(Object.keys(tagged.finding?.changes ?? {})).toEqual(['tags']);
    expect(disabled.finding).toMatchObject({
      event: 'DisableKey',
      severity: 'critical',
      status: 'drift',
      changes: { key_state: { before: 'Enabled', after: 'Disabled' } },
    });
    expect(result.findings).toEqual([]);
    expect(sent(topics.page)).toBe(1);
  });
});

/** What the detector does on an unplanned DisableKey event: it alerts, and saves the key's state as disabled. */
async function detectorSavesDisabled(keyArn: string) {
  await detectorSaves(keyArn, (snapshot) => {
    snapshot.attributes.key_state = 'Disabled';
  });
}

/** What the detector does on an unplanned change event: it alerts, and saves the key's state as changed. */
async function detectorSaves(keyArn: string, change: (snapshot: ResourceSnapshot) => void) {
  const store = createStateStore({ client: table.client, tableName: table.tableName });
  const state = (await store.load([keyArn])).states.get(keyArn);
  if (!state) throw new Error('no state adopted');
  const snapshot = structuredClone(state.snapshot);
  change(snapshot);
  await store.claim('detector-event');
  await store.save({
    eventId: 'detector-event',
    finding: await fakeFinding(keyArn),
    states: [{ snapshot, expectedVersion: state.version }],
    baselines: [],
    alertSent: true,
  });
}

async function fakeFinding(resource: string) {
  return {
    service: 'kms' as const,
    event: 'DisableKey',
    eventId: 'detector-event',
    timestamp: '2026-10-03T12:00:00Z',
    account: ACCOUNT,
    region: REGION,
    resource,
    user: `arn:aws:iam::${ACCOUNT}:user/Alice`,
    severity: 'critical' as const,
    status: 'drift' as const,
    changes: { key_state: { before: 'Enabled', after: 'Disabled' } },
    summary: 'Key disabled',
    remediation: [],
  };
}

describe('Reconciler: multi-Region keys whose primary Region moves', () => {
  const MRK = 'mrk-1234abcd12ab34cd56ef1234567890ab';
  const REGIONS = ['us-west-2', 'eu-west-1', 'us-east-1'];
  /** The key's primary in `region`, replicated to the other two. */
  const primaryIn = (region: string) => ({
    primaryRegion: region,
    replicaRegions: REGIONS.filter((r) => r !== region),
  });

  /** A replica here (us-west-2) of a primary in us-east-1, with a sibling in eu-west-1, adopted by a run. */
  async function adoptedReplica() {
    account = accountWith(1);
    const replica = account.addKey({ id: MRK, multiRegion: primaryIn('us-east-1') });
    await reconciler()({});
    return replica;
  }

  it('approves a move of the primary between two other Regions, recorded there only, and still reports a promotion here', async () => {
    // Prepare: a replica here (us-west-2) of a primary in us-east-1, with a sibling in eu-west-1, adopted.
    const replica = await adoptedReplica();

    // Act: the primary moves from us-east-1 to eu-west-1 (UpdatePrimaryRegion, recorded in those two Regions), and
    // later, unseen, to this Region.
    replica.multiRegion = primaryIn('eu-west-1');
    const moved = await reconciler()({});
    const again = await reconciler()({});
    const baseline = await snapshotOf(replica.arn, 'BASELINE');
    replica.multiRegion = primaryIn('us-west-2');
    const promoted = await reconciler()({});

    // Assess: nothing to report here of a move between two other Regions; the baseline follows it, so moving a
    // promoted replica back names the primary Region approved last.
    expect(moved).toMatchObject({ status: 'completed', findings: [] });
    expect(moved.counts?.openDrift).toBe(0);
    expect(again).toMatchObject({ status: 'completed', findings: [] });
    expect(baseline.primary_region).toBe('eu-west-1');
    expect(promoted.findings).toHaveLength(1);
    expect(promoted.findings[0]).toMatchObject({
      resource: replica.arn,
      status: 'drift',
      severity: 'error',
      changes: { primary_region: { before: 'eu-west-1', after: 'us-west-2' } },
    });
    expect(promoted.findings[0].remediation).toEqual([
      `aws kms update-primary-region --key-id ${replica.arn} --region us-west-2 --primary-region eu-west-1`,
    ]);
  });

  it("reports this Region's primary moved elsewhere with no event seen", async () => {
    // Prepare: the primary here, replicated to eu-west-1 and us-east-1, adopted.
    account = accountWith(1);
    const primary = account.addKey({
      id: MRK,
      multiRegion: { primaryRegion: 'us-west-2', replicaRegions: ['eu-west-1', 'us-east-1'] },
    });
    await reconciler()({});

    // Act: demoted, unseen: eu-west-1 is the primary now.
    primary.multiRegion = { primaryRegion: 'eu-west-1', replicaRegions: ['us-west-2', 'us-east-1'] };
    const result = await reconciler()({});

    // Assess
    expect(result.findings).toHaveLength(1);
    expect(result.findings[0]).toMatchObject({
      status: 'drift',
      severity: 'error',
      changes: { primary_region: { before: 'us-west-2', after: 'eu-west-1' } },
    });
  });
  it('reports a replica promoted here, then moved on to another Region, as drift from its approved primary', async () => {
    // Prepare: a replica here of a primary in us-east-1, adopted; promoted here unplanned (drift, reported).
    const replica = await adoptedReplica();
    replica.multiRegion = primaryIn('us-west-2');
    const promoted = await reconciler()({});

    // Act: moved on from here to eu-west-1 (recorded here too: this Region is the old primary's).
    replica.multiRegion = primaryIn('eu-west-1');
    const moved = await reconciler()({});
    const again = await reconciler()({});

    // Assess: still drift from the approved primary, not 'back to its baseline'; nothing approved silently.
    expect(promoted.findings.map((f) => [f.status, f.changes.primary_region])).toEqual([
      ['drift', { before: 'us-east-1', after: 'us-west-2' }],
    ]);
    expect(moved.findings.map((f) => [f.status, f.severity, f.changes.primary_region])).toEqual([
      ['drift', 'error', { before: 'us-east-1', after: 'eu-west-1' }],
    ]);
    expect(again.findings).toEqual([]);
    expect((await snapshotOf(replica.arn, 'BASELINE')).primary_region).toBe('us-east-1');
  });

  it('keeps a replica promoted here, then moved on, as open drift, and resolves it once back at its approved primary', async () => {
    // Prepare: a replica here of a primary in us-east-1, adopted; promoted here unplanned, then moved on to eu-west-1
    // (drift, reported by the run that saw it).
    const replica = await adoptedReplica();
    replica.multiRegion = primaryIn('us-west-2');
    await reconciler()({});
    replica.multiRegion = primaryIn('eu-west-1');
    await reconciler()({});

    // Act: a run that sees nothing new, then the primary moved back to us-east-1 (recorded in those two Regions).
    const again = await reconciler()({});
    replica.multiRegion = primaryIn('us-east-1');
    const back = await reconciler()({});

    // Assess: still open drift, not a move elsewhere; back at its approved primary, the drift is resolved.
    expect(again).toMatchObject({ findings: [], counts: { openDrift: 1 } });
    expect(back.findings.map((f) => [f.status, f.changes.primary_region])).toEqual([
      ['resolved', { before: 'eu-west-1', after: 'us-east-1', back_to_baseline: true }],
    ]);
    expect(back.counts?.openDrift).toBe(0);
  });

  it("leaves a replica's rotation and replica Regions unknown while it is promoted here unapproved", async () => {
    // Prepare: a replica here of a primary in us-east-1, adopted; promoted here unplanned (drift), then moved back.
    const replica = await adoptedReplica();
    replica.multiRegion = primaryIn('us-west-2');
    await reconciler()({});
    replica.multiRegion = primaryIn('us-east-1');
    await reconciler()({});
    // Meanwhile its primary in us-east-1 turns rotation off and replicates to ap-south-1 (recorded there).
    replica.rotation = false;
    replica.multiRegion = { primaryRegion: 'us-east-1', replicaRegions: ['us-west-2', 'eu-west-1', 'ap-south-1'] };

    // Act: promoted here unplanned again.
    replica.multiRegion = { primaryRegion: 'us-west-2', replicaRegions: ['eu-west-1', 'us-east-1', 'ap-south-1'] };
    const promoted = await reconciler()({});

    // Assess: the promotion is the drift; what its primary changed meanwhile is not, nor undone from here.
    expect(promoted.findings.map((f) => Object.keys(f.changes))).toEqual([['primary_region']]);
    expect(promoted.findings[0].remediation.join('\n')).not.toMatch(/rotation|schedule-key-deletion/);
  });
});

describe('Reconciler: keys of a disconnected custom key store', () => {
  // The store of the DisconnectCustomKeyStore sample, disconnected and connected by its user Alice.
  const STORE_ID = 'cks-1234567890abcdef0';
  const STORE = `arn:aws:kms:${REGION}:${ACCOUNT}:custom-key-store/${STORE_ID}`;
  const ALICE = `arn:aws:iam::${ACCOUNT}:user/Alice`;
  const planned = parseDetectionConfig({ plannedPrincipals: [ALICE] });
  let clock = Date.parse('2026-12-01T00:00:00Z');
  const storeCall = (eventName: string) =>
    envelope({
      ...sample('DisconnectCustomKeyStore__awskmsdg__1'),
      eventName,
      eventID: `${eventName}@${clock}`,
      eventTime: new Date(clock).toISOString().replace('.000Z', 'Z'),
      awsRegion: REGION,
    } as unknown as Json);

  /** Tagging `key` team=hsm now, by `user` (the sample's own when not given), as the detector receives it. */
  const tagCall = (key: { arn: string }, user?: Json) =>
    envelope({
      ...sample('TagResource__awskmsdg__1'),
      eventID: `TagResource@${clock}`,
      eventTime: new Date(clock).toISOString().replace('.000Z', 'Z'),
      awsRegion: REGION,
      ...(user ? { userIdentity: user } : {}),
      requestParameters: { keyId: key.arn, tags: [{ tagKey: 'team', tagValue: 'hsm' }] },
      resources: [{ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: key.arn }],
    } as unknown as Json);

  /** An account whose first `inStore` keys are in the store (of `n`), adopted connected and Enabled. */
  async function adoptedInStore(n: number, inStore: number, options: ConstructorParameters<typeof FakeKms>[0] = {}) {
    account = accountWith(n, options);
    const keys = customerKeys(account);
    for (const key of keys.slice(0, inStore)) key.customKeyStoreId = STORE_ID;
    await reconciler({}, () => clock)({});
    return keys.slice(0, inStore);
  }
  /** The store's keys as KMS shows them while it is disconnected, or once it is connected again. */
  const show = (keys: Array<{ keyState: string }>, state: string) => {
    for (const key of keys) key.keyState = state;
  };

  it('reports nothing of the keys of a store a planned principal disconnected, nor of their return', async () => {
    // Prepare
    const keys = await adoptedInStore(3, 2);
    clock += 60_000;
    await detector(() => clock, planned)(storeCall('DisconnectCustomKeyStore'));
    show(keys, 'Unavailable');
    snsMock.resetHistory();

    // Act: a run while the store is disconnected (for its UpdateCustomKeyStore), then one after it is connected again.
    clock += 60_000;
    const disconnected = await reconciler({}, () => clock)({});
    await detector(() => clock, planned)(storeCall('ConnectCustomKeyStore'));
    show(keys, 'Enabled');
    clock += 60_000;
    const connected = await reconciler({}, () => clock)({});

    // Assess: no key was drift, nor back from it; nothing was sent.
    expect(disconnected).toMatchObject({ findings: [], counts: { openDrift: 0 } });
    expect(connected).toMatchObject({ findings: [], counts: { openDrift: 0 } });
    expect(snsMock).not.toHaveReceivedCommand(PublishCommand);
    expect(await snapshotOf(keys[0].arn, 'BASELINE')).toMatchObject({ key_state: 'Enabled' });
  });

  it("pages an unplanned disconnection once, on the store's own finding, not again for each of its keys", async () => {
    // Prepare
    const keys = await adoptedInStore(3, 2);
    clock += 60_000;
    const { finding } = await detector(() => clock)(storeCall('DisconnectCustomKeyStore'));
    show(keys, 'Unavailable');

    // Act
    clock += 60_000;
    const result = await reconciler({}, () => clock)({});

    // Assess
    expect(finding).toMatchObject({ resource: STORE, severity: 'critical', status: 'drift' });
    expect(result.findings).toEqual([]);
    expect(sent(topics.page)).toBe(1);
  });

  it('pages each key found Unavailable when keydrift has no record of its store disconnecting', async () => {
    // Prepare
    const keys = await adoptedInStore(3, 2);
    show(keys, 'Unavailable');

    // Act
    clock += 60_000;
    const result = await reconciler({}, () => clock)({});

    // Assess: the only alert of it, with the command that reconnects the store.
    expect(result.findings.map((f) => [f.resource, f.severity, f.changes.key_state]).sort()).toEqual(
      keys.map((k) => [k.arn, 'critical', { before: 'Enabled', after: 'Unavailable' }]).sort(),
    );
    expect(result.findings[0].remediation).toEqual([
      `aws kms connect-custom-key-store --custom-key-store-id ${STORE_ID} --region ${REGION}`,
    ]);
  });

  it("pages a key found Unavailable by the read of a tag's event when keydrift has no record of its store disconnecting", async () => {
    // Prepare: the store disconnected unseen; a key of it tagged meanwhile (the detector reads it).
    const [key, other] = await adoptedInStore(3, 2);
    show([key, other], 'Unavailable');
    clock += 1000;
    key.tags.team = 'hsm';
    const tagged = tagCall(key);
    await detector(() => clock)(tagged);

    // Act
    clock += 60_000;
    const result = await reconciler({}, () => clock)({});

    // Assess: both keys, the tagged one too, paged as the only alert of it.
    const paged = result.findings.filter((f) => 'key_state' in f.changes);
    expect(paged.map((f) => [f.resource, f.severity, f.changes.key_state]).sort()).toEqual(
      [key, other].map((k) => [k.arn, 'critical', { before: 'Enabled', after: 'Unavailable' }]).sort(),
    );
  });

  it('pages a key found Unavailable whose store keydrift last saw connected', async () => {
    // Prepare: disconnected and connected again by a planned principal; then the key is Unavailable again, unseen.
    const [key] = await adoptedInStore(2, 1);
    clock += 60_000;
    await detector(() => clock, planned)(storeCall('DisconnectCustomKeyStore'));
    clock += 1000;
    await detector(() => clock, planned)(storeCall('ConnectCustomKeyStore'));
    show([key], 'Unavailable');

    // Act
    clock += 60_000;
    const result = await reconciler({}, () => clock)({});

    // Assess
    expect(result.findings.map((f) => [f.resource, f.severity])).toEqual([[key.arn, 'critical']]);
  });

  /** Runs with `key`'s store still disconnected, then connected, then disconnected again with no event seen. */
  async function runsThroughReconnection(key: FakeKey) {
    clock += 60_000;
    const stillDisconnected = await reconciler({}, () => clock)({});
    const whileDisconnected = await snapshotOf(key.arn, 'BASELINE');
    show([key], 'Enabled');
    clock += 60_000;
    const connected = await reconciler({}, () => clock)({});
    show([key], 'Unavailable');
    clock += 60_000;
    const result = await reconciler({}, () => clock)({});
    return { stillDisconnected, whileDisconnected, connected, result };
  }

  it('pages a key adopted while its store was disconnected when it is Unavailable again after the store was connected', async () => {
    // Prepare: the store was disconnected before keydrift was deployed; its key was Enabled all along.
    account = accountWith(2);
    const [key] = customerKeys(account);
    key.customKeyStoreId = STORE_ID;
    show([key], 'Unavailable');
    await reconciler({}, () => clock)({});

    // Act: runs with the store still disconnected, connected, then disconnected again, unseen.
    const { stillDisconnected, connected, result } = await runsThroughReconnection(key);

    // Assess: the key's own state is approved once the store shows it; losing it again is critical drift.
    expect(stillDisconnected.findings).toEqual([]);
    expect(connected.findings).toEqual([]);
    expect(await snapshotOf(key.arn, 'BASELINE')).toMatchObject({ key_state: 'Enabled' });
    expect(result.findings.map((f) => [f.resource, f.status, f.severity, f.changes.key_state])).toEqual([
      [key.arn, 'drift', 'critical', { before: 'Enabled', after: 'Unavailable' }],
    ]);
  });

  it('drops an Unavailable an earlier keydrift approved, and approves the state KMS shows once the store is connected', async () => {
    // Prepare: the key adopted while its store was disconnected by a keydrift that approved (and stored) Unavailable.
    const [key] = await adoptedInStore(2, 1);
    for (const sk of ['BASELINE', 'STATE']) {
      const stored = await item(`RESOURCE#${key.arn}`, sk);
      const snapshot = JSON.parse(stored?.snapshot?.S ?? '{}');
      snapshot.attributes.key_state = 'Unavailable';
      const Item = { ...stored, snapshot: { S: JSON.stringify(snapshot) } };
      await table.client.send(new PutItemCommand({ TableName: table.tableName, Item }));
    }
    show([key], 'Unavailable');

    // Act: runs with the store still disconnected, connected, then disconnected again, unseen.
    const { stillDisconnected, whileDisconnected, connected, result } = await runsThroughReconnection(key);

    // Assess: the approved Unavailable is no approval; the key's own state is approved once the store shows it, and
    // losing it again is critical drift.
    expect(stillDisconnected.findings).toEqual([]);
    expect(whileDisconnected).not.toHaveProperty('key_state');
    expect(connected.findings).toEqual([]);
    expect(await snapshotOf(key.arn, 'BASELINE')).toMatchObject({ key_state: 'Enabled' });
    expect((await item(`RESOURCE#${key.arn}`, 'BASELINE'))?.acceptedBy?.S).toBe('keydrift adoption');
    expect(result.findings.map((f) => [f.resource, f.status, f.severity, f.changes.key_state])).toEqual([
      [key.arn, 'drift', 'critical', { before: 'Enabled', after: 'Unavailable' }],
    ]);
  });

  it('takes no Unavailable from the read of a key event while its store is known disconnected', async () => {
    // Prepare: the store disconnected by a planned principal; a key of it tagged meanwhile (the detector reads it).
    const [key, other] = await adoptedInStore(3, 2);
    clock += 60_000;
    await detector(() => clock, planned)(storeCall('DisconnectCustomKeyStore'));
    show([key, other], 'Unavailable');
    clock += 1000;
    const tagged = tagCall(key, { type: 'IAMUser', arn: ALICE, accountId: ACCOUNT, userName: 'Alice' });
    key.tags.team = 'hsm';
    const { finding } = await detector(() => clock, planned)(tagged);
    const storedWhileDisconnected = await snapshotOf(key.arn, 'STATE');

    // Act: the store connected again by the planned principal, its keys back; then a run.
    clock += 1000;
    await detector(() => clock, planned)(storeCall('ConnectCustomKeyStore'));
    show([key, other], 'Enabled');
    snsMock.resetHistory();
    clock += 60_000;
    const connected = await reconciler({}, () => clock)({});

    // Assess: the tag was the change; no key state went Unavailable, nor came back from it (the fake KMS lists every
    // alias for the detector's read of one key: what the run then finds of the key's aliases is left out here).
    expect(finding?.changes).not.toHaveProperty('key_state');
    expect(storedWhileDisconnected).not.toHaveProperty('key_state', 'Unavailable');
    expect(connected.findings.filter((f) => 'key_state' in f.changes)).toEqual([]);
  });

  /** A key disabled unseen and paged by a run; then its store disconnected by a planned principal. */
  async function disabledKeyOfStoreDisconnected() {
    const [key] = await adoptedInStore(2, 1);
    show([key], 'Disabled');
    clock += 60_000;
    const disabled = await reconciler({}, () => clock)({});
    clock += 60_000;
    await detector(() => clock, planned)(storeCall('DisconnectCustomKeyStore'));
    show([key], 'Unavailable');
    return { key, disabled };
  }

  /** The store connected again by a planned principal, KMS showing the key Disabled, as it was; then a run. */
  async function storeConnectedAgain(key: FakeKey) {
    clock += 1000;
    await detector(() => clock, planned)(storeCall('ConnectCustomKeyStore'));
    show([key], 'Disabled');
    clock += 60_000;
    return reconciler({}, () => clock)({});
  }

  it('pages a disabled key once, not again when its store, disconnected meanwhile, is connected again', async () => {
    // Prepare: the key disabled unseen and paged by a run; then its store disconnected by a planned principal.
    const { key, disabled } = await disabledKeyOfStoreDisconnected();
    clock += 60_000;
    const whileDisconnected = await reconciler({}, () => clock)({});
    snsMock.resetHistory();

    // Act: the store connected again; KMS shows the key Disabled, as it was.
    const connected = await storeConnectedAgain(key);

    // Assess: the disabled key was paged once; the runs after knew it, and it still counts as open drift.
    expect(disabled.findings.map((f) => [f.resource, f.severity, f.changes.key_state])).toEqual([
      [key.arn, 'critical', expect.objectContaining({ before: 'Enabled', after: 'Disabled' })],
    ]);
    expect(whileDisconnected).toMatchObject({ findings: [], counts: { openDrift: 1 } });
    expect(connected).toMatchObject({ findings: [], counts: { openDrift: 1 } });
    expect(sent(topics.page)).toBe(0);
  });

  it("keeps a disabled key's reported state through the read of a tag's event while its store is disconnected", async () => {
    // Prepare: the key disabled unseen and paged by a run; its store disconnected by a planned principal; then tagged.
    const { key } = await disabledKeyOfStoreDisconnected();
    clock += 1000;
    key.tags.team = 'hsm';
    const tagged = tagCall(key, { type: 'IAMUser', arn: ALICE, accountId: ACCOUNT, userName: 'Alice' });
    await detector(() => clock, planned)(tagged);
    snsMock.resetHistory();

    // Act: the store connected again; KMS shows the key Disabled, as it was.
    const connected = await storeConnectedAgain(key);

    // Assess
    expect(await snapshotOf(key.arn, 'STATE')).toMatchObject({ key_state: 'Disabled' });
    expect(connected.findings.filter((f) => 'key_state' in f.changes)).toEqual([]);
    expect(sent(topics.page)).toBe(0);
  });

  it('takes a key disabled while its store is disconnected as the event says, without reading it again', async () => {
    // Prepare: the store disconnected by a planned principal; then the key, Unavailable, disabled by someone else.
    const [key] = await adoptedInStore(2, 1);
    clock += 60_000;
    await detector(() => clock, planned)(storeCall('DisconnectCustomKeyStore'));
    show([key], 'Unavailable');
    clock += 1000;
    const disabled = envelope({
      ...sample('DisableKey__awskmsdg__1'),
      eventID: `DisableKey@${clock}`,
      eventTime: new Date(clock).toISOString().replace('.000Z', 'Z'),
      awsRegion: REGION,
      requestParameters: { keyId: key.arn },
      resources: [{ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: key.arn }],
    } as unknown as Json);
    kmsMock.resetHistory();

    // Act
    const { finding } = await detector(() => clock, planned)(disabled);

    // Assess: KMS shows Unavailable, not the key's own state; the read is not taken for one lagging behind the event.
    expect(finding?.changes.key_state).toEqual({ before: 'Enabled', after: 'Disabled' });
    expect(kmsMock.commandCalls(DescribeKeyCommand)).toHaveLength(1);
    expect(await snapshotOf(key.arn, 'STATE')).toMatchObject({ key_state: 'Disabled' });
  });

  it("reads a store's stored item once per invocation, however many of its keys are found Unavailable", async () => {
    // Prepare: 12 keys in the store, listed 5 to a page.
    const keys = await adoptedInStore(13, 12, { keysPageSize: 5 });
    clock += 60_000;
    await detector(() => clock, planned)(storeCall('DisconnectCustomKeyStore'));
    show(keys, 'Unavailable');
    const send = jest.spyOn(table.client, 'send');

    // Act
    clock += 60_000;
    const result = await reconciler({}, () => clock)({});

    // Assess
    const storeReads = send.mock.calls.filter(([command]) => JSON.stringify(command.input).includes(STORE));
    send.mockRestore();
    expect(result.findings).toEqual([]);
    expect(storeReads).toHaveLength(1);
  });
});

describe('Reconciler: key material staged for a rotation', () => {
  it('keeps the staged key material when it stores a changed read of the key: its deletion still leaves the key usable', async () => {
    // Prepare: adopted; the detector judged an import that staged new material; then a tag changed unseen, which the
    // next run reports and stores.
    const key = await adoptedKey();
    const staged = '123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0';
    await detectorSaves(key.arn, (snapshot) => {
      snapshot.stagedKeyMaterial = staged;
    });
    key.tags = { ...key.tags, owner: 'mallory' };
    expect((await reconciler()({})).findings).toHaveLength(1);

    // Act: Mallory deletes the staged material (the current DeleteImportedKeyMaterial record, on this key).
    const deletion = Object.assign(sample('DeleteImportedKeyMaterial__awskmsdg-current__1') as Json, {
      awsRegion: REGION,
      requestParameters: { keyId: key.id, keyMaterialId: staged },
      responseElements: { keyId: key.arn, keyMaterialId: staged },
      resources: [{ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: key.arn }],
    });
    const { finding } = await detector()(envelope(deletion));

    // Assess: the key goes on using its current material, as KMS shows it: alerted, not paged.
    expect(finding).toMatchObject({ event: 'DeleteImportedKeyMaterial', severity: 'error', changes: {} });
    expect(await snapshotOf(key.arn, 'STATE')).toMatchObject({ key_state: 'Enabled', 'tags#owner': 'mallory' });
  });

  it('adopts a key with imported material without the material KMS names current in its baseline (no attribute)', async () => {
    account = accountWith(1);
    const [key] = customerKeys(account);
    key.currentKeyMaterialId = 'a'.repeat(64);

    await reconciler()({});

    const stored = async (sk: 'STATE' | 'BASELINE') =>
      JSON.parse((await item(`RESOURCE#${key.arn}`, sk))?.snapshot?.S ?? '{}');
    expect((await stored('STATE')).currentKeyMaterial).toBe(key.currentKeyMaterialId);
    expect(await stored('BASELINE')).not.toHaveProperty('currentKeyMaterial');
  });

  it('forgets the staged key material once KMS names it current, even when nothing else of the key changed', async () => {
    // Prepare: a key with imported material, adopted; the detector judged an import that staged new material.
    account = accountWith(1);
    const [key] = customerKeys(account);
    key.currentKeyMaterialId = 'a'.repeat(64);
    await reconciler()({});
    const staged = 'b'.repeat(64);
    await detectorSaves(key.arn, (snapshot) => {
      snapshot.stagedKeyMaterial = staged;
    });

    // Act: an on-demand rotation makes the staged material current, its event never judged; a run reads the key.
    key.currentKeyMaterialId = staged;
    expect((await reconciler()({})).findings).toEqual([]);

    // Assess: the stored state no longer takes it for staged (its deletion would be of the material the key uses).
    const stored = JSON.parse((await item(`RESOURCE#${key.arn}`, 'STATE'))?.snapshot?.S ?? '{}');
    expect(stored.stagedKeyMaterial).toBeUndefined();
  });
});
