/**
 * KMS deletes a key's aliases with the key ("If you delete a KMS key, all aliases associated with that KMS key are
 * deleted", KMS Developer Guide), with no DeleteAlias event of their own: keydrift's alias resources go with the key.
 */
import { Detector } from '../../lambda/core/detector';
import { MemoryStore } from '../../lambda/core/memory-store';
import { normalizeRecord } from '../../lambda/core/normalize';
import { aliasGoneWithItsKey, reconcileResource } from '../../lambda/core/reconcile';
import { snapshotFromState } from '../../lambda/core/state';
import type { Finding } from '../../lambda/core/types';
import type { CloudTrailRecord } from '../helpers/fixtures';
import {
  ACCOUNT,
  at,
  by,
  config,
  createAlias,
  createKey,
  KEY_ARN,
  KEY_ID,
  OTHER_KEY_ARN,
  OTHER_KEY_ID,
  onKey,
  REGION,
  rec,
  sessionIdentity,
} from './harness';

const ADMIN_ROLE = `arn:aws:iam::${ACCOUNT}:role/Admin`;
const PLANNED = { plannedPrincipals: [ADMIN_ROLE] };
const ALIAS_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:alias/ExampleAlias`;
const OTHER_ALIAS_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:alias/other`;
const admin = (record: CloudTrailRecord) => by(record, sessionIdentity('Admin', 'user01'));

const created = () => admin(at(createKey(), 'create', '2021-03-01T09:00:00Z'));
/** CreateAlias__awskmsdg__1 (alias/ExampleAlias on the samples' key), by Admin. */
const aliased = () => admin(at(rec('CreateAlias__awskmsdg__1'), 'alias', '2021-03-01T09:01:00Z'));
/** ScheduleKeyDeletion__awskmsdg__1: made 2021-03-23T18:58:30Z, for 2021-04-12T18:58:30Z. */
const scheduled = () => onKey(rec('ScheduleKeyDeletion__awskmsdg__1'));
const deleteKey = (time = '2021-04-12T19:42:07Z') => at(onKey(rec('DeleteKey__awskmsdg__1')), 'delete-key', time);
const cmkDeletion = () =>
  rec('KMSCMKDeletion__awskmsdg__1', (r) => {
    r.time = '2021-04-12T19:42:08Z';
  });

function run(records: CloudTrailRecord[]) {
  const store = new MemoryStore();
  const detector = new Detector(config(PLANNED), store);
  const findings = records.map((record, index) => detector.observe(normalizeRecord(record, `record ${index}`)));
  return { findings, store };
}

/** What the next reconcile run reports of the alias, read gone (KMS no longer knows it). */
function reconcileAlias(store: MemoryStore): Finding | undefined {
  const baseline = store.baseline(ALIAS_ARN);
  if (!baseline) throw new Error('no baseline');
  const live = snapshotFromState('alias', ALIAS_ARN, { target_key_id: null });
  const input = {
    baseline,
    live,
    previous: store.snapshot(ALIAS_ARN),
    previousVersion: 2,
    nowMs: Date.parse('2021-04-14T06:00:00Z'),
  };
  return reconcileResource(input, store, config(PLANNED));
}

