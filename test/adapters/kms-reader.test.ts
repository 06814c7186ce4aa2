import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DescribeKeyCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  type GrantOperation,
  type KeyMetadata,
  KMSClient,
  ListAliasesCommand,
  ListGrantsCommand,
  ListResourceTagsCommand,
} from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { KeyUnreadableError, RetryableKmsError } from '../../lambda/adapters/errors';
import { createKmsReader } from '../../lambda/adapters/kms-reader';
import { DEFAULT_CONFIG } from '../../lambda/core/config';
import { effectOf } from '../../lambda/core/effects';
import { pathsNotYetVisible } from '../../lambda/core/live';
import { MemoryStore } from '../../lambda/core/memory-store';
import { normalizeRecord } from '../../lambda/core/normalize';
import { normalizePolicy } from '../../lambda/core/policy';
import { reconcileResource } from '../../lambda/core/reconcile';
import { kmsError, sdkError, sdkOutput } from '../helpers/kms-api';

const kmsMock = mockClient(KMSClient);
const reader = createKmsReader({ client: new KMSClient({ region: 'us-east-1' }) });

const CUSTOMER_KEY = 'arn:aws:kms:us-east-1:644160558196:key/082cd05f-96d1-49f6-a5ac-32093d2cfe38';
const EBS_KEY = 'arn:aws:kms:us-east-1:644160558196:key/798bc4bb-3079-4a9a-bc27-2c7f2b6c91d0';
const EXTERNAL_KEY = 'arn:aws:kms:us-west-2:644160558196:key/0e70fa46-b702-4fe7-807e-8dea0d333f7d';

const none = { $metadata: {} };
const emptyLists = () => {
  kmsMock.on(ListResourceTagsCommand).resolves({ ...none, Tags: [], Truncated: false });
  kmsMock.on(ListAliasesCommand).resolves({ ...none, Aliases: [], Truncated: false });
  kmsMock.on(ListGrantsCommand).resolves({ ...none, Grants: [], Truncated: false });
};

/** The custodian sample key (enabled, its default policy, rotation on) with no tags, aliases or grants. */
const custodianKeyWithoutLists = () => {
  kmsMock.on(DescribeKeyCommand).resolves(sdkOutput('DescribeKey__custodian__1'));
  kmsMock.on(GetKeyPolicyCommand).resolves(sdkOutput('GetKeyPolicy__custodian__1'));
  kmsMock.on(GetKeyRotationStatusCommand).resolves(sdkOutput('GetKeyRotationStatus__custodian__1'));
  emptyLists();
};

beforeEach(() => {
  kmsMock.reset();
});

