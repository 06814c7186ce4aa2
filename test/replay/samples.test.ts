/**
 * Every public CloudTrail sample (../shared/samples/cloudtrail/*.json), replayed on its own: nothing
 * crashes, each watched write yields exactly one finding, and the finding names its resource by a full ARN
 * (DESIGN: "resource is always a full ARN"), whatever form the request used.
 */
import * as fs from 'node:fs';
import { classifyRecord } from '../../lambda/core/normalize';
import { type Json, replayInProcess, SAMPLES, sample, samplePath } from '../helpers/keydrift';

const SAMPLE_NAMES = fs
  .readdirSync(SAMPLES)
  .filter((name) => name.endsWith('.json'))
  .map((name) => name.replace(/\.json$/, ''))
  .sort();

/** StreamAlert redacted these records' trail names to "...": the ARN is as full as the record allows. */
const REDACTED = new Set(['StopLogging__streamalert__1', 'UpdateTrail__streamalert__1']);

/**
 * AWS's sanitized example lists a key of account 227179770375 in resources[] while account 111122223333 recorded it
 * (../shared/samples/SOURCES.md): a call on another account's key, left to that account.
 */
const OTHER_ACCOUNTS = new Set(['CreateKey__awskmsdg__3']);

const FULL_ARN =
  /^arn:aws[\w-]*:(kms|cloudtrail):[a-z0-9-]+:\d{12}:(key|alias|trail|custom-key-store)\/[\w-]+(\/[\w-]+)*$/;

const errorCodeOf = (raw: Json): unknown => raw.errorCode ?? (raw.detail as Json | undefined)?.errorCode;

test('the samples folder is where CI expects it (../shared beside the repository)', () => {
  expect(SAMPLE_NAMES.length).toBeGreaterThanOrEqual(80);
});

describe.each(SAMPLE_NAMES)('%s replayed on its own', (name) => {
  test('reads without errors; a write yields exactly one finding on a full ARN, anything else none', async () => {
    const raw = sample(name);
    const kind = classifyRecord(raw);
    const { findings, summary } = await replayInProcess([samplePath(name)]);
    expect(summary.skipped).toEqual([]);
    expect(summary.recordErrors).toEqual([]);
    expect(summary.records).toBe(1);
    if (kind !== 'write' || OTHER_ACCOUNTS.has(name)) {
      expect(findings).toEqual([]);
      expect(summary.otherAccounts).toBe(OTHER_ACCOUNTS.has(name) ? 1 : 0);
      return;
    }
    expect(findings).toHaveLength(1);
    const [finding] = findings;
    expect(finding.resource).toMatch(REDACTED.has(name) ? /^arn:aws:cloudtrail:/ : FULL_ARN);
    expect(finding.status === 'denied').toBe(!!errorCodeOf(raw));
    // Records without an eventID (a hand-written Panther fixture) get a stable id from their content.
    const id = raw.eventID ?? raw.id;
    expect(finding.eventId).toEqual(typeof id === 'string' ? id : expect.stringMatching(/^synthetic-[0-9a-f]{32}$/));
  });
});

/**
 * The resource each finding must name, worked out by hand from the record. Several AWS examples carry an
 * awsRegion that differs from their key ARN: the key's own ARN (resources[], or a key ARN in the request)
 * wins over anything built from awsRegion.
 */
const EXPECTED_RESOURCE: Array<[sample: string, resource: string, why: string]> = [
  [
    'CancelKeyDeletion__awskmsdg__1',
    'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    'key id in the request, key ARN in resources[]',
  ],
  [
    'DisableKey__awskmsdg__1',
    'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    'awsRegion says us-east-1; resources[] names the us-west-2 key',
  ],
  [
    'CreateGrant__awskmsdg__1',
    'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    'key ARN in the request, awsRegion us-east-1',
  ],
  [
    'CreateKey__awskmsdg__2',
    'arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321',
    'a new key in a CloudHSM key store',
  ],
  [
    'CreateAlias__awskmsdg__1',
    'arn:aws:kms:us-west-2:111122223333:alias/ExampleAlias',
    'alias events name the alias, not its key',
  ],
  [
    'UpdateAlias__awskmsdg__1',
    'arn:aws:kms:us-west-2:111122223333:alias/my_alias',
    'alias name in the request, alias ARN in resources[]',
  ],
  [
    'DeleteAlias__awskmsdg__1',
    'arn:aws:kms:us-east-1:111122223333:alias/my_alias',
    'the alias ARN in resources[] (its key is in us-west-2)',
  ],
  [
    'DeleteKey__awskmsdg__3',
    'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    'a service event with no request: resources[] only',
  ],
  [
    'ScheduleKeyDeletion__awskmsdg__2',
    'arn:aws:kms:us-west-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab',
    'a multi-Region key id (mrk-)',
  ],
  [
    'ScheduleKeyDeletion__panther__1',
    'arn:aws:kms:us-west-2:123456789012:key/1',
    'no resources[]: key id "1" with the record’s Region and account',
  ],
  [
    'PutKeyPolicy__panther__1',
    'arn:aws:kms:us-west-2:123456789012:key/xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx',
    'Panther-normalized: lower-case resources[].arn, eventTime with nanoseconds',
  ],
  [
    'UpdatePrimaryRegion__awskmsdg__2',
    'arn:aws:kms:ap-northeast-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab',
    'no resources[]: the key ARN in the request',
  ],
  [
    'KMSCMKDeletion__awskmsdg__1',
    'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    'a native EventBridge event: its resources[]',
  ],
  ['RotateKey__awsctug__1', 'arn:aws:kms:us-east-2:123456789012:key/7944f0ec-EXAMPLE', 'automatic rotation by KMS'],
  [
    'ConnectCustomKeyStore__awskmsdg__1',
    'arn:aws:kms:us-east-1:111122223333:custom-key-store/cks-1234567890abcdef0',
    'custom key stores have no ARN of their own: the KMS pattern',
  ],
  [
    'CreateCustomKeyStore__awskmsdg__1',
    'arn:aws:kms:us-east-1:111122223333:custom-key-store/cks-1234567890abcdef0',
    'the new store id is only in the response',
  ],
  [
    'DeleteTrail__stratus__1',
    'arn:aws:cloudtrail:megov-westwest-1r:847129010505:trail/stratus-red-team-cloudtraild-trail-kvrwohmiai',
    'a trail name in the request, with the (scrambled) Region and account',
  ],
  [
    'StopLogging__stratus__1',
    'arn:aws:cloudtrail:apiso-centralnorth-2r:143434273843:trail/stratus-red-team-ct-stop-trail-buykxbqejv',
    'a captured StopLogging',
  ],
  [
    'PutEventSelectors__panther__1',
    'arn:aws:cloudtrail:us-west-2:111122223333:trail/sample-cloudtrail-name',
    'trailName in the request, trailARN in the response',
  ],
  [
    'PutEventSelectors__stratus__1',
    'arn:aws:cloudtrail:cn-northsouth-2r:958312252124:trail/stratus-red-team-ctes-trail-khlvciwdor',
    'the trailARN of the response, taken as written',
  ],
  [
    'CreateTrail__panther__1',
    'arn:aws:cloudtrail:us-west-2:123456789012:trail/example-trail',
    'a failed call (denied) whose request names the trail by its ARN',
  ],
];

test.each(EXPECTED_RESOURCE)('%s names %s (%s)', async (name, resource) => {
  const { findings } = await replayInProcess([samplePath(name)]);
  expect(findings.map((f) => f.resource)).toEqual([resource]);
});
