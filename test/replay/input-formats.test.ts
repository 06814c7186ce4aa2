/**
 * The replay reads every input format DESIGN.md lists ("Input formats the replay reads"): S3 log files
 * (plain and gzipped), folders of them, single records, EventBridge events (CloudTrail envelopes and KMS's
 * native events), JSON Lines of any of these, and standard input. Each is shown through `replay()`, and the
 * main ones again through the real binary.
 */
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { DEFAULT_CONFIG } from '../../lambda/core/config';
import type { Finding } from '../../lambda/core/types';
import { replay } from '../../lambda/replay/replay';
import {
  type Json,
  jsonLines,
  parseFindings,
  replayInProcess,
  runKeydrift,
  sample,
  tempDir,
  writeFile,
} from '../helpers/keydrift';
import { EXAMPLE_LOG, exampleRecords, jqPretty } from './example-log';

const KEY = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

/** An "AWS API Call via CloudTrail" event as EventBridge delivers it, with the record as `detail`. */
function envelope(record: Json, id: string): Json {
  return {
    version: '0',
    id,
    'detail-type': 'AWS API Call via CloudTrail',
    source: 'aws.kms',
    account: record.recipientAccountId,
    time: record.eventTime,
    region: record.awsRegion,
    resources: [],
    detail: record,
  };
}

const eventIdOf = (name: string): string => {
  const raw = sample(name);
  return String(raw.eventID ?? raw.id);
};

const ids = (findings: Finding[]): string[] => findings.map((f) => f.eventId).sort();

let root: string;
const file: Record<string, string> = {};
const logDay = 'AWSLogs/111122223333/CloudTrail/us-west-2/2022/09/01';

beforeAll(() => {
  root = path.join(tempDir(), 'logs');
  file.s3Json = writeFile(path.join(root, logDay, '111122223333_CloudTrail_us-west-2_20220901T1935Z_a1.json'), {
    Records: [
      sample('DisableKey__awskmsdg__1'),
      sample('Decrypt__awskmsdg__2'),
      sample('CreateBucket__awscweug__1').detail,
    ],
  });
  file.s3Gz = writeFile(
    path.join(root, logDay, '111122223333_CloudTrail_us-west-2_20220901T2010Z_b2.json.gz'),
    gzipSync(JSON.stringify({ Records: [sample('TagResource__awskmsdg__1')] })),
  );
  file.digest = writeFile(
    path.join(
      root,
      'AWSLogs/111122223333/CloudTrail-Digest/us-west-2/2022/09/01',
      '111122223333_CloudTrail-Digest_us-west-2_org-audit_us-west-2_20220901T200000Z.json.gz',
    ),
    gzipSync(
      JSON.stringify({
        awsAccountId: '111122223333',
        digestStartTime: '2022-09-01T19:00:00Z',
        digestEndTime: '2022-09-01T20:00:00Z',
        digestS3Bucket: 'org-audit-logs',
        digestS3Object: 'AWSLogs/111122223333/CloudTrail-Digest/us-west-2/2022/09/01/digest.json.gz',
        digestPublicKeyFingerprint: '0123456789abcdef0123456789abcdef',
        digestSignatureAlgorithm: 'SHA256withRSA',
        newestEventTime: '2022-09-01T19:59:00Z',
        oldestEventTime: '2022-09-01T19:01:00Z',
        previousDigestS3Bucket: null,
        previousDigestSignature: null,
        logFiles: [
          {
            s3Bucket: 'org-audit-logs',
            s3Object: `${logDay}/111122223333_CloudTrail_us-west-2_20220901T1935Z_a1.json.gz`,
            hashValue: '00',
            hashAlgorithm: 'SHA-256',
            newestEventTime: '2022-09-01T19:31:39Z',
            oldestEventTime: '2022-09-01T19:22:40Z',
          },
        ],
      }),
    ),
  );
  file.readme = writeFile(path.join(root, 'README.txt'), 'exported from s3://org-audit-logs\n');
  file.single = writeFile(path.join(root, 'single', 'put-key-policy.json'), sample('PutKeyPolicy__awskmsdg__1'));
  file.envelope = writeFile(
    path.join(root, 'eventbridge', 'update-key-description.json'),
    envelope(sample('UpdateKeyDescription__awskmsdg__1'), '0b0d2b9c-1e4f-4d0a-9c55-6a3c1f7e2d10'),
  );
  file.nativeDeletion = writeFile(path.join(root, 'native', 'deletion.json'), sample('KMSCMKDeletion__awskmsdg__1'));
  file.nativeExpiration = writeFile(
    path.join(root, 'native', 'expiration.json'),
    sample('KMSImportedKeyMaterialExpiration__awskmsdg__1'),
  );
  file.jsonl = writeFile(
    path.join(root, 'mixed.jsonl'),
    jsonLines([
      { Records: [sample('EnableKey__awskmsdg__1'), sample('Decrypt__awskmsdg__3')] },
      sample('UntagResource__awskmsdg__1'),
      envelope(sample('EnableKeyRotation__awskmsdg__1'), '5f2c7a41-8d3e-4b6f-a1c9-0e7d3b2a4f58'),
      sample('KMSCMKRotation__awskmsdg__1'),
      sample('CreateBucket__awscweug__1'),
    ]),
  );
  file.jsonlGz = writeFile(
    path.join(root, 'mixed.jsonl.gz'),
    gzipSync(
      jsonLines([
        { Records: [sample('RevokeGrant__awskmsdg__1')] },
        sample('DisableKeyRotation__awskmsdg__1'),
        envelope(sample('ScheduleKeyDeletion__awskmsdg__3'), '9a4e1c3b-7f2d-4e8a-b6c0-d1f3a5e7c9b2'),
      ]),
    ),
  );
});

