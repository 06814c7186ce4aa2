/**
 * The four statuses of DESIGN.md: drift, resolved, planned, denied.
 */
import { formatPagerDutyEvents } from '../../lambda/alerts/pagerduty';
import type { CloudTrailRecord } from '../helpers/fixtures';
import {
  at,
  by,
  createAlias,
  createKey,
  detect,
  EXTERNAL_ACCOUNT,
  KEY_ARN,
  KEY_ID,
  OTHER_KEY_ARN,
  OTHER_KEY_ID,
  onKey,
  policyWith,
  putKeyPolicy,
  rec,
  sessionIdentity,
} from './harness';

const ADMIN_ROLE = 'arn:aws:iam::111122223333:role/Admin';
const adminSession = () => sessionIdentity('Admin', 'user01');

describe('Status: drift', () => {
  it('reports a change away from the baseline as drift with the catalogue severity', () => {
    const { last } = detect([createKey(), onKey(rec('TagResource__awskmsdg__1'))]);
    expect(last.status).toBe('drift');
    expect(last.severity).toBe('warning');
    // The key was created without tags: its tag map is known in full, so the tag was absent before.
    expect(last.changes).toEqual({ tags: { before: { Department: null }, after: { Department: 'IT' } } });
  });

  it('reports a change that only repeats the baseline as resolved, saying that it changed nothing', () => {
    // Rotation is off when a key is created: turning it off again leaves the key at its baseline.
    const { last } = detect([createKey(), onKey(rec('DisableKeyRotation__awskmsdg__1'))]);
    expect(last).toMatchObject({
      status: 'resolved',
      severity: 'info',
      changes: { enable_key_rotation: { before: false, after: false, unchanged: true } },
      summary:
        'DisableKeyRotation on 1234abcd-12ab-34cd-56ef-1234567890ab by Alice changed nothing: already at its baseline',
    });
  });

  it('reports a key disabled from its Enabled baseline as critical drift', () => {
    const { last } = detect([createKey(), onKey(rec('DisableKey__awskmsdg__1'))]);
    expect(last).toMatchObject({
      status: 'drift',
      severity: 'critical',
      resource: KEY_ARN,
      changes: { key_state: { before: 'Enabled', after: 'Disabled' } },
    });
  });

  it('names the drifting attribute of a change keydrift already knew (made twice), for the incident it belongs to', () => {
    // Act: the key is disabled twice, then enabled again.
    const { findings } = detect([
      createKey(),
      at(onKey(rec('DisableKey__awskmsdg__1')), 'disable-1'),
      at(onKey(rec('DisableKey__awskmsdg__1')), 'disable-2'),
      at(onKey(rec('EnableKey__awskmsdg__1')), 'enable-1'),
    ]);
    const [, , again, enabled] = findings;

    // Assess: the repeat is still critical drift, on key_state, and the page it sends is the incident EnableKey closes.
    expect(again).toMatchObject({
      status: 'drift',
      severity: 'critical',
      changes: { key_state: { before: 'Disabled', after: 'Disabled', already_known: true } },
    });
    const [paged] = formatPagerDutyEvents(again, 'routing-key');
    const [closed] = formatPagerDutyEvents(enabled, 'routing-key');
    expect([paged.event_action, closed.event_action]).toEqual(['trigger', 'resolve']);
    expect(paged.dedup_key).toBe(closed.dedup_key);
  });

  describe('a grant DynamoDB makes on a key keydrift knows, ended at 00:00:02, its CreateGrant of 00:00:01 delivered first or last', () => {
    const grant = () => at(onKey(rec('CreateGrant__awskmsdg__3')), 'grant', '2024-01-01T00:00:01Z');
    const grantId = String(grant().responseElements?.grantId);
    /** `record` (RevokeGrant or RetireGrant) ending DynamoDB's grant, at 00:00:02. */
    const ending = (record: CloudTrailRecord) => {
      const end = at(onKey(record), 'end', '2024-01-01T00:00:02Z');
      if (end.requestParameters) end.requestParameters.grantId = grantId;
      else end.additionalEventData = { grantId };
      return end;
    };
    /** The findings, by event, and the approved grant, of the grant and its end delivered in order, then end first. */
    const bothOrders = (end: CloudTrailRecord) =>
      [detect([createKey(), grant(), end]), detect([createKey(), structuredClone(end), grant()])].map(
        ({ findings, store }) => ({
          findings: Object.fromEntries(findings.slice(1).map((f) => [f.event, f])),
          approved: store.baseline(KEY_ARN)?.attributes[`grants#${grantId}`],
        }),
      );

    it('reports Alice revoking it as drift, warning, also when her RevokeGrant is judged first; it stays approved', () => {
      // Act
      const [inOrder, endFirst] = bothOrders(ending(rec('RevokeGrant__awskmsdg__1')));

      // Assess: her revoke pages either way (not "changed nothing"), and the routine grant is approved either way.
      for (const { findings } of [inOrder, endFirst]) {
        expect(findings.CreateGrant).toMatchObject({ status: 'planned', severity: 'info' });
        expect(findings.RevokeGrant).toMatchObject({ status: 'drift', severity: 'warning' });
      }
      expect(endFirst.findings.RevokeGrant.summary).toBe(
        `Grant ${grantId.slice(0, 12)}… on ${KEY_ID} revoked by Alice`,
      );
      expect(inOrder.approved).toMatchObject({ grantee_principal: 'dynamodb.us-west-2.amazonaws.com' });
      expect(endFirst.approved).toEqual(inOrder.approved);
    });

    it('stays silent when DynamoDB retires it itself, its RetireGrant judged first or not: routine, nothing approved', () => {
      // Prepare: DynamoDB's caller retires the grant, as DynamoDB (its caller's session, invoked by it).
      const retire = by(ending(rec('RetireGrant__awskmsdg__1')), grant().userIdentity as Record<string, unknown>);
      retire.sourceIPAddress = 'dynamodb.amazonaws.com';

      // Act
      const [inOrder, endFirst] = bothOrders(retire);

      // Assess
      for (const { findings, approved } of [inOrder, endFirst]) {
        for (const finding of Object.values(findings)) {
          expect(finding).toMatchObject({ status: 'planned', severity: 'info' });
          expect(finding.changes.grants.back_to_baseline).toBeUndefined();
        }
        expect(approved ?? null).toBeNull();
      }
    });
  });
});

