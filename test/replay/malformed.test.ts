/**
 * Broken input never stops a replay: a file that is not JSON gets one clear error naming it, a bad line or
 * record is reported with where it is, and everything else still counts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { constants, gzipSync } from 'node:zlib';
import {
  EXAMPLES,
  type Json,
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
import { exampleRecords } from './example-log';

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
    expect(summary.recordErrors).toEqual([`${file}: line 2: broken off where line 3 starts`]);
    expect(summary.skipped).toEqual([]);
    expect(summary.records).toBe(2);
  });

  test('reports each of more bad lines than a call takes arguments (150,000), and still judges the good ones', async () => {
    // Prepare: an export whose exporter wrote a number for each record it could not serialize
    const bad = 150_000;
    const file = path.join(tempDir(), 'events.jsonl');
    writeFile(file, `${jsonLines([sample('DisableKey__awskmsdg__1')])}${'7\n'.repeat(bad)}`);

    // Act
    const { findings, summary } = await replayInProcess([file]);

    // Assess
    expect(findings.map((f) => f.event)).toEqual(['DisableKey']);
    expect(summary.recordErrors).toHaveLength(bad);
    expect(summary.recordErrors.at(-1)).toBe(`${file}: line ${bad + 1}: a number, not a JSON object`);
  });

  test('a line of blanks JSON does not allow (a no-break space) is reported, not skipped as an empty line', async () => {
    const file = path.join(tempDir(), 'events.jsonl');
    const good = jsonLines([sample('DisableKey__awskmsdg__1'), sample('TagResource__awskmsdg__1')]).split('\n');
    writeFile(file, [good[0], '', '\u00a0', good[1], ''].join('\n'));
    const { findings, summary } = await replayInProcess([file]);
    expect(findings.map((f) => f.event)).toEqual(['DisableKey', 'TagResource']);
    expect(summary.recordErrors).toEqual([expect.stringMatching(new RegExp(`^${file}: line 3: not valid JSON \\(`))]);
  });

  test('a line break written raw in a string, a `{` after it, is reported where it is, not as broken off or truncated', async () => {
    // Prepare: the middle line's, then the last line's userAgent holds a raw line break (an exporter that did not escape it).
    const dir = tempDir();
    const rawBreak = (record: Json) =>
      JSON.stringify({ ...record, userAgent: 'aws-cli\n{x}' }).replace('aws-cli\\n{x}', 'aws-cli\n{x}');
    const records = GOOD.map(sample);
    const middle = `${JSON.stringify(records[0])}\n${rawBreak(records[1])}\n${JSON.stringify(records[2])}\n`;
    const last = `${JSON.stringify(records[0])}\n${JSON.stringify(records[2])}\n${rawBreak(records[1])}\n`;
    const files = [writeFile(path.join(dir, 'middle.jsonl'), middle), writeFile(path.join(dir, 'last.jsonl'), last)];
    const at = (text: string) => {
      const position = text.indexOf('aws-cli\n{x}') + 'aws-cli'.length;
      const line = text.slice(0, position).split('\n').length;
      return `at position ${position} (line ${line} column ${position - text.lastIndexOf('\n', position - 1)})`;
    };
    const said = (file: string, text: string, value: number) =>
      `${file}: value ${value} (line ${value}): not valid JSON (Bad control character in string literal in JSON ${at(text)})`;
    for (const streamFromBytes of [undefined, 1]) {
      // Act
      const { findings, summary } = await replayInProcess(files, { streamFromBytes });
      // Assess
      expect(findings.map((f) => f.event).sort()).toEqual(['DisableKey', 'UpdateAlias']);
      expect(summary.recordErrors).toEqual([said(files[0], middle, 2), said(files[1], last, 3)]);
    }
  });

  test('the same in a gzipped file, with a line that is JSON but not an object', async () => {
    const file = path.join(tempDir(), 'events.jsonl.gz');
    writeFile(file, gzipSync(`${JSON.stringify(sample('EnableKey__awskmsdg__1'))}\n"just a string"\n`));
    const { findings, summary } = await replayInProcess([file]);
    expect(findings.map((f) => f.event)).toEqual(['EnableKey']);
    expect(summary.recordErrors).toEqual([`${file}: line 2: a string, not a JSON object`]);
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
    expect(summary.recordErrors).toEqual([`${file}: Records[1]: PutKeyPolicy has no eventTime`]);
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
        `${file}: Records[2]: a number, not a JSON object`,
      ]),
    );
    expect(summary.recordErrors).toHaveLength(3);
    // A number in Records[] is no record at all: an error, not another service's record.
    expect(summary).toMatchObject({ records: 3, writes: 3, others: 0 });
  });

  test('a write without userIdentity, or with a string there, is still judged, and each is reported naming the record', async () => {
    // Prepare
    const noIdentity = sample('DisableKey__awskmsdg__1');
    delete noIdentity.userIdentity;
    const stringIdentity: Json = { ...sample('TagResource__awskmsdg__1'), userIdentity: 'Alice' };
    const file = writeFile(path.join(tempDir(), 'log.json'), {
      Records: [noIdentity, stringIdentity, sample('EnableKey__awskmsdg__1')],
    });
    // Act
    const { findings, summary } = await replayInProcess([file]);
    // Assess: no write is lost; the two without a caller are by "unknown", and said so.
    expect(findings.map((f) => f.event).sort()).toEqual(['DisableKey', 'EnableKey', 'TagResource']);
    expect(
      findings
        .filter((f) => f.user === 'unknown')
        .map((f) => f.event)
        .sort(),
    ).toEqual(['DisableKey', 'TagResource']);
    expect(summary.recordErrors).toEqual([
      `${file}: Records[0]: DisableKey ${noIdentity.eventID}: no userIdentity; judged as made by an unknown user`,
      `${file}: Records[1]: TagResource ${stringIdentity.eventID}: userIdentity is a string, not an object; judged as made by an unknown user`,
    ]);
  });

  test('a file that is JSON but no CloudTrail content is reported, and so are empty and broken gzip files', async () => {
    const dir = tempDir();
    const other = writeFile(path.join(dir, 'package.json'), { name: 'not-a-log' });
    const empty = writeFile(path.join(dir, 'empty.json'), '');
    // A gzip header followed by bytes that are no compressed data.
    const header = gzipSync('{"Records": []}').subarray(0, 10);
    const broken = writeFile(
      path.join(dir, 'broken.json.gz'),
      Buffer.concat([header, Buffer.from('not deflate data')]),
    );
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
    expect(summary.skipped).toEqual([
      { source: deep, reason: 'holds no CloudTrail records (no element is a CloudTrail log file, record or event)' },
    ]);
  });
});

describe('a truncated input (a partial download or copy)', () => {
  const SAMPLES_4 = [
    'DisableKey__awskmsdg__1',
    'TagResource__awskmsdg__1',
    'EnableKey__awskmsdg__1',
    'Decrypt__awskmsdg__2',
  ];
  /** JSON Lines of the four samples that end 100 characters into line 4. */
  const cutInLine4 = (): string => {
    const lines = jsonLines(SAMPLES_4.map(sample)).split('\n');
    return `${lines.slice(0, 3).join('\n')}\n${lines[3].slice(0, 100)}`;
  };

  test('a gzipped JSON Lines file keeps its complete lines and is reported as truncated, like the plain file', async () => {
    // Prepare: gzip data that stops where the text does, with no end (what a writer stopped mid-way leaves).
    const text = cutInLine4();
    const dir = tempDir();
    const plain = writeFile(path.join(dir, 'events.jsonl'), text);
    const gz = writeFile(path.join(dir, 'events.jsonl.gz'), gzipSync(text, { finishFlush: constants.Z_SYNC_FLUSH }));
    // Act
    const fromPlain = await replayInProcess([plain]);
    const fromGz = await replayInProcess([gz]);
    // Assess
    for (const { findings, summary } of [fromPlain, fromGz]) {
      expect(findings.map((f) => f.event).sort()).toEqual(['DisableKey', 'EnableKey', 'TagResource']);
      expect(summary).toMatchObject({ inputsRead: 1, records: 3, skipped: [] });
    }
    const lineError = fromPlain.summary.recordErrors[0].slice(plain.length);
    expect(lineError).toBe(': line 4: truncated (the input ends inside it)');
    expect(fromGz.summary.recordErrors).toEqual([
      `${gz}${lineError}`,
      `${gz}: truncated gzip file (the data ends after ${Buffer.byteLength(text)} bytes): the 3 complete record(s) before the cut were read`,
    ]);
  });

  test('a real gzipped log file cut in half: the records before the cut count, and the record it cuts is named', async () => {
    // Prepare
    const source = path.join(
      EXAMPLES,
      'AWSLogs/111122223333/CloudTrail/eu-west-1/2026/10/03',
      '111122223333_CloudTrail_eu-west-1_20261003T1145Z_tAyNh9lTIscmTeQk.json.gz',
    );
    const bytes = fs.readFileSync(source);
    const file = writeFile(path.join(tempDir(), 'log.json.gz'), bytes.subarray(0, bytes.length / 2));
    // Act
    const { summary } = await replayInProcess([file]);
    // Assess: of its 18 records, some are read, and the one the cut falls in is the next.
    const read = summary.records;
    expect(read).toBeGreaterThan(0);
    expect(read).toBeLessThan(18);
    expect(summary.skipped).toEqual([]);
    expect(summary.recordErrors).toEqual([
      `${file}: Records[${read}]: truncated (the input ends inside it)`,
      expect.stringMatching(
        new RegExp(`^${file}: truncated gzip file \\(the data ends after \\d+ bytes\\): the ${read} complete record`),
      ),
    ]);
  });

  test('through the binary, a truncated gzip file is read, not skipped: its findings count and the exit follows them', () => {
    const text = cutInLine4();
    const gz = writeFile(path.join(tempDir(), 'tr.jsonl.gz'), gzipSync(text, { finishFlush: constants.Z_SYNC_FLUSH }));
    const result = runKeydrift(['replay', '--format', 'json', gz], { cwd: tempDir() });
    expect(result.status).toBe(1);
    expect(parseFindings(result.stdout)).toHaveLength(3);
    expect(result.stderr).toContain(`bad record ${gz}: truncated gzip file`);
    expect(result.stderr).not.toContain('skipped');
  });

  test('a pretty-printed log file cut inside Records[6] keeps Records[0] to [5] and names Records[6]', async () => {
    const text = JSON.stringify({ Records: exampleRecords() }, null, 2);
    const file = writeFile(path.join(tempDir(), 'log.json'), text.slice(0, text.indexOf('"DisableKeyRotation"')));
    const { findings, summary } = await replayInProcess([file]);
    expect(findings).toEqual([]);
    expect(summary).toMatchObject({ inputsRead: 1, records: 6, reads: 5, others: 1, skipped: [] });
    expect(summary.recordErrors).toEqual([`${file}: Records[6]: truncated (the input ends inside it)`]);
  });

  test('a file cut inside its first record is skipped as truncated there, not as invalid JSON', async () => {
    // Prepare: a partial download of a log file, of an array of records, of one record, and of a gzip log file.
    const dir = tempDir();
    const cutBefore = (text: string) => text.slice(0, text.indexOf('"userAgent"'));
    const log = writeFile(
      path.join(dir, 'log.json'),
      cutBefore(JSON.stringify({ Records: exampleRecords() }, null, 2)),
    );
    const array = writeFile(path.join(dir, 'array.json'), cutBefore(JSON.stringify(exampleRecords(), null, 2)));
    const one = writeFile(path.join(dir, 'one.json'), cutBefore(JSON.stringify(exampleRecords()[0])));
    const logText = cutBefore(JSON.stringify({ Records: exampleRecords() }));
    const gz = writeFile(path.join(dir, 'log.json.gz'), gzipSync(logText, { finishFlush: constants.Z_SYNC_FLUSH }));
    // Act
    const { summary } = await replayInProcess([log, array, one, gz]);
    // Assess
    expect(summary).toMatchObject({ inputsRead: 0, records: 0, recordErrors: [] });
    expect(summary.skipped).toEqual([
      { source: log, reason: 'truncated: the input ends inside Records[0]' },
      { source: array, reason: 'truncated: the input ends inside [0]' },
      { source: one, reason: 'truncated: the input ends inside its first value' },
      {
        source: gz,
        reason: expect.stringMatching(
          /^truncated gzip file \(the data ends after \d+ bytes\): the input ends inside Records\[0\]$/,
        ),
      },
    ]);
  });

  test('a log file cut after its last complete record, before "]}", keeps every record and says where it ends', async () => {
    const text = JSON.stringify({ Records: exampleRecords() });
    const file = writeFile(path.join(tempDir(), 'log.json'), text.slice(0, -2));
    const { findings, summary } = await replayInProcess([file]);
    expect(findings.map((f) => f.event)).toEqual(['DisableKeyRotation', 'PutKeyPolicy', 'TagResource']);
    expect(summary.recordErrors).toEqual([`${file}: truncated (the log file ends after 9 record(s))`]);
  });

  test('a gzip file cut before any whole record is skipped as a truncated gzip file, not as empty', async () => {
    const file = writeFile(path.join(tempDir(), 'log.json.gz'), gzipSync('{"Records": []}').subarray(0, 12));
    const { summary } = await replayInProcess([file]);
    expect(summary.skipped).toEqual([
      {
        source: file,
        reason: 'truncated gzip file (the data ends after 1 bytes): the input ends inside its first value',
      },
    ]);
    expect(summary).toMatchObject({ inputsRead: 0, records: 0, recordErrors: [] });
  });

  test('a gzipped log file cut in its first bytes, before any data, is skipped as a truncated gzip file, not as no gzip', async () => {
    // Prepare: a real log file, gzipped, cut inside its gzip header, and inside the first block's code tables.
    const dir = tempDir();
    const gz = gzipSync(JSON.stringify({ Records: exampleRecords() }));
    const inHeader = writeFile(path.join(dir, 'header.json.gz'), gz.subarray(0, 5));
    const inTables = writeFile(path.join(dir, 'tables.json.gz'), gz.subarray(0, 40));
    // Act
    const { summary } = await replayInProcess([inHeader, inTables]);
    // Assess
    expect(summary.skipped).toEqual([
      { source: inHeader, reason: 'truncated gzip file (it ends after 5 bytes, before any data)' },
      { source: inTables, reason: 'truncated gzip file (it ends after 40 bytes, before any data)' },
    ]);
  });
});

