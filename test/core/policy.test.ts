/**
 * Key policy normalization: formatting, statement order and principal spelling never count as drift.
 */
import { allowsCloudTrailEncryption } from '../../lambda/core/cloudtrail-access';
import { externalAccountsOf, normalizePolicy } from '../../lambda/core/policy';
import { kmsApiSample } from '../helpers/fixtures';
import {
  ACCOUNT,
  cloudTrailStatement,
  cloudTrailStatementForTrailsOf,
  createKey,
  defaultPolicy,
  detect,
  EXTERNAL_ACCOUNT,
  KEY_ARN,
  logsStatement,
  policyWith,
  putKeyPolicy,
} from './harness';

/** The policy of GetKeyPolicy__custodian__2, as KMS returned it (a JSON string with named statements). */
const custodianPolicy = () => String(kmsApiSample('GetKeyPolicy__custodian__2').data.Policy);

describe('Policy normalization', () => {
  it("reads a bare account id as that account's root in the key's partition: the same policy in China spelled otherwise", () => {
    // Prepare: a key in cn-north-1 whose policy names its account's root by ARN, put again naming it by account id.
    const keyArn = `arn:aws-cn:kms:cn-north-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    const byArn = {
      Statement: [
        { Effect: 'Allow', Principal: { AWS: `arn:aws-cn:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
      ],
    };
    const byId = { Statement: [{ Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'kms:*', Resource: '*' }] };
    // Act
    const { last } = detect([createKey({ keyArn, policy: byArn }), putKeyPolicy(byId, keyArn)]);
    // Assess: nothing changed, and no principal came or went.
    expect(last.changes.policy).toMatchObject({ unchanged: true });
    expect([last.changes.policy.added_principals ?? [], last.changes.policy.removed_principals ?? []]).toEqual([
      [],
      [],
    ]);
  });

  it('reads a policy given as a JSON string like the same policy as an object', () => {
    expect(normalizePolicy(custodianPolicy())).toEqual(normalizePolicy(JSON.parse(custodianPolicy())));
  });

  it('treats a single value and a one-element array alike', () => {
    const single = {
      Statement: {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
        Action: 'kms:*',
        Resource: '*',
      },
    };
    const arrays = {
      Statement: [
        { Effect: 'Allow', Principal: { AWS: [`arn:aws:iam::${ACCOUNT}:root`] }, Action: ['kms:*'], Resource: ['*'] },
      ],
    };
    expect(normalizePolicy(single)).toEqual(normalizePolicy(arrays));
  });

  it('ignores the order of statements, of actions and of condition values', () => {
    const policy = JSON.parse(custodianPolicy()) as { Statement: Array<{ Action?: unknown }> };
    const reordered = structuredClone(policy);
    reordered.Statement.reverse();
    for (const statement of reordered.Statement) {
      if (Array.isArray(statement.Action)) statement.Action.reverse();
    }
    expect(policy.Statement.length).toBeGreaterThan(1);
    expect(normalizePolicy(reordered)).toEqual(normalizePolicy(policy));
  });

  it('treats a bare account id principal as the account root ARN', () => {
    const bare = policyWith({ Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'kms:Decrypt', Resource: '*' });
    const root = policyWith({
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
      Action: 'kms:Decrypt',
      Resource: '*',
    });
    expect(normalizePolicy(bare)).toEqual(normalizePolicy(root));
  });

  it('reports no policy change when only the formatting of the approved policy changes', () => {
    // Prepare: the same policy as an array-free, reordered, bare-account-id document in one line.
    const approved = policyWith(cloudTrailStatement());
    const rewritten = {
      Id: approved.Id,
      Statement: [
        {
          Resource: ['*'],
          Action: ['kms:GenerateDataKey*'],
          Principal: { Service: ['cloudtrail.amazonaws.com'] },
          Effect: 'Allow',
          Sid: 'Allow CloudTrail to encrypt logs',
          Condition: { StringEquals: { 'aws:SourceAccount': [ACCOUNT] } },
        },
        {
          Resource: '*',
          Action: 'kms:*',
          Principal: { AWS: ACCOUNT },
          Effect: 'Allow',
          Sid: 'Enable IAM User Permissions',
        },
      ],
      Version: approved.Version,
    };
    // Act
    const { last } = detect([createKey({ policy: approved }), putKeyPolicy(JSON.stringify(rewritten))]);
    // Assess
    expect(last.changes).toEqual({
      policy: { before: last.changes.policy.after, after: expect.any(Object), unchanged: true },
    });
    expect(last.changes.policy.after).toEqual(normalizePolicy(approved));
    expect(last.status).toBe('resolved');
    expect(last.severity).toBe('info');
    expect(last.summary).toMatch(/^PutKeyPolicy on .* changed nothing: already at its baseline$/);
  });

  it('keeps statements that differ only by condition apart', () => {
    const open = normalizePolicy(policyWith({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Resource: '*' }));
    const fenced = normalizePolicy(
      policyWith({
        Effect: 'Allow',
        Principal: '*',
        Action: 'kms:Decrypt',
        Resource: '*',
        Condition: { StringEquals: { 'kms:CallerAccount': ACCOUNT } },
      }),
    );
    expect(open).not.toEqual(fenced);
  });

  it('rejects text that is not a JSON policy', () => {
    expect(() => normalizePolicy('{"Statement": [')).toThrow(SyntaxError);
    expect(() => normalizePolicy('"just a string"')).toThrow('policy is not a JSON object');
  });

  it('reports a PutKeyPolicy that KMS rejected as malformed as a denied attempt on the key', () => {
    const rejected = putKeyPolicy('{"Statement": [');
    rejected.errorCode = 'MalformedPolicyDocumentException';
    const { last } = detect([rejected]);
    expect(last).toMatchObject({
      status: 'denied',
      severity: 'warning',
      resource: KEY_ARN,
      changes: {},
      error: { code: 'MalformedPolicyDocumentException' },
    });
  });
});