describe('createKmsReader: readKey maps the read calls to drift attributes', () => {
  it('reads a customer managed key: policy normalized, tags, empty alias and grant maps known in full', async () => {
    // Prepare
    kmsMock.on(DescribeKeyCommand).resolves(sdkOutput('DescribeKey__custodian__1'));
    kmsMock.on(GetKeyPolicyCommand).resolves(sdkOutput('GetKeyPolicy__custodian__1'));
    kmsMock.on(GetKeyRotationStatusCommand).resolves(sdkOutput('GetKeyRotationStatus__custodian__1'));
    kmsMock.on(ListResourceTagsCommand).resolves(sdkOutput('ListResourceTags__custodian__1'));
    kmsMock.on(ListAliasesCommand).resolves({ ...none, Aliases: [], Truncated: false });
    kmsMock.on(ListGrantsCommand).resolves(sdkOutput('ListGrants__custodian__1'));

    // Act
    const live = await reader.readKey(CUSTOMER_KEY);

    // Assess
    const policy = (sdkOutput('GetKeyPolicy__custodian__1') as { Policy: string }).Policy;
    expect(live).toEqual({
      kind: 'key',
      arn: CUSTOMER_KEY,
      attributes: {
        description: '',
        key_usage: 'ENCRYPT_DECRYPT',
        key_spec: 'SYMMETRIC_DEFAULT',
        key_state: 'Enabled',
        deletion_date: null,
        multi_region: false,
        primary_region: null,
        origin: 'AWS_KMS',
        key_material: null,
        custom_key_store: null,
        'tags#RequisiteKey': 'Required',
        policy: normalizePolicy(policy),
        enable_key_rotation: false,
        rotation_period_in_days: null,
      },
      completeMaps: ['replica_regions', 'tags', 'aliases', 'grants'],
    });
  });

  it('asks for the default policy and the largest page of each list, by key ARN', async () => {
    custodianKeyWithoutLists();

    await reader.readKey(CUSTOMER_KEY);

    expect(kmsMock).toHaveReceivedCommandWith(DescribeKeyCommand, { KeyId: CUSTOMER_KEY });
    expect(kmsMock).toHaveReceivedCommandWith(GetKeyPolicyCommand, { KeyId: CUSTOMER_KEY, PolicyName: 'default' });
    expect(kmsMock).toHaveReceivedCommandWith(ListGrantsCommand, { KeyId: CUSTOMER_KEY, Limit: 100 });
    expect(kmsMock).toHaveReceivedCommandWith(ListAliasesCommand, { KeyId: CUSTOMER_KEY, Limit: 100 });
    expect(kmsMock).toHaveReceivedCommandWith(ListResourceTagsCommand, { KeyId: CUSTOMER_KEY, Limit: 50 });
  });

  it('reads an AWS managed key from an older DescribeKey without KeySpec, with its alias and rotation on', async () => {
    kmsMock.on(DescribeKeyCommand).resolves(sdkOutput('DescribeKey__custodian__2'));
    kmsMock.on(GetKeyPolicyCommand).resolves(sdkOutput('GetKeyPolicy__custodian__2'));
    kmsMock.on(GetKeyRotationStatusCommand).resolves(sdkOutput('GetKeyRotationStatus__custodian__2'));
    kmsMock.on(ListResourceTagsCommand).resolves(sdkOutput('ListResourceTags__custodian__2'));
    kmsMock.on(ListAliasesCommand).resolves(sdkOutput('ListAliases__custodian__1'));
    kmsMock.on(ListGrantsCommand).resolves(sdkOutput('ListGrants__custodian__1'));

    const { attributes, completeMaps } = await reader.readKey(EBS_KEY);

    expect(attributes).toMatchObject({
      description: 'Default master key that protects my EBS volumes when no other key is defined',
      key_spec: null,
      key_state: 'Enabled',
      enable_key_rotation: true,
      'aliases#alias/aws/ebs': true,
    });
    expect(Object.keys(attributes).filter((p) => p.startsWith('tags#'))).toEqual([]);
    expect(completeMaps).toContain('tags');
  });

  it('reads a disabled key as Disabled', async () => {
    kmsMock.on(DescribeKeyCommand).resolves(sdkOutput('DescribeKey__custodian__3'));
    kmsMock.on(GetKeyPolicyCommand).resolves(sdkOutput('GetKeyPolicy__custodian__1'));
    kmsMock.on(GetKeyRotationStatusCommand).resolves(sdkOutput('GetKeyRotationStatus__custodian__1'));
    emptyLists();

    const { attributes } = await reader.readKey('arn:aws:kms:us-east-1:0123456789012:key/358f7699');

    expect(attributes.key_state).toBe('Disabled');
  });

  it('leaves rotation unknown for an EXTERNAL key that KMS refuses to report rotation for', async () => {
    kmsMock.on(DescribeKeyCommand).resolves(sdkOutput('DescribeKey__custodian__4'));
    kmsMock.on(GetKeyPolicyCommand).resolves(sdkOutput('GetKeyPolicy__custodian__1'));
    kmsMock.on(GetKeyRotationStatusCommand).rejects(sdkError('GetKeyRotationStatus__custodian__3'));
    emptyLists();

    const { attributes } = await reader.readKey(EXTERNAL_KEY);

    expect(attributes).toMatchObject({ origin: 'EXTERNAL', key_state: 'PendingImport', key_material: null });
    expect(attributes).not.toHaveProperty('enable_key_rotation');
    expect(attributes).not.toHaveProperty('rotation_period_in_days');
  });

  it('reads a key for import scheduled for deletion before any import as still without key material', async () => {
    // Prepare: the key of DescribeKey__custodian__4 (PendingImport, no ExpirationModel) read, then scheduled for
    // deletion: DescribeKey changes its state and dates the deletion, and still names no expiration model.
    const described = sdkOutput<{ KeyMetadata: KeyMetadata }>('DescribeKey__custodian__4');
    kmsMock.on(DescribeKeyCommand).resolves(described);
    kmsMock.on(GetKeyPolicyCommand).resolves(sdkOutput('GetKeyPolicy__custodian__1'));
    kmsMock.on(GetKeyRotationStatusCommand).rejects(sdkError('GetKeyRotationStatus__custodian__3'));
    emptyLists();
    const adopted = await reader.readKey(EXTERNAL_KEY);
    kmsMock.on(DescribeKeyCommand).resolves({
      ...described,
      KeyMetadata: {
        ...described.KeyMetadata,
        KeyState: 'PendingDeletion',
        DeletionDate: new Date('2025-06-09T10:45:00Z'),
        PendingDeletionWindowInDays: 7,
      },
    });

    // Act
    const live = await reader.readKey(EXTERNAL_KEY);

    // Assess: the reconciler sees the deletion only, not material that appeared (nor offers to delete it).
    expect(live.attributes).toMatchObject({ key_state: 'PendingDeletion', key_material: null });
    const finding = reconcileResource(
      { baseline: adopted, live, previous: adopted, previousVersion: 1, nowMs: Date.parse('2025-06-02T12:00:00Z') },
      new MemoryStore(),
      DEFAULT_CONFIG,
    );
    expect(Object.keys(finding?.changes ?? {}).sort()).toEqual(['deletion_date', 'key_state']);
    expect(finding?.remediation?.join('\n')).not.toContain('delete-imported-key-material');
  });

  it('leaves rotation unknown when GetKeyRotationStatus answers KMSInvalidStateException', async () => {
    kmsMock.on(DescribeKeyCommand).resolves(sdkOutput('DescribeKey__custodian__1'));
    kmsMock.on(GetKeyPolicyCommand).resolves(sdkOutput('GetKeyPolicy__custodian__1'));
    kmsMock
      .on(GetKeyRotationStatusCommand)
      .rejects(kmsError('KMSInvalidStateException', `${CUSTOMER_KEY} is pending deletion.`));
    emptyLists();

    const { attributes } = await reader.readKey(CUSTOMER_KEY);

    expect(attributes).not.toHaveProperty('enable_key_rotation');
    expect(attributes.key_state).toBe('Enabled');
  });

  it('does not take the "rotation off" KMS reports for a key pending deletion as its rotation setting', async () => {
    const described = sdkOutput<{ KeyMetadata: Record<string, unknown> }>('DescribeKey__custodian__1');
    const deletionDate = new Date('2026-11-02T12:00:00.123Z');
    kmsMock.on(DescribeKeyCommand).resolves({
      ...described,
      KeyMetadata: { ...described.KeyMetadata, KeyId: 'x', KeyState: 'PendingDeletion', DeletionDate: deletionDate },
    });
    kmsMock.on(GetKeyPolicyCommand).resolves(sdkOutput('GetKeyPolicy__custodian__1'));
    kmsMock.on(GetKeyRotationStatusCommand).resolves(sdkOutput('GetKeyRotationStatus__custodian__1'));
    emptyLists();

    const { attributes } = await reader.readKey(CUSTOMER_KEY);

    expect(attributes).toMatchObject({ key_state: 'PendingDeletion', deletion_date: '2026-11-02T12:00:00Z' });
    expect(attributes).not.toHaveProperty('enable_key_rotation');
  });

  it('reads imported key material and the rotation period when rotation is on', async () => {
    const described = sdkOutput<{ KeyMetadata: Record<string, unknown> }>('DescribeKey__custodian__4');
    kmsMock.on(DescribeKeyCommand).resolves({
      ...described,
      KeyMetadata: {
        ...described.KeyMetadata,
        KeyId: 'x',
        KeyState: 'Enabled',
        ExpirationModel: 'KEY_MATERIAL_EXPIRES',
        ValidTo: new Date('2027-01-01T00:00:00Z'),
      },
    });
    kmsMock.on(GetKeyPolicyCommand).resolves(sdkOutput('GetKeyPolicy__custodian__1'));
    kmsMock.on(GetKeyRotationStatusCommand).resolves({ ...none, KeyRotationEnabled: true, RotationPeriodInDays: 90 });
    emptyLists();

    const { attributes } = await reader.readKey(EXTERNAL_KEY);

    expect(attributes).toMatchObject({
      key_material: { expiration_model: 'KEY_MATERIAL_EXPIRES', valid_to: '2027-01-01T00:00:00Z' },
      enable_key_rotation: true,
      rotation_period_in_days: 90,
    });
  });

  it('reads a multi-Region primary key: its Region and each replica Region', async () => {
    const described = sdkOutput<{ KeyMetadata: Record<string, unknown> }>('DescribeKey__custodian__1');
    kmsMock.on(DescribeKeyCommand).resolves({
      ...described,
      KeyMetadata: {
        ...described.KeyMetadata,
        KeyId: 'mrk-1',
        MultiRegion: true,
        MultiRegionConfiguration: {
          MultiRegionKeyType: 'PRIMARY',
          PrimaryKey: { Arn: 'arn:aws:kms:us-east-1:644160558196:key/mrk-1', Region: 'us-east-1' },
          ReplicaKeys: [{ Arn: 'arn:aws:kms:eu-west-1:644160558196:key/mrk-1', Region: 'eu-west-1' }],
        },
      },
    });
    kmsMock.on(GetKeyPolicyCommand).resolves(sdkOutput('GetKeyPolicy__custodian__1'));
    kmsMock.on(GetKeyRotationStatusCommand).resolves(sdkOutput('GetKeyRotationStatus__custodian__1'));
    emptyLists();

    const { attributes } = await reader.readKey('arn:aws:kms:us-east-1:644160558196:key/mrk-1');

    expect(attributes).toMatchObject({
      multi_region: true,
      primary_region: 'us-east-1',
      'replica_regions#eu-west-1': true,
    });
  });
});

