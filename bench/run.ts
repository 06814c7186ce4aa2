/**
 * `npm run bench`: prints keydrift's speed and memory figures next to their targets. It measures and
 * reports; it never fails a build (unit tests hold no timings).
 *
 * Replay: a generated CloudTrail corpus (../shared/bench/make-cloudtrail-corpus.py), timed against the
 * single-core floor (../shared/bench/floor-parse.mjs: gunzip + JSON.parse only) and `zcat | jq`.
 * Reconcile: a simulated sweep of 100 and 10,000 keys under KMS's request quotas (bench/reconcile.ts).
 * `npm run bench -- reconcile` runs one section.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LAMBDA_BANNER } from '../lib/keydrift-function';
import { reconcileBench } from './reconcile';

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

/**
 * One key's grant churn: `pairs` grants created and retired one after the other (what EBS, RDS or Lambda leave in a
 * busy key's month of CloudTrail), each with its own id, from the shared CreateGrant and RetireGrant samples.
 */
function grantChurn(pairs: number): string {
  const file = join(work, `grants-${pairs}.json`);
  if (existsSync(file)) return file;
  const samples = resolve(root, '..', 'shared', 'samples', 'cloudtrail');
  const read = (name: string) => JSON.parse(readFileSync(join(samples, `${name}.json`), 'utf8'));
  const create = read('CreateGrant__awskmsdg__2');
  const retire = read('RetireGrant__awskmsdg__1');
  const start = Date.parse('2026-01-01T00:00:00Z');
  const at = (second: number) => new Date(start + second * 1000).toISOString().replace('.000Z', 'Z');
  const records = Array.from({ length: pairs }, (_, n) => {
    const grantId = (n + 1).toString(16).padStart(64, '0');
    return [
      { ...create, eventTime: at(2 * n), eventID: `c-${n}`, responseElements: { grantId } },
      { ...retire, eventTime: at(2 * n + 1), eventID: `r-${n}`, additionalEventData: { grantId } },
    ];
  }).flat();
  mkdirSync(work, { recursive: true });
  writeFileSync(file, JSON.stringify({ Records: records }));
  return file;
}

