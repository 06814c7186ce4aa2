/**
 * End to end: the live detector (lambda/handlers/detector-app.ts) against moto. Each test makes a real change in
 * moto with the SDK, builds the CloudTrail record AWS would write for it from the public sample records, delivers it
 * as EventBridge would, and reads what the detector delivered: SNS messages from SQS subscribers of the four topics,
 * the finding copied to the event bus, and the items in keydrift's table. Drift alerts' first remediation command is
 * then run with the `aws` CLI against moto, and the SDK checks that it restored the baseline.
 *
 * One moto serves the whole file; every test uses its own keys, and alerts are told apart by eventId.
 */

import {
  CreateTrailCommand,
  type EventSelector,
  GetEventSelectorsCommand,
  GetTrailStatusCommand,
  PutEventSelectorsCommand,
  StopLoggingCommand,
} from '@aws-sdk/client-cloudtrail';
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  ListAliasesCommand,
  ListGrantsCommand,
  ListResourceTagsCommand,
  PutKeyPolicyCommand,
  RetireGrantCommand,
  RevokeGrantCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAliasCommand,
  UpdateKeyDescriptionCommand,
} from '@aws-sdk/client-kms';
import { formatPagerDutyEvents, pagerDutyEventsToSend } from '../../lambda/alerts/pagerduty';
import { normalizePolicy } from '../../lambda/core/policy';
import type { Finding } from '../../lambda/core/types';
import { chatbotNotificationSchema } from '../alerts/schemas';
import {
  assumedRole,
  type CallContext,
  iamUser,
  type KeyRef,
  keyRef,
  kmsCmkRotationEvent,
  kmsRecords,
  MOTO_ACCOUNT,
  toEventBridge,
  trailRecords,
} from '../helpers/cloudtrail-events';
import type { CloudTrailRecord } from '../helpers/fixtures';
import {
  chatbot,
  type Delivered,
  PLANNED_ROLE,
  REGION,
  TRAIL,
  TRAIL_BUCKET,
  type World,
  worldForEachFile,
} from './harness';

const ALICE = `arn:aws:iam::${MOTO_ACCOUNT}:user/Alice`;
const ctx = (extra: Partial<CallContext> = {}): CallContext => ({ region: REGION, ...extra });

/** The key policy these tests' keys start with: the account's root, and an application role that may use the key. */
function startingPolicy(): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Id: 'keydrift-e2e',
    Statement: [
      {
        Sid: 'Enable IAM User Permissions',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${MOTO_ACCOUNT}:root` },
        Action: 'kms:*',
        Resource: '*',
      },
      {
        Sid: 'Application use',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${MOTO_ACCOUNT}:role/App` },
        Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey*'],
        Resource: '*',
      },
    ],
  });
}

const theWorld = worldForEachFile();
let world: World;
beforeAll(() => {
  world = theWorld();
});

/** A new key in moto. */
async function newKey(description: string, policy?: string): Promise<KeyRef> {
  // KeyUsage is AWS's default; moto leaves it out of DescribeKey unless it was given.
  const created = await world.kms.send(
    new CreateKeyCommand({ Description: description, Policy: policy, KeyUsage: 'ENCRYPT_DECRYPT' }),
  );
  return keyRef(created.KeyMetadata?.Arn as string);
}

/**
 * A new key that keydrift saw being created (its CreateKey record went through the detector), so that it has a
 * baseline for every attribute, as keys adopted by keydrift do.
 */
async function adoptedKey(description: string, policy = startingPolicy()): Promise<KeyRef> {
  const key = await newKey(description, policy);
  const { finding } = await world.deliver(kmsRecords.createKey(key, { description, policy }, ctx()));
  expect(finding).toMatchObject({ event: 'CreateKey', resource: key.arn, severity: 'warning', status: 'drift' });
  return key;
}

/** Delivers a record and returns the finding with everything delivered for it. */
async function detect(record: CloudTrailRecord): Promise<{ finding: Finding; delivered: Delivered }> {
  const result = await world.deliver(record);
  expect(result.duplicate).toBeFalsy();
  const finding = result.finding as Finding;
  expect(finding).toBeDefined();
  expect(finding.eventId).toBe(record.eventID);
  return { finding, delivered: await world.deliveredFor(finding.eventId) };
}

/** Alerted on email and chat (and page when `paged`), never on ops; the copy on the bus is always there. */
function expectAlerted(finding: Finding, delivered: Delivered, { paged }: { paged: boolean }): void {
  expect(delivered.email).toHaveLength(1);
  expect(delivered.chat).toHaveLength(1);
  expect(delivered.page).toHaveLength(paged ? 1 : 0);
  expect(delivered.ops).toHaveLength(0);
  expectOnBus(finding, delivered);

  const email = delivered.email[0];
  expect(email.Subject).toEqual(expect.stringContaining(finding.severity.toUpperCase()));
  expect(email.Subject?.length).toBeLessThan(100);
  expect(email.Message).toContain(finding.summary);
  expect(email.Message).toMatch(new RegExp(`^Resource: +${escapeRegExp(finding.resource)}$`, 'm'));
  expect(email.Message).toMatch(new RegExp(`^Who: +${escapeRegExp(finding.user)}$`, 'm'));
  expect(email.MessageAttributes).toMatchObject({
    severity: { Value: finding.severity },
    status: { Value: finding.status },
    event: { Value: finding.event },
  });
  for (const command of finding.remediation.slice(0, 3)) expect(email.Message).toContain(command);

  expectChatbot(finding, delivered.chat[0]);
  expect(delivered.chat[0].Subject).toBeUndefined();
  if (paged) expect(JSON.parse(delivered.page[0].Message)).toEqual(finding);
}

function expectChatbot(finding: Finding, envelope: Delivered['chat'][number]): void {
  const notification = chatbot(envelope);
  expect(chatbotNotificationSchema.safeParse(notification).success).toBe(true);
  expect(notification).toMatchObject({
    version: '1.0',
    source: 'custom',
    content: { textType: 'client-markdown' },
    metadata: {
      eventType: `keydrift-${finding.event}`,
      relatedResources: [finding.resource],
      additionalContext: {
        severity: finding.severity,
        status: finding.status,
        event: finding.event,
        account: finding.account,
        region: finding.region,
        eventId: finding.eventId,
      },
    },
  });
  expect(notification.content.title).toContain(`[${finding.severity.toUpperCase()}]`);
  expect(notification.content.description).toContain(finding.resource);
}

