/**
 * Broken input never stops a replay: a file that is not JSON gets one clear error naming it, a bad line or
 * record is reported with where it is, and everything else still counts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  jsonLines,
  MALFORMED,
  parseFindings,
  replayInProcess,
  runKeydrift,
  sample,
  samplePath,
  tempDir,
  writeFile,
} from '../helpers/keydrift';

/** The AWS documentation examples that are not valid JSON in their source (trailing or missing commas). */
const MALFORMED_FILES = fs
  .readdirSync(MALFORMED)
  .filter((name) => name.endsWith('.json.txt'))
  .sort()
  .map((name) => path.join(MALFORMED, name));

const GOOD = ['DisableKey__awskmsdg__1', 'TagResource__awskmsdg__1', 'UpdateAlias__awskmsdg__1'];

describe('the malformed samples, passed explicitly together with good files', () => {
  test('each malformed file gets one error naming the file and where the JSON breaks; the good files still count', async () => {
    expect(MALFORMED_FILES).toHaveLength(3);
    const { findings, summary } = await replayInProcess([...MALFORMED_FILES, ...GOOD.map(samplePath)]);
    expect(findings.map((f) => f.event).sort()).toEqual(['DisableKey', 'TagResource', 'UpdateAlias']);
    expect(summary.skipped.map((s) => s.source)).toEqual(MALFORMED_FILES);
    for (const { reason } of summary.skipped) {
      expect(reason).toMatch(/^not valid JSON or JSON Lines \(.+ \(line \d+ column \d+\)\)$/);
    }
    // One error per file, not one per line of a pretty-printed document.
    expect(summary.recordErrors).toEqual([]);
    expect(summary).toMatchObject({ inputs: 6, inputsRead: 3, records: 3 });
  });

  test('the error points at the line that breaks (Decrypt: the missing comma after errorCode, line 18)', async () => {
    const decrypt = MALFORMED_FILES.find((f) => f.includes('Decrypt__awskmsdg__1'))!;
    const { summary } = await replayInProcess([decrypt]);
    expect(summary.skipped).toEqual([{ source: decrypt, reason: expect.stringContaining('(line 18 column 5)') }]);
  });

  test('through the binary: the summary names each malformed file, the findings are printed, exit by severity', () => {
    const result = runKeydrift(['replay', '--format', 'json', ...MALFORMED_FILES, ...GOOD.map(samplePath)], {
      cwd: tempDir(),
    });
    expect(result.status).toBe(1);
    expect(parseFindings(result.stdout)).toHaveLength(3);
    for (const file of MALFORMED_FILES) {
      expect(result.stderr).toContain(`skipped ${file}: not valid JSON or JSON Lines`);
    }
    expect(result.stderr).not.toContain('bad record');
    expect(result.stderr).not.toContain('nothing could be read');
  });

  test('when every input is malformed, nothing could be read: exit 2', () => {
    const result = runKeydrift(['replay', ...MALFORMED_FILES], { cwd: tempDir() });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('keydrift replay: nothing could be read');
  });
});

describe('JSON Lines with a bad line', () => {
  test('reports "line N" naming the file and keeps the other lines', async () => {
    const file = path.join(tempDir(), 'events.jsonl');
    const good = jsonLines([sample('DisableKey__awskmsdg__1'), sample('TagResource__awskmsdg__1')]).split('\n');
    writeFile(
      file,
      [good[0], '{"eventSource": "kms.amazonaws.com", "eventName": "PutKeyPolicy",', good[1], ''].join('\n'),
    );
    const { findings, summary } = await replayInProcess([file]);
    expect(findings.map((f) => f.event)).toEqual(['DisableKey', 'TagResource']);
    expect(summary.recordErrors).toEqual([expect.stringMatching(new RegExp(`^${file}: line 2: not valid JSON \\(`))]);
    expect(summary.skipped).toEqual([]);
    expect(summary.records).toBe(2);
  });

  test('the same in a gzipped file, with a line that is JSON but not an object', async () => {
    const file = path.join(tempDir(), 'events.jsonl.gz');
    writeFile(file, gzipSync(`${JSON.stringify(sample('EnableKey__awskmsdg__1'))}\n"just a string"\n`));
    const { findings, summary } = await replayInProcess([file]);
    expect(findings.map((f) => f.event)).toEqual(['EnableKey']);
    expect(summary.recordErrors).toEqual([`${file}: line 2: not a JSON object`]);
  });
});

