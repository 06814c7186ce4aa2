/**
 * DESIGN.md's severities and statuses over every watched sample: on a key whose baseline keydrift knows (a planned
 * creation), by an unplanned principal, by a session of a planned role, and denied; plus the escalations and
 * fences the severity table leaves to examples.
 */
import type { Severity, Status } from '../../lambda/core/types';
import { KMS_API_WRITES, KMS_SERVICE_EVENTS, TRAIL_WRITES } from '../../lambda/core/watched-events';
import { type CloudTrailRecord, sample, sampleNames } from '../helpers/fixtures';
import {
  ACCOUNT,
  at,
  by,
  cloudTrailStatement,
  createKey,
  createTrail,
  decryptFor,
  detect,
  EXTERNAL_ACCOUNT,
  KEY_ARN,
  KEY_ID,
  onKey,
  policyWith,
  putKeyPolicy,
  rec,
  sessionIdentity,
} from './harness';

const PLANNED = { plannedPrincipals: [`arn:aws:iam::${ACCOUNT}:role/platform-deployer`] };
const deployer = () => sessionIdentity('platform-deployer', 'codepipeline-7f3a');
const QUIET = { severityOverrides: { PutKeyPolicy: 'warning', DisableKey: 'warning', ScheduleKeyDeletion: 'warning' } };

/** The records one second apart, in the order given, so that no planned change is older than what it follows. */
const inOrder = (records: CloudTrailRecord[]): CloudTrailRecord[] =>
  records.map((record, index) =>
    at(record, `matrix-${index}`, new Date(Date.UTC(2026, 0, 1, 0, 0, index)).toISOString()),
  );

/** The sample after a planned creation of the key it names (when it names a key it does not create). */
function onKnownKey(name: string, identity?: Record<string, unknown>): CloudTrailRecord[] {
  const record = sample(name);
  if (identity) by(record, identity);
  const keyArn = record.resources?.map((resource) => String(resource.ARN)).find((arn) => arn.includes(':key/'));
  const creation = keyArn && record.eventName !== 'CreateKey' ? [createKey({ keyArn, identity: deployer() })] : [];
  return inOrder([...creation, record]);
}

