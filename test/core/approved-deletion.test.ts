/**
 * A key whose deletion a planned principal scheduled is deleted by KMS itself at the end of its waiting period
 * (DeleteKey, an AWS service event, and KMS's native KMS CMK Deletion): the approved schedule carried out, not drift.
 */
import { formatPagerDutyEvents } from '../../lambda/alerts/pagerduty';
import { audiencesFor } from '../../lambda/alerts/routing';
import { Detector } from '../../lambda/core/detector';
import { MemoryStore } from '../../lambda/core/memory-store';
import { normalizeRecord } from '../../lambda/core/normalize';
import { reconcileResource } from '../../lambda/core/reconcile';
import { entryPath, snapshotFromState } from '../../lambda/core/state';
import type { Finding, ResourceSnapshot } from '../../lambda/core/types';
import type { CloudTrailRecord } from '../helpers/fixtures';
import { at, by, config, createKey, KEY_ARN, KEY_ID, onKey, rec, sessionIdentity } from './harness';

const ADMIN_ROLE = 'arn:aws:iam::111122223333:role/Admin';
const PLANNED = { plannedPrincipals: [ADMIN_ROLE] };
/** ScheduleKeyDeletion__awskmsdg__1: made 2021-03-23T18:58:30Z, for 20 days. */
const DELETION_DATE = '2021-04-12T18:58:30Z';

const created = () => at(createKey(), 'create', '2021-03-01T09:00:00Z');
const scheduled = () => onKey(rec('ScheduleKeyDeletion__awskmsdg__1'));
const scheduledByAdmin = () => by(scheduled(), sessionIdentity('Admin', 'user01'));
/** KMS deleting the key (CloudTrail's AWS Service Event) at `time`. */
const deleteKey = (time = '2021-04-12T19:42:07Z') => at(onKey(rec('DeleteKey__awskmsdg__1')), 'delete-key', time);
/** KMS's native event for the same deletion, at `time`. */
const cmkDeletion = (time = '2021-04-12T19:42:08Z') =>
  rec('KMSCMKDeletion__awskmsdg__1', (r) => {
    r.time = time;
  });

/**
 * The PagerDuty events of a deletion, as `<action> <incident>`: its state's first, then a resolve of each other
 * incident the deleted key may have open.
 */
const paged = (finding: Finding) =>
  formatPagerDutyEvents(finding, 'routing-key').map((e) => `${e.event_action} ${e.dedup_key.split(':').pop()}`);
const trigger = (finding: Finding) => paged(finding).filter((event) => event.startsWith('trigger'));

function run(records: CloudTrailRecord[], configInput: unknown = PLANNED, between?: (store: MemoryStore) => void) {
  const detectionConfig = config(configInput);
  const store = new MemoryStore();
  const detector = new Detector(detectionConfig, store);
  const findings: Finding[] = [];
  records.forEach((record, index) => {
    if (index === records.length - 1) between?.(store);
    findings.push(detector.observe(normalizeRecord(record, `record ${index}`)));
  });
  return { findings, last: findings[findings.length - 1], store };
}

describe('A deletion a planned principal scheduled, carried out by KMS', () => {
  it.each([
    ['DeleteKey', deleteKey],
    ['KMS CMK Deletion', cmkDeletion],
  ])('reports %s on the approved date as planned, info, and approves the key Deleted', (event, deletion) => {
    // Act
    const { last, store } = run([created(), scheduledByAdmin(), deletion()]);

    // Assess: no page, no command beyond what is already true.
    expect(last).toMatchObject({
      event,
      status: 'planned',
      severity: 'info',
      summary: `Key ${KEY_ID} deleted by KMS as approved: its deletion was scheduled for ${DELETION_DATE}`,
      remediation: [],
    });
    expect(store.baseline(KEY_ARN)?.attributes).toMatchObject({ key_state: 'Deleted', deletion_date: null });
    expect(paged(last)[0]).toBe('resolve key_state');
    expect(trigger(last)).toEqual([]);
    expect(audiencesFor(last)).toEqual(['page']);
  });

  it('takes the second event of the same deletion as changing nothing', () => {
    const { findings } = run([created(), scheduledByAdmin(), deleteKey(), cmkDeletion()]);
    expect(findings[3]).toMatchObject({ event: 'KMS CMK Deletion', severity: 'info' });
    expect(trigger(findings[3])).toEqual([]);
  });

  it('follows a configured severity for planned changes', () => {
    const { last } = run([created(), scheduledByAdmin(), deleteKey()], {
      ...PLANNED,
      severityOverrides: { planned: 'warning', DeleteKey: 'error' },
    });
    expect(last).toMatchObject({ status: 'planned', severity: 'warning' });
  });

  it('accepts a deletion up to a day after the approved date (KMS deletes when it gets to it)', () => {
    const { last } = run([created(), scheduledByAdmin(), deleteKey('2021-04-13T18:58:30Z')]);
    expect(last).toMatchObject({ status: 'planned', severity: 'info' });
  });
});