function replayBench(): void {
  const dir = corpus('corpus-200k', 80);
  // Warm the page cache and the CLI bundle once.
  timed(`node bin/keydrift.cjs replay ${dir} --format json --no-progress --fail-on never >/dev/null 2>&1`);
  const floor = repeat(`node ${join(shared, 'floor-parse.mjs')} ${dir}`, 5);
  const replay = repeat(
    `node bin/keydrift.cjs replay ${dir} --format json --no-progress --fail-on never 2>/dev/null | wc -l`,
    5,
  );
  const logFiles = `find ${dir} -name '*.json.gz' -print0 | xargs -0 zcat`;
  const jq = timed(
    `${logFiles} | jq -c '.Records[] | select((.eventSource == "kms.amazonaws.com" or .eventSource == "cloudtrail.amazonaws.com") and .readOnly == false)' | wc -l`,
  );
  const lines = join(work, 'corpus-200k.jsonl');
  if (!existsSync(lines)) {
    timed(`${logFiles} | jq -c '.Records[]' > ${lines}.part && mv ${lines}.part ${lines}`);
  }
  const replayLines = repeat(
    `node bin/keydrift.cjs replay ${lines} --format json --no-progress --fail-on never >/dev/null 2>&1`,
    3,
  );
  // Past the 512 MiB an input read whole may hold: the same lines three times, read as a stream.
  const tripled = join(work, 'corpus-200k-x3.jsonl');
  if (!existsSync(tripled)) timed(`cat ${lines} ${lines} ${lines} > ${tripled}.part && mv ${tripled}.part ${tripled}`);
  const replayTripled = timed(
    `node bin/keydrift.cjs replay ${tripled} --format json --no-progress --fail-on never >/dev/null 2>&1`,
  );
  const big = corpus('corpus-1m', 400);
  const replayBig = timed(
    `node bin/keydrift.cjs replay ${big} --format json --no-progress --fail-on never >/dev/null 2>&1`,
  );
  const floorBig = timed(`node ${join(shared, 'floor-parse.mjs')} ${big}`);
  const churn = timed(
    `node bin/keydrift.cjs replay ${grantChurn(20_000)} --format json --no-progress --fail-on never >/dev/null 2>&1`,
  );

  console.log('\n## Replay (200,000 records, 80 gzipped files; 1,000,000 records, 400 files)\n');
  console.log('| measure | figure | target |');
  console.log('| --- | --- | --- |');
  console.log(`| floor (gunzip + JSON.parse, 1 core), wall | ${fmt(floor.seconds)} s | |`);
  console.log(`| keydrift replay, wall (${replay.stdout.trim()} findings) | ${fmt(replay.seconds)} s | ≤ floor |`);
  console.log(`| replay / floor | ${fmt(replay.seconds / floor.seconds)}× | ≤ 1.00× |`);
  console.log(`| zcat \\| jq filter, wall (${jq.stdout.trim()} writes) | ${fmt(jq.seconds)} s | |`);
  console.log(`| jq / replay | ${fmt(jq.seconds / replay.seconds, 1)}× faster | ≥ 3× |`);
  console.log(`| replay peak memory, 200k records | ${fmt(replay.peakMiB, 0)} MiB | |`);
  console.log(
    `| replay wall, the same records as one JSON Lines file (${fmt(statSync(lines).size / 1024 ** 2, 0)} MiB) | ${fmt(replayLines.seconds)} s, ${fmt(replayLines.peakMiB, 0)} MiB | |`,
  );
  console.log(
    `| replay wall, that file three times over (${fmt(statSync(tripled).size / 1024 ** 2, 0)} MiB, streamed) | ${fmt(replayTripled.seconds)} s, ${fmt(replayTripled.peakMiB, 0)} MiB | |`,
  );
  console.log(`| replay wall, 1M records (floor ${fmt(floorBig.seconds)} s) | ${fmt(replayBig.seconds)} s | |`);
  console.log(`| replay peak memory, 1M records | ${fmt(replayBig.peakMiB, 0)} MiB | < 256 MiB |`);
  console.log(
    `| replay wall, 20,000 grants created and retired on one key | ${fmt(churn.seconds)} s, ${fmt(churn.peakMiB, 0)} MiB | |`,
  );
}

/** Builds a Lambda bundle exactly as the stack does (lib/keydrift-function.ts), returning its path and size. */
async function lambdaBundle(name: string, entry: string): Promise<{ file: string; bytes: number }> {
  const esbuild = await import('esbuild');
  const file = join(work, 'bundles', `${name}.mjs`);
  await esbuild.build({
    entryPoints: [entry],
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    minify: true,
    mainFields: ['module', 'main'],
    banner: { js: LAMBDA_BANNER },
    logLevel: 'error',
  });
  return { file, bytes: statSync(file).size };
}

