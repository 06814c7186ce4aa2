/**
 * What the operator commands conclude from keydrift's table without AWS: how open drift is dated and rated from
 * the findings, what an accept approves, labels, and `--since` values.
 */
import { snapshotFromState } from '../../lambda/core/state';
import type { Finding, Severity, Status } from '../../lambda/core/types';
import {
  acceptedChanges,
  attributesOf,
  compareDrift,
  daysBetween,
  driftedPaths,
  driftTracker,
  impossibleSince,
  type OpenDrift,
  openDrift,
  openPaths,
  parseSince,
  parseUntil,
  type StoredResource,
  sameSnapshot,
} from '../../lambda/ops/drift';

const KEY = 'arn:aws:kms:eu-west-1:111122223333:key/0f4a6c1e-93b7-4d25-8e1a-6c2f0b7d4a91';
const NOW = Date.parse('2026-10-03T12:00:00Z');

const key = (state: Record<string, unknown>) =>
  snapshotFromState('key', KEY, {
    description: 'payments',
    key_state: 'Enabled',
    enable_key_rotation: true,
    tags: { team: 'payments' },
    aliases: { 'alias/payments': true },
    ...state,
  });

let counter = 0;
function f(
  timestamp: string,
  severity: Severity,
  status: Status,
  changes: Finding['changes'],
  event = 'UpdateKeyDescription',
): Finding {
  return {
    service: 'kms',
    event,
    eventId: `e-${++counter}`,
    timestamp,
    account: '111122223333',
    region: 'eu-west-1',
    resource: KEY,
    user: 'arn:aws:iam::111122223333:user/carol',
    severity,
    status,
    changes,
    summary: event,
    remediation: [],
  };
}

