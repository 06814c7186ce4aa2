/**
 * Loads the public CloudTrail records and KMS API responses in `../shared/samples` (see its SOURCES.md). CI
 * clones the repository with `shared/` beside it, so the folder is found relative to this file. Every call
 * returns a fresh copy: tests may mutate what they get.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const SHARED_DIR = path.resolve(__dirname, '../../../shared');
export const CLOUDTRAIL_SAMPLES_DIR = path.join(SHARED_DIR, 'samples', 'cloudtrail');
export const KMS_API_SAMPLES_DIR = path.join(SHARED_DIR, 'samples', 'kms-api');

type Json = Record<string, unknown>;

/** A CloudTrail record (or a native KMS EventBridge event) as the samples hold it. */
export interface CloudTrailRecord {
  eventID?: string;
  eventName?: string;
  eventTime?: string;
  eventSource?: string;
  eventType?: string;
  awsRegion?: string;
  recipientAccountId?: string;
  errorCode?: string;
  errorMessage?: string;
  userIdentity?: Json | null;
  requestParameters?: Json | null;
  responseElements?: Json | null;
  additionalEventData?: Json | null;
  resources?: Json[] | null;
  [field: string]: unknown;
}

const cache = new Map<string, unknown>();

function load(file: string): unknown {
  if (!cache.has(file)) cache.set(file, JSON.parse(readFileSync(file, 'utf8')));
  return structuredClone(cache.get(file));
}

/** `samples/cloudtrail/<name>.json`, e.g. `sample('PutKeyPolicy__awskmsdg__1')`. */
export function sample(name: string): CloudTrailRecord {
  return load(path.join(CLOUDTRAIL_SAMPLES_DIR, `${name}.json`)) as CloudTrailRecord;
}

/** Names of every valid-JSON CloudTrail sample (without `.json`), sorted. */
export function sampleNames(): string[] {
  return readdirSync(CLOUDTRAIL_SAMPLES_DIR)
    .filter((file) => file.endsWith('.json'))
    .map((file) => file.slice(0, -'.json'.length))
    .sort();
}

/** The verbatim text of a sample that is not valid JSON in its source (`malformed-in-source/<name>.json.txt`). */
export function malformedSampleText(name: string): string {
  return readFileSync(path.join(CLOUDTRAIL_SAMPLES_DIR, 'malformed-in-source', `${name}.json.txt`), 'utf8');
}

/** `samples/kms-api/<name>.json`: a cloud-custodian placebo recording `{ status_code, data }`. */
export function kmsApiSample(name: string): { status_code: number; data: Json } {
  return load(path.join(KMS_API_SAMPLES_DIR, `${name}.json`)) as { status_code: number; data: Json };
}