describe('createKmsReader: a multi-Region replica key', () => {
  const KEY_ID = 'mrk-1234abcd12ab34cd56ef1234567890ab';
  const arnIn = (region: string) => `arn:aws:kms:${region}:644160558196:key/${KEY_ID}`;
  /** The replica in eu-west-1 of a primary in us-east-1, read while KMS lists `replicas` as the replica keys. */
  const readReplica = async (replicas: string[], rotation = 'GetKeyRotationStatus__custodian__1') => {
    const described = sdkOutput<{ KeyMetadata: Record<string, unknown> }>('DescribeKey__custodian__1');
    kmsMock.on(DescribeKeyCommand).resolves({
      ...described,
      KeyMetadata: {
        ...described.KeyMetadata,
        KeyId: KEY_ID,
        Arn: arnIn('eu-west-1'),
        MultiRegion: true,
        MultiRegionConfiguration: {
          MultiRegionKeyType: 'REPLICA',
          PrimaryKey: { Arn: arnIn('us-east-1'), Region: 'us-east-1' },
          // KMS lists every replica key, this one included.
          ReplicaKeys: replicas.map((region) => ({ Arn: arnIn(region), Region: region })),
        },
      },
    });
    kmsMock.on(GetKeyPolicyCommand).resolves(sdkOutput('GetKeyPolicy__custodian__1'));
    kmsMock.on(GetKeyRotationStatusCommand).resolves(sdkOutput(rotation));
    emptyLists();
    return reader.readKey(arnIn('eu-west-1'));
  };

  it('leaves its automatic rotation to the primary, which shares it: rotation turned on at the primary is no drift of this key (EnableKeyRotation would refuse it)', async () => {
    // Prepare: adopted with rotation off (GetKeyRotationStatus__custodian__1).
    const adopted = await readReplica(['eu-west-1']);
    // Act: rotation turned on at the primary, in us-east-1; KMS synchronizes it to the replica.
    const live = await readReplica(['eu-west-1'], 'GetKeyRotationStatus__custodian__2');
    // Assess
    expect(live.attributes).not.toHaveProperty('enable_key_rotation');
    expect(live.attributes).not.toHaveProperty('rotation_period_in_days');
    const finding = reconcileResource(
      { baseline: adopted, live, previous: adopted, previousVersion: 1, nowMs: Date.parse('2026-10-03T12:00:00Z') },
      new MemoryStore(),
      DEFAULT_CONFIG,
    );
    expect(finding).toBeUndefined();
  });

  it("reads its primary's Region, and leaves the replica Regions to the primary: a sibling replicated from the primary is no drift of this key", async () => {
    // Prepare: adopted while it was the only replica.
    const adopted = await readReplica(['eu-west-1']);
    // Act: the primary was replicated to ap-south-1, which only the primary's and ap-south-1's logs record.
    const live = await readReplica(['eu-west-1', 'ap-south-1']);
    // Assess
    expect(live.attributes).toMatchObject({ multi_region: true, primary_region: 'us-east-1' });
    expect(Object.keys(live.attributes).filter((path) => path.startsWith('replica_regions'))).toEqual([]);
    expect(live.completeMaps).not.toContain('replica_regions');
    const finding = reconcileResource(
      { baseline: adopted, live, previous: adopted, previousVersion: 1, nowMs: Date.parse('2026-10-03T12:00:00Z') },
      new MemoryStore(),
      DEFAULT_CONFIG,
    );
    expect(finding).toBeUndefined();
  });
});