/** Every watched sample: the status and severity of an unplanned principal's call on a key with a known baseline. */
const unplanned: Array<[string, Status, Severity]> = [
  ['CancelKeyDeletion__awskmsdg__1', 'drift', 'info'],
  ['ConnectCustomKeyStore__awskmsdg__1', 'drift', 'info'],
  ['CreateAlias__awskmsdg__1', 'drift', 'warning'],
  ['CreateCustomKeyStore__awskmsdg__1', 'drift', 'warning'],
  ['CreateGrant__awskmsdg__1', 'drift', 'error'],
  ['CreateGrant__awskmsdg__2', 'drift', 'error'],
  ['CreateKey__awskmsdg__1', 'drift', 'warning'],
  ['CreateKey__awskmsdg__2', 'drift', 'warning'],
  ['CreateKey__awskmsdg__3', 'drift', 'warning'],
  ['CreateKey__streamalert__1', 'drift', 'critical'],
  ['DeleteAlias__awskmsdg__1', 'drift', 'error'],
  ['DeleteCustomKeyStore__awskmsdg__1', 'drift', 'critical'],
  ['DeleteImportedKeyMaterial__awskmsdg-current__1', 'drift', 'critical'],
  ['DeleteKey__awskmsdg__1', 'drift', 'critical'],
  ['DeleteKey__awskmsdg__2', 'drift', 'critical'],
  ['DeleteKey__awskmsdg__3', 'drift', 'critical'],
  // Not in the table: KMS deleting expired imported material, rated as the expiration event that precedes it.
  ['DeleteExpiredKeyMaterial__awskmsdg__1', 'drift', 'error'],
  ['DeleteTrail__stratus__1', 'drift', 'critical'],
  // A key KMS creates with rotation off: turning it off again repeats the baseline.
  ['DisableKeyRotation__awskmsdg__1', 'resolved', 'info'],
  ['DisableKey__awskmsdg__1', 'drift', 'critical'],
  ['DisconnectCustomKeyStore__awskmsdg__1', 'drift', 'critical'],
  ['EnableKeyRotation__awskmsdg__1', 'drift', 'info'],
  ['EnableKey__awskmsdg__1', 'resolved', 'info'],
  ['ImportKeyMaterial__awskmsdg__1', 'drift', 'error'],
  ['PutEventSelectors__panther__1', 'drift', 'critical'],
  ['PutEventSelectors__stratus__1', 'drift', 'critical'],
  // The documentation's PutKeyPolicy sets KMS's default policy, the one the key was created with.
  ['PutKeyPolicy__awskmsdg__1', 'resolved', 'info'],
  ['PutKeyPolicy__panther__1', 'drift', 'critical'],
  ['PutKeyPolicy__streamalert__1', 'drift', 'critical'],
  // The created key has no grant: one ended was made since, its CreateGrant (delivered late) all that tells whether it
  // was approved.
  ['RetireGrant__awskmsdg__1', 'drift', 'warning'],
  ['RevokeGrant__awskmsdg__1', 'drift', 'warning'],
  ['RotateKeyOnDemand__awskmsdg-current__1', 'drift', 'info'],
  ['ScheduleKeyDeletion__awskmsdg__1', 'drift', 'critical'],
  ['ScheduleKeyDeletion__awskmsdg__2', 'drift', 'critical'],
  ['ScheduleKeyDeletion__awskmsdg__3', 'drift', 'critical'],
  ['ScheduleKeyDeletion__panther__1', 'drift', 'critical'],
  ['StopLogging__stratus__1', 'drift', 'critical'],
  ['StopLogging__streamalert__1', 'drift', 'critical'],
  ['TagResource__awskmsdg__1', 'drift', 'warning'],
  // Nor a tag: removing one leaves it at its baseline.
  ['UntagResource__awskmsdg__1', 'resolved', 'info'],
  ['UpdateAlias__awskmsdg__1', 'drift', 'error'],
  ['UpdateCustomKeyStore__awskmsdg__1', 'drift', 'error'],
  ['UpdateKeyDescription__awskmsdg__1', 'drift', 'warning'],
  ['UpdatePrimaryRegion__awskmsdg__1', 'drift', 'error'],
  ['UpdatePrimaryRegion__awskmsdg__2', 'drift', 'error'],
  ['UpdateTrail__panther__1', 'drift', 'error'],
  ['UpdateTrail__streamalert__1', 'drift', 'critical'],
];

/** Samples whose call failed as recorded, and changes KMS makes itself (no caller to plan). */
const recordedDenied = [
  'CreateTrail__panther__1',
  'DeleteTrail__panther__1',
  'DisableKey__panther__1',
  'StopLogging__panther__1',
  'StopLogging__panther__2',
  'UpdateTrail__awsctug__1',
];
const byKms = [
  'CreateGrant__awskmsdg__3',
  'RotateKey__awsctug__1',
  'RotateKey__awskmsdg__1',
  'SynchronizeMultiRegionKey__awskmsdg__1',
];

const watched = new Set<string>([...KMS_API_WRITES, ...KMS_SERVICE_EVENTS, ...TRAIL_WRITES]);
const isFullArn = /^arn:aws:(kms|cloudtrail):[a-z0-9-]+:\d{12}:(key|alias|trail|custom-key-store)\/.+/;

describe('every watched sample', () => {
  it('is in this matrix, so a new sample gets a row', () => {
    const listed = new Set([...unplanned.map(([name]) => name), ...recordedDenied, ...byKms]);
    const samples = sampleNames().filter((name) => watched.has(name.split('__')[0]));
    expect(samples.filter((name) => !listed.has(name))).toEqual([]);
  });

  it.each(unplanned)('%s by an unplanned principal on a known key is %s, %s', (name, status, severity) => {
    const { last } = detect(onKnownKey(name), PLANNED);
    expect(last).toMatchObject({ status, severity });
    expect(last.resource).toMatch(isFullArn);
  });

  it.each(unplanned.map(([name]) => name))('%s by a session of a planned role is planned, info', (name) => {
    const { last } = detect(onKnownKey(name, deployer()), PLANNED);
    expect(last).toMatchObject({ status: 'planned', severity: 'info' });
  });

  it.each(unplanned.map(([name]) => name))('%s denied is a warning, whatever the event', (name) => {
    const records = onKnownKey(name);
    const attempt = records[records.length - 1];
    attempt.errorCode = 'AccessDenied';
    attempt.errorMessage = 'not authorized';
    const { last } = detect(records, PLANNED);
    expect(last).toMatchObject({ status: 'denied', severity: 'warning' });
  });

  it.each(recordedDenied)('%s, a failed call as recorded, is denied, warning even by a planned role', (name) => {
    expect(detect(onKnownKey(name, deployer()), PLANNED).last).toMatchObject({ status: 'denied', severity: 'warning' });
  });
});