/** Not on the alert topics; still copied to the event bus and kept in the table. */
async function expectNotAlerted(finding: Finding, delivered: Delivered): Promise<void> {
  expect(delivered.email).toHaveLength(0);
  expect(delivered.chat).toHaveLength(0);
  expect(delivered.page).toHaveLength(0);
  expect(delivered.ops).toHaveLength(0);
  expectOnBus(finding, delivered);
  await expectStored(finding);
}

function expectOnBus(finding: Finding, delivered: Delivered): void {
  expect(delivered.eventBridge).toHaveLength(1);
  expect(delivered.eventBridge[0]).toMatchObject({
    source: 'keydrift',
    'detail-type': 'KMS Drift Finding',
    resources: [finding.resource],
  });
  expect(delivered.eventBridge[0].detail).toEqual(finding);
}

async function expectStored(finding: Finding): Promise<void> {
  const item = await world.storedFinding(finding);
  expect(item).toMatchObject({
    pk: `RESOURCE#${finding.resource}`,
    sk: `FINDING#${finding.timestamp}#${finding.eventId}`,
    severity: finding.severity,
    status: finding.status,
    event: finding.event,
  });
  expect(JSON.parse(String(item?.finding))).toEqual(finding);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Runs a remediation command printed by keydrift, as an operator would paste it. */
function runRemediation(command: string | undefined): void {
  expect(command).toMatch(/^aws (kms|cloudtrail) [a-z-]+ /);
  const result = world.run(command as string);
  if (result.status !== 0) throw new Error(`remediation failed (${result.status}): ${command}\n${result.stderr}`);
}

async function keyState(key: KeyRef): Promise<string | undefined> {
  return (await world.kms.send(new DescribeKeyCommand({ KeyId: key.arn }))).KeyMetadata?.KeyState;
}

describe('key state', () => {
  test('DisableKey is critical drift, alerted on email, chat and page; its remediation re-enables the key', async () => {
    const key = await newKey('payments');
    await world.kms.send(new DisableKeyCommand({ KeyId: key.arn }));

    const { finding, delivered } = await detect(kmsRecords.disableKey(key, ctx()));

    expect(finding).toMatchObject({
      service: 'kms',
      event: 'DisableKey',
      account: MOTO_ACCOUNT,
      region: REGION,
      resource: key.arn,
      user: ALICE,
      severity: 'critical',
      status: 'drift',
      changes: { key_state: { before: 'Enabled', after: 'Disabled' } },
    });
    expect(finding.summary).toContain('Alice');
    expectAlerted(finding, delivered, { paged: true });
    await expectStored(finding);

    expect(finding.remediation[0]).toBe(`aws kms enable-key --key-id ${key.arn} --region ${REGION}`);
    runRemediation(finding.remediation[0]);
    expect(await keyState(key)).toBe('Enabled');
  });

  test('ScheduleKeyDeletion is critical; CancelKeyDeletion is info and leaves the key Disabled', async () => {
    const key = await adoptedKey('ledger');
    const scheduled = await world.kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.arn, PendingWindowInDays: 7 }));
    const deletionDate = scheduled.DeletionDate as Date;

    const schedule = await detect(kmsRecords.scheduleKeyDeletion(key, { pendingWindowInDays: 7, deletionDate }, ctx()));
    const deletionIso = deletionDate.toISOString().replace(/\.\d{3}Z$/, 'Z');
    expect(schedule.finding).toMatchObject({
      event: 'ScheduleKeyDeletion',
      resource: key.arn,
      severity: 'critical',
      status: 'drift',
      changes: {
        key_state: { before: 'Enabled', after: 'PendingDeletion' },
        deletion_date: { before: null, after: deletionIso },
      },
    });
    expectAlerted(schedule.finding, schedule.delivered, { paged: true });
    expect(schedule.finding.remediation).toEqual([
      `aws kms cancel-key-deletion --key-id ${key.arn} --region ${REGION}`,
      `aws kms enable-key --key-id ${key.arn} --region ${REGION}`,
    ]);

    await world.kms.send(new CancelKeyDeletionCommand({ KeyId: key.arn }));
    const cancel = await detect(kmsRecords.cancelKeyDeletion(key, ctx()));
    expect(cancel.finding).toMatchObject({
      event: 'CancelKeyDeletion',
      resource: key.arn,
      severity: 'info',
      changes: {
        key_state: { before: 'PendingDeletion', after: 'Disabled' },
        deletion_date: { before: deletionIso, after: null },
      },
    });
    // Cancelling leaves the key Disabled: it still differs from its Enabled baseline.
    expect(cancel.finding.status).toBe('drift');
    expect(await keyState(key)).toBe('Disabled');
    // No person is alerted, and the incident the schedule opened stays open: the key is still Disabled.
    expect(cancel.delivered.email).toHaveLength(0);
    expect(cancel.delivered.chat).toHaveLength(0);
    expect(pagerDutyEventsToSend(cancel.finding, 'k')).toEqual([]);
    expect(cancel.finding.remediation).toEqual([`aws kms enable-key --key-id ${key.arn} --region ${REGION}`]);
    runRemediation(cancel.finding.remediation[0]);
    expect(await keyState(key)).toBe('Enabled');

    // CloudTrail records the operator's EnableKey: the key is back at its baseline.
    const enabled = await detect(kmsRecords.enableKey(key, ctx()));
    expect(enabled.finding).toMatchObject({ severity: 'info', status: 'resolved' });
    expect(enabled.delivered.page).toHaveLength(1);
  });

  test('ScheduleKeyDeletion opens one incident, resolved once the key is back at its baseline', async () => {
    const key = await adoptedKey('ledger archive');
    const paged: Finding[] = [];
    const scheduled = await world.kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.arn, PendingWindowInDays: 7 }));
    const deletionDate = scheduled.DeletionDate as Date;
    for (const [change, record] of [
      [() => Promise.resolve(), kmsRecords.scheduleKeyDeletion(key, { pendingWindowInDays: 7, deletionDate }, ctx())],
      [
        () => world.kms.send(new CancelKeyDeletionCommand({ KeyId: key.arn })),
        kmsRecords.cancelKeyDeletion(key, ctx()),
      ],
      [() => world.kms.send(new EnableKeyCommand({ KeyId: key.arn })), kmsRecords.enableKey(key, ctx())],
    ] as const) {
      await change();
      const { delivered } = await detect(record);
      paged.push(...delivered.page.map((e) => JSON.parse(e.Message) as Finding));
    }
    const events = paged.flatMap((finding) => pagerDutyEventsToSend(finding, 'routing-key'));
    const opened = new Set(events.filter((e) => e.event_action === 'trigger').map((e) => e.dedup_key));
    const closed = new Set(events.filter((e) => e.event_action === 'resolve').map((e) => e.dedup_key));
    expect(opened.size).toBe(1);
    expect([...opened].filter((dedupKey) => !closed.has(dedupKey))).toEqual([]);
  });

  test('DisableKey then EnableKey: the second is resolved (info), and the page topic gets the resolve', async () => {
    const key = await newKey('sessions');
    await world.kms.send(new DisableKeyCommand({ KeyId: key.arn }));
    const disabled = await detect(kmsRecords.disableKey(key, ctx()));
    expect(disabled.finding).toMatchObject({ severity: 'critical', status: 'drift' });

    await world.kms.send(new EnableKeyCommand({ KeyId: key.arn }));
    const enabled = await detect(kmsRecords.enableKey(key, ctx()));

    expect(enabled.finding).toMatchObject({
      event: 'EnableKey',
      resource: key.arn,
      severity: 'info',
      status: 'resolved',
      changes: { key_state: { before: 'Disabled', after: 'Enabled' } },
      remediation: [],
    });
    // Below the alert threshold for e-mail; chat hears it was fixed, and the pager closes the incident.
    expect(enabled.delivered.email).toHaveLength(0);
    expect(enabled.delivered.chat).toHaveLength(1);
    expect(enabled.delivered.page).toHaveLength(1);
    const resolve = JSON.parse(enabled.delivered.page[0].Message) as Finding;
    expect(resolve).toEqual(enabled.finding);

    const opened = formatPagerDutyEvents(JSON.parse(disabled.delivered.page[0].Message) as Finding, 'routing-key');
    const closed = formatPagerDutyEvents(resolve, 'routing-key');
    expect(opened.map((e) => e.event_action)).toEqual(['trigger']);
    expect(closed.map((e) => e.event_action)).toEqual(['resolve']);
    expect(closed[0].dedup_key).toBe(opened[0].dedup_key);
  });

  test('a key KMS no longer knows reads as Deleted (DeleteKey at the end of the waiting period)', async () => {
    // moto never deletes a key at the end of its waiting period: this key id was never created in moto, so every
    // KMS read answers NotFoundException, as it does for a deleted key.
    const gone = keyRef(`arn:aws:kms:${REGION}:${MOTO_ACCOUNT}:key/0b7e3c55-6f0e-4c53-9d7a-1f2e3d4c5b6a`);
    await expect(world.kms.send(new DescribeKeyCommand({ KeyId: gone.arn }))).rejects.toMatchObject({
      name: 'NotFoundException',
    });

    const { finding, delivered } = await detect(kmsRecords.deleteKey(gone, ctx()));

    expect(finding).toMatchObject({
      event: 'DeleteKey',
      resource: gone.arn,
      user: 'kms.amazonaws.com',
      severity: 'critical',
      status: 'drift',
      changes: { key_state: { after: 'Deleted' } },
    });
    expectAlerted(finding, delivered, { paged: true });
    const state = await world.snapshot(gone.arn, 'STATE');
    expect(state?.attributes).toMatchObject({ key_state: 'Deleted', deletion_date: null });
  });

  test('a deleted key with no baseline is remediated with the "cannot be restored" note', async () => {
    const gone = keyRef(`arn:aws:kms:${REGION}:${MOTO_ACCOUNT}:key/5d1f0c2e-8a4b-4f6e-9c3d-2b1a0f9e8d7c`);
    const { finding } = await detect(kmsRecords.deleteKey(gone, ctx()));
    expect(finding.remediation).toEqual([expect.stringMatching(/^# .* is deleted and cannot be restored/)]);
  });

  test('the first finding about a key with an alias names the key by its alias', async () => {
    const key = await newKey('card payments');
    await world.kms.send(new CreateAliasCommand({ AliasName: 'alias/e2e-card-payments', TargetKeyId: key.id }));
    await world.kms.send(new DisableKeyCommand({ KeyId: key.arn }));
    const { finding } = await detect(kmsRecords.disableKey(key, ctx()));
    expect(finding.summary).toBe('Key alias/e2e-card-payments disabled by Alice');
  });

  test('disabling the key that encrypts a trail is critical, with a reason naming the trail', async () => {
    const key = await newKey('trail logs', trailKeyPolicy());
    const trail = await world.cloudtrail.send(
      new CreateTrailCommand({ Name: 'security-audit', S3BucketName: TRAIL_BUCKET, KmsKeyId: key.arn }),
    );
    await world.kms.send(new DisableKeyCommand({ KeyId: key.arn }));

    const { finding, delivered } = await detect(kmsRecords.disableKey(key, ctx()));

    expect(finding).toMatchObject({ event: 'DisableKey', resource: key.arn, severity: 'critical', status: 'drift' });
    expect(finding.reasons).toEqual(expect.arrayContaining([expect.stringContaining(trail.TrailARN as string)]));
    expectAlerted(finding, delivered, { paged: true });
    expect(delivered.email[0].Message).toContain(trail.TrailARN as string);

    runRemediation(finding.remediation[0]);
    expect(await keyState(key)).toBe('Enabled');
  });

  test("a change to keydrift's own key also goes to the ops topic", async () => {
    const self = world.selfKey;
    await world.kms.send(new DisableKeyCommand({ KeyId: self.arn }));
    try {
      const { finding, delivered } = await detect(kmsRecords.disableKey(self, ctx()));
      expect(finding).toMatchObject({ resource: self.arn, severity: 'critical', status: 'drift' });
      expect([delivered.email.length, delivered.chat.length, delivered.page.length]).toEqual([1, 1, 1]);
      expect(delivered.ops).toHaveLength(1);
      expect(delivered.ops[0].Subject).toBe(delivered.email[0].Subject);
      // SQS gets the `default` form of the ops message: the Chatbot notification.
      expectChatbot(finding, delivered.ops[0]);
    } finally {
      await world.kms.send(new EnableKeyCommand({ KeyId: self.arn }));
    }
  });

  test.each([
    ['alias name', (alias: string) => alias],
    ['alias ARN', (alias: string) => `arn:aws:kms:${REGION}:${MOTO_ACCOUNT}:${alias}`],
  ])('DisableKey naming the key by its %s: the finding names the key by its ARN', async (form, named) => {
    const alias = `alias/e2e-by-${form.replace(' ', '-')}`;
    const key = await adoptedKey(`named by ${form}`);
    await world.kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: key.id }));
    await world.kms.send(new DisableKeyCommand({ KeyId: key.arn }));
    const record = kmsRecords.disableKey(key, ctx());
    (record.requestParameters as { keyId: string }).keyId = named(alias);

    const { finding, delivered } = await detect(record);

    expect(finding).toMatchObject({
      event: 'DisableKey',
      resource: key.arn,
      severity: 'critical',
      status: 'drift',
      changes: { key_state: { before: 'Enabled', after: 'Disabled' } },
    });
    expectAlerted(finding, delivered, { paged: true });
    await expectStored(finding);
    runRemediation(finding.remediation[0]);
    expect(await keyState(key)).toBe('Enabled');
  });

  test("a planned principal's DisableKey is planned and info whatever the event: nobody alerted, the baseline moves", async () => {
    const key = await adoptedKey('retired sessions');
    await world.kms.send(new DisableKeyCommand({ KeyId: key.arn }));

    const { finding, delivered } = await detect(
      kmsRecords.disableKey(key, ctx({ identity: assumedRole(PLANNED_ROLE, 'decommission-2026-12') })),
    );

    expect(finding).toMatchObject({
      event: 'DisableKey',
      resource: key.arn,
      user: `arn:aws:sts::${MOTO_ACCOUNT}:assumed-role/${PLANNED_ROLE}/decommission-2026-12`,
      severity: 'info',
      status: 'planned',
      changes: { key_state: { before: 'Enabled', after: 'Disabled' } },
      remediation: [],
    });
    await expectNotAlerted(finding, delivered);
    expect((await world.snapshot(key.arn, 'BASELINE'))?.attributes.key_state).toBe('Disabled');
  });

  test('RotateKeyOnDemand and KMS rotating a key itself (KMS CMK Rotation) are info: nothing on the alert topics', async () => {
    const key = await adoptedKey('rotated on demand');
    await world.kms.send(new RotateKeyOnDemandCommand({ KeyId: key.arn }));

    const onDemand = await detect(kmsRecords.rotateKeyOnDemand(key, ctx()));

    expect(onDemand.finding).toMatchObject({ event: 'RotateKeyOnDemand', resource: key.arn, severity: 'info' });
    await expectNotAlerted(onDemand.finding, onDemand.delivered);

    const event = kmsCmkRotationEvent(key, ctx());
    const result = await world.detect(event as never);
    const native = result.finding as Finding;
    expect(native).toMatchObject({
      event: 'KMS CMK Rotation',
      eventId: event.id,
      resource: key.arn,
      user: expect.any(String),
      severity: 'info',
    });
    await expectNotAlerted(native, await world.deliveredFor(native.eventId));
  });
});