describe("A key's deletion takes the aliases keydrift knows on it", () => {
  it.each([
    ['DeleteKey', deleteKey],
    ['KMS CMK Deletion', cmkDeletion],
  ])('%s of a deletion a planned principal scheduled: the alias is gone, and approved so', (_, deletion) => {
    // Act
    const { findings, store } = run([created(), aliased(), admin(scheduled()), deletion()]);

    // Assess: the key's finding is the deletion's only record; the next run finds nothing to report.
    expect(findings.at(-1)).toMatchObject({ resource: KEY_ARN, status: 'planned', severity: 'info' });
    expect(store.snapshot(ALIAS_ARN)?.attributes).toEqual({ target_key_id: null });
    expect(store.baseline(ALIAS_ARN)?.attributes).toEqual({ target_key_id: null });
    expect(reconcileAlias(store)).toBeUndefined();
  });

  it('of a deletion no one approved: the key is critical, the alias goes with it, and no run reports it apart', () => {
    // Act
    const { findings, store } = run([created(), aliased(), scheduled(), deleteKey()]);

    // Assess
    expect(findings.at(-1)).toMatchObject({ resource: KEY_ARN, status: 'drift', severity: 'critical' });
    expect(store.snapshot(ALIAS_ARN)?.attributes).toEqual({ target_key_id: null });
    expect(store.baseline(ALIAS_ARN)?.attributes).toEqual({ target_key_id: null });
    expect(reconcileAlias(store)).toBeUndefined();
  });

  it("leaves the key's other events as they were: the second event of the deletion, a later alias of the name", () => {
    // Act: KMS's two records of the deletion, then the name used again on another key.
    const again = admin(at(createAlias('alias/ExampleAlias', OTHER_KEY_ID), 'again', '2021-04-20T10:00:00Z'));
    const { findings } = run([created(), aliased(), admin(scheduled()), deleteKey(), cmkDeletion(), again]);

    // Assess: the new alias was created from nothing, not moved from the deleted key.
    expect(findings.slice(-2).map((f) => [f.event, f.severity])).toEqual([
      ['KMS CMK Deletion', 'info'],
      ['CreateAlias', 'info'],
    ]);
    expect(findings.at(-1)?.changes.target_key_id).toEqual({ before: null, after: OTHER_KEY_ARN });
  });

  it('leaves an alias moved to another key before the deletion where it is', () => {
    // Prepare: alias/other created on the key, then moved to the other key.
    const other = admin(at(createAlias('alias/other', KEY_ID), 'other', '2021-03-01T09:02:00Z'));
    const moved = admin(
      at(
        rec('UpdateAlias__awskmsdg__1', (r) => {
          r.requestParameters = { aliasName: 'alias/other', targetKeyId: OTHER_KEY_ID };
          r.resources = [
            { accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: OTHER_ALIAS_ARN },
            { accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: OTHER_KEY_ARN },
          ];
        }),
        'moved',
        '2021-03-02T09:00:00Z',
      ),
    );

    // Act
    const { findings, store } = run([created(), aliased(), other, moved, scheduled(), deleteKey()]);

    // Assess: the key's deletion names only the alias that went with it.
    expect(findings.at(-1)?.changes.key_state?.aliases_deleted).toEqual(['alias/ExampleAlias']);
    expect(store.snapshot(OTHER_ALIAS_ARN)?.attributes).toEqual({ target_key_id: OTHER_KEY_ARN });
    expect(store.snapshot(ALIAS_ARN)?.attributes).toEqual({ target_key_id: null });
  });

  it('still reports an alias deleted on its own (DeleteAlias) while its key exists', () => {
    // DeleteAlias__awskmsdg__1, of alias/ExampleAlias in the key's Region.
    const deleted = at(
      rec('DeleteAlias__awskmsdg__1', (r) => {
        r.awsRegion = REGION;
        r.requestParameters = { aliasName: 'alias/ExampleAlias' };
        r.resources = [
          { accountId: ACCOUNT, ARN: ALIAS_ARN },
          { accountId: ACCOUNT, ARN: KEY_ARN },
        ];
      }),
      'delete-alias',
      '2021-03-05T09:00:00Z',
    );
    const { findings } = run([created(), aliased(), deleted]);
    expect(findings.at(-1)).toMatchObject({
      event: 'DeleteAlias',
      resource: ALIAS_ARN,
      status: 'drift',
      severity: 'error',
    });
  });
});

