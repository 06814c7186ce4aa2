/**
 * The reconciler's core: live state against the baseline, with no event behind the difference, and
 * the deletion countdown.
 */
import { DEFAULT_CONFIG } from '../../lambda/core/config';
import type { Surroundings } from '../../lambda/core/judge';
import { MemoryStore } from '../../lambda/core/memory-store';
import { normalizePolicy } from '../../lambda/core/policy';
import {
  deletionReminder,
  RECONCILE_EVENT,
  type ReconcileInput,
  reconcileResource,
  withFirstSeen,
  withHiddenRotationKept,
  withPrimaryMovedElsewhere,
  withStoreDisconnection,
} from '../../lambda/core/reconcile';
import { snapshotFromState } from '../../lambda/core/state';
import type { ResourceSnapshot } from '../../lambda/core/types';
import { rec } from './harness';

const KEY = 'arn:aws:kms:eu-west-1:111122223333:key/0f4a6c1e-93b7-4d25-8e1a-6c2f0b7d4a91';
const TRAIL = 'arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-audit';
const NOW = Date.parse('2026-10-03T12:00:00Z');
const DAY = 24 * 60 * 60 * 1000;

const approved = {
  description: 'payments card data',
  key_state: 'Enabled',
  deletion_date: null,
  enable_key_rotation: true,
  policy: normalizePolicy({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' },
    ],
  }),
  tags: { team: 'payments' },
  aliases: { 'alias/payments': true },
  grants: {},
};
const key = (overrides: Record<string, unknown> = {}) => snapshotFromState('key', KEY, { ...approved, ...overrides });

