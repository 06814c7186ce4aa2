/**
 * Baseline rules of DESIGN.md: what the first observed change implies about the approved state, and
 * what a creation sets.
 */
import { DEFAULT_CONFIG } from '../../lambda/core/config';
import { reconcileResource } from '../../lambda/core/reconcile';
import type { ResourceSnapshot } from '../../lambda/core/types';
import {
  ACCOUNT,
  ALICE,
  at,
  by,
  config,
  createKey,
  createTrail,
  detect,
  KEY_ARN,
  KEY_ID,
  onKey,
  onTrail,
  policyWith,
  putKeyPolicy,
  REGION,
  rec,
  sessionIdentity,
  TRAIL_ARN,
  TRAIL_NAME,
} from './harness';

const ANALYTICS = {
  Sid: 'Analytics',
  Effect: 'Allow',
  Principal: { AWS: 'arn:aws:iam::111122223333:role/analytics' },
  Action: 'kms:Decrypt',
  Resource: '*',
};

describe('Baseline inference', () => {
  it('infers an Enabled baseline from a DisableKey, so a following EnableKey is resolved', () => {
    // Act: no CreateKey seen, nothing known about the key.
    const { findings, store } = detect([
      at(onKey(rec('DisableKey__awskmsdg__1')), 'disable-1'),
      at(onKey(rec('EnableKey__awskmsdg__1')), 'enable-1'),
    ]);
    // Assess
    expect(findings[0]).toMatchObject({
      status: 'drift',
      severity: 'critical',
      changes: { key_state: { before: 'Enabled', after: 'Disabled' } },
      remediation: [`aws kms enable-key --key-id ${KEY_ARN} --region us-west-2`],
    });
    expect(findings[1]).toMatchObject({ status: 'resolved', severity: 'info' });
    expect(store.baseline(KEY_ARN)?.attributes.key_state).toBe('Enabled');
  });

  it('infers that rotation was on from a DisableKeyRotation', () => {
    const { last, store } = detect([rec('DisableKeyRotation__awskmsdg__1')]);
    expect(last).toMatchObject({
      status: 'drift',
      severity: 'error',
      changes: { enable_key_rotation: { before: true, after: false } },
      remediation: [
        `aws kms enable-key-rotation --key-id ${KEY_ARN} --region us-west-2`,
        // Its period is not implied: 365 days, or one a caller chose.
        `# approved value unknown; inspect: aws kms get-key-rotation-status --key-id ${KEY_ARN} --region us-west-2`,
      ],
    });
    expect(store.baseline(KEY_ARN)?.attributes.enable_key_rotation).toBe(true);
    expect(store.baseline(KEY_ARN)?.unknownPaths).toEqual(['rotation_period_in_days']);
  });

  it('records the policy baseline as unknown after a PutKeyPolicy on an unseen key', () => {
    const { last, store } = detect([putKeyPolicy(policyWith(ANALYTICS))]);
    expect(last.status).toBe('drift');
    expect(last.changes.policy.before).toBeNull();
    expect(last.remediation).toEqual([
      `# approved value unknown; inspect: aws kms get-key-policy --key-id ${KEY_ARN} --region us-west-2 --policy-name default --output text`,
    ]);
    expect(store.baseline(KEY_ARN)?.unknownPaths).toEqual(['policy']);
    expect(store.baseline(KEY_ARN)?.attributes.policy).toBeUndefined();
  });

  it('never resolves a later PutKeyPolicy against a policy baseline that is unknown', () => {
    // Prepare: P1 (baseline unknown), P2, then P1 again.
    const records = [
      at(putKeyPolicy(policyWith(ANALYTICS)), 'put-1'),
      at(putKeyPolicy(policyWith()), 'put-2'),
      at(putKeyPolicy(policyWith(ANALYTICS)), 'put-3'),
    ];
    // Act
    const { findings } = detect(records);
    // Assess
    expect(findings.map((f) => [f.status, f.severity])).toEqual([
      ['drift', 'critical'],
      ['drift', 'critical'],
      ['drift', 'critical'],
    ]);
    expect(findings[2].changes.policy.added_principals).toEqual(['arn:aws:iam::111122223333:role/analytics']);
  });

  it('settles an unknown policy baseline when a planned principal changes the policy', () => {
    // Prepare: P1 (baseline unknown), then the Admin role (planned) approves P2.
    const records = [
      at(putKeyPolicy(policyWith(ANALYTICS)), 'put-1'),
      at(by(putKeyPolicy(policyWith()), sessionIdentity('Admin', 'user01')), 'put-2'),
      at(putKeyPolicy(policyWith(ANALYTICS)), 'put-3'),
      at(putKeyPolicy(policyWith()), 'put-4'),
    ];
    // Act
    const { findings, store } = detect(records, { plannedPrincipals: ['arn:aws:iam::111122223333:role/Admin'] });
    // Assess
    expect(findings.map((f) => f.status)).toEqual(['drift', 'planned', 'drift', 'resolved']);
    expect(store.baseline(KEY_ARN)?.unknownPaths).toEqual([]);
  });

  it('does not take PendingDeletion as a baseline: CancelKeyDeletion on an unseen key is drift', () => {
    const { last, store } = detect([rec('CancelKeyDeletion__awskmsdg__1')]);
    expect(last).toMatchObject({
      status: 'drift',
      severity: 'info',
      changes: { key_state: { before: 'PendingDeletion', after: 'Disabled' } },
    });
    expect(store.baseline(KEY_ARN)?.attributes.key_state).toBeUndefined();
    expect(store.baseline(KEY_ARN)?.unknownPaths).toContain('key_state');
  });
});

