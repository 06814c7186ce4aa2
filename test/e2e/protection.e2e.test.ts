/**
 * End to end, like detector.e2e.test.ts: the live detector against moto, for the critical changes to trails and to
 * the keys that protect them, the escalations, and the grants AWS services make. Each test makes the change in moto
 * with the SDK, delivers the CloudTrail record AWS would write for it (built from the public samples), reads what
 * reached the topics' queues and the event bus, then runs every remediation command with the `aws` CLI against moto
 * and checks with the SDK that the resource is back at its baseline.
 *
 * One moto serves the whole file; every test uses its own keys and trails.
 */

import {
  CreateTrailCommand,
  type CreateTrailCommandInput,
  DeleteTrailCommand,
  type EventSelector,
  GetEventSelectorsCommand,
  GetTrailCommand,
  GetTrailStatusCommand,
  PutEventSelectorsCommand,
  StartLoggingCommand,
  type Trail,
  UpdateTrailCommand,
} from '@aws-sdk/client-cloudtrail';
import {
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  GetKeyPolicyCommand,
  KMSClient,
  ListAliasesCommand,
  ListGrantsCommand,
  PutKeyPolicyCommand,
  ReplicateKeyCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { normalizePolicy } from '../../lambda/core/policy';
import type { Finding } from '../../lambda/core/types';
import { chatbotNotificationSchema } from '../alerts/schemas';
import {
  assumedRole,
  type CallContext,
  type KeyRef,
  keyRef,
  kmsCmkDeletionEvent,
  kmsRecords,
  MOTO_ACCOUNT,
  trailRecords,
} from '../helpers/cloudtrail-events';
import type { CloudTrailRecord } from '../helpers/fixtures';
import { chatbot, type Delivered, PLANNED_ROLE, REGION, TRAIL_BUCKET, type World, worldForEachFile } from './harness';

const ALICE = `arn:aws:iam::${MOTO_ACCOUNT}:user/Alice`;
const OUTSIDER = '444455556666';
const ctx = (extra: Partial<CallContext> = {}): CallContext => ({ region: REGION, ...extra });
const planner = () => ctx({ identity: assumedRole(PLANNED_ROLE, 'release-2026-11') });

const theWorld = worldForEachFile();
let world: World;
beforeAll(() => {
  world = theWorld();
});

/** A key policy: the account's root, an application role, and (for a trail's key) CloudTrail's encryption. */
function keyPolicy({ cloudTrail }: { cloudTrail: boolean }): string {
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
      {
        Sid: 'Application use',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${MOTO_ACCOUNT}:role/App` },
        Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey*'],
        Resource: '*',
      },
      ...(cloudTrail
        ? [
            {
              Sid: 'Allow CloudTrail to encrypt logs',
              Effect: 'Allow',
              Principal: { Service: 'cloudtrail.amazonaws.com' },
              Action: 'kms:GenerateDataKey*',
              Resource: '*',
            },
          ]
        : []),
    ],
  });
}

/** A key a planned principal created (its CreateKey went through the detector): its baseline is its created state. */
async function plannedKey(description: string, policy = keyPolicy({ cloudTrail: false })): Promise<KeyRef> {
  const created = await world.kms.send(
    new CreateKeyCommand({ Description: description, Policy: policy, KeyUsage: 'ENCRYPT_DECRYPT' }),
  );
  const key = keyRef(created.KeyMetadata?.Arn as string);
  const { finding } = await world.deliver(kmsRecords.createKey(key, { description, policy }, planner()));
  expect(finding).toMatchObject({ event: 'CreateKey', resource: key.arn, severity: 'info', status: 'planned' });
  return key;
}

/**
 * A trail a planned principal created and started (CloudTrail's default selectors, all management events): its
 * CreateTrail went through the detector, so every setting has a baseline.
 */
async function plannedTrail(request: Omit<CreateTrailCommandInput, 'S3BucketName'>): Promise<string> {
  const input = { ...request, S3BucketName: TRAIL_BUCKET };
  const created = await world.cloudtrail.send(new CreateTrailCommand(input));
  const trailArn = created.TrailARN as string;
  await world.cloudtrail.send(
    new PutEventSelectorsCommand({
      TrailName: trailArn,
      EventSelectors: [{ ReadWriteType: 'All', IncludeManagementEvents: true }],
    }),
  );
  const { finding } = await world.deliver(
    trailRecords.createTrail(
      {
        name: input.Name,
        s3BucketName: input.S3BucketName,
        ...(input.IsMultiRegionTrail !== undefined ? { isMultiRegionTrail: input.IsMultiRegionTrail } : {}),
        ...(input.EnableLogFileValidation !== undefined
          ? { enableLogFileValidation: input.EnableLogFileValidation }
          : {}),
        ...(input.KmsKeyId !== undefined ? { kmsKeyId: input.KmsKeyId } : {}),
      },
      created,
      planner(),
    ),
  );
  expect(finding).toMatchObject({ event: 'CreateTrail', resource: trailArn, severity: 'info', status: 'planned' });
  await world.cloudtrail.send(new StartLoggingCommand({ Name: trailArn }));
  const started = await world.deliver(trailRecords.startLogging(trailArn, planner()));
  expect(started.finding).toMatchObject({ event: 'StartLogging', resource: trailArn, status: 'planned' });
  return trailArn;
}

/** Delivers a record (or a native KMS event) and returns the finding with everything delivered for it. */
async function detect(record: CloudTrailRecord, native = false): Promise<{ finding: Finding; delivered: Delivered }> {
  const result = native ? await world.detect(record) : await world.deliver(record);
  expect(result.duplicate).toBeFalsy();
  const finding = result.finding as Finding;
  expect(finding).toBeDefined();
  return { finding, delivered: await world.deliveredFor(finding.eventId) };
}

/** Alerted on email and chat (and page when `paged`), never on ops; the copy on the bus is always there. */
function expectAlerted(finding: Finding, delivered: Delivered, { paged }: { paged: boolean }): void {
  expect([delivered.email.length, delivered.chat.length, delivered.page.length, delivered.ops.length]).toEqual([
    1,
    1,
    paged ? 1 : 0,
    0,
  ]);
  expect(delivered.eventBridge.map((e) => e.detail)).toEqual([finding]);
  const email = delivered.email[0];
  expect(email.Subject).toEqual(expect.stringContaining(finding.severity.toUpperCase()));
  expect(email.Message).toContain(finding.summary);
  for (const command of finding.remediation.slice(0, 3)) expect(email.Message).toContain(command);
  const notification = chatbot(delivered.chat[0]);
  expect(chatbotNotificationSchema.safeParse(notification).success).toBe(true);
  expect(notification.metadata.additionalContext).toMatchObject({
    severity: finding.severity,
    status: finding.status,
    eventId: finding.eventId,
  });
  if (paged) expect(JSON.parse(delivered.page[0].Message)).toEqual(finding);
}

/** Runs every remediation command printed, in order, as an operator would paste them (in a directory of their own). */
/** Runs the commands of a remediation; its comments (what no command restores) are for the reader. */
function runRemediation(remediation: string[]): void {
  const commands = remediation.filter((line) => !line.startsWith('# '));
  expect(commands.length).toBeGreaterThan(0);
  for (const command of commands) expect(command).toMatch(/^aws (kms|cloudtrail) [a-z-]+ /);
  const result = world.run(`cd "$(mktemp -d)" && ${commands.join(' && ')}`);
  if (result.status !== 0) throw new Error(`remediation failed (${result.status}): ${commands}\n${result.stderr}`);
}

async function describeTrail(trailArn: string): Promise<Trail | undefined> {
  return (await world.cloudtrail.send(new GetTrailCommand({ Name: trailArn }))).Trail;
}

async function isLogging(trailArn: string): Promise<boolean | undefined> {
  return (await world.cloudtrail.send(new GetTrailStatusCommand({ Name: trailArn }))).IsLogging;
}

async function keyState(key: KeyRef): Promise<string | undefined> {
  return (await world.kms.send(new DescribeKeyCommand({ KeyId: key.arn }))).KeyMetadata?.KeyState;
}

describe('trails', () => {
  test('DeleteTrail is critical and paged; its remediation recreates the trail as approved and starts it', async () => {
    const key = await plannedKey('deleted trail logs', keyPolicy({ cloudTrail: true }));
    const trailArn = await plannedTrail({
      Name: 'e2e-deleted',
      IsMultiRegionTrail: true,
      EnableLogFileValidation: true,
      KmsKeyId: key.arn,
    });
    // By name: moto 5.2 deletes nothing when DeleteTrail names the trail by ARN.
    await world.cloudtrail.send(new DeleteTrailCommand({ Name: 'e2e-deleted' }));

    const { finding, delivered } = await detect(trailRecords.deleteTrail('e2e-deleted', ctx()));

    expect(finding).toMatchObject({
      service: 'cloudtrail',
      event: 'DeleteTrail',
      resource: trailArn,
      user: ALICE,
      severity: 'critical',
      status: 'drift',
      changes: { trail: { before: 'exists', after: 'deleted' }, logging: { before: true, after: false } },
    });
    expectAlerted(finding, delivered, { paged: true });

    runRemediation(finding.remediation);
    expect(await describeTrail(trailArn)).toMatchObject({
      TrailARN: trailArn,
      S3BucketName: TRAIL_BUCKET,
      IsMultiRegionTrail: true,
      LogFileValidationEnabled: true,
      KmsKeyId: key.arn,
    });
    expect(await isLogging(trailArn)).toBe(true);
    const { EventSelectors } = await world.cloudtrail.send(new GetEventSelectorsCommand({ TrailName: trailArn }));
    expect(EventSelectors).toEqual([expect.objectContaining({ ReadWriteType: 'All', IncludeManagementEvents: true })]);
  });

  test('UpdateTrail leaving the trail without a KMS key is critical; its remediation gives the key back', async () => {
    const key = await plannedKey('encrypted trail logs', keyPolicy({ cloudTrail: true }));
    const trailArn = await plannedTrail({ Name: 'e2e-encrypted', KmsKeyId: key.arn });
    const updated = await world.cloudtrail.send(new UpdateTrailCommand({ Name: trailArn, KmsKeyId: '' }));
    expect((await describeTrail(trailArn))?.KmsKeyId).toBeFalsy();

    const { finding, delivered } = await detect(
      trailRecords.updateTrail({ name: trailArn, kmsKeyId: '' }, updated, ctx()),
    );

    expect(finding).toMatchObject({
      service: 'cloudtrail',
      event: 'UpdateTrail',
      resource: trailArn,
      user: ALICE,
      severity: 'critical',
      status: 'drift',
      changes: { kms_key_id: { before: key.arn, after: null } },
    });
    expectAlerted(finding, delivered, { paged: true });

    expect(finding.remediation[0]).toBe(
      `aws cloudtrail update-trail --name ${trailArn} --region ${REGION} --kms-key-id ${key.arn}`,
    );
    runRemediation(finding.remediation);
    expect((await describeTrail(trailArn))?.KmsKeyId).toBe(key.arn);
  });

  test("UpdateTrail moving the logs to another account's key is critical; its remediation moves them back", async () => {
    const key = await plannedKey('payroll trail logs', keyPolicy({ cloudTrail: true }));
    const trailArn = await plannedTrail({ Name: 'e2e-payroll', KmsKeyId: key.arn });
    const foreignKey = `arn:aws:kms:${REGION}:${OUTSIDER}:key/3e1c2b4a-5d6f-4a8b-9c0d-1e2f3a4b5c6d`;
    const updated = await world.cloudtrail.send(new UpdateTrailCommand({ Name: trailArn, KmsKeyId: foreignKey }));

    const { finding, delivered } = await detect(
      trailRecords.updateTrail({ name: trailArn, kmsKeyId: foreignKey }, updated, ctx()),
    );

    expect(finding).toMatchObject({
      event: 'UpdateTrail',
      resource: trailArn,
      severity: 'critical',
      status: 'drift',
      changes: { kms_key_id: { before: key.arn, after: foreignKey } },
    });
    expect(finding.reasons).toEqual(
      expect.arrayContaining([expect.stringMatching(new RegExp(`^TrailKeyStaysInAccount: .*${OUTSIDER}`))]),
    );
    expectAlerted(finding, delivered, { paged: true });

    runRemediation(finding.remediation);
    expect((await describeTrail(trailArn))?.KmsKeyId).toBe(key.arn);
  });

  test('UpdateTrail turning log file validation off is an error: email and chat, not page; its remediation turns it on', async () => {
    const trailArn = await plannedTrail({ Name: 'e2e-validated', EnableLogFileValidation: true });
    const updated = await world.cloudtrail.send(
      new UpdateTrailCommand({ Name: trailArn, EnableLogFileValidation: false }),
    );

    const { finding, delivered } = await detect(
      trailRecords.updateTrail({ name: trailArn, enableLogFileValidation: false }, updated, ctx()),
    );

    expect(finding).toMatchObject({
      event: 'UpdateTrail',
      resource: trailArn,
      severity: 'error',
      status: 'drift',
      changes: { log_file_validation: { before: true, after: false } },
    });
    expectAlerted(finding, delivered, { paged: false });

    runRemediation(finding.remediation);
    expect((await describeTrail(trailArn))?.LogFileValidationEnabled).toBe(true);
  });

  test('UpdateTrail making a multi-Region trail single-Region is an error: email and chat, not page; its remediation restores it', async () => {
    const trailArn = await plannedTrail({ Name: 'e2e-everywhere', IsMultiRegionTrail: true });
    const updated = await world.cloudtrail.send(new UpdateTrailCommand({ Name: trailArn, IsMultiRegionTrail: false }));

    const { finding, delivered } = await detect(
      trailRecords.updateTrail({ name: trailArn, isMultiRegionTrail: false }, updated, ctx()),
    );

    expect(finding).toMatchObject({
      service: 'cloudtrail',
      event: 'UpdateTrail',
      resource: trailArn,
      severity: 'error',
      status: 'drift',
      changes: { multi_region: { before: true, after: false } },
    });
    expectAlerted(finding, delivered, { paged: false });

    runRemediation(finding.remediation);
    expect((await describeTrail(trailArn))?.IsMultiRegionTrail).toBe(true);
  });

  test('PutEventSelectors that still logs KMS management events (S3 data events added) is an error: not paged; its remediation restores the selectors', async () => {
    const trailArn = await plannedTrail({ Name: 'e2e-selectors' });
    const selectors: EventSelector[] = [
      { ReadWriteType: 'All', IncludeManagementEvents: true, ExcludeManagementEventSources: [] },
      {
        ReadWriteType: 'All',
        IncludeManagementEvents: false,
        ExcludeManagementEventSources: [],
        DataResources: [{ Type: 'AWS::S3::Object', Values: ['arn:aws:s3:::e2e-exports/'] }],
      },
    ];
    await world.cloudtrail.send(new PutEventSelectorsCommand({ TrailName: trailArn, EventSelectors: selectors }));

    const { finding, delivered } = await detect(trailRecords.putEventSelectors(trailArn, selectors, ctx()));

    expect(finding).toMatchObject({
      service: 'cloudtrail',
      event: 'PutEventSelectors',
      resource: trailArn,
      severity: 'error',
      status: 'drift',
    });
    expect(finding.changes).toHaveProperty('event_selectors');
    expectAlerted(finding, delivered, { paged: false });

    runRemediation(finding.remediation);
    const { EventSelectors } = await world.cloudtrail.send(new GetEventSelectorsCommand({ TrailName: trailArn }));
    expect(EventSelectors).toEqual([expect.objectContaining({ ReadWriteType: 'All', IncludeManagementEvents: true })]);
    expect(EventSelectors?.[0].DataResources ?? []).toEqual([]);
  });
});

describe("the keys that encrypt trails' logs", () => {
  test("PutKeyPolicy taking CloudTrail's access away is critical, naming the trail; its remediation gives it back", async () => {
    const approved = keyPolicy({ cloudTrail: true });
    const key = await plannedKey('audit logs', approved);
    const trailArn = await plannedTrail({ Name: 'e2e-audit', KmsKeyId: key.arn });
    const narrowed = keyPolicy({ cloudTrail: false });
    await world.kms.send(new PutKeyPolicyCommand({ KeyId: key.arn, PolicyName: 'default', Policy: narrowed }));

    const { finding, delivered } = await detect(kmsRecords.putKeyPolicy(key, narrowed, ctx()));

    expect(finding).toMatchObject({
      event: 'PutKeyPolicy',
      resource: key.arn,
      severity: 'critical',
      status: 'drift',
      changes: { policy: { external_accounts: [] } },
    });
    expect(finding.reasons).toEqual(
      expect.arrayContaining([expect.stringMatching(/^TrailKeyKeepsCloudTrailAccess: .*e2e-audit/)]),
    );
    expectAlerted(finding, delivered, { paged: true });
    expect(delivered.email[0].Message).toContain(trailArn);

    runRemediation(finding.remediation);
    const restored = await world.kms.send(new GetKeyPolicyCommand({ KeyId: key.arn, PolicyName: 'default' }));
    expect(normalizePolicy(restored.Policy)).toEqual(normalizePolicy(approved));
  });

  test("ScheduleKeyDeletion of a trail's key names the trail; its remediation cancels it and re-enables the key", async () => {
    const key = await plannedKey('org trail logs', keyPolicy({ cloudTrail: true }));
    const trailArn = await plannedTrail({ Name: 'e2e-org-logs', KmsKeyId: key.arn });
    const scheduled = await world.kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.arn, PendingWindowInDays: 7 }));

    const { finding, delivered } = await detect(
      kmsRecords.scheduleKeyDeletion(
        key,
        { pendingWindowInDays: 7, deletionDate: scheduled.DeletionDate as Date },
        ctx(),
      ),
    );

    expect(finding).toMatchObject({
      event: 'ScheduleKeyDeletion',
      resource: key.arn,
      severity: 'critical',
      status: 'drift',
      changes: { key_state: { before: 'Enabled', after: 'PendingDeletion' } },
    });
    expect(finding.reasons).toEqual(expect.arrayContaining([expect.stringContaining(trailArn)]));
    expectAlerted(finding, delivered, { paged: true });

    runRemediation(finding.remediation);
    expect(await keyState(key)).toBe('Enabled');
  });

  test('KMS CMK Deletion (KMS deleting a key itself) is critical and paged; nothing can restore the key', async () => {
    // moto never deletes a key at the end of its waiting period: this key id was never created, so every KMS read
    // answers NotFoundException, as it does for a deleted key.
    const gone = keyRef(`arn:aws:kms:${REGION}:${MOTO_ACCOUNT}:key/7c0d9e8f-1a2b-4c3d-8e4f-5a6b7c8d9e0f`);
    const event = kmsCmkDeletionEvent(gone, ctx());

    const { finding, delivered } = await detect(event as CloudTrailRecord, true);

    expect(finding).toMatchObject({
      service: 'kms',
      event: 'KMS CMK Deletion',
      eventId: event.id,
      resource: gone.arn,
      severity: 'critical',
      status: 'drift',
      changes: { key_state: { after: 'Deleted' } },
    });
    expectAlerted(finding, delivered, { paged: true });
    expect(finding.remediation).toEqual([expect.stringMatching(/^# .* is deleted and cannot be restored/)]);
  });
});

describe('grants and aliases', () => {
  test('CreateGrant to another account is escalated to critical and paged; its remediation revokes the grant', async () => {
    const key = await plannedKey('shared exports');
    const grantee = `arn:aws:iam::${OUTSIDER}:role/Importer`;
    const { GrantId } = await world.kms.send(
      new CreateGrantCommand({ KeyId: key.arn, GranteePrincipal: grantee, Operations: ['Decrypt'] }),
    );
    const grantId = GrantId as string;

    const { finding, delivered } = await detect(
      kmsRecords.createGrant(key, { grantId, granteePrincipal: grantee, operations: ['Decrypt'] }, ctx()),
    );

    expect(finding).toMatchObject({
      event: 'CreateGrant',
      resource: key.arn,
      severity: 'critical',
      status: 'drift',
      changes: { grants: { after: { [grantId]: { grantee_principal: grantee } }, external_accounts: [OUTSIDER] } },
    });
    expect(finding.summary).toContain(OUTSIDER);
    expectAlerted(finding, delivered, { paged: true });

    runRemediation(finding.remediation);
    const { Grants = [] } = await world.kms.send(new ListGrantsCommand({ KeyId: key.arn }));
    expect(Grants.map((g) => g.GrantId)).not.toContain(grantId);
  });

  test('a grant an AWS service creates on a caller’s behalf is routine: planned, info, nobody alerted or paged', async () => {
    const key = await plannedKey('books table');
    const service = `dynamodb.${REGION}.amazonaws.com`;
    const operations = ['Decrypt', 'Encrypt', 'GenerateDataKey'] as const;
    const { GrantId } = await world.kms.send(
      new CreateGrantCommand({
        KeyId: key.arn,
        GranteePrincipal: service,
        RetiringPrincipal: service,
        Operations: [...operations],
      }),
    );
    const grantId = GrantId as string;
    const identity = { ...assumedRole('Admin', 'user01'), invokedBy: 'dynamodb.amazonaws.com' };

    const { finding, delivered } = await detect(
      kmsRecords.createGrant(
        key,
        { grantId, granteePrincipal: service, retiringPrincipal: service, operations: [...operations] },
        ctx({ identity }),
      ),
    );

    expect(finding).toMatchObject({
      event: 'CreateGrant',
      resource: key.arn,
      severity: 'info',
      status: 'planned',
      remediation: [],
    });
    expect([delivered.email.length, delivered.chat.length, delivered.page.length]).toEqual([0, 0, 0]);
    expect(delivered.eventBridge.map((e) => e.detail)).toEqual([finding]);
    // Approved into the baseline as it happens: never drift later.
    const baseline = await world.snapshot(key.arn, 'BASELINE');
    expect(Object.values(baseline?.attributes ?? {})).toContainEqual(
      expect.objectContaining({ grantee_principal: service }),
    );
  });

  test("ReplicateKey is an error: email and chat, not page; its remediation schedules the replica's deletion", async () => {
    const policy = keyPolicy({ cloudTrail: false });
    const created = await world.kms.send(
      new CreateKeyCommand({
        Description: 'global payments',
        Policy: policy,
        KeyUsage: 'ENCRYPT_DECRYPT',
        MultiRegion: true,
      }),
    );
    const primary = keyRef(created.KeyMetadata?.Arn as string);
    const adopted = await world.deliver(
      kmsRecords.createKey(primary, { description: 'global payments', policy, multiRegion: true }, planner()),
    );
    expect(adopted.finding).toMatchObject({ status: 'planned' });
    const { ReplicaKeyMetadata } = await world.kms.send(
      // By key id: moto 5.2 answers a key ARN here with an HTTP 500.
      new ReplicateKeyCommand({ KeyId: primary.id, ReplicaRegion: 'us-east-1', Policy: policy }),
    );
    const replica = keyRef(ReplicaKeyMetadata?.Arn as string);

    const { finding, delivered } = await detect(kmsRecords.replicateKey(primary, replica, policy, ctx()));

    expect(finding).toMatchObject({
      service: 'kms',
      event: 'ReplicateKey',
      resource: primary.arn,
      severity: 'error',
      status: 'drift',
      changes: { replica_regions: { after: { 'us-east-1': true } } },
    });
    expectAlerted(finding, delivered, { paged: false });

    // The replica shares the primary's key material: deleting it loses no ciphertext, so the command is given to run.
    expect(finding.remediation).toEqual([
      `aws kms schedule-key-deletion --key-id ${replica.arn} --region us-east-1 --pending-window-in-days 30`,
    ]);
    runRemediation(finding.remediation);
    const replicaRegion = new KMSClient({ ...world.moto.clientConfig, region: 'us-east-1', maxAttempts: 2 });
    try {
      const { KeyMetadata } = await replicaRegion.send(new DescribeKeyCommand({ KeyId: replica.arn }));
      expect(KeyMetadata?.KeyState).toBe('PendingDeletion');
    } finally {
      replicaRegion.destroy();
    }
  });

  test('DeleteAlias is an error: email and chat, not page; its remediation creates the alias again', async () => {
    const alias = 'alias/e2e-invoices';
    const key = await plannedKey('invoices');
    await world.kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: key.id }));
    const created = await detect(kmsRecords.createAlias(alias, key, planner()));
    expect(created.finding).toMatchObject({ event: 'CreateAlias', status: 'planned' });
    await world.kms.send(new DeleteAliasCommand({ AliasName: alias }));

    const { finding, delivered } = await detect(kmsRecords.deleteAlias(alias, key, ctx()));

    expect(finding).toMatchObject({
      service: 'kms',
      event: 'DeleteAlias',
      resource: `arn:aws:kms:${REGION}:${MOTO_ACCOUNT}:${alias}`,
      severity: 'error',
      status: 'drift',
      changes: { target_key_id: { before: key.arn, after: null } },
    });
    expectAlerted(finding, delivered, { paged: false });

    runRemediation(finding.remediation);
    const { Aliases = [] } = await world.kms.send(new ListAliasesCommand({ KeyId: key.id }));
    expect(Aliases.map((a) => a.AliasName)).toEqual([alias]);
  });
});