describe('Reconciling a key with its baseline', () => {
  const store = new MemoryStore();

  it('reports nothing when the live key matches its baseline', () => {
    expect(reconcileResource({ baseline: key(), live: key(), nowMs: NOW }, store, DEFAULT_CONFIG)).toBeUndefined();
  });

  it('reports nothing of a multi-Region key caught Updating while its primary Region moves, nor its return to Enabled', () => {
    // Act: one run reads the key while KMS moves its primary Region; the detector stored that read too.
    const updating = key({ key_state: 'Updating' });
    const during = reconcileResource({ baseline: key(), live: updating, nowMs: NOW }, store, DEFAULT_CONFIG);
    const after = reconcileResource(
      { baseline: key(), live: key(), previous: updating, previousVersion: 2, nowMs: NOW + DAY },
      store,
      DEFAULT_CONFIG,
    );
    // Assess: no drift with an enable-key KMS would refuse, and no all-clear for drift never reported.
    expect(during).toBeUndefined();
    expect(after).toBeUndefined();
  });

  it("reports a key found disabled behind keydrift's back as critical drift, with the undo", () => {
    const finding = reconcileResource(
      { baseline: key(), live: key({ key_state: 'Disabled' }), nowMs: NOW },
      store,
      DEFAULT_CONFIG,
    );
    expect(finding).toMatchObject({
      event: RECONCILE_EVENT,
      resource: KEY,
      severity: 'critical',
      status: 'drift',
      timestamp: '2026-10-03T12:00:00Z',
      user: 'keydrift-reconciler',
      changes: { key_state: { before: 'Enabled', after: 'Disabled' } },
    });
    expect(finding?.remediation).toEqual([`aws kms enable-key --key-id ${KEY} --region eu-west-1`]);
  });

  it('enables a key found disabled before turning its rotation back on: KMS refuses EnableKeyRotation on a disabled key', () => {
    // Prepare: rotation turned off, then the key disabled, both missed by the events.
    const live = key({ key_state: 'Disabled', enable_key_rotation: false });
    // Act
    const finding = reconcileResource({ baseline: key(), live, nowMs: NOW }, store, DEFAULT_CONFIG);
    // Assess: DisabledException would stop the first command of the other order.
    expect(finding?.remediation).toEqual([
      `aws kms enable-key --key-id ${KEY} --region eu-west-1`,
      `aws kms enable-key-rotation --key-id ${KEY} --region eu-west-1`,
    ]);
  });

  it('disables a key found enabled only after the changes a disabled key refuses', () => {
    const baseline = key({ key_state: 'Disabled', enable_key_rotation: true });
    const live = key({ key_state: 'Enabled', enable_key_rotation: false });
    const finding = reconcileResource({ baseline, live, nowMs: NOW }, store, DEFAULT_CONFIG);
    expect(finding?.remediation).toEqual([
      `aws kms enable-key-rotation --key-id ${KEY} --region eu-west-1`,
      `aws kms disable-key --key-id ${KEY} --region eu-west-1`,
    ]);
  });

  it.each([
    ['turned on (no period approved: a planned DisableKeyRotation)', false, null, 365, 'info'],
    ['made more frequent', true, 365, 90, 'info'],
    ['made rarer', true, 365, 730, 'warning'],
  ])('rates rotation found %s as EnableKeyRotation would be', (_, enabled, approvedPeriod, livePeriod, severity) => {
    // Prepare: the approved rotation, and the key found rotating every `livePeriod` days, no event seen.
    const baseline = key({ enable_key_rotation: enabled, rotation_period_in_days: approvedPeriod });
    const live = key({ enable_key_rotation: true, rotation_period_in_days: livePeriod });
    // Act
    const finding = reconcileResource({ baseline, live, nowMs: NOW }, store, DEFAULT_CONFIG);
    // Assess
    expect(finding).toMatchObject({
      status: 'drift',
      severity,
      changes: { rotation_period_in_days: { before: approvedPeriod, after: livePeriod } },
    });
  });

  it('gives the same drift the same eventId on every run, and a new difference a new one', () => {
    const once = reconcileResource(
      { baseline: key(), live: key({ key_state: 'Disabled' }), nowMs: NOW },
      store,
      DEFAULT_CONFIG,
    );
    const later = reconcileResource(
      { baseline: key(), live: key({ key_state: 'Disabled' }), nowMs: NOW + DAY },
      store,
      DEFAULT_CONFIG,
    );
    const other = reconcileResource(
      { baseline: key(), live: key({ key_state: 'Disabled', tags: { team: 'x' } }), nowMs: NOW },
      store,
      DEFAULT_CONFIG,
    );
    expect(later?.eventId).toBe(once?.eventId);
    expect(other?.eventId).not.toBe(once?.eventId);
  });

  it('reports a changed tag as warning and a tag that appeared as a change from null', () => {
    const finding = reconcileResource(
      { baseline: key(), live: key({ tags: { team: 'payments', owner: 'mallory' } }), nowMs: NOW },
      store,
      DEFAULT_CONFIG,
    );
    expect(finding).toMatchObject({
      severity: 'warning',
      changes: { tags: { before: { owner: null }, after: { owner: 'mallory' } } },
    });
  });

  it('reports a grant found gone as warning, as RetireGrant and RevokeGrant are, and one found created as error', () => {
    // Prepare: an approved grant for an application role of the key's own account.
    const grant = (id: string) => ({
      [id]: {
        grantee_principal: 'arn:aws:iam::111122223333:role/app',
        retiring_principal: null,
        operations: ['Decrypt', 'Encrypt'],
        constraints: null,
        name: null,
      },
    });
    const baseline = key({ grants: grant('g1') });

    // Act
    const gone = reconcileResource({ baseline, live: key({ grants: {} }), nowMs: NOW }, store, DEFAULT_CONFIG);
    const created = reconcileResource(
      { baseline, live: key({ grants: { ...grant('g1'), ...grant('g2') } }), nowMs: NOW },
      store,
      DEFAULT_CONFIG,
    );
    const replaced = reconcileResource(
      {
        baseline,
        live: key({ grants: { ...grant('g2'), g2: { ...grant('g2').g2, operations: ['Decrypt'] } } }),
        nowMs: NOW,
      },
      store,
      DEFAULT_CONFIG,
    );

    // Assess
    expect(gone).toMatchObject({ severity: 'warning', status: 'drift', changes: { grants: { after: { g1: null } } } });
    expect(created).toMatchObject({
      severity: 'error',
      status: 'drift',
      changes: { grants: { before: { g2: null } } },
    });
    expect(replaced).toMatchObject({ severity: 'error', status: 'drift' });
  });

  it('reports a key that no longer exists as critical', () => {
    const finding = reconcileResource(
      { baseline: key(), live: key({ key_state: 'Deleted' }), nowMs: NOW },
      store,
      DEFAULT_CONFIG,
    );
    expect(finding).toMatchObject({
      severity: 'critical',
      changes: { key_state: { before: 'Enabled', after: 'Deleted' } },
    });
  });

  it('escalates a policy found open to another account', () => {
    const open = normalizePolicy({
      Statement: [
        ...approved.policy.Statement,
        { Effect: 'Allow', Principal: { AWS: '444455556666' }, Action: 'kms:Decrypt', Resource: '*' },
      ],
      Version: '2012-10-17',
    });
    const finding = reconcileResource(
      { baseline: key(), live: key({ policy: open }), nowMs: NOW },
      store,
      DEFAULT_CONFIG,
    );
    expect(finding?.changes.policy?.external_accounts).toEqual(['444455556666']);
    expect(finding?.severity).toBe('critical');
  });

  it('resolves drift that has gone away since the last run', () => {
    const finding = reconcileResource(
      { baseline: key(), previous: key({ enable_key_rotation: false }), live: key(), nowMs: NOW },
      store,
      DEFAULT_CONFIG,
    );
    expect(finding).toMatchObject({
      status: 'resolved',
      severity: 'info',
      changes: { enable_key_rotation: { before: false, after: true } },
    });
  });
});

