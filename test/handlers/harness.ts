/**
 * Helpers for the handler tests: CloudTrail records wrapped as EventBridge delivers them, Powertools output
 * captured from stdout/stderr (Logger and Metrics write there directly, not through `console`), and EMF metric sums.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

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
