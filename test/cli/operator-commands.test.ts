/**
 * The operator commands as an operator runs them: the real binary (node bin/keydrift.cjs) against a moto account
 * holding a `Keydrift` stack with keydrift's table, keys and aliases made with the SDK, and baselines, states and
 * findings the real state store wrote. The tests run in order: accept and adopt change what later tests see.
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { CloudTrailClient, CreateTrailCommand, DeleteTrailCommand } from '@aws-sdk/client-cloudtrail';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateGrantCommand,
  DisableKeyRotationCommand,
  EnableKeyRotationCommand,
  ListKeysCommand,
  TagResourceCommand,
  UpdateKeyDescriptionCommand,
} from '@aws-sdk/client-kms';
import { formatPagerDutyEvents, pagerDutyDedupKey } from '../../lambda/alerts/pagerduty';
import { DEFAULT_CONFIG } from '../../lambda/core/config';
import { MemoryStore } from '../../lambda/core/memory-store';
import { reconcileResource } from '../../lambda/core/reconcile';
import { snapshotFromState } from '../../lambda/core/state';
import { toIsoSeconds } from '../../lambda/core/time';
import type { Finding, ResourceSnapshot } from '../../lambda/core/types';
import { findingProblems } from '../../lambda/handlers/pager-app';
import type { AcceptResult } from '../../lambda/ops/operations';
import { applicationGrants } from '../alerts/fixtures';
import { BIN, type Run, runKeydrift, tempDir, writeFile } from '../helpers/keydrift';
import {
  ACCOUNT,
  finding,
  MOTO_IDENTITY,
  type OperatorWorld,
  REGION,
  STACK,
  setUpOperatorWorld,
} from '../helpers/operator-world';

const HOUR = 3_600_000;

let world: OperatorWorld;
let cwd: string;
let payments: string;
let reports: string;
let unmanaged: string;
let trail: string;
/** Every finding saved, to compare with what `findings` prints. */
const saved: Finding[] = [];

const keydrift = (args: string[], env: NodeJS.ProcessEnv = world.moto.env): Run => runKeydrift(args, { cwd, env });
const jsonLines = <T>(stdout: string): T[] =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as T);
const ids = (findings: Finding[]): string[] => findings.map((f) => f.eventId);
/** Saved findings at or after `sinceMs`, newest first, as the command should list them. */
const expected = (filter: (f: Finding) => boolean, sinceMs: number): string[] =>
  ids(
    saved
      .filter((f) => Date.parse(f.timestamp) >= sinceMs && filter(f))
      .sort((a, b) => b.timestamp.localeCompare(a.timestamp)),
  );

async function save(f: Finding, writes: Parameters<OperatorWorld['save']>[0] = { finding: f }): Promise<void> {
  saved.push(f);
  await world.save({ ...writes, finding: f });
}

beforeAll(async () => {
  world = await setUpOperatorWorld();
  cwd = tempDir();
  payments = await world.createKey('payments card data', 'alias/payments');
  reports = await world.createKey('monthly reports', 'alias/reports');
  unmanaged = await world.createKey('made by hand');
  trail = await world.createTrail('org-audit');
  await world.kms.send(new EnableKeyRotationCommand({ KeyId: payments }));

  // Both keys adopted when created (planned), weeks ago: their state and baseline are the live state then.
  const created = async (arn: string, hoursAgo: number) => {
    const live = await world.reader.readKey(arn);
    const f = finding({ resource: arn, event: 'CreateKey', severity: 'info', status: 'planned', hoursAgo });
    await save(f, {
      finding: f,
      states: [{ snapshot: live, expectedVersion: null }],
      baselines: [{ snapshot: live, expectedVersion: null }],
    });
  };
  await created(payments, 480);
  await created(reports, 288);
  // A key keydrift saw created but has no baseline for yet.
  const seen = finding({ resource: unmanaged, event: 'CreateKey', severity: 'warning', hoursAgo: 100 });
  await save(seen, {
    finding: seen,
    states: [{ snapshot: await world.reader.readKey(unmanaged), expectedVersion: null }],
  });

  // History that is over: a description change two days ago, undone; a policy opened and closed again on reports.
  const description = (before: string, after: string) => ({ description: { before, after } });
  await save(
    finding({
      resource: payments,
      event: 'UpdateKeyDescription',
      severity: 'warning',
      hoursAgo: 50,
      changes: description('payments card data', 'x'),
    }),
  );
  await save(
    finding({
      resource: payments,
      event: 'UpdateKeyDescription',
      severity: 'info',
      status: 'resolved',
      hoursAgo: 48,
      changes: { description: { before: 'x', after: 'payments card data', back_to_baseline: true } },
    }),
  );
  await save(
    finding({ resource: reports, event: 'EnableKeyRotation', severity: 'info', status: 'planned', hoursAgo: 240 }),
  );
  await save(
    finding({
      resource: reports,
      event: 'PutKeyPolicy',
      severity: 'critical',
      hoursAgo: 72,
      changes: { policy: { before: null, after: null } },
    }),
  );
  await save(
    finding({
      resource: reports,
      event: 'PutKeyPolicy',
      severity: 'info',
      status: 'resolved',
      hoursAgo: 71,
      changes: { policy: { before: null, after: null, back_to_baseline: true } },
    }),
  );

  // Open drift on payments: rotation turned off two hours ago, the description changed an hour ago.
  await world.kms.send(new DisableKeyRotationCommand({ KeyId: payments }));
  await world.kms.send(new UpdateKeyDescriptionCommand({ KeyId: payments, Description: 'payments — temporary' }));
  const drifted = await world.reader.readKey(payments);
  const rotation = finding({
    resource: payments,
    event: 'DisableKeyRotation',
    severity: 'error',
    hoursAgo: 2,
    changes: { enable_key_rotation: { before: true, after: false } },
  });
  await save(rotation, { finding: rotation, states: [{ snapshot: drifted, expectedVersion: 1 }] });
  const retitled = finding({
    resource: payments,
    event: 'UpdateKeyDescription',
    severity: 'warning',
    hoursAgo: 1,
    changes: description('payments card data', 'payments — temporary'),
  });
  await save(retitled, { finding: retitled, states: [{ snapshot: drifted, expectedVersion: 2 }] });
}, 60_000);

afterAll(async () => {
  await world?.stop();
});

interface StatusRow {
  resource: string;
  label: string;
  attributes: string[];
  unknownBaseline: string[];
  since: string;
  severity: string | null;
  latest: Finding | null;
}

describe('keydrift status', () => {
  it('lists the drifted key with the attributes that drifted, since when and its worst open severity', () => {
    const run = keydrift(['status', '--format', 'json']);
    expect(run.stderr).toContain('keydrift status: 1 of 2 baselined resource(s) drifted; 1 seen without a baseline');
    expect(run.status).toBe(0);
    const rows = jsonLines<StatusRow>(run.stdout);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      resource: payments,
      label: 'alias/payments',
      attributes: expect.arrayContaining(['description', 'enable_key_rotation']),
      // The rotation change (2 h ago) is the oldest still open; the description drift of two days ago was undone.
      since: toIsoSeconds(Date.parse(saved.find((f) => f.event === 'DisableKeyRotation')!.timestamp)),
      severity: 'error',
      latest: { event: 'UpdateKeyDescription', severity: 'warning' },
    });
    expect(rows[0].attributes).not.toContain('policy');
  });

  it('prints a table with the severity, the label, the drifted attributes, the ARN and the latest finding', () => {
    const run = keydrift(['status']);
    expect(run.status).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(/^SEVERITY +SINCE +RESOURCE +DRIFTED$/);
    expect(lines[1]).toMatch(/^ERROR +\S+Z +alias\/payments +description, enable_key_rotation/);
    expect(lines[2].trim()).toBe(payments);
    expect(lines[3]).toMatch(/latest: \S+ UpdateKeyDescription: UpdateKeyDescription on/);
  });

  it('says plainly that nothing has a baseline yet, and what to do, instead of an all-clear (exit 1)', async () => {
    // Prepare: a table no reconcile has filled (its first run failed, or has not run yet).
    await world.createTable('never-reconciled');
    // Act
    const table = keydrift(['status', '--table', 'never-reconciled']);
    const json = keydrift(['status', '--table', 'never-reconciled', '--format', 'json']);
    // Assess
    expect(table.stdout).toBe(
      'Nothing has a baseline yet, so there is no drift to show (this is no all-clear). keydrift records every key, ' +
        "alias and trail as its baseline on the reconciler's first run after deploy: if that run failed, see the " +
        "reconciler's errors alarm and log. keydrift baseline adopt records them now.\n",
    );
    expect(table.stdout).not.toContain('No open drift');
    for (const run of [table, json]) {
      expect(run.status).toBe(1);
      expect(run.stderr).toBe(
        'keydrift status: nothing has a baseline yet, so nothing was compared: run keydrift baseline adopt ' +
          '(table never-reconciled, eu-west-1)\n',
      );
    }
    expect(json.stdout).toBe('');
  });
});