/**
 * The reconciler's runs against the state keydrift stored, as the reconciler app drives them: after a finding is
 * reported, the live state is stored as the resource's new state (its version one higher); while it is not, the
 * stored state stays as it was.
 */
describe('Reconciling a key over several runs, against its stored state', () => {
  const store = new MemoryStore();
  const run = (live: ResourceSnapshot, stored: { snapshot: ResourceSnapshot; version: number }, nowMs = NOW) =>
    reconcileResource(
      { baseline: key(), live, previous: stored.snapshot, previousVersion: stored.version, nowMs },
      store,
      DEFAULT_CONFIG,
    );

  it('reports a drift that persists over three runs once: from then on the stored state shows it', () => {
    // Prepare
    const disabled = key({ key_state: 'Disabled' });
    // Act
    const first = run(disabled, { snapshot: key(), version: 1 });
    const second = run(disabled, { snapshot: disabled, version: 2 }, NOW + DAY);
    const third = run(disabled, { snapshot: disabled, version: 2 }, NOW + 2 * DAY);
    // Assess
    expect(first).toMatchObject({ status: 'drift', severity: 'critical' });
    expect(second).toBeUndefined();
    expect(third).toBeUndefined();
  });

  it('gives a drift seen again against the same stored state (its finding not reported yet) the same eventId', () => {
    const disabled = key({ key_state: 'Disabled' });
    const first = run(disabled, { snapshot: key(), version: 1 });
    const retried = run(disabled, { snapshot: key(), version: 1 }, NOW + DAY);
    expect(retried?.eventId).toBe(first?.eventId);
  });

  it('alerts a drift that comes back after it was resolved as a new finding, not a duplicate of the first', () => {
    // Prepare: disabled, enabled again, disabled again, every event missed.
    const disabled = key({ key_state: 'Disabled' });
    // Act
    const first = run(disabled, { snapshot: key(), version: 1 });
    const resolved = run(key(), { snapshot: disabled, version: 2 }, NOW + DAY);
    const again = run(disabled, { snapshot: key(), version: 3 }, NOW + 3 * DAY);
    const resolvedAgain = run(key(), { snapshot: disabled, version: 4 }, NOW + 4 * DAY);
    // Assess
    expect(resolved).toMatchObject({
      status: 'resolved',
      changes: { key_state: { before: 'Disabled', after: 'Enabled' } },
    });
    expect(again).toMatchObject({
      status: 'drift',
      severity: 'critical',
      changes: { key_state: { after: 'Disabled' } },
    });
    expect(again?.eventId).not.toBe(first?.eventId);
    expect(resolvedAgain?.status).toBe('resolved');
    expect(resolvedAgain?.eventId).not.toBe(resolved?.eventId);
  });

  it('reports nothing for a drift the detector already alerted from its event and stored', () => {
    const disabled = key({ key_state: 'Disabled' });
    expect(run(disabled, { snapshot: disabled, version: 7 })).toBeUndefined();
  });

  it('reports only what changed since the stored state when a known drift is still there', () => {
    // Prepare: the key was found disabled (stored), then its description changed too.
    const disabled = key({ key_state: 'Disabled' });
    // Act
    const finding = run(key({ key_state: 'Disabled', description: 'renamed' }), { snapshot: disabled, version: 2 });
    // Assess
    expect(finding).toMatchObject({
      status: 'drift',
      severity: 'warning',
      changes: { description: { before: 'payments card data', after: 'renamed' } },
    });
    expect(finding?.changes.key_state).toBeUndefined();
  });

  it('reports a known drift that changed again since it was stored', () => {
    const finding = run(key({ description: 'third' }), { snapshot: key({ description: 'second' }), version: 2 });
    expect(finding).toMatchObject({
      status: 'drift',
      changes: { description: { before: 'payments card data', after: 'third' } },
    });
  });
});

