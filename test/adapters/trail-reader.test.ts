import {
  CloudTrailClient,
  CloudTrailServiceException,
  DescribeTrailsCommand,
  GetEventSelectorsCommand,
  GetTrailStatusCommand,
  OperationNotPermittedException,
  TrailNotFoundException,
} from '@aws-sdk/client-cloudtrail';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { RetryableCloudTrailError } from '../../lambda/adapters/errors';
import { createTrailReader } from '../../lambda/adapters/trail-reader';
import { DEFAULT_CONFIG } from '../../lambda/core/config';
import { normalizeSelectors } from '../../lambda/core/effects';
import { MemoryStore } from '../../lambda/core/memory-store';
import { reconcileResource } from '../../lambda/core/reconcile';
import { snapshotFromState } from '../../lambda/core/state';
import { sample } from '../helpers/fixtures';

const trailMock = mockClient(CloudTrailClient);
const reader = createTrailReader({ client: new CloudTrailClient({ region: 'us-east-1' }) });

const TRAIL = 'arn:aws:cloudtrail:us-east-1:143434273843:trail/org-audit';
const SHADOW = 'arn:aws:cloudtrail:eu-west-1:143434273843:trail/eu-audit';
const KEY = 'arn:aws:kms:us-east-1:143434273843:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const $metadata = {};

beforeEach(() => {
  trailMock.reset();
  trailMock.on(DescribeTrailsCommand).resolves({
    $metadata,
    trailList: [
      {
        Name: 'org-audit',
        TrailARN: TRAIL,
        HomeRegion: 'us-east-1',
        IsMultiRegionTrail: true,
        LogFileValidationEnabled: true,
        KmsKeyId: KEY,
      },
      { Name: 'eu-audit', TrailARN: SHADOW, HomeRegion: 'eu-west-1', IsMultiRegionTrail: true },
    ],
  });
});

describe('createTrailReader: readTrails', () => {
  it('with details off, makes one DescribeTrails call and reports which key encrypts each trail', async () => {
    const trails = await reader.readTrails({ details: false });

    expect(trailMock).toHaveReceivedCommandTimes(DescribeTrailsCommand, 1);
    expect(trailMock).toHaveReceivedCommandWith(DescribeTrailsCommand, { includeShadowTrails: true });
    expect(trailMock).not.toHaveReceivedCommand(GetTrailStatusCommand);
    expect(trails).toEqual([
      {
        kind: 'trail',
        arn: TRAIL,
        attributes: { trail: 'exists', kms_key_id: KEY, multi_region: true, log_file_validation: true },
        completeMaps: [],
      },
      {
        kind: 'trail',
        arn: SHADOW,
        attributes: { trail: 'exists', kms_key_id: null, multi_region: true, log_file_validation: false },
        completeMaps: [],
      },
    ]);
  });

  it('with details, adds logging and event selectors normalized as the core normalizes PutEventSelectors', async () => {
    trailMock.on(GetTrailStatusCommand).resolves({ $metadata, IsLogging: true });
    trailMock.on(GetEventSelectorsCommand, { TrailName: TRAIL }).resolves({
      $metadata,
      TrailARN: TRAIL,
      EventSelectors: [
        {
          ReadWriteType: 'All',
          IncludeManagementEvents: true,
          DataResources: [{ Type: 'AWS::S3::Object', Values: ['arn:aws:s3'] }],
          ExcludeManagementEventSources: [],
        },
      ],
    });
    trailMock.on(GetEventSelectorsCommand, { TrailName: SHADOW }).resolves({
      $metadata,
      TrailARN: SHADOW,
      AdvancedEventSelectors: [
        {
          Name: 'Management events but KMS',
          FieldSelectors: [
            { Field: 'eventCategory', Equals: ['Management'] },
            { Field: 'eventSource', NotEquals: ['kms.amazonaws.com'] },
          ],
        },
      ],
    });

    const [main, shadow] = await reader.readTrails();

    expect(main.attributes).toMatchObject({
      logging: true,
      event_selectors: {
        management: 'All',
        excluded_sources: [],
        data_resources: [
          { selector: 'basic', read_write_type: 'All', type: 'AWS::S3::Object', values: ['arn:aws:s3'] },
        ],
      },
    });
    expect(shadow.attributes.event_selectors).toEqual({
      management: 'All',
      excluded_sources: ['kms.amazonaws.com'],
      data_resources: [],
    });
  });

  it('turns CloudTrail throttling into RetryableCloudTrailError with its cause', async () => {
    const throttled = new CloudTrailServiceException({
      name: 'ThrottlingException',
      $fault: 'client',
      message: 'Rate exceeded',
      $metadata: { httpStatusCode: 400 },
    });
    trailMock.on(DescribeTrailsCommand).rejects(throttled);

    const error = await reader.readTrails().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RetryableCloudTrailError);
    expect((error as Error).cause).toBe(throttled);
  });
});