describe('A deletion no one approved stays critical drift', () => {
  it('pages a deletion an unplanned principal scheduled', () => {
    const { last, store } = run([created(), scheduled(), deleteKey()]);
    expect(last).toMatchObject({ event: 'DeleteKey', status: 'drift', severity: 'critical' });
    expect(last.summary).toBe(`Key ${KEY_ID} deleted by KMS at the end of its waiting period`);
    expect(store.baseline(KEY_ARN)?.attributes.key_state).toBe('Enabled');
    expect(paged(last)[0]).toBe('trigger key_state');
    expect(trigger(last)).toEqual(['trigger key_state']);
  });

  it('pages a deletion whose approval an operator took back (baseline accepted Enabled again)', () => {
    const { last } = run([created(), scheduledByAdmin(), deleteKey()], PLANNED, (store) => {
      const baseline = store.baseline(KEY_ARN);
      if (!baseline) throw new Error('no baseline');
      store.putBaseline({
        ...baseline,
        attributes: { ...baseline.attributes, key_state: 'Enabled', deletion_date: null },
      });
    });
    expect(last).toMatchObject({ status: 'drift', severity: 'critical' });
  });

  it.each([
    ['before the approved date', '2021-04-12T18:58:29Z'],
    ['more than a day after it', '2021-04-13T18:58:31Z'],
  ])('pages a deletion %s: it is not the schedule approved', (_, time) => {
    const { last } = run([created(), scheduledByAdmin(), deleteKey(time)]);
    expect(last).toMatchObject({ status: 'drift', severity: 'critical' });
  });

  it('pages a deletion rescheduled by an unplanned principal to another date', () => {
    // Prepare: Alice cancels the approved deletion and schedules it again, for the day after the approved one.
    const cancel = at(onKey(rec('CancelKeyDeletion__awskmsdg__1')), 'cancel', '2021-03-24T18:58:30Z');
    const again = at(
      onKey(
        rec('ScheduleKeyDeletion__awskmsdg__1', (r) => {
          (r.responseElements as Record<string, unknown>).deletionDate = 'Apr 13, 2021 10:00:00 AM';
        }),
      ),
      'reschedule',
      '2021-03-24T19:00:00Z',
    );
    const { last } = run([created(), scheduledByAdmin(), cancel, again, deleteKey('2021-04-13T10:05:00Z')]);
    expect(last).toMatchObject({ status: 'drift', severity: 'critical' });
  });

  it('pages a deletion approved without a known date', () => {
    const { last } = run([created(), scheduledByAdmin(), deleteKey()], PLANNED, (store) => {
      const baseline = store.baseline(KEY_ARN);
      if (!baseline) throw new Error('no baseline');
      store.putBaseline({ ...baseline, attributes: { ...baseline.attributes, deletion_date: null } });
    });
    expect(last).toMatchObject({ status: 'drift', severity: 'critical' });
  });
});

