/**
 * Large replays read and parse files on worker threads. Which thread reads which file, and in what order
 * results come back, must not change a single finding.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { DEFAULT_CONFIG } from '../../lambda/core/config';
import { replay } from '../../lambda/replay/replay';
import { SHARED, sample, tempDir, writeFile } from '../helpers/keydrift';

// Counts the worker threads the replay starts; they are real threads all the same.
jest.mock('node:worker_threads', () => {
  const actual = jest.requireActual('node:worker_threads');
  return { ...actual, Worker: jest.fn((...args: unknown[]) => new actual.Worker(...args)) };
});

let corpus: string;

beforeAll(() => {
  corpus = tempDir();
  const made = spawnSync(
    'python3',
    [path.join(SHARED, 'bench', 'make-cloudtrail-corpus.py'), corpus, '--files', '6', '--records', '500'],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`make-cloudtrail-corpus.py failed: ${made.stderr}`);
  // A record that only makes sense after another file's record (resolved needs the earlier DisableKey),
  // and a duplicate across files: both depend on merging every worker's results before judging.
  const disable = { ...sample('DisableKey__awskmsdg__1'), eventTime: '2026-10-02T00:00:00Z', eventID: 'w-disable' };
  const enable = { ...sample('EnableKey__awskmsdg__1'), eventTime: '2026-10-03T00:00:00Z', eventID: 'w-enable' };
  writeFile(path.join(corpus, 'extra', 'a.json'), { Records: [enable, disable] });
  writeFile(path.join(corpus, 'extra', 'z.json'), { Records: [disable] });
});

test('workers: 2 and workers: 0 give the same findings and counts on a generated multi-file corpus', async () => {
  const inline = await replay([corpus], { config: DEFAULT_CONFIG, workers: 0 });
  expect(Worker).not.toHaveBeenCalled();
  const threaded = await replay([corpus], { config: DEFAULT_CONFIG, workers: 2 });
  expect(Worker).toHaveBeenCalledTimes(2);
  expect(inline.summary).toMatchObject({ inputs: 8, records: 3002, duplicates: 1 });
  expect(inline.findings.length).toBeGreaterThanOrEqual(5);
  expect(inline.findings.find((f) => f.eventId === 'w-enable')).toMatchObject({ status: 'resolved' });
  expect(threaded.findings).toEqual(inline.findings);
  const { skipped, recordErrors, ...counts } = threaded.summary;
  const { skipped: inlineSkipped, recordErrors: inlineErrors, ...inlineCounts } = inline.summary;
  expect(counts).toEqual(inlineCounts);
  expect(skipped).toEqual(inlineSkipped);
  expect(recordErrors.sort()).toEqual(inlineErrors.sort());
});

test('progress is reported once per input, on worker threads too', async () => {
  const seen: Array<[number, number]> = [];
  await replay([corpus], { config: DEFAULT_CONFIG, workers: 2, onProgress: (done, total) => seen.push([done, total]) });
  expect(seen).toEqual(Array.from({ length: 8 }, (_, i) => [i + 1, 8]));
});