/** Every finding the fixture folder holds, by eventID. */
const ALL_IDS = [
  'DisableKey__awskmsdg__1',
  'TagResource__awskmsdg__1',
  'PutKeyPolicy__awskmsdg__1',
  'UpdateKeyDescription__awskmsdg__1',
  'KMSCMKDeletion__awskmsdg__1',
  'KMSImportedKeyMaterialExpiration__awskmsdg__1',
  'EnableKey__awskmsdg__1',
  'UntagResource__awskmsdg__1',
  'EnableKeyRotation__awskmsdg__1',
  'KMSCMKRotation__awskmsdg__1',
  'RevokeGrant__awskmsdg__1',
  'DisableKeyRotation__awskmsdg__1',
  'ScheduleKeyDeletion__awskmsdg__3',
];

describe('replay() reads', () => {
  test('an S3 log file {"Records": [...]} as .json: writes become findings, reads and other services are counted', async () => {
    const { findings, summary } = await replayInProcess([file.s3Json]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      event: 'DisableKey',
      eventId: eventIdOf('DisableKey__awskmsdg__1'),
      resource: KEY,
    });
    expect(summary).toMatchObject({ inputs: 1, inputsRead: 1, records: 3, writes: 1, reads: 1, others: 1 });
    expect(summary.skipped).toEqual([]);
    expect(summary.recordErrors).toEqual([]);
  });

  test('an S3 log file as .json.gz', async () => {
    const { findings, summary } = await replayInProcess([file.s3Gz]);
    expect(findings.map((f) => [f.event, f.resource])).toEqual([['TagResource', KEY]]);
    expect(findings[0].changes.tags.after).toEqual({ Department: 'IT' });
    expect(summary).toMatchObject({ records: 1, writes: 1 });
  });

  test('a folder recursively, skipping the CloudTrail-Digest file and the non-log file with their reasons', async () => {
    const { findings, summary } = await replayInProcess([root]);
    expect(ids(findings)).toEqual(ALL_IDS.map(eventIdOf).sort());
    expect(summary.inputs).toBe(9);
    expect(summary.skipped).toEqual(
      expect.arrayContaining([
        { source: file.digest, reason: 'CloudTrail digest file (no records)' },
        { source: file.readme, reason: 'not a .json, .jsonl or .ndjson file, gzipped or not' },
      ]),
    );
    expect(summary.skipped).toHaveLength(2);
    expect(summary.recordErrors).toEqual([]);
  });

  test('a single CloudTrail record', async () => {
    const { findings } = await replayInProcess([file.single]);
    expect(findings.map((f) => [f.event, f.eventId, f.resource])).toEqual([
      ['PutKeyPolicy', eventIdOf('PutKeyPolicy__awskmsdg__1'), KEY],
    ]);
  });

  test('an EventBridge "AWS API Call via CloudTrail" event, judged by the record in its detail', async () => {
    const { findings, summary } = await replayInProcess([file.envelope]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      service: 'kms',
      event: 'UpdateKeyDescription',
      eventId: eventIdOf('UpdateKeyDescription__awskmsdg__1'),
      resource: KEY,
      user: 'arn:aws:iam::111122223333:user/Alice',
      changes: { description: { after: 'New key description' } },
    });
    expect(summary.records).toBe(1);
  });

  test("KMS's native events: KMS CMK Deletion, Imported Key Material Expiration and CMK Rotation", async () => {
    const { findings } = await replayInProcess([file.nativeDeletion, file.nativeExpiration, file.jsonl]);
    const native = findings.filter((f) => f.event.startsWith('KMS '));
    expect(native.map((f) => [f.event, f.severity, f.resource, f.eventId])).toEqual([
      ['KMS CMK Rotation', 'info', KEY, eventIdOf('KMSCMKRotation__awskmsdg__1')],
      [
        'KMS Imported Key Material Expiration',
        'error',
        KEY,
        eventIdOf('KMSImportedKeyMaterialExpiration__awskmsdg__1'),
      ],
      ['KMS CMK Deletion', 'critical', KEY, eventIdOf('KMSCMKDeletion__awskmsdg__1')],
    ]);
  });

  test('JSON Lines mixing a log file, a record, an EventBridge envelope, a native event and another service', async () => {
    const { findings, summary } = await replayInProcess([file.jsonl]);
    expect(ids(findings)).toEqual(
      [
        'EnableKey__awskmsdg__1',
        'UntagResource__awskmsdg__1',
        'EnableKeyRotation__awskmsdg__1',
        'KMSCMKRotation__awskmsdg__1',
      ]
        .map(eventIdOf)
        .sort(),
    );
    expect(summary).toMatchObject({ records: 6, writes: 4, reads: 1, others: 1 });
    expect(summary.recordErrors).toEqual([]);
  });

  test('gzipped JSON Lines (.jsonl.gz)', async () => {
    const { findings } = await replayInProcess([file.jsonlGz]);
    expect(findings.map((f) => f.event)).toEqual(['ScheduleKeyDeletion', 'DisableKeyRotation', 'RevokeGrant']);
  });

  test('- as standard input, plain and gzipped', async () => {
    const text = Buffer.from(jsonLines([sample('DisableKey__awskmsdg__1'), sample('TagResource__awskmsdg__1')]));
    for (const input of [text, gzipSync(text)]) {
      const { findings, summary } = await replay(['-'], { config: DEFAULT_CONFIG, stdin: Readable.from([input]) });
      expect(findings.map((f) => f.event)).toEqual(['DisableKey', 'TagResource']);
      expect(summary).toMatchObject({ inputs: 1, inputsRead: 1, records: 2 });
    }
  });

  test("jq's default output: a log file, a record and an EventBridge event pretty-printed one after another", async () => {
    // Prepare: a string holding quotes, brackets and a final backslash does not end a value.
    const untag = { ...sample('UntagResource__awskmsdg__1'), userAgent: 'tool "v2" }]{[\\' };
    const text = jqPretty([
      { Records: [sample('EnableKey__awskmsdg__1'), sample('Decrypt__awskmsdg__3')] },
      untag,
      envelope(sample('EnableKeyRotation__awskmsdg__1'), '5f2c7a41-8d3e-4b6f-a1c9-0e7d3b2a4f58'),
      sample('CreateBucket__awscweug__1'),
    ]);
    const file = writeFile(path.join(tempDir(), 'jq-output.json'), text);
    // Act
    const { findings, summary } = await replayInProcess([file]);
    // Assess
    expect(ids(findings)).toEqual(
      ['EnableKey__awskmsdg__1', 'UntagResource__awskmsdg__1', 'EnableKeyRotation__awskmsdg__1'].map(eventIdOf).sort(),
    );
    expect(summary).toMatchObject({ records: 5, writes: 3, reads: 1, others: 1, recordErrors: [], skipped: [] });
  });

  test("jq's default output whose records hold an empty object in an array (a line holding only `{}`)", async () => {
    const enable = { ...sample('EnableKey__awskmsdg__1'), additionalEventData: { constraints: [{}] } };
    const text = jqPretty([enable, sample('UntagResource__awskmsdg__1')]);
    expect(text.split('\n').some((line) => line.trim() === '{}')).toBe(true);
    const file = writeFile(path.join(tempDir(), 'jq-output.json'), text);

    const { findings, summary } = await replayInProcess([file]);

    expect(ids(findings)).toEqual(['EnableKey__awskmsdg__1', 'UntagResource__awskmsdg__1'].map(eventIdOf).sort());
    expect(summary).toMatchObject({ records: 2, recordErrors: [] });
  });

  test("JSON Lines then jq's default output, then JSON Lines again: every value counts, named by its line or number", async () => {
    // Prepare: the compact lines are read line by line; the pretty-printed values, where that stops, value by value.
    const text = [
      jsonLines([sample('EnableKey__awskmsdg__1'), sample('Decrypt__awskmsdg__3')]),
      jqPretty([
        { Records: [sample('UntagResource__awskmsdg__1'), 'not a record'] },
        sample('CreateBucket__awscweug__1'),
      ]),
      jsonLines([sample('EnableKeyRotation__awskmsdg__1'), 42]),
    ].join('');
    const file = writeFile(path.join(tempDir(), 'mixed.jsonl'), text);
    const lastLine = text.trimEnd().split('\n').length;
    // Act
    const { findings, summary } = await replayInProcess([file]);
    // Assess
    expect(ids(findings)).toEqual(
      ['EnableKey__awskmsdg__1', 'UntagResource__awskmsdg__1', 'EnableKeyRotation__awskmsdg__1'].map(eventIdOf).sort(),
    );
    expect(summary).toMatchObject({ records: 5, writes: 3, reads: 1, others: 1 });
    expect(summary.recordErrors).toEqual([
      `${file}: value 3 (line 3) Records[1]: a string, not a JSON object`,
      `${file}: line ${lastLine}: a number, not a JSON object`,
    ]);
  });

  test('standard input together with files', async () => {
    const stdin = Buffer.from(JSON.stringify(sample('EnableKey__awskmsdg__1')));
    const { findings } = await replay(['-', file.s3Gz], { config: DEFAULT_CONFIG, stdin: Readable.from([stdin]) });
    expect(findings.map((f) => f.event)).toEqual(['EnableKey', 'TagResource']);
  });
});

