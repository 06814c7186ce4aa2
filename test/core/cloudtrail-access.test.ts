/**
 * Whether CloudTrail can still encrypt a trail's logs with a key: the policy evaluated against the request CloudTrail
 * makes (the service principal, with the trail in aws:SourceArn and in the encryption context).
 */
import { allowsCloudTrailEncryption } from '../../lambda/core/cloudtrail-access';
import { normalizePolicy } from '../../lambda/core/policy';
import {
  ACCOUNT,
  at,
  by,
  cloudTrailStatement,
  createKey,
  createTrail,
  defaultPolicy,
  detect,
  EXTERNAL_ACCOUNT,
  KEY_ARN,
  policyWith,
  putKeyPolicy,
  sessionIdentity,
  TRAIL_ARN,
} from './harness';

const denyCloudTrail = (condition: Record<string, Record<string, string>>) => ({
  Effect: 'Deny',
  Principal: '*',
  Action: 'kms:*',
  Resource: '*',
  Condition: condition,
});
const cloudTrailOnlyIf = (condition: Record<string, Record<string, string>>) => ({
  ...cloudTrailStatement(),
  Condition: condition,
});
const ownTrails = `arn:aws:cloudtrail:*:${ACCOUNT}:trail/*`;
const allows = (statements: Array<Record<string, unknown>>, trails: string[] = []) =>
  allowsCloudTrailEncryption(normalizePolicy(policyWith(...statements)), ACCOUNT, trails);