describe('createTrailReader: readTrail', () => {
  it('reads one trail in full with its three calls made together', async () => {
    trailMock
      .on(DescribeTrailsCommand, { trailNameList: [TRAIL] })
      .resolves({ $metadata, trailList: [{ Name: 'org-audit', TrailARN: TRAIL, IsMultiRegionTrail: true }] });
    trailMock.on(GetTrailStatusCommand).resolves({ $metadata, IsLogging: false });
    trailMock.on(GetEventSelectorsCommand).resolves({
      $metadata,
      EventSelectors: [{ ReadWriteType: 'ReadOnly', IncludeManagementEvents: true }],
    });

    const { attributes } = await reader.readTrail(TRAIL);

    expect(attributes).toEqual({
      trail: 'exists',
      kms_key_id: null,
      multi_region: true,
      log_file_validation: false,
      logging: false,
      event_selectors: { management: 'ReadOnly', excluded_sources: [], data_resources: [] },
    });
  });

  it('reads a trail CloudTrail no longer knows as deleted and not logging', async () => {
    const gone = new TrailNotFoundException({ message: 'Unknown trail', $metadata: { httpStatusCode: 400 } });
    trailMock.on(DescribeTrailsCommand, { trailNameList: [TRAIL] }).resolves({ $metadata, trailList: [] });
    trailMock.on(GetTrailStatusCommand).rejects(gone);
    trailMock.on(GetEventSelectorsCommand).rejects(gone);

    expect((await reader.readTrail(TRAIL)).attributes).toEqual({ trail: 'deleted', logging: false });
  });

  it('does not read a trail as deleted, nor the Region as trail-less, when CloudTrail refuses DescribeTrails', async () => {
    const refused = new OperationNotPermittedException({
      message: 'This operation is not permitted.',
      $metadata: { httpStatusCode: 400 },
    });
    trailMock.on(DescribeTrailsCommand).rejects(refused);
    trailMock.on(GetTrailStatusCommand).rejects(refused);
    trailMock.on(GetEventSelectorsCommand).rejects(refused);

    // Whether the trail exists is unknown: the detector then judges from the event alone, and the reconciler counts
    // a failure, rather than reporting the trail deleted (critical) and storing it so.
    await expect(reader.readTrail(TRAIL)).rejects.toBe(refused);
    await expect(reader.readTrails()).rejects.toBe(refused);
  });

  it('never reads another trail as the one asked for (an emulator may ignore trailNameList)', async () => {
    const gone = new TrailNotFoundException({ message: 'Unknown trail', $metadata: { httpStatusCode: 400 } });
    const deleted = 'arn:aws:cloudtrail:us-east-1:143434273843:trail/deleted-trail';
    trailMock.on(GetTrailStatusCommand).rejects(gone);
    trailMock.on(GetEventSelectorsCommand).rejects(gone);

    expect((await reader.readTrail(deleted)).attributes).toEqual({ trail: 'deleted', logging: false });
  });

  it('finds a multi-Region trail by name when the event named it from another Region', async () => {
    trailMock.on(GetTrailStatusCommand).resolves({ $metadata, IsLogging: true });
    trailMock.on(GetEventSelectorsCommand).resolves({ $metadata, EventSelectors: [] });
    const fromEurope = 'arn:aws:cloudtrail:eu-west-1:143434273843:trail/org-audit';

    expect((await reader.readTrail(fromEurope)).attributes).toMatchObject({ trail: 'exists', kms_key_id: KEY });
  });
});

