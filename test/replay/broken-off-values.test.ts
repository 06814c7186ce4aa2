/**
 * Several JSON values one after another (log files joined by `cat`, jq's output) where one value is broken off in
 * the middle and the next value follows at once, as a partial download or an interrupted pipe leaves it. The
 * broken value costs only itself (in a log file, only the record it breaks in): the replay resumes where the next
 * value starts and reads every later one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseBuffer } from '../../lambda/replay/parse-file';
import type { ReplayResult } from '../../lambda/replay/replay';
import {
  EXAMPLES,
  type Json,
  parseFindings,
  replayInProcess,
  runKeydrift,
  tempDir,
  writeFile,
} from '../helpers/keydrift';
import { exampleRecords, jqPretty } from './example-log';

const DAY = path.join(EXAMPLES, 'AWSLogs/111122223333/CloudTrail/eu-west-1/2026/10/03');

/** The five plain log files of the examples folder (40 records), in name order. */
const LOGS: Array<{ Records: Json[] }> = fs
  .readdirSync(DAY)
  .filter((name) => name.endsWith('.json'))
  .sort()
  .map((name) => JSON.parse(fs.readFileSync(path.join(DAY, name), 'utf8')));

/** Each log file compact, as CloudTrail writes it: `{"Records":[...]}` on one line. */
const COMPACT = LOGS.map((log) => JSON.stringify(log));

/** How many of a compact log file's records are complete in its first `cut` characters. */
function completeRecords(log: { Records: Json[] }, cut: number): number {
  let end = '{"Records":['.length;
  let complete = 0;
  for (const record of log.Records) {
    end += JSON.stringify(record).length;
    if (end > cut) break;
    complete++;
    end++; // the comma
  }
  return complete;
}

/** The five log files joined with no newline, the second cut after `cut` characters. */
const catWithSecondCut = (cut: number): string => [COMPACT[0], COMPACT[1].slice(0, cut), ...COMPACT.slice(2)].join('');

/** Everything a replay counted and found, without the errors and skipped inputs. */
function counts({ findings, summary }: ReplayResult) {
  const { records, writes, reads, others, duplicates, otherAccounts } = summary;
  return { findings, records, writes, reads, others, duplicates, otherAccounts, bySeverity: summary.findings };
}