describe('keydrift findings', () => {
  it('lists the last 7 days newest first by default', () => {
    const run = keydrift(['findings', '--format', 'json']);
    expect(run.status).toBe(0);
    expect(ids(jsonLines<Finding>(run.stdout))).toEqual(expected(() => true, Date.now() - 7 * 24 * HOUR));
    expect(jsonLines<Finding>(run.stdout)).toHaveLength(7);
  });

  it('filters by --since (a duration or an ISO date) and --severity (a minimum)', () => {
    const day = keydrift(['findings', '--since', '24h', '--format', 'json']);
    expect(ids(jsonLines<Finding>(day.stdout))).toEqual(expected(() => true, Date.now() - 24 * HOUR));
    expect(jsonLines<Finding>(day.stdout).map((f) => f.event)).toEqual(['UpdateKeyDescription', 'DisableKeyRotation']);

    const sinceIso = toIsoSeconds(Date.now() - 60 * HOUR);
    const dated = keydrift(['findings', '--since', sinceIso, '--format', 'json']);
    expect(ids(jsonLines<Finding>(dated.stdout))).toEqual(expected(() => true, Date.parse(sinceIso)));

    const serious = keydrift(['findings', '--severity', 'error', '--since', '30d', '--format', 'json']);
    expect(jsonLines<Finding>(serious.stdout).map((f) => [f.event, f.severity])).toEqual([
      ['DisableKeyRotation', 'error'],
      ['PutKeyPolicy', 'critical'],
    ]);
    expect(serious.stderr).toContain('keydrift findings: 2 finding(s) since');
  });

  it('filters by --resource (an ARN, or a key named through KMS; an alias and its key by the alias) and stops at --limit', async () => {
    // Prepare: the alias has a finding of its own.
    const aliasArn = `arn:aws:kms:${REGION}:${ACCOUNT}:alias/reports`;
    await save(finding({ resource: aliasArn, event: 'UpdateAlias', severity: 'error', hoursAgo: 30 }));
    const since = Date.now() - 30 * 24 * HOUR;
    const about = expected((f) => f.resource === reports, since);
    expect(about).toHaveLength(4);
    const aboutBoth = expected((f) => f.resource === reports || f.resource === aliasArn, since);
    expect(aboutBoth).toHaveLength(5);
    for (const [resource, listed] of [
      [reports, about],
      ['alias/reports', aboutBoth],
      [aliasArn, aboutBoth],
    ] as const) {
      const one = keydrift(['findings', '--since', '30d', '--resource', resource, '--format', 'json']);
      expect([resource, ids(jsonLines<Finding>(one.stdout))]).toEqual([resource, listed]);
    }
    // An alias KMS no longer knows, by ARN or by name: its own findings.
    const goneArn = `arn:aws:kms:${REGION}:${ACCOUNT}:alias/gone`;
    const deleted = finding({ resource: goneArn, event: 'DeleteAlias', severity: 'error', hoursAgo: 31 });
    await save(deleted);
    for (const named of [goneArn, 'alias/gone']) {
      const gone = keydrift(['findings', '--since', '30d', '--resource', named, '--format', 'json']);
      expect([named, gone.status, ids(jsonLines<Finding>(gone.stdout))]).toEqual([named, 0, [deleted.eventId]]);
    }
    // So a key KMS no longer knows, whose findings are all the table holds of it, by key id as by ARN.
    const goneKeyId = '7d2e9c41-5b3a-4f68-9e0d-2a1b3c4d5e6f';
    const goneKey = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${goneKeyId}`;
    const disabled = finding({ resource: goneKey, event: 'DisableKey', severity: 'critical', hoursAgo: 32 });
    await save(disabled);
    for (const named of [goneKey, goneKeyId]) {
      const gone = keydrift(['findings', '--since', '30d', '--resource', named, '--format', 'json']);
      expect([named, gone.status, ids(jsonLines<Finding>(gone.stdout))]).toEqual([named, 0, [disabled.eventId]]);
    }
    const first = keydrift(['findings', '--since', '30d', '--limit', '3', '--format', 'json']);
    expect(ids(jsonLines<Finding>(first.stdout))).toEqual(
      expected(() => true, Date.now() - 30 * 24 * HOUR).slice(0, 3),
    );
  });

  it("refuses a name keydrift's table holds nothing of (mistyped), naming it and what to check (exit 2)", () => {
    for (const typo of [
      'alias/nope',
      `arn:aws:kms:${REGION}:${ACCOUNT}:alias/nope`,
      `arn:aws:cloudtrail:${REGION}:${ACCOUNT}:trail/nope`,
      `arn:aws:kms:${REGION}:${ACCOUNT}:key/0f4a6c1e-93b7-4d25-8e1a-6c2f0b7d4a91`,
      '0f4a6c1e-93b7-4d25-8e1a-6c2f0b7d4a91',
    ]) {
      const run = keydrift(['findings', '--resource', typo, '--format', 'json']);
      expect([typo, run.status, run.stdout]).toEqual([typo, 2, '']);
      expect(run.stderr).toBe(
        `keydrift: nothing known of ${typo} in eu-west-1: keydrift's table ${world.tableName} holds no state, ` +
          'baseline or finding of it; check its spelling, the Region (--region) and the table (--table)\n',
      );
    }
  });

  it('says "No findings" (exit 0) for a resource the table holds with none in the period, by its findings alone too', async () => {
    // Prepare: an alias KMS does not know, whose only trace is a finding of long ago.
    const closed = `arn:aws:kms:${REGION}:${ACCOUNT}:alias/closed-down`;
    await save(finding({ resource: closed, event: 'DeleteAlias', severity: 'error', hoursAgo: 400 * 24 }));
    for (const named of [closed, 'alias/closed-down', payments]) {
      // Act
      const run = keydrift(['findings', '--since', '2020-01-01', '--until', '2020-01-02', '--resource', named]);
      // Assess
      expect([named, run.status, run.stdout]).toEqual([named, 0, expect.stringMatching(/^No findings since /)]);
    }
  });

  it('filters by --resource a custom key store ARN, the name its findings carry', async () => {
    // Prepare: a store created by someone unplanned, as the detector names it.
    const store = `arn:aws:kms:${REGION}:${ACCOUNT}:custom-key-store/cks-1234567890abcdef0`;
    const created = finding({ resource: store, event: 'CreateCustomKeyStore', severity: 'info', hoursAgo: 2 });
    await save(created);
    // Act
    const run = keydrift(['findings', '--since', '1d', '--resource', store, '--format', 'json']);
    // Assess
    expect([run.status, run.stderr.split('\n')[0]]).toEqual([
      0,
      expect.stringContaining('keydrift findings: 1 finding(s)'),
    ]);
    expect(ids(jsonLines<Finding>(run.stdout))).toEqual([created.eventId]);
  });

  it('says which findings an ignore rule kept out of alerts, in JSON (ignoredBy) and in the table', async () => {
    // Prepare: a drift finding the detector kept out of alerts, 40 days ago (before every other query's window).
    const store = `arn:aws:kms:${REGION}:${ACCOUNT}:custom-key-store/cks-0ignored0000000000`;
    const ignored = finding({ resource: store, event: 'UpdateCustomKeyStore', severity: 'error', hoursAgo: 960 });
    expect(await world.store.claim(ignored.eventId)).toBe('new');
    await world.store.save({
      eventId: ignored.eventId,
      finding: ignored,
      states: [],
      baselines: [],
      ignoredBy: 'HSM team',
    });

    // Act: by resource, and by day through the index
    const byResource = keydrift(['findings', '--since', '41d', '--resource', store, '--format', 'json']);
    const byDay = keydrift(['findings', '--since', '41d', '--format', 'json']);
    const table = keydrift(['findings', '--since', '41d', '--resource', store]);

    // Assess
    for (const run of [byResource, byDay]) {
      const listed = jsonLines<Finding & { ignoredBy?: string }>(run.stdout).find((f) => f.eventId === ignored.eventId);
      expect(listed?.ignoredBy).toBe('HSM team');
    }
    expect(table.stdout).toContain('(kept out of alerts: HSM team)');
  });

  it('says of a finding kept without its commands (too many for a table item) that they were, with what to read instead', async () => {
    // Prepare: 44 days ago (before every other query's window), the reconciler found 1,500 grants on a key that had
    // none approved: one revoke-grant command each, too many to keep with the finding in a table item.
    const key = `arn:aws:kms:${REGION}:${ACCOUNT}:key/5e7a1c3d-9b2f-4d6e-8a0c-1f3b5d7e9a2c`;
    const grants = applicationGrants(1500);
    const state = (g: object) => snapshotFromState('key', key, { key_state: 'Enabled', grants: g });
    const found = reconcileResource(
      { baseline: state({}), live: state(grants), nowMs: Date.now() - 44 * 24 * HOUR },
      new MemoryStore(),
      DEFAULT_CONFIG,
    );
    expect(found?.remediation).toHaveLength(1500);
    expect(await world.store.claim(found!.eventId)).toBe('new');
    await world.store.save({ eventId: found!.eventId, finding: found!, states: [], baselines: [] });

    // Act
    const table = keydrift(['findings', '--since', '45d', '--resource', key]);
    const json = keydrift(['findings', '--since', '45d', '--resource', key, '--format', 'json']);

    // Assess: where the commands would be, the table says they were not kept, and what shows the grants instead.
    expect(table.status).toBe(0);
    expect(table.stdout).toContain(
      `↳ # its commands were too many to keep with the finding: aws kms list-grants --key-id ${key} --region ${REGION} shows the live grants, keydrift baseline show ${key} --region ${REGION} the approved ones\n`,
    );
    expect(table.stdout).not.toContain('revoke-grant');
    // JSON keeps the stored copy's own account of what it replaced.
    const [listed] = jsonLines<Finding & { truncated?: string[] }>(json.stdout);
    expect(listed?.truncated).toContain('/remediation');
  });

  it('lists a closed period with --until: a bare date includes its whole day, a time is included, with --resource and --limit', async () => {
    // Prepare: two days 200 days ago (before every other query's window), and a finding on each side of them.
    const DAY = 24 * HOUR;
    const first = Math.floor(Date.now() / DAY) * DAY - 200 * DAY;
    const last = first + DAY;
    const [one, other] = ['a1', 'b2'].map(
      (n) => `arn:aws:kms:${REGION}:${ACCOUNT}:key/00000000-0000-4000-8000-0000000000${n}`,
    );
    const at = async (resource: string, ms: number) => {
      const f = { ...finding({ resource, event: 'TagResource', severity: 'warning', hoursAgo: 5000 + saved.length }) };
      f.timestamp = toIsoSeconds(ms);
      await save(f);
      return f.eventId;
    };
    const before = await at(one, first - 1000);
    const opening = await at(one, first);
    const midday = await at(other, last + 12 * HOUR);
    const closing = await at(one, last + DAY - 1000);
    const after = await at(one, last + DAY);
    const date = (ms: number) => toIsoSeconds(ms).slice(0, 10);
    const period = ['findings', '--since', date(first), '--until', date(last), '--format', 'json'];

    // Act
    const whole = keydrift(period);
    const aboutOne = keydrift([...period, '--resource', one]);
    const limited = keydrift([...period, '--limit', '2']);
    // 22:00 at UTC-2 on the last day is midnight UTC after it: a finding at that very second is listed.
    const zoned = keydrift([
      'findings',
      '--since',
      date(first),
      '--until',
      `${date(last)}T22:00:00-02:00`,
      '--format',
      'json',
    ]);
    const table = keydrift(period.slice(0, -2));

    // Assess
    expect([whole.status, ids(jsonLines<Finding>(whole.stdout))]).toEqual([0, [closing, midday, opening]]);
    expect(ids(jsonLines<Finding>(aboutOne.stdout))).toEqual([closing, opening]);
    expect(ids(jsonLines<Finding>(limited.stdout))).toEqual([closing, midday]);
    expect(ids(jsonLines<Finding>(zoned.stdout))).toEqual([after, closing, midday, opening]);
    expect(ids(jsonLines<Finding>(whole.stdout))).not.toContain(before);
    expect(table.stderr).toContain(
      `keydrift findings: 3 finding(s) since ${date(first)}T00:00:00Z until ${date(last)}T23:59:59Z`,
    );
  });

  it('rejects an --until before --since (the dates swapped) rather than list an empty period (exit 2)', () => {
    const run = keydrift(['findings', '--since', '2026-10-01', '--until', '2026-09-30']);
    expect([run.status, run.stdout]).toEqual([2, '']);
    expect(run.stderr).toContain(
      'error: --until 2026-09-30 (2026-09-30T23:59:59Z) is before --since 2026-10-01 (2026-10-01T00:00:00Z)',
    );
    const sameDay = keydrift(['findings', '--since', '2026-09-30', '--until', '2026-09-30']);
    expect(sameDay.status).toBe(0);
  });

  it('prints the same table as replay, and says so when nothing matches', () => {
    const table = keydrift(['findings', '--since', '24h']);
    expect(table.stdout.split('\n')[0]).toMatch(/^TIME +SEVERITY +STATUS +EVENT +SUMMARY$/);
    expect(table.stdout).toMatch(/\n\S+Z +ERROR +drift +DisableKeyRotation +DisableKeyRotation on/);
    const none = keydrift(['findings', '--since', '10m']);
    expect(none.stdout).toMatch(/^No findings since \S+Z\.\n$/);
    expect(none.status).toBe(0);
  });

  it('rejects a --since it cannot read (exit 2)', () => {
    const run = keydrift(['findings', '--since', 'last tuesday']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("option '--since <when>' argument 'last tuesday' is invalid");
  });

  it('rejects a date that does not exist instead of rolling it over to the next month (exit 2)', () => {
    for (const [since, why] of [
      ['2026-02-30', '2026-02-30 is no date: February 2026 has 28 days'],
      ['2026-04-31T08:00Z', '2026-04-31 is no date: April 2026 has 30 days'],
      ['2026-11-01T24:00Z', '24:00 is no time of day: from 00:00 to 23:59:59'],
    ]) {
      const run = keydrift(['findings', '--since', since]);
      expect(run.status).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain(`option '--since <when>' argument '${since}' is invalid. ${why}`);
    }
  });

  it("refuses an ARN of another Region or account, whose findings are that deployment's, saying where (exit 2)", () => {
    const keyId = payments.split('/').pop() as string;
    const elsewhere = `arn:aws:kms:us-east-1:123456789012:key/${keyId}`;
    const inRegion = keydrift(['findings', '--resource', elsewhere]);
    expect(inRegion.status).toBe(2);
    expect(inRegion.stdout).toBe('');
    expect(inRegion.stderr).toBe(
      `keydrift: ${elsewhere} is in us-east-1, and keydrift's table here keeps the findings of eu-west-1: ` +
        "pass --region us-east-1 to read that Region's\n",
    );

    const foreign = `arn:aws:kms:${REGION}:444455556666:key/${keyId}`;
    const inAccount = keydrift(['findings', '--resource', foreign]);
    expect(inAccount.status).toBe(2);
    expect(inAccount.stderr).toBe(
      `keydrift: ${foreign} belongs to account 444455556666, and keydrift's table here keeps the findings of ` +
        "account 123456789012: use that account's keydrift stack (with its credentials, e.g. --profile)\n",
    );
  });

  it('refuses to show or accept an ARN of another Region or account, which no keydrift here compares (exit 2)', async () => {
    const keyId = payments.split('/').pop() as string;
    const baselineBefore = await world.item(`RESOURCE#${payments}`, 'BASELINE');
    for (const [arn, why] of [
      [
        `arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}`,
        "is in us-east-1, and keydrift's table here keeps the baselines of eu-west-1: pass --region us-east-1 to use " +
          "that Region's keydrift",
      ],
      [
        `arn:aws:kms:${REGION}:444455556666:key/${keyId}`,
        `belongs to account 444455556666, and keydrift's table here keeps the baselines of account ${ACCOUNT}: use ` +
          "that account's keydrift stack (with its credentials, e.g. --profile)",
      ],
      [
        `arn:aws:cloudtrail:us-east-1:${ACCOUNT}:trail/org-audit`,
        "is in us-east-1, and keydrift's table here keeps the baselines of eu-west-1: pass --region us-east-1 to use " +
          "that Region's keydrift",
      ],
    ]) {
      for (const command of ['show', 'accept']) {
        const run = keydrift(['baseline', command, arn]);
        expect(run.status).toBe(2);
        expect(run.stdout).toBe('');
        expect(run.stderr).toBe(`keydrift: ${arn} ${why}\n`);
        expect(await world.item(`RESOURCE#${arn}`, 'BASELINE')).toBeUndefined();
      }
    }
    expect(await world.item(`RESOURCE#${payments}`, 'BASELINE')).toEqual(baselineBefore);
  });
});