describe('outside access, by condition and principal form', () => {
  const policyChange = (statement: Record<string, unknown>, created = policyWith()) =>
    detect(inOrder([createKey({ policy: created }), putKeyPolicy(policyWith(statement))]), QUIET).last;

  it.each([
    ['a lower-case condition key (keys are case-insensitive)', '*', { StringEquals: { 'kms:calleraccount': ACCOUNT } }],
    ['a list of the key account alone', '*', { StringEquals: { 'kms:CallerAccount': [ACCOUNT] } }],
    ['a list of organizations', '*', { StringEquals: { 'aws:PrincipalOrgID': ['o-a1b2c3d4e5'] } }],
    ['{"AWS": "*"} fenced by aws:SourceAccount', { AWS: '*' }, { StringEquals: { 'aws:SourceAccount': ACCOUNT } }],
  ])('does not count a wildcard fenced by %s as external', (_title, principal, condition) => {
    const finding = policyChange(decryptFor(principal, condition));
    expect(finding.changes.policy.external_accounts).toEqual([]);
    expect(finding.severity).toBe('warning');
  });

  it('counts the outside account of a fence that lists the key account and another', () => {
    const finding = policyChange(
      decryptFor('*', { StringEquals: { 'kms:CallerAccount': [ACCOUNT, EXTERNAL_ACCOUNT] } }),
    );
    expect(finding.changes.policy.external_accounts).toEqual([EXTERNAL_ACCOUNT]);
    expect(finding.severity).toBe('critical');
  });

  it('does not count the bare id of the key account as external', () => {
    expect(policyChange(decryptFor({ AWS: ACCOUNT })).changes.policy.external_accounts).toEqual([]);
  });

  it.each([
    ['root ARN to bare id', `arn:aws:iam::${EXTERNAL_ACCOUNT}:root`, EXTERNAL_ACCOUNT],
    ['bare id to root ARN', EXTERNAL_ACCOUNT, `arn:aws:iam::${EXTERNAL_ACCOUNT}:root`],
  ])('sees no new access when a policy writes the same account from %s', (_title, was, now) => {
    const finding = policyChange(decryptFor({ AWS: now }), policyWith(decryptFor({ AWS: was })));
    expect(finding).toMatchObject({ status: 'resolved', severity: 'info' });
  });

  const externalGrant = () =>
    onKey(
      rec('CreateGrant__awskmsdg__1', (r) => {
        (r.requestParameters as Record<string, unknown>).granteePrincipal = `arn:aws:iam::${EXTERNAL_ACCOUNT}:role/x`;
      }),
    );

  it('reports a planned grant to another account as planned, info', () => {
    const { last } = detect(inOrder([createKey(), by(externalGrant(), deployer())]), PLANNED);
    expect(last).toMatchObject({ status: 'planned', severity: 'info' });
    expect(last.changes.grants.external_accounts).toEqual([EXTERNAL_ACCOUNT]);
  });

  it('reports a denied grant to another account as denied, warning', () => {
    const attempt = externalGrant();
    attempt.errorCode = 'AccessDenied';
    expect(detect(inOrder([createKey(), attempt])).last).toMatchObject({ status: 'denied', severity: 'warning' });
  });

  it('reports a policy that opens the key again to the account its baseline allows as resolved, info', () => {
    const shared = policyWith(decryptFor({ AWS: EXTERNAL_ACCOUNT }));
    const { last } = detect(
      inOrder([createKey({ policy: shared, identity: deployer() }), putKeyPolicy(policyWith()), putKeyPolicy(shared)]),
      PLANNED,
    );
    expect(last).toMatchObject({ status: 'resolved', severity: 'info' });
  });
});

