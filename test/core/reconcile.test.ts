/**
 * The reconciler's core: live state against the baseline, with no event behind the difference, and
 * the deletion countdown.
 */
import { DEFAULT_CONFIG } from '../../lambda/core/config';
import { MemoryStore } from '../../lambda/core/memory-store';
import { normalizePolicy } from '../../lambda/core/policy';
import { deletionReminder, RECONCILE_EVENT, reconcileResource } from '../../lambda/core/reconcile';
import { snapshotFromState } from '../../lambda/core/state';

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