describe('A key the reconciler finds deleted, its deletion event missed', () => {
  /** The state and baseline keydrift holds once the records are judged, and the key read gone at `now`. */
  function reconcileAfter(records: CloudTrailRecord[], now: string, configInput: unknown = PLANNED) {
    const { store } = run(records, configInput);
    const baseline = store.baseline(KEY_ARN);
    if (!baseline) throw new Error('no baseline');
    const live = snapshotFromState('key', KEY_ARN, { key_state: 'Deleted', deletion_date: null });
    const input = { baseline, live, previous: store.snapshot(KEY_ARN), previousVersion: 3, nowMs: Date.parse(now) };
    return { finding: reconcileResource(input, store, config(configInput)) };
  }

  it('reports a deletion its baseline approves as planned, info, closing the key state incident', () => {
    // Act: the run two days after the approved date finds the key gone.
    const { finding } = reconcileAfter([created(), scheduledByAdmin()], '2021-04-14T06:00:00Z');

    // Assess
    expect(finding).toMatchObject({
      event: 'Reconcile',
      status: 'planned',
      severity: 'info',
      summary: `Key ${KEY_ID} deleted by KMS as approved: its deletion was scheduled for ${DELETION_DATE}`,
      remediation: [],
    });
    expect(paged(finding as Finding)[0]).toBe('resolve key_state');
    expect(trigger(finding as Finding)).toEqual([]);
  });

  it('pages a key found deleted whose deletion no one approved', () => {
    const { finding } = reconcileAfter([created(), scheduled()], '2021-04-14T06:00:00Z');
    expect(finding).toMatchObject({ status: 'drift', severity: 'critical' });
  });

  it('pages a key found deleted before its approved date: another schedule was carried out', () => {
    const { finding } = reconcileAfter([created(), scheduledByAdmin()], '2021-04-12T06:00:00Z');
    expect(finding).toMatchObject({ status: 'drift', severity: 'critical' });
  });
});

/**
 * A multi-Region primary with replicas, scheduled for deletion, waits for them (PendingReplicaDeletion, no date): once
 * the last one is deleted, KMS moves it to PendingDeletion on its own, dated the waiting period after, with no event in
 * the primary's Region, and deletes it at that date (DeleteKey, KMS CMK Deletion).
 */
