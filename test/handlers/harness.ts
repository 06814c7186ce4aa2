/**
 * Helpers for the handler tests: CloudTrail records wrapped as EventBridge delivers them, Powertools output
 * captured from stdout/stderr (Logger and Metrics write there directly, not through `console`), and EMF metric sums.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { parseDetectionConfig } from '../../lambda/core/config';
import { createDetector, type DetectorHandler, type DetectorSettings } from '../../lambda/handlers/detector-app';

export type Json = Record<string, unknown>;

/** A CloudTrail record from fixtures/cloudtrail, as a fresh object each call. */
export function readRecord(name: string): Json {
  return JSON.parse(readFileSync(join(__dirname, 'fixtures', 'cloudtrail', `${name}.json`), 'utf8')) as Json;
}

/** The EventBridge event carrying a CloudTrail record ("AWS API Call via CloudTrail" or the service-event type). */
export function envelope(record: Json): Json {
  const identity = (record.userIdentity ?? {}) as Json;
  return {
    version: '0',
    id: `6a7e8feb-b491-4cf7-a9f1-${String(record.eventID).slice(-12)}`,
    'detail-type':
      record.eventType === 'AwsServiceEvent' ? 'AWS Service Event via CloudTrail' : 'AWS API Call via CloudTrail',
    source: record.eventSource === 'cloudtrail.amazonaws.com' ? 'aws.cloudtrail' : 'aws.kms',
    account: record.recipientAccountId ?? identity.accountId,
    time: record.eventTime,
    region: record.awsRegion,
    resources: [],
    detail: record,
  };
}

export interface CapturedOutput {
  /** Every JSON line written so far (logs and EMF blobs). */
  lines(): Json[];
  /** Sum of a metric's values across EMF blobs, optionally only those with a dimension value. */
  metric(name: string, dimension?: Record<string, string>): number;
  logs(level?: string): Json[];
  restore(): void;
}

export function captureOutput(): CapturedOutput {
  const chunks: string[] = [];
  const capture = (chunk: unknown) => {
    chunks.push(String(chunk));
    return true;
  };
  const out = jest.spyOn(process.stdout, 'write').mockImplementation(capture);
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(capture);
  const lines = () =>
    chunks
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Json);
  return {
    lines,
    metric(name, dimension = {}) {
      let sum = 0;
      for (const line of lines()) {
        const aws = line._aws as { CloudWatchMetrics?: Array<{ Metrics: Array<{ Name: string }> }> } | undefined;
        if (!aws?.CloudWatchMetrics?.some((m) => m.Metrics.some((x) => x.Name === name))) continue;
        if (Object.entries(dimension).some(([k, v]) => line[k] !== v)) continue;
        const value = line[name];
        sum += Array.isArray(value) ? value.reduce((a: number, b: number) => a + b, 0) : Number(value);
      }
      return sum;
    },
    logs(level) {
      return lines().filter((line) => 'level' in line && (!level || line.level === level));
    },
    restore() {
      out.mockRestore();
      err.mockRestore();
    },
  };
}

/** The detector's topics in the handler tests (account 111122223333, us-west-2). */
export const TOPICS = {
  chat: 'arn:aws:sns:us-west-2:111122223333:keydrift-chat',
  email: 'arn:aws:sns:us-west-2:111122223333:keydrift-email',
  page: 'arn:aws:sns:us-west-2:111122223333:keydrift-page',
  ops: 'arn:aws:sns:us-west-2:111122223333:keydrift-ops',
};

/** The detector's last-resort topic, under the AWS managed key for SNS, in the handler tests. */
export const LAST_RESORT_TOPIC = 'arn:aws:sns:us-west-2:111122223333:keydrift-last-resort';

/**
 * Mocks of every client the detector calls, restored after the file's tests. Module level: aws-sdk-client-mock mocks
 * each client class once.
 */
export function mockDetectorClients() {
  const mocks = {
    kmsMock: mockClient(KMSClient),
    snsMock: mockClient(SNSClient),
    eventsMock: mockClient(EventBridgeClient),
    trailMock: mockClient(CloudTrailClient),
    ddbMock: mockClient(DynamoDBClient),
  };
  afterAll(() => {
    for (const mock of Object.values(mocks)) mock.restore();
  });
  return mocks;
}

/**
 * A detector on those mocks, as the stack configures it (table `keydrift`, {@link TOPICS}, alerts from `error`), but
 * silent, never sleeping, and on the test's clock (`now`).
 */
export function mockedDetector(
  dynamodb: DynamoDBClient,
  now: () => number,
  settings: Partial<DetectorSettings> = {},
): DetectorHandler {
  const region = 'us-west-2';
  return createDetector({
    kms: new KMSClient({ region }),
    dynamodb,
    sns: new SNSClient({ region }),
    eventBridge: new EventBridgeClient({ region }),
    cloudtrail: new CloudTrailClient({ region }),
    settings: {
      tableName: 'keydrift',
      topics: TOPICS,
      eventBusName: 'default',
      selfKeyArn: 'arn:aws:kms:us-west-2:111122223333:key/keydrift-own-key',
      opsKeyArn: 'arn:aws:kms:us-west-2:111122223333:key/keydrift-own-key-ops',
      lastResortTopicArn: LAST_RESORT_TOPIC,
      config: parseDetectionConfig({}),
      alertMinSeverity: 'error',
      ...settings,
    },
    logger: new Logger({ serviceName: 'keydrift', logLevel: 'SILENT' }),
    metrics: new Metrics({ serviceName: 'keydrift', namespace: 'KeydriftTest' }),
    sleep: async () => {},
    now,
  });
}