describe('a folder named that holds no log file', () => {
  const NO_LOG_FILES = 'no .json, .jsonl or .ndjson files (gzipped or not) in it';

  test('is skipped by name: empty, or with other files only (each named too)', async () => {
    // Prepare
    const empty = tempDir();
    const notes = tempDir();
    const readme = writeFile(path.join(notes, 'sub', 'README.txt'), 'not a log');
    // Act
    const { summary } = await replayInProcess([empty, notes]);
    // Assess
    expect(summary.skipped).toEqual([
      { source: empty, reason: NO_LOG_FILES },
      { source: readme, reason: 'not a .json, .jsonl or .ndjson file, gzipped or not' },
      { source: notes, reason: NO_LOG_FILES },
    ]);
    expect(summary).toMatchObject({ inputs: 0, inputsRead: 0 });
  });

  test('is not said of a folder with a log file at any depth, of its empty subfolders, or of one already read', async () => {
    // Prepare
    const dir = tempDir();
    writeFile(path.join(dir, 'a', 'b', 'log.json.gz'), gzipSync(JSON.stringify({ Records: [] })));
    writeFile(path.join(dir, 'empty', '.keep'), '');
    // Act: the subfolder named first, then its parent, which holds nothing else; then the parent again.
    const { summary } = await replayInProcess([path.join(dir, 'a'), dir, dir]);
    // Assess
    expect(summary.skipped).toEqual([
      { source: path.join(dir, 'empty', '.keep'), reason: 'not a .json, .jsonl or .ndjson file, gzipped or not' },
    ]);
    expect(summary).toMatchObject({ inputs: 1, inputsRead: 1 });
  });
});