interface BaselineView {
  resource: string;
  kind: string;
  label: string;
  baseline: { snapshot: ResourceSnapshot; version: number; acceptedBy?: string } | null;
  drift: string[];
}

describe('keydrift baseline show', () => {
  it('shows the key named by an alias, where its stored state differs, and the alias (no baseline yet: exit 1)', () => {
    const run = keydrift(['baseline', 'show', 'alias/payments', '--format', 'json']);
    // The alias named has no baseline: only its key has one.
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(
      'keydrift: no baseline recorded for alias/payments yet (the key it points to has one, shown too): ' +
        'keydrift baseline accept alias/payments records its live state\n',
    );
    const [key, alias] = jsonLines<BaselineView>(run.stdout);
    expect(key).toMatchObject({ resource: payments, kind: 'key', label: 'alias/payments', baseline: { version: 1 } });
    expect(key.baseline?.snapshot.attributes).toMatchObject({
      description: 'payments card data',
      enable_key_rotation: true,
    });
    expect(key.drift).toEqual(expect.arrayContaining(['description', 'enable_key_rotation']));
    expect(alias).toMatchObject({
      resource: `arn:aws:kms:${REGION}:123456789012:alias/payments`,
      kind: 'alias',
      baseline: null,
    });
  });

  it('prints every approved value, and the stored state under each that drifted', () => {
    const keyId = payments.split('/').pop() as string;
    const run = keydrift(['baseline', 'show', keyId]);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('Baseline of alias/payments (key)');
    expect(run.stdout).toMatch(/accepted +not by an operator/);
    expect(run.stdout).toMatch(/\n +description +"payments card data"\n +↳ stored state: "payments — temporary"\n/);
  });

  it('exits 1 with a hint for a key that has no baseline yet', () => {
    const run = keydrift(['baseline', 'show', unmanaged]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`no baseline recorded for ${unmanaged} yet: keydrift baseline accept`);
  });
});