describe('Status: resolved', () => {
  it('reports EnableKey after DisableKey on a key with a known baseline as resolved, info', () => {
    // Prepare
    const records = [
      createKey(),
      at(onKey(rec('DisableKey__awskmsdg__1')), 'disable-1'),
      at(onKey(rec('EnableKey__awskmsdg__1')), 'enable-1'),
    ];
    // Act
    const { findings } = detect(records);
    // Assess
    expect(findings.map((f) => [f.event, f.status, f.severity])).toEqual([
      ['CreateKey', 'drift', 'warning'],
      ['DisableKey', 'drift', 'critical'],
      ['EnableKey', 'resolved', 'info'],
    ]);
    expect(findings[2].changes).toEqual({
      key_state: { before: 'Disabled', after: 'Enabled', back_to_baseline: true },
    });
    expect(findings[2].summary).toMatch(/back to its baseline$/);
    expect(findings[2].remediation).toEqual([]);
  });

  it('reports resolved as info even for an event whose default is critical', () => {
    const records = [
      createKey(),
      at(onKey(rec('EnableKey__awskmsdg__1')), 'enable-1'),
      at(onKey(rec('DisableKey__awskmsdg__1')), 'disable-1'),
      at(onKey(rec('EnableKey__awskmsdg__1')), 'enable-2'),
    ];
    const { findings } = detect(records);
    expect(findings[1]).toMatchObject({ status: 'resolved', severity: 'info' });
  });

  it('is not resolved while another entry of the attribute it touched still drifts (a grant to another account)', () => {
    // Prepare: two unapproved grants, one to another account; then the internal one is revoked.
    const grant = (grantId: string, granteePrincipal: string, eventId: string) =>
      at(
        onKey(
          rec('CreateGrant__awskmsdg__1', (r) => {
            Object.assign(r.requestParameters as object, { granteePrincipal });
            r.responseElements = { grantId };
          }),
        ),
        eventId,
      );
    const revoke = at(
      onKey(
        rec('RevokeGrant__awskmsdg__1', (r) => {
          Object.assign(r.requestParameters as object, { grantId: 'internal-grant' });
        }),
      ),
      'revoke-1',
    );

    // Act
    const { findings } = detect([
      createKey(),
      grant('external-grant', `arn:aws:iam::${EXTERNAL_ACCOUNT}:role/x`, 'grant-1'),
      grant('internal-grant', 'arn:aws:iam::111122223333:role/app', 'grant-2'),
      revoke,
    ]);

    // Assess: the grants attribute is not back (no pager resolve), and the remediation removes what still drifts.
    const revoked = findings[3];
    expect(revoked).toMatchObject({ event: 'RevokeGrant', status: 'drift' });
    expect(revoked.changes.grants.back_to_baseline).toBeUndefined();
    expect(revoked.remediation).toEqual([
      `aws kms revoke-grant --key-id ${KEY_ARN} --region us-west-2 --grant-id external-grant`,
    ]);
  });
});