describe('CancelKeyDeletion', () => {
  it('leaves the key Disabled, and the remediation enables it again when the baseline was Enabled', () => {
    // Prepare
    const records = [
      createKey(),
      at(onKey(rec('ScheduleKeyDeletion__awskmsdg__1')), 'schedule-1'),
      at(onKey(rec('CancelKeyDeletion__awskmsdg__1')), 'cancel-1'),
    ];
    // Act
    const { findings, store } = detect(records);
    // Assess
    const [, scheduled, cancelled] = findings;
    expect(scheduled.changes).toEqual({
      key_state: { before: 'Enabled', after: 'PendingDeletion' },
      deletion_date: { before: null, after: '2021-04-12T18:58:30Z' },
    });
    expect(cancelled).toMatchObject({
      event: 'CancelKeyDeletion',
      status: 'drift',
      severity: 'info',
      changes: {
        key_state: { before: 'PendingDeletion', after: 'Disabled' },
        deletion_date: { before: '2021-04-12T18:58:30Z', after: null },
      },
    });
    expect(cancelled.remediation).toEqual([`aws kms enable-key --key-id ${KEY_ARN} --region us-west-2`]);
    expect(store.snapshot(KEY_ARN)?.attributes.key_state).toBe('Disabled');
  });
});

describe('CreateKey', () => {
  it('reports an unplanned CreateKey as warning drift and takes its created state as the baseline', () => {
    // Act
    const { findings, store } = detect([
      createKey({ tags: { team: 'payments' } }),
      at(onKey(rec('UpdateKeyDescription__awskmsdg__1')), 'describe-1'),
      at(
        onKey(
          rec('UpdateKeyDescription__awskmsdg__1', (r) => {
            (r.requestParameters as Record<string, unknown>).description = '';
          }),
        ),
        'describe-2',
      ),
    ]);
    // Assess
    const [created, described, restored] = findings;
    expect(created).toMatchObject({ event: 'CreateKey', status: 'drift', severity: 'warning', resource: KEY_ARN });
    expect(created.remediation).toEqual([
      `# if this key is not wanted: aws kms schedule-key-deletion --key-id ${KEY_ARN} --region us-west-2 --pending-window-in-days 30`,
    ]);
    expect(store.baseline(KEY_ARN)?.attributes).toMatchObject({
      key_state: 'Enabled',
      description: '',
      enable_key_rotation: false,
      'tags#team': 'payments',
    });
    expect(described).toMatchObject({
      status: 'drift',
      severity: 'warning',
      changes: { description: { before: '', after: 'New key description' } },
    });
    expect(restored).toMatchObject({ status: 'resolved', severity: 'info' });
  });

  it('knows the full tag map of a key it saw created: a new tag was absent before', () => {
    const { last } = detect([createKey({ tags: { team: 'payments' } }), onKey(rec('TagResource__awskmsdg__1'))]);
    expect(last.changes).toEqual({ tags: { before: { Department: null }, after: { Department: 'IT' } } });
    expect(last.remediation).toEqual([
      `aws kms untag-resource --key-id ${KEY_ARN} --region us-west-2 --tag-keys Department`,
    ]);
  });

  it('records the key created for imported key material as PendingImport', () => {
    const { last } = detect([rec('CreateKey__awskmsdg__1')]);
    expect(last.changes.key_state).toEqual({ before: null, after: 'PendingImport' });
    expect(last.changes.origin).toEqual({ before: null, after: 'EXTERNAL' });
  });

  it('approves an unplanned key for imported material as enabled: deleting its material later is critical', () => {
    // Act: Alice creates the key and imports its material; Mallory deletes the material.
    const create = rec('CreateKey__awskmsdg__1');
    const arn = (create.responseElements as { keyMetadata: { arn: string } }).keyMetadata.arn;
    const { findings, store } = detect([
      at(create, 'create-1', '2024-01-01T00:00:01Z'),
      at(onKey(rec('ImportKeyMaterial__awskmsdg__1'), arn), 'import-1', '2024-01-01T00:00:02Z'),
      by(
        at(onKey(rec('DeleteImportedKeyMaterial__awskmsdg-current__1'), arn), 'delete-1', '2024-01-01T00:00:03Z'),
        sessionIdentity('Mallory', 'x'),
      ),
    ]);

    // Assess: the import still shows its new material (drift), but the key's state is where it was created for.
    expect(findings[1].changes.key_state).toMatchObject({ after: 'Enabled', back_to_baseline: true });
    expect(findings[2]).toMatchObject({
      status: 'drift',
      severity: 'critical',
      changes: { key_state: { before: 'Enabled', after: 'PendingImport' } },
    });
    expect(store.baseline(arn)?.attributes.key_state).toBe('Enabled');
    // The material it was created for is its creator's choice: not approved as none, so losing it is no way back.
    expect(findings[2].changes.key_material).toMatchObject({ after: null });
    expect(findings[2].changes.key_material.back_to_baseline).toBeUndefined();
    expect(store.baseline(arn)?.attributes).not.toHaveProperty('key_material');
  });

  it('leaves a key pending deletion so when its material is deleted: KMS keeps the deletion scheduled', () => {
    // Act: the key gets its material, Mallory schedules its deletion, then deletes its material.
    const create = rec('CreateKey__awskmsdg__1');
    const arn = (create.responseElements as { keyMetadata: { arn: string } }).keyMetadata.arn;
    const mallory = sessionIdentity('Mallory', 'x');
    const { last, store } = detect([
      at(create, 'create-1', '2024-01-01T00:00:01Z'),
      at(onKey(rec('ImportKeyMaterial__awskmsdg__1'), arn), 'import-1', '2024-01-01T00:00:02Z'),
      by(at(onKey(rec('ScheduleKeyDeletion__awskmsdg__1'), arn), 'schedule-1', '2024-01-01T00:00:03Z'), mallory),
      by(
        at(onKey(rec('DeleteImportedKeyMaterial__awskmsdg-current__1'), arn), 'delete-1', '2024-01-01T00:00:04Z'),
        mallory,
      ),
    ]);

    // Assess: the material is gone, but the key is still pending deletion, not waiting for an import.
    expect(last).toMatchObject({ status: 'drift', severity: 'critical' });
    expect(last.changes.key_material).toMatchObject({ after: null });
    expect(last.changes.key_state).toBeUndefined();
    expect(store.snapshot(arn)?.attributes.key_state).toBe('PendingDeletion');
  });

  const CURRENT = '0b7fd7ddbac6eef27907413567cad8c810e2883dc8a7534067a82ee1142fc1e6';
  const STAGED = '123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0';
  /** The key created for imported material, its first material (CURRENT) imported, then new material staged. */
  function keyWithStagedMaterial(): { arn: string; records: ReturnType<typeof rec>[] } {
    const create = rec('CreateKey__awskmsdg__1');
    const arn = (create.responseElements as { keyMetadata: { arn: string } }).keyMetadata.arn;
    const first = at(onKey(rec('ImportKeyMaterial__awskmsdg__1'), arn), 'import-1', '2024-01-01T00:00:02Z');
    first.responseElements = { keyId: arn, keyMaterialId: CURRENT };
    // As the current ImportKeyMaterial record has it: ImportType NEW_KEY_MATERIAL, answered with the material's id.
    const staged = at(onKey(rec('ImportKeyMaterial__awskmsdg__1'), arn), 'import-2', '2024-01-01T00:00:03Z');
    Object.assign(staged.requestParameters as Record<string, unknown>, {
      validTo: 'May 21, 2026, 5:47:45 AM',
      importType: 'NEW_KEY_MATERIAL',
      keyMaterialDescription: 'ExampleKeyMaterialA',
    });
    staged.responseElements = { keyId: arn, keyMaterialId: STAGED };
    return { arn, records: [at(create, 'create-1', '2024-01-01T00:00:01Z'), first, staged] };
  }

  it('takes new key material imported into a key that has its material as staged: DescribeKey shows it only after a rotation', () => {
    // Act: the key gets its material (expiring 2021-01-01), then Alice imports new material for an on-demand rotation
    // (ImportType NEW_KEY_MATERIAL, as the current ImportKeyMaterial record has it), expiring later.
    const { arn, records } = keyWithStagedMaterial();
    const { last, store } = detect(records);

    // Assess: the key's current material, and so its expiry, is the one it had; the import is still reported.
    const current = { expiration_model: 'KEY_MATERIAL_EXPIRES', valid_to: '2021-01-01T20:00:00Z' };
    expect(store.snapshot(arn)?.attributes.key_material).toEqual(current);
    expect(last.changes.key_material).toBeUndefined();
    expect(last.changes.key_state).toBeUndefined();
    expect(last).toMatchObject({ event: 'ImportKeyMaterial', severity: 'error', status: 'drift' });
    expect(last.summary).toContain('staged for its next on-demand rotation');
    expect(last.summary).toContain('expires 2026-05-21T05:47:45Z');
  });

  it('says how to undo new key material staged by someone no one planned: its deletion by id, before a rotation uses it', () => {
    // Act: Alice, no planned principal, stages new material for the key's next on-demand rotation.
    const { arn, records } = keyWithStagedMaterial();
    const { last } = detect(records);

    // Assess: the alert says how to take it out again, and when that is no longer an undo.
    expect(last).toMatchObject({ event: 'ImportKeyMaterial', severity: 'error', status: 'drift' });
    expect(last.remediation).toEqual([
      `# unless an on-demand rotation has made it current since (DescribeKey's CurrentKeyMaterialId): aws kms delete-imported-key-material --key-id ${arn} --region us-west-2 --key-material-id ${STAGED}`,
    ]);
  });

  it('leaves the expiry of a key rotated on demand to its material staged to the live read: no unexplained drift', () => {
    // Act: Alice (a planned principal) gives the key its material, stages new material expiring later, and rotates the
    // key on demand, which makes the staged material current.
    const { arn, records } = keyWithStagedMaterial();
    const rotate = at(onKey(rec('RotateKeyOnDemand__awskmsdg-current__1'), arn), 'rotate-1', '2024-01-01T00:00:04Z');
    const { last, store } = detect([...records, rotate], { plannedPrincipals: [ALICE] });

    // Assess: the record does not say the expiry DescribeKey now shows: neither the state nor the baseline keeps the
    // one from before the rotation.
    expect(last).toMatchObject({ event: 'RotateKeyOnDemand', status: 'planned', severity: 'info' });
    expect(store.snapshot(arn)?.attributes).not.toHaveProperty('key_material');
    expect(store.baseline(arn)?.attributes).not.toHaveProperty('key_material');
    // The reconciler then reads the key with the rotated-in material's expiry: no drift no event explains.
    const previous = store.snapshot(arn) as ResourceSnapshot;
    const rotated = { expiration_model: 'KEY_MATERIAL_EXPIRES', valid_to: '2026-05-21T05:47:45Z' };
    const live = { ...previous, attributes: { ...previous.attributes, key_material: rotated } };
    const baseline = store.baseline(arn) as ResourceSnapshot;
    const nowMs = Date.parse('2024-01-02T00:00:00Z');
    expect(reconcileResource({ baseline, live, previous, nowMs }, store, DEFAULT_CONFIG)).toBeUndefined();
  });

  describe('DeleteImportedKeyMaterial of a key with imported material staged for rotation', () => {
    const mallory = sessionIdentity('Mallory', 'x');

    /** Mallory's DeleteImportedKeyMaterial (the current record) of material `id`; without one, KMS deletes the current. */
    function deletion(arn: string, id: string | undefined, eventId: string, time: string) {
      const record = at(onKey(rec('DeleteImportedKeyMaterial__awskmsdg-current__1'), arn), eventId, time);
      const request = record.requestParameters as Record<string, unknown>;
      if (id) request.keyMaterialId = id;
      else delete request.keyMaterialId;
      record.responseElements = { keyId: arn, keyMaterialId: id ?? CURRENT };
      return by(record, mallory);
    }

    it('leaves the key as it is when the material deleted is the one staged: the key still uses its own', () => {
      // Act: Mallory deletes the staged material, by its id.
      const { arn, records } = keyWithStagedMaterial();
      const { last, store } = detect([...records, deletion(arn, STAGED, 'delete-1', '2024-01-01T00:00:04Z')]);

      // Assess: still reported, as its import was (error: alerted, not paged), not as a key that cannot be used.
      expect(last).toMatchObject({ event: 'DeleteImportedKeyMaterial', severity: 'error', status: 'drift' });
      expect(last.changes.key_state).toBeUndefined();
      expect(last.changes.key_material).toBeUndefined();
      expect(last.summary).toBe(
        `Key material staged for the next on-demand rotation of ${KEY_ID} deleted by x: the key goes on using its current material`,
      );
      expect(store.snapshot(arn)?.attributes.key_state).toBe('Enabled');
      expect(store.snapshot(arn)?.attributes.key_material).toEqual({
        expiration_model: 'KEY_MATERIAL_EXPIRES',
        valid_to: '2021-01-01T20:00:00Z',
      });
    });

    it.each([
      ['names the current material', CURRENT],
      ['names no material (KMS deletes the current one)', undefined],
    ])('takes the key as pending import when the deletion %s, staged material or not', (_, id) => {
      const { arn, records } = keyWithStagedMaterial();
      const { last, store } = detect([...records, deletion(arn, id, 'delete-1', '2024-01-01T00:00:04Z')]);

      expect(last).toMatchObject({
        event: 'DeleteImportedKeyMaterial',
        severity: 'critical',
        changes: { key_state: { before: 'Enabled', after: 'PendingImport' }, key_material: { after: null } },
      });
      expect(last.summary).toContain('the key cannot be used until it is re-imported');
      expect(store.snapshot(arn)?.attributes.key_state).toBe('PendingImport');
    });

    it('takes the key as pending import when the material deleted was staged and rotated in since', () => {
      // Act: Alice rotates the key on demand (the staged material becomes current), then Mallory deletes it.
      const { arn, records } = keyWithStagedMaterial();
      const rotate = at(onKey(rec('RotateKeyOnDemand__awskmsdg-current__1'), arn), 'rotate-1', '2024-01-01T00:00:04Z');
      const { last, store } = detect([...records, rotate, deletion(arn, STAGED, 'delete-1', '2024-01-01T00:00:05Z')]);

      expect(last.changes.key_state).toMatchObject({ after: 'PendingImport' });
      expect(store.snapshot(arn)?.attributes.key_state).toBe('PendingImport');
    });

    it('takes the key as pending import when the deleted material was staged once and deleted already', () => {
      // Act: the staged material is deleted, then Mallory deletes by that id again (KMS would refuse it; nothing staged
      // is known any more, so the deletion is read as before).
      const { arn, records } = keyWithStagedMaterial();
      const { last } = detect([
        ...records,
        deletion(arn, STAGED, 'delete-1', '2024-01-01T00:00:04Z'),
        deletion(arn, STAGED, 'delete-2', '2024-01-01T00:00:05Z'),
      ]);

      expect(last.changes.key_state).toMatchObject({ after: 'PendingImport' });
    });
  });

  describe('DeleteExpiredKeyMaterial of a key with imported material staged for rotation', () => {
    /** KMS's deletion of expired material, naming it as the current record does (serviceEventDetails.keyMaterialId). */
    function expiry(arn: string, id: string) {
      const record = at(onKey(rec('DeleteExpiredKeyMaterial__awskmsdg__1'), arn), 'expired-1', '2024-01-01T00:00:04Z');
      Object.assign(record.serviceEventDetails as Record<string, unknown>, { keyMaterialId: id });
      return record;
    }

    it('leaves the key as it is when the material that expired is the one staged: the key still uses its own', () => {
      const { arn, records } = keyWithStagedMaterial();
      const { last, store } = detect([...records, expiry(arn, STAGED)]);

      expect(last).toMatchObject({
        event: 'DeleteExpiredKeyMaterial',
        severity: 'error',
        status: 'drift',
        changes: {},
      });
      expect(last.summary).toBe(
        `KMS deleted the expired key material staged for the next on-demand rotation of ${KEY_ID}: the key goes on using its current material`,
      );
      expect(last.remediation).toEqual([]);
      expect(store.snapshot(arn)?.attributes.key_state).toBe('Enabled');
      expect(store.snapshot(arn)?.stagedKeyMaterial).toBeUndefined();
    });

    it('takes the key as pending import when the material that expired is the current one', () => {
      const { arn, records } = keyWithStagedMaterial();
      const { last, store } = detect([...records, expiry(arn, CURRENT)]);

      expect(last.changes.key_state).toMatchObject({ before: 'Enabled', after: 'PendingImport' });
      expect(last.summary).toContain('the key cannot be used until it is re-imported');
      expect(store.snapshot(arn)?.attributes.key_state).toBe('PendingImport');
    });
  });

  it('leaves a disabled key disabled when its material is imported again, so the disable stays open', () => {
    // Act: the key gets its material, Mallory disables it, then imports the same material again.
    const create = rec('CreateKey__awskmsdg__1');
    const arn = (create.responseElements as { keyMetadata: { arn: string } }).keyMetadata.arn;
    const mallory = sessionIdentity('Mallory', 'x');
    const { last } = detect([
      at(create, 'create-1', '2024-01-01T00:00:01Z'),
      at(onKey(rec('ImportKeyMaterial__awskmsdg__1'), arn), 'import-1', '2024-01-01T00:00:02Z'),
      by(at(onKey(rec('DisableKey__awskmsdg__1'), arn), 'disable-1', '2024-01-01T00:00:03Z'), mallory),
      by(at(onKey(rec('ImportKeyMaterial__awskmsdg__1'), arn), 'import-2', '2024-01-01T00:00:04Z'), mallory),
    ]);

    // Assess: the re-import claims nothing about the key's state, and closes nothing.
    expect(last.changes.key_state).toBeUndefined();
    expect(Object.values(last.changes).some((change) => change.back_to_baseline)).toBe(false);
  });
});