describe('a broken record inside a log file or a stream of values', () => {
  test('a syntax error in one record of a pretty-printed log file costs that record only, named by index and line', async () => {
    // Prepare: PutKeyPolicy (Records[7]) loses the comma after its first field.
    const records = exampleRecords().map((r) => JSON.stringify(r, null, 2));
    records[7] = records[7].replace(',\n', '\n');
    const text = `{"Records": [\n${records.join(',\n')}\n]}\n`;
    const file = writeFile(path.join(tempDir(), 'log.json'), text);
    const secondField = text.slice(0, text.indexOf(records[7])).split('\n').length + 2;
    // Act
    const { findings, summary } = await replayInProcess([file]);
    // Assess
    expect(findings.map((f) => f.event)).toEqual(['DisableKeyRotation', 'TagResource']);
    expect(summary).toMatchObject({ inputsRead: 1, records: 8, skipped: [] });
    expect(summary.recordErrors).toEqual([
      expect.stringMatching(
        new RegExp(`^${file}: Records\\[7\\]: not valid JSON \\(.+ \\(line ${secondField} column 3\\)\\)$`),
      ),
    ]);
  });

  test('through the binary, the file is read: the bad record is reported and the exit follows the findings', () => {
    const records = exampleRecords().map((r) => JSON.stringify(r, null, 2));
    records[3] = records[3].replace(',\n', '\n');
    const file = writeFile(path.join(tempDir(), 'log.json'), `{"Records": [${records.join(',')}]}`);
    const result = runKeydrift(['replay', '--format', 'json', file], { cwd: tempDir() });
    expect(result.status).toBe(1);
    expect(parseFindings(result.stdout)).toHaveLength(3);
    expect(result.stderr).toContain(`bad record ${file}: Records[3]: not valid JSON`);
    expect(result.stderr).not.toContain('skipped');
  });

  test("a bad value among jq's pretty-printed values is reported by its number and line; the other values count", async () => {
    // Prepare: the writes of the example log, as `jq '.Records[] | select(.readOnly == false)'` prints them.
    const values = exampleRecords()
      .filter((r) => r.readOnly === false)
      .map((r) => JSON.stringify(r, null, 2));
    values[1] = values[1].replace(',\n', '\n');
    const file = writeFile(path.join(tempDir(), 'writes.json'), `${values.join('\n')}\n`);
    // Act
    const { findings, summary } = await replayInProcess([file]);
    // Assess
    expect(findings.map((f) => f.event)).toEqual(['DisableKeyRotation', 'TagResource']);
    const line = values[0].split('\n').length + 1;
    expect(summary.recordErrors).toEqual([
      expect.stringMatching(new RegExp(`^${file}: value 2 \\(line ${line}\\): not valid JSON \\(`)),
    ]);
  });

  test('an error outside the Records array (a trailing comma after it) is reported once; every record counts', async () => {
    const text = JSON.stringify({ Records: exampleRecords() }, null, 2).replace(/\]\n\}$/, '],\n}');
    const file = writeFile(path.join(tempDir(), 'log.json'), text);
    const { findings, summary } = await replayInProcess([file]);
    expect(findings).toHaveLength(3);
    expect(summary.records).toBe(9);
    expect(summary.recordErrors).toEqual([expect.stringMatching(new RegExp(`^${file}: content: not valid JSON \\(`))]);
  });
});