function trailKeyPolicy(): string {
  const policy = JSON.parse(startingPolicy());
  policy.Statement.push({
    Sid: 'Allow CloudTrail to encrypt logs',
    Effect: 'Allow',
    Principal: { Service: 'cloudtrail.amazonaws.com' },
    Action: 'kms:GenerateDataKey*',
    Resource: '*',
  });
  return JSON.stringify(policy);
}

describe('policy, rotation, tags, aliases, grants', () => {
  test('PutKeyPolicy opening the key to another account is critical; its remediation restores the policy', async () => {
    const original = startingPolicy();
    const key = await adoptedKey('reports', original);
    const opened = JSON.parse(original);
    opened.Statement.push({
      Sid: 'Partner access',
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::444455556666:root' },
      Action: ['kms:Decrypt'],
      Resource: '*',
    });
    const openedText = JSON.stringify(opened, null, 2);
    await world.kms.send(new PutKeyPolicyCommand({ KeyId: key.arn, PolicyName: 'default', Policy: openedText }));

    const { finding, delivered } = await detect(kmsRecords.putKeyPolicy(key, openedText, ctx()));

    expect(finding).toMatchObject({
      event: 'PutKeyPolicy',
      resource: key.arn,
      user: ALICE,
      severity: 'critical',
      status: 'drift',
      changes: {
        policy: {
          before: normalizePolicy(original),
          after: normalizePolicy(openedText),
          added_principals: ['arn:aws:iam::444455556666:root'],
          removed_principals: [],
          external_accounts: ['444455556666'],
        },
      },
    });
    expect(finding.summary).toContain('444455556666');
    expectAlerted(finding, delivered, { paged: true });

    expect(finding.remediation[0]).toMatch(
      /^aws kms put-key-policy --key-id \S+ --region \S+ --policy-name default --policy /,
    );
    runRemediation(finding.remediation[0]);
    const restored = await world.kms.send(new GetKeyPolicyCommand({ KeyId: key.arn, PolicyName: 'default' }));
    expect(normalizePolicy(restored.Policy)).toEqual(normalizePolicy(original));
  });

  test('DisableKeyRotation is an error: email and chat, not page; its remediation turns rotation back on', async () => {
    const key = await newKey('tokens');
    await world.kms.send(new EnableKeyRotationCommand({ KeyId: key.arn }));
    await world.kms.send(new DisableKeyRotationCommand({ KeyId: key.arn }));

    const { finding, delivered } = await detect(kmsRecords.disableKeyRotation(key, ctx()));

    expect(finding).toMatchObject({
      event: 'DisableKeyRotation',
      resource: key.arn,
      severity: 'error',
      status: 'drift',
      changes: { enable_key_rotation: { before: true, after: false } },
    });
    expectAlerted(finding, delivered, { paged: false });

    expect(finding.remediation[0]).toBe(`aws kms enable-key-rotation --key-id ${key.arn} --region ${REGION}`);
    runRemediation(finding.remediation[0]);
    const rotation = await world.kms.send(new GetKeyRotationStatusCommand({ KeyId: key.arn }));
    expect(rotation.KeyRotationEnabled).toBe(true);
  });

  test('TagResource is a warning: nothing on the alert topics, but the finding is kept in the table', async () => {
    const key = await newKey('analytics');
    await world.kms.send(new TagResourceCommand({ KeyId: key.arn, Tags: [{ TagKey: 'Department', TagValue: 'IT' }] }));

    const { finding, delivered } = await detect(kmsRecords.tagResource(key, { Department: 'IT' }, ctx()));

    expect(finding).toMatchObject({
      event: 'TagResource',
      resource: key.arn,
      user: ALICE,
      severity: 'warning',
      status: 'drift',
      changes: { tags: { after: { Department: 'IT' } } },
    });
    await expectNotAlerted(finding, delivered);
  });

  test.each([
    ['-x', 'takes for an option'],
    ['file://owner', 'loads from a file'],
  ])('TagResource adding a tag %s (a key the CLI %s): its remediation removes that tag', async (tagKey) => {
    const key = await adoptedKey('ledger');
    await world.kms.send(new TagResourceCommand({ KeyId: key.arn, Tags: [{ TagKey: tagKey, TagValue: 'mallory' }] }));

    const { finding } = await detect(kmsRecords.tagResource(key, { [tagKey]: 'mallory' }, ctx()));

    expect(finding).toMatchObject({
      event: 'TagResource',
      resource: key.arn,
      status: 'drift',
      changes: { tags: { after: { [tagKey]: 'mallory' } } },
    });
    runRemediation(finding.remediation[0]);
    const { Tags } = await world.kms.send(new ListResourceTagsCommand({ KeyId: key.arn }));
    expect(Tags).toEqual([]);
  });

  test('UpdateKeyDescription away from a URL: its remediation puts the URL back as text, never fetching it', async () => {
    const description = 'https://wiki.example.com/kms/payments';
    const key = await adoptedKey(description);
    await world.kms.send(new UpdateKeyDescriptionCommand({ KeyId: key.arn, Description: 'New key description' }));

    const { finding } = await detect(kmsRecords.updateKeyDescription(key, 'New key description', ctx()));

    expect(finding).toMatchObject({
      event: 'UpdateKeyDescription',
      resource: key.arn,
      status: 'drift',
      changes: { description: { before: description, after: 'New key description' } },
    });
    runRemediation(finding.remediation[0]);
    const { KeyMetadata } = await world.kms.send(new DescribeKeyCommand({ KeyId: key.arn }));
    expect(KeyMetadata?.Description).toBe(description);
  });

  test('UpdateAlias names the old and the new target; its remediation moves the alias back', async () => {
    const alias = 'alias/e2e-billing';
    const aliasArn = `arn:aws:kms:${REGION}:${MOTO_ACCOUNT}:${alias}`;
    const oldKey = await newKey('billing v1');
    const newKeyRef = await newKey('billing v2');
    // The release pipeline (a planned principal) creates the alias: its first target is the approved one.
    await world.kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: oldKey.id }));
    const created = await detect(
      kmsRecords.createAlias(alias, oldKey, ctx({ identity: assumedRole(PLANNED_ROLE, 'release-2026-11') })),
    );
    expect(created.finding).toMatchObject({ event: 'CreateAlias', resource: aliasArn, status: 'planned' });

    await world.kms.send(new UpdateAliasCommand({ AliasName: alias, TargetKeyId: newKeyRef.id }));
    const { finding, delivered } = await detect(kmsRecords.updateAlias(alias, newKeyRef, ctx()));

    expect(finding).toMatchObject({
      service: 'kms',
      event: 'UpdateAlias',
      resource: aliasArn,
      user: ALICE,
      severity: 'error',
      status: 'drift',
      changes: { target_key_id: { before: oldKey.arn, after: newKeyRef.arn } },
    });
    expectAlerted(finding, delivered, { paged: false });
    // Both keys' alias lists moved too.
    expect((await world.snapshot(oldKey.arn, 'STATE'))?.attributes).toMatchObject({ [`aliases#${alias}`]: null });

    expect(finding.remediation[0]).toMatch(/^aws kms update-alias --alias-name alias\/e2e-billing /);
    runRemediation(finding.remediation[0]);
    const { Aliases = [] } = await world.kms.send(new ListAliasesCommand({ KeyId: oldKey.id }));
    expect(Aliases.map((a) => a.AliasName)).toContain(alias);
  });

  test('CreateGrant is an error; its remediation revokes the grant', async () => {
    const key = await newKey('uploads');
    const grantee = `arn:aws:iam::${MOTO_ACCOUNT}:role/Uploader`;
    const grant = await world.kms.send(
      new CreateGrantCommand({ KeyId: key.arn, GranteePrincipal: grantee, Operations: ['Encrypt', 'Decrypt'] }),
    );
    const grantId = grant.GrantId as string;

    const { finding, delivered } = await detect(
      kmsRecords.createGrant(key, { grantId, granteePrincipal: grantee, operations: ['Encrypt', 'Decrypt'] }, ctx()),
    );

    expect(finding).toMatchObject({
      event: 'CreateGrant',
      resource: key.arn,
      severity: 'error',
      status: 'drift',
      changes: {
        grants: {
          before: { [grantId]: null },
          after: { [grantId]: { grantee_principal: grantee, operations: ['Decrypt', 'Encrypt'] } },
          external_accounts: [],
        },
      },
    });
    expectAlerted(finding, delivered, { paged: false });

    expect(finding.remediation[0]).toBe(
      `aws kms revoke-grant --key-id ${key.arn} --region ${REGION} --grant-id ${grantId}`,
    );
    runRemediation(finding.remediation[0]);
    const { Grants = [] } = await world.kms.send(new ListGrantsCommand({ KeyId: key.arn }));
    expect(Grants.map((g) => g.GrantId)).not.toContain(grantId);
  });

  test('RevokeGrant of an approved grant is drift; its remediation grants the same again, constraints included', async () => {
    const key = await adoptedKey('books');
    const approved = {
      GranteePrincipal: `arn:aws:iam::${MOTO_ACCOUNT}:role/BooksReader`,
      Operations: ['Decrypt' as const],
      Constraints: { EncryptionContextSubset: { table: 'Books' } },
      RetiringPrincipal: `arn:aws:iam::${MOTO_ACCOUNT}:role/BooksAdmin`,
      Name: 'books-reader',
    };
    const { GrantId } = await world.kms.send(new CreateGrantCommand({ KeyId: key.arn, ...approved }));
    const grantId = GrantId as string;
    const granted = await detect(
      kmsRecords.createGrant(
        key,
        {
          grantId,
          granteePrincipal: approved.GranteePrincipal,
          operations: approved.Operations,
          retiringPrincipal: approved.RetiringPrincipal,
          constraints: { encryptionContextSubset: approved.Constraints.EncryptionContextSubset },
          name: approved.Name,
        },
        ctx({ identity: assumedRole(PLANNED_ROLE, 'release-2026-11') }),
      ),
    );
    expect(granted.finding.status).toBe('planned');
    await world.kms.send(new RevokeGrantCommand({ KeyId: key.arn, GrantId: grantId }));

    const { finding } = await detect(kmsRecords.revokeGrant(key, grantId, ctx()));

    expect(finding).toMatchObject({
      event: 'RevokeGrant',
      severity: 'warning',
      status: 'drift',
      changes: { grants: { after: { [grantId]: null } } },
    });
    expect(finding.remediation[0]).toMatch(/^aws kms create-grant .* --constraints /);
    runRemediation(finding.remediation[0]);
    const { Grants = [] } = await world.kms.send(new ListGrantsCommand({ KeyId: key.arn }));
    expect(Grants).toEqual([expect.objectContaining(approved)]);
  });

  /** The starting policy with one more statement letting `Principal` decrypt. */
  function policyWith(principal: unknown, condition?: object): string {
    const policy = JSON.parse(startingPolicy());
    policy.Statement.push({
      Sid: 'Extra decrypt',
      Effect: 'Allow',
      Principal: principal,
      Action: 'kms:Decrypt',
      Resource: '*',
      ...(condition ? { Condition: condition } : {}),
    });
    return JSON.stringify(policy);
  }

  async function putPolicy(key: KeyRef, policy: string) {
    await world.kms.send(new PutKeyPolicyCommand({ KeyId: key.arn, PolicyName: 'default', Policy: policy }));
    return detect(kmsRecords.putKeyPolicy(key, policy, ctx()));
  }

  async function expectPolicyRestored(key: KeyRef, command: string | undefined): Promise<void> {
    runRemediation(command);
    const restored = await world.kms.send(new GetKeyPolicyCommand({ KeyId: key.arn, PolicyName: 'default' }));
    expect(normalizePolicy(restored.Policy)).toEqual(normalizePolicy(startingPolicy()));
  }

  test.each([
    ['a wildcard principal', { AWS: '*' }],
    ['the bare "*"', '*'],
  ])('PutKeyPolicy letting anyone in (%s) is critical with external_accounts ["*"]', async (_form, principal) => {
    const key = await adoptedKey('public by mistake');

    const { finding, delivered } = await putPolicy(key, policyWith(principal));

    expect(finding).toMatchObject({
      event: 'PutKeyPolicy',
      resource: key.arn,
      severity: 'critical',
      status: 'drift',
      changes: { policy: { external_accounts: ['*'] } },
    });
    expect(finding.reasons).toEqual(
      expect.arrayContaining([expect.stringMatching(/^NoOutsideAccessGained: anyone can now use the key/)]),
    );
    expectAlerted(finding, delivered, { paged: true });
    await expectPolicyRestored(key, finding.remediation[0]);
  });

  test.each([
    ['kms:CallerAccount', { StringEquals: { 'kms:CallerAccount': MOTO_ACCOUNT } }],
    ['aws:PrincipalAccount', { StringEquals: { 'aws:PrincipalAccount': MOTO_ACCOUNT } }],
    ['aws:SourceAccount', { StringEquals: { 'aws:SourceAccount': MOTO_ACCOUNT } }],
    ['aws:PrincipalOrgID', { StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } }],
  ])(
    'a wildcard principal fenced by %s is not external: PutKeyPolicy stays critical by its own default, not escalated',
    async (_fence, condition) => {
      const key = await adoptedKey('fenced wildcard');

      const { finding, delivered } = await putPolicy(key, policyWith({ AWS: '*' }, condition));

      expect(finding).toMatchObject({
        event: 'PutKeyPolicy',
        resource: key.arn,
        severity: 'critical',
        status: 'drift',
        changes: { policy: { external_accounts: [] } },
      });
      expect(finding.reasons ?? []).not.toEqual(
        expect.arrayContaining([expect.stringMatching(/^NoOutsideAccessGained/)]),
      );
      expectAlerted(finding, delivered, { paged: true });
      await expectPolicyRestored(key, finding.remediation[0]);
    },
  );

  test('EnableKeyRotation on a key approved without rotation is info drift: not alerted; its remediation turns it off', async () => {
    const key = await adoptedKey('rotation off by design');
    await world.kms.send(new EnableKeyRotationCommand({ KeyId: key.arn }));

    const { finding, delivered } = await detect(kmsRecords.enableKeyRotation(key, ctx()));

    expect(finding).toMatchObject({
      event: 'EnableKeyRotation',
      resource: key.arn,
      severity: 'info',
      status: 'drift',
      changes: { enable_key_rotation: { before: false, after: true } },
    });
    await expectNotAlerted(finding, delivered);
    runRemediation(finding.remediation[0]);
    const rotation = await world.kms.send(new GetKeyRotationStatusCommand({ KeyId: key.arn }));
    expect(rotation.KeyRotationEnabled).toBe(false);
  });

  test('UntagResource of an approved tag is a warning: not alerted; its remediation tags the key again', async () => {
    const description = 'cost centre';
    const key = await newKey(description, startingPolicy());
    await world.kms.send(new TagResourceCommand({ KeyId: key.arn, Tags: [{ TagKey: 'Dept', TagValue: 'Finance' }] }));
    const created = await world.deliver(
      kmsRecords.createKey(
        key,
        { description, policy: startingPolicy(), tags: [{ tagKey: 'Dept', tagValue: 'Finance' }] },
        ctx({ identity: assumedRole(PLANNED_ROLE, 'release-2026-11') }),
      ),
    );
    expect(created.finding).toMatchObject({ status: 'planned' });
    await world.kms.send(new UntagResourceCommand({ KeyId: key.arn, TagKeys: ['Dept'] }));

    const { finding, delivered } = await detect(kmsRecords.untagResource(key, ['Dept'], ctx()));

    expect(finding).toMatchObject({
      event: 'UntagResource',
      resource: key.arn,
      severity: 'warning',
      status: 'drift',
      changes: { tags: { before: { Dept: 'Finance' } } },
    });
    await expectNotAlerted(finding, delivered);
    runRemediation(finding.remediation[0]);
    const { Tags } = await world.kms.send(new ListResourceTagsCommand({ KeyId: key.arn }));
    expect(Tags).toEqual([{ TagKey: 'Dept', TagValue: 'Finance' }]);
  });

  test('CreateAlias by an unplanned principal is a warning on the alias ARN: not alerted, nothing approved', async () => {
    const alias = 'alias/e2e-shadow';
    const key = await adoptedKey('shadow target');
    await world.kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: key.id }));

    const { finding, delivered } = await detect(kmsRecords.createAlias(alias, key, ctx()));

    expect(finding).toMatchObject({
      service: 'kms',
      event: 'CreateAlias',
      resource: `arn:aws:kms:${REGION}:${MOTO_ACCOUNT}:${alias}`,
      user: ALICE,
      severity: 'warning',
      status: 'drift',
      changes: { target_key_id: { before: null, after: key.arn } },
    });
    await expectNotAlerted(finding, delivered);
    expect(finding.remediation[0]).toMatch(/^aws kms delete-alias --alias-name alias\/e2e-shadow /);
    runRemediation(finding.remediation[0]);
    const { Aliases = [] } = await world.kms.send(new ListAliasesCommand({ KeyId: key.id }));
    expect(Aliases.map((a) => a.AliasName)).not.toContain(alias);
    expect((await world.snapshot(key.arn, 'BASELINE'))?.attributes).not.toHaveProperty([`aliases#${alias}`]);
  });

  test('RetireGrant of an approved grant is a warning: not alerted; its remediation grants the same again', async () => {
    const key = await adoptedKey('reports');
    const approved = {
      GranteePrincipal: `arn:aws:iam::${MOTO_ACCOUNT}:role/ReportsReader`,
      RetiringPrincipal: `arn:aws:iam::${MOTO_ACCOUNT}:role/ReportsAdmin`,
      Operations: ['Decrypt' as const],
    };
    const { GrantId, GrantToken } = await world.kms.send(new CreateGrantCommand({ KeyId: key.arn, ...approved }));
    const grantId = GrantId as string;
    const granted = await detect(
      kmsRecords.createGrant(
        key,
        {
          grantId,
          granteePrincipal: approved.GranteePrincipal,
          retiringPrincipal: approved.RetiringPrincipal,
          operations: approved.Operations,
        },
        ctx({ identity: assumedRole(PLANNED_ROLE, 'release-2026-11') }),
      ),
    );
    expect(granted.finding.status).toBe('planned');
    await world.kms.send(new RetireGrantCommand({ GrantToken }));

    const { finding, delivered } = await detect(kmsRecords.retireGrant(key, grantId, ctx()));

    expect(finding).toMatchObject({
      event: 'RetireGrant',
      resource: key.arn,
      severity: 'warning',
      status: 'drift',
      changes: { grants: { after: { [grantId]: null } } },
    });
    await expectNotAlerted(finding, delivered);
    runRemediation(finding.remediation[0]);
    const { Grants = [] } = await world.kms.send(new ListGrantsCommand({ KeyId: key.arn }));
    expect(Grants).toEqual([expect.objectContaining(approved)]);
  });
});

