/**
 * examples/README.md promises what `npx keydrift replay examples/cloudtrail` reports from the repository
 * root, with the keydrift.config.json shipped there, and README.md's Start here shows what it prints. This holds
 * the command to both.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Finding } from '../../lambda/core/types';
import { countBySeverity, parseFindings, REPO, type Run, runKeydrift, summaryCounts } from '../helpers/keydrift';

const PAYMENTS_KEY = 'arn:aws:kms:eu-west-1:111122223333:key/0f4a6c1e-93b7-4d25-8e1a-6c2f0b7d4a91';
const AUDIT_KEY = 'arn:aws:kms:eu-west-1:111122223333:key/c7d3e2b8-5a16-4f0e-b9c4-2e81a7f6d305';
const TRAIL = 'arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-audit';
const PIPELINE = 'arn:aws:sts::111122223333:assumed-role/platform-deployer/codepipeline-7f3a';
const CAROL = /^arn:aws:sts::111122223333:assumed-role\/AWSReservedSSO_AdministratorAccess_[^/]+\/carol@example\.com$/;

/** "What the replay should report" in examples/README.md: time, event, resource, severity, status. */
const README_TABLE: Array<[time: string, event: string, resource: string, severity: string, status: string]> = [
  ['09:01:12', 'CreateKey', PAYMENTS_KEY, 'info', 'planned'],
  ['09:01:27', 'CreateAlias', 'arn:aws:kms:eu-west-1:111122223333:alias/payments', 'info', 'planned'],
  ['09:01:31', 'EnableKeyRotation', PAYMENTS_KEY, 'info', 'planned'],
  ['09:03:44', 'CreateKey', AUDIT_KEY, 'info', 'planned'],
  ['09:03:58', 'CreateAlias', 'arn:aws:kms:eu-west-1:111122223333:alias/cloudtrail-logs', 'info', 'planned'],
  ['09:04:02', 'EnableKeyRotation', AUDIT_KEY, 'info', 'planned'],
  ['09:06:37', 'CreateTrail', TRAIL, 'info', 'planned'],
  ['09:06:39', 'StartLogging', TRAIL, 'info', 'planned'],
  ['11:42:17', 'CreateGrant', PAYMENTS_KEY, 'info', 'planned'],
  ['14:02:18', 'DisableKeyRotation', PAYMENTS_KEY, 'error', 'drift'],
  ['14:05:47', 'PutKeyPolicy', PAYMENTS_KEY, 'critical', 'drift'],
  ['14:09:03', 'TagResource', PAYMENTS_KEY, 'warning', 'drift'],
  ['14:20:29', 'PutKeyPolicy', AUDIT_KEY, 'warning', 'denied'],
  ['15:30:41', 'ScheduleKeyDeletion', PAYMENTS_KEY, 'critical', 'drift'],
  ['15:42:06', 'CancelKeyDeletion', PAYMENTS_KEY, 'info', 'drift'],
  ['16:10:52', 'UpdateTrail', TRAIL, 'critical', 'drift'],
];

const row = (f: Finding) => [f.timestamp.slice(11, 19), f.event, f.resource, f.severity, f.status];
const at = (findings: Finding[], time: string, event: string) =>
  findings.find((f) => f.timestamp === `2026-10-03T${time}Z` && f.event === event);

let npx: Run;
let json: Run;
let findings: Finding[];

beforeAll(() => {
  const env: NodeJS.ProcessEnv = { ...process.env, npm_config_update_notifier: 'false' };
  delete env.NO_COLOR;
  const result = spawnSync('npx', ['--no-install', 'keydrift', 'replay', 'examples/cloudtrail'], {
    cwd: REPO,
    encoding: 'utf8',
    env,
    timeout: 30_000,
  });
  npx = { status: result.status, stdout: result.stdout, stderr: result.stderr };
  json = runKeydrift(['replay', '--format', 'json', 'examples/cloudtrail'], { cwd: REPO });
  findings = parseFindings(json.stdout);
});

test('npx keydrift replay examples/cloudtrail prints the story as a table and exits 1 (critical drift)', () => {
  expect(npx.status).toBe(1);
  const rows = npx.stdout.split('\n').filter((line) => line.startsWith('2026-10-03T'));
  expect(rows).toHaveLength(16);
  README_TABLE.forEach(([time, event, , severity, status], i) => {
    if (event === 'CreateGrant') return; // its severity is the known core issue below
    expect(rows[i]).toMatch(new RegExp(`^2026-10-03T${time}Z +${severity.toUpperCase()} +${status} +${event} `));
  });
  expect(npx.stdout).not.toContain('\u001b');
  expect(npx.stderr).toContain('keydrift replay: 6 input(s), 57 records');
  expect(npx.stderr).toContain('1 duplicate record(s) counted once');
});