describe('a log file or array laid out one record per line (`jq -c` per record, some exporters)', () => {
  /** The example log as `{"Records": [` / one compact record per line / `]}`, with `PutKeyPolicy` (Records[7]) broken. */
  const oneRecordPerLine = (open: string, close: string): { text: string; brokenLine: number } => {
    const lines = exampleRecords().map((r) => JSON.stringify(r));
    lines[7] = lines[7].replace('"eventVersion"', 'eventVersion');
    return { text: `${open}\n${lines.join(',\n')}\n${close}\n`, brokenLine: 9 };
  };

  test('a log file with one bad record keeps every other record, though its last record is a whole line', async () => {
    // Prepare
    const { text, brokenLine } = oneRecordPerLine('{"Records": [', ']}');
    const file = writeFile(path.join(tempDir(), 'log.json'), text);
    // Act
    const { findings, summary } = await replayInProcess([file]);
    // Assess
    expect(findings.map((f) => f.event)).toEqual(['DisableKeyRotation', 'TagResource']);
    expect(summary).toMatchObject({ inputsRead: 1, records: 8, reads: 5, others: 1, skipped: [] });
    expect(summary.recordErrors).toEqual([
      expect.stringMatching(
        new RegExp(`^${file}: Records\\[7\\]: not valid JSON \\(.+ \\(line ${brokenLine} column 2\\)\\)$`),
      ),
    ]);
  });

  test('a top-level array with one bad record keeps every other record', async () => {
    const { text } = oneRecordPerLine('[', ']');
    const file = writeFile(path.join(tempDir(), 'records.json'), text);
    const { findings, summary } = await replayInProcess([file]);
    expect(findings.map((f) => f.event)).toEqual(['DisableKeyRotation', 'TagResource']);
    expect(summary).toMatchObject({ records: 8, skipped: [] });
    expect(summary.recordErrors).toEqual([expect.stringMatching(new RegExp(`^${file}: \\[7\\]: not valid JSON \\(`))]);
  });

  test('a log file cut right after its eighth record, a whole line, keeps its complete records and is reported as truncated', async () => {
    // Prepare: the download stops at the end of PutKeyPolicy's record, before its comma.
    const lines = exampleRecords().map((r) => JSON.stringify(r));
    const text = `{"Records": [\n${lines.slice(0, 8).join(',\n')}`;
    const file = writeFile(path.join(tempDir(), 'log.json'), text);
    // Act
    const { findings, summary } = await replayInProcess([file]);
    // Assess
    expect(findings.map((f) => f.event)).toEqual(['DisableKeyRotation', 'PutKeyPolicy']);
    expect(summary).toMatchObject({ inputsRead: 1, records: 8, skipped: [] });
    expect(summary.recordErrors).toEqual([`${file}: truncated (the log file ends after 8 record(s))`]);
  });
});