describe('createKmsReader: readKey follows every page', () => {
  it('pages ListGrants, ListAliases and ListResourceTags through NextMarker while Truncated', async () => {
    // Prepare
    kmsMock.on(DescribeKeyCommand).resolves(sdkOutput('DescribeKey__custodian__1'));
    kmsMock.on(GetKeyPolicyCommand).resolves(sdkOutput('GetKeyPolicy__custodian__1'));
    kmsMock.on(GetKeyRotationStatusCommand).resolves(sdkOutput('GetKeyRotationStatus__custodian__1'));
    const grant = (id: string, extra: Record<string, unknown> = {}) => ({
      KeyId: CUSTOMER_KEY,
      GrantId: id,
      GranteePrincipal: 'arn:aws:iam::644160558196:role/app',
      Operations: ['Encrypt', 'Decrypt'] as GrantOperation[],
      IssuingAccount: 'arn:aws:iam::644160558196:root',
      CreationDate: new Date('2021-05-13T13:02:58Z'),
      ...extra,
    });
    kmsMock
      .on(ListGrantsCommand)
      .resolves({ ...none, Grants: [grant('g1', { Name: '' })], Truncated: true, NextMarker: 'grants-2' })
      .on(ListGrantsCommand, { Marker: 'grants-2' })
      .resolves({
        ...none,
        Grants: [
          grant('g2', {
            Name: 'batch',
            RetiringPrincipal: 'arn:aws:iam::644160558196:role/ops',
            Constraints: { EncryptionContextSubset: { Department: 'IT' } },
          }),
        ],
        Truncated: false,
      });
    kmsMock
      .on(ListAliasesCommand)
      .resolves({ ...none, Aliases: [{ AliasName: 'alias/a' }], Truncated: true, NextMarker: 'aliases-2' })
      .on(ListAliasesCommand, { Marker: 'aliases-2' })
      .resolves({ ...none, Aliases: [{ AliasName: 'alias/b' }], Truncated: false });
    kmsMock
      .on(ListResourceTagsCommand)
      .resolves({ ...none, Tags: [{ TagKey: 'team', TagValue: 'pay' }], Truncated: true, NextMarker: 'tags-2' })
      .on(ListResourceTagsCommand, { Marker: 'tags-2' })
      .resolves({ ...none, Tags: [{ TagKey: 'env', TagValue: 'prod' }], Truncated: false });

    // Act
    const { attributes } = await reader.readKey(CUSTOMER_KEY);

    // Assess
    expect(kmsMock).toHaveReceivedCommandTimes(ListGrantsCommand, 2);
    expect(kmsMock).toHaveReceivedCommandWith(ListGrantsCommand, { KeyId: CUSTOMER_KEY, Marker: 'grants-2' });
    expect(attributes).toMatchObject({
      'grants#g1': {
        grantee_principal: 'arn:aws:iam::644160558196:role/app',
        retiring_principal: null,
        operations: ['Decrypt', 'Encrypt'],
        constraints: null,
        name: null,
      },
      'grants#g2': {
        retiring_principal: 'arn:aws:iam::644160558196:role/ops',
        constraints: { encryptionContextSubset: { Department: 'IT' } },
        name: 'batch',
      },
      'aliases#alias/a': true,
      'aliases#alias/b': true,
      'tags#team': 'pay',
      'tags#env': 'prod',
    });
  });
});