describe('createTrailReader: the settings and selectors the core tracks', () => {
  it('reads where the logs go and whose activity they hold, leaving out what DescribeTrails does not say', async () => {
    trailMock.on(DescribeTrailsCommand).resolves({
      $metadata,
      trailList: [
        {
          Name: 'org-audit',
          TrailARN: TRAIL,
          S3BucketName: 'org-audit-logs',
          IsOrganizationTrail: true,
          IncludeGlobalServiceEvents: false,
          IsMultiRegionTrail: true,
          LogFileValidationEnabled: true,
          KmsKeyId: KEY,
        },
        { Name: 'eu-audit', TrailARN: SHADOW },
      ],
    });

    const [main, shadow] = await reader.readTrails({ details: false });

    expect(main.attributes).toEqual({
      trail: 'exists',
      kms_key_id: KEY,
      multi_region: true,
      log_file_validation: true,
      s3_bucket_name: 'org-audit-logs',
      organization_trail: true,
      include_global_service_events: false,
    });
    expect(Object.keys(shadow.attributes).sort()).toEqual([
      'kms_key_id',
      'log_file_validation',
      'multi_region',
      'trail',
    ]);
  });

  /** PutEventSelectors__panther__1's request, with `selectors` as CloudTrail records them. */
  const recorded = (field: 'eventSelectors' | 'advancedEventSelectors', selectors: unknown[]) => {
    const request = sample('PutEventSelectors__panther__1').requestParameters as Record<string, unknown>;
    delete request.eventSelectors;
    return { ...request, [field]: selectors };
  };

  it('reads advanced selectors as the core reads the PutEventSelectors record that set them', async () => {
    // Prepare: the same selectors, as the SDK answers GetEventSelectors (in its own order, names CloudTrail kept,
    // operators it leaves unset) and as CloudTrail recorded the PutEventSelectors that set them.
    trailMock.on(GetTrailStatusCommand).resolves({ $metadata, IsLogging: true });
    trailMock.on(GetEventSelectorsCommand).resolves({
      $metadata,
      TrailARN: TRAIL,
      AdvancedEventSelectors: [
        {
          Name: 'KMS calls through VPC endpoints',
          FieldSelectors: [
            { Field: 'eventSource', Equals: ['kms.amazonaws.com'] },
            { Field: 'eventCategory', Equals: ['NetworkActivity'] },
          ],
        },
        {
          Name: 'Management events',
          FieldSelectors: [{ Field: 'eventCategory', Equals: ['Management'] }],
        },
        {
          Name: 'Payroll export objects',
          FieldSelectors: [
            { Field: 'eventCategory', Equals: ['Data'] },
            { Field: 'resources.type', Equals: ['AWS::S3::Object'] },
            { Field: 'resources.ARN', StartsWith: ['arn:aws:s3:::payroll-exports/'], NotEndsWith: ['.tmp'] },
          ],
        },
      ],
    });
    const request = recorded('advancedEventSelectors', [
      { name: 'Management events', fieldSelectors: [{ field: 'eventCategory', equals: ['Management'] }] },
      {
        name: 'Payroll export objects',
        fieldSelectors: [
          { field: 'eventCategory', equals: ['Data'] },
          { field: 'resources.type', equals: ['AWS::S3::Object'] },
          { field: 'resources.ARN', startsWith: ['arn:aws:s3:::payroll-exports/'], notEndsWith: ['.tmp'] },
        ],
      },
      {
        name: 'KMS calls through VPC endpoints',
        fieldSelectors: [
          { field: 'eventCategory', equals: ['NetworkActivity'] },
          { field: 'eventSource', equals: ['kms.amazonaws.com'] },
        ],
      },
    ]);

    // Act
    const { attributes } = await reader.readTrail(TRAIL);

    // Assess
    expect(attributes.event_selectors).toEqual(normalizeSelectors(request));
    expect((attributes.event_selectors as { data_resources: unknown[] }).data_resources).toHaveLength(2);
  });

  it('reads basic selectors with data resources as the core reads the PutEventSelectors record that set them', async () => {
    const lambda = 'arn:aws:lambda:us-east-1:143434273843:function:payroll-export';
    trailMock.on(GetTrailStatusCommand).resolves({ $metadata, IsLogging: true });
    trailMock.on(GetEventSelectorsCommand).resolves({
      $metadata,
      TrailARN: TRAIL,
      EventSelectors: [
        {
          ReadWriteType: 'WriteOnly',
          IncludeManagementEvents: true,
          ExcludeManagementEventSources: ['kms.amazonaws.com'],
          DataResources: [
            { Type: 'AWS::Lambda::Function', Values: [lambda] },
            { Type: 'AWS::S3::Object', Values: ['arn:aws:s3:::payroll-exports/', 'arn:aws:s3:::audit/'] },
          ],
        },
      ],
    });
    const request = recorded('eventSelectors', [
      {
        readWriteType: 'WriteOnly',
        includeManagementEvents: true,
        excludeManagementEventSources: ['kms.amazonaws.com'],
        dataResources: [
          { type: 'AWS::S3::Object', values: ['arn:aws:s3:::audit/', 'arn:aws:s3:::payroll-exports/'] },
          { type: 'AWS::Lambda::Function', values: [lambda] },
        ],
      },
    ]);

    const { attributes } = await reader.readTrail(TRAIL);

    expect(attributes.event_selectors).toEqual(normalizeSelectors(request));
  });

  it('lets the reconciler see a bucket change no event explained, and undo it', async () => {
    // Prepare: the baseline CloudTrail's CreateTrail answer gave; the live trail now writes elsewhere.
    const approved = {
      trail: 'exists',
      kms_key_id: KEY,
      multi_region: true,
      log_file_validation: true,
      s3_bucket_name: 'org-audit-logs',
      organization_trail: true,
      include_global_service_events: true,
    };
    trailMock.on(DescribeTrailsCommand).resolves({
      $metadata,
      trailList: [
        {
          Name: 'org-audit',
          TrailARN: TRAIL,
          S3BucketName: 'attacker-bucket-999988887777',
          IsOrganizationTrail: false,
          IncludeGlobalServiceEvents: true,
          IsMultiRegionTrail: true,
          LogFileValidationEnabled: true,
          KmsKeyId: KEY,
        },
      ],
    });
    const [live] = await reader.readTrails({ details: false });

    // Act
    const finding = reconcileResource(
      { baseline: snapshotFromState('trail', TRAIL, approved), live, nowMs: Date.parse('2026-10-03T12:00:00Z') },
      new MemoryStore(),
      DEFAULT_CONFIG,
    );

    // Assess
    expect(finding).toMatchObject({
      status: 'drift',
      severity: 'error',
      changes: {
        s3_bucket_name: { before: 'org-audit-logs', after: 'attacker-bucket-999988887777' },
        organization_trail: { before: true, after: false },
      },
      remediation: [
        `aws cloudtrail update-trail --name ${TRAIL} --region us-east-1 --is-organization-trail`,
        `aws cloudtrail update-trail --name ${TRAIL} --region us-east-1 --s3-bucket-name org-audit-logs`,
      ],
    });
  });
});