describe('the key of a trail', () => {
  const ALIAS_ARN = `arn:aws:kms:us-west-2:${ACCOUNT}:alias/ExampleAlias`;
  const trailOn = (kmsKeyId: string) => [
    createKey({ policy: policyWith(cloudTrailStatement()) }),
    rec('CreateAlias__awskmsdg__1'),
    createTrail('org-audit', kmsKeyId),
  ];

  it.each([
    ['key id', KEY_ID],
    ['alias name', 'alias/ExampleAlias'],
    ['alias ARN', ALIAS_ARN],
  ])('is protected when the trail names it by its %s', (_form, kmsKeyId) => {
    expect(detect(inOrder([...trailOn(kmsKeyId), onKey(rec('DisableKey__awskmsdg__1'))]), QUIET).last.severity).toBe(
      'critical',
    );
    expect(detect(inOrder([...trailOn(kmsKeyId), putKeyPolicy(policyWith())]), QUIET).last.severity).toBe('critical');
  });

  it('reports an unplanned change that takes GenerateDataKey* from CloudTrail with kms:Decrypt left as critical', () => {
    const decryptOnly = policyWith({ ...cloudTrailStatement(), Action: 'kms:Decrypt' });
    expect(detect(inOrder([...trailOn(KEY_ARN), putKeyPolicy(decryptOnly)]), QUIET).last.severity).toBe('critical');
  });

  it('reports a planned disable as planned, info, and a denied one as denied, warning', () => {
    const disable = () => onKey(rec('DisableKey__awskmsdg__1'));
    const planned = detect(inOrder([...trailOn(KEY_ARN), by(disable(), deployer())]), PLANNED).last;
    expect(planned).toMatchObject({ status: 'planned', severity: 'info' });
    const attempt = disable();
    attempt.errorCode = 'AccessDenied';
    expect(detect(inOrder([...trailOn(KEY_ARN), attempt])).last).toMatchObject({
      status: 'denied',
      severity: 'warning',
    });
  });

  it('reports disabling it again after a planned disable was undone as resolved, info', () => {
    const { findings } = detect(
      inOrder([
        ...trailOn(KEY_ARN),
        by(onKey(rec('DisableKey__awskmsdg__1')), deployer()),
        onKey(rec('EnableKey__awskmsdg__1')),
        onKey(rec('DisableKey__awskmsdg__1')),
      ]),
      PLANNED,
    );
    expect(findings.slice(-2).map(({ status, severity }) => [status, severity])).toEqual([
      ['drift', 'info'],
      ['resolved', 'info'],
    ]);
  });
});

describe('baseline inference and planned sessions', () => {
  it.each([
    ['DisableKey, ScheduleKeyDeletion, CancelKeyDeletion, EnableKey', 'resolved'],
    ['ScheduleKeyDeletion, CancelKeyDeletion, EnableKey', 'drift'],
  ])('after %s on an unseen key, the EnableKey is %s', (sequence, status) => {
    const names: Record<string, string> = {
      DisableKey: 'DisableKey__awskmsdg__1',
      ScheduleKeyDeletion: 'ScheduleKeyDeletion__awskmsdg__1',
      CancelKeyDeletion: 'CancelKeyDeletion__awskmsdg__1',
      EnableKey: 'EnableKey__awskmsdg__1',
    };
    const records = sequence.split(', ').map((event) => onKey(rec(names[event])));
    expect(detect(inOrder(records)).last).toMatchObject({ event: 'EnableKey', status, severity: 'info' });
  });

  it('matches a session whose record has no sessionContext to its issuing role, from its ARN', () => {
    const identity = deployer();
    delete identity.sessionContext;
    const { last } = detect([by(onKey(rec('DisableKey__awskmsdg__1')), identity)], PLANNED);
    expect(last).toMatchObject({ status: 'planned', severity: 'info' });
  });
});