test("the README's Start here shows exactly what it prints: the table, then the summary on standard error", () => {
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const [, sample] = /\bIt prints:\n\n```\n([\s\S]*?)```\n/.exec(readme) ?? [];
  expect(sample).toBe(`${npx.stdout}${npx.stderr}`);
  // Every command that undoes carol's deletion, not only the first: cancelling leaves the key Disabled.
  expect(sample).toMatch(/ScheduleKeyDeletion .*\n +↳ aws kms cancel-key-deletion .*\n +↳ aws kms enable-key /);
});

test('16 findings, one per change, in time order; the duplicate TagResource is reported once', () => {
  expect(json.stdout).toBe(
    findings.map((f) => `${JSON.stringify(f)}\n`).join(''), // one JSON object per line, nothing else
  );
  expect(findings.map((f) => [f.timestamp.slice(11, 19), f.event, f.resource, f.status])).toEqual(
    README_TABLE.map(([time, event, resource, , status]) => [time, event, resource, status]),
  );
  expect(findings.filter((f) => f.event === 'TagResource')).toHaveLength(1);
  expect(summaryCounts(json.stderr)).toEqual(countBySeverity(findings));
});

test('the critical findings, precisely: carol opens the key policy, schedules deletion; bob strips the trail key', () => {
  const critical = findings.filter((f) => f.severity === 'critical');
  expect(critical.map(row)).toEqual(README_TABLE.filter(([, , , severity]) => severity === 'critical'));

  const policy = at(findings, '14:05:47', 'PutKeyPolicy')!;
  expect(policy.user).toMatch(CAROL);
  expect(policy.changes.policy.external_accounts).toEqual(['444455556666']);
  expect(policy.changes.policy.added_principals).toEqual(['arn:aws:iam::444455556666:root']);
  expect(policy.changes.policy.removed_principals).toEqual([]);

  const deletion = at(findings, '15:30:41', 'ScheduleKeyDeletion')!;
  expect(deletion.user).toMatch(CAROL);
  expect(deletion.changes.key_state).toEqual({ before: 'Enabled', after: 'PendingDeletion' });
  expect(deletion.changes.deletion_date.after).toBe('2026-10-10T15:30:41Z');

  const trail = at(findings, '16:10:52', 'UpdateTrail')!;
  expect(trail.user).toBe('arn:aws:sts::111122223333:assumed-role/ops-admin/bob');
  expect(trail.changes.kms_key_id).toEqual({ before: AUDIT_KEY, after: null });
});

test('the error finding carol causes, precisely: rotation of the payments key turned off', () => {
  const rotation = at(findings, '14:02:18', 'DisableKeyRotation')!;
  expect(row(rotation)).toEqual(README_TABLE[9]);
  expect(rotation.user).toMatch(CAROL);
  expect(rotation.changes.enable_key_rotation).toEqual({ before: true, after: false });
});

test('the RDS CreateGrant is routine (info, planned), so the alerts carry 3 critical and 1 error findings', () => {
  expect(row(at(findings, '11:42:17', 'CreateGrant')!)).toEqual(README_TABLE[8]);
  expect(findings.filter((f) => f.severity === 'critical' || f.severity === 'error')).toHaveLength(4);
});

test('the other findings keep the README severities: the pipeline planned, warnings for the tag and the denied try', () => {
  const rest = findings.filter((f) => f.severity !== 'critical' && f.event !== 'CreateGrant');
  expect(rest.map(row)).toEqual(
    README_TABLE.filter(([, event, , severity]) => severity !== 'critical' && event !== 'CreateGrant'),
  );
  const planned = rest.filter((f) => f.status === 'planned');
  expect(planned.length).toBeGreaterThan(0);
  expect(planned.every((f) => f.user === PIPELINE)).toBe(true);
  const denied = at(findings, '14:20:29', 'PutKeyPolicy')!;
  expect(denied.user).toBe('arn:aws:iam::111122223333:user/mallory');
  expect(denied.error).toMatchObject({ code: 'AccessDenied' });
  expect(at(findings, '14:09:03', 'TagResource')!.changes.tags).toEqual({
    before: { 'data-class': 'pci' },
    after: { 'data-class': 'internal' },
  });
});