describe('log files joined by cat, the second cut short in the middle of a record', () => {
  const cut = Math.floor(COMPACT[1].length / 2);
  const kept = completeRecords(LOGS[1], cut);

  test('only the record the cut falls in is lost: the same findings and counts as the intact pieces read apart', async () => {
    // Prepare: the joined text, and as the oracle each piece in a file of its own.
    const dir = tempDir();
    const joined = writeFile(path.join(dir, 'joined', 'cat.json'), catWithSecondCut(cut));
    const pieces = [LOGS[0], { Records: LOGS[1].Records.slice(0, kept) }, ...LOGS.slice(2)].map((log, i) =>
      writeFile(path.join(dir, 'pieces', `${i}.json`), log),
    );
    // Act
    const fromJoined = await replayInProcess([joined]);
    const fromPieces = await replayInProcess(pieces);
    // Assess
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(LOGS[1].Records.length);
    expect(counts(fromJoined)).toEqual(counts(fromPieces));
    expect(fromJoined.summary.records).toBe(40 - (LOGS[1].Records.length - kept));
    const next = COMPACT[0].length + cut;
    expect(fromJoined.summary.recordErrors).toEqual([
      `${joined}: value 2 (line 1) Records[${kept}]: broken off where value 3 starts (line 1 column ${next + 1})`,
    ]);
    expect(fromJoined.summary).toMatchObject({ inputsRead: 1, skipped: [] });
  });

  test('wherever the cut falls (inside a string, between records, before "Records"), every later log file is read', () => {
    const others = LOGS.reduce((sum, log) => sum + log.Records.length, 0) - LOGS[1].Records.length;
    const message =
      /^value 2 \(line 1\)( Records\[\d+\])?: broken off (after \d+ record\(s\), )?where value 3 starts \(line 1 column \d+\)$/;
    for (let at = 1; at < COMPACT[1].length; at += 17) {
      const result = parseBuffer('cat', Buffer.from(catWithSecondCut(at)));
      expect({ at, records: result.records, errors: result.recordErrors }).toEqual({
        at,
        records: others + completeRecords(LOGS[1], at),
        errors: [expect.stringMatching(message)],
      });
    }
  });

  test('a cut between two records names how many came before it', () => {
    const third = JSON.stringify(LOGS[1].Records[2]);
    const cut = COMPACT[1].indexOf(third) + third.length;
    const result = parseBuffer('cat', Buffer.from(catWithSecondCut(cut)));
    const next = COMPACT[0].length + cut;
    expect(result.recordErrors).toEqual([
      `value 2 (line 1): broken off after 3 record(s), where value 3 starts (line 1 column ${next + 1})`,
    ]);
  });

  test('through the binary from standard input: the findings of the intact pieces, the break named, not "truncated"', () => {
    // Prepare: as the oracle, the intact pieces as files of their own.
    const dir = tempDir();
    const pieces = [LOGS[0], { Records: LOGS[1].Records.slice(0, kept) }, ...LOGS.slice(2)].map((log, i) =>
      writeFile(path.join(dir, `${i}.json`), log),
    );
    // Act
    const result = runKeydrift(['replay', '--format', 'json', '-'], { cwd: dir, input: catWithSecondCut(cut) });
    const oracle = runKeydrift(['replay', '--format', 'json', ...pieces], { cwd: dir });
    // Assess
    expect(result.status).toBe(1);
    expect(parseFindings(result.stdout)).toEqual(parseFindings(oracle.stdout));
    expect(result.stderr).toContain(`bad record <stdin>: value 2 (line 1) Records[${kept}]: broken off where value 3`);
    expect(result.stderr).not.toContain('truncated');
    expect(result.stderr).not.toContain('skipped');
  });
});

describe("jq's pretty-printed records with one value broken off", () => {
  /**
   * `jq '.Records[]'` of the example log, with Records[6] (DisableKeyRotation) ending after `"eventName": `; the next
   * value starts on a line of its own, as jq prints each value.
   */
  function brokenJq(): { text: string; next: number; line: number } {
    const values = exampleRecords().map((record) => jqPretty([record]));
    const at = values[6].indexOf('"eventName": ') + '"eventName": '.length;
    values[6] = `${values[6].slice(0, at)}\n`;
    const text = values.join('');
    const next = values.slice(0, 7).join('').length;
    return { text, next, line: values.slice(0, 6).join('').split('\n').length };
  }

  test('only the broken value is lost, named by its number and line, with the line where the next one starts', async () => {
    // Prepare
    const { text, next, line } = brokenJq();
    const file = writeFile(path.join(tempDir(), 'records.json'), text);
    const nextLine = text.slice(0, next).split('\n').length;
    // Act
    const { findings, summary } = await replayInProcess([file]);
    // Assess: the writes after it (PutKeyPolicy, TagResource) are read.
    expect(findings.map((f) => f.event)).toEqual(['PutKeyPolicy', 'TagResource']);
    expect(summary).toMatchObject({ records: 8, reads: 5, others: 1, writes: 2, skipped: [] });
    expect(summary.recordErrors).toEqual([
      `${file}: value 7 (line ${line}): broken off where value 8 starts (line ${nextLine} column 1)`,
    ]);
  });

  test('wherever the value is cut, every other value is read', () => {
    const values = exampleRecords().map((record) => jqPretty([record]));
    for (let at = 1; at < values[6].length - 2; at += 3) {
      const text = [...values.slice(0, 6), `${values[6].slice(0, at)}\n`, ...values.slice(7)].join('');
      const result = parseBuffer('jq', Buffer.from(text));
      expect({ at, records: result.records, errors: result.recordErrors }).toEqual({
        at,
        records: 8,
        errors: [
          expect.stringMatching(/^value 7 \(line \d+\): broken off where value 8 starts \(line \d+ column 1\)$/),
        ],
      });
    }
  });
});