describe('Policy analysis', () => {
  it('finds the outside access of a real policy whose statement names "*"', () => {
    // GetKeyPolicy__custodian__1 comes from cloud-custodian's cross-account test.
    const policy = normalizePolicy(String(kmsApiSample('GetKeyPolicy__custodian__1').data.Policy));
    expect(externalAccountsOf(policy, '644160558196')).toEqual(['*']);
  });

  it('finds that the default key policy does not let CloudTrail encrypt logs', () => {
    expect(allowsCloudTrailEncryption(normalizePolicy(defaultPolicy()))).toBe(false);
    expect(allowsCloudTrailEncryption(normalizePolicy(policyWith(cloudTrailStatement())))).toBe(true);
  });

  const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
  const deny = (statement: Record<string, unknown>) => ({ Effect: 'Deny', Resource: '*', ...statement });
  it.each([
    [
      'a Deny for everyone but the root (NotPrincipal)',
      [deny({ NotPrincipal: { AWS: ROOT }, Action: 'kms:*' })],
      false,
    ],
    [
      'a Deny of everything but Decrypt for anyone (NotAction)',
      [deny({ Principal: '*', NotAction: 'kms:Decrypt' })],
      false,
    ],
    [
      'a Deny for everyone but the root and CloudTrail',
      [deny({ NotPrincipal: { AWS: ROOT, Service: 'cloudtrail.amazonaws.com' }, Action: 'kms:*' })],
      true,
    ],
    ['a Deny of everything but GenerateDataKey*', [deny({ Principal: '*', NotAction: 'kms:GenerateDataKey*' })], true],
    ["CloudTrail's statement fenced to another account", [], false, '444455556666'],
  ])('finds whether CloudTrail can still encrypt logs with %s', (_, statements, allowed, fence = ACCOUNT) => {
    const policy = normalizePolicy(policyWith(cloudTrailStatement(fence), ...statements));
    expect(allowsCloudTrailEncryption(policy, ACCOUNT)).toBe(allowed);
  });

  const cloudTrailFencedBy = (operator: string, key: string, value: string) => ({
    Effect: 'Allow',
    Principal: { Service: 'cloudtrail.amazonaws.com' },
    Action: 'kms:GenerateDataKey*',
    Resource: '*',
    Condition: { [operator]: { [key]: value } },
  });
  it.each([
    ['aws:SourceAccount', 'StringEquals', 'aws:SourceAccount', EXTERNAL_ACCOUNT, [EXTERNAL_ACCOUNT]],
    [
      'an aws:SourceArn pattern',
      'ArnLike',
      'aws:SourceArn',
      `arn:aws:cloudtrail:*:${EXTERNAL_ACCOUNT}:trail/*`,
      [EXTERNAL_ACCOUNT],
    ],
    ['aws:SourceArn', 'StringEquals', 'aws:SourceArn', `arn:aws:cloudtrail:us-west-2:${ACCOUNT}:trail/org-audit`, []],
    ['aws:SourceAccount of its own account', 'StringEquals', 'aws:SourceAccount', ACCOUNT, []],
  ])('finds the account a service principal fenced by %s acts for (%s %s)', (_, operator, key, value, outside) => {
    const policy = normalizePolicy(policyWith(cloudTrailFencedBy(operator, key, value)));
    expect(externalAccountsOf(policy, ACCOUNT)).toEqual(outside);
  });

  /** `statement` with `aws:SourceAccount` = `account` added to its conditions. */
  const withSourceAccount = (statement: Record<string, unknown>, account: string) => ({
    ...statement,
    Condition: { ...(statement.Condition as object), StringEquals: { 'aws:SourceAccount': account } },
  });
  it.each([
    [
      "CloudTrail's statement for the trails of several accounts",
      cloudTrailStatementForTrailsOf([ACCOUNT, EXTERNAL_ACCOUNT]),
      [EXTERNAL_ACCOUNT],
    ],
    ["CloudTrail's statement for its own account's trails", cloudTrailStatementForTrailsOf([ACCOUNT]), []],
    [
      "CloudWatch Logs' statement for another account's log groups",
      logsStatement(EXTERNAL_ACCOUNT),
      [EXTERNAL_ACCOUNT],
    ],
    ["CloudWatch Logs' statement for its own account's log groups", logsStatement(ACCOUNT), []],
    // As aws:SourceArn with a wildcard account: no account to name.
    ["CloudTrail's statement for any account's trails", cloudTrailStatementForTrailsOf(['*']), []],
    [
      'a context value that is no ARN',
      cloudTrailFencedBy('StringEquals', 'kms:EncryptionContext:aws:dynamodb:subscriberId', EXTERNAL_ACCOUNT),
      [],
    ],
    [
      'a context of both accounts and aws:SourceAccount of the other',
      withSourceAccount(cloudTrailStatementForTrailsOf([ACCOUNT, EXTERNAL_ACCOUNT]), EXTERNAL_ACCOUNT),
      [EXTERNAL_ACCOUNT],
    ],
    [
      "another account's context and aws:SourceAccount of its own: the source key names the account",
      withSourceAccount(cloudTrailStatementForTrailsOf([EXTERNAL_ACCOUNT]), ACCOUNT),
      [],
    ],
    [
      "S3 publishing for another account's bucket to a topic of the key's account",
      {
        Effect: 'Allow',
        Principal: { Service: 's3.amazonaws.com' },
        Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        Resource: '*',
        Condition: {
          StringEquals: { 'aws:SourceAccount': EXTERNAL_ACCOUNT },
          ArnEquals: { 'kms:EncryptionContext:aws:sns:topicArn': `arn:aws:sns:us-east-1:${ACCOUNT}:uploads` },
        },
      },
      [EXTERNAL_ACCOUNT],
    ],
  ])('finds the account a service principal fenced by its encryption context acts for: %s', (_, statement, outside) => {
    // The service sets the context to the resource it acts for, as it sets aws:SourceArn.
    expect(externalAccountsOf(normalizePolicy(policyWith(statement)), ACCOUNT)).toEqual(outside);
  });

  it("escalates a new policy that lets SNS encrypt another account's topic into a queue of the key's account", () => {
    // SNS acts for the topic (aws:SourceArn) and sets the context to the queue it writes to (aws:sqs:arn): two
    // resources, here of two accounts. Naming the key's own queue narrows the grant; it leaves the topic's account in.
    const snsForQueue = {
      Sid: 'Allow SNS to encrypt messages for the queue',
      Effect: 'Allow',
      Principal: { Service: 'sns.amazonaws.com' },
      Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
      Resource: '*',
      Condition: {
        ArnEquals: {
          'aws:SourceArn': `arn:aws:sns:us-east-1:${EXTERNAL_ACCOUNT}:orders`,
          'kms:EncryptionContext:aws:sqs:arn': `arn:aws:sqs:us-east-1:${ACCOUNT}:orders-queue`,
        },
      },
    };
    const { last } = detect([createKey(), putKeyPolicy(policyWith(snsForQueue))], {
      severityOverrides: { PutKeyPolicy: 'error' },
    });
    expect(last.changes.policy).toMatchObject({
      added_principals: [`sns.amazonaws.com (${EXTERNAL_ACCOUNT})`],
      external_accounts: [EXTERNAL_ACCOUNT],
    });
    expect(last.severity).toBe('critical');
  });

  it('escalates a new policy that lets the CloudTrail of another account use the key', () => {
    const records = [
      createKey(),
      putKeyPolicy(policyWith(cloudTrailFencedBy('StringEquals', 'aws:SourceAccount', EXTERNAL_ACCOUNT))),
    ];
    const { last } = detect(records, { severityOverrides: { PutKeyPolicy: 'error' } });
    expect(last.changes.policy?.external_accounts).toEqual([EXTERNAL_ACCOUNT]);
    expect(last.severity).toBe('critical');
  });

  it.each([
    [`arn:aws:iam::${ACCOUNT}:role/*`, []],
    [`arn:aws:iam::${EXTERNAL_ACCOUNT}:role/*`, [EXTERNAL_ACCOUNT]],
    ['arn:aws:iam::*:role/admin', ['*']],
  ])('finds "*" fenced by ArnLike aws:PrincipalArn %s open to %j', (pattern, outside) => {
    const statement = {
      Effect: 'Allow',
      Principal: '*',
      Action: 'kms:Decrypt',
      Resource: '*',
      Condition: { ArnLike: { 'aws:PrincipalArn': pattern } },
    };
    expect(externalAccountsOf(normalizePolicy(policyWith(statement)), ACCOUNT)).toEqual(outside);
  });

  /** "*" allowed to decrypt for callers of `callers` whose principal is a role of the outside account. */
  const callersAndOutsideRoles = (callers: string[]) => ({
    Effect: 'Allow',
    Principal: '*',
    Action: 'kms:Decrypt',
    Resource: '*',
    Condition: {
      StringEquals: { 'kms:CallerAccount': callers },
      ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${EXTERNAL_ACCOUNT}:role/*` },
    },
  });

  it.each([
    ['its own account and a pattern of roles of the other account: no one can meet both', [ACCOUNT], []],
    [
      'either account and a pattern of roles of the other account: the other account',
      [ACCOUNT, EXTERNAL_ACCOUNT],
      [EXTERNAL_ACCOUNT],
    ],
  ])('finds "*" fenced by kms:CallerAccount of %s', (_, callers, outside) => {
    // Every condition key must hold: the accounts both allow, not either.
    const statement = callersAndOutsideRoles(callers);
    expect(externalAccountsOf(normalizePolicy(policyWith(statement)), ACCOUNT)).toEqual(outside);
  });

  it('finds "*" fenced to callers of its own account inside, whatever account the resource a service acts for is in', () => {
    const statement = {
      Effect: 'Allow',
      Principal: '*',
      Action: 'kms:Decrypt',
      Resource: '*',
      Condition: { StringEquals: { 'kms:CallerAccount': ACCOUNT, 'aws:SourceAccount': EXTERNAL_ACCOUNT } },
    };
    expect(externalAccountsOf(normalizePolicy(policyWith(statement)), ACCOUNT)).toEqual([]);
  });

  it('reports no principal gained by a PutKeyPolicy whose new statement no request can meet', () => {
    const { last } = detect([createKey(), putKeyPolicy(policyWith(callersAndOutsideRoles([ACCOUNT])))]);
    expect(last.changes.policy).toMatchObject({ added_principals: [], external_accounts: [] });
    expect(last.summary).not.toContain(EXTERNAL_ACCOUNT);
  });

  it('finds "*" fenced by an aws:SourceArn of its own account inside the account', () => {
    const statement = {
      ...cloudTrailFencedBy('ArnLike', 'aws:SourceArn', `arn:aws:cloudtrail:*:${ACCOUNT}:trail/*`),
      Principal: '*',
    };
    expect(externalAccountsOf(normalizePolicy(policyWith(statement)), ACCOUNT)).toEqual([]);
  });

  const openToAll = { Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' };
  const perimeter = (operator: string, key: string, value: string, extra: Record<string, unknown> = {}) =>
    deny({ Principal: '*', Action: 'kms:*', Condition: { [operator]: { [key]: value }, ...extra } });

  it.each([
    ['an organization', 'StringNotEquals', 'aws:PrincipalOrgID', 'o-abc123'],
    ['its own account', 'StringNotEqualsIfExists', 'aws:PrincipalAccount', ACCOUNT],
    ["its own account's roles", 'ArnNotLike', 'aws:PrincipalArn', `arn:aws:iam::${ACCOUNT}:role/*`],
    // The form IAM's guide gives for a multivalued key: it denies every caller with no path inside, or none at all.
    [
      'an organizational unit (multivalued)',
      'ForAllValues:StringNotLike',
      'aws:PrincipalOrgPaths',
      'o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*',
    ],
  ])('finds "*" inside a Deny perimeter around %s not open to anyone', (_, operator, key, value) => {
    const policy = normalizePolicy(policyWith(openToAll, perimeter(operator, key, value)));
    expect(externalAccountsOf(policy, ACCOUNT)).toEqual([]);
  });

  it('finds "*" inside an organization perimeter that lets one AWS service through by its name not open to anyone', () => {
    // IAM principals have no aws:PrincipalServiceName: a negated condition on it holds for them, so the Deny shuts
    // every principal outside the organization out, and lets only that service (not outside access) through.
    const exempting = deny({
      Principal: '*',
      Action: 'kms:*',
      Condition: {
        StringNotEqualsIfExists: {
          'aws:PrincipalOrgID': 'o-abc123',
          'aws:PrincipalServiceName': 'cloudtrail.amazonaws.com',
        },
      },
    });
    expect(externalAccountsOf(normalizePolicy(policyWith(openToAll, exempting)), ACCOUNT)).toEqual([]);
    expect(allowsCloudTrailEncryption(normalizePolicy(policyWith(cloudTrailStatement(), exempting)), ACCOUNT)).toBe(
      true,
    );
  });

  it.each([
    ['StringNotLike', 'cloudtrail.*', []],
    ['StringNotLike', '*', []],
    ['ForAllValues:StringNotEquals', 'cloudtrail.amazonaws.com', []],
    // Holds for no request without the key: the Deny spares every IAM principal.
    ['ForAnyValue:StringNotEquals', 'cloudtrail.amazonaws.com', ['*']],
  ])(
    'finds "*" behind an organization perimeter with %s aws:PrincipalServiceName %s open to %j',
    (operator, name, open) => {
      const exempting = perimeter('StringNotEquals', 'aws:PrincipalOrgID', 'o-abc123', {
        [operator]: { 'aws:PrincipalServiceName': name },
      });
      expect(externalAccountsOf(normalizePolicy(policyWith(openToAll, exempting)), ACCOUNT)).toEqual(open);
    },
  );

  it('does not read a Deny whose one condition exempts a service by name as a perimeter', () => {
    const servicesOnly = perimeter('StringNotEquals', 'aws:PrincipalServiceName', 'cloudtrail.amazonaws.com');
    expect(externalAccountsOf(normalizePolicy(policyWith(openToAll, servicesOnly)), ACCOUNT)).toEqual(['*']);
  });

  it('finds an outside account shut out by a Deny perimeter around the own account', () => {
    const partner = { Effect: 'Allow', Principal: { AWS: EXTERNAL_ACCOUNT }, Action: 'kms:Decrypt', Resource: '*' };
    const fenced = normalizePolicy(policyWith(partner, perimeter('StringNotEquals', 'aws:PrincipalAccount', ACCOUNT)));
    expect(externalAccountsOf(fenced, ACCOUNT)).toEqual([]);
    expect(externalAccountsOf(normalizePolicy(policyWith(partner)), ACCOUNT)).toEqual([EXTERNAL_ACCOUNT]);
  });

  it('applies every Deny perimeter, whatever their order', () => {
    const partner = { Effect: 'Allow', Principal: { AWS: EXTERNAL_ACCOUNT }, Action: 'kms:Decrypt', Resource: '*' };
    const policy = normalizePolicy(
      policyWith(
        openToAll,
        partner,
        perimeter('StringNotEquals', 'aws:PrincipalOrgID', 'o-abc123'),
        perimeter('StringNotEqualsIfExists', 'aws:PrincipalAccount', ACCOUNT),
      ),
    );
    // The organization perimeter sorts first in the normal form; the account one still shuts the partner out.
    expect(policy.Statement.findIndex((s) => JSON.stringify(s).includes('PrincipalOrgID'))).toBeLessThan(
      policy.Statement.findIndex((s) => JSON.stringify(s).includes('PrincipalAccount')),
    );
    expect(externalAccountsOf(policy, ACCOUNT)).toEqual([]);
  });

  it('does not read a Deny on some other resource as a perimeter around this key', () => {
    const elsewhere = {
      ...perimeter('StringNotEquals', 'aws:PrincipalAccount', ACCOUNT),
      Resource: 'arn:aws:kms:us-west-2:111122223333:key/00000000-dead-beef-0000-000000000000',
    };
    expect(externalAccountsOf(normalizePolicy(policyWith(openToAll, elsewhere)), ACCOUNT)).toEqual(['*']);
    const { Resource: _elsewhere, ...rest } = elsewhere;
    const notResource = { ...rest, NotResource: '*' };
    expect(externalAccountsOf(normalizePolicy(policyWith(openToAll, notResource)), ACCOUNT)).toEqual(['*']);
  });

  it('does not read a Deny narrowed by a second condition as a perimeter', () => {
    const narrowed = perimeter('StringNotEquals', 'aws:PrincipalOrgID', 'o-abc123', {
      StringEquals: { 'kms:ViaService': 's3.us-west-2.amazonaws.com' },
    });
    expect(externalAccountsOf(normalizePolicy(policyWith(openToAll, narrowed)), ACCOUNT)).toEqual(['*']);
  });

  it('reports removing the Deny perimeter from a policy that allows "*" as opening the key to anyone', () => {
    const fenced = policyWith(openToAll, perimeter('StringNotEquals', 'aws:PrincipalOrgID', 'o-abc123'));
    const { findings } = detect([createKey({ policy: fenced }), putKeyPolicy(policyWith(openToAll))]);
    expect(findings[0].changes.policy?.external_accounts).toEqual([]);
    expect(findings[1].changes.policy?.external_accounts).toEqual(['*']);
    expect(findings[1].summary).toMatch(/opened to anyone/);
  });

  it.each([
    ['an organization perimeter', perimeter('StringNotEquals', 'aws:PrincipalOrgID', 'o-abc123'), false],
    [
      'an organization perimeter that lets AWS services through',
      perimeter('StringNotEqualsIfExists', 'aws:PrincipalOrgID', 'o-abc123', {
        BoolIfExists: { 'aws:PrincipalIsAWSService': 'false' },
      }),
      true,
    ],
    [
      'a Deny outside another source account',
      perimeter('StringNotEquals', 'aws:SourceAccount', EXTERNAL_ACCOUNT),
      false,
    ],
    ['a Deny outside its own source account', perimeter('StringNotEquals', 'aws:SourceAccount', ACCOUNT), true],
  ])('finds whether CloudTrail can still encrypt logs behind %s', (_, denyStatement, allowed) => {
    const policy = normalizePolicy(policyWith(cloudTrailStatement(), denyStatement));
    expect(allowsCloudTrailEncryption(policy, ACCOUNT)).toBe(allowed);
  });

  it("finds CloudTrail locked out when its statement's encryption context names another account's trails", () => {
    const statement = {
      ...cloudTrailFencedBy(
        'StringLike',
        'kms:EncryptionContext:aws:cloudtrail:arn',
        `arn:aws:cloudtrail:*:${EXTERNAL_ACCOUNT}:trail/*`,
      ),
    };
    expect(allowsCloudTrailEncryption(normalizePolicy(policyWith(statement)), ACCOUNT)).toBe(false);
    const own = cloudTrailFencedBy(
      'StringLike',
      'kms:EncryptionContext:aws:cloudtrail:arn',
      `arn:aws:cloudtrail:*:${ACCOUNT}:trail/*`,
    );
    expect(allowsCloudTrailEncryption(normalizePolicy(policyWith(own)), ACCOUNT)).toBe(true);
  });

  it('keeps "*" fenced only by the encryption context of log files open to anyone: it does not confine who decrypts', () => {
    const statement = {
      Effect: 'Allow',
      Principal: '*',
      Action: 'kms:Decrypt',
      Resource: '*',
      Condition: {
        StringLike: { 'kms:EncryptionContext:aws:cloudtrail:arn': `arn:aws:cloudtrail:*:${ACCOUNT}:trail/*` },
      },
    };
    expect(externalAccountsOf(normalizePolicy(policyWith(statement)), ACCOUNT)).toEqual(['*']);
  });

  /** A policy variable as a policy writes it: `${name}`. */
  const variable = (name: string) => `\${${name}}`;
  /** "*" allowed to decrypt when its condition key `key` equals `value` (`StringEquals`). */
  const wildcardWhere = (key: string, value: string) => ({
    Effect: 'Allow',
    Principal: '*',
    Action: 'kms:Decrypt',
    Resource: '*',
    Condition: { StringEquals: { [key]: value } },
  });

  it.each([
    // Each caller's own account, organization or ARN: every caller meets it.
    ['kms:CallerAccount', variable('aws:PrincipalAccount'), ['*']],
    ['aws:PrincipalOrgID', variable('aws:PrincipalOrgID'), ['*']],
    ['aws:PrincipalArn', `arn:aws:iam::${variable('aws:PrincipalAccount')}:root`, ['*']],
    // The key's own account or organization: a fence like the value itself.
    ['aws:PrincipalAccount', variable('aws:ResourceAccount'), []],
    ['aws:PrincipalOrgID', variable('aws:ResourceOrgID'), []],
    // A variable after the account (a role named by the caller's tag) leaves the ARN in that account.
    ['aws:PrincipalArn', `arn:aws:iam::${ACCOUNT}:role/${variable('aws:PrincipalTag/team')}`, []],
    [
      'aws:PrincipalArn',
      `arn:aws:iam::${EXTERNAL_ACCOUNT}:role/${variable('aws:PrincipalTag/team')}`,
      [EXTERNAL_ACCOUNT],
    ],
  ])('reads "*" fenced by %s = %s (a policy variable) as open to %j', (key, value, outside) => {
    expect(externalAccountsOf(normalizePolicy(policyWith(wildcardWhere(key, value))), ACCOUNT)).toEqual(outside);
  });

  it('reads a policy variable as text in a policy of the 2008 language, which has none', () => {
    const policy = {
      ...policyWith(wildcardWhere('aws:PrincipalOrgID', variable('aws:PrincipalOrgID'))),
      Version: '2008-10-17',
    };
    expect(externalAccountsOf(normalizePolicy(policy), ACCOUNT)).toEqual([]);
  });

  it("does not read a Deny whose negated fence is each caller's own value as a perimeter", () => {
    // `StringNotEquals aws:PrincipalAccount ${aws:PrincipalAccount}` holds for no request: the Deny never applies.
    const partner = { Effect: 'Allow', Principal: { AWS: EXTERNAL_ACCOUNT }, Action: 'kms:Decrypt', Resource: '*' };
    const never = perimeter('StringNotEquals', 'aws:PrincipalAccount', variable('aws:PrincipalAccount'));
    expect(externalAccountsOf(normalizePolicy(policyWith(partner, never)), ACCOUNT)).toEqual([EXTERNAL_ACCOUNT]);
    const ownOrg = perimeter('StringNotEquals', 'aws:PrincipalOrgID', variable('aws:PrincipalOrgID'));
    expect(externalAccountsOf(normalizePolicy(policyWith(openToAll, ownOrg)), ACCOUNT)).toEqual(['*']);
  });

  it('does not read a Deny whose negated ARN holds a variable it cannot fill in as a perimeter', () => {
    // Where the caller has no such tag, the Deny may not apply at all: it must not hide another account's principal.
    const partner = { Effect: 'Allow', Principal: { AWS: EXTERNAL_ACCOUNT }, Action: 'kms:Decrypt', Resource: '*' };
    const byTag = perimeter(
      'ArnNotLike',
      'aws:PrincipalArn',
      `arn:aws:iam::${ACCOUNT}:role/${variable('aws:PrincipalTag/team')}`,
    );
    expect(externalAccountsOf(normalizePolicy(policyWith(partner, byTag)), ACCOUNT)).toEqual([EXTERNAL_ACCOUNT]);
    const own = perimeter('ArnNotLike', 'aws:PrincipalArn', `arn:aws:iam::${variable('aws:ResourceAccount')}:*`);
    expect(externalAccountsOf(normalizePolicy(policyWith(partner, own)), ACCOUNT)).toEqual([]);
  });

  it.each([
    ['a path of the organization it names', 'o-a1b2c3d4e5/r-ab12/*', []],
    ["a path of the key's own organization", `${variable('aws:ResourceOrgID')}/r-ab12/*`, []],
    [
      "an organizational unit named by the caller's tag",
      `${variable('aws:ResourceOrgID')}/r-ab12/${variable('aws:PrincipalTag/ou')}/*`,
      ['*'],
    ],
  ])('reads a Deny outside %s as a perimeter only when it can fill in its variables', (_, path, outside) => {
    // `${aws:ResourceOrgID}` is the key's own organization, as in an Allow's path or a Deny of aws:PrincipalOrgID.
    const fenced = perimeter('StringNotLike', 'aws:PrincipalOrgPaths', path);
    expect(externalAccountsOf(normalizePolicy(policyWith(openToAll, fenced)), ACCOUNT)).toEqual(outside);
  });

  it('escalates a new key whose "*" is fenced to the organization of whoever calls: anyone in any organization', () => {
    const policy = policyWith(wildcardWhere('aws:PrincipalOrgID', variable('aws:PrincipalOrgID')));
    const { last } = detect([createKey({ policy })]);
    expect(last.changes.policy?.external_accounts).toEqual(['*']);
    expect(last.severity).toBe('critical');
    expect(last.summary).toMatch(/open to anyone/);
  });

  it("does not escalate a new key whose wildcard is fenced to the key's own account by aws:ResourceAccount", () => {
    const policy = policyWith(wildcardWhere('aws:PrincipalAccount', variable('aws:ResourceAccount')));
    const { last } = detect([createKey({ policy })]);
    expect(last.changes.policy?.external_accounts).toEqual([]);
    expect(last.severity).toBe('warning');
  });

  it.each([
    ['an organizational unit of one organization', ['o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*'], []],
    ['two organizations', ['o-a1b2c3d4e5/*', 'o-f6g7h8i9j0/r-cd34/*'], []],
    ['any organization', ['o-*/r-ab12/ou-ab12-11111111/*'], ['*']],
    ["the key's own organization", [`${variable('aws:ResourceOrgID')}/r-ab12/*`], []],
    [
      "an organizational unit named by the caller's tag",
      [`o-a1b2c3d4e5/r-ab12/${variable('aws:PrincipalTag/ou')}/*`],
      [],
    ],
    ['a pattern open to anything', ['*'], ['*']],
  ])('reads "*" fenced by aws:PrincipalOrgPaths to %s as an organization fence', (_, paths, outside) => {
    // The form the IAM User Guide gives for aws:PrincipalOrgPaths: a multivalued key, matched with ForAnyValue.
    const statement = {
      Effect: 'Allow',
      Principal: '*',
      Action: 'kms:Decrypt',
      Resource: '*',
      Condition: { 'ForAnyValue:StringLike': { 'aws:PrincipalOrgPaths': paths } },
    };
    expect(externalAccountsOf(normalizePolicy(policyWith(statement)), ACCOUNT)).toEqual(outside);
  });

  it('does not escalate a new key whose "*" is fenced to an organizational unit by aws:PrincipalOrgPaths', () => {
    const statement = {
      Effect: 'Allow',
      Principal: '*',
      Action: 'kms:Decrypt',
      Resource: '*',
      Condition: { 'ForAnyValue:StringLike': { 'aws:PrincipalOrgPaths': 'o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*' } },
    };
    const { last } = detect([createKey({ policy: policyWith(statement) })]);
    expect(last.changes.policy).toMatchObject({
      external_accounts: [],
      added_principals: expect.arrayContaining(['* (org o-a1b2c3d4e5)']),
    });
    expect(last.severity).toBe('warning');
  });

  it('reports the root of the key account as inside the account', () => {
    expect(externalAccountsOf(normalizePolicy(defaultPolicy()), ACCOUNT)).toEqual([]);
    expect(KEY_ARN).toContain(ACCOUNT);
  });
});