describe('keydrift replay (the real binary) reads', () => {
  test('a folder holding every format; the summary names the skipped digest and non-log files', () => {
    const run = runKeydrift(['replay', '--format', 'json', '--fail-on', 'never', root], { cwd: tempDir() });
    expect(run.status).toBe(0);
    expect(ids(parseFindings(run.stdout))).toEqual(ALL_IDS.map(eventIdOf).sort());
    // CreateBucket is there twice: as a log file's record and as the EventBridge event delivering it.
    expect(run.stderr).toContain(
      'keydrift replay: 9 input(s), 16 records (13 KMS/trail writes, 2 KMS/trail reads, 1 other services)',
    );
    expect(run.stderr).toContain('1 duplicate record(s) counted once');
    expect(run.stderr).toContain(`skipped ${file.digest}: CloudTrail digest file (no records)`);
    expect(run.stderr).toContain(`skipped ${file.readme}: not a .json, .jsonl or .ndjson file, gzipped or not`);
  });

  test('- as standard input, plain', () => {
    const input = jsonLines([sample('DisableKey__awskmsdg__1'), envelope(sample('TagResource__awskmsdg__1'), 'e-1')]);
    const run = runKeydrift(['replay', '--format', 'json', '-'], { cwd: tempDir(), input });
    expect(run.status).toBe(1);
    expect(parseFindings(run.stdout).map((f) => [f.event, f.resource])).toEqual([
      ['DisableKey', KEY],
      ['TagResource', KEY],
    ]);
    expect(run.stderr).toContain('1 input(s), 2 records');
  });

  test("- as standard input, jq's default output: the log's writes, the same findings as the log file itself", () => {
    // jq '.Records[] | select(.readOnly == false)' log.json | keydrift replay -
    const input = jqPretty(exampleRecords().filter((r) => r.readOnly === false));
    const piped = runKeydrift(['replay', '--format', 'json', '-'], { cwd: tempDir(), input });
    const direct = runKeydrift(['replay', '--format', 'json', EXAMPLE_LOG], { cwd: tempDir() });
    expect(piped.status).toBe(1);
    expect(piped.stderr).toContain('keydrift replay: 1 input(s), 3 records (3 KMS/trail writes');
    expect(piped.stderr).not.toContain('bad record');
    expect(parseFindings(piped.stdout)).toEqual(parseFindings(direct.stdout));
    expect(parseFindings(piped.stdout).map((f) => f.event)).toEqual([
      'DisableKeyRotation',
      'PutKeyPolicy',
      'TagResource',
    ]);
  });

  test('- as standard input, gzip piped', () => {
    const input = gzipSync(JSON.stringify({ Records: [sample('EnableKey__awskmsdg__1')] }));
    const run = runKeydrift(['replay', '--format', 'json', '-'], { cwd: tempDir(), input });
    expect(run.status).toBe(0);
    expect(parseFindings(run.stdout).map((f) => [f.event, f.status, f.resource])).toEqual([
      ['EnableKey', 'drift', KEY],
    ]);
  });
});

