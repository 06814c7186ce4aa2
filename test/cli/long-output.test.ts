/**
 * A month of grant churn is hundreds of megabytes of findings: the replay writes them a piece at a time. What it
 * prints is still every finding once, in the order judged, as the formatters lay out the whole list.
 */
import * as path from 'node:path';
import { formatJsonLines, formatTable } from '../../lambda/cli/format';
import { type Json, REPO, replayInProcess, runKeydrift, sample, tempDir, writeFile } from '../helpers/keydrift';

const PAIRS = 3_000;
const START_MS = Date.parse('2026-10-01T00:00:00Z');
const at = (second: number) => new Date(START_MS + second * 1000).toISOString().replace('.000Z', 'Z');

/** Grants created and retired one after the other, on ten keys: several megabytes of findings. */
function churn(): Json[] {
  const create = sample('CreateGrant__awskmsdg__2');
  const retire = sample('RetireGrant__awskmsdg__1');
  return Array.from({ length: PAIRS }, (_, n) => {
    const grantId = n.toString(16).padStart(64, '0');
    const key = `arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-12345678900${n % 10}`;
    const resources = [{ ARN: key, accountId: '111122223333' }];
    return [
      { ...create, eventTime: at(2 * n), eventID: `c-${n}`, responseElements: { grantId }, resources },
      { ...retire, eventTime: at(2 * n + 1), eventID: `r-${n}`, additionalEventData: { grantId }, resources },
    ];
  }).flat();
}

describe('an output of several megabytes', () => {
  const file = writeFile(path.join(tempDir(), 'churn.json'), { Records: churn() });
  const run = (format: string) =>
    runKeydrift(['replay', file, '--format', format], { cwd: REPO, maxBuffer: 64 << 20, timeoutMs: 60_000 });

  it.each([
    ['json', formatJsonLines],
    ['table', (findings: Parameters<typeof formatJsonLines>[0]) => formatTable(findings, { color: false })],
  ] as const)('--format %s prints every finding once, in order, as laid out whole', async (format, layOut) => {
    // Prepare
    const { findings } = await replayInProcess([file]);
    // Act
    const { status, stdout } = run(format);
    // Assess
    expect(findings).toHaveLength(2 * PAIRS);
    expect(stdout.length).toBeGreaterThan(2 << 20);
    expect(stdout).toBe(layOut(findings));
    expect(status).toBe(1);
  });
});
