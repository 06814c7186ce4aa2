/**
 * A JSON Lines file from 64 MiB up is read as a stream, a line at a time, so an export larger than V8's longest
 * string replays without splitting. The tests lower that size (`streamFrom`) and check that the stream reads what the
 * in-memory reader reads, with the same names for every record and error.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { DEFAULT_CONFIG } from '../../lambda/core/config';
import { eachLine } from '../../lambda/replay/lines';
import { type FileResult, readInputFile } from '../../lambda/replay/parse-file';
import { type ReplayOptions, replay } from '../../lambda/replay/replay';
import { jsonLines, replayInProcess, tempDir, writeFile } from '../helpers/keydrift';
import { EXAMPLE_LOG, exampleRecords, jqPretty } from './example-log';

/** Streamed from the first byte; were it read whole instead, it would be too large to read. */
const STREAMED = { streamFrom: 1, maxBytes: 1 };

/** What a reading found, with where each watched write came from. */
const found = (result: FileResult) => ({ ...result, writes: result.writes.map((w) => w.where) });

/** The example's records as each form keydrift reads: a record, an EventBridge event, lookup-events, a log file. */
function mixedLines(): string {
  const [first, second, ...rest] = exampleRecords();
  const asEvent = { 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.kms', id: 'e1', detail: second };
  const lookup = { Events: [{ EventId: 'x', CloudTrailEvent: JSON.stringify(rest[0]) }] };
  return jsonLines([first, asEvent, lookup, { Records: rest.slice(1) }]);
}

async function readBothWays(file: string): Promise<{ streamed: FileResult; whole: FileResult }> {
  return { streamed: await readInputFile(file, STREAMED), whole: await readInputFile(file) };
}

describe('a large JSON Lines file, read as a stream', () => {
  test('gives the records, counts and names the whole file gives, plain or gzipped', async () => {
    // Prepare: each form of input on its own line, a blank line, Windows line ends and a byte order mark.
    const text = `\uFEFF${mixedLines().replace(/\n/g, '\r\n')}\n`;
    const dir = tempDir();
    const plain = writeFile(path.join(dir, 'export.jsonl'), text);
    const gzipped = writeFile(path.join(dir, 'export.jsonl.gz'), gzipSync(text));

    // Act
    const plainRead = await readBothWays(plain);
    const gzipRead = await readBothWays(gzipped);

    // Assess
    expect(found(plainRead.streamed)).toEqual(found(plainRead.whole));
    expect(found(gzipRead.streamed)).toEqual({ ...found(plainRead.whole), source: gzipped });
    expect(plainRead.whole).toMatchObject({ records: 9, reads: 5, others: 1, recordErrors: [] });
    expect(found(plainRead.whole).writes).toEqual(['line 4 Records[3]', 'line 4 Records[4]', 'line 4 Records[5]']);
  });

  test('names a broken line, a broken record in a line and a line of two values as the whole file does', async () => {
    // Prepare
    const records = exampleRecords();
    const brokenRecord = JSON.stringify({ Records: records.slice(5, 8) }).replace(
      '"eventName":"PutKeyPolicy"',
      '"eventName":',
    );
    const text = [
      JSON.stringify(records[6]),
      `${JSON.stringify(records[5]).slice(0, 80)}`,
      brokenRecord,
      `${JSON.stringify(records[7])} ${JSON.stringify(records[8])}`,
      '"a string"',
      '{"eventVersion":"1.08",}',
      JSON.stringify(records[0]),
    ].join('\n');
    const file = writeFile(path.join(tempDir(), 'export.jsonl'), `${text}\n`);

    // Act
    const { streamed, whole } = await readBothWays(file);

    // Assess
    expect(found(streamed)).toEqual(found(whole));
    expect(whole.recordErrors).toEqual([
      'line 2: broken off where line 3 starts',
      expect.stringMatching(/^line 3 Records\[2\]: not valid JSON \(/),
      'line 5: a string, not a JSON object',
      expect.stringMatching(/^line 6: not valid JSON \(.* at position \d+ \(line 6 column 24\)\)$/),
    ]);
    expect(found(whole).writes).toEqual(['line 1', 'line 3 Records[1]', 'value 4 (line 4)', 'value 5 (line 4)']);
  });

  test("reads runs of broken lines, and jq's indented values after JSON Lines, as the whole file does", async () => {
    // Prepare: two broken lines in a row, then a log and a record as jq indents them, then JSON Lines again.
    // An indented list's last string is a line that parses on its own, yet is inside a value.
    const records = exampleRecords().map((record) => ({ ...record, additionalEventData: { list: ['x', 'y'] } }));
    const line = (i: number) => JSON.stringify(records[i]);
    const text = [
      line(0),
      line(1).slice(0, 60),
      line(2).slice(0, 60),
      line(3),
      jqPretty([{ Records: records.slice(4, 7) }, records[7]]),
    ]
      .join('\n')
      .concat(`${line(8)}\n`);
    const file = writeFile(path.join(tempDir(), 'mixed.jsonl'), text);

    // Act
    const { streamed, whole } = await readBothWays(file);

    // Assess
    expect(found(streamed)).toEqual(found(whole));
    expect(whole.recordErrors).toEqual([
      'line 2: broken off where line 3 starts',
      'line 3: broken off where line 4 starts',
    ]);
    expect(whole.records).toBe(7);
  });

  test('refuses a gzip file whose data fails its check, as the whole file does: no record of it can be trusted', async () => {
    // Prepare: stored (not compressed) gzip, so one changed key ID still decompresses, and only the CRC tells.
    const gzipped = gzipSync(mixedLines(), { level: 0 });
    const at = gzipped.indexOf('0f4a6c1e');
    expect(at).toBeGreaterThan(0);
    gzipped[at + 7] = 'f'.charCodeAt(0);
    const file = writeFile(path.join(tempDir(), 'corrupt.jsonl.gz'), gzipped);

    const { streamed, whole } = await readBothWays(file);

    expect({ ...streamed, bytes: 0 }).toEqual({ ...whole, bytes: 0 });
    expect(whole).toMatchObject({ records: 0, fileError: 'not a valid gzip file (incorrect data check)' });
  });

  test("streams a gzip file of several members, whose trailer tells only the last one's size", async () => {
    const records = Array.from({ length: 40 }, (_, i) => ({ ...exampleRecords()[6], eventID: `put-${i}` }));
    const members = Buffer.concat([gzipSync(jsonLines(records)), gzipSync(jsonLines([exampleRecords()[7]]))]);
    const file = writeFile(path.join(tempDir(), 'joined.jsonl.gz'), members);
    const limits = { maxBytes: 16 * 1024, streamFrom: 32 * 1024 };
    expect(members.length).toBeLessThan(limits.streamFrom);

    const read = await readInputFile(file, limits);

    expect(read).toMatchObject({ records: 41, recordErrors: [] });
    expect(read.fileError).toBeUndefined();
  });

  test('is not held back by the size limit of an input read whole', async () => {
    const records = Array.from({ length: 40 }, (_, i) => ({ ...exampleRecords()[6], eventID: `put-${i}` }));
    const file = writeFile(path.join(tempDir(), 'export.jsonl'), jsonLines(records));
    const limit = { maxBytes: 16 * 1024 };
    expect(fs.statSync(file).size).toBeGreaterThan(2 * limit.maxBytes);

    const streamed = await readInputFile(file, { ...limit, streamFrom: 1 });
    const whole = await readInputFile(file, limit);

    expect(streamed).toMatchObject({ records: 40, recordErrors: [] });
    expect(streamed.fileError).toBeUndefined();
    expect(whole.fileError).toBe(
      "too large to read (more than 16384 bytes): convert it to JSON Lines, which is read as a stream: jq -c '.Records[]' FILE > FILE.jsonl",
    );
    // Gzipped, it is far smaller than it decompresses to: its size is read from the gzip trailer.
    const gzipped = writeFile(`${file}.gz`, gzipSync(fs.readFileSync(file)));
    expect(fs.statSync(gzipped).size).toBeLessThan(limit.maxBytes);
    expect(await readInputFile(gzipped, { ...limit, streamFrom: 2 * limit.maxBytes })).toMatchObject({ records: 40 });
  });

  test('keeps the complete lines before the cut of a truncated gzip file, and says it was cut', async () => {
    const records = Array.from({ length: 300 }, () => ({ ...exampleRecords()[6], eventID: randomUUID() }));
    const gzipped = gzipSync(jsonLines(records));
    const file = writeFile(path.join(tempDir(), 'export.jsonl.gz'), gzipped.subarray(0, gzipped.length / 2));

    const { streamed, whole } = await readBothWays(file);

    expect(found(streamed)).toEqual(found(whole));
    expect(streamed.records).toBeGreaterThan(100);
    expect(streamed.records).toBeLessThan(300);
    expect(streamed.writes.map((w) => w.where)).toEqual(streamed.writes.map((_, i) => `line ${i + 1}`));
    expect(streamed.recordErrors).toEqual([
      `line ${streamed.records + 1}: truncated (the input ends inside it)`,
      `truncated gzip file (the data ends after ${streamed.bytes} bytes): the ${streamed.records} complete record(s) before the cut were read`,
    ]);
  });

  test('says a gzip file whose disk read fails midway could not be read, not that it is no valid gzip', async () => {
    // Prepare: the disk gives the first half of the file, then fails as a bad sector does.
    const gzipped = gzipSync(jsonLines(exampleRecords()));
    const file = writeFile(path.join(tempDir(), 'export.jsonl.gz'), gzipped);
    const diskError = Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', errno: -5, syscall: 'read' });
    // The module object the reader imports from (this file's `fs` is a copy of it).
    const failingRead = jest.spyOn(jest.requireActual<typeof fs>('node:fs'), 'createReadStream').mockImplementation(
      () =>
        Readable.from(
          (function* () {
            yield gzipped.subarray(0, gzipped.length / 2);
            throw diskError;
          })(),
        ) as fs.ReadStream,
    );

    // Act
    const read = await readInputFile(file, STREAMED).finally(() => failingRead.mockRestore());

    // Assess
    expect(read).toMatchObject({ records: 0, fileError: 'could not be read (EIO: i/o error, read)' });
  });

  test('is left to the whole-file reader when it is no JSON Lines: an indented log, or one value on one line', async () => {
    const dir = tempDir();
    const indented = writeFile(path.join(dir, 'indented.json'), jqPretty([{ Records: exampleRecords() }]));
    const oneLine = writeFile(path.join(dir, 'one-line.json'), `${fs.readFileSync(EXAMPLE_LOG, 'utf8').trim()}\n`);
    const notJson = writeFile(path.join(dir, 'notes.txt.json'), 'not json\n{}\n');
    const indentedGzip = writeFile(path.join(dir, 'indented.json.gz'), gzipSync(fs.readFileSync(indented)));

    for (const file of [indented, oneLine, notJson, indentedGzip]) {
      expect((await readInputFile(file, STREAMED)).fileError).toMatch(/^too large to read \(/);
      expect(found(await readInputFile(file, { streamFrom: 1 }))).toEqual(found(await readInputFile(file)));
    }
    expect((await readInputFile(oneLine, { streamFrom: 1 })).writes[0].where).toBe('Records[6]');
  });

  test('says a file of JSON Lines with no CloudTrail content holds no records, as the whole file does', async () => {
    const file = writeFile(path.join(tempDir(), 'other.jsonl'), jsonLines([{ a: 1 }, { b: 2 }]));

    const { streamed, whole } = await readBothWays(file);

    expect(streamed).toEqual(whole);
    expect(whole.fileError).toBe('holds no CloudTrail records (no value is a CloudTrail log file, record or event)');
  });

  test.each([0, 2])('replays to the same findings and summary as the whole file (workers: %i)', async (workers) => {
    const dir = tempDir();
    const files = [
      writeFile(path.join(dir, 'a.jsonl'), mixedLines()),
      writeFile(path.join(dir, 'b.jsonl'), mixedLines()),
    ];

    const streamed = await replayInProcess(files, { workers, streamFromBytes: 1, maxFileBytes: 1 });
    const whole = await replayInProcess(files, { workers });

    expect(streamed).toEqual(whole);
    expect(whole.summary).toMatchObject({ inputsRead: 2, duplicates: 9 });
  });
});

describe('standard input past the size at which a file is streamed', () => {
  const keydriftTempDirs = () => fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith('keydrift-stdin-'));
  const replayStdin = (input: Buffer, options: Partial<ReplayOptions> = {}) =>
    replay(['-'], {
      config: DEFAULT_CONFIG,
      stdin: Readable.from([input.subarray(0, 7), input.subarray(7)]),
      ...options,
    });

  test('is read as a stream, plain or gzipped, from a temporary file deleted after', async () => {
    // Prepare: gzip counts from an eighth of the size, as it decompresses to many times more.
    const text = Buffer.from(mixedLines().repeat(20));
    const gzipped = gzipSync(text);
    expect(8 * gzipped.length).toBeLessThan(text.length);
    const before = keydriftTempDirs();

    // Act
    const whole = await replayStdin(text);
    const streamed = await replayStdin(text, { streamFromBytes: text.length, maxFileBytes: 1 });
    const streamedGzip = await replayStdin(gzipped, { streamFromBytes: 8 * gzipped.length, maxFileBytes: 1 });

    // Assess
    expect(whole.summary).toMatchObject({ inputsRead: 1, records: 9, skipped: [] });
    expect(streamed).toEqual(whole);
    expect(streamedGzip).toEqual(whole);
    expect(keydriftTempDirs()).toEqual(before);
  });

  test('that is no JSON Lines is read whole, as it is when small', async () => {
    const indented = Buffer.from(jqPretty([{ Records: exampleRecords() }]));

    const spooled = await replayStdin(indented, { streamFromBytes: 1 });

    expect(spooled).toEqual(await replayStdin(indented));
    expect(spooled.summary).toMatchObject({ inputsRead: 1, records: 9 });
  });
});

describe('eachLine', () => {
  const lines = async (file: string, maxLineLength = 1 << 29) => {
    const seen: Array<[number, string]> = [];
    const long: number[] = [];
    const end = await eachLine(file, { gzip: false, maxLineLength, onLongLine: (n) => long.push(n) }, (text, n) => {
      seen.push([n, text]);
      return true;
    });
    return { seen, long, end };
  };

  test('hands over lines longer than a read, and characters split between two reads, whole', async () => {
    // Prepare: a 3 MiB line of two-byte characters, so the 1 MiB reads end inside lines and inside characters.
    const long = 'é'.repeat(1.5 * 1024 * 1024 + 1);
    const file = writeFile(path.join(tempDir(), 'long.jsonl'), `a\n${long}\nb`);

    // Act
    const { seen, end } = await lines(file);

    // Assess
    expect(seen).toEqual([
      [1, 'a\n'],
      [2, `${long}\n`],
      [3, 'b'],
    ]);
    expect(end).toEqual({ bytes: fs.statSync(file).size });
  });

  test('skips a line too long to hold, naming it, and goes on', async () => {
    const file = writeFile(path.join(tempDir(), 'long.jsonl'), `a\n${'x'.repeat(100)}\nb\n${'y'.repeat(50)}`);

    const { seen, long } = await lines(file, 10);

    expect(seen).toEqual([
      [1, 'a\n'],
      [3, 'b\n'],
    ]);
    expect(long).toEqual([2, 4]);
  });

  test('stops when asked, and reports a file it cannot read', async () => {
    const file = writeFile(path.join(tempDir(), 'x.jsonl'), 'a\nb\nc\n');
    const seen: string[] = [];

    await eachLine(file, { gzip: false, maxLineLength: 10, onLongLine: () => {} }, (text) => seen.push(text) < 2);
    const missing = await lines(path.join(tempDir(), 'missing.jsonl'));

    expect(seen).toEqual(['a\n', 'b\n']);
    expect(missing.end.error).toMatchObject({ truncated: false, message: expect.stringContaining('ENOENT') });
  });
});
