/**
 * `keydrift findings` read by something that stops early (`| head`): the real binary (node bin/keydrift.cjs) against
 * keydrift's table in dynalite on loopback, named with --table, holding findings the real state store wrote.
 */
import { spawn } from 'node:child_process';
import { createStateStore } from '../../lambda/adapters/state-store';
import { startTable, type TestTable } from '../adapters/dynalite-table';
import { BIN, tempDir } from '../helpers/keydrift';
import { finding, REGION } from '../helpers/operator-world';

const KEY = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
/** Days back from today that hold findings: the days of --since 400d hold far more than these. */
const DAYS_WITH_FINDINGS = 10;
/** A summary long enough that one day's findings fill a pipe (64 KiB): the command waits on it until it is closed. */
const LONG_SUMMARY = `DisableKey on the payments key by carol@example.com${' (a long summary)'.repeat(2000)}`;

let table: TestTable;

beforeAll(async () => {
  table = await startTable();
  const store = createStateStore({ client: table.client, tableName: table.tableName });
  for (let day = 0; day < DAYS_WITH_FINDINGS; day++) {
    for (const hour of [1, 2, 3]) {
      const f = finding({
        resource: KEY,
        event: 'DisableKey',
        severity: 'critical',
        hoursAgo: day * 24 + hour,
        summary: LONG_SUMMARY,
      });
      await store.claim(f.eventId);
      await store.save({ eventId: f.eventId, finding: f, states: [], baselines: [] });
    }
  }
}, 60_000);

afterAll(() => table.stop());

describe('keydrift findings with standard output closed early (`| head -1`)', () => {
  it('stops reading the table and ends quietly: no message, exit 0', async () => {
    // Prepare
    const served = table.served.length;
    const env = {
      PATH: process.env.PATH,
      HOME: tempDir(),
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: REGION,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_ENDPOINT_URL: table.endpoint,
    };
    const args = ['findings', '--since', '400d', '--table', table.tableName, '--format', 'json'];

    // Act: take the first chunk of output, then close the pipe, as head does.
    const child = spawn(process.execPath, [BIN, ...args], { cwd: tempDir(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.stdout.once('data', () => child.stdout.destroy());
    const status = await new Promise((resolve) => child.on('close', resolve));

    // Assess: the days of a week or two read, not the 401 of the period
    const queries = table.served.slice(served).filter((target) => target.endsWith('.Query'));
    expect(queries.length).toBeGreaterThan(0);
    expect(queries.length).toBeLessThanOrEqual(2 * 7);
    expect(stderr).toBe('');
    expect(status).toBe(0);
  });
});
