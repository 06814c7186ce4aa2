/**
 * Shared by the replay and CLI tests: where the samples and the real binary are, temporary folders, and a
 * way to run `node bin/keydrift.cjs` and read what it printed.
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_CONFIG } from '../../lambda/core/config';
import type { Finding, Severity } from '../../lambda/core/types';
import { type ReplayOptions, type ReplayResult, replay } from '../../lambda/replay/replay';

export const REPO = path.resolve(__dirname, '../..');
/** CI clones the repository with shared/ beside it. */
export const SHARED = path.resolve(__dirname, '../../../shared');
export const SAMPLES = path.join(SHARED, 'samples', 'cloudtrail');
export const MALFORMED = path.join(SAMPLES, 'malformed-in-source');
export const EXAMPLES = path.join(REPO, 'examples', 'cloudtrail');
export const BIN = path.join(REPO, 'bin', 'keydrift.cjs');

export type Json = Record<string, unknown>;

/** The replay in this process on one thread, with the default configuration unless `options` say otherwise. */
export function replayInProcess(paths: string[], options: Partial<ReplayOptions> = {}): Promise<ReplayResult> {
  return replay(paths, { config: DEFAULT_CONFIG, workers: 0, ...options });
}

export const samplePath = (name: string): string => path.join(SAMPLES, `${name}.json`);

/** A sample record (or EventBridge event) as a fresh object the test may change. */
export function sample(name: string): Json {
  return JSON.parse(fs.readFileSync(samplePath(name), 'utf8'));
}

const tempDirs: string[] = [];

/** A fresh folder under the OS temp dir, removed once the test file is done. */
export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keydrift-'));
  tempDirs.push(dir);
  return dir;
}

// Registered when a test file imports this helper.
afterAll(() => {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** Writes a file (creating its folders); objects become JSON. Returns its path. */
export function writeFile(file: string, content: string | Buffer | object): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, typeof content === 'string' || Buffer.isBuffer(content) ? content : JSON.stringify(content));
  return file;
}

/** JSON Lines text: one compact JSON value per line. */
export const jsonLines = (values: unknown[]): string => values.map((v) => `${JSON.stringify(v)}\n`).join('');

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real binary, `node bin/keydrift.cjs ARGS`, with standard output and error as pipes (not a TTY). `env`
 * replaces the environment (e.g. a moto's `env`: its endpoint and fake credentials, nothing else).
 */
export function runKeydrift(
  args: string[],
  options: { cwd: string; input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number; maxBuffer?: number },
): Run {
  const env = { ...(options.env ?? process.env) };
  delete env.NO_COLOR;
  const result: SpawnSyncReturns<string> = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    input: options.input,
    encoding: 'utf8',
    env,
    timeout: options.timeoutMs ?? 30_000,
    maxBuffer: options.maxBuffer,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The findings a `--format json` run printed, one per line. */
export function parseFindings(stdout: string): Finding[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Finding);
}

/** The counts on the summary's `findings:` line. */
export function summaryCounts(stderr: string): Record<Severity, number> {
  const match = /findings: (\d+) critical, (\d+) error, (\d+) warning, (\d+) info/.exec(stderr);
  if (!match) throw new Error(`no findings line in:\n${stderr}`);
  return { critical: Number(match[1]), error: Number(match[2]), warning: Number(match[3]), info: Number(match[4]) };
}

/** Counts findings by severity, every severity present. */
export function countBySeverity(findings: Array<{ severity: Severity }>): Record<Severity, number> {
  const counts: Record<Severity, number> = { critical: 0, error: 0, warning: 0, info: 0 };
  for (const f of findings) counts[f.severity]++;
  return counts;
}
