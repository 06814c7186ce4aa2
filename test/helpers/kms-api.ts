/**
 * Real KMS API responses for adapter tests: cloud-custodian placebo recordings (boto3-parsed, PascalCase, dates as
 * `{"__class__": "datetime", ...}`) turned into what AWS SDK v3 returns or throws, and into KMS wire JSON.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as kms from '@aws-sdk/client-kms';

const FIXTURES = join(__dirname, '..', 'adapters', 'fixtures', 'kms-api');

export interface Recording {
  status_code: number;
  data: Record<string, unknown>;
}

/** A recording by file name without `.json`, e.g. `DescribeKey__custodian__1`. */
export function readRecording(name: string): Recording {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as Recording;
}

type DateDict = {
  __class__: 'datetime';
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  microsecond: number;
};

const isDateDict = (value: unknown): value is DateDict =>
  !!value && typeof value === 'object' && (value as { __class__?: unknown }).__class__ === 'datetime';

/** boto3 datetimes are naive UTC in these recordings. */
function toDate(d: DateDict): Date {
  return new Date(Date.UTC(d.year, d.month - 1, d.day, d.hour, d.minute, d.second, Math.floor(d.microsecond / 1000)));
}

function mapValues(value: unknown, date: (d: DateDict) => unknown): unknown {
  if (isDateDict(value)) return date(value);
  if (Array.isArray(value)) return value.map((v) => mapValues(v, date));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapValues(v, date)]));
  }
  return value;
}

function withoutMetadata(data: Record<string, unknown>): Record<string, unknown> {
  const { ResponseMetadata: _metadata, ...rest } = data;
  return rest;
}

/** The SDK v3 output for a successful recording: same PascalCase fields, `Date` objects, `$metadata`. */
export function sdkOutput<T = Record<string, unknown>>(name: string): T {
  const recording = readRecording(name);
  if (recording.status_code !== 200) throw new Error(`${name} is an error recording; use sdkError`);
  const metadata = recording.data.ResponseMetadata as { RequestId?: string } | undefined;
  return {
    ...(mapValues(withoutMetadata(recording.data), toDate) as Record<string, unknown>),
    $metadata: { httpStatusCode: 200, requestId: metadata?.RequestId },
  } as T;
}

type ExceptionClass = new (opts: { message: string; $metadata: object }) => Error;

/**
 * The error the SDK throws for a KMS error code: the modeled exception class when client-kms has one
 * (`NotFoundException`), else a `KMSServiceException` named after the code (`ThrottlingException`), as the SDK
 * builds for unmodeled codes.
 */
export function kmsError(code: string, message = code, status = 400): Error {
  const modeled = (kms as unknown as Record<string, unknown>)[code] as ExceptionClass | undefined;
  const $metadata = { httpStatusCode: status };
  if (typeof modeled === 'function' && modeled.prototype instanceof kms.KMSServiceException) {
    return new modeled({ message, $metadata });
  }
  return new kms.KMSServiceException({ name: code, $fault: status >= 500 ? 'server' : 'client', message, $metadata });
}

/** The SDK error for an error recording (`status_code` 400 with `Error.Code`). */
export function sdkError(name: string): Error {
  const recording = readRecording(name);
  const error = recording.data.Error as { Code: string; Message?: string } | undefined;
  if (!error) throw new Error(`${name} is not an error recording`);
  return kmsError(error.Code, error.Message ?? error.Code, recording.status_code);
}

/** The HTTP body KMS sends for a recording (awsJson1_1: dates as epoch seconds, errors with `__type`). */
export function wireBody(name: string): string {
  const recording = readRecording(name);
  if (recording.status_code !== 200) {
    const error = recording.data.Error as { Code: string; Message?: string };
    return JSON.stringify({ __type: error.Code, message: error.Message });
  }
  return JSON.stringify(mapValues(withoutMetadata(recording.data), (d) => toDate(d).getTime() / 1000));
}
