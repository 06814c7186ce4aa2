/**
 * `npm run bench`: prints keydrift's speed and memory figures next to their targets. It measures and
 * reports; it never fails a build (unit tests hold no timings).
 *
 * Replay: a generated CloudTrail corpus (../shared/bench/make-cloudtrail-corpus.py), timed against the
 * single-core floor (../shared/bench/floor-parse.mjs: gunzip + JSON.parse only) and `zcat | jq`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..');
const shared = resolve(root, '..', 'shared', 'bench');
const work = join(root, '.bench');

interface Run {
  seconds: number;
  peakMiB: number;
  stdout: string;
}

/** Runs a shell command under /usr/bin/time: wall seconds and peak resident memory. */
function timed(command: string): Run {
  const result = spawnSync('/usr/bin/time', ['-f', '%e %M', 'bash', '-c', command], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr}`);
  const [seconds, kib] = result.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { seconds, peakMiB: kib / 1024, stdout: result.stdout };
}

function median(runs: Run[]): Run {
  return [...runs].sort((a, b) => a.seconds - b.seconds)[Math.floor(runs.length / 2)];
}

function repeat(command: string, times: number): Run {
  return median(Array.from({ length: times }, () => timed(command)));
}

function corpus(name: string, files: number): string {
  const dir = join(work, name);
  if (!existsSync(dir) || readdirSync(dir).length === 0) {
    console.log(`generating ${name} (${files} files × 2,500 records)…`);
    const made = spawnSync('python3', [join(shared, 'make-cloudtrail-corpus.py'), dir, '--files', String(files)], {
      stdio: 'inherit',
    });
    if (made.status !== 0) throw new Error('corpus generation failed');
  }
  return dir;
}

const fmt = (n: number, digits = 2) => n.toFixed(digits);

function replayBench(): void {
  const dir = corpus('corpus-200k', 80);
  // Warm the page cache and the CLI bundle once.
  timed(`node bin/keydrift.cjs replay ${dir} --format json --no-progress >/dev/null 2>&1`);
  const floor = repeat(`node ${join(shared, 'floor-parse.mjs')} ${dir}`, 5);
  const replay = repeat(
    `node bin/keydrift.cjs replay ${dir} --format json --no-progress --fail-on never 2>/dev/null | wc -l`,
    5,
  );
  const jq = timed(
    `find ${dir} -name '*.json.gz' -print0 | xargs -0 zcat | jq -c '.Records[] | select((.eventSource == "kms.amazonaws.com" or .eventSource == "cloudtrail.amazonaws.com") and .readOnly == false)' | wc -l`,
  );
  const big = corpus('corpus-1m', 400);
  const replayBig = timed(
    `node bin/keydrift.cjs replay ${big} --format json --no-progress --fail-on never >/dev/null 2>&1`,
  );
  const floorBig = timed(`node ${join(shared, 'floor-parse.mjs')} ${big}`);

  console.log('\n## Replay (200,000 records, 80 gzipped files; 1,000,000 records, 400 files)\n');
  console.log('| measure | figure | target |');
  console.log('| --- | --- | --- |');
  console.log(`| floor (gunzip + JSON.parse, 1 core), wall | ${fmt(floor.seconds)} s | |`);
  console.log(`| keydrift replay, wall (${replay.stdout.trim()} findings) | ${fmt(replay.seconds)} s | ≤ floor |`);
  console.log(`| replay / floor | ${fmt(replay.seconds / floor.seconds)}× | ≤ 1.00× |`);
  console.log(`| zcat \\| jq filter, wall (${jq.stdout.trim()} writes) | ${fmt(jq.seconds)} s | |`);
  console.log(`| jq / replay | ${fmt(jq.seconds / replay.seconds, 1)}× faster | ≥ 3× |`);
  console.log(`| replay peak memory, 200k records | ${fmt(replay.peakMiB, 0)} MiB | |`);
  console.log(`| replay wall, 1M records (floor ${fmt(floorBig.seconds)} s) | ${fmt(replayBig.seconds)} s | |`);
  console.log(`| replay peak memory, 1M records | ${fmt(replayBig.peakMiB, 0)} MiB | < 256 MiB |`);
}

const sections: Record<string, () => void | Promise<void>> = { replay: replayBench };

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  console.log(`keydrift bench on Node ${process.version}, ${require('node:os').availableParallelism()} cores`);
  for (const [name, run] of Object.entries(sections)) {
    if (only.length === 0 || only.includes(name)) await run();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