/** What the detector's composition root reads at init, as the stack sets it. */
const LAMBDA_ENV = {
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  TABLE_NAME: 'keydrift',
  CHAT_TOPIC_ARN: 'arn:aws:sns:eu-west-1:111122223333:chat',
  EMAIL_TOPIC_ARN: 'arn:aws:sns:eu-west-1:111122223333:email',
  PAGE_TOPIC_ARN: 'arn:aws:sns:eu-west-1:111122223333:page',
  OPS_TOPIC_ARN: 'arn:aws:sns:eu-west-1:111122223333:ops',
  LAST_RESORT_TOPIC_ARN: 'arn:aws:sns:eu-west-1:111122223333:last-resort',
  SELF_KEY_ARN: 'arn:aws:kms:eu-west-1:111122223333:key/bench',
  OPS_KEY_ARN: 'arn:aws:kms:eu-west-1:111122223333:key/bench-ops',
  KEYDRIFT_CONFIG: '{"plannedPrincipals":[],"severityOverrides":{},"alertMinSeverity":"error"}',
  POWERTOOLS_SERVICE_NAME: 'keydrift',
  POWERTOOLS_METRICS_NAMESPACE: 'Keydrift',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

/** Time to import a bundle in a fresh Node process (cold init, without Node's own start-up). */
function importMs(file: string): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(file)}); console.log(performance.now() - t);`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...LAMBDA_ENV },
  });
  if (result.status !== 0) throw new Error(`importing ${file} failed: ${result.stderr}`);
  return Number(result.stdout.trim());
}

/**
 * Median cold init of each bundle. The bundles take turns, so a machine that slows down during the bench slows
 * them alike and their ratio holds.
 */
function coldInitMs(files: string[], rounds = 15): number[] {
  const times = files.map((): number[] => []);
  for (let round = 0; round < rounds; round++) {
    for (const [i, file] of files.entries()) times[i].push(importMs(file));
  }
  return times.map((samples) => samples.sort((x, y) => x - y)[Math.floor(rounds / 2)]);
}

async function detectorBench(): Promise<void> {
  mkdirSync(join(work, 'bundles'), { recursive: true });
  const floorEntry = join(work, 'bundles', 'sdk-floor.ts');
  writeFileSync(
    floorEntry,
    [
      "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';",
      "import { KMSClient } from '@aws-sdk/client-kms';",
      "import { SNSClient } from '@aws-sdk/client-sns';",
      'export const clients = [new KMSClient({}), new SNSClient({}), new DynamoDBClient({})];',
    ].join('\n'),
  );
  const detector = await lambdaBundle('detector', join(root, 'lambda/handlers/detector.ts'));
  const floor = await lambdaBundle('sdk-floor', floorEntry);
  const [detectorInit, floorInit] = coldInitMs([detector.file, floor.file]);

  // The round-trip test measures event → publish with every AWS call answering after 20 ms.
  const timing = join(work, 'detector-timing.txt');
  rmSync(timing, { force: true });
  const jest = spawnSync(
    process.execPath,
    [join(root, 'node_modules/jest/bin/jest.js'), 'test/handlers/detector-app.test.ts', '-t', 'round trips'],
    { cwd: root, encoding: 'utf8', env: { ...process.env, KEYDRIFT_TIMING_FILE: timing } },
  );
  if (jest.status !== 0) throw new Error(`round-trip measurement failed:\n${jest.stderr}`);
  const roundTrips = readFileSync(timing, 'utf8').trim();

  const kib = (bytes: number) => `${fmt(bytes / 1024, 0)} KiB`;
  console.log('\n## Detector Lambda (bundled as the stack does: ESM, minified, SDK inside)\n');
  console.log('| measure | figure | target |');
  console.log('| --- | --- | --- |');
  console.log(`| detector bundle | ${kib(detector.bytes)} | |`);
  console.log(`| KMS + SNS + DynamoDB clients only, same build | ${kib(floor.bytes)} | |`);
  console.log(`| size ratio | ${fmt(detector.bytes / floor.bytes)}× | ≤ 1.25× |`);
  console.log(`| cold init (import), detector | ${fmt(detectorInit, 1)} ms | |`);
  console.log(`| cold init (import), clients only | ${fmt(floorInit, 1)} ms | |`);
  console.log(`| init ratio | ${fmt(detectorInit / floorInit)}× | ≤ 1.30× |`);
  console.log(`| event → publish, AWS calls instant vs 20 ms each | ${roundTrips} | ≤ 2 round trips (≤ +60 ms) |`);
}

const sections: Record<string, () => void | Promise<void>> = {
  replay: replayBench,
  detector: detectorBench,
  reconcile: reconcileBench,
};

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