describe('a record that cannot be judged', () => {
  test('a record without eventTime is reported naming the file and Records[i]; the others still count', async () => {
    const noTime = sample('PutKeyPolicy__awskmsdg__1');
    delete noTime.eventTime;
    const file = writeFile(path.join(tempDir(), 'log.json'), {
      Records: [sample('DisableKey__awskmsdg__1'), noTime, sample('TagResource__awskmsdg__1')],
    });
    const { findings, summary } = await replayInProcess([file]);
    expect(findings.map((f) => f.event)).toEqual(['DisableKey', 'TagResource']);
    expect(summary.recordErrors).toEqual([`${file}: Records[1]: PutKeyPolicy has no valid eventTime (undefined)`]);
    expect(summary).toMatchObject({ records: 3, writes: 3 });
  });

  test('an unreadable eventTime, a write naming no key, and a non-object entry are each reported with their place', async () => {
    const badTime = { ...sample('EnableKey__awskmsdg__1'), eventTime: 'yesterday' };
    const noKey = sample('DisableKey__awskmsdg__1');
    noKey.requestParameters = {};
    delete noKey.resources;
    const file = writeFile(path.join(tempDir(), 'log.json'), {
      Records: [badTime, noKey, 42, sample('TagResource__awskmsdg__1')],
    });
    const { findings, summary } = await replayInProcess([file]);
    expect(findings.map((f) => f.event)).toEqual(['TagResource']);
    expect(summary.recordErrors).toEqual(
      expect.arrayContaining([
        `${file}: Records[0]: EnableKey has no valid eventTime ("yesterday")`,
        expect.stringMatching(new RegExp(`^${file}: Records\\[1\\]: DisableKey .*names no key`)),
        `${file}: Records[2]: not a JSON object`,
      ]),
    );
    expect(summary.recordErrors).toHaveLength(3);
    // A number in Records[] is no record at all: an error, not another service's record.
    expect(summary).toMatchObject({ records: 3, writes: 3, others: 0 });
  });

  test('a file that is JSON but no CloudTrail content is reported, and so are empty and broken gzip files', async () => {
    const dir = tempDir();
    const other = writeFile(path.join(dir, 'package.json'), { name: 'not-a-log' });
    const empty = writeFile(path.join(dir, 'empty.json'), '');
    const broken = writeFile(path.join(dir, 'broken.json.gz'), gzipSync('{"Records": []}').subarray(0, 12));
    const { findings, summary } = await replayInProcess([other, empty, broken]);
    expect(findings).toEqual([]);
    expect(summary.recordErrors).toEqual([]);
    expect(summary.skipped).toEqual([
      {
        source: other,
        reason: 'holds no CloudTrail records (not a CloudTrail log file, CloudTrail record or EventBridge event)',
      },
      { source: empty, reason: 'empty file' },
      { source: broken, reason: expect.stringMatching(/^not a valid gzip file/) },
    ]);
  });

  test('deeply nested arrays are reported, not a crash of the whole replay', async () => {
    const dir = tempDir();
    const deep = writeFile(path.join(dir, 'deep.json'), `${'['.repeat(20000)}${']'.repeat(20000)}`);
    const { findings, summary } = await replayInProcess([deep, samplePath('DisableKey__awskmsdg__1')]);
    expect(findings.map((f) => f.event)).toEqual(['DisableKey']);
    expect(summary.recordErrors).toEqual([`${deep}: [0]: not a JSON object`]);
  });
});