describe('keydrift baseline accept', () => {
  it("records the key's live state as its baseline, by the caller, now, and prints what it approved", async () => {
    const before = Date.now();
    const run = keydrift(['baseline', 'accept', 'alias/payments', '--format', 'json']);
    const after = Date.now();
    expect(run.stderr).toBe(
      'keydrift: told the page topic that 1 resource(s) are approved as they are now ' +
        '(the pager resolves their open incidents)\n',
    );
    expect(run.status).toBe(0);
    const [key, alias] = jsonLines<{
      resource: string;
      result: string;
      changes: Array<{ path: string }>;
      acceptedAt: string;
    }>(run.stdout);
    expect(key).toMatchObject({
      resource: payments,
      result: 'changed',
      acceptedBy: MOTO_IDENTITY,
      previousVersion: 1,
      version: 2,
    });
    expect(key.changes.map((c) => c.path)).toEqual(expect.arrayContaining(['description', 'enable_key_rotation']));
    expect(key.changes).toContainEqual({
      path: 'description',
      before: 'payments card data',
      after: 'payments — temporary',
    });
    expect(alias).toMatchObject({
      kind: 'alias',
      result: 'new',
      changes: [{ path: 'target_key_id', after: payments }],
    });

    const item = await world.item(`RESOURCE#${payments}`, 'BASELINE');
    const live = await world.reader.readKey(payments);
    // Approved as of the accept: each attribute outside the maps is dated then, in whole seconds.
    expect(JSON.parse(item?.snapshot.S ?? '{}')).toEqual({
      ...live,
      approvedAt: expect.objectContaining({ policy: toIsoSeconds(Date.parse(item?.acceptedAt?.S ?? '')) }),
    });
    expect(item?.acceptedBy?.S).toBe(MOTO_IDENTITY);
    const acceptedAt = Date.parse(item?.acceptedAt?.S ?? '');
    expect(acceptedAt).toBeGreaterThanOrEqual(before);
    expect(acceptedAt).toBeLessThanOrEqual(after);
    expect(item?.acceptedAt?.S).toBe(key.acceptedAt);
    expect(item?.version?.N).toBe('2');
  });

  it('tells the pager that what it approved is planned now, so the incidents drift opened on it resolve', async () => {
    const [accepted, ...others] = await world.pageMessages();
    expect(others).toEqual([]);
    expect(accepted).toMatchObject({
      event: 'BaselineAccept',
      status: 'planned',
      severity: 'info',
      resource: payments,
      user: MOTO_IDENTITY,
    });
    expect(findingProblems(accepted)).toEqual([]);
    expect(accepted.changes.description).toEqual({
      before: 'payments card data',
      after: 'payments — temporary',
      back_to_baseline: true,
    });
    // The same incidents a drift finding on those attributes opened: PagerDuty keys them by resource and attribute.
    const drift = finding({ resource: payments, event: 'UpdateKeyDescription', severity: 'critical', hoursAgo: 1 });
    const events = formatPagerDutyEvents(accepted, 'routing-key');
    expect(events.map((e) => e.event_action)).toEqual(events.map(() => 'resolve'));
    expect(events.map((e) => e.dedup_key)).toEqual(
      expect.arrayContaining(['description', 'enable_key_rotation'].map((a) => pagerDutyDedupKey(drift, a))),
    );
  });

  it('keeps the accept in the finding history: who approved what, when', () => {
    const run = keydrift(['findings', '--resource', payments, '--since', '1h', '--format', 'json']);
    expect(run.status).toBe(0);
    const [latest] = jsonLines<Finding>(run.stdout);
    expect(latest).toMatchObject({ event: 'BaselineAccept', status: 'planned', user: MOTO_IDENTITY });
    expect(latest.summary).toMatch(
      /^Baseline of alias\/payments \(key\) accepted by .+: description, enable_key_rotation/,
    );
  });

  it('leaves no open drift behind: what it approved is stored as the state too, alias/payments included', async () => {
    const run = keydrift(['status']);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('No open drift: every resource with a baseline matches it.\n');
    expect(run.stderr).toContain('keydrift status: 0 of 3 baselined resource(s) drifted;');
    const aliasState = await world.item(`RESOURCE#arn:aws:kms:${REGION}:123456789012:alias/payments`, 'STATE');
    expect(JSON.parse(aliasState?.snapshot.S ?? '{}')).toMatchObject({ attributes: { target_key_id: payments } });
    // The alias has a baseline of its own now.
    const shown = keydrift(['baseline', 'show', 'alias/payments']);
    expect(shown.stderr).toBe('');
    expect(shown.status).toBe(0);
  });

  it('stores the live state it approved as the stored state, so status shows no drift on a change it never saw', async () => {
    // Prepare: a key keydrift baselined at creation, changed behind its back (no event, no reconcile since).
    const quiet = await world.createKey('ledger');
    const created = await world.reader.readKey(quiet);
    const f = finding({ resource: quiet, event: 'CreateKey', severity: 'info', status: 'planned', hoursAgo: 5 });
    await save(f, {
      finding: f,
      states: [{ snapshot: created, expectedVersion: null }],
      baselines: [{ snapshot: created, expectedVersion: null }],
    });
    await world.kms.send(new UpdateKeyDescriptionCommand({ KeyId: quiet, Description: 'ledger (archived)' }));
    // Act
    const run = keydrift(['baseline', 'accept', quiet]);
    const after = keydrift(['status', '--format', 'json']);
    // Assess
    expect(run.status).toBe(0);
    expect(jsonLines<StatusRow>(after.stdout).map((r) => r.resource)).not.toContain(quiet);
    const state = await world.item(`RESOURCE#${quiet}`, 'STATE');
    expect(JSON.parse(state?.snapshot.S ?? '{}')).toEqual(await world.reader.readKey(quiet));
    expect(state?.version?.N).toBe('2');
    expect(state?.updatedBy?.S).toBe(MOTO_IDENTITY);
  });

  it('prints what it recorded as text: a re-approved key and the new baseline of the alias it was named by', () => {
    const run = keydrift(['baseline', 'accept', 'alias/reports']);
    expect(run.status).toBe(0);
    expect(run.stdout.split('\n')).toEqual([
      'Re-approved the baseline of alias/reports (key), which already matched its live state, as version 2',
      `  resource     ${reports}`,
      expect.stringMatching(/^ {2}accepted by {2}arn:aws:sts::123456789012:user\/moto at \S+Z$/),
      'Recorded the live state of alias/reports (alias) as its first baseline, version 1',
      `  resource     arn:aws:kms:${REGION}:123456789012:alias/reports`,
      expect.stringMatching(/^ {2}accepted by {2}arn:aws:sts::123456789012:user\/moto at \S+Z$/),
      '  values approved:',
      `    target_key_id: "${reports}"`,
      '',
    ]);
  });
});