describe("A multi-Region primary's deletion a planned principal scheduled while it had replicas", () => {
  const MRK_ID = 'mrk-1234abcd12ab34cd56ef1234567890ab';
  const MRK_ARN = `arn:aws:kms:us-west-2:111122223333:key/${MRK_ID}`;
  /** Its last replica deleted 2021-11-05T12:00:00Z: KMS dates the primary's deletion 30 days after. */
  const DATED = '2021-12-05T12:00:00Z';

  const createdPrimary = () =>
    at(
      rec('CreateKey__awskmsdg__2', (r) => {
        onKey(r, MRK_ARN);
        const metadata = (r.responseElements as { keyMetadata: Record<string, unknown> }).keyMetadata;
        Object.assign(metadata, { keyId: MRK_ID, arn: MRK_ARN, multiRegion: true });
        (r.requestParameters as Record<string, unknown>).multiRegion = true;
      }),
      'create-primary',
      '2021-10-01T09:00:00Z',
    );
  const scheduledPrimary = () => onKey(rec('ScheduleKeyDeletion__awskmsdg__2'), MRK_ARN);
  const scheduledPrimaryByAdmin = () => by(scheduledPrimary(), sessionIdentity('Admin', 'user01'));
  const primaryDeleted = (time: string) => at(onKey(rec('DeleteKey__awskmsdg__1'), MRK_ARN), 'delete-primary', time);
  const primaryCmkDeletion = (time: string) =>
    rec('KMSCMKDeletion__awskmsdg__1', (r) => {
      Object.assign(r, { time, resources: [MRK_ARN], detail: { 'key-id': MRK_ID } });
    });

  it('approves the wait for the replicas, with no date', () => {
    const { last, store } = run([createdPrimary(), scheduledPrimaryByAdmin()]);
    expect(last).toMatchObject({ status: 'planned', severity: 'info' });
    expect(store.baseline(MRK_ARN)?.attributes).toMatchObject({
      key_state: 'PendingReplicaDeletion',
      deletion_date: null,
    });
  });

  /** The reconcile run at `now` reading the primary as `live`, after the records were judged. */
  function reconcilePrimary(records: CloudTrailRecord[], live: Record<string, unknown>, now: string) {
    const { store } = run(records);
    const baseline = store.baseline(MRK_ARN);
    if (!baseline) throw new Error('no baseline');
    const read = snapshotFromState('key', MRK_ARN, { ...store.snapshot(MRK_ARN)?.attributes, ...live });
    const input = {
      baseline,
      live: read,
      previous: store.snapshot(MRK_ARN),
      previousVersion: 2,
      nowMs: Date.parse(now),
    };
    return reconcileResource(input, store, config(PLANNED));
  }

  describe('its last replica deleted: KMS dates its deletion, with no event in its Region', () => {
    const dated = { key_state: 'PendingDeletion', deletion_date: DATED };

    it('is the approved schedule going on, recorded as planned, info: no alert, and the date now approved', () => {
      // Act: the run after the last replica's deletion reads the primary pending deletion, dated.
      const finding = reconcilePrimary([createdPrimary(), scheduledPrimaryByAdmin()], dated, '2021-11-05T13:00:00Z');

      // Assess
      expect(finding).toMatchObject({
        event: 'Reconcile',
        status: 'planned',
        severity: 'info',
        changes: {
          key_state: { before: 'PendingReplicaDeletion', after: 'PendingDeletion' },
          deletion_date: { before: null, after: DATED },
        },
        remediation: [],
      });
      expect(finding?.summary).toBe(
        `Deletion of key ${MRK_ID} dated ${DATED} by KMS, as approved: its last replica is deleted`,
      );
      expect(audiencesFor(finding as Finding)).toEqual([]);
    });

    it('reports drift beside it as ever, without the approved date', () => {
      const read = { ...dated, description: 'changed unseen' };
      const finding = reconcilePrimary([createdPrimary(), scheduledPrimaryByAdmin()], read, '2021-11-05T13:00:00Z');
      expect(finding).toMatchObject({ event: 'Reconcile', status: 'drift', severity: 'warning' });
      expect(Object.keys(finding?.changes ?? {})).toEqual(['description']);
    });

    it('stays critical drift when the wait was never approved (scheduled by an unplanned principal)', () => {
      const finding = reconcilePrimary([createdPrimary(), scheduledPrimary()], dated, '2021-11-05T13:00:00Z');
      expect(finding).toMatchObject({ event: 'Reconcile', status: 'drift', severity: 'critical' });
    });
  });

  describe('a replica deleted before the last: nothing in its Region records it', () => {
    const REPLICAS = ['eu-west-1', 'ap-southeast-2'];
    /** `snapshot` with exactly the replicas in `regions`. */
    const withReplicas = (snapshot: ResourceSnapshot, regions: string[]): ResourceSnapshot => {
      const attributes = Object.fromEntries(
        Object.entries(snapshot.attributes).filter(([path]) => !path.startsWith(entryPath('replica_regions', ''))),
      );
      for (const region of regions) attributes[entryPath('replica_regions', region)] = true;
      return { ...snapshot, attributes, completeMaps: [...new Set([...snapshot.completeMaps, 'replica_regions'])] };
    };

    /** The run at `now` reading the primary with `replicas` left, as `live` shows it otherwise. */
    function reconcileReplicas(
      records: CloudTrailRecord[],
      replicas: string[],
      live: Record<string, unknown> = {},
      now = '2021-11-01T12:00:00Z',
    ) {
      const { store } = run(records);
      const baseline = store.baseline(MRK_ARN);
      const stored = store.snapshot(MRK_ARN);
      if (!baseline || !stored) throw new Error('no baseline');
      const read = withReplicas(snapshotFromState('key', MRK_ARN, { ...stored.attributes, ...live }), replicas);
      const input = {
        baseline: withReplicas(baseline, REPLICAS),
        live: read,
        previous: withReplicas(stored, REPLICAS),
        previousVersion: 2,
        nowMs: Date.parse(now),
      };
      return reconcileResource(input, store, config(PLANNED));
    }

    it('is the approved schedule going on, recorded as planned, info: no alert, no command', () => {
      // Act
      const finding = reconcileReplicas([createdPrimary(), scheduledPrimaryByAdmin()], ['ap-southeast-2']);

      // Assess
      expect(finding).toMatchObject({
        event: 'Reconcile',
        status: 'planned',
        severity: 'info',
        changes: { replica_regions: { before: { 'eu-west-1': true }, after: { 'eu-west-1': null } } },
        remediation: [],
      });
      expect(finding?.summary).toBe(
        `Replica of key ${MRK_ID} in eu-west-1 deleted, as approved: the key's deletion waits for its last replica`,
      );
      expect(audiencesFor(finding as Finding)).toEqual([]);
    });

    it('reports drift beside it as ever, without the replica gone', () => {
      const read = { description: 'changed unseen' };
      const finding = reconcileReplicas([createdPrimary(), scheduledPrimaryByAdmin()], ['ap-southeast-2'], read);
      expect(finding).toMatchObject({ event: 'Reconcile', status: 'drift', severity: 'warning' });
      expect(Object.keys(finding?.changes ?? {})).toEqual(['description']);
    });

    it('reports a replica added during the wait as drift, error, beside one gone', () => {
      const finding = reconcileReplicas([createdPrimary(), scheduledPrimaryByAdmin()], ['ap-southeast-2', 'us-east-1']);
      expect(finding).toMatchObject({
        event: 'Reconcile',
        status: 'drift',
        severity: 'error',
        changes: { replica_regions: { before: { 'us-east-1': null }, after: { 'us-east-1': true } } },
      });
    });

    // An unplanned schedule was paged by its own event (the stored state shows the wait): the replica gone is error.
    it.each([
      ['the wait was never approved (scheduled by an unplanned principal)', [scheduledPrimary()], {}, 'error'],
      [
        'the primary no longer waits (its deletion cancelled unseen)',
        [scheduledPrimaryByAdmin()],
        { key_state: 'Disabled' },
        'critical',
      ],
    ])('stays drift when %s', (_, records, live, severity) => {
      const finding = reconcileReplicas([createdPrimary(), ...records], ['ap-southeast-2'], live);
      expect(finding).toMatchObject({ event: 'Reconcile', status: 'drift', severity });
      expect(finding?.changes.replica_regions).toEqual({ before: { 'eu-west-1': true }, after: { 'eu-west-1': null } });
    });
  });

  /**
   * Alice, not a planned principal, cancels the approved wait and schedules the deletion again: KMS waits for the
   * replicas again, with no date, exactly as approved. That new wait is hers, no one approved it.
   */
  describe('its approved wait cancelled and scheduled again by Alice, unplanned', () => {
    const cancelled = () => at(onKey(rec('CancelKeyDeletion__awskmsdg__1'), MRK_ARN), 'cancel', '2021-10-29T09:00:00Z');
    const scheduledAgain = () => at(scheduledPrimary(), 'schedule-again', '2021-10-30T09:00:00Z');
    const interrupted = () => [createdPrimary(), scheduledPrimaryByAdmin(), cancelled(), scheduledAgain()];

    it('pages her new schedule as a deletion no one approved, with the command that cancels it', () => {
      const { findings } = run(interrupted());
      expect(findings[2]).toMatchObject({ event: 'CancelKeyDeletion', status: 'drift' });
      expect(findings[3]).toMatchObject({ event: 'ScheduleKeyDeletion', status: 'drift', severity: 'critical' });
      expect(findings[3].remediation[0]).toMatch(/^aws kms cancel-key-deletion --key-id /);
      expect(trigger(findings[3])).toEqual(['trigger key_state']);
    });

    it.each([
      ['DeleteKey', primaryDeleted],
      ['KMS CMK Deletion', primaryCmkDeletion],
    ])("pages KMS's %s at the end of her wait: not the deletion approved", (_, deletion) => {
      const { last } = run([...interrupted(), deletion('2021-12-05T12:40:00Z')]);
      expect(last).toMatchObject({ status: 'drift', severity: 'critical' });
      expect(last.summary).not.toMatch(/as approved/);
    });

    it('does not take the date KMS sets once her wait is over as the approved schedule going on', () => {
      const dated = reconcilePrimary(
        interrupted(),
        { key_state: 'PendingDeletion', deletion_date: DATED },
        '2021-11-05T13:00:00Z',
      );
      expect(dated).toMatchObject({ event: 'Reconcile', status: 'drift' });
      expect(dated?.summary).not.toMatch(/as approved/);
    });

    it('approves the wait again when a planned principal schedules it again', () => {
      const again = by(scheduledAgain(), sessionIdentity('Admin', 'user01'));
      const { findings, last } = run([
        createdPrimary(),
        scheduledPrimaryByAdmin(),
        cancelled(),
        again,
        primaryDeleted('2021-12-05T12:40:00Z'),
      ]);
      expect(findings[3]).toMatchObject({ status: 'planned', severity: 'info' });
      expect(last).toMatchObject({ status: 'planned', severity: 'info' });
    });

    /**
     * The live detector judges events as they are delivered, out of order: Alice's cancel, delivered after the planned
     * principal's schedule that followed it, ended the wait that schedule's approval replaced, not the one approved now.
     */
    it('keeps the approved wait when an unplanned change of something else is judged from a read lagging behind it', () => {
      const tagged = at(onKey(rec('TagResource__awskmsdg__1'), MRK_ARN), 'tag', '2021-10-29T09:00:00Z');
      const { findings, store } = run([createdPrimary(), scheduledPrimaryByAdmin(), tagged], PLANNED, (memory) => {
        // The live detector's read for the tag still shows the key as it was before the approved schedule.
        const state = memory.snapshot(MRK_ARN);
        if (!state) throw new Error('no state');
        memory.putState({ ...state, attributes: { ...state.attributes, key_state: 'Enabled' } });
      });
      expect(findings[2]).toMatchObject({ event: 'TagResource' });
      expect(store.baseline(MRK_ARN)?.attributes.key_state).toBe('PendingReplicaDeletion');
    });

    it("keeps the wait a planned principal approved after Alice's cancel, her cancel delivered after it", () => {
      const again = by(scheduledAgain(), sessionIdentity('Admin', 'user01'));
      const { findings, last, store } = run(
        [createdPrimary(), scheduledPrimaryByAdmin(), again, cancelled(), primaryDeleted('2021-12-05T12:40:00Z')],
        PLANNED,
        (memory) => {
          // The live detector's read after her cancel shows the wait going on, and stores it so.
          const state = memory.snapshot(MRK_ARN);
          if (!state) throw new Error('no state');
          memory.putState({ ...state, attributes: { ...state.attributes, key_state: 'PendingReplicaDeletion' } });
        },
      );
      expect(findings[3]).toMatchObject({ event: 'CancelKeyDeletion', status: 'drift' });
      expect(last).toMatchObject({ status: 'planned', severity: 'info' });
      expect(store.baseline(MRK_ARN)?.attributes.key_state).toBe('Deleted');
    });
  });

  describe('deleted by KMS at the end of its waiting period', () => {
    it.each([
      ['DeleteKey', primaryDeleted],
      ['KMS CMK Deletion', primaryCmkDeletion],
    ])('takes %s as the approved deletion carried out: planned, info, baseline Deleted', (event, deletion) => {
      // Act: no run saw the date (the reconciler was off, or this is a replay of the logs).
      const { last, store } = run([createdPrimary(), scheduledPrimaryByAdmin(), deletion('2021-12-05T12:40:00Z')]);

      // Assess
      expect(last).toMatchObject({ event, status: 'planned', severity: 'info', remediation: [] });
      expect(last.summary).toBe(
        `Key ${MRK_ID} deleted by KMS as approved: its deletion was scheduled for the end of the waiting period after its last replica's deletion`,
      );
      expect(store.baseline(MRK_ARN)?.attributes).toMatchObject({ key_state: 'Deleted', deletion_date: null });
      expect(formatPagerDutyEvents(last, 'routing-key').map((e) => e.event_action)).toEqual(['resolve']);
    });

    it('is the approved deletion too when a run found it gone', () => {
      const finding = reconcilePrimary(
        [createdPrimary(), scheduledPrimaryByAdmin()],
        { key_state: 'Deleted', deletion_date: null },
        '2021-12-06T06:00:00Z',
      );
      expect(finding).toMatchObject({ event: 'Reconcile', status: 'planned', severity: 'info' });
    });

    it('pages a deletion an unplanned principal scheduled', () => {
      const { last } = run([createdPrimary(), scheduledPrimary(), primaryDeleted('2021-12-05T12:40:00Z')]);
      expect(last).toMatchObject({ status: 'drift', severity: 'critical' });
    });

    it('pages a deletion sooner than any waiting period after the approval: not the schedule approved', () => {
      // KMS waits at least 7 days after the last replica's deletion, itself after the schedule (2021-10-28T17:59:05Z).
      const { last } = run([createdPrimary(), scheduledPrimaryByAdmin(), primaryDeleted('2021-11-04T17:59:04Z')]);
      expect(last).toMatchObject({ status: 'drift', severity: 'critical' });
    });

    it('pages a deletion after the wait was cancelled (the stored state no longer shows it)', () => {
      const cancel = at(onKey(rec('CancelKeyDeletion__awskmsdg__1'), MRK_ARN), 'cancel', '2021-10-29T09:00:00Z');
      const { last } = run([
        createdPrimary(),
        scheduledPrimaryByAdmin(),
        cancel,
        primaryDeleted('2021-12-05T12:40:00Z'),
      ]);
      expect(last).toMatchObject({ status: 'drift', severity: 'critical' });
    });
  });
});