describe('who made the change', () => {
  test("a planned principal's change is planned (info) and moves the baseline; undoing it is drift", async () => {
    const key = await adoptedKey('orders v1');
    const planner = assumedRole(PLANNED_ROLE, 'release-2026-11');
    await world.kms.send(new UpdateKeyDescriptionCommand({ KeyId: key.arn, Description: 'orders v2' }));

    const planned = await detect(kmsRecords.updateKeyDescription(key, 'orders v2', ctx({ identity: planner })));

    expect(planned.finding).toMatchObject({
      event: 'UpdateKeyDescription',
      resource: key.arn,
      user: `arn:aws:sts::${MOTO_ACCOUNT}:assumed-role/${PLANNED_ROLE}/release-2026-11`,
      severity: 'info',
      status: 'planned',
      changes: { description: { before: 'orders v1', after: 'orders v2' } },
      remediation: [],
    });
    expect(planned.delivered.email).toHaveLength(0);
    expect(planned.delivered.chat).toHaveLength(0);
    // The description was at its baseline: the approval closes no incident, so the pager is not told.
    expect(planned.delivered.page).toHaveLength(0);
    expect((await world.snapshot(key.arn, 'BASELINE'))?.attributes.description).toBe('orders v2');

    // Someone else puts the old description back: against the moved baseline, that is the drift.
    await world.kms.send(new UpdateKeyDescriptionCommand({ KeyId: key.arn, Description: 'orders v1' }));
    const reverted = await detect(kmsRecords.updateKeyDescription(key, 'orders v1', ctx({ identity: iamUser('Bob') })));
    expect(reverted.finding).toMatchObject({
      user: `arn:aws:iam::${MOTO_ACCOUNT}:user/Bob`,
      severity: 'warning',
      status: 'drift',
      changes: { description: { before: 'orders v2', after: 'orders v1' } },
    });
    expect(reverted.finding.remediation[0]).toContain("--description 'orders v2'");
    expect((await world.snapshot(key.arn, 'BASELINE'))?.attributes.description).toBe('orders v2');
  });

  test('a denied attempt (AccessDenied) is a warning: nothing published to the alert topics', async () => {
    const key = await adoptedKey('secrets');
    const mallory = assumedRole('Contractor', 'mallory');
    const record = kmsRecords.disableKey(
      key,
      ctx({
        identity: mallory,
        error: {
          code: 'AccessDenied',
          message: `User: arn:aws:sts::${MOTO_ACCOUNT}:assumed-role/Contractor/mallory is not authorized to perform: kms:DisableKey on resource: ${key.arn}`,
        },
      }),
    );

    const { finding, delivered } = await detect(record);

    expect(finding).toMatchObject({
      event: 'DisableKey',
      resource: key.arn,
      user: `arn:aws:sts::${MOTO_ACCOUNT}:assumed-role/Contractor/mallory`,
      severity: 'warning',
      status: 'denied',
      error: { code: 'AccessDenied' },
      remediation: [],
    });
    await expectNotAlerted(finding, delivered);
    expect(await keyState(key)).toBe('Enabled');
    expect((await world.snapshot(key.arn, 'BASELINE'))?.attributes.key_state).toBe('Enabled');
  });

  test('a denied DisableKey naming an alias ARN, recorded without resources[], is reported on the key ARN', async () => {
    const alias = 'alias/e2e-vault';
    const key = await adoptedKey('vault');
    await world.kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: key.id }));
    const created = await detect(
      kmsRecords.createAlias(alias, key, ctx({ identity: assumedRole(PLANNED_ROLE, 'release-2026-11') })),
    );
    expect(created.finding).toMatchObject({ event: 'CreateAlias', status: 'planned' });
    const aliasArn = `arn:aws:kms:${REGION}:${MOTO_ACCOUNT}:${alias}`;
    const record = kmsRecords.disableKey(
      key,
      ctx({ identity: assumedRole('Contractor', 'mallory'), error: { code: 'AccessDenied' } }),
    );
    (record.requestParameters as { keyId: string }).keyId = aliasArn;
    delete record.resources;

    const { finding, delivered } = await detect(record);

    expect(finding).toMatchObject({ event: 'DisableKey', resource: key.arn, severity: 'warning', status: 'denied' });
    await expectNotAlerted(finding, delivered);
  });
});

