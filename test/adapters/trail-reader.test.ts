import {
  CloudTrailClient,
  CloudTrailServiceException,
  DescribeTrailsCommand,
  GetEventSelectorsCommand,
  GetTrailStatusCommand,
  TrailNotFoundException,
} from '@aws-sdk/client-cloudtrail';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { RetryableCloudTrailError } from '../../lambda/adapters/errors';
import { createTrailReader } from '../../lambda/adapters/trail-reader';

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
      event_selectors: { management: 'All', excluded_sources: [], data_resources: ['AWS::S3::Object'] },
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
