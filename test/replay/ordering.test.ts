/**
 * CloudTrail delivers log files out of order and sometimes delivers a record twice. The replay judges
 * records in eventTime order whatever the file order, and judges each eventID once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXAMPLES, type Json, replayInProcess, sample, tempDir, writeFile } from '../helpers/keydrift';

const KEY = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

/** A sample record moved to another time, with its own eventID. */
function at(name: string, eventTime: string, eventID: string): Json {
  return { ...sample(name), eventTime, eventID };
}

const disable = at('DisableKey__awskmsdg__1', '2026-10-03T10:00:00Z', '11111111-0000-4000-8000-000000000001');
const enable = at('EnableKey__awskmsdg__1', '2026-10-03T11:00:00Z', '11111111-0000-4000-8000-000000000002');

describe('records are judged in eventTime order, whatever the file order', () => {
  let dir: string;
  let fileA: string;
  let fileB: string;

  beforeAll(() => {
    dir = tempDir();
    // File A comes first by name (and is given first) but holds the later record.
    fileA = writeFile(path.join(dir, 'a-1100.json'), { Records: [enable] });
    fileB = writeFile(path.join(dir, 'b-1000.json'), { Records: [disable] });
  });

  test('DisableKey at 10:00 in file B, then EnableKey at 11:00 in file A: the EnableKey is resolved', async () => {
    for (const paths of [[fileA, fileB], [fileB, fileA], [dir]]) {
      const { findings } = await replayInProcess(paths);
      expect(findings.map((f) => [f.timestamp, f.event, f.status, f.severity, f.resource])).toEqual([
        ['2026-10-03T10:00:00Z', 'DisableKey', 'drift', 'critical', KEY],
        ['2026-10-03T11:00:00Z', 'EnableKey', 'resolved', 'info', KEY],
      ]);
      expect(findings[1].summary).toMatch(/back to its baseline/);
    }
  });

  test('records inside one file are sorted too', async () => {
    const file = writeFile(path.join(tempDir(), 'reversed.json'), { Records: [enable, disable] });
    const { findings } = await replayInProcess([file]);
    expect(findings.map((f) => [f.event, f.status])).toEqual([
      ['DisableKey', 'drift'],
      ['EnableKey', 'resolved'],
    ]);
  });
});

describe('the same eventID twice counts once', () => {
  test('a record delivered in two files gives one finding, and the summary reports the duplicate', async () => {
    const dir = tempDir();
    const tag = sample('TagResource__awskmsdg__1');
    writeFile(path.join(dir, 'first.json'), { Records: [disable, tag] });
    writeFile(path.join(dir, 'second.json'), { Records: [tag, enable] });
    const { findings, summary } = await replayInProcess([dir]);
    expect(findings.map((f) => f.event)).toEqual(['TagResource', 'DisableKey', 'EnableKey']);
    expect(findings.filter((f) => f.eventId === tag.eventID)).toHaveLength(1);
    expect(summary).toMatchObject({ records: 3, writes: 3, duplicates: 1 });
    expect(summary.findings).toEqual({ critical: 1, error: 0, warning: 1, info: 1 });
  });

  test('the duplicate in an EventBridge envelope (eventID in detail) is recognised as the same record', async () => {
    const dir = tempDir();
    const tag = sample('TagResource__awskmsdg__1');
    writeFile(path.join(dir, 'log.json'), { Records: [tag] });
    writeFile(path.join(dir, 'event.json'), {
      version: '0',
      id: 'another-id-for-the-envelope',
      'detail-type': 'AWS API Call via CloudTrail',
      source: 'aws.kms',
      account: '111122223333',
      time: tag.eventTime,
      region: 'us-west-2',
      resources: [],
      detail: tag,
    });
    const { findings, summary } = await replayInProcess([dir]);
    expect(findings).toHaveLength(1);
    expect(summary.duplicates).toBe(1);
  });
});

describe('duplicates count once in every category', () => {
  test("a read and another service's record delivered in two files count once each; the duplicates are both counted", async () => {
    // Prepare
    const dir = tempDir();
    const read = sample('Decrypt__awskmsdg__2');
    const other = sample('CreateBucket__awscweug__1').detail;
    writeFile(path.join(dir, 'first.json'), { Records: [read, other] });
    writeFile(path.join(dir, 'second.json'), { Records: [other, read] });
    // Act
    const { summary } = await replayInProcess([dir]);
    // Assess
    expect(summary).toMatchObject({ records: 2, writes: 0, reads: 1, others: 1, duplicates: 2 });
  });

  test('a write that cannot be judged (no eventTime) delivered in two files counts once, its error said once', async () => {
    // Prepare
    const dir = tempDir();
    const { eventTime: _, ...timeless } = sample('TagResource__awskmsdg__1');
    writeFile(path.join(dir, 'first.json'), { Records: [timeless, disable] });
    writeFile(path.join(dir, 'second.json'), { Records: [timeless] });
    // Act
    const { summary } = await replayInProcess([dir]);
    // Assess
    expect(summary).toMatchObject({ records: 2, writes: 2, duplicates: 1 });
    expect(summary.recordErrors).toEqual([
      expect.stringMatching(/first\.json: Records\[0\]: TagResource has no eventTime$/),
    ]);
  });

  test('the examples folder and a copy of it: the same counts as the folder alone, every copied record a duplicate', async () => {
    // Prepare
    const copy = path.join(tempDir(), 'copy');
    fs.cpSync(EXAMPLES, copy, { recursive: true });
    // Act
    const once = await replayInProcess([EXAMPLES]);
    const twice = await replayInProcess([EXAMPLES, copy]);
    // Assess: 58 records, of which one (TagResource) is delivered twice; the copy adds 58 more.
    const counts = { records: 57, writes: 16, reads: 35, others: 6 };
    expect(once.summary).toMatchObject({ ...counts, duplicates: 1 });
    expect(twice.summary).toMatchObject({ ...counts, duplicates: 59 });
    expect(twice.findings).toEqual(once.findings);
  });
});