describe('Reconciling drift that went away while something else drifted', () => {
  const store = new MemoryStore();
  const open = normalizePolicy({
    Version: '2012-10-17',
    Statement: [
      ...approved.policy.Statement,
      { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::444455556666:root' }, Action: 'kms:Decrypt', Resource: '*' },
    ],
  });

  it('marks a policy put back at its baseline while the description changed, so its incident closes', () => {
    // Prepare: the open policy was alerted (critical) and stored; then it was put back and the description changed.
    const input: ReconcileInput = {
      baseline: key(),
      previous: key({ policy: open }),
      previousVersion: 2,
      live: key({ description: 'renamed' }),
      nowMs: NOW,
    };
    // Act
    const finding = reconcileResource(input, store, DEFAULT_CONFIG);
    // Assess
    expect(finding).toMatchObject({
      status: 'drift',
      severity: 'warning',
      changes: {
        description: { before: 'payments card data', after: 'renamed' },
        policy: { before: open, after: approved.policy, back_to_baseline: true, external_accounts: [] },
      },
    });
    expect(finding?.changes.description?.back_to_baseline).toBeUndefined();
    expect(finding?.summary).toBe(
      `${KEY.split('/')[1]} differs from its baseline with no change event seen (description); back to its baseline: policy`,
    );
    expect(finding?.remediation).toEqual([
      `aws kms update-key-description --key-id ${KEY} --region eu-west-1 --description 'payments card data'`,
    ]);
  });

  it('does not mark a tag attribute back at its baseline while another of its tags still drifts', () => {
    // Prepare: two tags drifted (stored); one of them was removed again.
    const input: ReconcileInput = {
      baseline: key(),
      previous: key({ tags: { team: 'x', owner: 'mallory' } }),
      previousVersion: 2,
      live: key({ tags: { team: 'x' } }),
      nowMs: NOW,
    };
    // Act
    const finding = reconcileResource(input, store, DEFAULT_CONFIG);
    // Assess
    expect(finding).toMatchObject({
      status: 'drift',
      changes: { tags: { before: { owner: 'mallory' }, after: { owner: null } } },
    });
    expect(finding?.changes.tags?.back_to_baseline).toBeUndefined();
    expect(finding?.remediation).toContain(
      `aws kms tag-resource --key-id ${KEY} --region eu-west-1 --tags '[{"TagKey":"team","TagValue":"payments"}]'`,
    );
  });
});

describe('Reconciling a key in a custom key store', () => {
  const store = new MemoryStore();
  // The store of the DisconnectCustomKeyStore sample.
  const storeId = String(
    (rec('DisconnectCustomKeyStore__awskmsdg__1').requestParameters as { customKeyStoreId: string }).customKeyStoreId,
  );
  const inStore = (overrides: Record<string, unknown> = {}) =>
    key({ origin: 'AWS_CLOUDHSM', custom_key_store: storeId, ...overrides });

  it('reports a key found Unavailable (its store disconnected) as critical, with the command that reconnects the store', () => {
    const finding = reconcileResource(
      { baseline: inStore(), live: inStore({ key_state: 'Unavailable' }), nowMs: NOW },
      store,
      DEFAULT_CONFIG,
    );
    expect(finding).toMatchObject({
      status: 'drift',
      severity: 'critical',
      changes: { key_state: { before: 'Enabled', after: 'Unavailable' } },
    });
    expect(finding?.remediation).toEqual([
      `aws kms connect-custom-key-store --custom-key-store-id ${storeId} --region eu-west-1`,
    ]);
  });

  it('reports nothing of a key found Unavailable while keydrift knows its store disconnected, but pages it otherwise', () => {
    // Prepare: the store as keydrift stored it, disconnected or connected.
    const storeArn = `arn:aws:kms:eu-west-1:111122223333:custom-key-store/${storeId}`;
    const storeIn = (connection_state: string) => snapshotFromState('custom-key-store', storeArn, { connection_state });
    const unavailable = inStore({ key_state: 'Unavailable' });
    const reconcileWith = (store?: ResourceSnapshot) =>
      reconcileResource(
        { baseline: inStore(), live: withStoreDisconnection(unavailable, store), nowMs: NOW },
        new MemoryStore(),
        DEFAULT_CONFIG,
      );

    // Act
    const disconnected = reconcileWith(storeIn('DISCONNECTED'));
    const connected = reconcileWith(storeIn('CONNECTED'));
    const unknown = reconcileWith(undefined);

    // Assess: the key's own state is unknown while its store is disconnected, not Unavailable.
    expect(withStoreDisconnection(unavailable, storeIn('DISCONNECTED')).attributes).not.toHaveProperty('key_state');
    expect(disconnected).toBeUndefined();
    expect([connected?.severity, unknown?.severity]).toEqual(['critical', 'critical']);
  });

  it('keeps the state stored for a key found Unavailable while its store is known disconnected: known drift stays known', () => {
    // Prepare: the key was reported Disabled before its store was disconnected.
    const storeArn = `arn:aws:kms:eu-west-1:111122223333:custom-key-store/${storeId}`;
    const disconnected = snapshotFromState('custom-key-store', storeArn, { connection_state: 'DISCONNECTED' });
    const previous = inStore({ key_state: 'Disabled' });

    // Act
    const live = withStoreDisconnection(inStore({ key_state: 'Unavailable' }), disconnected, previous);
    const finding = reconcileResource({ baseline: inStore(), live, previous, nowMs: NOW }, store, DEFAULT_CONFIG);

    // Assess: neither news nor back at its baseline.
    expect(live.attributes.key_state).toBe('Disabled');
    expect(finding).toBeUndefined();
  });

  it("takes the rotation KMS hides while a key is pending deletion as stored, but for a replica's", () => {
    // Prepare: rotation stored off; the read of the key pending deletion shows none.
    const previous = key({ enable_key_rotation: false, rotation_period_in_days: null });
    const pending = key({ key_state: 'PendingDeletion', deletion_date: '2027-01-01T00:00:00Z' });
    delete pending.attributes.enable_key_rotation;
    delete pending.attributes.rotation_period_in_days;
    const replica = { ...pending, attributes: { ...pending.attributes, primary_region: 'us-east-1' } };

    // Act
    const kept = withHiddenRotationKept(pending, previous);

    // Assess
    expect(kept.attributes).toMatchObject({ enable_key_rotation: false, rotation_period_in_days: null });
    expect(withHiddenRotationKept(replica, previous).attributes).not.toHaveProperty('enable_key_rotation');
    expect(withHiddenRotationKept(key({ key_state: 'Disabled' }), previous).attributes.enable_key_rotation).toBe(
      key().attributes.enable_key_rotation,
    );
  });

  it('says to reconnect the key store, and how to find it, when the baseline does not know which it is', () => {
    const finding = reconcileResource(
      { baseline: key(), live: key({ key_state: 'Unavailable' }), nowMs: NOW },
      store,
      DEFAULT_CONFIG,
    );
    expect(finding?.remediation).toEqual([
      `# reconnect the custom key store of the key (aws kms describe-key --key-id ${KEY} --region eu-west-1 names it: CustomKeyStoreId): aws kms connect-custom-key-store --custom-key-store-id STORE_ID --region eu-west-1`,
    ]);
  });

  it('reconnects the store, then disables the key again, for a key approved Disabled', () => {
    const finding = reconcileResource(
      { baseline: inStore({ key_state: 'Disabled' }), live: inStore({ key_state: 'Unavailable' }), nowMs: NOW },
      store,
      DEFAULT_CONFIG,
    );
    expect(finding?.remediation).toEqual([
      `aws kms connect-custom-key-store --custom-key-store-id ${storeId} --region eu-west-1`,
      `aws kms disable-key --key-id ${KEY} --region eu-west-1`,
    ]);
  });

  it('names the trail whose logs a key found Unavailable encrypts', () => {
    const surroundings: Surroundings = { labelOf: (arn) => String(arn), trailsUsingKey: () => [TRAIL] };
    const finding = reconcileResource(
      { baseline: inStore(), live: inStore({ key_state: 'Unavailable' }), nowMs: NOW },
      surroundings,
      DEFAULT_CONFIG,
    );
    expect(finding?.reasons).toEqual([
      `TrailKeyStaysUsable: the key encrypting the logs of ${TRAIL} is now Unavailable`,
    ]);
  });
});

describe('Reconciling an alias found moved off its approved key', () => {
  const store = new MemoryStore();
  const ALIAS = 'arn:aws:kms:eu-west-1:111122223333:alias/payments';
  const OTHER_KEY = KEY.replace('0f4a6c1e', '1a2b3c4d');
  const alias = (target: string | null) => snapshotFromState('alias', ALIAS, { target_key_id: target });
  const onKey = `--key-id ${KEY} --region eu-west-1`;
  /** The run's knowledge of the approved key: its state, and its approved state. */
  const knowing = (state: string, approvedState = 'Enabled'): ReconcileInput['elsewhere'] => ({
    known: (arn, path) => (arn === KEY && path === 'key_state' ? state : undefined),
    approved: (arn, path) => (arn === KEY && path === 'key_state' ? approvedState : undefined),
  });
  const undo = (live: ResourceSnapshot, elsewhere?: ReconcileInput['elsewhere']) =>
    reconcileResource({ baseline: alias(KEY), live, nowMs: NOW, elsewhere }, store, DEFAULT_CONFIG)?.remediation;

  it('cancels the deletion of the approved key the run knows pending deletion, and enables it, before pointing the alias back', () => {
    expect(undo(alias(OTHER_KEY), knowing('PendingDeletion'))).toEqual([
      `aws kms cancel-key-deletion ${onKey}`,
      `aws kms enable-key ${onKey}`,
      `aws kms update-alias --alias-name alias/payments --region eu-west-1 --target-key-id ${KEY}`,
    ]);
  });

  it('cancels the deletion of the approved key before creating an alias found deleted again', () => {
    expect(undo(alias(null), knowing('PendingDeletion'))).toEqual([
      `aws kms cancel-key-deletion ${onKey}`,
      `aws kms enable-key ${onKey}`,
      `aws kms create-alias --alias-name alias/payments --region eu-west-1 --target-key-id ${KEY}`,
    ]);
  });

  it.each([
    ['deleted', 'Deleted', 'Enabled', 'is deleted and cannot be a target again'],
    ['pending deletion as approved', 'PendingDeletion', 'PendingDeletion', 'is pending deletion as approved'],
  ])(
    'says the approved key the run knows %s cannot be a target, instead of a command KMS refuses',
    (_, state, approvedState, says) => {
      const remediation = undo(alias(OTHER_KEY), knowing(state, approvedState));
      expect(remediation).toHaveLength(1);
      expect(remediation?.[0]).toMatch(new RegExp(`^# the approved key ${KEY} ${says}`));
    },
  );

  it('points the alias back with the alias command alone when the run knows nothing of the key', () => {
    expect(undo(alias(OTHER_KEY))).toEqual([
      `aws kms update-alias --alias-name alias/payments --region eu-west-1 --target-key-id ${KEY}`,
    ]);
  });
});

describe('Reconciling a trail with its baseline', () => {
  const store = new MemoryStore();
  const trail = (kmsKeyId: string) =>
    snapshotFromState('trail', TRAIL, { trail: 'exists', logging: true, kms_key_id: kmsKeyId });
  const foreignKey = 'arn:aws:kms:eu-west-1:444455556666:key/5e6f7a8b-0000-4000-8000-000000000001';

  it("reports a trail found encrypting with another account's key as critical, naming that account", () => {
    const finding = reconcileResource(
      { baseline: trail(KEY), live: trail(foreignKey), nowMs: NOW },
      store,
      DEFAULT_CONFIG,
    );
    expect(finding).toMatchObject({
      service: 'cloudtrail',
      event: 'Reconcile',
      resource: TRAIL,
      severity: 'critical',
      changes: { kms_key_id: { before: KEY, after: foreignKey } },
    });
    expect(finding?.reasons).toEqual([
      "TrailKeyStaysInAccount: the trail's logs are now encrypted with a key of account 444455556666",
    ]);
  });

  it('reports a trail found on another key of its own account as error', () => {
    const otherKey = KEY.replace('0f4a6c1e', '1a2b3c4d');
    const finding = reconcileResource(
      { baseline: trail(KEY), live: trail(otherKey), nowMs: NOW },
      store,
      DEFAULT_CONFIG,
    );
    expect(finding?.severity).toBe('error');
  });
});

describe('What a baseline never knew, seen live', () => {
  const { enable_key_rotation, ...withoutRotation } = approved;
  const partial = () => snapshotFromState('key', KEY, withoutRotation);

  it('is approved as first seen, and nothing when the baseline knows it all', () => {
    expect(withFirstSeen(partial(), key())?.attributes).toMatchObject({ enable_key_rotation });
    expect(withFirstSeen(key(), key({ enable_key_rotation: false }))).toBeUndefined();
  });

  it('is not approved as a key state in passing, a deletion date, a path settled unknown, or one left out to fit', () => {
    const unknown = { ...partial(), unknownPaths: ['enable_key_rotation'] };
    const pending = { key_state: 'PendingDeletion', deletion_date: '2026-10-10T12:00:00Z' };
    const baseline = snapshotFromState('key', KEY, { description: 'payments' });

    expect(withFirstSeen(unknown, key())).toBeUndefined();
    expect(withFirstSeen(baseline, key(pending))?.attributes).not.toHaveProperty('key_state');
    expect(withFirstSeen(baseline, key(pending))?.attributes).not.toHaveProperty('deletion_date');
    expect(withFirstSeen(partial(), key(), ['enable_key_rotation'])).toBeUndefined();
  });
});

describe('A multi-Region key whose primary Region moved (the key is in eu-west-1)', () => {
  const store = new MemoryStore();
  const mrk = (primary: string) => key({ multi_region: true, primary_region: primary });
  const reconcile = (baseline: string, live: string, previous = baseline) =>
    reconcileResource(
      { baseline: mrk(baseline), live: mrk(live), previous: mrk(previous), previousVersion: 1, nowMs: NOW },
      store,
      DEFAULT_CONFIG,
    );

  it('reports nothing of a move between two other Regions, recorded there only, and approves it as it is', () => {
    // A replica of us-east-1 whose primary moved to ap-southeast-2: before and after the stored state shows it.
    expect(reconcile('us-east-1', 'ap-southeast-2')).toBeUndefined();
    expect(reconcile('us-east-1', 'ap-southeast-2', 'ap-southeast-2')).toBeUndefined();
    expect(withPrimaryMovedElsewhere(mrk('us-east-1'), mrk('ap-southeast-2'))?.attributes.primary_region).toBe(
      'ap-southeast-2',
    );
  });

  it('reports a replica promoted here and a primary here demoted as drift, and approves neither', () => {
    for (const [approvedPrimary, livePrimary] of [
      ['us-east-1', 'eu-west-1'],
      ['eu-west-1', 'us-east-1'],
    ]) {
      expect(reconcile(approvedPrimary, livePrimary)).toMatchObject({
        status: 'drift',
        severity: 'error',
        changes: { primary_region: { before: approvedPrimary, after: livePrimary } },
      });
      expect(withPrimaryMovedElsewhere(mrk(approvedPrimary), mrk(livePrimary))).toBeUndefined();
    }
  });
});

describe('Deletion countdown', () => {
  const store = new MemoryStore();
  const pending = (daysLeft: number) =>
    key({
      key_state: 'PendingDeletion',
      deletion_date: new Date(NOW + daysLeft * DAY).toISOString().replace('.000', ''),
    });
  const dependents = { trails: [TRAIL], usedByKeydrift: false };

  it('says nothing more than 7 days before the deletion', () => {
    expect(deletionReminder(pending(8), NOW, dependents, store, DEFAULT_CONFIG)).toBeUndefined();
  });

  it('reminds 7 days before as error, naming what depends on the key and the command that cancels', () => {
    const reminder = deletionReminder(pending(6.5), NOW, dependents, store, DEFAULT_CONFIG);
    expect(reminder).toMatchObject({ event: 'DeletionReminder', severity: 'error' });
    expect(reminder?.summary).toContain('will be deleted in 7 day(s)');
    expect(reminder?.summary).toContain('trail org-audit encrypts its logs with it');
    expect(reminder?.remediation[0]).toBe(`aws kms cancel-key-deletion --key-id ${KEY} --region eu-west-1`);
  });

  it('reminds 3 and 1 days before as critical, each reminder once (its own eventId)', () => {
    const three = deletionReminder(pending(2.5), NOW, { trails: [], usedByKeydrift: true }, store, DEFAULT_CONFIG);
    const one = deletionReminder(pending(0.5), NOW, { trails: [], usedByKeydrift: true }, store, DEFAULT_CONFIG);
    expect(three).toMatchObject({ severity: 'critical' });
    expect(three?.summary).toContain('keydrift itself uses it');
    expect(one?.changes.deletion_date?.reminder).toBe('1 day');
    expect(one?.eventId).not.toBe(three?.eventId);
    const sameDayLater = deletionReminder(pending(2.5), NOW + 0.1 * DAY, dependents, store, DEFAULT_CONFIG);
    expect(sameDayLater?.eventId).toBe(three?.eventId);
  });

  it('ignores keys that are not pending deletion', () => {
    expect(deletionReminder(key(), NOW, dependents, store, DEFAULT_CONFIG)).toBeUndefined();
  });

  it('undoes to the approved state: a key approved Disabled is cancelled, not enabled', () => {
    const reminder = deletionReminder(
      pending(2.5),
      NOW,
      dependents,
      store,
      DEFAULT_CONFIG,
      key({ key_state: 'Disabled' }),
    );
    expect(reminder).toMatchObject({ event: 'DeletionReminder', severity: 'critical', status: 'drift' });
    expect(reminder?.remediation).toEqual([`aws kms cancel-key-deletion --key-id ${KEY} --region eu-west-1`]);
  });

  it('cancels the deletion of a key approved waiting for its imported key material (PendingImport)', () => {
    // Prepare: a key for imported material, approved before its import, then scheduled for deletion.
    const approvedPendingImport = key({ key_state: 'PendingImport', origin: 'EXTERNAL' });
    // Act
    const reminder = deletionReminder(pending(2.5), NOW, dependents, store, DEFAULT_CONFIG, approvedPendingImport);
    // Assess: critical, three days before the key is gone, with the one command that keeps it.
    expect(reminder).toMatchObject({ event: 'DeletionReminder', severity: 'critical', status: 'drift' });
    expect(reminder?.remediation).toEqual([`aws kms cancel-key-deletion --key-id ${KEY} --region eu-west-1`]);
  });

  it('reminds of a deletion a planned principal scheduled as info, with cancelling only as a comment', () => {
    const approved = pending(2.5);
    const reminder = deletionReminder(pending(2.5), NOW, dependents, store, DEFAULT_CONFIG, approved);
    expect(reminder).toMatchObject({ event: 'ApprovedDeletionReminder', severity: 'info', status: 'planned' });
    expect(reminder?.eventId).toMatch(/^reminder-/);
    expect(reminder?.summary).toMatch(/will be deleted in 3 day\(s\), on \S+, as approved; trail org-audit encrypts/);
    expect(reminder?.remediation).toEqual([
      `# the deletion is approved; to keep the key after all: aws kms cancel-key-deletion --key-id ${KEY} --region eu-west-1`,
    ]);
  });
});