describe('trails', () => {
  test('StopLogging is critical; its remediation starts logging again', async () => {
    await world.cloudtrail.send(new StopLoggingCommand({ Name: TRAIL }));

    const { finding, delivered } = await detect(trailRecords.stopLogging(TRAIL, ctx()));

    expect(finding).toMatchObject({
      service: 'cloudtrail',
      event: 'StopLogging',
      resource: world.trailArn,
      user: ALICE,
      severity: 'critical',
      status: 'drift',
      changes: { logging: { before: true, after: false } },
    });
    expectAlerted(finding, delivered, { paged: true });

    expect(finding.remediation[0]).toBe(`aws cloudtrail start-logging --name ${world.trailArn} --region ${REGION}`);
    runRemediation(finding.remediation[0]);
    const status = await world.cloudtrail.send(new GetTrailStatusCommand({ Name: world.trailArn }));
    expect(status.IsLogging).toBe(true);
  });

  test('PutEventSelectors leaving KMS out is critical; its remediation logs KMS again and keeps the data events', async () => {
    const s3DataEvents: EventSelector = {
      ReadWriteType: 'All',
      IncludeManagementEvents: false,
      ExcludeManagementEventSources: [],
      DataResources: [{ Type: 'AWS::S3::Object', Values: ['arn:aws:s3:::e2e-payroll/'] }],
    };
    const allManagement: EventSelector = {
      ReadWriteType: 'All',
      IncludeManagementEvents: true,
      ExcludeManagementEventSources: [],
    };
    const putSelectors = async (selectors: EventSelector[], identity: CallContext['identity']) => {
      await world.cloudtrail.send(
        new PutEventSelectorsCommand({ TrailName: world.trailArn, EventSelectors: selectors }),
      );
      return detect(trailRecords.putEventSelectors(world.trailArn, selectors, ctx({ identity })));
    };
    const approved = await putSelectors([allManagement, s3DataEvents], assumedRole(PLANNED_ROLE, 'release-2026-11'));
    expect(approved.finding.status).toBe('planned');

    const { finding } = await putSelectors(
      [{ ...allManagement, ExcludeManagementEventSources: ['kms.amazonaws.com'] }, s3DataEvents],
      iamUser('Bob'),
    );

    expect(finding).toMatchObject({ event: 'PutEventSelectors', severity: 'critical', status: 'drift' });
    // The commands write a file: run them in a directory of their own.
    const result = world.run(`cd "$(mktemp -d)" && ${finding.remediation.join(' && ')}`);
    expect(result).toMatchObject({ status: 0, stderr: '' });
    const live = await world.cloudtrail.send(new GetEventSelectorsCommand({ TrailName: world.trailArn }));
    expect(live.EventSelectors).toEqual([s3DataEvents, allManagement]);
  });
});