describe('driftTracker: dating and rating open drift from findings fed newest first', () => {
  it('dates each attribute from its oldest drift finding and rates it by the worst', () => {
    // Prepare
    const tracker = driftTracker(['description', 'enable_key_rotation']);
    const newestFirst = [
      f('2026-10-03T11:00:00Z', 'warning', 'drift', { description: { before: 'a', after: 'b' } }),
      f('2026-10-03T10:00:00Z', 'error', 'drift', { enable_key_rotation: { before: true, after: false } }),
      f('2026-10-03T09:00:00Z', 'warning', 'drift', { description: { before: 'payments', after: 'a' } }),
    ];
    // Act
    for (const finding of newestFirst) tracker.push(finding);
    // Assess
    expect(tracker.result()).toEqual({
      since: '2026-10-03T09:00:00Z',
      severity: 'error',
      latest: newestFirst[0],
      open: ['description', 'enable_key_rotation'],
    });
  });

  it('stops counting an attribute at a finding that resolved it, moved its baseline or brought it back', () => {
    for (const closing of [
      f('2026-10-02T00:00:00Z', 'info', 'resolved', { description: { before: 'x', after: 'payments' } }),
      f('2026-10-02T00:00:00Z', 'info', 'planned', { description: { before: 'x', after: 'y' } }),
      f('2026-10-02T00:00:00Z', 'warning', 'drift', {
        description: { before: 'x', after: 'payments', back_to_baseline: true },
      }),
    ]) {
      const tracker = driftTracker(['description']);
      expect(
        tracker.push(f('2026-10-03T11:00:00Z', 'warning', 'drift', { description: { before: 'p', after: 'q' } })),
      ).toBe(true);
      // Closed: nothing older can matter any more.
      expect(tracker.push(closing)).toBe(false);
      expect(
        tracker.push(f('2026-10-01T00:00:00Z', 'critical', 'drift', { description: { before: 'p', after: 'x' } })),
      ).toBe(false);
      expect(tracker.result()).toMatchObject({ since: '2026-10-03T11:00:00Z', severity: 'warning' });
    }
  });

  it("keeps a map attribute open past a routine or planned change to another of its entries (a service's grant)", () => {
    // Prepare: newest first: RDS's routine grant B (planned, grant A still drifting), then the critical grant A.
    const tracker = driftTracker(['grants']);
    const routine = f(
      '2026-10-03T11:00:00Z',
      'info',
      'planned',
      { grants: { before: { B: null }, after: { B: { grantee: 'rds.amazonaws.com' } } } },
      'CreateGrant',
    );
    const outside = f(
      '2026-10-03T09:00:00Z',
      'critical',
      'drift',
      { grants: { before: { A: null }, after: { A: { grantee: 'arn:aws:iam::444455556666:root' } } } },
      'CreateGrant',
    );

    // Act
    tracker.push(routine);
    tracker.push(outside);

    // Assess
    expect(tracker.result()).toMatchObject({ since: '2026-10-03T09:00:00Z', severity: 'critical', open: ['grants'] });
    // One that brings the whole map back does close it.
    const back = driftTracker(['grants']);
    back.push({ ...routine, changes: { grants: { ...routine.changes.grants, back_to_baseline: true } } });
    expect(back.push(outside)).toBe(false);
  });

  it('stops at a creation, whose state became the baseline even when it was itself drift', () => {
    for (const event of ['CreateKey', 'Unbaselined']) {
      const tracker = driftTracker(['description']);
      tracker.push(f('2026-10-03T11:00:00Z', 'warning', 'drift', { description: { before: 'p', after: 'q' } }));
      expect(
        tracker.push(
          f('2026-10-01T00:00:00Z', 'warning', 'drift', { description: { before: null, after: 'p' } }, event),
        ),
      ).toBe(false);
      expect(tracker.result()).toMatchObject({ since: '2026-10-03T11:00:00Z', severity: 'warning' });
    }
  });

  it('ignores denied attempts and findings about other attributes', () => {
    const tracker = driftTracker(['description']);
    tracker.push(f('2026-10-03T11:00:00Z', 'warning', 'denied', { description: { before: 'p', after: 'q' } }));
    tracker.push(f('2026-10-03T10:00:00Z', 'critical', 'drift', { policy: { before: null, after: null } }));
    expect(tracker.result()).toMatchObject({ since: undefined, severity: null });
  });

  it('drops findings an ignore rule kept out of alerts: they neither open an attribute nor close it', () => {
    // Prepare
    const ignored = {
      ...f('2026-10-03T11:00:00Z', 'critical', 'drift', { policy: { before: null, after: null } }),
      ignoredBy: 'AWS Backup',
    };
    const onlyIgnored = driftTracker(['policy']);
    const overAnOpenDrift = driftTracker(['policy']);
    // Act
    onlyIgnored.push(ignored);
    overAnOpenDrift.push(ignored);
    overAnOpenDrift.push(f('2026-10-03T10:00:00Z', 'error', 'drift', { policy: { before: null, after: null } }));
    // Assess
    expect(onlyIgnored.result()).toMatchObject({ open: [], severity: null, since: undefined });
    expect(overAnOpenDrift.result()).toMatchObject({
      open: ['policy'],
      severity: 'error',
      since: '2026-10-03T10:00:00Z',
    });
  });

  it("stops at the baseline's last explicit accept (milliseconds and all)", () => {
    const tracker = driftTracker(['description'], '2026-10-03T10:00:00.250Z');
    expect(
      tracker.push(f('2026-10-03T10:00:00Z', 'warning', 'drift', { description: { before: 'p', after: 'q' } })),
    ).toBe(true);
    expect(
      tracker.push(f('2026-10-03T09:59:59Z', 'critical', 'drift', { description: { before: 'a', after: 'p' } })),
    ).toBe(false);
    expect(tracker.result()).toMatchObject({ since: '2026-10-03T10:00:00Z', severity: 'warning' });
  });
});