describe('keydrift baseline adopt', () => {
  it('asks first on a terminal, and accepts nothing when the answer is no', async () => {
    // A pseudo-terminal (Python's pty) is the binary's standard input and output; the answer is typed ahead.
    const run = spawnSync(
      'python3',
      ['-c', 'import pty, sys; sys.exit(pty.spawn(sys.argv[1:]) >> 8)', process.execPath, BIN, 'baseline', 'adopt'],
      { cwd, env: { ...world.moto.env, NO_COLOR: '1' }, input: 'n\n', encoding: 'utf8', timeout: 30_000 },
    );
    expect(run.stdout).toMatch(
      /Accept the live state of 2 resource\(s\) as their baselines in table \S+ \(eu-west-1\)/,
    );
    expect(run.stdout).toContain('[y/N] ');
    expect(run.stdout).toContain('keydrift baseline adopt: nothing accepted');
    expect(run.status).toBe(1);
    expect(await world.item(`RESOURCE#${unmanaged}`, 'BASELINE')).toBeUndefined();
  });

  it('accepts nothing without --yes where it cannot ask (standard input is no terminal), and exits 2', async () => {
    // Act: as a script runs it, standard input a pipe (even one that says yes).
    const run = keydrift(['baseline', 'adopt'], world.moto.env);
    const piped = runKeydrift(['baseline', 'adopt', '--format', 'json'], { cwd, env: world.moto.env, input: 'y\n' });
    // Assess
    for (const refused of [run, piped]) {
      expect(refused.status).toBe(2);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toBe(
        'keydrift baseline adopt: nothing accepted: standard input is not a terminal, so there is no one to ask; ' +
          'pass --yes to accept without asking\n',
      );
    }
    expect(await world.item(`RESOURCE#${unmanaged}`, 'BASELINE')).toBeUndefined();
    expect(await world.item(`RESOURCE#${trail}`, 'BASELINE')).toBeUndefined();
  });

  it('baselines every customer-managed key, alias and trail, leaving matching baselines as they are', async () => {
    // Tagged behind keydrift's back: adopt approves it.
    await world.kms.send(new TagResourceCommand({ KeyId: reports, Tags: [{ TagKey: 'team', TagValue: 'finance' }] }));
    const run = keydrift(['baseline', 'adopt', '--yes', '--format', 'json']);
    expect(run.status).toBe(0);
    const results = jsonLines<{ resource: string; kind: string; result: string; written: boolean; changes: unknown[] }>(
      run.stdout,
    );
    const byResource = Object.fromEntries(results.map((r) => [r.resource, r.result]));
    expect(byResource).toMatchObject({
      [payments]: 'unchanged',
      [reports]: 'changed',
      [unmanaged]: 'new',
      [trail]: 'new',
    });
    expect(results.find((r) => r.resource === reports)?.changes).toEqual([
      { path: 'tags#team', before: null, after: 'finance' },
    ]);
    expect(results.find((r) => r.resource === payments)).toMatchObject({ written: false, version: 2 });
    expect(results.filter((r) => r.kind === 'alias').map((r) => r.resource.split(':').pop())).toEqual(
      expect.arrayContaining(['alias/payments', 'alias/reports']),
    );
    // moto lists AWS's own aliases (alias/aws/…): never adopted.
    expect(results.some((r) => r.resource.includes(':alias/aws/'))).toBe(false);
    expect(run.stderr).toMatch(
      /accepted 3 baseline\(s\) in table \S+ \(eu-west-1\) as arn:aws:sts::123456789012:user\/moto/,
    );

    const { Keys } = await world.kms.send(new ListKeysCommand({}));
    expect(Keys?.length).toBeGreaterThanOrEqual(3);
    for (const { KeyArn } of Keys ?? []) {
      const item = await world.item(`RESOURCE#${KeyArn}`, 'BASELINE');
      expect(JSON.parse(item?.snapshot.S ?? 'null')).toEqual({
        ...(await world.reader.readKey(KeyArn as string)),
        approvedAt: expect.any(Object),
      });
    }
    const trailItem = await world.item(`RESOURCE#${trail}`, 'BASELINE');
    expect(JSON.parse(trailItem?.snapshot.S ?? '{}')).toMatchObject({ kind: 'trail', attributes: { trail: 'exists' } });
    expect(trailItem?.acceptedBy?.S).toBe(MOTO_IDENTITY);
  });

  it('stores the live state it adopted, so status compares it and finds no drift on what it approved', async () => {
    const run = keydrift(['status']);
    expect(run.status).toBe(0);
    // Four keys, two aliases and the trail, each with the state adopt read: reports' new tag is approved, not drift.
    expect(run.stdout).toBe('No open drift: every resource with a baseline matches it.\n');
    expect(run.stderr).toMatch(/^keydrift status: 0 of 7 baselined resource\(s\) drifted \(table /);
    const state = await world.item(`RESOURCE#${reports}`, 'STATE');
    expect(JSON.parse(state?.snapshot.S ?? '{}').attributes['tags#team']).toBe('finance');
    const trailState = await world.item(`RESOURCE#${trail}`, 'STATE');
    expect(JSON.parse(trailState?.snapshot.S ?? '{}')).toMatchObject({ attributes: { trail: 'exists' } });
  });

  it('has nothing to do the second time', () => {
    const run = keydrift(['baseline', 'adopt', '--yes']);
    expect(run.status).toBe(0);
    expect(run.stderr).toContain('nothing to accept, every baseline matches the live state');
    expect(run.stdout.split('\n')[0]).toMatch(/^KIND +RESULT +RESOURCE +CHANGED ATTRIBUTES$/);
    expect(run.stdout).not.toMatch(/\b(new|changed) /);
  });
});

describe('errors', () => {
  it('names an unknown stack and the Region, and exits 2', () => {
    const run = keydrift(['status', '--stack-name', 'NoSuchStack']);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      'keydrift: stack NoSuchStack not found in eu-west-1: deploy it or pass --stack-name/--table\n',
    );
  });

  it('accepts all the same when the page topic cannot be told, and says to resolve the incidents by hand', async () => {
    // Prepare: a stack whose outputs name the table but no page topic.
    await world.createStack('TableOnly', {
      Resources: { Placeholder: { Type: 'AWS::SQS::Queue' } },
      Outputs: { TableName: { Value: world.tableName } },
    });
    await world.kms.send(new TagResourceCommand({ KeyId: reports, Tags: [{ TagKey: 'team', TagValue: 'audit' }] }));
    // Act
    const run = keydrift(['baseline', 'accept', reports, '--stack-name', 'TableOnly']);
    // Assess
    expect(run.status).toBe(0);
    expect(run.stderr).toBe(
      'keydrift: baselines accepted, but the page topic could not be told (stack TableOnly in eu-west-1 has no ' +
        'PageTopicArn output): resolve the open PagerDuty incidents of alias/reports by hand\n',
    );
    const item = await world.item(`RESOURCE#${reports}`, 'BASELINE');
    expect(JSON.parse(item?.snapshot.S ?? '{}').attributes['tags#team']).toBe('audit');
  });

  it("with --table, tells no stack's page topic (it may be another deployment's) and names the incidents to resolve", async () => {
    await world.pageMessages();
    const byHand =
      'keydrift: baselines accepted; with --table (or KEYDRIFT_TABLE) keydrift does not look up the stack, so it ' +
      'does not know the page topic and told no pager: resolve the open PagerDuty incidents of alias/reports by hand\n';
    for (const [team, stack] of [
      ['billing', []],
      ['ledger', ['--stack-name', 'NoSuchStack']],
    ]) {
      // Prepare
      await world.kms.send(
        new TagResourceCommand({ KeyId: reports, Tags: [{ TagKey: 'team', TagValue: team as string }] }),
      );
      // Act: the default stack Keydrift exists here, and its page topic must not hear of another table's accept.
      const run = keydrift(['baseline', 'accept', reports, '--table', world.tableName, ...(stack as string[])]);
      // Assess
      expect(run.stderr).toBe(byHand);
      expect(run.status).toBe(0);
      const item = await world.item(`RESOURCE#${reports}`, 'BASELINE');
      expect(JSON.parse(item?.snapshot.S ?? '{}').attributes['tags#team']).toBe(team);
    }
    expect(await world.pageMessages()).toEqual([]);
  });

  it('says when the table is missing, by what named it, and to check its name and Region', () => {
    const run = keydrift(['findings', '--table', 'gone']);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      'keydrift: table gone not found in eu-west-1 (named by --table): check the name and the Region\n',
    );
    const fromEnv = keydrift(['status'], { ...world.moto.env, KEYDRIFT_TABLE: 'nope' });
    expect(fromEnv.status).toBe(2);
    expect(fromEnv.stderr).toBe(
      'keydrift: table nope not found in eu-west-1 (named by KEYDRIFT_TABLE): check the name and the Region\n',
    );
  });

  it("refuses a table that is not keydrift's (another key), naming its key and what named it, before reading it", async () => {
    // Prepare: another application's table, keyed by `id`.
    const keyedById = {
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' as const }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' as const }],
      BillingMode: 'PAY_PER_REQUEST' as const,
    };
    await world.dynamodb.send(new CreateTableCommand({ TableName: 'orders', ...keyedById }));
    await world.createStack('OtherApp', {
      Resources: { Table: { Type: 'AWS::DynamoDB::Table', Properties: keyedById } },
      Outputs: { TableName: { Value: { Ref: 'Table' } } },
    });
    const notOurs = (table: string) =>
      `keydrift: table ${table} in eu-west-1 is not a keydrift table (its key is id, not pk and sk): `;
    // Act and assess: status would say nothing has a baseline yet; adopt would fail on DynamoDB's own error.
    for (const command of [
      ['status'],
      ['findings'],
      ['baseline', 'show', 'alias/payments'],
      ['baseline', 'adopt', '--yes'],
    ]) {
      const run = keydrift([...command, '--table', 'orders']);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe(
        `${notOurs('orders')}check --table, or leave it out to find keydrift's table through stack ${STACK}\n`,
      );
      expect(run.status).toBe(2);
    }
    const fromEnv = keydrift(['status'], { ...world.moto.env, KEYDRIFT_TABLE: 'orders' });
    expect(fromEnv.stderr).toBe(
      `${notOurs('orders')}check KEYDRIFT_TABLE, or unset it to find keydrift's table through stack ${STACK}\n`,
    );
    expect(fromEnv.status).toBe(2);
    const fromStack = keydrift(['status', '--stack-name', 'OtherApp']);
    expect(fromStack.stderr).toMatch(
      /^keydrift: table \S+ in eu-west-1 is not a keydrift table \(its key is id, not pk and sk\): stack OtherApp's TableName output names it: check --stack-name, or pass --table\n$/,
    );
    expect(fromStack.status).toBe(2);
  });

  it('names a key KMS does not know, and exits 2', () => {
    for (const name of ['alias/nope', '0f4a6c1e-93b7-4d25-8e1a-6c2f0b7d4a91']) {
      const run = keydrift(['baseline', 'accept', name]);
      expect(run.status).toBe(2);
      expect(run.stderr).toBe(`keydrift: no such key: ${name} in eu-west-1\n`);
    }
  });

  it('names a trail CloudTrail does not know, exits 2, and approves nothing', async () => {
    const typo = `arn:aws:cloudtrail:${REGION}:123456789012:trail/none`;
    const run = keydrift(['baseline', 'accept', typo]);
    expect(run.stderr).toBe(`keydrift: no such trail: ${typo} in eu-west-1\n`);
    expect(run.status).toBe(2);
    expect(await world.item(`RESOURCE#${typo}`, 'BASELINE')).toBeUndefined();
  });

  it('shows no baseline for a trail CloudTrail does not know, and does not suggest accepting it', () => {
    const typo = `arn:aws:cloudtrail:${REGION}:123456789012:trail/none`;
    const run = keydrift(['baseline', 'show', typo]);
    expect(run.stderr).toBe(`keydrift: no such trail: ${typo} in eu-west-1\n`);
    expect(run.status).toBe(2);
  });

  it('still shows the baseline of a trail deleted since: its deletion is the drift to look at', async () => {
    // By name: moto 5.2 answers DeleteTrail by ARN with success and keeps the trail.
    await world.cloudtrail.send(new DeleteTrailCommand({ Name: 'org-audit' }));
    const run = keydrift(['baseline', 'show', trail, '--format', 'json']);
    expect(run.status).toBe(0);
    expect(jsonLines<BaselineView>(run.stdout)[0]).toMatchObject({
      resource: trail,
      kind: 'trail',
      baseline: { snapshot: { attributes: { trail: 'exists' } } },
    });
  });

  it('approves the deletion of a trail deleted since on accept, as of a deleted key, so status stops listing it', async () => {
    // Prepare: the reconciler found the trail gone and stored it so: status lists its deletion.
    const stored = await world.item(`RESOURCE#${trail}`, 'STATE');
    const gone = snapshotFromState('trail', trail, { trail: 'deleted', logging: false });
    const deletion = finding({ resource: trail, event: 'DeleteTrail', severity: 'critical', hoursAgo: 0 });
    await save(deletion, {
      finding: deletion,
      states: [{ snapshot: gone, expectedVersion: stored ? Number(stored.version.N) : null }],
    });
    const before = keydrift(['status', '--format', 'json']);
    expect(jsonLines<StatusRow>(before.stdout).map((r) => r.resource)).toContain(trail);
    await world.pageMessages();

    // Act
    const run = keydrift(['baseline', 'accept', trail, '--format', 'json']);

    // Assess
    expect(run.stderr).not.toContain('no such trail');
    expect(run.status).toBe(0);
    expect(jsonLines<{ resource: string }>(run.stdout)[0]).toMatchObject({
      resource: trail,
      result: 'changed',
      changes: expect.arrayContaining([{ path: 'trail', before: 'exists', after: 'deleted' }]),
    });
    const baseline = await world.item(`RESOURCE#${trail}`, 'BASELINE');
    expect(JSON.parse(baseline?.snapshot.S ?? '{}').attributes).toMatchObject({ trail: 'deleted' });
    expect(await world.pageMessages()).toEqual([expect.objectContaining({ event: 'BaselineAccept', resource: trail })]);
    const after = keydrift(['status', '--format', 'json']);
    expect(jsonLines<StatusRow>(after.stdout).map((r) => r.resource)).not.toContain(trail);
  });

  it('says there are no credentials, quickly, when the chain finds none', () => {
    const { AWS_ACCESS_KEY_ID: _id, AWS_SECRET_ACCESS_KEY: _secret, ...env } = world.moto.env;
    const started = Date.now();
    const run = keydrift(['status'], { ...env, HOME: tempDir(), AWS_EC2_METADATA_DISABLED: 'true' });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^keydrift: no AWS credentials: set AWS_PROFILE or /);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('says there is no Region', () => {
    const { AWS_REGION: _r, AWS_DEFAULT_REGION: _d, ...env } = world.moto.env;
    const run = keydrift(['status'], { ...env, HOME: tempDir() });
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      'keydrift: no AWS Region: pass --region, set AWS_REGION (or AWS_DEFAULT_REGION), or set region in your AWS ' +
        'profile\n',
    );
  });
});