describe('createKmsReader: readKey sorts KMS errors', () => {
  it('reads a key KMS no longer knows (NotFoundException) as Deleted', async () => {
    kmsMock.onAnyCommand().rejects(sdkError('DescribeKey__custodian__5'));

    const live = await reader.readKey(CUSTOMER_KEY);

    expect(live).toEqual({
      kind: 'key',
      arn: CUSTOMER_KEY,
      attributes: { key_state: 'Deleted', deletion_date: null },
      completeMaps: [],
    });
  });

  it('reads the key as Deleted when it vanishes between DescribeKey and a list call', async () => {
    custodianKeyWithoutLists();
    kmsMock.on(ListGrantsCommand).rejects(kmsError('NotFoundException', 'Key not found'));

    expect((await reader.readKey(CUSTOMER_KEY)).attributes.key_state).toBe('Deleted');
  });

  it('turns throttling that outlasted the SDK retries into RetryableKmsError, keeping the cause', async () => {
    kmsMock.onAnyCommand().resolves({});
    kmsMock.on(DescribeKeyCommand).rejects(kmsError('ThrottlingException', 'Rate exceeded'));

    const error = await reader.readKey(CUSTOMER_KEY).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RetryableKmsError);
    expect((error as Error).message).toContain('DescribeKey');
    expect((error as Error).cause).toMatchObject({ name: 'ThrottlingException' });
  });

  it.each(['DependencyTimeoutException', 'KMSInternalException'])('treats %s as retryable', async (code) => {
    kmsMock.onAnyCommand().resolves({});
    kmsMock.on(GetKeyPolicyCommand).rejects(kmsError(code, 'try later', 500));

    await expect(reader.readKey(CUSTOMER_KEY)).rejects.toBeInstanceOf(RetryableKmsError);
  });

  it('reports a key whose policy denies keydrift its reads as unreadable, keeping KMS error as the cause', async () => {
    const denied = kmsError('AccessDeniedException', 'not authorized to perform kms:DescribeKey');
    kmsMock.onAnyCommand().resolves({});
    kmsMock.on(DescribeKeyCommand).rejects(denied);

    const error = await reader.readKey(CUSTOMER_KEY).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyUnreadableError);
    expect((error as Error).message).toBe(`KMS denied keydrift DescribeKey on ${CUSTOMER_KEY}`);
    expect((error as Error).cause).toBe(denied);
  });

  it('re-throws what it does not expect unchanged', async () => {
    const invalid = kmsError('InvalidArnException', 'Invalid arn');
    kmsMock.onAnyCommand().resolves({});
    kmsMock.on(DescribeKeyCommand).rejects(invalid);

    await expect(reader.readKey(CUSTOMER_KEY)).rejects.toBe(invalid);
  });
});