describe('aws cloudtrail lookup-events output', () => {
  /** An event as `aws cloudtrail lookup-events` prints it: a summary of the call, and the record as a JSON string. */
  const lookupEvent = (record: Json): Json => ({
    EventId: record.eventID,
    EventName: record.eventName,
    ReadOnly: String(record.readOnly ?? false),
    EventTime: record.eventTime,
    EventSource: record.eventSource,
    Username: (record.userIdentity as Json).userName,
    Resources: [],
    CloudTrailEvent: JSON.stringify(record),
  });
  const RECORDS = ['DisableKey__awskmsdg__1', 'Decrypt__awskmsdg__2', 'TagResource__awskmsdg__1'];
  const events = (): Json[] => RECORDS.map((name) => lookupEvent(sample(name)));
  const WRITES = ['DisableKey__awskmsdg__1', 'TagResource__awskmsdg__1'].map(eventIdOf).sort();

  test('the whole output, its --query Events array and JSON Lines of its events (jq -c) are read by each CloudTrailEvent', async () => {
    // Prepare
    const dir = tempDir();
    const files = [
      writeFile(path.join(dir, 'lookup.json'), JSON.stringify({ Events: events() }, null, 4)),
      writeFile(path.join(dir, 'events.json'), JSON.stringify(events(), null, 2)),
      writeFile(path.join(dir, 'events.jsonl'), jsonLines(events())),
    ];
    for (const file of files) {
      // Act
      const { findings, summary } = await replayInProcess([file]);
      // Assess
      expect({ file, ids: ids(findings) }).toEqual({ file, ids: WRITES });
      expect(summary).toMatchObject({ inputsRead: 1, records: 3, writes: 2, reads: 1, recordErrors: [], skipped: [] });
    }
  });

  test('one page of it (--max-items: it ends with a NextToken) is read, and said to miss the events after it', async () => {
    const dir = tempDir();
    const page = writeFile(path.join(dir, 'page.json'), { Events: events(), NextToken: 'eyJ2IjoyfQ==' });
    // Pages one after another (jq -c of each), the last one fetched still with a NextToken.
    const pages = writeFile(
      path.join(dir, 'pages.jsonl'),
      jsonLines([{ Events: events().slice(0, 1) }, { Events: events().slice(1), NextToken: 'eyJ2IjozfQ==' }]),
    );
    const { findings, summary } = await replayInProcess([page, pages]);
    expect(ids(findings)).toEqual(WRITES);
    expect(summary.recordErrors).toEqual([
      `${page}: NextToken: one page of lookup-events output: the events after it were not fetched (run it without ` +
        '--max-items or --no-paginate, or again with --starting-token)',
      expect.stringMatching(new RegExp(`^${pages}: line 2 NextToken: one page of lookup-events output: `)),
    ]);
  });

  test('an event whose CloudTrailEvent is not valid JSON is a bad record naming its place; the others count', async () => {
    const broken = events();
    broken[1].CloudTrailEvent = String(broken[1].CloudTrailEvent).slice(0, 100);
    const file = writeFile(path.join(tempDir(), 'lookup.json'), { Events: broken });
    const { findings, summary } = await replayInProcess([file]);
    expect(ids(findings)).toEqual(WRITES);
    expect(summary.recordErrors).toEqual([
      expect.stringMatching(new RegExp(`^${file}: Events\\[1\\]: CloudTrailEvent is not valid JSON \\(`)),
    ]);
    expect(summary).toMatchObject({ records: 2, writes: 2, reads: 0 });
  });

  test('through the binary from standard input: the same findings as a log file of the same records', () => {
    const dir = tempDir();
    const log = writeFile(path.join(dir, 'log.json'), { Records: RECORDS.map(sample) });
    const input = JSON.stringify({ Events: events() });
    const fromLookup = runKeydrift(['replay', '--format', 'json', '-'], { cwd: dir, input });
    const fromLog = runKeydrift(['replay', '--format', 'json', log], { cwd: dir });
    expect(parseFindings(fromLookup.stdout)).toHaveLength(2);
    expect(parseFindings(fromLookup.stdout)).toEqual(parseFindings(fromLog.stdout));
    expect(fromLookup.status).toBe(fromLog.status);
  });
});