describe('options', () => {
  it('reaches the endpoint given by --endpoint-url, the Region by --region and the table by --table', () => {
    const { AWS_ENDPOINT_URL: endpoint, AWS_REGION: _r, AWS_DEFAULT_REGION: _d, ...env } = world.moto.env;
    const run = keydrift(
      [
        'status',
        '--endpoint-url',
        endpoint as string,
        '--region',
        REGION,
        '--table',
        world.tableName,
        '--format',
        'json',
      ],
      { ...env, HOME: path.join(os.tmpdir(), 'keydrift-no-home') },
    );
    expect(run.stderr).toContain(`(table ${world.tableName}, eu-west-1)`);
    expect(run.status).toBe(0);
  });

  it('takes the Region from AWS_DEFAULT_REGION, as the aws CLI does, when neither AWS_REGION nor the profile gives one', () => {
    // Prepare
    const { AWS_REGION: _r, AWS_DEFAULT_REGION: _d, ...env } = world.moto.env;
    const home = tempDir();
    writeFile(
      path.join(home, '.aws', 'credentials'),
      `[audit]\naws_access_key_id = ${env.AWS_ACCESS_KEY_ID}\naws_secret_access_key = ${env.AWS_SECRET_ACCESS_KEY}\n`,
    );
    writeFile(path.join(home, '.aws', 'config'), `[profile audit]\nregion = ${REGION}\n`);
    // Act
    const fallback = keydrift(['status'], { ...env, HOME: home, AWS_DEFAULT_REGION: REGION });
    // AWS_REGION and the profile's Region come first: the stack is not in us-east-1.
    const regionFirst = keydrift(['status'], {
      ...env,
      HOME: home,
      AWS_REGION: REGION,
      AWS_DEFAULT_REGION: 'us-east-1',
    });
    const profileFirst = keydrift(['status', '--profile', 'audit'], {
      ...env,
      HOME: home,
      AWS_DEFAULT_REGION: 'us-east-1',
    });
    // Assess
    for (const run of [fallback, regionFirst, profileFirst]) {
      expect(run.stderr).toContain(`(table ${world.tableName}, eu-west-1)`);
      expect(run.status).toBe(0);
    }
  });

  it('uses the credentials and Region of --profile, and says when the profile has none', () => {
    const {
      AWS_ACCESS_KEY_ID: id,
      AWS_SECRET_ACCESS_KEY: secret,
      AWS_REGION: _r,
      AWS_DEFAULT_REGION: _d,
      ...env
    } = world.moto.env;
    const home = tempDir();
    writeFile(
      path.join(home, '.aws', 'credentials'),
      `[audit]\naws_access_key_id = ${id}\naws_secret_access_key = ${secret}\n`,
    );
    writeFile(path.join(home, '.aws', 'config'), `[profile audit]\nregion = ${REGION}\n`);
    const run = keydrift(['status', '--profile', 'audit'], { ...env, HOME: home });
    expect(run.stderr).toContain(`(table ${world.tableName}, eu-west-1)`);
    expect(run.status).toBe(0);

    const missing = keydrift(['status', '--profile', 'nope', '--region', REGION], { ...env, HOME: home });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^keydrift: no AWS credentials for profile nope: /);
  });

  it(`finds the table through stack ${STACK} by default, and documents every command with examples`, () => {
    for (const command of [
      ['status'],
      ['findings'],
      ['baseline', 'show'],
      ['baseline', 'accept'],
      ['baseline', 'adopt'],
    ]) {
      const run = keydrift([...command, '--help']);
      expect(run.status).toBe(0);
      expect(run.stdout).toContain('--stack-name <name>');
      expect(run.stdout).toContain('(default: "Keydrift"');
      expect(run.stdout).toContain(`Examples:\n  keydrift ${command.join(' ')}`);
    }
  });
});

describe('open drift on an attribute approved as unknown', () => {
  // A key keydrift had no baseline for, whose policy someone opened to another account: the detector wrote a
  // critical drift finding, the state, and a baseline that approves the policy as unknown.
  let opened: string;

  beforeAll(async () => {
    opened = await world.createKey('opened to 444455556666');
    const live = await world.reader.readKey(opened);
    const { policy, ...rest } = live.attributes;
    const baseline: ResourceSnapshot = { ...live, attributes: rest, unknownPaths: ['policy'] };
    const policyOpened = finding({
      resource: opened,
      event: 'PutKeyPolicy',
      severity: 'critical',
      hoursAgo: 1,
      changes: { policy: { before: null, after: policy } },
    });
    await save(policyOpened, {
      finding: policyOpened,
      states: [{ snapshot: live, expectedVersion: null }],
      baselines: [{ snapshot: baseline, expectedVersion: null }],
    });
  });

  it('is listed by status as critical, marked as having no known approved value', () => {
    const json = keydrift(['status', '--format', 'json']);
    expect(json.status).toBe(0);
    expect(jsonLines<StatusRow>(json.stdout).find((r) => r.resource === opened)).toMatchObject({
      attributes: ['policy'],
      unknownBaseline: ['policy'],
      severity: 'critical',
      latest: { event: 'PutKeyPolicy', severity: 'critical' },
    });

    const table = keydrift(['status']);
    expect(table.stdout.split('\n')[1]).toMatch(/^CRITICAL +\S+Z +\S+ +policy \(approved value unknown\)$/);
    expect(table.stdout).toContain(opened);
  });

  it('is shown by baseline show as drift, not as a stored state that matches', () => {
    const json = keydrift(['baseline', 'show', opened, '--format', 'json']);
    expect(json.status).toBe(0);
    expect(jsonLines<BaselineView>(json.stdout)[0].drift).toEqual(['policy']);

    const table = keydrift(['baseline', 'show', opened]);
    expect(table.stdout).toMatch(/\n {2}drift {6}policy \(approved value unknown; a drift finding is open\)\n/);
    expect(table.stdout).not.toContain('none (the stored state matches)');
    expect(table.stdout).toContain('approved as unknown: policy');
  });

  it('stays open until the live state is accepted as the baseline', () => {
    const drifted = () => jsonLines<StatusRow>(keydrift(['status', '--format', 'json']).stdout).map((r) => r.resource);
    expect(drifted()).toContain(opened);
    expect(keydrift(['baseline', 'accept', opened]).status).toBe(0);
    expect(drifted()).not.toContain(opened);
  });
});

