/**
 * The live detector's read-after-write check and how a live read settles state and baseline.
 */
import { Detector } from '../../lambda/core/detector';
import { effectOf } from '../../lambda/core/effects';
import { markUndone, pathsNotYetVisible, settleWithLive, withoutUnreportedChanges } from '../../lambda/core/live';
import { MemoryStore } from '../../lambda/core/memory-store';
import { normalizeRecord } from '../../lambda/core/normalize';
import { withFirstSeen } from '../../lambda/core/reconcile';
import { lookup, snapshotFromState } from '../../lambda/core/state';
import { by, config, createKey, KEY_ARN, onKey, rec, sessionIdentity, withSourceIdentity } from './harness';

/** What the live reads of a key return, as the adapters flatten them. */
const liveKey = (state: Record<string, unknown>) =>
  snapshotFromState('key', KEY_ARN, {
    key_state: 'Enabled',
    enable_key_rotation: true,
    description: '',
    tags: { Department: 'IT' },
    ...state,
  });

describe('Read-after-write', () => {
  const tagEvent = () => normalizeRecord(onKey(rec('TagResource__awskmsdg__1')));

  it('finds nothing missing when the live read already shows the change', () => {
    const store = new MemoryStore();
    expect(pathsNotYetVisible(effectOf(tagEvent(), store), liveKey({}))).toEqual([]);
  });

  it('names the paths the live read does not show yet', () => {
    const store = new MemoryStore();
    expect(pathsNotYetVisible(effectOf(tagEvent(), store), liveKey({ tags: { Department: 'Sales' } }))).toEqual([
      'tags#Department',
    ]);
  });

  it('does not count a path the live read does not cover', () => {
    const store = new MemoryStore();
    const live = snapshotFromState('key', KEY_ARN, { key_state: 'Enabled' });
    expect(pathsNotYetVisible(effectOf(tagEvent(), store), live)).toEqual([]);
  });
});

