/**
 * The replay is an audit tool: what it cannot read must never pass for "no drift". Made-up dates, values
 * that are no records, files with nothing to replay, byte order marks, decompression bombs, symlink loops
 * and paths named twice each get a clear answer, and the other inputs still replay.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { constants, gzipSync } from 'node:zlib';
import { parseAwsDate, toIsoSeconds } from '../../lambda/core/time';
import { parseBuffer, readInputFile } from '../../lambda/replay/parse-file';
import { listInputs } from '../../lambda/replay/replay';
import {
  EXAMPLES,
  type Json,
  jsonLines,
  replayInProcess,
  runKeydrift,
  sample,
  samplePath,
  tempDir,
  writeFile,
} from '../helpers/keydrift';
import { exampleRecords } from './example-log';

const withTime = (name: string, eventTime: unknown): Json => ({ ...sample(name), eventTime });

describe('eventTime values AWS never writes', () => {
  const MADE_UP = ['not a date 7', 'x 1', '12', '2026-02-30T00:00:00Z', 'Oct 3 2026 10:00:00', '2026-10-03T24:00:00Z'];
  // CloudTrail writes eventTime as an ISO string only, never as epoch seconds.
  const NOT_WRITTEN = [...MADE_UP, 5, 1759485600];

  test('each gets the clear eventTime error naming the file and the record; the good record still counts', async () => {
    // Prepare
    const records = NOT_WRITTEN.map((time) => withTime('DisableKey__awskmsdg__1', time));
    const file = writeFile(path.join(tempDir(), 'log.json'), {
      Records: [...records, sample('TagResource__awskmsdg__1')],
    });
    // Act
    const { findings, summary } = await replayInProcess([file]);
    // Assess
    expect(findings.map((f) => f.event)).toEqual(['TagResource']);
    expect(summary.recordErrors).toEqual(
      NOT_WRITTEN.map(
        (time, i) => `${file}: Records[${i}]: DisableKey has no valid eventTime (${JSON.stringify(time)})`,
      ),
    );
  });

  test.each(['UTC', 'Pacific/Kiritimati', 'America/St_Johns'])(
    'reads the forms AWS writes as UTC and refuses made-up ones, whatever the time zone (TZ=%s)',
    (zone) => {
      const before = process.env.TZ;
      process.env.TZ = zone;
      try {
        const iso = (value: string) => {
          const ms = parseAwsDate(value);
          return ms === undefined ? undefined : new Date(ms).toISOString();
        };
        expect(iso('2026-10-03T12:00:00Z')).toBe('2026-10-03T12:00:00.000Z');
        expect(iso('2026-10-03T12:00:00.123Z')).toBe('2026-10-03T12:00:00.123Z');
        expect(iso('2026-10-03T14:05:47+02:00')).toBe('2026-10-03T12:05:47.000Z');
        expect(iso('2026-10-03T08:35:47-0330')).toBe('2026-10-03T12:05:47.000Z');
        expect(iso('2024-11-25 17:51:21.000000000')).toBe('2024-11-25T17:51:21.000Z');
        expect(iso('2024-02-29T00:00:00Z')).toBe('2024-02-29T00:00:00.000Z');
        expect(iso('Apr 12, 2021 18:58:30 PM')).toBe('2021-04-12T18:58:30.000Z');
        for (const value of [...MADE_UP, '2026-02-29T00:00:00Z', '2026-10-03', 'Feb 30, 2021 10:00:00 AM', '']) {
          expect([value, parseAwsDate(value)]).toEqual([value, undefined]);
        }
      } finally {
        if (before === undefined) delete process.env.TZ;
        else process.env.TZ = before;
      }
    },
  );

  test('a valid eventTime is unchanged: the finding carries it to the second', async () => {
    const file = writeFile(path.join(tempDir(), 'log.json'), {
      Records: [withTime('DisableKey__awskmsdg__1', '2026-10-03T12:00:00.999Z')],
    });
    const { findings } = await replayInProcess([file]);
    expect(findings.map((f) => f.timestamp)).toEqual([toIsoSeconds(Date.UTC(2026, 9, 3, 12, 0, 0))]);
  });
});

describe('values that are no records', () => {
  test('a string, a number, null and a nested array inside Records are each an error naming the record and what it is, not another service', async () => {
    // Prepare
    const file = writeFile(path.join(tempDir(), 'log.json'), {
      Records: ['a string', 42, null, [sample('EnableKey__awskmsdg__1')], sample('DisableKey__awskmsdg__1')],
    });
    // Act
    const { findings, summary } = await replayInProcess([file]);
    // Assess
    expect(findings.map((f) => f.event)).toEqual(['DisableKey']);
    expect(summary.recordErrors).toEqual(
      ['a string', 'a number', 'null', 'an array'].map(
        (what, i) => `${file}: Records[${i}]: ${what}, not a JSON object`,
      ),
    );
    expect(summary).toMatchObject({ records: 1, writes: 1, others: 0 });
  });

  test('an EventBridge event without detail is an error naming its line, not another service', async () => {
    const noDetail = sample('CreateBucket__awscweug__1');
    delete noDetail.detail;
    const file = writeFile(
      path.join(tempDir(), 'events.jsonl'),
      jsonLines([sample('CreateBucket__awscweug__1'), noDetail, sample('DisableKey__awskmsdg__1')]),
    );
    const { findings, summary } = await replayInProcess([file]);
    expect(findings.map((f) => f.event)).toEqual(['DisableKey']);
    expect(summary.recordErrors).toEqual([
      `${file}: line 2: EventBridge event "AWS API Call via CloudTrail" has no detail`,
    ]);
    expect(summary).toMatchObject({ records: 2, writes: 1, others: 1 });
  });

  test.each([
    ['null', null, 'record has no eventSource'],
    ['missing', undefined, 'record has no eventSource'],
    ['a number', 42, 'eventSource is a number, not a string'],
    ['an object', { service: 'kms' }, 'eventSource is an object, not a string'],
    ['empty', '', 'record has no eventSource'],
  ])(
    'a record whose eventSource is %s is reported by its index, not counted as another service',
    async (_, source, why) => {
      // Prepare: the example log's TagResource (Records[8]), as `jq '.Records[8].eventSource = …'` leaves it.
      const records = exampleRecords();
      records[8].eventSource = source;
      const file = writeFile(path.join(tempDir(), 'log.json'), JSON.stringify({ Records: records }));
      // Act
      const { findings, summary } = await replayInProcess([file]);
      // Assess
      expect(findings.map((f) => f.event)).toEqual(['DisableKeyRotation', 'PutKeyPolicy']);
      expect(summary.recordErrors).toEqual([`${file}: Records[8]: ${why}`]);
      expect(summary).toMatchObject({ records: 8, writes: 2, reads: 5, others: 1 });
    },
  );

  test('an EventBridge CloudTrail event whose detail has no eventSource is reported too; other services stay silent', async () => {
    const bucket = sample('CreateBucket__awscweug__1');
    const noSource = sample('CreateBucket__awscweug__1');
    delete (noSource.detail as Json).eventSource;
    const file = writeFile(
      path.join(tempDir(), 'events.jsonl'),
      jsonLines([bucket, noSource, sample('KMSCMKRotation__awskmsdg__1')]),
    );
    const { summary } = await replayInProcess([file]);
    expect(summary.recordErrors).toEqual([`${file}: line 2: record has no eventSource`]);
    expect(summary).toMatchObject({ records: 2, writes: 1, others: 1 });
  });

  test.each([
    ['missing', undefined],
    ['empty', ''],
  ])(
    'a KMS record whose eventName is %s, with no readOnly, is reported by its index, not counted as a read',
    async (_, name) => {
      // Prepare: the example log's PutKeyPolicy (Records[7]) with neither its name nor its readOnly flag.
      const records = exampleRecords();
      records[7].eventName = name;
      delete records[7].readOnly;
      const file = writeFile(path.join(tempDir(), 'log.json'), JSON.stringify({ Records: records }));
      // Act
      const { findings, summary } = await replayInProcess([file]);
      // Assess: counted as a write that could not be judged, as a record without eventTime is.
      expect(findings.map((f) => f.event)).toEqual(['DisableKeyRotation', 'TagResource']);
      expect(summary.recordErrors).toEqual([`${file}: Records[7]: record has no eventName`]);
      expect(summary).toMatchObject({ records: 9, writes: 3, reads: 5, others: 1 });
    },
  );

  test('a KMS record whose eventName is a number is reported as such, not as missing', async () => {
    const records = exampleRecords();
    records[7].eventName = 123;
    const file = writeFile(path.join(tempDir(), 'log.json'), JSON.stringify({ Records: records }));
    const { summary } = await replayInProcess([file]);
    expect(summary.recordErrors).toEqual([`${file}: Records[7]: eventName is a number, not a string`]);
  });

  test('a CloudTrail Insights record (its service named only in insightDetails) counts with other services, silently', async () => {
    // Prepare: an Insights log file beside the example log, as CloudTrail delivers it to CloudTrail-Insight/.
    const dir = tempDir();
    const [read] = exampleRecords();
    const insight = {
      eventVersion: '1.08',
      eventTime: read.eventTime,
      awsRegion: read.awsRegion,
      eventID: '654ccbc0-ba0d-486a-9076-dbf7274677a7',
      eventType: 'AwsCloudTrailInsight',
      recipientAccountId: read.recipientAccountId,
      sharedEventID: 'bcbfc686-64dc-4442-9f14-5be9ac0d3be8',
      insightDetails: {
        state: 'Start',
        eventSource: 'kms.amazonaws.com',
        eventName: 'ScheduleKeyDeletion',
        insightType: 'ApiCallRateInsight',
        insightContext: { statistics: { baseline: { average: 0.01 }, insight: { average: 5 }, insightDuration: 1 } },
      },
      eventCategory: 'Insight',
    };
    writeFile(path.join(dir, 'CloudTrail-Insight', 'insight.json'), { Records: [insight] });
    writeFile(path.join(dir, 'CloudTrail', 'log.json'), { Records: exampleRecords() });
    // Act
    const { findings, summary } = await replayInProcess([dir]);
    // Assess
    expect(findings).toHaveLength(3);
    expect(summary).toMatchObject({ inputsRead: 2, records: 10, writes: 3, reads: 5, others: 2, recordErrors: [] });
  });

  test('a file holding only null is reported by name as holding no CloudTrail records, never with an empty location', async () => {
    const file = writeFile(path.join(tempDir(), 'null.json'), 'null');
    const { summary } = await replayInProcess([file]);
    expect(summary.skipped).toEqual([
      { source: file, reason: 'holds no CloudTrail records (null, not a JSON object)' },
    ]);
    expect(summary.recordErrors).toEqual([]);
  });
});

describe('a write nested thousands of levels deep (a forged log)', () => {
  /** A TagResource whose requestParameters hold arrays 5,000 deep, as text: JSON.stringify would overflow on it. */
  const deepLine = (): string => {
    const record: Json = { ...sample('TagResource__awskmsdg__1'), eventID: 'deep-1' };
    (record.requestParameters as Json).nested = 'NESTED';
    return `${JSON.stringify(record).replace('"NESTED"', `${'['.repeat(5000)}${']'.repeat(5000)}`)}\n`;
  };
  const good = () => jsonLines([sample('DisableKey__awskmsdg__1')]);

  test('delivered twice, each copy is a bad record naming its line; the replay goes on', async () => {
    const file = writeFile(path.join(tempDir(), 'events.jsonl'), deepLine() + deepLine() + good());
    const { findings, summary } = await replayInProcess([file]);
    expect(findings.map((f) => f.event)).toEqual(['DisableKey']);
    expect(summary.recordErrors).toEqual(
      [1, 2].map((line) => `${file}: line ${line}: nested more than 100 levels deep (no CloudTrail record is)`),
    );
    expect(summary).toMatchObject({ records: 1, writes: 1 });
  });

  test('read on worker threads, the replay ends with the other records judged, not waiting for ever', async () => {
    const dir = tempDir();
    const deep = writeFile(path.join(dir, 'a.jsonl'), deepLine() + good());
    writeFile(path.join(dir, 'b.jsonl'), good());
    const { findings, summary } = await replayInProcess([dir], { workers: 2 });
    expect(findings.map((f) => f.event)).toEqual(['DisableKey']);
    expect(summary.recordErrors).toEqual([
      `${deep}: line 1: nested more than 100 levels deep (no CloudTrail record is)`,
    ]);
    expect(summary).toMatchObject({ inputsRead: 2, duplicates: 1 });
  }, 15_000);

  test('an event whose detail is another event, 20,000 times over, is a bad record; the rest of its file is judged', async () => {
    const event = '{"detail-type":"AWS API Call via CloudTrail","eventSource":"kms.amazonaws.com","detail":';
    const forged = `${event.repeat(20_000)}{}${'}'.repeat(20_000)}`;
    const file = writeFile(
      path.join(tempDir(), 'log.json'),
      `{"Records":[${JSON.stringify(sample('DisableKey__awskmsdg__1'))},${forged}]}`,
    );
    const { findings, summary } = await replayInProcess([file]);
    expect(findings.map((f) => f.event)).toEqual(['DisableKey']);
    expect(summary.skipped).toEqual([]);
    expect(summary.recordErrors).toEqual([
      `${file}: Records[1]: nested more than 100 levels deep (no CloudTrail record is)`,
    ]);
  });
});