describe('a key deleted since keydrift baselined it', () => {
  // KMS no longer knows the key; keydrift's table holds its baseline (Enabled) and the state its DeleteKey left.
  const keyId = '5d8e2c41-7a9b-4f03-b6e2-91c0d4a8f7e3';
  const deleted = `arn:aws:kms:${REGION}:123456789012:key/${keyId}`;
  let deletion: Finding;

  beforeAll(async () => {
    const enabled = snapshotFromState('key', deleted, {
      key_state: 'Enabled',
      deletion_date: null,
      description: 'old exports',
    });
    const created = finding({
      resource: deleted,
      event: 'CreateKey',
      severity: 'info',
      status: 'planned',
      hoursAgo: 30,
    });
    await save(created, {
      finding: created,
      states: [{ snapshot: enabled, expectedVersion: null }],
      baselines: [{ snapshot: enabled, expectedVersion: null }],
    });
    const gone = snapshotFromState('key', deleted, {
      key_state: 'Deleted',
      deletion_date: null,
      description: 'old exports',
    });
    deletion = finding({
      resource: deleted,
      event: 'DeleteKey',
      severity: 'critical',
      hoursAgo: 6,
      changes: { key_state: { before: 'PendingDeletion', after: 'Deleted' } },
    });
    await save(deletion, { finding: deletion, states: [{ snapshot: gone, expectedVersion: 1 }] });
  });

  it('is listed by status as critical drift on key_state', () => {
    const run = keydrift(['status', '--format', 'json']);
    expect(jsonLines<StatusRow>(run.stdout).find((r) => r.resource === deleted)).toMatchObject({
      attributes: ['key_state'],
      severity: 'critical',
    });
  });

  it('shows its stored baseline and state by ARN or key id, as a deleted trail: its deletion is the drift to look at', () => {
    for (const name of [deleted, keyId]) {
      const run = keydrift(['baseline', 'show', name, '--format', 'json']);
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      const [view] = jsonLines<BaselineView & { state: { snapshot: ResourceSnapshot } }>(run.stdout);
      expect(view).toMatchObject({
        resource: deleted,
        kind: 'key',
        baseline: { version: 1, snapshot: { attributes: { key_state: 'Enabled' } } },
        state: { snapshot: { attributes: { key_state: 'Deleted' } } },
        drift: ['key_state'],
      });
    }
  });

  it('lists its findings by key id, resolved through the table', () => {
    const run = keydrift(['findings', '--resource', keyId, '--since', '2d', '--format', 'json']);
    expect(run.status).toBe(0);
    expect(jsonLines<Finding>(run.stdout).map((f) => f.eventId)).toEqual([
      deletion.eventId,
      `CreateKey-30-${keyId.slice(-12)}`,
    ]);
  });

  it('approves its deletion on accept, with who and when, so status stops listing it', async () => {
    await world.pageMessages();
    // Act
    const run = keydrift(['baseline', 'accept', deleted, '--format', 'json']);
    // Assess
    expect(run.status).toBe(0);
    expect(jsonLines<{ resource: string }>(run.stdout)[0]).toMatchObject({
      resource: deleted,
      result: 'changed',
      acceptedBy: MOTO_IDENTITY,
      version: 2,
      changes: expect.arrayContaining([{ path: 'key_state', before: 'Enabled', after: 'Deleted' }]),
    });
    const baseline = await world.item(`RESOURCE#${deleted}`, 'BASELINE');
    expect(JSON.parse(baseline?.snapshot.S ?? '{}').attributes).toMatchObject({ key_state: 'Deleted' });
    expect(baseline?.acceptedBy?.S).toBe(MOTO_IDENTITY);
    const [accepted, ...others] = await world.pageMessages();
    expect(others).toEqual([]);
    expect(accepted).toMatchObject({ event: 'BaselineAccept', resource: deleted, status: 'planned' });
    const history = keydrift(['findings', '--resource', deleted, '--since', '1h', '--format', 'json']);
    expect(jsonLines<Finding>(history.stdout)[0]).toMatchObject({ event: 'BaselineAccept', user: MOTO_IDENTITY });
    const status = keydrift(['status', '--format', 'json']);
    expect(status.status).toBe(0);
    expect(jsonLines<StatusRow>(status.stdout).map((r) => r.resource)).not.toContain(deleted);
  });
});

describe('an alias deleted since keydrift baselined it', () => {
  // KMS no longer knows the alias; keydrift's table holds its baseline and the state the reconciler stored for it gone.
  const alias = `arn:aws:kms:${REGION}:${ACCOUNT}:alias/retired`;

  beforeAll(async () => {
    const target = snapshotFromState('alias', alias, { target_key_id: reports });
    const created = finding({
      resource: alias,
      event: 'CreateAlias',
      severity: 'info',
      status: 'planned',
      hoursAgo: 30,
    });
    await save(created, {
      finding: created,
      states: [{ snapshot: target, expectedVersion: null }],
      baselines: [{ snapshot: target, expectedVersion: null }],
    });
    const gone = snapshotFromState('alias', alias, { target_key_id: null });
    const deletion = finding({ resource: alias, event: 'Reconcile', severity: 'error', hoursAgo: 2 });
    await save(deletion, { finding: deletion, states: [{ snapshot: gone, expectedVersion: 1 }] });
  });

  it('shows its stored baseline and state by name or ARN, as a deleted key: its deletion is the drift to look at', () => {
    const listed = keydrift(['status', '--format', 'json']);
    expect(jsonLines<StatusRow>(listed.stdout).map((r) => r.resource)).toContain(alias);
    for (const name of [alias, 'alias/retired']) {
      const run = keydrift(['baseline', 'show', name, '--format', 'json']);
      expect([name, run.status, run.stderr]).toEqual([name, 0, '']);
      expect(jsonLines<BaselineView>(run.stdout)).toEqual([
        expect.objectContaining({
          resource: alias,
          kind: 'alias',
          baseline: expect.objectContaining({
            snapshot: expect.objectContaining({ attributes: { target_key_id: reports } }),
          }),
        }),
      ]);
    }
  });

  it('approves its deletion on accept, so status stops listing it', async () => {
    await world.pageMessages();
    // Act
    const run = keydrift(['baseline', 'accept', 'alias/retired', '--format', 'json']);
    // Assess
    expect(run.stderr).not.toContain('no such key');
    expect(run.status).toBe(0);
    expect(jsonLines<{ resource: string }>(run.stdout)).toEqual([
      expect.objectContaining({
        resource: alias,
        result: 'changed',
        changes: [{ path: 'target_key_id', before: reports, after: null }],
      }),
    ]);
    const baseline = await world.item(`RESOURCE#${alias}`, 'BASELINE');
    expect(JSON.parse(baseline?.snapshot.S ?? '{}').attributes).toEqual({ target_key_id: null });
    expect(await world.pageMessages()).toEqual([expect.objectContaining({ event: 'BaselineAccept', resource: alias })]);
    const status = keydrift(['status', '--format', 'json']);
    expect(jsonLines<StatusRow>(status.stdout).map((r) => r.resource)).not.toContain(alias);
  });
});

describe('a key with too many grants for a table item', () => {
  // EBS-style grants, one a volume: the state and baseline items leave the grants out (unknown) to stay under 400 KB.
  // Someone outside the planned principals then added one more: the detector's drift finding on grants is open.
  const keyId = '3c9f1e2a-6b4d-4e8f-a0c7-5d2b8e1f4a60';
  const busy = `arn:aws:kms:${REGION}:123456789012:key/${keyId}`;
  const grant = (i: number) => ({
    grantee_principal: `arn:aws:iam::123456789012:role/ebs-volume-attacher-${i}`,
    retiring_principal: null,
    operations: ['Decrypt', 'Encrypt', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo'],
    constraints: null,
  });
  const grants = (n: number) =>
    Object.fromEntries(
      Array.from({ length: n }, (_, i) => [`${String(i).padStart(8, '0')}0e4e15d7f1ad2d4b6d1a`, grant(i)]),
    );

  beforeAll(async () => {
    const state = (n: number) =>
      snapshotFromState('key', busy, { key_state: 'Enabled', description: 'ebs volumes', grants: grants(n) });
    const created = finding({ resource: busy, event: 'CreateKey', severity: 'info', status: 'planned', hoursAgo: 30 });
    await save(created, {
      finding: created,
      states: [{ snapshot: state(2500), expectedVersion: null }],
      baselines: [{ snapshot: state(2500), expectedVersion: null }],
    });
    const added = finding({
      resource: busy,
      event: 'CreateGrant',
      severity: 'error',
      hoursAgo: 1,
      changes: {
        grants: { before: { f00d0e4e15d7f1ad2d4b6d1a: null }, after: { f00d0e4e15d7f1ad2d4b6d1a: grant(9999) } },
      },
    });
    await save(added, { finding: added, states: [{ snapshot: state(2501), expectedVersion: 1 }] });
    expect((await world.item(`RESOURCE#${busy}`, 'BASELINE'))?.truncated).toEqual({ L: [{ S: 'grants' }] });
  });

  it('is listed by status as drift on grants while the drift finding is open, though no comparison can show it', () => {
    const run = keydrift(['status', '--format', 'json']);
    expect(run.status).toBe(0);
    expect(jsonLines<StatusRow>(run.stdout).find((r) => r.resource === busy)).toMatchObject({
      attributes: ['grants'],
      severity: 'error',
      latest: { event: 'CreateGrant' },
    });
  });

  it('is shown by baseline show with its grants left out, not as a key approved without grants', () => {
    const run = keydrift(['baseline', 'show', keyId]);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/\n {2}drift {6}grants \(.*a drift finding is open\)\n/);
    expect(run.stdout).toContain(
      '  left out to fit a table item: grants (approved as unknown: only their findings show their drift)',
    );
  });
});

describe('accepting a key with too many grants for a table item', () => {
  // EBS-style grants, one a volume: too many for the baseline item, which leaves them out (approved as unknown).
  const GRANTS = 1200;
  let ebs: string;

  beforeAll(async () => {
    ebs = await world.createKey('ebs volumes');
    const attacher = `arn:aws:iam::${ACCOUNT}:role/ebs-volume-attacher`;
    for (let i = 0; i < GRANTS; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, GRANTS - i) }, (_, j) =>
          world.kms.send(
            new CreateGrantCommand({
              KeyId: ebs,
              GranteePrincipal: attacher,
              Operations: ['Decrypt', 'Encrypt', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo'],
              Name: `ebs-volume-${String(i + j).padStart(6, '0')}-${'attachment'.repeat(20)}`,
            }),
          ),
        ),
      );
    }
  }, 120_000);

  it('says on accept that the grants were left out, in one line, rather than listing each as approved', async () => {
    // Act
    const run = keydrift(['baseline', 'accept', ebs]);
    // Assess
    expect([run.status, run.stderr]).toEqual([0, '']);
    expect((await world.item(`RESOURCE#${ebs}`, 'BASELINE'))?.truncated).toEqual({ L: [{ S: 'grants' }] });
    expect(run.stdout).not.toContain('grants#');
    expect(run.stdout).toContain(
      '\n  grants: 1,200 entries, left out of the stored baseline to fit a table item (approved as unknown: only ' +
        'their findings show their drift)\n',
    );
    expect(run.stdout.split('\n').length).toBeLessThan(20);
  });

  it('leaves the grants out of what an accept over that baseline approves, in JSON and in its BaselineAccept finding', async () => {
    await world.pageMessages();
    // Act
    const run = keydrift(['baseline', 'accept', ebs, '--format', 'json']);
    // Assess
    expect(run.status).toBe(0);
    const [result] = jsonLines<AcceptResult>(run.stdout);
    expect(result).toMatchObject({ resource: ebs, leftOut: [{ attribute: 'grants', entries: GRANTS }] });
    expect(result?.changes.filter((c) => c.path.startsWith('grants'))).toEqual([]);
    const [accepted] = await world.pageMessages();
    expect(accepted).toMatchObject({ event: 'BaselineAccept', resource: ebs });
    expect(Object.keys(accepted?.changes ?? {})).not.toContain('grants');
    expect(accepted?.summary).toContain('grants left out of the stored baseline to fit a table item');
  });

  it('is left as it is by a later adopt, which pages no one, since the grants it left out are still left out', async () => {
    await world.pageMessages();
    const version = (await world.item(`RESOURCE#${ebs}`, 'BASELINE'))?.version;
    // Act
    const run = keydrift(['baseline', 'adopt', '--yes', '--format', 'json']);
    // Assess
    expect(run.status).toBe(0);
    const result = jsonLines<AcceptResult>(run.stdout).find((r) => r.resource === ebs);
    expect(result).toMatchObject({ result: 'unchanged', written: false, leftOut: [{ attribute: 'grants' }] });
    expect((await world.item(`RESOURCE#${ebs}`, 'BASELINE'))?.version).toEqual(version);
    expect((await world.pageMessages()).filter((m) => m.resource === ebs)).toEqual([]);
  });
});