describe('Status: planned', () => {
  it('reports a change by a session of a planned role as planned, info, and moves the baseline', () => {
    // Prepare
    const opened = policyWith({
      Sid: 'Let the analytics role decrypt',
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::111122223333:role/analytics' },
      Action: 'kms:Decrypt',
      Resource: '*',
    });
    const records = [createKey(), by(putKeyPolicy(opened), adminSession())];
    // Act
    const { last, store } = detect(records, { plannedPrincipals: [ADMIN_ROLE] });
    // Assess
    expect(last).toMatchObject({
      status: 'planned',
      severity: 'info',
      user: 'arn:aws:sts::111122223333:assumed-role/Admin/user01',
    });
    expect(last.summary).toMatch(/\(planned; baseline updated\)$/);
    expect(last.changes.policy.added_principals).toEqual(['arn:aws:iam::111122223333:role/analytics']);
    expect(store.baseline(KEY_ARN)?.attributes.policy).toEqual(store.snapshot(KEY_ARN)?.attributes.policy);
  });

  it('marks a planned change back at its baseline only where it approves drift: a key at its baseline has no incident', () => {
    // Prepare: the admin disables a key that was at its baseline, then enables it again once someone disabled it.
    const records = [
      createKey(),
      at(by(onKey(rec('DisableKey__awskmsdg__1')), adminSession()), 'planned-disable', '2030-01-01T10:00:00Z'),
      at(onKey(rec('EnableKey__awskmsdg__1')), 'unplanned-enable', '2030-01-01T11:00:00Z'),
      at(by(onKey(rec('DisableKey__awskmsdg__1')), adminSession()), 'planned-disable-again', '2030-01-01T12:00:00Z'),
    ];
    // Act
    const { findings } = detect(records, { plannedPrincipals: [ADMIN_ROLE] });
    // Assess
    const [, fromBaseline, drift, approvingDrift] = findings;
    expect(fromBaseline).toMatchObject({
      status: 'planned',
      changes: { key_state: { before: 'Enabled', after: 'Disabled' } },
    });
    expect(fromBaseline.changes.key_state).not.toHaveProperty('back_to_baseline');
    expect(drift).toMatchObject({ status: 'drift', changes: { key_state: { before: 'Disabled', after: 'Enabled' } } });
    expect(approvingDrift).toMatchObject({ status: 'planned', changes: { key_state: { back_to_baseline: true } } });
  });

  it('reports an unplanned revert of a planned change as drift', () => {
    // After the creation (2021-10-14): the sample's own time (2020) is older than the key.
    const rotationOn = at(
      by(onKey(rec('EnableKeyRotation__awskmsdg__1')), adminSession()),
      'on',
      '2021-10-14T18:00:00Z',
    );
    const rotationOff = onKey(rec('DisableKeyRotation__awskmsdg__1'));
    const { findings } = detect([createKey(), rotationOn, rotationOff], { plannedPrincipals: [ADMIN_ROLE] });
    expect(findings[1]).toMatchObject({ event: 'EnableKeyRotation', status: 'planned', severity: 'info' });
    expect(findings[2]).toMatchObject({
      event: 'DisableKeyRotation',
      status: 'drift',
      severity: 'error',
      changes: { enable_key_rotation: { before: true, after: false } },
    });
    expect(findings[2].remediation).toEqual([`aws kms enable-key-rotation --key-id ${KEY_ARN} --region us-west-2`]);
  });

  it('keeps the newer of two planned changes approved when the older arrives last (EventBridge does not keep order)', () => {
    // Prepare: rotation turned on by the admin at 20:10, and turned off by the admin at 20:00, delivered after.
    const on = at(by(onKey(rec('EnableKeyRotation__awskmsdg__1')), adminSession()), 'on', '2030-01-01T20:10:00Z');
    const off = at(by(onKey(rec('DisableKeyRotation__awskmsdg__1')), adminSession()), 'off', '2030-01-01T20:00:00Z');
    // Act
    const { last, store } = detect([createKey(), on, off], { plannedPrincipals: [ADMIN_ROLE] });
    // Assess: the late change is still reported as planned, but what stays approved is the newer one.
    expect(last).toMatchObject({ event: 'DisableKeyRotation', status: 'planned' });
    expect(store.baseline(KEY_ARN)?.attributes.enable_key_rotation).toBe(true);
  });

  it('keeps a planned change approved when the planned creation it followed arrives after it', () => {
    // Prepare: the key created by the admin at 20:00 (rotation off), its rotation turned on at 20:00:05, delivered first.
    const created = at(createKey({ identity: adminSession() }), 'created', '2030-01-01T20:00:00Z');
    const on = at(by(onKey(rec('EnableKeyRotation__awskmsdg__1')), adminSession()), 'on', '2030-01-01T20:00:05Z');
    const off = at(onKey(rec('DisableKeyRotation__awskmsdg__1')), 'off', '2030-01-01T21:00:00Z');
    // Act
    const { last, store } = detect([on, created, off], { plannedPrincipals: [ADMIN_ROLE] });
    // Assess: rotation stays approved on, so Alice turning it off is drift, not back to the baseline.
    expect(store.baseline(KEY_ARN)?.attributes.enable_key_rotation).toBe(true);
    expect(last).toMatchObject({ event: 'DisableKeyRotation', status: 'drift' });
  });

  it('keeps a planned change approved when the planned creation of the same second arrives after it', () => {
    // Prepare: the key created by the admin and its rotation turned on in the same second (CloudTrail times are whole
    // seconds), the rotation delivered first.
    const created = at(createKey({ identity: adminSession() }), 'created', '2030-01-01T20:00:00Z');
    const on = at(by(onKey(rec('EnableKeyRotation__awskmsdg__1')), adminSession()), 'on', '2030-01-01T20:00:00Z');
    const off = at(onKey(rec('DisableKeyRotation__awskmsdg__1')), 'off', '2030-01-01T21:00:00Z');
    // Act
    const { last, store } = detect([on, created, off], { plannedPrincipals: [ADMIN_ROLE] });
    // Assess: the creation came first, so rotation stays approved on, and Alice turning it off is drift.
    expect(store.baseline(KEY_ARN)?.attributes.enable_key_rotation).toBe(true);
    expect(last).toMatchObject({ event: 'DisableKeyRotation', status: 'drift' });
  });

  describe('an alias the admin moves to another key by deleting and creating it again in one second', () => {
    const ALIAS_ARN = `arn:aws:kms:us-west-2:111122223333:alias/payments`;
    const aliasCall = (record: ReturnType<typeof rec>, id: string, time: string, identity = adminSession()) =>
      at(by(record, identity), id, time);
    const created = () => aliasCall(createAlias('alias/payments', KEY_ID), 'created', '2030-01-01T19:00:00Z');
    const deleted = () =>
      aliasCall(
        rec('DeleteAlias__awskmsdg__1', (r) => {
          r.awsRegion = 'us-west-2';
          r.requestParameters = { aliasName: 'alias/payments' };
          r.resources = [{ ARN: KEY_ARN }, { ARN: ALIAS_ARN }];
        }),
        'deleted',
        '2030-01-01T20:00:00Z',
      );
    const moved = () => aliasCall(createAlias('alias/payments', OTHER_KEY_ID), 'moved', '2030-01-01T20:00:00Z');
    // Alice (not planned) deletes the alias an hour later.
    const removed = () =>
      at(
        rec('DeleteAlias__awskmsdg__1', (r) => {
          r.awsRegion = 'us-west-2';
          r.requestParameters = { aliasName: 'alias/payments' };
          r.resources = [{ ARN: OTHER_KEY_ARN }, { ARN: ALIAS_ARN }];
        }),
        'removed',
        '2030-01-01T21:00:00Z',
      );

    it('keeps it approved on the other key when the deletion is delivered first, as it came', () => {
      // Act: the name existed, so it was deleted first (it cannot be created while it exists).
      const { last, store } = detect([created(), deleted(), moved(), removed()], { plannedPrincipals: [ADMIN_ROLE] });
      // Assess: the alias is approved on the other key, so Alice deleting it is drift.
      expect(store.baseline(ALIAS_ARN)?.attributes.target_key_id).toBe(OTHER_KEY_ARN);
      expect(last).toMatchObject({ event: 'DeleteAlias', status: 'drift' });
    });
  });

  it('reports a critical event by a planned principal as info', () => {
    const { last } = detect([by(onKey(rec('ScheduleKeyDeletion__awskmsdg__1')), adminSession())], {
      plannedPrincipals: [ADMIN_ROLE],
    });
    expect(last).toMatchObject({ status: 'planned', severity: 'info', remediation: [] });
  });
});