describe('delivery', () => {
  test('the same event delivered three times alerts once', async () => {
    const key = await newKey('exports');
    await world.kms.send(new DisableKeyCommand({ KeyId: key.arn }));
    const event = toEventBridge(kmsRecords.disableKey(key, ctx()));

    const first = await world.detect(structuredClone(event));
    const second = await world.detect(structuredClone(event));
    const third = await world.detect(structuredClone(event));

    expect(first.finding).toMatchObject({ eventId: event.detail.eventID, severity: 'critical' });
    expect(second).toEqual({ duplicate: true });
    expect(third).toEqual({ duplicate: true });
    const delivered = await world.deliveredFor(String(event.detail.eventID));
    expectAlerted(first.finding as Finding, delivered, { paged: true });
    await expectStored(first.finding as Finding);
    const claim = await world.item(`EVENT#${event.detail.eventID}`, 'CLAIM');
    expect(claim).toMatchObject({ status: 'done' });
    // Kept 14 days (DynamoDB TTL attribute `expiresAt`, epoch seconds).
    const ttlDays = (Number(claim?.expiresAt) - Date.now() / 1000) / 86_400;
    expect(ttlDays).toBeGreaterThan(13.9);
    expect(ttlDays).toBeLessThanOrEqual(14);
  });

  test('three copies of one event judged at once by three execution environments alert once', async () => {
    const key = await newKey('imports');
    await world.kms.send(new DisableKeyCommand({ KeyId: key.arn }));
    const event = toEventBridge(kmsRecords.disableKey(key, ctx()));

    const results = await Promise.all([1, 2, 3].map(() => world.newDetector()(structuredClone(event))));

    const findings = results.filter((r) => r.finding);
    expect(findings).toHaveLength(1);
    expect(results.filter((r) => r.duplicate)).toHaveLength(2);
    const delivered = await world.deliveredFor(String(event.detail.eventID));
    expectAlerted(findings[0].finding as Finding, delivered, { paged: true });
  });
});
