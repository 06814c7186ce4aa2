/**
 * One real log file of the examples folder, for the replay tests that break or reshape a log: nine records (reads,
 * another service's GetObject, then DisableKeyRotation, PutKeyPolicy and TagResource).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXAMPLES, type Json } from '../helpers/keydrift';

export const EXAMPLE_LOG = path.join(
  EXAMPLES,
  'AWSLogs/111122223333/CloudTrail/eu-west-1/2026/10/03',
  '111122223333_CloudTrail_eu-west-1_20261003T1410Z_v8jWUeULqv6BesrD.json',
);

/** The example log's records, as fresh objects a test may change. */
export function exampleRecords(): Json[] {
  return JSON.parse(fs.readFileSync(EXAMPLE_LOG, 'utf8')).Records;
}

/** A value as jq prints it by default: indented by two spaces, one value after another. */
export const jqPretty = (values: unknown[]): string => values.map((v) => `${JSON.stringify(v, null, 2)}\n`).join('');