describe('Status: denied', () => {
  const deniedDisable = () =>
    onKey(
      rec('DisableKey__awskmsdg__1', (r) => {
        r.errorCode = 'AccessDenied';
        r.errorMessage = 'User: arn:aws:iam::111122223333:user/Alice is not authorized to perform: kms:DisableKey';
      }),
    );

  it('reports a call that failed with AccessDenied as denied, warning', () => {
    const { last } = detect([createKey(), deniedDisable()]);
    expect(last).toMatchObject({
      event: 'DisableKey',
      resource: KEY_ARN,
      status: 'denied',
      severity: 'warning',
      remediation: [],
      error: {
        code: 'AccessDenied',
        message: 'User: arn:aws:iam::111122223333:user/Alice is not authorized to perform: kms:DisableKey',
      },
    });
    expect(last.summary).toBe(`Denied (AccessDenied): Alice tried DisableKey on ${KEY_ID}`);
  });

  it('never marks what a denied call aimed at as back at its baseline: a failed EnableKey closes no incident', () => {
    // Prepare: the key disabled (critical, paged), then an EnableKey that failed.
    const deniedEnable = onKey(
      rec('DisableKey__awskmsdg__1', (r) => {
        Object.assign(r, { eventName: 'EnableKey', eventID: 'e2f4a6c8-0000-4000-8000-00000000e0e0' });
        r.errorCode = 'AccessDenied';
      }),
    );
    // Act
    const { last } = detect([createKey(), onKey(rec('DisableKey__awskmsdg__1')), deniedEnable]);
    // Assess: the incident of the disabled key stays open.
    expect(last).toMatchObject({ event: 'EnableKey', status: 'denied' });
    expect(last.changes.key_state).not.toHaveProperty('back_to_baseline');
    expect(formatPagerDutyEvents(last, 'routing-key').map((e) => e.event_action)).not.toContain('resolve');
  });

  it.each([
    ['alias name', 'alias/unknown'],
    ['alias ARN', 'arn:aws:kms:us-west-2:111122223333:alias/unknown'],
  ])('names the alias a denied call aimed at by %s when keydrift never saw where it points', (_, keyId) => {
    const denied = rec('DisableKey__awskmsdg__1', (r) => {
      r.errorCode = 'AccessDenied';
      r.awsRegion = 'us-west-2';
      r.requestParameters = { keyId };
      r.resources = [];
    });
    const { last } = detect([denied]);
    expect(last).toMatchObject({ status: 'denied', resource: 'arn:aws:kms:us-west-2:111122223333:alias/unknown' });
    expect(last.summary).toBe('Denied (AccessDenied): Alice tried DisableKey on alias/unknown');
  });

  it('says a dry run KMS would have allowed is one, not a denial: nothing changed, but the caller may do it', () => {
    const dryRun = onKey(
      rec('DisableKey__awskmsdg__1', (r) => {
        r.errorCode = 'DryRunOperationException';
        r.errorMessage = 'The request would have succeeded, but the DryRun option is set.';
      }),
    );
    const { last, store } = detect([createKey(), dryRun]);
    expect(last).toMatchObject({ status: 'denied', remediation: [], error: { code: 'DryRunOperationException' } });
    expect(last.summary).toBe(
      `Dry run: Alice checked DisableKey on ${KEY_ID}, which would have succeeded (nothing changed)`,
    );
    expect(store.snapshot(KEY_ARN)?.attributes.key_state).toBe('Enabled');
  });

  it('changes nothing in state or baseline', () => {
    // Prepare
    const { store: before } = detect([createKey()]);
    // Act
    const { store: after } = detect([createKey(), deniedDisable()]);
    // Assess
    expect(after.snapshot(KEY_ARN)).toEqual(before.snapshot(KEY_ARN));
    expect(after.baseline(KEY_ARN)).toEqual(before.baseline(KEY_ARN));
  });

  it('leaves an unseen key unknown, so nothing is inferred from the attempt', () => {
    const { store } = detect([deniedDisable()]);
    expect(store.snapshot(KEY_ARN)).toBeUndefined();
    expect(store.baseline(KEY_ARN)?.attributes ?? {}).toEqual({});
  });

  it('words the reasons of a denied attempt as what it would have done', () => {
    const opening = onKey(
      rec('PutKeyPolicy__awskmsdg__1', (r) => {
        r.errorCode = 'AccessDenied';
        (r.requestParameters as Record<string, unknown>).policy = JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { AWS: '444455556666' }, Action: 'kms:Decrypt', Resource: '*' }],
        });
      }),
    );
    const { last } = detect([createKey(), opening]);
    expect(last).toMatchObject({ status: 'denied', severity: 'warning' });
    expect(last.reasons).toEqual([
      'had it succeeded: NoOutsideAccessGained: account 444455556666 gained access to the key',
    ]);
  });

  it('reports a denied attempt as warning whatever the event', () => {
    const { last } = detect([
      rec('StopLogging__panther__2', (r) => {
        r.errorCode = 'AccessDenied';
      }),
    ]);
    expect(last).toMatchObject({ status: 'denied', severity: 'warning', service: 'cloudtrail' });
  });
});