describe("A key's deletion finding names the aliases KMS deleted with it", () => {
  const paymentsAlias = () => admin(at(createAlias('alias/payments', KEY_ID), 'payments', '2021-03-01T09:01:30Z'));

  it.each([
    ['DeleteKey', deleteKey, 'deleted by KMS at the end of its waiting period'],
    ['KMS CMK Deletion', cmkDeletion, 'deleted (KMS CMK Deletion)'],
  ])('%s no one approved: critical drift, the aliases named on its state and in its summary', (_, deletion, words) => {
    // Act
    const { findings } = run([created(), aliased(), paymentsAlias(), scheduled(), deletion()]);

    // Assess: as severe as ever, and no command to create the aliases again (nothing restores a deleted key).
    const finding = findings.at(-1);
    expect(finding).toMatchObject({ resource: KEY_ARN, status: 'drift', severity: 'critical' });
    expect(finding?.changes.key_state).toMatchObject({
      after: 'Deleted',
      aliases_deleted: ['alias/ExampleAlias', 'alias/payments'],
    });
    expect(Object.keys(finding?.changes ?? {}).sort()).toEqual(['deletion_date', 'key_state']);
    expect(finding?.summary).toBe(
      `Key alias/ExampleAlias ${words}; its aliases alias/ExampleAlias, alias/payments went with it`,
    );
    expect(finding?.remediation.join('\n')).not.toContain('create-alias');
  });

  it('a deletion a planned principal approved: planned, info, the alias named in the approved summary', () => {
    // Act
    const { findings } = run([created(), aliased(), admin(scheduled()), deleteKey()]);

    // Assess
    expect(findings.at(-1)).toMatchObject({ status: 'planned', severity: 'info', remediation: [] });
    expect(findings.at(-1)?.changes.key_state?.aliases_deleted).toEqual(['alias/ExampleAlias']);
    expect(findings.at(-1)?.summary).toBe(
      'Key alias/ExampleAlias deleted by KMS as approved: its deletion was scheduled for 2021-04-12T18:58:30Z; ' +
        'its alias alias/ExampleAlias went with it',
    );
  });

  it("names none on the deletion's second event, nor on a key without aliases", () => {
    // Act
    const { findings } = run([created(), aliased(), scheduled(), deleteKey(), cmkDeletion()]);
    const bare = run([created(), scheduled(), deleteKey()]).findings.at(-1);

    // Assess
    expect(findings.at(-2)?.changes.key_state?.aliases_deleted).toEqual(['alias/ExampleAlias']);
    expect(findings.at(-1)?.changes.key_state).not.toHaveProperty('aliases_deleted');
    expect(findings.at(-1)?.summary).not.toContain('went with it');
    expect(bare?.changes.key_state).not.toHaveProperty('aliases_deleted');
    expect(bare?.summary).toBe(
      'Key 1234abcd-12ab-34cd-56ef-1234567890ab deleted by KMS at the end of its waiting period',
    );
  });

  it("names a key's 50 aliases all in the change, some in the summary, and counts the rest", () => {
    // Prepare
    const names = Array.from({ length: 50 }, (_, i) => `alias/app-${String(i).padStart(2, '0')}`);
    const aliases = names.map((name, i) => admin(at(createAlias(name, KEY_ID), `alias-${i}`, '2021-03-01T09:05:00Z')));

    // Act
    const finding = run([created(), ...aliases, scheduled(), deleteKey()]).findings.at(-1);

    // Assess
    expect(finding?.changes.key_state?.aliases_deleted).toEqual(names);
    expect(finding?.summary).toMatch(
      /; its aliases alias\/app-00, alias\/app-01, .*alias\/app-\d\d and \d\d more went with it$/,
    );
    expect(finding?.summary.length).toBeLessThan(400);
  });

  it('a reconcile run that finds the key deleted, its events missed, names them: but one KMS lists on another key', () => {
    // Prepare: the key's stored state shows both aliases; alias/other now points to the other key.
    const { store } = run([
      created(),
      aliased(),
      admin(at(createAlias('alias/other', KEY_ID), 'o', '2021-03-01T09:02:00Z')),
    ]);
    const baseline = store.baseline(KEY_ARN);
    if (!baseline) throw new Error('no baseline');
    const input = {
      baseline,
      live: snapshotFromState('key', KEY_ARN, { key_state: 'Deleted', deletion_date: null }),
      previous: store.snapshot(KEY_ARN),
      previousVersion: 3,
      nowMs: Date.parse('2021-04-14T06:00:00Z'),
    };

    // Act
    const found = reconcileResource(input, store, config(PLANNED));
    const moved = reconcileResource(
      { ...input, listedAliasTargets: new Map([[OTHER_ALIAS_ARN, OTHER_KEY_ARN]]) },
      store,
      config(PLANNED),
    );

    // Assess
    expect(found).toMatchObject({ event: 'Reconcile', status: 'drift', severity: 'critical' });
    expect(found?.changes.key_state).toMatchObject({
      after: 'Deleted',
      aliases_deleted: ['alias/ExampleAlias', 'alias/other'],
    });
    expect(found?.summary).toBe(
      'alias/ExampleAlias differs from its baseline with no change event seen (key_state); ' +
        'its aliases alias/ExampleAlias, alias/other went with it',
    );
    expect(moved?.changes.key_state?.aliases_deleted).toEqual(['alias/ExampleAlias']);
    expect(moved?.severity).toBe('critical');
  });
});

describe('An alias the reconciler finds gone', () => {
  const stored = (target: string | null) => snapshotFromState('alias', ALIAS_ARN, { target_key_id: target });
  const gone = stored(null);

  it('went with its key when the key it pointed to last is gone too: its baseline is gone', () => {
    const approved = aliasGoneWithItsKey(gone, stored(KEY_ARN), stored(KEY_ARN), (key) => key === KEY_ARN);
    expect(approved?.attributes).toEqual({ target_key_id: null });
  });

  it('was deleted on its own while its key exists: compared as ever', () => {
    expect(aliasGoneWithItsKey(gone, stored(KEY_ARN), stored(KEY_ARN), () => false)).toBeUndefined();
  });

  it('is no news when keydrift already knew it gone (its DeleteAlias reported), whatever its key', () => {
    expect(aliasGoneWithItsKey(gone, gone, stored(KEY_ARN), () => true)).toBeUndefined();
  });

  it('is not gone when it reads on a key', () => {
    expect(aliasGoneWithItsKey(stored(OTHER_KEY_ARN), stored(KEY_ARN), stored(KEY_ARN), () => true)).toBeUndefined();
  });
});
