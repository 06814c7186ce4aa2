/**
 * DESIGN.md's escalations: outside access, CloudTrail's access to the key of its logs, and routine
 * service grants. Where the event is critical anyway, the tests lower its default in the configuration
 * so that only the escalation can make it critical.
 */
import { diffPolicies, normalizePolicy } from '../../lambda/core/policy';
import type { CloudTrailRecord } from '../helpers/fixtures';
import {
  ACCOUNT,
  at,
  by,
  cloudTrailStatement,
  cloudTrailStatementForTrailsOf,
  createKey,
  createTrail,
  decryptFor,
  detect,
  EXTERNAL_ACCOUNT,
  KEY_ARN,
  KEY_ID,
  logsStatement,
  onKey,
  policyWith,
  putKeyPolicy,
  rec,
  sessionIdentity,
  TRAIL_ARN,
} from './harness';

const QUIET_POLICY = {
  severityOverrides: { PutKeyPolicy: 'warning', DisableKey: 'warning', ScheduleKeyDeletion: 'warning' },
};

/** The finding of a PutKeyPolicy that adds `statement` to the default policy of a freshly created key. */
function policyChange(statement: Record<string, unknown>) {
  return detect([createKey(), putKeyPolicy(policyWith(statement))], QUIET_POLICY).last;
}