describe('openDrift: one status row', () => {
  it('uses the core comparison, and falls back to when the state was stored when no finding explains it', () => {
    const resource = {
      arn: KEY,
      kind: 'key' as const,
      baseline: { snapshot: key({}), version: 3, acceptedBy: 'arn:aws:iam::111122223333:user/ops' },
      state: {
        snapshot: key({ tags: { team: 'x' }, key_state: 'Disabled' }),
        version: 7,
        updatedAt: '2026-10-03T08:00:00.123Z',
      },
    };
    const paths = driftedPaths(resource);
    expect(paths).toEqual(['key_state', 'tags#team']);
    expect(openDrift(resource, paths, driftTracker(attributesOf(paths)).result())).toEqual({
      resource: KEY,
      kind: 'key',
      label: 'alias/payments',
      attributes: ['key_state', 'tags'],
      paths: ['key_state', 'tags#team'],
      since: '2026-10-03T08:00:00Z',
      severity: null,
      latest: null,
      unknownBaseline: [],
      baseline: { version: 3, updatedAt: null, acceptedBy: 'arn:aws:iam::111122223333:user/ops', acceptedAt: null },
      stateUpdatedAt: '2026-10-03T08:00:00.123Z',
    });
  });

  it('finds a primary Region the stored state shows moved on from the approved one, between two other Regions', () => {
    // A replica here (eu-west-1) approved with its primary in us-east-1, promoted here, then moved on to us-west-2: the
    // stored state shows us-west-2 (drift alerted when it moved from here), which the reconciler does not approve.
    const replica = (primary: string) => key({ multi_region: true, primary_region: primary });
    const resource: StoredResource = {
      arn: KEY,
      kind: 'key',
      baseline: { snapshot: replica('us-east-1'), version: 1 },
      state: { snapshot: replica('us-west-2'), version: 3 },
    };
    expect(driftedPaths(resource)).toEqual(['primary_region']);
  });

  it('finds no drift without a state or without a baseline', () => {
    expect(driftedPaths({ arn: KEY, kind: 'key', state: { snapshot: key({}), version: 1 } })).toEqual([]);
    expect(driftedPaths({ arn: KEY, kind: 'key', baseline: { snapshot: key({}), version: 1 } })).toEqual([]);
  });

  it('sorts the worst first, then the oldest', () => {
    const row = (resource: string, severity: Severity | null, since: string) =>
      ({ resource, severity, since }) as OpenDrift;
    const rows = [
      row('a', 'warning', '2026-10-01T00:00:00Z'),
      row('b', null, '2026-09-01T00:00:00Z'),
      row('c', 'critical', '2026-10-02T00:00:00Z'),
      row('d', 'warning', '2026-09-30T00:00:00Z'),
    ];
    expect(rows.sort(compareDrift).map((r) => r.resource)).toEqual(['c', 'd', 'a', 'b']);
  });
});

describe('openPaths: drift on an attribute approved as unknown', () => {
  // A key keydrift had no baseline for, whose policy was opened: the detector approved the policy as unknown.
  const policyOpened = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::444455556666:root' }, Action: 'kms:*' }],
  };
  const opened: StoredResource = {
    arn: KEY,
    kind: 'key',
    state: { snapshot: key({ policy: policyOpened }), version: 1, updatedAt: '2026-10-03T09:00:00.000Z' },
    baseline: { snapshot: { ...key({}), unknownPaths: ['policy'] }, version: 1 },
  };
  const policyOpenedFinding = f(
    '2026-10-03T09:00:00Z',
    'critical',
    'drift',
    { policy: { before: null, after: policyOpened } },
    'PutKeyPolicy',
  );

  it('counts it as drifted while its latest finding is an open drift, rated and dated by that finding', () => {
    // Prepare
    const tracker = driftTracker(['policy']);
    // Act
    tracker.push(policyOpenedFinding);
    const verdict = tracker.result();
    const paths = openPaths(opened, verdict.open);
    // Assess
    expect(driftedPaths(opened)).toEqual([]);
    expect(paths).toEqual(['policy']);
    expect(openDrift(opened, paths, verdict)).toMatchObject({
      attributes: ['policy'],
      unknownBaseline: ['policy'],
      severity: 'critical',
      since: '2026-10-03T09:00:00Z',
    });
  });

  it('does not count it once a later finding resolved it or a planned change approved it', () => {
    for (const closing of ['resolved', 'planned'] as const) {
      // Prepare
      const tracker = driftTracker(['policy']);
      // Act
      tracker.push(f('2026-10-03T10:00:00Z', 'info', closing, { policy: { before: policyOpened, after: null } }));
      tracker.push(policyOpenedFinding);
      // Assess
      expect(openPaths(opened, tracker.result().open)).toEqual([]);
    }
  });

  it('does not count it when no drift finding changed it', () => {
    expect(openPaths(opened, driftTracker(['policy']).result().open)).toEqual([]);
  });

  it('keeps the paths where the stored state differs, beside the open ones approved as unknown', () => {
    const retitled: StoredResource = {
      ...opened,
      state: { snapshot: key({ policy: policyOpened, description: 'x' }), version: 2 },
    };
    expect(openPaths(retitled, ['policy'])).toEqual(['description', 'policy']);
    expect(openPaths(retitled, [])).toEqual(['description']);
  });
});