describe('inputs with nothing to replay', () => {
  const NOTHING: Array<[string, string, string]> = [
    ['empty-object.json', '{}', 'not a CloudTrail log file, CloudTrail record or EventBridge event'],
    ['records-string.json', '{"Records": "x"}', '"Records" is not an array'],
    ['package.json', '{"name": "not-a-log"}', 'not a CloudTrail log file, CloudTrail record or EventBridge event'],
    ['null.json', 'null', 'null, not a JSON object'],
    ['number.json', '42', 'a number, not a JSON object'],
    ['empty-array.json', '[]', 'an empty array'],
  ];

  test('each is skipped by name as holding no CloudTrail records and is not counted as read', async () => {
    const dir = tempDir();
    const files = NOTHING.map(([name, content]) => writeFile(path.join(dir, name), content));
    const { summary } = await replayInProcess(files);
    expect(summary.skipped).toEqual(
      NOTHING.map(([, , why], i) => ({ source: files[i], reason: `holds no CloudTrail records (${why})` })),
    );
    expect(summary).toMatchObject({ inputs: NOTHING.length, inputsRead: 0, records: 0 });
  });

  test('through the binary, such inputs alone exit 2 (nothing could be read), not 0 as if there were no drift', () => {
    const dir = tempDir();
    const files = NOTHING.map(([name, content]) => writeFile(path.join(dir, name), content));
    const result = runKeydrift(['replay', ...files], { cwd: tempDir() });
    expect(result.status).toBe(2);
    for (const file of files) expect(result.stderr).toContain(`skipped ${file}: holds no CloudTrail records`);
    expect(result.stderr).toContain('keydrift replay: nothing could be read (no input is a CloudTrail log)');
  });

  test('an array or JSON Lines of objects that are no CloudTrail records is skipped like one such object: alone, exit 2', () => {
    // Prepare: `aws rds describe-events` output (also `{"Events": [...]}`), its `--query Events` array, and jq -c '.Events[]'.
    const events = [
      {
        SourceIdentifier: 'payments-db',
        SourceType: 'db-instance',
        Message: 'Backing up DB instance',
        EventCategories: ['backup'],
        Date: '2026-10-03T10:00:00.000Z',
      },
      {
        SourceIdentifier: 'payments-db',
        SourceType: 'db-instance',
        Message: 'Finished DB Instance backup',
        EventCategories: ['backup'],
        Date: '2026-10-03T10:05:00.000Z',
      },
    ];
    const dir = tempDir();
    const object = writeFile(path.join(dir, 'rds-events.json'), { Events: events });
    const array = writeFile(path.join(dir, 'rds-events-array.json'), events);
    const lines = writeFile(path.join(dir, 'rds-events.jsonl'), jsonLines(events));
    // Act
    const result = runKeydrift(['replay', object, array, lines], { cwd: tempDir() });
    // Assess
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(
      `skipped ${object}: holds no CloudTrail records (not a CloudTrail log file, CloudTrail record or EventBridge event)`,
    );
    expect(result.stderr).toContain(
      `skipped ${array}: holds no CloudTrail records (no element is a CloudTrail log file, record or event)`,
    );
    expect(result.stderr).toContain(
      `skipped ${lines}: holds no CloudTrail records (no value is a CloudTrail log file, record or event)`,
    );
    expect(result.stderr).not.toContain('bad record');
    expect(result.stderr).toContain('keydrift replay: nothing could be read (no input is a CloudTrail log)');
  });

  test('a digest file alone exits 2, but a log whose Records array is empty was read: exit 0', () => {
    const dir = tempDir();
    const empty = writeFile(path.join(dir, 'empty-log.json'), { Records: [] });
    const digest = writeFile(path.join(dir, 'digest.json'), { digestStartTime: '2026-10-03T09:00:00Z', logFiles: [] });
    const digestOnly = runKeydrift(['replay', digest], { cwd: tempDir() });
    expect(digestOnly.status).toBe(2);
    expect(digestOnly.stderr).toContain(`skipped ${digest}: CloudTrail digest file (no records)`);
    expect(digestOnly.stderr).toContain('keydrift replay: nothing could be read (no input is a CloudTrail log)');
    const quietHour = runKeydrift(['replay', empty, digest], { cwd: tempDir() });
    expect(quietHour.status).toBe(0);
    expect(quietHour.stderr).toContain('0 records');
  });

  test('beside a readable log, they are reported and the exit status follows the findings; digest files stay a note', () => {
    const dir = tempDir();
    const nothing = writeFile(path.join(dir, 'obj.json'), '{}');
    const digest = writeFile(
      path.join(
        dir,
        'CloudTrail-Digest',
        '111122223333_CloudTrail-Digest_eu-west-1_t_eu-west-1_20261003T100000Z.json.gz',
      ),
      gzipSync(JSON.stringify({ digestStartTime: '2026-10-03T09:00:00Z', logFiles: [] })),
    );
    writeFile(path.join(dir, 'CloudTrail', 'log.json'), { Records: [sample('TagResource__awskmsdg__1')] });
    const result = runKeydrift(['replay', dir, '--fail-on', 'critical'], { cwd: tempDir() });
    expect(result.status).toBe(0);
    expect(result.stderr).toContain(`skipped ${nothing}: holds no CloudTrail records`);
    expect(result.stderr).toContain(`skipped ${digest}: CloudTrail digest file (no records)`);
    expect(result.stderr).not.toContain('nothing could be read');
  });

  test('many digest files (an organization prefix over days) are one line, so a file skipped for a reason stays in sight', () => {
    const dir = tempDir();
    const digests = Array.from({ length: 40 }, (_, hour) =>
      writeFile(
        path.join(
          dir,
          'CloudTrail-Digest',
          `111122223333_CloudTrail-Digest_eu-west-1_t_eu-west-1_${1000 + hour}.json.gz`,
        ),
        gzipSync(JSON.stringify({ digestStartTime: '2026-10-03T09:00:00Z', logFiles: [] })),
      ),
    );
    const nothing = writeFile(path.join(dir, 'obj.json'), '{}');
    writeFile(path.join(dir, 'CloudTrail', 'log.json'), { Records: [sample('TagResource__awskmsdg__1')] });
    const result = runKeydrift(['replay', dir], { cwd: tempDir() });
    expect(result.status).toBe(0);
    const skipped = result.stderr.split('\n').filter((line) => line.startsWith('skipped '));
    expect(skipped).toEqual([
      `skipped ${nothing}: holds no CloudTrail records (not a CloudTrail log file, CloudTrail record or EventBridge event)`,
      `skipped 40 CloudTrail digest files (no records), such as ${digests[0]}`,
    ]);
  });
});