describe('JSON Lines of log files (one compact `{"Records": [...]}` a line)', () => {
  /** The example log split in three log files, one a line: reads; reads, GetObject, DisableKeyRotation, PutKeyPolicy; TagResource. */
  const logLines = (): string[] => {
    const records = exampleRecords();
    return [records.slice(0, 4), records.slice(4, 8), records.slice(8)].map((r) => JSON.stringify({ Records: r }));
  };

  test('a line cut inside a record keeps the records before the cut, and every later line is read', async () => {
    // Prepare: line 2 stops inside PutKeyPolicy, its fourth record.
    const lines = logLines();
    lines[1] = lines[1].slice(0, lines[1].indexOf('"PutKeyPolicy"'));
    const file = writeFile(path.join(tempDir(), 'logs.jsonl'), `${lines.join('\n')}\n`);
    // Act
    const { findings, summary } = await replayInProcess([file]);
    // Assess
    expect(findings.map((f) => f.event)).toEqual(['DisableKeyRotation', 'TagResource']);
    expect(summary).toMatchObject({ inputsRead: 1, records: 8, reads: 5, others: 1, skipped: [] });
    expect(summary.recordErrors).toEqual([`${file}: line 2 Records[3]: broken off where line 3 starts`]);
  });

  test('a last line cut inside a record keeps its complete records and is reported as truncated', async () => {
    const lines = logLines().slice(0, 2);
    lines[1] = lines[1].slice(0, lines[1].indexOf('"PutKeyPolicy"'));
    const file = writeFile(path.join(tempDir(), 'logs.jsonl'), lines.join('\n'));
    const { findings, summary } = await replayInProcess([file]);
    expect(findings.map((f) => f.event)).toEqual(['DisableKeyRotation']);
    expect(summary).toMatchObject({ records: 7, skipped: [] });
    expect(summary.recordErrors).toEqual([`${file}: line 2 Records[3]: truncated (the input ends inside it)`]);
  });

  test('a line holding one bad record loses only that record', async () => {
    const lines = logLines();
    lines[1] = lines[1].replace('"eventName":"PutKeyPolicy"', '"eventName":PutKeyPolicy');
    const file = writeFile(path.join(tempDir(), 'logs.jsonl'), `${lines.join('\n')}\n`);
    const { findings, summary } = await replayInProcess([file]);
    expect(findings.map((f) => f.event)).toEqual(['DisableKeyRotation', 'TagResource']);
    expect(summary).toMatchObject({ records: 8, skipped: [] });
    expect(summary.recordErrors).toEqual([
      expect.stringMatching(new RegExp(`^${file}: line 2 Records\\[3\\]: not valid JSON \\(`)),
    ]);
  });
});