describe('an accept with --reason', () => {
  let vault: string;
  // Typed by an operator, so shown as any other text no one checked: a line break, a link, a terminal escape.
  const reason = 'CHG-4711: archived\nsee https://wiki.example/chg-4711 \u001b[31m@here';

  beforeAll(async () => {
    vault = await world.createKey('vault');
    const created = await world.reader.readKey(vault);
    const f = finding({ resource: vault, event: 'CreateKey', severity: 'info', status: 'planned', hoursAgo: 3 });
    await save(f, {
      finding: f,
      states: [{ snapshot: created, expectedVersion: null }],
      baselines: [{ snapshot: created, expectedVersion: null }],
    });
    await world.kms.send(new UpdateKeyDescriptionCommand({ KeyId: vault, Description: 'vault (archived)' }));
    await world.pageMessages();
  });

  it('records why with who and when: on the baseline, in baseline show, in its BaselineAccept finding and page', async () => {
    // Act
    const run = keydrift(['baseline', 'accept', vault, '--reason', reason, '--format', 'json']);
    const shown = keydrift(['baseline', 'show', vault]);
    const shownJson = keydrift(['baseline', 'show', vault, '--format', 'json']);
    const listed = keydrift(['findings', '--resource', vault, '--since', '1h', '--format', 'json']);
    const table = keydrift(['findings', '--resource', vault, '--since', '1h']);
    const pages = (await world.pageMessages()).filter((p) => p.resource === vault);

    // Assess
    expect(run.status).toBe(0);
    expect(jsonLines<AcceptResult>(run.stdout)).toEqual([
      expect.objectContaining({ resource: vault, result: 'changed', acceptedBy: MOTO_IDENTITY, acceptReason: reason }),
    ]);
    expect((await world.item(`RESOURCE#${vault}`, 'BASELINE'))?.acceptReason?.S).toBe(reason);
    expect(shown.stdout).toMatch(/\n {2}accepted +by \S+ at \S+\n {2}reason {5}CHG-4711: archived see https:\/\//);
    expect(jsonLines<{ baseline: { acceptReason?: string } }>(shownJson.stdout)[0].baseline.acceptReason).toBe(reason);
    const [accept] = jsonLines<Finding>(listed.stdout);
    expect(accept).toMatchObject({ event: 'BaselineAccept', user: MOTO_IDENTITY, acceptReason: reason });
    expect(table.stdout).toContain('(reason: CHG-4711: archived see https://wiki.example/chg-4711');
    for (const output of [shown.stdout, table.stdout]) expect(output).not.toContain('\u001b');
    // PagerDuty gets it as one line, the link defanged, the escape gone.
    expect(pages).toEqual([expect.objectContaining({ event: 'BaselineAccept', acceptReason: reason })]);
    expect(findingProblems(pages[0])).toEqual([]);
    const events = formatPagerDutyEvents(pages[0], 'routing-key');
    expect(events.map((e) => e.payload.custom_details.accept_reason)).toEqual(
      events.map(() => 'CHG-4711: archived see hxxps://wiki.example/chg-4711 @here'),
    );
  });

  it('keeps no reason from an earlier accept when the baseline is accepted again without one', async () => {
    const run = keydrift(['baseline', 'accept', vault]);
    const shown = keydrift(['baseline', 'show', vault]);
    expect(run.status).toBe(0);
    expect(run.stdout).not.toContain('reason');
    expect(shown.stdout).not.toMatch(/\n {2}reason /);
    expect((await world.item(`RESOURCE#${vault}`, 'BASELINE'))?.acceptReason).toBeUndefined();
  });

  it('refuses an empty --reason, or one over 1000 characters, before any AWS call (exit 2)', () => {
    for (const [given, why] of [
      ['  ', 'expected why the state is approved'],
      ['x'.repeat(1001), 'at most 1000 characters (this is 1001)'],
    ]) {
      const run = keydrift(['baseline', 'accept', vault, '--reason', given]);
      expect([run.status, run.stdout]).toEqual([2, '']);
      expect(run.stderr).toContain(`option '--reason <text>' argument '${given}' is invalid. ${why}`);
    }
  });

  it('records the reason adopt is given on each baseline it writes, and says it', async () => {
    // Prepare
    await world.kms.send(new UpdateKeyDescriptionCommand({ KeyId: vault, Description: 'vault (restored)' }));
    // Act
    const run = keydrift(['baseline', 'adopt', '--yes', '--reason', 'CHG-4712: restored', '--format', 'json']);
    // Assess
    expect(run.status).toBe(0);
    const results = jsonLines<AcceptResult>(run.stdout);
    expect(results.find((r) => r.resource === vault)).toMatchObject({
      result: 'changed',
      acceptReason: 'CHG-4712: restored',
    });
    expect((await world.item(`RESOURCE#${vault}`, 'BASELINE'))?.acceptReason?.S).toBe('CHG-4712: restored');
    expect(run.stderr).toMatch(
      /accepted \d+ baseline\(s\) in table \S+ \(eu-west-1\) as \S+, for: CHG-4712: restored \(/,
    );
  });

  it('is named by status beside who accepted the baseline and when, once the key drifts from it', async () => {
    // Prepare: the description changed again, as the detector stores it.
    await world.kms.send(new UpdateKeyDescriptionCommand({ KeyId: vault, Description: 'vault (reopened)' }));
    const retitled = finding({ resource: vault, event: 'UpdateKeyDescription', severity: 'warning', hoursAgo: 0 });
    const version = Number((await world.item(`RESOURCE#${vault}`, 'STATE'))?.version?.N);
    const states = [{ snapshot: await world.reader.readKey(vault), expectedVersion: version }];
    await save(retitled, { finding: retitled, states });

    // Act
    const run = keydrift(['status', '--format', 'json']);

    // Assess
    expect(run.status).toBe(0);
    expect(jsonLines<StatusRow>(run.stdout).find((r) => r.resource === vault)).toMatchObject({
      attributes: ['description'],
      baseline: { acceptedBy: MOTO_IDENTITY, acceptedAt: expect.any(String), acceptReason: 'CHG-4712: restored' },
    });
  });
});

describe('keydrift findings --resource, a key or trail AWS knows that keydrift never recorded', () => {
  it('says "No findings" (exit 0) for it by ARN, as by its id: an existing key is no typo', async () => {
    // Prepare: a key made after every adopt, as an AWS-managed key is never recorded.
    const fresh = await world.createKey('never recorded');
    for (const named of [fresh, fresh.split('/').pop() as string]) {
      // Act
      const run = keydrift(['findings', '--resource', named]);
      // Assess
      expect([named, run.status, run.stdout]).toEqual([named, 0, expect.stringMatching(/^No findings since /)]);
    }
  });

  it('says "No findings" (exit 0) for a trail CloudTrail knows, before any reconcile run recorded it', async () => {
    // Prepare
    const fresh = await world.createTrail('never-recorded');
    // Act
    const run = keydrift(['findings', '--resource', fresh]);
    // Assess
    expect([run.status, run.stdout]).toEqual([0, expect.stringMatching(/^No findings since /)]);
  });

  it("refuses a trail ARN naming this Region for a multi-Region trail homed in another: that trail's ARN names its home", async () => {
    // Prepare: a multi-Region trail homed in us-east-1, which CloudTrail here lists as a shadow trail by its home ARN.
    const home = new CloudTrailClient({ ...world.moto.clientConfig, region: 'us-east-1' });
    world.moto.aws([
      's3api',
      'create-bucket',
      '--bucket',
      'homed-elsewhere-logs',
      '--create-bucket-configuration',
      `LocationConstraint=${REGION}`,
    ]);
    const { TrailARN } = await home.send(
      new CreateTrailCommand({
        Name: 'homed-elsewhere',
        S3BucketName: 'homed-elsewhere-logs',
        IsMultiRegionTrail: true,
      }),
    );
    home.destroy();
    const typed = `arn:aws:cloudtrail:${REGION}:${ACCOUNT}:trail/homed-elsewhere`;
    expect(TrailARN).toBe(`arn:aws:cloudtrail:us-east-1:${ACCOUNT}:trail/homed-elsewhere`);
    // Act
    const run = keydrift(['findings', '--resource', typed]);
    // Assess: its name alone is no trail of that ARN; listing "No findings" would say nothing happened to it.
    expect([run.status, run.stdout]).toEqual([2, '']);
    expect(run.stderr).toMatch(new RegExp(`^keydrift: nothing known of ${typed} in ${REGION}: `));
  });
});