describe('a byte order mark', () => {
  test('at the start of a log file or JSON Lines file is ignored, plain or gzipped', async () => {
    const dir = tempDir();
    const bom = '\uFEFF';
    const log = writeFile(
      path.join(dir, 'log.json'),
      `${bom}${JSON.stringify({ Records: [sample('EnableKey__awskmsdg__1')] })}`,
    );
    const lines = writeFile(path.join(dir, 'events.jsonl'), `${bom}${jsonLines([sample('DisableKey__awskmsdg__1')])}`);
    const gz = writeFile(
      path.join(dir, 'log.json.gz'),
      gzipSync(`${bom}${JSON.stringify(sample('TagResource__awskmsdg__1'))}`),
    );
    const { findings, summary } = await replayInProcess([log, lines, gz]);
    expect(findings.map((f) => f.event).sort()).toEqual(['DisableKey', 'EnableKey', 'TagResource']);
    expect(summary.skipped).toEqual([]);
    expect(summary.recordErrors).toEqual([]);
  });

  test('at the start of each of several files joined by `cat` is ignored too, read whole or as a stream', async () => {
    // Prepare: two JSON Lines files and two pretty-printed records, each file starting with the mark.
    const dir = tempDir();
    const bom = '\uFEFF';
    const joinedLines = `${bom}${jsonLines([sample('DisableKey__awskmsdg__1')])}${bom}${jsonLines([sample('EnableKey__awskmsdg__1')])}`;
    const lines = writeFile(path.join(dir, 'events.jsonl'), joinedLines);
    const pretty = (name: string) => `${bom}${JSON.stringify(sample(name), null, 2)}\r\n`;
    const joinedPretty = writeFile(
      path.join(dir, 'records.json'),
      pretty('TagResource__awskmsdg__1') + pretty('UpdateAlias__awskmsdg__1'),
    );
    // Act
    const whole = await replayInProcess([lines, joinedPretty]);
    const streamed = await replayInProcess([lines], { streamFromBytes: 1 });
    // Assess
    expect(whole.findings.map((f) => f.event).sort()).toEqual([
      'DisableKey',
      'EnableKey',
      'TagResource',
      'UpdateAlias',
    ]);
    expect(whole.summary.recordErrors).toEqual([]);
    expect(streamed.findings.map((f) => f.event).sort()).toEqual(['DisableKey', 'EnableKey']);
    expect(streamed.summary.recordErrors).toEqual([]);
  });

  test('of UTF-16 (Windows PowerShell 5 writes `aws cloudtrail lookup-events > events.json` so) is read as UTF-16', async () => {
    const dir = tempDir();
    const lookup = {
      Events: [{ EventName: 'DisableKey', CloudTrailEvent: JSON.stringify(sample('DisableKey__awskmsdg__1')) }],
    };
    const utf16 = (text: string) => Buffer.from(`\uFEFF${text}`, 'utf16le');
    const events = writeFile(path.join(dir, 'events.json'), utf16(JSON.stringify(lookup, null, 4)));
    const gz = writeFile(path.join(dir, 'log.json.gz'), gzipSync(utf16(jsonLines([sample('EnableKey__awskmsdg__1')]))));
    const { findings, summary } = await replayInProcess([events, gz]);
    expect(findings.map((f) => f.event).sort()).toEqual(['DisableKey', 'EnableKey']);
    expect(summary.skipped).toEqual([]);
    expect(summary.recordErrors).toEqual([]);
  });
});