describe('CloudTrail access to the key of its logs', () => {
  it.each([
    ['a Deny of AWS services', { Bool: { 'aws:PrincipalIsAWSService': 'true' } }],
    ['a Deny of callers without an organization', { Null: { 'aws:PrincipalOrgID': 'true' } }],
    ["a Deny of this account's trails", { StringLike: { 'aws:SourceArn': ownTrails } }],
    // AWS names the calling service in aws:PrincipalServiceName on a service principal's requests.
    [
      'a Deny of CloudTrail by its service name',
      { StringEquals: { 'aws:PrincipalServiceName': 'cloudtrail.amazonaws.com' } },
    ],
    [
      "a Deny of log files not in another account's trails",
      {
        StringNotLike: {
          'kms:EncryptionContext:aws:cloudtrail:arn': `arn:aws:cloudtrail:*:${EXTERNAL_ACCOUNT}:trail/*`,
        },
      },
    ],
  ])('finds CloudTrail locked out by %s', (_, condition) => {
    expect(allows([cloudTrailStatement(), denyCloudTrail(condition)])).toBe(false);
  });

  it('finds CloudTrail locked out by a Deny of every trail but a decoy, when it knows the trail', () => {
    const decoy = { ArnNotEquals: { 'aws:SourceArn': `arn:aws:cloudtrail:us-west-2:${ACCOUNT}:trail/decoy` } };
    expect(allows([cloudTrailStatement(), denyCloudTrail(decoy)], [TRAIL_ARN])).toBe(false);
    expect(
      allows([cloudTrailStatement(), denyCloudTrail(decoy)], [`arn:aws:cloudtrail:us-west-2:${ACCOUNT}:trail/decoy`]),
    ).toBe(true);
  });

  it.each([
    ['a Deny over plain HTTP, which CloudTrail never uses', { Bool: { 'aws:SecureTransport': 'false' } }],
    [
      'a Deny on a condition keydrift cannot evaluate',
      { DateGreaterThan: { 'aws:CurrentTime': '2000-01-01T00:00:00Z' } },
    ],
  ])('does not report a lockout for %s', (_, condition) => {
    expect(allows([cloudTrailStatement(), denyCloudTrail(condition)])).toBe(true);
  });

  it.each([
    ['CloudTrail', 'StringNotEqualsIfExists', 'cloudtrail.amazonaws.com', true],
    ['CloudTrail, by a pattern', 'StringNotLike', 'cloudtrail.*', true],
    ['another service', 'StringNotEqualsIfExists', 's3.amazonaws.com', false],
    ['another service, by a pattern', 'StringNotLike', 's3.*', false],
  ])(
    'finds whether CloudTrail can encrypt behind an organization perimeter that lets %s through by name',
    (_, operator, name, allowed) => {
      // CloudTrail's request has no organization: the perimeter's Deny holds for it unless its name is let through.
      const perimeter = denyCloudTrail({
        StringNotEqualsIfExists: { 'aws:PrincipalOrgID': 'o-abc123' },
        [operator]: { 'aws:PrincipalServiceName': name },
      });
      expect(allows([cloudTrailStatement(), perimeter])).toBe(allowed);
    },
  );

  it.each([
    [
      'an organization, which CloudTrail does not carry',
      { StringEquals: { 'aws:PrincipalOrgID': 'o-abc123' } },
      [],
      false,
    ],
    [
      'another trail',
      { StringEquals: { 'aws:SourceArn': `arn:aws:cloudtrail:us-west-2:${ACCOUNT}:trail/other` } },
      [TRAIL_ARN],
      false,
    ],
    ['the trail itself', { StringEquals: { 'aws:SourceArn': TRAIL_ARN } }, [TRAIL_ARN], true],
    [
      "this account's trails, by encryption context",
      { StringLike: { 'kms:EncryptionContext:aws:cloudtrail:arn': ownTrails } },
      [],
      true,
    ],
  ])("finds whether CloudTrail's Allow, conditioned on %s, still applies", (_, condition, trails, allowed) => {
    expect(allows([cloudTrailOnlyIf(condition)], trails)).toBe(allowed);
  });

  describe("a set operator, as IAM's guide writes a perimeter on the multivalued aws:PrincipalOrgPaths", () => {
    // CloudTrail's request has no organization path: an empty set, which every ForAllValues condition holds for and
    // no ForAnyValue one does. Its other keys have one value, which a set operator reads as the set of that value.
    const outsideUnit = {
      'ForAllValues:StringNotLike': { 'aws:PrincipalOrgPaths': 'o-abc123/r-ab12/ou-ab12-11111111/*' },
    };

    it.each([
      ['a perimeter around an organizational unit, without the AWS service exemption', outsideUnit],
      [
        'a perimeter around an organization, so written',
        { 'ForAllValues:StringNotEquals': { 'aws:PrincipalOrgID': 'o-abc123' } },
      ],
      [
        'a Deny of every trail not of another account',
        { 'ForAllValues:StringNotEquals': { 'aws:SourceAccount': EXTERNAL_ACCOUNT } },
      ],
    ])('finds CloudTrail locked out by %s', (_, condition) => {
      expect(allows([cloudTrailStatement(), denyCloudTrail(condition)])).toBe(false);
    });

    it.each([
      ['that perimeter exempting AWS services', { ...outsideUnit, Bool: { 'aws:PrincipalIsAWSService': 'false' } }],
      [
        'a Deny of callers with a path outside the unit',
        { 'ForAnyValue:StringNotLike': outsideUnit['ForAllValues:StringNotLike'] },
      ],
      [
        "a Deny of every trail not of the key's account",
        { 'ForAllValues:StringNotEquals': { 'aws:SourceAccount': ACCOUNT } },
      ],
    ])('does not report a lockout for %s', (_, condition) => {
      expect(allows([cloudTrailStatement(), denyCloudTrail(condition)])).toBe(true);
    });

    it('does not let CloudTrail in by an Allow for callers inside the unit', () => {
      const insideUnit = { 'ForAnyValue:StringLike': outsideUnit['ForAllValues:StringNotLike'] };
      expect(allows([cloudTrailOnlyIf(insideUnit)])).toBe(false);
    });
  });

  describe('policy variables in its conditions, read as the policy analysis reads them', () => {
    const variable = (name: string) => `\${${name}}`;
    const resourceAccount = variable('aws:ResourceAccount');

    it.each([
      ['aws:SourceAccount = the key account', { StringEquals: { 'aws:SourceAccount': resourceAccount } }, [], true],
      [
        "the key account's trails",
        { ArnLike: { 'aws:SourceArn': `arn:aws:cloudtrail:*:${resourceAccount}:trail/*` } },
        [TRAIL_ARN],
        true,
      ],
      [
        'aws:SourceAccount = the key account, for a trail of another account',
        { StringEquals: { 'aws:SourceAccount': resourceAccount } },
        [`arn:aws:cloudtrail:us-west-2:${EXTERNAL_ACCOUNT}:trail/org-audit`],
        false,
      ],
      // A value keydrift cannot fill in gives the Allow the benefit of the doubt.
      [
        'a variable keydrift cannot fill in',
        { StringEquals: { 'aws:SourceAccount': variable('aws:userid') } },
        [],
        true,
      ],
    ])("finds whether CloudTrail's Allow, conditioned on %s, still applies", (_, condition, trails, allowed) => {
      expect(allows([cloudTrailOnlyIf(condition)], trails)).toBe(allowed);
    });

    it('reads a variable as text in a policy of the 2008 language, which has none', () => {
      const policy = {
        ...policyWith(cloudTrailOnlyIf({ StringEquals: { 'aws:SourceAccount': resourceAccount } })),
        Version: '2008-10-17',
      };
      expect(allowsCloudTrailEncryption(normalizePolicy(policy), ACCOUNT, [TRAIL_ARN])).toBe(false);
    });

    it('does not report a lockout when the fence to the key account is written as aws:ResourceAccount', () => {
      const fenced = cloudTrailOnlyIf({ StringEquals: { 'aws:SourceAccount': resourceAccount } });

      // Act
      const { last } = detect(
        [
          at(createKey({ policy: policyWith(cloudTrailStatement()) }), 'create-key-1'),
          at(createTrail('org-audit', KEY_ARN), 'create-trail-1'),
          by(at(putKeyPolicy(policyWith(fenced)), 'put-1'), sessionIdentity('Ops', 'mallory')),
        ],
        { severityOverrides: { PutKeyPolicy: 'error' } },
      );

      // Assess
      expect(last.changes.policy).not.toHaveProperty('cloudtrail_access_removed');
      expect(last.reasons ?? []).not.toContainEqual(expect.stringMatching(/^TrailKeyKeepsCloudTrailAccess/));
      expect(last.severity).toBe('error');
    });
  });

  it('does not say CloudTrail lost access when a key that encrypts no trail is closed to everyone else', () => {
    const openToAll = { Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' };
    const { last } = detect([createKey({ policy: policyWith(openToAll) }), putKeyPolicy(defaultPolicy())]);
    expect(last.changes.policy).not.toHaveProperty('cloudtrail_access_removed');
    expect(last.summary).not.toMatch(/CloudTrail/);
  });

  describe("an organization trail encrypted with a key of another account (the organization's log archive)", () => {
    // The organization trail belongs to the management account; its logs go to the log archive account's key.
    const MANAGEMENT_ACCOUNT = EXTERNAL_ACCOUNT;
    const ORGANIZATION_TRAIL = `arn:aws:cloudtrail:us-west-2:${MANAGEMENT_ACCOUNT}:trail/org-audit`;

    /** CreateTrail__panther__1 as the management account's CreateTrail of its organization trail, on the key. */
    function createOrganizationTrail() {
      const record = at(createTrail('org-audit', KEY_ARN), 'create-trail-1');
      record.recipientAccountId = MANAGEMENT_ACCOUNT;
      (record.requestParameters as Record<string, unknown>).isOrganizationTrail = true;
      return record;
    }

    it("lets CloudTrail in when the policy fences it to the management account, the trail's aws:SourceAccount", () => {
      expect(allows([cloudTrailStatement(MANAGEMENT_ACCOUNT)], [ORGANIZATION_TRAIL])).toBe(true);
      expect(allows([cloudTrailStatement(ACCOUNT)], [ORGANIZATION_TRAIL])).toBe(false);
    });

    it('reports a policy that fences CloudTrail to the key account instead as locking the trail out', () => {
      // Act
      const { store, last } = detect(
        [
          at(createKey({ policy: policyWith(cloudTrailStatement(MANAGEMENT_ACCOUNT)) }), 'create-key-1'),
          createOrganizationTrail(),
          by(at(putKeyPolicy(policyWith(cloudTrailStatement(ACCOUNT))), 'put-1'), sessionIdentity('Ops', 'mallory')),
        ],
        { severityOverrides: { PutKeyPolicy: 'error' } },
      );

      // Assess
      expect(store.trailsUsingKey(KEY_ARN)).toEqual([ORGANIZATION_TRAIL]);
      expect(last.changes.policy).toHaveProperty('cloudtrail_access_removed', true);
      expect(last.severity).toBe('critical');
      expect(last.reasons).toEqual([
        `TrailKeyKeepsCloudTrailAccess: CloudTrail can no longer encrypt the logs of ${ORGANIZATION_TRAIL} with this key`,
      ]);
      expect(last.summary).toBe(
        `Key policy of ${KEY_ARN.split('/').pop()} no longer lets CloudTrail encrypt logs (changed by mallory)`,
      );
    });
  });

  describe('an "Allow access through <service>" statement, as in the AWS managed keys, on a trail key', () => {
    // The statement of the AWS managed key aws/s3, copied into a key that also encrypts the trail's S3 bucket:
    // anyone in the account, but only through S3 on their behalf. CloudTrail calls KMS as its own service principal,
    // not through S3 for an IAM principal of the account: its request has no kms:ViaService and no kms:CallerAccount.
    const throughS3 = {
      Sid: 'Allow access through S3 for all principals in the account that are authorized to use S3',
      Effect: 'Allow',
      Principal: { AWS: '*' },
      Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'],
      Resource: '*',
      Condition: { StringEquals: { 'kms:ViaService': 's3.us-west-2.amazonaws.com', 'kms:CallerAccount': ACCOUNT } },
    };
    const callersOfTheAccount = { ...throughS3, Condition: { StringEquals: { 'kms:CallerAccount': ACCOUNT } } };

    it.each([
      ['through S3 for callers of the account', throughS3],
      ['to every caller of the account', callersOfTheAccount],
    ])('does not read an Allow %s as letting CloudTrail in', (_, statement) => {
      expect(allows([statement], [TRAIL_ARN])).toBe(false);
      expect(allows([statement])).toBe(false);
    });

    it('reports a policy that keeps only such a statement as locking the trail out', () => {
      // Act
      const { last } = detect(
        [
          at(createKey({ policy: policyWith(cloudTrailStatement(), throughS3) }), 'create-key-1'),
          at(createTrail('org-audit', KEY_ARN), 'create-trail-1'),
          by(at(putKeyPolicy(policyWith(throughS3)), 'put-1'), sessionIdentity('Ops', 'mallory')),
        ],
        { severityOverrides: { PutKeyPolicy: 'error' } },
      );

      // Assess
      expect(last.changes.policy).toHaveProperty('cloudtrail_access_removed', true);
      expect(last.severity).toBe('critical');
      expect(last.summary).toBe(
        `Key policy of ${KEY_ARN.split('/').pop()} no longer lets CloudTrail encrypt logs (changed by mallory)`,
      );
    });
  });

  it('reports a trail locked out while another trail on the same key already was', () => {
    // Two trails on the key; the approved policy lets CloudTrail in for org-audit only (app-audit's delivery fails).
    const appAudit = TRAIL_ARN.replace('org-audit', 'app-audit');
    const onlyFor = (trail: string) => cloudTrailOnlyIf({ StringEquals: { 'aws:SourceArn': trail } });

    // Act
    const { store, last } = detect(
      [
        at(createKey({ policy: policyWith(onlyFor(TRAIL_ARN)) }), 'create-key-1'),
        at(createTrail('org-audit', KEY_ARN), 'create-trail-1'),
        at(createTrail('app-audit', KEY_ARN), 'create-trail-2'),
        by(at(putKeyPolicy(policyWith(onlyFor(`${TRAIL_ARN}-decoy`))), 'put-1'), sessionIdentity('Ops', 'mallory')),
      ],
      { severityOverrides: { PutKeyPolicy: 'error' } },
    );

    // Assess
    expect(store.trailsUsingKey(KEY_ARN)).toEqual([TRAIL_ARN, appAudit]);
    expect(last.changes.policy).toHaveProperty('cloudtrail_access_removed', true);
    expect(last.severity).toBe('critical');
  });
});
