/**
 * End to end: the scheduled reconciler (lambda/handlers/reconciler-app.ts) against moto, over the account the
 * detector's end-to-end tests build (test/e2e/harness.ts: keydrift's table, the four topics with SQS subscribers, the
 * event bus, a trail, keydrift's own key). Changes are made directly with the SDK and no CloudTrail record reaches
 * the detector: only the reconciler can find them. What it delivered is read from the topics' queues and the bus.
 *
 * The tests form one story over one moto and run in order: adoption, drift, repeat, a deleted key, resolution, and
 * the deletion countdown (with the reconciler's clock moved forward).
 */

import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { CreateTrailCommand } from '@aws-sdk/client-cloudtrail';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  KMSClient,
  PutKeyPolicyCommand,
  ReplicateKeyCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
} from '@aws-sdk/client-kms';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { createPageLedger } from '../../lambda/adapters/page-ledger';
import { createStateStore } from '../../lambda/adapters/state-store';
import { formatPagerDutyEvents, pagerDutyDedupKey } from '../../lambda/alerts/pagerduty';
import { parseDetectionConfig } from '../../lambda/core/config';
import type { Finding } from '../../lambda/core/types';
import { createReconciler, type ReconcilerHandler } from '../../lambda/handlers/reconciler-app';
import { type KeyRef, keyRef, kmsRecords, MOTO_ACCOUNT } from '../helpers/cloudtrail-events';
import { EVENT_BUS, REGION, setUpWorld, TABLE, TRAIL_BUCKET, type World } from './harness';

const DAY = 24 * 60 * 60 * 1000;
const OUTSIDER = '444455556666';