describe('acceptedChanges and sameSnapshot: what an accept approves', () => {
  it('lists every differing path, and paths the new baseline learns or forgets', () => {
    const before = key({ enable_key_rotation: undefined });
    const after = key({ description: 'cards', key_state: undefined, tags: {} });
    expect(acceptedChanges(before, after)).toEqual([
      { path: 'description', before: 'payments', after: 'cards' },
      { path: 'enable_key_rotation', before: undefined, after: true },
      { path: 'key_state', before: 'Enabled', after: undefined },
      { path: 'tags#team', before: 'payments', after: null },
    ]);
    expect(sameSnapshot(before, after)).toBe(false);
  });

  it('lists an entry approved as unknown that the accept approves absent', () => {
    // Prepare: Alice removed tag Department from a key keydrift never saw, so its approved value is unknown, though
    // the live read after it showed the tags whole.
    const before = { ...key({ tags: {} }), unknownPaths: ['tags#Department'] };
    // Act: the operator accepts the key as it is, without that tag.
    const changes = acceptedChanges(before, key({ tags: {} }));
    // Assess
    expect(changes).toEqual([{ path: 'tags#Department', before: undefined, after: null }]);
  });

  it('lists a primary Region moved between two other Regions, which the accept approves', () => {
    // A replica here (eu-west-1) approved with its primary in us-east-1, accepted with its primary now in us-west-2.
    const replica = (primary: string) => key({ multi_region: true, primary_region: primary });
    expect(acceptedChanges(replica('us-east-1'), replica('us-west-2'))).toEqual([
      { path: 'primary_region', before: 'us-east-1', after: 'us-west-2' },
    ]);
  });

  it('lists every path of a first baseline, and nothing for an identical one', () => {
    expect(acceptedChanges(undefined, key({})).map((c) => c.path)).toEqual([
      'aliases#alias/payments',
      'description',
      'enable_key_rotation',
      'key_state',
      'tags#team',
    ]);
    expect(acceptedChanges(key({}), key({}))).toEqual([]);
    expect(sameSnapshot(key({}), key({}))).toBe(true);
    expect(sameSnapshot(undefined, key({}))).toBe(false);
  });
});

describe('parseSince and daysBetween', () => {
  it('reads durations before now and ISO dates (UTC unless a zone is given)', () => {
    expect(parseSince('7d', NOW)).toBe(NOW - 7 * 86_400_000);
    expect(parseSince('24h', NOW)).toBe(NOW - 86_400_000);
    expect(parseSince('30m', NOW)).toBe(NOW - 1_800_000);
    expect(parseSince('2w', NOW)).toBe(NOW - 14 * 86_400_000);
    expect(parseSince('2026-10-01', NOW)).toBe(Date.parse('2026-10-01T00:00:00Z'));
    expect(parseSince('2026-10-01T08:30', NOW)).toBe(Date.parse('2026-10-01T08:30:00Z'));
    expect(parseSince('2026-10-01T08:30:00Z', NOW)).toBe(Date.parse('2026-10-01T08:30:00Z'));
    expect(parseSince('2026-10-01T08:30:00+0200', NOW)).toBe(Date.parse('2026-10-01T06:30:00Z'));
    for (const bad of ['', 'yesterday', '7', '7y', '10/01/2026', '2026-13-45'])
      expect(parseSince(bad, NOW)).toBeUndefined();
  });

  it('reads an --until as inclusive of what it names: a bare date its whole day, a time to the minute its minute', () => {
    expect(parseUntil('2026-09-30', NOW)).toBe(Date.parse('2026-09-30T23:59:59.999Z'));
    expect(parseUntil('2026-09-30T23:59', NOW)).toBe(Date.parse('2026-09-30T23:59:59.999Z'));
    expect(parseUntil('2026-09-30T23:59+02:00', NOW)).toBe(Date.parse('2026-09-30T21:59:59.999Z'));
    expect(parseUntil('2026-09-30T23:59:30Z', NOW)).toBe(Date.parse('2026-09-30T23:59:30Z'));
    expect(parseUntil('7d', NOW)).toBe(NOW - 7 * 86_400_000);
  });

  it('refuses a duration that reaches back past any date, which would stop findings with a stack trace', () => {
    expect(parseSince('99999999w', NOW)).toBeUndefined();
    expect(impossibleSince('99999999w')).toBe(
      '99999999w reaches back before any date: give a shorter duration, or an ISO date (2026-11-01)',
    );
    expect(impossibleSince('3650d')).toBeUndefined();
    expect(parseSince('3650d', NOW)).toBe(NOW - 3650 * 86_400_000);
  });

  it('lists the byTime day partitions newest first, across a month end', () => {
    expect(daysBetween(Date.parse('2026-09-29T23:00:00Z'), Date.parse('2026-10-02T01:00:00Z'))).toEqual([
      '2026-10-02',
      '2026-10-01',
      '2026-09-30',
      '2026-09-29',
    ]);
    expect(daysBetween(NOW - 60_000, NOW)).toEqual(['2026-10-03']);
    expect(daysBetween(NOW + 86_400_000, NOW)).toEqual([]);
  });
});