describe('CreateAlias', () => {
  const ALIAS_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:alias/ExampleAlias`;
  /** The documented DeleteAlias record, aimed at the alias the CreateAlias sample creates. */
  const deleteExampleAlias = () =>
    rec('DeleteAlias__awskmsdg__1', (r) => {
      r.awsRegion = REGION;
      r.requestParameters = { aliasName: 'alias/ExampleAlias' };
      r.resources = [{ ARN: KEY_ARN }, { ARN: ALIAS_ARN }];
    });

  it('leaves an alias created by an unplanned principal unapproved, so deleting it resolves the drift', () => {
    // Act: Alice is not a planned principal.
    const { findings, store } = detect([
      at(rec('CreateAlias__awskmsdg__1'), 'create-1'),
      at(deleteExampleAlias(), 'delete-1'),
    ]);
    // Assess
    const [created, deleted] = findings;
    expect(created).toMatchObject({ event: 'CreateAlias', status: 'drift', severity: 'warning', resource: ALIAS_ARN });
    expect(deleted).toMatchObject({ event: 'DeleteAlias', status: 'resolved', severity: 'info' });
    expect(store.baseline(ALIAS_ARN)?.attributes.target_key_id).toBeNull();
    expect(store.baseline(KEY_ARN)?.attributes['aliases#alias/ExampleAlias']).toBeUndefined();
  });

  it('approves an alias a planned principal creates, so deleting it is drift', () => {
    const { findings, store } = detect(
      [
        at(rec('CreateAlias__awskmsdg__1'), 'create-1'),
        at(by(deleteExampleAlias(), sessionIdentity('Ops', 'mallory')), 'delete-1'),
      ],
      { plannedPrincipals: [ALICE] },
    );
    expect(findings[0]).toMatchObject({ status: 'planned', severity: 'info' });
    expect(store.baseline(KEY_ARN)?.attributes['aliases#alias/ExampleAlias']).toBe(true);
    expect(findings[1]).toMatchObject({ event: 'DeleteAlias', status: 'drift', severity: 'error' });
  });
});

/** StopLogging__stratus__1 as a StartLogging on the trail (the samples hold no StartLogging). */
const startLogging = (eventId: string, eventTime: string) =>
  at(
    onTrail(
      rec('StopLogging__stratus__1', (r) => {
        r.eventName = 'StartLogging';
      }),
    ),
    eventId,
    eventTime,
  );

describe('CreateTrail', () => {
  it("approves an unplanned trail as logging: its creator's StartLogging is no drift, anyone's StopLogging is", () => {
    // Act: Alice (not a planned principal) creates and starts a trail, as the console does; Mallory stops it.
    const { findings, store } = detect([
      at(createTrail(TRAIL_NAME, KEY_ID), 'create-1', '2024-01-01T00:00:01Z'),
      startLogging('start-1', '2024-01-01T00:00:02Z'),
      by(
        at(onTrail(rec('StopLogging__stratus__1')), 'stop-1', '2024-01-01T00:00:03Z'),
        sessionIdentity('Mallory', 'x'),
      ),
    ]);

    // Assess
    expect(findings.map((f) => [f.event, f.severity, f.status])).toEqual([
      ['CreateTrail', 'warning', 'drift'],
      ['StartLogging', 'info', 'resolved'],
      ['StopLogging', 'critical', 'drift'],
    ]);
    expect(findings[2].remediation).toEqual([`aws cloudtrail start-logging --name ${TRAIL_ARN} --region ${REGION}`]);
    expect(store.baseline(TRAIL_ARN)?.attributes).toMatchObject({ trail: 'exists', logging: true });
  });

  it('keeps what a planned principal created as the baseline: its trail not logging until it starts it', () => {
    const deployer = sessionIdentity('Deployer', 'ci');
    const { findings, store } = detect([by(at(createTrail(), 'create-1', '2024-01-01T00:00:01Z'), deployer)], {
      plannedPrincipals: [`arn:aws:iam::${ACCOUNT}:role/Deployer`],
    });
    expect(findings[0]).toMatchObject({ status: 'planned', severity: 'info' });
    expect(store.baseline(TRAIL_ARN)?.attributes.logging).toBe(false);
  });

  it('judges a trail deleted and created again against the approved trail, and keeps that approval', () => {
    // Prepare: a planned deployer creates and starts a multi-Region trail; Alice deletes it.
    const deployer = sessionIdentity('Deployer', 'ci');
    const deployerStarts = by(startLogging('start-1', '2024-01-01T00:00:02Z'), deployer);
    const recreated = at(createTrail(TRAIL_NAME, KEY_ID), 'create-2', '2024-01-01T00:00:04Z');
    (recreated.requestParameters as Record<string, unknown>).isMultiRegionTrail = false;

    // Act: ... and creates it again under the same name, single-Region and not logging.
    const { findings, store } = detect(
      [
        by(at(createTrail(TRAIL_NAME, KEY_ID), 'create-1', '2024-01-01T00:00:01Z'), deployer),
        deployerStarts,
        at(onTrail(rec('DeleteTrail__stratus__1')), 'delete-1', '2024-01-01T00:00:03Z'),
        recreated,
      ],
      { plannedPrincipals: [`arn:aws:iam::${ACCOUNT}:role/Deployer`] },
    );

    // Assess
    expect(findings[3]).toMatchObject({
      event: 'CreateTrail',
      status: 'drift',
      changes: { multi_region: { before: true, after: false } },
    });
    expect(findings[3].remediation).toEqual([
      `aws cloudtrail update-trail --name ${TRAIL_ARN} --region ${REGION} --is-multi-region-trail`,
      `aws cloudtrail start-logging --name ${TRAIL_ARN} --region ${REGION}`,
    ]);
    expect(store.baseline(TRAIL_ARN)?.attributes).toMatchObject({ trail: 'exists', logging: true, multi_region: true });
  });
});

describe('CreateCustomKeyStore', () => {
  const keyStore = (name: string, eventId: string, second: number) =>
    at(rec(name), eventId, `2021-10-21T20:17:3${second}Z`);

  it('approves a key store an unplanned principal creates as connected: disconnecting it later is drift', () => {
    const { findings, store } = detect([
      keyStore('CreateCustomKeyStore__awskmsdg__1', 'create-1', 2),
      keyStore('ConnectCustomKeyStore__awskmsdg__1', 'connect-1', 3),
      by(keyStore('DisconnectCustomKeyStore__awskmsdg__1', 'disconnect-1', 4), sessionIdentity('Mallory', 'x')),
    ]);
    expect(findings.map((f) => [f.event, f.severity, f.status])).toEqual([
      ['CreateCustomKeyStore', 'warning', 'drift'],
      ['ConnectCustomKeyStore', 'info', 'resolved'],
      ['DisconnectCustomKeyStore', 'critical', 'drift'],
    ]);
    expect(store.baseline(findings[0].resource)?.attributes).toMatchObject({ connection_state: 'CONNECTED' });
  });

  it('keeps no settings from the creation: a later UpdateCustomKeyStore says what it set, and how to inspect the store', () => {
    // Prepare
    const rename = keyStore('UpdateCustomKeyStore__awskmsdg__1', 'update-1', 5);
    rename.requestParameters = { customKeyStoreId: 'cks-1234567890abcdef0', newCustomKeyStoreName: 'Other' };
    // Act
    const { last } = detect([
      keyStore('CreateCustomKeyStore__awskmsdg__1', 'create-1', 2),
      keyStore('ConnectCustomKeyStore__awskmsdg__1', 'connect-1', 3),
      keyStore('DisconnectCustomKeyStore__awskmsdg__1', 'disconnect-1', 4),
      rename,
    ]);
    // Assess: the store was created with a name, which the creation record does not say as this setting.
    expect(last).toMatchObject({
      event: 'UpdateCustomKeyStore',
      status: 'drift',
      summary: 'Custom key store cks-1234567890abcdef0 settings changed by Alice: newCustomKeyStoreName=Other',
      changes: {
        configuration: { before: { newCustomKeyStoreName: null }, after: { newCustomKeyStoreName: 'Other' } },
      },
    });
    expect(last.remediation).toEqual([
      '# approved value unknown; inspect: aws kms describe-custom-key-stores --custom-key-store-id cks-1234567890abcdef0 --region us-east-1',
    ]);
  });

  it('says a deleted key store cannot be restored, rather than offering to connect it', () => {
    const { last } = detect([
      keyStore('CreateCustomKeyStore__awskmsdg__1', 'create-1', 2),
      keyStore('ConnectCustomKeyStore__awskmsdg__1', 'connect-1', 3),
      keyStore('DisconnectCustomKeyStore__awskmsdg__1', 'disconnect-1', 4),
      keyStore('DeleteCustomKeyStore__awskmsdg__1', 'delete-1', 5),
    ]);
    expect(last).toMatchObject({ event: 'DeleteCustomKeyStore', status: 'drift' });
    expect(last.remediation).toEqual([
      `# ${last.resource} is deleted and cannot be restored: a new one made with aws kms create-custom-key-store gets a new id`,
    ]);
  });
});