function policy(extra: object[] = []): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'Enable IAM User Permissions',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${MOTO_ACCOUNT}:root` },
        Action: 'kms:*',
        Resource: '*',
      },
      ...extra,
    ],
  });
}

let world: World;
let sns: SNSClient;
let eventBridge: EventBridgeClient;
let reconcile: ReconcilerHandler;
let published: jest.SpyInstance;
let warnings: jest.SpyInstance;
let clock = Date.now();
const keys: Record<'payments' | 'ledger' | 'reports' | 'archive', KeyRef> = {} as never;
let archiveTrail: string;
/** The reconciler's finding of the DisableKey it found, before that call's CloudTrail event arrived. */
let reconciledDisable: Finding;

beforeAll(async () => {
  world = await setUpWorld();
  sns = new SNSClient({ ...world.moto.clientConfig, maxAttempts: 2 });
  eventBridge = new EventBridgeClient({ ...world.moto.clientConfig, maxAttempts: 2 });
  for (const name of Object.keys({ payments: 0, ledger: 0, reports: 0, archive: 0 }) as Array<keyof typeof keys>) {
    const created = await world.kms.send(
      new CreateKeyCommand({ Description: `e2e ${name}`, KeyUsage: 'ENCRYPT_DECRYPT', Policy: policy() }),
    );
    keys[name] = keyRef(created.KeyMetadata?.Arn as string);
  }
  await world.kms.send(new CreateAliasCommand({ AliasName: 'alias/e2e-payments', TargetKeyId: keys.payments.id }));
  await world.kms.send(
    new CreateGrantCommand({
      KeyId: keys.ledger.arn,
      GranteePrincipal: `arn:aws:iam::${MOTO_ACCOUNT}:role/App`,
      Operations: ['Decrypt'],
      Name: 'app-decrypt',
    }),
  );
  const trail = await world.cloudtrail.send(
    new CreateTrailCommand({ Name: 'archive-trail', S3BucketName: TRAIL_BUCKET, KmsKeyId: keys.archive.arn }),
  );
  archiveTrail = trail.TrailARN as string;

  const logger = new Logger({ serviceName: 'keydrift-e2e', logLevel: 'SILENT' });
  warnings = jest.spyOn(logger, 'warn');
  published = jest.spyOn(sns, 'send');
  reconcile = createReconciler({
    kms: world.kms,
    dynamodb: world.dynamodb,
    sns,
    eventBridge,
    cloudtrail: world.cloudtrail,
    settings: {
      tableName: TABLE,
      topics: world.topics,
      eventBusName: EVENT_BUS,
      selfKeyArn: world.selfKey.arn,
      opsKeyArn: `${world.selfKey.arn}-ops`,
      config: parseDetectionConfig({}),
      alertMinSeverity: 'error',
      region: REGION,
      concurrency: 4,
    },
    logger,
    metrics: new Metrics({ namespace: 'KeydriftE2E', serviceName: 'keydrift-e2e' }),
    now: () => clock,
  });
}, 60_000);

afterEach(() => {
  const logged = warnings.mock.calls.map((call) => JSON.stringify(call));
  warnings.mockClear();
  published.mockClear();
  expect(logged).toEqual([]);
});

afterAll(async () => {
  sns?.destroy();
  eventBridge?.destroy();
  await world?.stop();
});

const publishes = () => published.mock.calls.filter(([command]) => command instanceof PublishCommand).length;
const only = (findings: Finding[], resource: string) => {
  const matching = findings.filter((f) => f.resource === resource);
  expect(matching).toHaveLength(1);
  return matching[0];
};

describe('Reconciler against moto', () => {
  it('adopts every key, alias and trail on the first run, records the baselines and sends no alert', async () => {
    // Act
    const result = await reconcile({ source: 'aws.events', 'detail-type': 'Scheduled Event' });

    // Assess
    expect(result).toMatchObject({ status: 'completed', findings: [] });
    expect(result.counts).toMatchObject({ keys: 5, aliases: 1, trails: 2, adopted: 8, failures: 0 });
    expect(publishes()).toBe(0);
    for (const key of Object.values(keys)) {
      expect(await world.item(`RESOURCE#${key.arn}`, 'BASELINE')).toMatchObject({ acceptedBy: 'keydrift adoption' });
    }
    const ledger = await world.snapshot(keys.ledger.arn, 'BASELINE');
    expect(ledger?.attributes).toMatchObject({ key_state: 'Enabled', description: 'e2e ledger' });
    expect(Object.values(ledger?.attributes ?? {})).toContainEqual(expect.objectContaining({ name: 'app-decrypt' }));
    expect(await world.snapshot(keys.payments.arn, 'BASELINE')).toMatchObject({
      attributes: expect.objectContaining({ 'aliases#alias/e2e-payments': true }),
    });
    expect(await world.snapshot(archiveTrail, 'BASELINE')).toMatchObject({
      attributes: expect.objectContaining({ kms_key_id: keys.archive.arn, logging: false }),
    });
    expect(await world.item('META', 'ADOPTION')).toBeDefined();
  });

  it('finds drift made behind the detector’s back and alerts it with the right severity, once', async () => {
    // Prepare: three changes no event reports
    await world.kms.send(new DisableKeyCommand({ KeyId: keys.payments.id }));
    await world.kms.send(
      new PutKeyPolicyCommand({
        KeyId: keys.ledger.id,
        PolicyName: 'default',
        Policy: policy([
          {
            Sid: 'Partner',
            Effect: 'Allow',
            Principal: { AWS: `arn:aws:iam::${OUTSIDER}:root` },
            Action: 'kms:Decrypt',
            Resource: '*',
          },
        ]),
      }),
    );
    await world.kms.send(
      new TagResourceCommand({ KeyId: keys.reports.id, Tags: [{ TagKey: 'owner', TagValue: 'mallory' }] }),
    );

    // Act
    const result = await reconcile({});
    const again = await reconcile({});

    // Assess
    expect(result.findings).toHaveLength(3);
    const disabled = only(result.findings, keys.payments.arn);
    reconciledDisable = disabled;
    expect(disabled).toMatchObject({
      event: 'Reconcile',
      severity: 'critical',
      status: 'drift',
      changes: { key_state: { before: 'Enabled', after: 'Disabled' } },
    });
    expect(disabled.summary).toContain('alias/e2e-payments');
    expect(disabled.remediation).toContain(`aws kms enable-key --key-id ${keys.payments.arn} --region ${REGION}`);
    const opened = only(result.findings, keys.ledger.arn);
    expect(opened).toMatchObject({ severity: 'critical', changes: { policy: { external_accounts: [OUTSIDER] } } });
    const tagged = only(result.findings, keys.reports.arn);
    expect(tagged).toMatchObject({
      severity: 'warning',
      changes: { tags: { before: { owner: null }, after: { owner: 'mallory' } } },
    });

    for (const finding of [disabled, opened]) {
      const delivered = await world.deliveredFor(finding.eventId);
      expect(delivered.email).toHaveLength(1);
      expect(delivered.email[0].Message).toContain(finding.summary);
      expect(delivered.chat).toHaveLength(1);
      expect(delivered.page).toHaveLength(1);
      expect(delivered.eventBridge.map((e) => e.detail)).toEqual([finding]);
    }
    const tagDelivery = await world.deliveredFor(tagged.eventId);
    expect([tagDelivery.email.length, tagDelivery.page.length, tagDelivery.eventBridge.length]).toEqual([0, 0, 1]);
    expect(await world.storedFinding(disabled)).toMatchObject({ event: 'Reconcile', severity: 'critical' });

    // The same drift on the next run: still open, not alerted again.
    expect(again).toMatchObject({ status: 'completed', findings: [] });
    expect(again.counts?.openDrift).toBe(3);
    expect((await world.deliveredFor(disabled.eventId)).email).toHaveLength(1);
  });

  it('takes the late event of drift it reported as saying who did it, paged on the same incident', async () => {
    // The DisableKey of the previous test reaches the detector only now: CloudTrail's events can lag by minutes, and
    // the call was made before the run that found it.
    const time = new Date(Date.parse(reconciledDisable.timestamp) - 60_000);
    const late = await world.deliver(kmsRecords.disableKey(keys.payments, { region: REGION, time }));
    expect(late.finding).toMatchObject({
      event: 'DisableKey',
      severity: 'critical',
      status: 'drift',
      changes: { key_state: { before: 'Enabled', after: 'Disabled' } },
    });
    const finding = late.finding as Finding;
    expect((await world.deliveredFor(finding.eventId)).page).toHaveLength(1);
    const pages = (f: Finding) => formatPagerDutyEvents(f, 'routing-key');
    expect(pages(finding).map((e) => e.dedup_key)).toEqual([
      pagerDutyDedupKey({ account: MOTO_ACCOUNT, region: REGION, resource: keys.payments.arn }, 'key_state'),
    ]);
    // The pager's order: the reconciler's page went out first; the older event still goes, to the open incident.
    const ledger = createPageLedger({ client: world.dynamodb, tableName: TABLE });
    const admitted = (f: Finding) =>
      Promise.all(
        pages(f).map((e) =>
          ledger.admit({
            dedupKey: e.dedup_key,
            at: Date.parse(f.timestamp),
            eventId: f.eventId,
            action: e.event_action,
          }),
        ),
      );
    expect(await admitted(reconciledDisable)).toEqual([true]);
    expect(await admitted(finding)).toEqual([true]);
  });

  it('reports a baselined key that KMS no longer knows as deleted, critical', async () => {
    // Prepare: a baseline for a key id moto never had (moto never deletes keys itself)
    const gone = `arn:aws:kms:${REGION}:${MOTO_ACCOUNT}:key/0f4a6c1e-93b7-4d25-8e1a-6c2f0b7d4a91`;
    const template = await world.snapshot(keys.reports.arn, 'BASELINE');
    if (!template) throw new Error('no adopted baseline');
    const store = createStateStore({ client: world.dynamodb, tableName: TABLE });
    await store.acceptBaseline({ ...template, arn: gone }, 'e2e');

    // Act
    const result = await reconcile({});

    // Assess
    const deleted = only(result.findings, gone);
    expect(deleted).toMatchObject({
      event: 'Reconcile',
      severity: 'critical',
      status: 'drift',
      changes: { key_state: { before: 'Enabled', after: 'Deleted' } },
    });
    expect(deleted.remediation[0]).toMatch(/is deleted and cannot be restored/);
    expect((await world.deliveredFor(deleted.eventId)).page).toHaveLength(1);
    expect(result.counts?.gone).toBe(1);
    expect((await reconcile({})).findings).toEqual([]);
  });

  it('resolves drift that was fixed', async () => {
    // Prepare: the run reads after the detector saved the late DisableKey's state (a run reading before it leaves the
    // key to the detector's newer judgement).
    await world.kms.send(new EnableKeyCommand({ KeyId: keys.payments.id }));
    clock = Date.now();

    // Act
    const result = await reconcile({});

    // Assess
    const resolved = only(result.findings, keys.payments.arn);
    expect(resolved).toMatchObject({
      event: 'Reconcile',
      status: 'resolved',
      severity: 'info',
      changes: { key_state: { before: 'Disabled', after: 'Enabled', back_to_baseline: true } },
    });
    const delivered = await world.deliveredFor(resolved.eventId);
    expect([delivered.email.length, delivered.eventBridge.length]).toEqual([0, 1]);
    expect(result.counts?.openDrift).toBe(3);
  });

  it('reminds 7, 3 and 1 days before a scheduled deletion, naming the cancel command and the trail', async () => {
    // Prepare
    await world.kms.send(new ScheduleKeyDeletionCommand({ KeyId: keys.archive.id, PendingWindowInDays: 7 }));
    const scheduledAt = Date.now();
    const cancel = `aws kms cancel-key-deletion --key-id ${keys.archive.arn} --region ${REGION}`;

    // Act
    clock = scheduledAt;
    const week = await reconcile({});
    const sameDay = await reconcile({});
    clock = scheduledAt + 4.5 * DAY;
    const three = await reconcile({});
    clock = scheduledAt + 6.5 * DAY;
    const one = await reconcile({});

    // Assess
    const reminders = [week, three, one].map((run) =>
      only(
        run.findings.filter((f) => f.event === 'DeletionReminder'),
        keys.archive.arn,
      ),
    );
    expect(reminders.map((r) => [r.severity, r.changes.deletion_date?.reminder])).toEqual([
      ['error', '7 days'],
      ['critical', '3 days'],
      ['critical', '1 day'],
    ]);
    for (const reminder of reminders) {
      expect(reminder.remediation[0]).toBe(cancel);
      expect(reminder.summary).toContain('trail archive-trail encrypts its logs with it');
      expect(reminder.changes.deletion_date?.dependent_trails).toEqual([archiveTrail]);
      const delivered = await world.deliveredFor(reminder.eventId);
      expect(delivered.email).toHaveLength(1);
      expect(delivered.email[0].Message).toContain(cancel);
    }
    // The schedule itself was never seen as an event: the first run also reports it as drift, escalated because a
    // trail uses the key.
    expect(
      only(
        week.findings.filter((f) => f.event === 'Reconcile'),
        keys.archive.arn,
      ),
    ).toMatchObject({
      severity: 'critical',
      changes: { key_state: { before: 'Enabled', after: 'PendingDeletion' } },
    });
    expect(sameDay.findings).toEqual([]);
  });

  it('leaves the replicas of a multi-Region key to its primary: a replica added elsewhere is no drift here', async () => {
    // Prepare: a multi-Region key whose primary is in another Region, replicated here and found by a run.
    const primaryRegion = new KMSClient({ ...world.moto.clientConfig, region: 'us-east-1', maxAttempts: 2 });
    const primary = await primaryRegion.send(new CreateKeyCommand({ MultiRegion: true, Description: 'e2e mrk' }));
    const { ReplicaKeyMetadata } = await primaryRegion.send(
      new ReplicateKeyCommand({ KeyId: primary.KeyMetadata?.KeyId, ReplicaRegion: REGION }),
    );
    const replica = ReplicaKeyMetadata?.Arn as string;
    expect(only((await reconcile({})).findings, replica)).toMatchObject({ event: 'Unbaselined' });

    // Act: the primary gets a third Region, recorded there and in the primary's Region only.
    await primaryRegion.send(
      new ReplicateKeyCommand({ KeyId: primary.KeyMetadata?.KeyId, ReplicaRegion: 'us-west-2' }),
    );
    clock += 60_000;
    const result = await reconcile({});
    primaryRegion.destroy();

    // Assess
    expect(result.findings.filter((f) => f.resource === replica)).toEqual([]);
  });
});