describe('Escalation: outside access through the key policy', () => {
  it('reports a key policy that opens the key to another account as critical drift', () => {
    const finding = policyChange(decryptFor({ AWS: EXTERNAL_ACCOUNT }));
    expect(finding).toMatchObject({ event: 'PutKeyPolicy', status: 'drift', severity: 'critical', resource: KEY_ARN });
    expect(finding.changes.policy).toMatchObject({
      added_principals: [`arn:aws:iam::${EXTERNAL_ACCOUNT}:root`],
      removed_principals: [],
      external_accounts: [EXTERNAL_ACCOUNT],
    });
    expect(finding.reasons).toEqual([`NoOutsideAccessGained: account ${EXTERNAL_ACCOUNT} gained access to the key`]);
    expect(finding.summary).toBe(`Key policy of ${KEY_ID} opened to account ${EXTERNAL_ACCOUNT} by Alice`);
  });

  it('says in its summary why a new key is critical: the account it is open to, or anyone', () => {
    const toAccount = detect([createKey({ policy: policyWith(decryptFor({ AWS: EXTERNAL_ACCOUNT })) })]).last;
    expect(toAccount).toMatchObject({ event: 'CreateKey', severity: 'critical' });
    expect(toAccount.summary).toBe(`New key ${KEY_ID} created by Alice, open to account ${EXTERNAL_ACCOUNT}`);
    const toAnyone = detect([createKey({ policy: policyWith(decryptFor('*')) })]).last;
    expect(toAnyone.summary).toBe(`New key ${KEY_ID} created by Alice, open to anyone`);
    expect(detect([createKey()]).last.summary).toBe(`New key ${KEY_ID} created by Alice`);
  });

  it.each([
    [
      "CloudTrail's statement for the trails of several accounts",
      cloudTrailStatementForTrailsOf([ACCOUNT, EXTERNAL_ACCOUNT]),
    ],
    ["CloudWatch Logs' statement for another account's log groups", logsStatement(EXTERNAL_ACCOUNT)],
  ])('reports a new key whose policy holds %s, fenced only by the encryption context, as critical', (_, statement) => {
    // The service sets the context to the resource it acts for: the ARN's account is the account it serves.
    const { last } = detect([createKey({ policy: policyWith(statement) })]);
    expect(last).toMatchObject({ event: 'CreateKey', severity: 'critical' });
    expect(last.summary).toBe(`New key ${KEY_ID} created by Alice, open to account ${EXTERNAL_ACCOUNT}`);
  });

  it('treats a bare account id principal as that account root', () => {
    const bare = policyChange(decryptFor({ AWS: EXTERNAL_ACCOUNT }));
    const root = policyChange(decryptFor({ AWS: `arn:aws:iam::${EXTERNAL_ACCOUNT}:root` }));
    expect(bare.changes).toEqual(root.changes);
  });

  it('reports a role of another account as that account', () => {
    const finding = policyChange(decryptFor({ AWS: [`arn:aws:iam::${EXTERNAL_ACCOUNT}:role/reader`] }));
    expect(finding.changes.policy.external_accounts).toEqual([EXTERNAL_ACCOUNT]);
  });

  it('reports a wildcard principal as "*" (anyone)', () => {
    const finding = policyChange(decryptFor('*'));
    expect(finding.severity).toBe('critical');
    expect(finding.changes.policy.external_accounts).toEqual(['*']);
    expect(finding.summary).toMatch(/opened to anyone by Alice$/);
  });

  it('reports {"AWS": "*"} like "*"', () => {
    expect(policyChange(decryptFor({ AWS: '*' })).changes.policy.external_accounts).toEqual(['*']);
  });

  it.each([
    ['kms:CallerAccount', { StringEquals: { 'kms:CallerAccount': ACCOUNT } }],
    ['aws:PrincipalAccount', { StringEquals: { 'aws:PrincipalAccount': ACCOUNT } }],
    ['aws:SourceAccount', { StringEquals: { 'aws:SourceAccount': ACCOUNT } }],
    ['aws:PrincipalOrgID', { StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } }],
  ])('does not count a wildcard fenced by %s to the key account or its organization as external', (_key, condition) => {
    const finding = policyChange(decryptFor('*', condition));
    expect(finding.changes.policy.external_accounts).toEqual([]);
    expect(finding.severity).toBe('warning');
  });

  it('reports a wildcard fenced to another account as that account', () => {
    const finding = policyChange(decryptFor('*', { StringEquals: { 'kms:CallerAccount': EXTERNAL_ACCOUNT } }));
    expect(finding.changes.policy.external_accounts).toEqual([EXTERNAL_ACCOUNT]);
    expect(finding.severity).toBe('critical');
  });

  it.each([
    ['StringNotEquals kms:CallerAccount (every other account)', { StringNotEquals: { 'kms:CallerAccount': ACCOUNT } }],
    ['StringEqualsIfExists aws:PrincipalAccount', { StringEqualsIfExists: { 'aws:PrincipalAccount': ACCOUNT } }],
    ['StringLike kms:CallerAccount "*"', { StringLike: { 'kms:CallerAccount': '*' } }],
    ['StringLike aws:PrincipalOrgID "o-*"', { StringLike: { 'aws:PrincipalOrgID': 'o-*' } }],
  ])('reports a wildcard whose condition does not confine it (%s) as "*"', (_title, condition) => {
    const finding = policyChange(decryptFor('*', condition));
    expect(finding.changes.policy.external_accounts).toEqual(['*']);
    expect(finding.severity).toBe('critical');
  });

  it('reports every outside principal as gained when the previous policy is unknown', () => {
    // Prepare: no CreateKey seen, so the policy before the change is unknown.
    const opened = policyWith(decryptFor({ AWS: [`arn:aws:iam::${EXTERNAL_ACCOUNT}:root`, ACCOUNT] }));
    // Act
    const { last } = detect([putKeyPolicy(opened)], QUIET_POLICY);
    // Assess
    expect(last.changes.policy.before).toBeNull();
    expect(last.changes.policy.external_accounts).toEqual([EXTERNAL_ACCOUNT]);
    expect(last.severity).toBe('critical');
  });

  it('does not report an outside account that already had access', () => {
    const shared = policyWith(decryptFor({ AWS: EXTERNAL_ACCOUNT }));
    const sharedMore = policyWith(decryptFor({ AWS: EXTERNAL_ACCOUNT }), {
      Sid: 'Describe',
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/ops` },
      Action: 'kms:DescribeKey',
      Resource: '*',
    });
    const { last } = detect([createKey({ policy: shared }), putKeyPolicy(sharedMore)], QUIET_POLICY);
    expect(last.changes.policy.external_accounts).toEqual([]);
    expect(last.severity).toBe('warning');
  });

  it("does not count Panther's org-fenced wildcards (a policy that should not alert) as outside access", () => {
    const { last } = detect([rec('PutKeyPolicy__panther__1')], QUIET_POLICY);
    expect(last.changes.policy.external_accounts).toEqual([]);
    expect(last.changes.policy.added_principals).toEqual([
      '* (org o-xxxxxxxxxx)',
      '* (org o-yyyyyyyyyy)',
      'arn:aws:iam::123456789012:role/ExampleRoleAssumption1',
      'arn:aws:iam::123456789012:role/ExampleRoleAssumption2',
      'arn:aws:iam::123456789012:root',
    ]);
    expect(last.severity).toBe('warning');
  });

  it('reports the console policy StreamAlert captured, which lets "*" use the key, as open to anyone', () => {
    const { last } = detect([rec('PutKeyPolicy__streamalert__1')], QUIET_POLICY);
    expect(last.resource).toBe('arn:aws:kms:us-east-1:123456789123:key/0000000-0000-0000-0000-0000000000000');
    expect(last.changes.policy.external_accounts).toEqual(['*']);
    expect(last.severity).toBe('critical');
  });

  it('reports a key created with a policy open to anyone as critical', () => {
    // CreateKey__streamalert__1 carries the console policy whose "Allow use of the key" names AWS "*".
    const record = rec('CreateKey__streamalert__1', (r) => {
      r.userIdentity = rec('EnableKey__awskmsdg__1').userIdentity;
    });
    const { last } = detect([record]);
    expect(last).toMatchObject({ event: 'CreateKey', status: 'drift', severity: 'critical' });
    expect(last.changes.policy.external_accounts).toEqual(['*']);
  });
});

describe('Escalation: outside access through a grant', () => {
  it('reports a grant for another account principal as critical', () => {
    const grant = rec('CreateGrant__awskmsdg__1', (r) => {
      (r.requestParameters as Record<string, unknown>).granteePrincipal =
        `arn:aws:iam::${EXTERNAL_ACCOUNT}:role/reader`;
    });
    const { last } = detect([grant]);
    expect(last).toMatchObject({ event: 'CreateGrant', status: 'drift', severity: 'critical' });
    expect(last.changes.grants.external_accounts).toEqual([EXTERNAL_ACCOUNT]);
    expect(last.summary).toMatch(/in account 444455556666/);
  });

  it('keeps a grant for a principal of the key account at error', () => {
    const grant = rec('CreateGrant__awskmsdg__1', (r) => {
      (r.requestParameters as Record<string, unknown>).granteePrincipal = `arn:aws:iam::${ACCOUNT}:role/app`;
    });
    const { last } = detect([grant]);
    expect(last.severity).toBe('error');
    expect(last.changes.grants.external_accounts).toEqual([]);
  });
});

/**
 * CreateGrant__awskmsdg__3 made by a person the current way, for a service principal fenced by a SourceArn constraint
 * to `table` (KMS Developer Guide, "Using grant constraints": --grantee-service-principal, --retiring-service-principal).
 */
const serviceGrantFor = (table: string) =>
  rec('CreateGrant__awskmsdg__3', (r) => {
    delete (r.userIdentity as Record<string, unknown>).invokedBy;
    r.sourceIPAddress = '198.51.100.7';
    const { granteePrincipal: _grantee, retiringPrincipal: _retiring, ...request } = r.requestParameters ?? {};
    r.requestParameters = {
      ...request,
      granteeServicePrincipal: 'dynamodb.amazonaws.com',
      retiringServicePrincipal: 'dynamodb.amazonaws.com',
      constraints: { sourceArn: table },
    };
  });

describe('Escalation: outside access through a grant to a service principal', () => {
  it('reports a grant that lets a service act for a resource of another account as that account, critical', () => {
    // As a policy statement for the service fenced by aws:SourceArn to another account's resource.
    const { last } = detect([serviceGrantFor(`arn:aws:dynamodb:us-west-2:${EXTERNAL_ACCOUNT}:table/Books`)]);
    expect(last.changes.grants.external_accounts).toEqual([EXTERNAL_ACCOUNT]);
    expect(last).toMatchObject({ status: 'drift', severity: 'critical' });
    expect(last.summary).toMatch(/for dynamodb\.amazonaws\.com in account 444455556666/);
  });

  it('keeps a grant that lets a service act for a resource of the key account at error', () => {
    const { last } = detect([serviceGrantFor(`arn:aws:dynamodb:us-west-2:${ACCOUNT}:table/Books`)]);
    expect(last.changes.grants.external_accounts).toEqual([]);
    expect(last).toMatchObject({ status: 'drift', severity: 'error' });
  });
});

describe('Escalation: grants made by AWS services', () => {
  it('reports a grant an AWS service created for its caller as routine: info, planned (ServiceGrantsAreRoutine)', () => {
    const { last } = detect([rec('CreateGrant__awskmsdg__3')]);
    expect(last).toMatchObject({
      event: 'CreateGrant',
      status: 'planned',
      severity: 'info',
      summary: expect.stringMatching(/ \(routine for dynamodb\.amazonaws\.com; baseline updated\)$/),
      user: 'arn:aws:sts::111122223333:assumed-role/Admin/user01',
      reasons: ['ServiceGrantsAreRoutine: dynamodb.amazonaws.com manages this grant for its caller'],
    });
  });

  /** EBS attaching a volume encrypted with this key, for an instance of account EXTERNAL_ACCOUNT, granting `grantee`. */
  const ebsGrantForOtherAccount = (grantee: string) =>
    rec('CreateGrant__awskmsdg__3', (r) => {
      r.userIdentity = {
        type: 'AssumedRole',
        arn: `arn:aws:sts::${EXTERNAL_ACCOUNT}:assumed-role/app/i-0abc`,
        accountId: EXTERNAL_ACCOUNT,
        invokedBy: 'ec2.amazonaws.com',
      };
      (r.requestParameters as Record<string, unknown>).granteePrincipal = grantee;
    });

  it('reports a grant a service made for a caller of another account, for that account, as routine (a shared key)', () => {
    const { last } = detect([ebsGrantForOtherAccount(`arn:aws:iam::${EXTERNAL_ACCOUNT}:role/app`)]);
    expect(last.changes.grants.external_accounts).toEqual([EXTERNAL_ACCOUNT]);
    expect(last).toMatchObject({ status: 'planned', severity: 'info' });
    expect(last.summary).toMatch(/ \(routine for ec2\.amazonaws\.com; baseline updated\)$/);
  });

  it('still escalates a grant a service made for a caller of another account, for a third account', () => {
    const thirdAccount = ebsGrantForOtherAccount('arn:aws:iam::999988887777:role/other');
    expect(detect([thirdAccount]).last).toMatchObject({ status: 'drift', severity: 'critical' });
  });

  it("approves a service's grant, so a person's grant is undone alone and revoking it is resolved", () => {
    // Prepare: DynamoDB creates a grant on a key keydrift knows; bob creates one of his own.
    const serviceGrant = at(onKey(rec('CreateGrant__awskmsdg__3')), 'service-1', '2024-01-01T00:00:01Z');
    const bobsGrant = by(
      at(onKey(rec('CreateGrant__awskmsdg__1')), 'bob-1', '2024-01-01T00:00:02Z'),
      sessionIdentity('Admin', 'bob'),
    );
    const bobsGrantId = (bobsGrant.responseElements as { grantId: string }).grantId;
    const revoke = at(onKey(rec('RevokeGrant__awskmsdg__1')), 'revoke-1', '2024-01-01T00:00:03Z');
    (revoke.requestParameters as { grantId: string }).grantId = bobsGrantId;

    // Act
    const { findings, store } = detect([createKey(), serviceGrant, bobsGrant, revoke]);

    // Assess: only bob's grant is revoked by the remediation, and revoking it brings the key back.
    const [, , created, revoked] = findings;
    expect(created.remediation).toEqual([expect.stringContaining(`revoke-grant`)]);
    expect(created.remediation[0]).toContain(`--grant-id ${bobsGrantId}`);
    expect(revoked).toMatchObject({ status: 'resolved', remediation: [] });
    const serviceGrantId = (serviceGrant.responseElements as { grantId: string }).grantId;
    expect(store.baseline(KEY_ARN)?.attributes[`grants#${serviceGrantId}`]).toBeTruthy();
  });

  it('closes no incident with a routine grant: approving it leaves another drifting grant drifting', () => {
    // Prepare: bob creates a grant of his own (drift); then DynamoDB creates one (routine).
    const bobsGrant = by(
      at(onKey(rec('CreateGrant__awskmsdg__1')), 'bob-1', '2024-01-01T00:00:01Z'),
      sessionIdentity('Admin', 'bob'),
    );
    const serviceGrant = at(onKey(rec('CreateGrant__awskmsdg__3')), 'service-1', '2024-01-01T00:00:02Z');

    // Act
    const { last } = detect([createKey(), bobsGrant, serviceGrant]);

    // Assess
    expect(last.status).toBe('planned');
    expect(last.changes.grants.back_to_baseline).toBeUndefined();
  });

  it("flags a planned change that approves drift as back at its approved value (the pager's cue to resolve)", () => {
    const planner = sessionIdentity('Deployer', 'ci');
    const disable = at(onKey(rec('DisableKey__awskmsdg__1')), 'disable-1', '2024-01-01T00:00:01Z');
    const approve = by(at(onKey(rec('DisableKey__awskmsdg__1')), 'disable-2', '2024-01-01T00:00:02Z'), planner);
    const { findings } = detect([createKey(), disable, approve], {
      plannedPrincipals: [`arn:aws:iam::${ACCOUNT}:role/Deployer`],
    });
    expect(findings[1].changes.key_state.back_to_baseline).toBeUndefined();
    expect(findings[2]).toMatchObject({ status: 'planned' });
    expect(findings[2].changes.key_state.back_to_baseline).toBe(true);
  });

  it('still reports a service-made grant for another account as critical', () => {
    const grant = rec('CreateGrant__awskmsdg__3', (r) => {
      (r.requestParameters as Record<string, unknown>).granteePrincipal = `arn:aws:iam::${EXTERNAL_ACCOUNT}:root`;
    });
    expect(detect([grant]).last.severity).toBe('critical');
  });
});

describe('Escalation: the key that encrypts a trail', () => {
  const setup = (): CloudTrailRecord[] => [
    createKey({ policy: policyWith(cloudTrailStatement()) }),
    createTrail('org-audit', KEY_ARN),
  ];

  it('reports a policy change that takes kms:GenerateDataKey* away from CloudTrail as critical', () => {
    const { last } = detect([...setup(), putKeyPolicy(policyWith())], QUIET_POLICY);
    expect(last.severity).toBe('critical');
    expect(last.changes.policy.cloudtrail_access_removed).toBe(true);
    expect(last.changes.policy.removed_principals).toEqual([`cloudtrail.amazonaws.com (${ACCOUNT})`]);
    expect(last.reasons).toEqual([
      `TrailKeyKeepsCloudTrailAccess: CloudTrail can no longer encrypt the logs of ${TRAIL_ARN} with this key`,
    ]);
  });

  it('reports a Deny for CloudTrail added to the policy of a trail key as critical', () => {
    const denied = policyWith(cloudTrailStatement(), {
      Effect: 'Deny',
      Principal: { Service: 'cloudtrail.amazonaws.com' },
      Action: 'kms:*',
      Resource: '*',
    });
    const { last } = detect([...setup(), putKeyPolicy(denied)], QUIET_POLICY);
    expect(last.severity).toBe('critical');
    expect(last.changes.policy.cloudtrail_access_removed).toBe(true);
  });

  it('reports a policy of a trail key that denies everyone but the root, CloudTrail included, as critical', () => {
    const lockout = policyWith(cloudTrailStatement(), {
      Effect: 'Deny',
      NotPrincipal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
      Action: 'kms:*',
      Resource: '*',
    });
    const { last } = detect([...setup(), putKeyPolicy(lockout)], QUIET_POLICY);
    expect(last.severity).toBe('critical');
    expect(last.changes.policy.cloudtrail_access_removed).toBe(true);
  });

  it('does not escalate the same policy change on a key that encrypts no trail', () => {
    const { last } = detect(
      [createKey({ policy: policyWith(cloudTrailStatement()) }), putKeyPolicy(policyWith())],
      QUIET_POLICY,
    );
    expect(last.severity).toBe('warning');
    expect(last.reasons).toBeUndefined();
  });

  it('reports disabling the key of a trail as critical, naming the trail', () => {
    const { last } = detect([...setup(), onKey(rec('DisableKey__awskmsdg__1'))], QUIET_POLICY);
    expect(last.severity).toBe('critical');
    expect(last.reasons).toEqual([`TrailKeyStaysUsable: the key encrypting the logs of ${TRAIL_ARN} is now Disabled`]);
  });

  it('reports scheduling the deletion of the key of a trail as critical, naming the trail', () => {
    const { last } = detect([...setup(), onKey(rec('ScheduleKeyDeletion__awskmsdg__1'))], QUIET_POLICY);
    expect(last.severity).toBe('critical');
    expect(last.reasons).toEqual([
      `TrailKeyStaysUsable: the key encrypting the logs of ${TRAIL_ARN} is now PendingDeletion`,
    ]);
  });

  it.each([
    ['after its deletion was scheduled', () => [...setup(), onKey(rec('ScheduleKeyDeletion__awskmsdg__1'))], {}],
    ['of a trail key known from trailKeys alone', () => [], { trailKeys: [KEY_ARN] }],
  ])(
    'keeps CancelKeyDeletion of the key of a trail at info: it saves the key, it does not disable it (%s)',
    (_title, before, trailKeys) => {
      // Prepare: KMS leaves a cancelled key Disabled, as it was while pending deletion.
      const cancel = at(onKey(rec('CancelKeyDeletion__awskmsdg__1')), 'cancel-1', '2026-01-01T00:00:00Z');
      // Act
      const { last } = detect([...before(), cancel], trailKeys);
      // Assess
      expect(last).toMatchObject({ event: 'CancelKeyDeletion', severity: 'info' });
      expect(last.changes.key_state).toMatchObject({ after: 'Disabled' });
      expect(last.reasons).toBeUndefined();
    },
  );

  it('knows the key of a trail it never saw created from trailKeys in the configuration', () => {
    const { last } = detect([onKey(rec('DisableKey__awskmsdg__1'))], { ...QUIET_POLICY, trailKeys: [KEY_ARN] });
    expect(last.severity).toBe('critical');
    expect(last.reasons).toEqual([
      'TrailKeyStaysUsable: the key encrypting the logs of a trail (configured trailKeys) is now Disabled',
    ]);
  });

  it('reports a policy that takes CloudTrail away from a key known from trailKeys alone as critical', () => {
    const { last } = detect([createKey({ policy: policyWith(cloudTrailStatement()) }), putKeyPolicy(policyWith())], {
      ...QUIET_POLICY,
      trailKeys: [KEY_ARN],
    });
    expect(last.severity).toBe('critical');
    expect(last.changes.policy.cloudtrail_access_removed).toBe(true);
    expect(last.reasons).toEqual([
      'TrailKeyKeepsCloudTrailAccess: CloudTrail can no longer encrypt the logs of a trail (configured trailKeys) with this key',
    ]);
  });

  it('stops protecting the key once the trail is deleted', () => {
    const deleteTrail = rec('DeleteTrail__stratus__1', (r) => {
      r.awsRegion = 'us-west-2';
      r.recipientAccountId = ACCOUNT;
      (r.requestParameters as Record<string, unknown>).name = 'org-audit';
    });
    const { last } = detect([...setup(), deleteTrail, onKey(rec('DisableKey__awskmsdg__1'))], QUIET_POLICY);
    expect(last.severity).toBe('warning');
  });
});

describe('Policy diff', () => {
  it('lists added and removed principals and the outside accounts that gained access', () => {
    const before = normalizePolicy(policyWith(decryptFor({ AWS: `arn:aws:iam::${ACCOUNT}:role/app` })));
    const after = normalizePolicy(
      policyWith(decryptFor({ AWS: [`arn:aws:iam::${EXTERNAL_ACCOUNT}:role/x`, '555566667777'] })),
    );
    expect(diffPolicies(before, after, ACCOUNT)).toEqual({
      added_principals: [`arn:aws:iam::${EXTERNAL_ACCOUNT}:role/x`, 'arn:aws:iam::555566667777:root'],
      removed_principals: [`arn:aws:iam::${ACCOUNT}:role/app`],
      external_accounts: [EXTERNAL_ACCOUNT, '555566667777'],
    });
  });
});