describe('Multi-Region replica keys', () => {
  const REPLICA = 'arn:aws:kms:ap-northeast-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab';
  const PRIMARY = REPLICA.replace('ap-northeast-1', 'us-west-2');

  /** The CreateKey KMS records in the replica's Region for a ReplicateKey from us-west-2. */
  const replicaCreated = () => {
    const record = createKey({ keyArn: REPLICA });
    record.awsRegion = 'ap-northeast-1';
    const metadata = (record.responseElements as { keyMetadata: Record<string, unknown> }).keyMetadata;
    metadata.multiRegion = true;
    metadata.multiRegionConfiguration = {
      multiRegionKeyType: 'REPLICA',
      primaryKey: { arn: REPLICA.replace('ap-northeast-1', 'us-west-2'), region: 'us-west-2' },
    };
    return record;
  };

  it("leaves a created replica's replica Regions unknown, so a planned promotion finds no drift in those it then lists", () => {
    // Prepare: the replica created, then made the primary by the platform's role.
    const deployer = sessionIdentity('platform-deployer', 'pipeline');
    const promote = by(rec('UpdatePrimaryRegion__awskmsdg__2'), deployer);
    const { store } = detect([by(at(replicaCreated(), 'create-1', '2021-03-10T20:00:00Z'), deployer), promote], {
      plannedPrincipals: [`arn:aws:iam::${ACCOUNT}:role/platform-deployer`],
    });
    const baseline = store.baseline(REPLICA);
    // Act: the reconciler reads the new primary, which now lists the old primary's Region as a replica.
    const live = structuredClone(baseline) as NonNullable<typeof baseline>;
    live.attributes['replica_regions#us-west-2'] = true;
    live.completeMaps = [...new Set([...live.completeMaps, 'replica_regions'])];
    const finding = reconcileResource(
      { baseline: baseline as NonNullable<typeof baseline>, live, nowMs: Date.parse('2021-03-11T00:00:00Z') },
      store,
      config(),
    );
    // Assess
    expect(baseline?.attributes.primary_region).toBe('ap-northeast-1');
    expect(finding).toBeUndefined();
  });

  it("leaves a created replica's rotation unknown: a promotion finds the rotation it shares with its primary no drift", () => {
    // Prepare: the replica created while its primary rotates, then made the primary by the platform's role.
    const deployer = sessionIdentity('platform-deployer', 'pipeline');
    const promote = by(rec('UpdatePrimaryRegion__awskmsdg__2'), deployer);
    const { findings, store } = detect(
      [by(at(replicaCreated(), 'create-1', '2021-03-10T20:00:00Z'), deployer), promote],
      { plannedPrincipals: [`arn:aws:iam::${ACCOUNT}:role/platform-deployer`] },
    );
    const baseline = store.baseline(REPLICA) as NonNullable<ReturnType<typeof store.baseline>>;
    // Act: the reconciler reads the new primary, whose rotation (the primary's all along) it now reads.
    const live = structuredClone(baseline);
    live.attributes.enable_key_rotation = true;
    live.attributes.rotation_period_in_days = 365;
    const finding = reconcileResource({ baseline, live, nowMs: Date.parse('2021-03-11T00:00:00Z') }, store, config());
    // Assess: no drift undone by turning off the rotation every replica shares.
    expect(findings[0].changes.enable_key_rotation).toBeUndefined();
    expect(finding).toBeUndefined();
  });

  it('reports rotation turned off at a promoted replica as drift, not as already at its baseline', () => {
    // Prepare: the replica created while its primary rotates, then made the primary.
    const disable = by(
      at(onKey(rec('DisableKeyRotation__awskmsdg__1'), REPLICA), 'disable-rotation-1', '2021-03-11T20:00:00Z'),
      sessionIdentity('Mallory', 'x'),
    );
    // Act
    const { last } = detect([
      at(replicaCreated(), 'create-1', '2021-03-10T20:00:00Z'),
      rec('UpdatePrimaryRegion__awskmsdg__2'),
      disable,
    ]);
    // Assess
    expect(last).toMatchObject({ status: 'drift', changes: { enable_key_rotation: { before: true, after: false } } });
    expect(last.remediation).toEqual([
      `aws kms enable-key-rotation --key-id ${REPLICA} --region ap-northeast-1`,
      `# approved value unknown; inspect: aws kms get-key-rotation-status --key-id ${REPLICA} --region ap-northeast-1`,
    ]);
  });

  it('approves a replica KMS answers as Creating as Enabled, which it becomes: disabling it later is undone by enabling it', () => {
    // Prepare: KMS answers a replica's creation with the transient state Creating.
    const created = replicaCreated();
    const metadata = (created.responseElements as { keyMetadata: Record<string, unknown> }).keyMetadata;
    metadata.keyState = 'Creating';
    metadata.enabled = false;
    // Act
    const { findings, store } = detect([
      at(created, 'create-1', '2021-03-10T20:00:00Z'),
      by(
        at(onKey(rec('DisableKey__awskmsdg__1'), REPLICA), 'disable-1', '2021-03-10T21:00:00Z'),
        sessionIdentity('Mallory', 'x'),
      ),
    ]);
    // Assess
    expect(findings[0].changes.key_state).toEqual({ before: null, after: 'Enabled' });
    expect(store.baseline(REPLICA)?.attributes.key_state).toBe('Enabled');
    expect(findings[1]).toMatchObject({
      status: 'drift',
      changes: { key_state: { before: 'Enabled', after: 'Disabled' } },
    });
    expect(findings[1].remediation).toEqual([`aws kms enable-key --key-id ${REPLICA} --region ap-northeast-1`]);
  });

  it('forgets the replica Regions and rotation of a primary made a replica: moved back, what its primary changed meanwhile is no drift', () => {
    // Prepare: a multi-Region primary in us-west-2 rotating, replicated to ap-northeast-1, made a replica there and
    // later the primary again, all by the platform's role.
    const deployer = sessionIdentity('platform-deployer', 'pipeline');
    const created = createKey({ keyArn: PRIMARY, identity: deployer });
    const metadata = (created.responseElements as { keyMetadata: Record<string, unknown> }).keyMetadata;
    metadata.multiRegion = true;
    const rotate = by(
      at(onKey(rec('EnableKeyRotation__awskmsdg__1'), PRIMARY), 'rotate-1', '2021-03-10T19:10:00Z'),
      deployer,
    );
    const replicate = by(
      at(onKey(rec('UpdatePrimaryRegion__awskmsdg__1'), PRIMARY), 'replicate-1', '2021-03-10T19:30:00Z'),
      deployer,
    );
    replicate.eventName = 'ReplicateKey';
    replicate.requestParameters = { keyId: PRIMARY, replicaRegion: 'ap-northeast-1' };
    const away = by(at(rec('UpdatePrimaryRegion__awskmsdg__1'), 'away-1', '2021-03-10T20:23:37Z'), deployer);
    const back = by(at(rec('UpdatePrimaryRegion__awskmsdg__1'), 'back-1', '2021-03-12T20:00:00Z'), deployer);
    (back.requestParameters as Record<string, unknown>).primaryRegion = 'us-west-2';
    const { store } = detect([at(created, 'create-1', '2021-03-10T19:00:00Z'), rotate, replicate, away, back], {
      plannedPrincipals: [`arn:aws:iam::${ACCOUNT}:role/platform-deployer`],
    });
    const baseline = store.baseline(PRIMARY) as NonNullable<ReturnType<typeof store.baseline>>;
    // Act: meanwhile the primary in ap-northeast-1 was replicated to eu-west-1 and stopped rotating (recorded in those
    // Regions only); the reconciler reads the key, the primary again.
    const live = structuredClone(baseline);
    Object.assign(live.attributes, {
      'replica_regions#ap-northeast-1': true,
      'replica_regions#eu-west-1': true,
      enable_key_rotation: false,
      rotation_period_in_days: null,
    });
    live.completeMaps = [...new Set([...live.completeMaps, 'replica_regions'])];
    const finding = reconcileResource({ baseline, live, nowMs: Date.parse('2021-03-13T00:00:00Z') }, store, config());
    // Assess: no drift, undone by deleting the eu-west-1 replica and turning rotation back on.
    expect(baseline.attributes.primary_region).toBe('us-west-2');
    expect(finding).toBeUndefined();
  });

  it("records a replica's primary Region as KMS names it, so promoting the replica is drift", () => {
    const { findings } = detect([
      at(replicaCreated(), 'create-1', '2021-03-10T20:00:00Z'),
      rec('UpdatePrimaryRegion__awskmsdg__2'),
    ]);

    expect(findings[0].changes.primary_region).toEqual({ before: null, after: 'us-west-2' });
    expect(findings[1]).toMatchObject({
      status: 'drift',
      changes: { primary_region: { before: 'us-west-2', after: 'ap-northeast-1' } },
    });
  });
});