describe('Settling with the live read', () => {
  it('adopts the paths the baseline does not know, and keeps what the event settled', () => {
    // Prepare: a DisableKeyRotation on an unseen key infers that rotation was on.
    const store = new MemoryStore();
    const event = normalizeRecord(onKey(rec('DisableKeyRotation__awskmsdg__1')));
    new Detector(config(), store).observe(event);
    // Act
    settleWithLive(store, effectOf(event, store), liveKey({ enable_key_rotation: false }));
    // Assess
    const baseline = store.baseline(KEY_ARN);
    expect(lookup(baseline, 'enable_key_rotation')).toBe(true);
    expect(lookup(baseline, 'key_state')).toBe('Enabled');
    expect(lookup(baseline, 'tags#Department')).toBe('IT');
    // The live tag map is complete: a tag it lacks is known to be absent.
    expect(lookup(baseline, 'tags#Owner')).toBeNull();
    expect(store.snapshot(KEY_ARN)?.attributes.enable_key_rotation).toBe(false);
  });

  it('dates what it adopts by the read, and nothing the event settled', () => {
    // Prepare: a DisableKeyRotation on an unseen key infers that rotation was on.
    const store = new MemoryStore();
    const event = normalizeRecord(onKey(rec('DisableKeyRotation__awskmsdg__1')));
    new Detector(config(), store).observe(event);
    // Act
    settleWithLive(store, effectOf(event, store), liveKey({}), undefined, '2022-09-01T19:32:00.000Z');
    // Assess
    const firstSeenAt = store.baseline(KEY_ARN)?.firstSeenAt ?? {};
    expect(firstSeenAt).toMatchObject({
      key_state: '2022-09-01T19:32:00.000Z',
      'tags#Department': '2022-09-01T19:32:00.000Z',
    });
    expect(firstSeenAt).not.toHaveProperty('enable_key_rotation');
  });

  it("judges a tag removed before a reconciler's read, which first showed the tags whole, from before it", () => {
    // Prepare: a DisableKeyRotation on an unseen key (no live read), then a reconciler run at 21:19:30 that reads the
    // key: its tags, whole, lack Dept, removed by Alice at 21:19:19, whose UntagResource comes after the run.
    const store = new MemoryStore();
    new Detector(config(), store).observe(normalizeRecord(onKey(rec('DisableKeyRotation__awskmsdg__1'))));
    const baseline = store.baseline(KEY_ARN);
    const seen = baseline && withFirstSeen(baseline, liveKey({ tags: {} }), [], '2020-07-01T21:19:30.000Z');
    if (seen) store.putBaseline(seen);

    // Act
    const finding = new Detector(config(), store).observe(normalizeRecord(onKey(rec('UntagResource__awskmsdg__1'))));

    // Assess: no approved value (the tag was there before), not 'back to its baseline'.
    expect(finding).toMatchObject({ status: 'drift', changes: { tags: { after: { Dept: null } } } });
    expect(finding.changes.tags).not.toHaveProperty('back_to_baseline');
  });

  it('never adopts a path whose approved value was settled as unknown', () => {
    const store = new MemoryStore();
    const event = normalizeRecord(onKey(rec('PutKeyPolicy__awskmsdg__1')));
    new Detector(config(), store).observe(event);
    const otherEvent = normalizeRecord(onKey(rec('TagResource__awskmsdg__1')));
    settleWithLive(store, effectOf(otherEvent, store), liveKey({ policy: { Statement: [] } }));
    expect(lookup(store.baseline(KEY_ARN), 'policy')).toBeUndefined();
    expect(store.baseline(KEY_ARN)?.unknownPaths).toEqual(['policy']);
  });

  it('keeps a tag whose approved value was settled as unknown unknown when the read shows the tags whole', () => {
    // Prepare: Alice tags a key keydrift never saw (Department=IT: was it there before, with what value?), and the
    // live detector's read after it shows the tags whole.
    const store = new MemoryStore();
    const detector = new Detector(config(), store);
    const tagged = normalizeRecord(onKey(rec('TagResource__awskmsdg__1')));
    detector.observe(tagged);
    settleWithLive(store, effectOf(tagged, store), liveKey({}), undefined, '2020-07-01T21:19:28.000Z');
    const untagged = onKey(
      rec('UntagResource__awskmsdg__1', (r) => {
        r.eventTime = '2020-07-01T21:20:19Z';
        (r.requestParameters as { tagKeys: string[] }).tagKeys = ['Department'];
      }),
    );

    // Act: she removes the tag again.
    const finding = detector.observe(normalizeRecord(untagged));

    // Assess: the read showed what her change did, not what was approved: not 'back to its baseline'.
    expect(lookup(store.baseline(KEY_ARN), 'tags#Department')).toBeUndefined();
    expect(finding).toMatchObject({ status: 'drift', severity: 'warning' });
    expect(finding.changes.tags).toEqual({ before: { Department: 'IT' }, after: { Department: null } });
    expect(finding.remediation).toEqual([expect.stringMatching(/^# approved value unknown; inspect: /)]);
  });

  it("approves a replica's primary moved between two other Regions, and never a move to or from this Region", () => {
    // Prepare: a replica (us-west-2) of us-east-1, and the primary (us-west-2) of a key, both known to keydrift.
    const cases = [
      ['us-east-1', 'eu-west-1', 'eu-west-1'],
      ['us-east-1', 'us-west-2', 'us-east-1'],
      ['us-west-2', 'eu-west-1', 'us-west-2'],
    ];
    for (const [approved, live, expected] of cases) {
      const store = new MemoryStore();
      store.putBaseline(liveKey({ multi_region: true, primary_region: approved }));
      // Act: an event here (TagResource), read live after the primary moved.
      const event = normalizeRecord(onKey(rec('TagResource__awskmsdg__1')));
      settleWithLive(store, effectOf(event, store), liveKey({ multi_region: true, primary_region: live }));
      // Assess
      expect(lookup(store.baseline(KEY_ARN), 'primary_region')).toBe(expected);
    }
  });

  it('never approves a primary moved on from this Region, where keydrift last saw it (a promotion still drift)', () => {
    // Prepare: a replica (us-west-2) of us-east-1, promoted here unplanned: the state shows it the primary.
    const store = new MemoryStore();
    store.putBaseline(liveKey({ multi_region: true, primary_region: 'us-east-1' }));
    const stored = liveKey({ multi_region: true, primary_region: 'us-west-2' });
    // Act: an event here (TagResource), read live after the primary moved on from here to eu-west-1.
    const event = normalizeRecord(onKey(rec('TagResource__awskmsdg__1')));
    const live = liveKey({ multi_region: true, primary_region: 'eu-west-1' });
    settleWithLive(store, effectOf(event, store), live, stored);
    // Assess
    expect(lookup(store.baseline(KEY_ARN), 'primary_region')).toBe('us-east-1');
  });

  it('never adopts the rotation or replica Regions of a key approved as a replica, read while promoted here', () => {
    // Prepare: a replica (us-west-2) of us-east-1: its baseline knows neither (its primary's to know).
    const store = new MemoryStore();
    const replica = liveKey({ multi_region: true, primary_region: 'us-east-1' });
    delete replica.attributes.enable_key_rotation;
    store.putBaseline(replica);
    // Act: an event here, read live while the key is promoted here unapproved.
    const event = normalizeRecord(onKey(rec('TagResource__awskmsdg__1')));
    const live = liveKey({ multi_region: true, primary_region: 'us-west-2', replica_regions: { 'us-east-1': true } });
    settleWithLive(store, effectOf(event, store), live);
    // Assess
    const baseline = store.baseline(KEY_ARN);
    expect(lookup(baseline, 'enable_key_rotation')).toBeUndefined();
    expect(lookup(baseline, 'replica_regions#us-east-1')).toBeUndefined();
    expect(baseline?.completeMaps).not.toContain('replica_regions');
  });

  it('never adopts a pending deletion the read caught before its event was judged', () => {
    // Prepare: a PutKeyPolicy on an unseen key, read live after a ScheduleKeyDeletion had already happened.
    const store = new MemoryStore();
    const event = normalizeRecord(onKey(rec('PutKeyPolicy__awskmsdg__1')));
    new Detector(config(), store).observe(event);
    // Act
    settleWithLive(
      store,
      effectOf(event, store),
      liveKey({ key_state: 'PendingDeletion', deletion_date: '2026-10-10T15:30:41Z' }),
    );
    // Assess: the ScheduleKeyDeletion, judged next, is still drift from an unknown key state.
    const baseline = store.baseline(KEY_ARN);
    expect(lookup(baseline, 'key_state')).toBeUndefined();
    expect(lookup(baseline, 'deletion_date')).toBeUndefined();
    expect(lookup(baseline, 'enable_key_rotation')).toBe(true);
  });
});

describe('The state a live read leaves after an event', () => {
  const grant = { granteePrincipal: 'arn:aws:iam::111122223333:role/app', operations: ['Decrypt'] };
  const baseline = () => liveKey({ grants: { g1: grant } });
  const rotationOff = () => normalizeRecord(onKey(rec('DisableKeyRotation__awskmsdg__1')));

  it('keeps what the stored state showed of drift no finding reported, and takes what the event set', () => {
    // Prepare: stored as approved; the read for a DisableKeyRotation shows the key disabled and its grant revoked too.
    const store = new MemoryStore();
    const stored = baseline();
    const live = liveKey({ key_state: 'Disabled', enable_key_rotation: false, grants: {} });

    // Act
    const state = withoutUnreportedChanges(live, baseline(), effectOf(rotationOff(), store), stored);

    // Assess
    expect(lookup(state, 'key_state')).toBe('Enabled');
    expect(lookup(state, 'grants#g1')).toEqual(grant);
    expect(lookup(state, 'enable_key_rotation')).toBe(false);
  });

  it('leaves unknown what the stored state did not know, a map entry too, and keeps the entries it knew absent', () => {
    // Prepare: the stored state knew the tags in part (Old removed); the read shows a tag Owner added, unreported.
    const store = new MemoryStore();
    const stored = liveKey({});
    stored.attributes['tags#Old'] = null;
    stored.completeMaps = stored.completeMaps.filter((map) => map !== 'tags');
    delete stored.attributes.key_state;
    const live = liveKey({ key_state: 'Disabled', tags: { Department: 'IT', Owner: 'eve' } });

    // Act
    const state = withoutUnreportedChanges(live, liveKey({}), effectOf(rotationOff(), store), stored);

    // Assess
    expect(lookup(state, 'key_state')).toBeUndefined();
    expect(lookup(state, 'tags#Owner')).toBeUndefined();
    expect(lookup(state, 'tags#Old')).toBeNull();
    expect(lookup(state, 'tags#Department')).toBe('IT');
  });

  it('keeps the drift the stored state showed that the read shows back at its baseline, unreported', () => {
    // Prepare: stored disabled (reported); the read for a DisableKeyRotation shows the key enabled again.
    const store = new MemoryStore();
    const stored = liveKey({ key_state: 'Disabled' });
    const live = liveKey({ enable_key_rotation: false });

    // Act
    const state = withoutUnreportedChanges(live, liveKey({}), effectOf(rotationOff(), store), stored);

    // Assess
    expect(lookup(state, 'key_state')).toBe('Disabled');
  });

  it('keeps the live read whole when it shows only drift the stored state already showed', () => {
    const store = new MemoryStore();
    const live = liveKey({ key_state: 'Disabled' });
    expect(withoutUnreportedChanges(live, liveKey({}), effectOf(rotationOff(), store), live)).toBe(live);
  });
});

describe('An older event judged after the change that undid it', () => {
  it('flags only what the live state shows back at the baseline, and keeps the remediation while drift is left', () => {
    // Prepare: a key approved Enabled is scheduled for deletion; by the time that event is judged, the deletion was
    // cancelled (no date) but the key is still Disabled, which is not its approved state.
    const store = new MemoryStore();
    const detector = new Detector(config(), store);
    detector.observe(normalizeRecord(createKey()));
    const event = normalizeRecord(onKey(rec('ScheduleKeyDeletion__awskmsdg__1')));
    const effect = effectOf(event, store);
    const finding = detector.observe(event);
    const { summary, remediation } = structuredClone(finding);

    // Act
    markUndone(finding, effect, liveKey({ key_state: 'Disabled', deletion_date: null }), store.baseline(KEY_ARN));

    // Assess
    expect(finding.changes.deletion_date?.since_undone).toBe(true);
    expect(finding.changes.key_state?.since_undone).toBeUndefined();
    expect(finding.summary).toBe(summary);
    expect(finding.remediation).toEqual(remediation);
  });
});

describe('An event judged after the change that undid it, its summary as long as a summary may be', () => {
  it('leaves out the source identity its caller is named with rather than cut it to say so', () => {
    // Prepare: alice, behind the session deploy-4711, grants a role with a long path; the grant was retired before
    // this event is judged. Its summary ends with her source identity, at the 400 characters a summary may have.
    const store = new MemoryStore();
    const detector = new Detector(config(), store);
    detector.observe(normalizeRecord(createKey()));
    const identity = withSourceIdentity(sessionIdentity('platform-deployer', 'deploy-4711'), 'alice@example.com');
    const grant = (path: string) =>
      normalizeRecord(
        by(
          onKey(
            rec('CreateGrant__awskmsdg__1', (r) => {
              Object.assign(r.requestParameters as object, {
                granteePrincipal: `arn:aws:iam::111122223333:role/${path}payments-batch-worker`,
              });
            }),
          ),
          identity,
        ),
      );
    const short = new Detector(config(), new MemoryStore()).observe(grant('')).summary;
    const event = grant(`${'p'.repeat(400 - short.length - 1)}/`);
    const effect = effectOf(event, store);
    const finding = detector.observe(event);
    expect(finding.summary).toHaveLength(400);
    expect(finding.summary).toMatch(/ created by deploy-4711 \(source identity alice@example\.com\)$/);

    // Act
    markUndone(finding, effect, store.baseline(KEY_ARN) ?? liveKey({}), store.baseline(KEY_ARN));

    // Assess: not `(source identity alice@example.co…`; the finding names her
    expect(finding.changes.grants?.since_undone).toBe(true);
    expect(finding.summary).toContain(' created by deploy-4711 (since undone: back at its');
    expect(finding.summary).not.toContain('(source identity');
    expect(finding.sourceIdentity).toBe('alice@example.com');
  });
});

describe('An event that also set values already approved, judged after the change that undid the rest', () => {
  it('is undone when what it took away is back, whatever it left as approved', () => {
    // Prepare: the key approved with tag Department=IT; a TagResource puts Department=IT again and adds Team=x, which
    // a later UntagResource removed before this event is judged.
    const store = new MemoryStore();
    const detector = new Detector(config(), store);
    detector.observe(normalizeRecord(createKey({ tags: { Department: 'IT' } })));
    const event = normalizeRecord(
      onKey(
        rec('TagResource__awskmsdg__1', (r) => {
          (r.requestParameters as Record<string, unknown>).tags = [
            { tagKey: 'Department', tagValue: 'IT' },
            { tagKey: 'Team', tagValue: 'x' },
          ];
        }),
      ),
    );
    const effect = effectOf(event, store);
    const finding = detector.observe(event);
    const live = snapshotFromState('key', KEY_ARN, {
      ...store.baseline(KEY_ARN)?.attributes,
      tags: { Department: 'IT' },
    });

    // Act
    markUndone(finding, effect, live, store.baseline(KEY_ARN));

    // Assess
    expect(finding.changes.tags?.since_undone).toBe(true);
    expect(finding.remediation).toEqual([
      '# nothing to undo: a later change put it back at its approved state, as the live state shows',
    ]);
  });
});