describe('bytes that are no UTF-8 (a Latin-1 export, a corrupted copy)', () => {
  /** JSON Lines whose second record names its caller's agent in Latin-1: `é` as the one byte 0xE9. */
  const latin1Lines = (first: Json): Buffer => {
    const utf8 = Buffer.from(jsonLines([first, { ...sample('TagResource__awskmsdg__1'), userAgent: 'caf\u00e9' }]));
    const e = utf8.indexOf('caf\u00e9') + 3;
    return Buffer.concat([utf8.subarray(0, e), Buffer.from([0xe9]), utf8.subarray(e + 2)]);
  };

  test('are reported by byte and line, plain or gzipped, read whole or as a stream; every record still counts', async () => {
    // Prepare
    const dir = tempDir();
    const bytes = latin1Lines(sample('DisableKey__awskmsdg__1'));
    const plain = writeFile(path.join(dir, 'events.jsonl'), bytes);
    const gz = writeFile(path.join(dir, 'events.jsonl.gz'), gzipSync(bytes));
    const said = `not valid UTF-8 (1 byte sequence(s), the first at byte ${bytes.indexOf(0xe9)}, line 2): each is read as U+FFFD`;
    for (const streamFromBytes of [undefined, 1]) {
      // Act
      const { findings, summary } = await replayInProcess([plain, gz], { streamFromBytes });
      // Assess
      expect(findings.map((f) => f.event).sort()).toEqual(['DisableKey', 'TagResource']);
      expect(summary.recordErrors).toEqual([`${plain}: ${said}`, `${gz}: ${said}`]);
    }
  });

  test('read as a stream, a valid character split between two chunks is none of them; offsets count across chunks', async () => {
    // Prepare: a line of three-byte characters past the first chunk (1 MiB, which 3 does not divide), then the byte.
    const dir = tempDir();
    const bytes = latin1Lines({ ...sample('DisableKey__awskmsdg__1'), userAgent: '\u20ac'.repeat(400_000) });
    const valid = jsonLines([{ ...sample('DisableKey__awskmsdg__1'), userAgent: '\u20ac'.repeat(400_000) }]);
    const files = [
      writeFile(path.join(dir, 'latin1.jsonl'), bytes),
      writeFile(path.join(dir, 'latin1.jsonl.gz'), gzipSync(bytes)),
      writeFile(path.join(dir, 'valid.jsonl'), valid),
      writeFile(path.join(dir, 'valid.jsonl.gz'), gzipSync(valid)),
    ];
    // Act
    const { summary } = await replayInProcess(files, { streamFromBytes: 1 });
    // Assess
    const said = `not valid UTF-8 (1 byte sequence(s), the first at byte ${bytes.indexOf(0xe9)}, line 2): each is read as U+FFFD`;
    expect(summary.recordErrors).toEqual([`${files[0]}: ${said}`, `${files[1]}: ${said}`]);
  });
});