describe('createKmsReader: readAlias', () => {
  const ALIAS = 'arn:aws:kms:us-east-1:644160558196:alias/aws/ebs';

  it('resolves the alias to the ARN of the key it points to, in one DescribeKey', async () => {
    kmsMock.on(DescribeKeyCommand, { KeyId: ALIAS }).resolves(sdkOutput('DescribeKey__custodian__2'));

    const live = await reader.readAlias(ALIAS);

    expect(live).toEqual({ kind: 'alias', arn: ALIAS, attributes: { target_key_id: EBS_KEY }, completeMaps: [] });
    expect(kmsMock).toHaveReceivedCommandTimes(DescribeKeyCommand, 1);
  });

  it('reads an alias that no longer exists as pointing nowhere', async () => {
    const gone = 'arn:aws:kms:us-east-1:644160558196:alias/eks_invalid_key';
    kmsMock.on(DescribeKeyCommand).rejects(sdkError('DescribeKey__custodian__5'));

    expect((await reader.readAlias(gone)).attributes).toEqual({ target_key_id: null });
  });
});

describe('createKmsReader: agrees with the core on value shapes', () => {
  const record = (name: string) =>
    JSON.parse(readFileSync(join(__dirname, '..', 'handlers', 'fixtures', 'cloudtrail', `${name}.json`), 'utf8'));

  it('reads the grant a CreateGrant record created exactly as the event effect describes it', async () => {
    // Prepare: the DynamoDB grant from CreateGrant__awskmsdg__3, as ListGrants returns it.
    const event = normalizeRecord(record('CreateGrant__awskmsdg__3'));
    const effect = effectOf(event, new MemoryStore());
    const request = event.requestParameters as Record<string, never>;
    custodianKeyWithoutLists();
    kmsMock.on(ListGrantsCommand).resolves({
      ...none,
      Grants: [
        {
          KeyId: effect.resource,
          GrantId: String(event.responseElements.grantId),
          Name: '',
          GranteePrincipal: request.granteePrincipal,
          RetiringPrincipal: request.retiringPrincipal,
          IssuingAccount: 'arn:aws:iam::111122223333:root',
          Operations: [...(request.operations as string[])].reverse() as never,
          Constraints: {
            EncryptionContextSubset: (request.constraints as Record<string, never>).encryptionContextSubset,
          },
        },
      ],
      Truncated: false,
    });

    // Act
    const live = await reader.readKey(effect.resource);

    // Assess
    expect(pathsNotYetVisible(effect, live)).toEqual([]);
    expect(Object.keys(effect.set)).toEqual([`grants#${event.responseElements.grantId}`]);
  });

  it('reads a grant fenced to one resource by a SourceArn constraint with that constraint, as CreateGrant recorded it', async () => {
    // Prepare: the DynamoDB grant of CreateGrant__awskmsdg__3 given a SourceArn constraint as well (KMS Developer
    // Guide, "Using grant constraints"), read back as that guide's list-grants example shows such a grant.
    const table = 'arn:aws:dynamodb:us-west-2:111122223333:table/Books';
    const created = record('CreateGrant__awskmsdg__3');
    const request = created.requestParameters as Record<string, never>;
    const subset = (request.constraints as Record<string, never>).encryptionContextSubset;
    created.requestParameters.constraints = { encryptionContextSubset: subset, sourceArn: table };
    const event = normalizeRecord(created);
    const effect = effectOf(event, new MemoryStore());
    custodianKeyWithoutLists();
    kmsMock.on(ListGrantsCommand).resolves({
      ...none,
      Grants: [
        {
          Name: '',
          IssuingAccount: 'arn:aws:iam::111122223333:root',
          GrantId: String(event.responseElements.grantId),
          Operations: request.operations,
          GranteePrincipal: request.granteePrincipal,
          RetiringPrincipal: request.retiringPrincipal,
          Constraints: { EncryptionContextSubset: subset, SourceArn: table },
          CreationDate: new Date(1718567315000),
          KeyId: effect.resource,
        },
      ],
      Truncated: false,
    });

    // Act
    const live = await reader.readKey(effect.resource);

    // Assess
    expect(live.attributes[`grants#${event.responseElements.grantId}`]).toMatchObject({
      constraints: { encryptionContextSubset: subset, sourceArn: table },
    });
    expect(pathsNotYetVisible(effect, live)).toEqual([]);
  });

  it('reads a grant to a service principal exactly as the CreateGrant that named it by GranteeServicePrincipal', async () => {
    // Prepare: CreateGrant__awskmsdg__3 made as the KMS Developer Guide's service principal grant ("Using grant
    // constraints": --grantee-service-principal, --retiring-service-principal, a SourceArn constraint), read back as
    // that guide's list-grants example shows it: no GranteePrincipal, the service in GranteeServicePrincipal.
    const service = 'dynamodb.amazonaws.com';
    const table = 'arn:aws:dynamodb:us-west-2:111122223333:table/Books';
    const created = record('CreateGrant__awskmsdg__3');
    const { granteePrincipal: _grantee, retiringPrincipal: _retiring, ...request } = created.requestParameters;
    created.requestParameters = {
      ...request,
      granteeServicePrincipal: service,
      retiringServicePrincipal: service,
      constraints: { sourceArn: table },
    };
    const event = normalizeRecord(created);
    const effect = effectOf(event, new MemoryStore());
    custodianKeyWithoutLists();
    kmsMock.on(ListGrantsCommand).resolves({
      ...none,
      Grants: [
        {
          Name: '',
          IssuingAccount: 'arn:aws:iam::111122223333:root',
          GrantId: String(event.responseElements.grantId),
          Operations: request.operations as never,
          GranteeServicePrincipal: service,
          Constraints: { SourceArn: table },
          CreationDate: new Date(1718567315000),
          KeyId: effect.resource,
          RetiringServicePrincipal: service,
        },
      ],
      Truncated: false,
    });

    // Act
    const live = await reader.readKey(effect.resource);

    // Assess
    expect(effect.set[`grants#${event.responseElements.grantId}`]).toMatchObject({
      grantee_principal: service,
      retiring_principal: service,
    });
    expect(pathsNotYetVisible(effect, live)).toEqual([]);
  });

  it('reads the policy a PutKeyPolicy record set exactly as the event effect describes it', async () => {
    const event = normalizeRecord(record('PutKeyPolicy__awskmsdg__1'));
    const effect = effectOf(event, new MemoryStore());
    kmsMock.on(DescribeKeyCommand).resolves(sdkOutput('DescribeKey__custodian__1'));
    kmsMock
      .on(GetKeyPolicyCommand)
      .resolves({ ...none, PolicyName: 'default', Policy: String(event.requestParameters.policy) });
    kmsMock.on(GetKeyRotationStatusCommand).resolves(sdkOutput('GetKeyRotationStatus__custodian__1'));
    emptyLists();

    const live = await reader.readKey(effect.resource);

    expect(pathsNotYetVisible(effect, live)).toEqual([]);
  });
});