describe('an input too large to read (a decompression bomb)', () => {
  /** A gzipped log that expands far past the small cap the tests use (a real bomb passes V8's string limit). */
  const bigText = () => JSON.stringify({ Records: Array.from({ length: 200 }, () => sample('Decrypt__awskmsdg__2')) });
  const bigLog = () => gzipSync(bigText());
  const CAP = 16 * 1024;

  /** The refusal, with the way round it the README gives: JSON Lines are read as a stream whatever their size. */
  const TOO_LARGE_GZIP =
    'too large to read (decompresses to more than 16384 bytes): convert it to JSON Lines, which is read as a ' +
    "stream: gunzip -c FILE | jq -c '.Records[]' > FILE.jsonl";

  test('is reported as too large to read, never parsed, with how to convert it to JSON Lines', () => {
    const result = parseBuffer('bomb.json.gz', bigLog(), { maxBytes: CAP });
    expect(result).toMatchObject({ records: 0, fileError: TOO_LARGE_GZIP });
    const plain = parseBuffer('big.json', Buffer.alloc(CAP + 1, ' '), { maxBytes: CAP });
    expect(plain.fileError).toBe(
      'too large to read (more than 16384 bytes): convert it to JSON Lines, which is read as a stream: ' +
        "jq -c '.Records[]' FILE > FILE.jsonl",
    );
  });

  test('cut short, it is still too large to read: the size guard holds for a truncated gzip file too', () => {
    const bomb = bigLog();
    const cut = parseBuffer('bomb.json.gz', bomb.subarray(0, bomb.length - 100), { maxBytes: CAP });
    expect(cut).toMatchObject({ records: 0, fileError: TOO_LARGE_GZIP });
    const flushed = gzipSync(bigText(), { finishFlush: constants.Z_SYNC_FLUSH });
    expect(parseBuffer('flushed.json.gz', flushed, { maxBytes: CAP }).fileError).toMatch(/^too large to read/);
  });

  test('a read that fails past V8 limits costs that file only', async () => {
    const file = writeFile(path.join(tempDir(), 'log.json'), { Records: [sample('DisableKey__awskmsdg__1')] });
    const tooLong = Object.assign(new RangeError('Cannot create a string longer than 0x1fffffe8 characters'), {
      code: 'ERR_STRING_TOO_LONG',
    });
    const decode = jest.spyOn(Buffer.prototype, 'toString').mockImplementationOnce(() => {
      throw tooLong;
    });
    try {
      expect((await readInputFile(file)).fileError).toBe(`too large to read (${tooLong.message})`);
    } finally {
      decode.mockRestore();
    }
  });

  test.each([0, 2])('the other inputs still replay (workers: %i)', async (workers) => {
    const dir = tempDir();
    const bomb = writeFile(path.join(dir, 'a-bomb.json.gz'), bigLog());
    const good = writeFile(path.join(dir, 'b-log.json'), { Records: [sample('DisableKey__awskmsdg__1')] });
    const { findings, summary } = await replayInProcess([bomb, good, samplePath('TagResource__awskmsdg__1')], {
      workers,
      maxFileBytes: CAP,
    });
    expect(findings.map((f) => f.event).sort()).toEqual(['DisableKey', 'TagResource']);
    expect(summary.skipped).toEqual([{ source: bomb, reason: expect.stringMatching(/^too large to read \(/) }]);
    expect(summary).toMatchObject({ inputs: 3, inputsRead: 2 });
  });
});

describe('folders reached twice', () => {
  const logFolder = () => {
    const dir = tempDir();
    writeFile(path.join(dir, 'a', 'log.json'), {
      Records: [sample('DisableKey__awskmsdg__1'), sample('TagResource__awskmsdg__1')],
    });
    return dir;
  };

  test('a symlink back to a parent folder reads each file once', async () => {
    const dir = logFolder();
    fs.symlinkSync('..', path.join(dir, 'a', 'up'));
    const { findings, summary } = await replayInProcess([dir]);
    expect(findings.map((f) => f.event)).toEqual(['DisableKey', 'TagResource']);
    expect(summary).toMatchObject({ inputs: 1, records: 2, duplicates: 0 });
  });

  test('two symlinks back to the parent finish at once through the binary, each file read once', () => {
    const dir = logFolder();
    fs.symlinkSync('..', path.join(dir, 'a', 'up1'));
    fs.symlinkSync('..', path.join(dir, 'a', 'up2'));
    const result = runKeydrift(['replay', dir], { cwd: tempDir(), timeoutMs: 10_000 });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('keydrift replay: 1 input(s), 2 records');
  });

  test('a symlinked file beside its target is read once', () => {
    const dir = logFolder();
    fs.symlinkSync(path.join(dir, 'a', 'log.json'), path.join(dir, 'a', 'same.json'));
    expect(listInputs([dir]).files.map((f) => f.path)).toEqual([path.join(dir, 'a', 'log.json')]);
  });
});

describe('the same path named twice', () => {
  test('reads each real file once: same counts as naming it once, no duplicates', async () => {
    const once = await replayInProcess([EXAMPLES]);
    const twice = await replayInProcess([EXAMPLES, `${EXAMPLES}/`, path.join(EXAMPLES, '..', 'cloudtrail')]);
    expect(twice.summary).toEqual(once.summary);
    expect(twice.findings).toEqual(once.findings);
  });

  test('a file named on its own and inside its folder is read once', () => {
    const file = samplePath('DisableKey__awskmsdg__1');
    expect(
      listInputs([file, path.dirname(file), file]).files.filter((f) => f.path.endsWith('DisableKey__awskmsdg__1.json')),
    ).toHaveLength(1);
  });
});

describe('folder entries that cannot be read as log files', () => {
  const logFolder = () => {
    const dir = tempDir();
    writeFile(path.join(dir, 'a', 'log.json'), { Records: [sample('DisableKey__awskmsdg__1')] });
    return dir;
  };

  test('a named symlink to itself is skipped with why, named once', () => {
    // Prepare
    const loop = path.join(tempDir(), 'loop.json');
    fs.symlinkSync(loop, loop);

    // Act
    const { skipped } = listInputs([loop]);

    // Assess
    expect(skipped).toEqual([{ source: loop, reason: 'ELOOP: too many symbolic links encountered' }]);
  });

  test("a file that cannot be read is reported by name once, with why: not Node's message, which names it again", async () => {
    // Prepare: a real refusal root gets too: the file is gone by the time it is read (listed, then deleted).
    const gone = path.join(tempDir(), 'rotated-away.json');

    // Act
    const read = await readInputFile(gone);

    // Assess
    expect(read.fileError).toBe('could not be read (ENOENT: no such file or directory)');
  });

  test('a subfolder that cannot be listed is reported by name; the other files still replay', async () => {
    // Prepare: root reads any folder, so the refusal a non-root user gets is made here.
    const dir = logFolder();
    const locked = path.join(dir, 'b-locked');
    fs.mkdirSync(locked);
    // The module itself, not the namespace copy `import * as fs` gives: the one replay.ts calls.
    const nodeFs: typeof fs = jest.requireActual('node:fs');
    const readdir = nodeFs.readdirSync;
    const spy = jest.spyOn(nodeFs, 'readdirSync').mockImplementation(((folder: fs.PathLike, ...rest: unknown[]) => {
      if (String(folder) === locked) {
        throw Object.assign(new Error(`EACCES: permission denied, scandir '${locked}'`), { code: 'EACCES' });
      }
      return (readdir as (...args: unknown[]) => unknown)(folder, ...rest);
    }) as typeof fs.readdirSync);
    try {
      // Act
      const { findings, summary } = await replayInProcess([dir]);
      // Assess
      expect(findings.map((f) => f.event)).toEqual(['DisableKey']);
      expect(summary.skipped).toEqual([{ source: locked, reason: 'could not be listed (EACCES: permission denied)' }]);
    } finally {
      spy.mockRestore();
    }
  });

  test('a broken symlink in a folder is reported as one, naming its target, but is no named path that does not exist: the exit follows the findings', () => {
    const dir = logFolder();
    fs.symlinkSync(path.join(dir, 'gone.json'), path.join(dir, 'a', 'moved.json'));
    const result = runKeydrift(['replay', dir], { cwd: tempDir() });
    expect(result.stderr).toContain(
      `skipped ${path.join(dir, 'a', 'moved.json')}: broken symlink to ${path.join(dir, 'gone.json')} (no such file or folder)`,
    );
    expect(result.stderr).not.toContain('do not exist');
    expect(result.status).toBe(1);
  });

  test('a FIFO named like a log file in a folder is skipped, not waited on for ever', () => {
    const dir = logFolder();
    const fifo = path.join(dir, 'a', 'pipe.json');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const result = runKeydrift(['replay', dir], { cwd: tempDir(), timeoutMs: 15_000 });
    expect(result.stderr).toContain(`skipped ${fifo}: not a regular file`);
    expect(result.status).toBe(1);
  });
});
