/**
 * The `user` of a finding names the actor as precisely as the record allows, and planned principals
 * match sessions through their issuing role.
 */
import { isPlannedPrincipal, resolveActor } from '../../lambda/core/actor';
import { normalizeRecord } from '../../lambda/core/normalize';
import { ALICE, by, detect, EXTERNAL_ACCOUNT, onKey, rec, sessionIdentity } from './harness';

const actorOf = (name: string) => normalizeRecord(rec(name)).actor;

describe('Actor', () => {
  it('names an IAM user by the user ARN', () => {
    expect(actorOf('DisableKey__awskmsdg__1')).toEqual({ arn: ALICE, name: 'Alice', type: 'IAMUser' });
    expect(detect([rec('DisableKey__awskmsdg__1')]).last.user).toBe(ALICE);
  });

  it('names an assumed-role session by the session ARN, not the role', () => {
    const { last } = detect([rec('PutKeyPolicy__panther__1')]);
    expect(last.user).toBe(
      'arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_ExampleRole_xxxxxxxxxxxxxxxx/example.user',
    );
    expect(normalizeRecord(rec('PutKeyPolicy__panther__1')).actor).toMatchObject({
      name: 'example.user',
      type: 'AssumedRole',
      issuerArn:
        'arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_ExampleRole_xxxxxxxxxxxxxxxx',
    });
  });

  it("names a caller of another account with its account, so another account's role reads as no role of this one", () => {
    // Prepare: a session of a role named like the planned one, in another account, and an IAM user of another account
    const session = by(
      onKey(rec('DisableKey__awskmsdg__1')),
      sessionIdentity('platform-deployer', 'ci', EXTERNAL_ACCOUNT),
    );
    const user = rec('DisableKey__awskmsdg__1', (r) => {
      r.userIdentity = {
        ...r.userIdentity,
        arn: `arn:aws:iam::${EXTERNAL_ACCOUNT}:user/Alice`,
        accountId: EXTERNAL_ACCOUNT,
      };
    });

    // Act
    const { last } = detect([session], { plannedPrincipals: ['arn:aws:iam::111122223333:role/platform-deployer'] });

    // Assess
    expect(last).toMatchObject({ status: 'drift', severity: 'critical' });
    expect(last.summary).toBe(`Key 1234abcd-12ab-34cd-56ef-1234567890ab disabled by ci in account ${EXTERNAL_ACCOUNT}`);
    expect(normalizeRecord(user).actor.name).toBe(`Alice in account ${EXTERNAL_ACCOUNT}`);
    expect(actorOf('DisableKey__awskmsdg__1').name).toBe('Alice');
  });

  it('names the source identity behind a role session, in the summary and the finding', () => {
    // Prepare: alice's session, chained into the deployer role as deploy-4711 (the CloudTrail userIdentity
    // reference: sessionContext.sourceIdentity, kept through role chaining)
    const identity = sessionIdentity('platform-deployer', 'deploy-4711');
    (identity.sessionContext as { sourceIdentity?: string }).sourceIdentity = 'alice@example.com';
    const record = by(onKey(rec('DisableKey__awskmsdg__1')), identity);

    // Act
    const { last } = detect([record]);

    // Assess
    expect(last.summary).toBe(
      'Key 1234abcd-12ab-34cd-56ef-1234567890ab disabled by deploy-4711 (source identity alice@example.com)',
    );
    expect(last.user).toBe('arn:aws:sts::111122223333:assumed-role/platform-deployer/deploy-4711');
    expect(last.sourceIdentity).toBe('alice@example.com');
  });

  it('says a source identity once when the session is named after it, and leaves it out where there is none', () => {
    const identity = sessionIdentity('AWSReservedSSO_Admin_0123456789abcdef', 'carol@example.com');
    (identity.sessionContext as { sourceIdentity?: string }).sourceIdentity = 'carol@example.com';
    const { last } = detect([by(onKey(rec('DisableKey__awskmsdg__1')), identity)]);
    expect(last.summary).toBe('Key 1234abcd-12ab-34cd-56ef-1234567890ab disabled by carol@example.com');
    expect(last.sourceIdentity).toBe('carol@example.com');
    expect(detect([rec('DisableKey__awskmsdg__1')]).last).not.toHaveProperty('sourceIdentity');
  });

  it('keeps the source identity of a session whose record leaves its ARN out', () => {
    const identity = {
      type: 'AssumedRole',
      principalId: 'AROAABC:eve',
      sessionContext: { sessionIssuer: { arn: 'arn:aws:iam::111122223333:role/oncall' }, sourceIdentity: 'eve.ops' },
    };
    expect(resolveActor(identity)).toMatchObject({ name: 'eve (source identity eve.ops)', sourceIdentity: 'eve.ops' });
  });

  it.each([
    ["an ECS task (the example logs' payments-app)", 'payments-app', '2cf617ab765a94a42f0a60a06e712974'],
    ['an EC2 instance profile', 'ops-runner', 'i-0abc123def4567890'],
    ["an SDK's default session", 'backup-admin', 'botocore-session-1759482000'],
    ['a UUID', 'AWSCodeBuild-deploy', 'AWSCodeBuild-3c9d4f0e-5a1b-4c2d-9e8f-7a6b5c4d3e2f'],
  ])('names a session that %s named, which says nothing of who acted, with its role', (_what, role, session) => {
    const record = by(onKey(rec('DisableKey__awskmsdg__1')), sessionIdentity(role, session));
    expect(detect([record]).last.summary).toBe(
      `Key 1234abcd-12ab-34cd-56ef-1234567890ab disabled by session ${session} of role ${role}`,
    );
  });

  it('names a chosen session name alone, and an unchosen one with its role, then account and source identity', () => {
    const chosen = by(onKey(rec('DisableKey__awskmsdg__1')), sessionIdentity('platform-deployer', 'codepipeline-7f3a'));
    expect(detect([chosen]).last.summary).toBe(
      'Key 1234abcd-12ab-34cd-56ef-1234567890ab disabled by codepipeline-7f3a',
    );
    const identity = sessionIdentity('ops-runner', 'i-0abc123def4567890', EXTERNAL_ACCOUNT);
    (identity.sessionContext as { sourceIdentity?: string }).sourceIdentity = 'alice';
    expect(resolveActor(identity, undefined, 'eu-west-1', '111122223333').name).toBe(
      `session i-0abc123def4567890 of role ops-runner in account ${EXTERNAL_ACCOUNT} (source identity alice)`,
    );
    const noArn = {
      type: 'AssumedRole',
      principalId: 'AROAABC:i-0abc123def4567890',
      sessionContext: identity.sessionContext,
    };
    expect(resolveActor(noArn).name).toBe('session i-0abc123def4567890 of role ops-runner (source identity alice)');
  });

  it('names the root user by the root ARN', () => {
    const actor = actorOf('StopLogging__panther__2');
    expect(actor).toMatchObject({ arn: 'arn:aws:iam::493859302102:root', name: 'root (493859302102)', type: 'Root' });
  });

  it('names KMS itself for a KMS service event such as DeleteKey', () => {
    const { last } = detect([rec('DeleteKey__awskmsdg__1')]);
    expect(last.user).toBe('kms.amazonaws.com');
    expect(normalizeRecord(rec('DeleteKey__awskmsdg__1')).actor).toEqual({
      arn: 'kms.amazonaws.com',
      name: 'kms.amazonaws.com',
      type: 'AWSService',
      invokedBy: 'kms.amazonaws.com',
    });
  });

  it('names KMS for its native EventBridge events', () => {
    expect(detect([rec('KMSCMKRotation__awskmsdg__1')]).last.user).toBe('kms.amazonaws.com');
  });

  it('names an AWS service that called with its own identity', () => {
    const actor = actorOf('Decrypt__awskmsdg__7');
    expect(actor).toMatchObject({ arn: 'workmail.eu-west-1.amazonaws.com', type: 'AWSService' });
  });

  it('keeps the caller as the user and the service in invokedBy when a service acts for a caller', () => {
    const actor = actorOf('CreateGrant__awskmsdg__3');
    expect(actor).toEqual({
      arn: 'arn:aws:sts::111122223333:assumed-role/Admin/user01',
      name: 'user01',
      type: 'AssumedRole',
      issuerArn: 'arn:aws:iam::111122223333:role/Admin',
      invokedBy: 'dynamodb.amazonaws.com',
    });
  });

  it('names a caller from another account by its account root and the principal id the record gives', () => {
    const identity = { type: 'AWSAccount', accountId: '444455556666', principalId: 'AROAEXAMPLE:mallory' };
    expect(resolveActor(identity)).toMatchObject({
      arn: 'arn:aws:iam::444455556666:root',
      name: 'account 444455556666 (principal AROAEXAMPLE:mallory)',
    });
    expect(resolveActor({ type: 'AWSAccount', accountId: '444455556666' }).name).toBe('account 444455556666');
  });

  it('keeps the account of a caller from another account when a service acted for it', () => {
    const identity = { type: 'AWSAccount', accountId: '444455556666', invokedBy: 'ec2.amazonaws.com' };
    expect(resolveActor(identity)).toMatchObject({
      arn: 'arn:aws:iam::444455556666:root',
      name: 'account 444455556666',
      invokedBy: 'ec2.amazonaws.com',
    });
  });

  it('builds the ARNs a record leaves out in its own partition (aws-cn in China, aws-us-gov in GovCloud)', () => {
    const fromAccount = rec('CreateGrant__awskmsdg__3', (r) => {
      r.awsRegion = 'cn-north-1';
      r.userIdentity = { type: 'AWSAccount', accountId: '444455556666', principalId: 'AROAEXAMPLE:mallory' };
    });
    expect(normalizeRecord(fromAccount).actor.arn).toBe('arn:aws-cn:iam::444455556666:root');
    const session = rec('CreateGrant__awskmsdg__3', (r) => {
      r.awsRegion = 'us-gov-west-1';
      r.userIdentity = {
        type: 'AssumedRole',
        principalId: 'AROAABC:eve',
        sessionContext: { sessionIssuer: { arn: 'arn:aws-us-gov:iam::111122223333:role/oncall' } },
      };
    });
    expect(normalizeRecord(session).actor.arn).toBe('arn:aws-us-gov:sts::111122223333:assumed-role/oncall/eve');
  });

  it('builds the session ARN of an assumed role whose record leaves it out, from its issuing role', () => {
    const identity = {
      type: 'AssumedRole',
      principalId: 'AROAABC:eve',
      sessionContext: { sessionIssuer: { arn: 'arn:aws:iam::111122223333:role/ops/oncall' } },
    };
    expect(resolveActor(identity)).toMatchObject({
      arn: 'arn:aws:sts::111122223333:assumed-role/oncall/eve',
      name: 'eve',
      issuerArn: 'arn:aws:iam::111122223333:role/ops/oncall',
    });
  });
});

describe('Planned principals', () => {
  const session = normalizeRecord(rec('CreateGrant__awskmsdg__3')).actor;

  it('match an assumed-role session through its issuing role', () => {
    expect(isPlannedPrincipal(session, ['arn:aws:iam::111122223333:role/Admin'])).toBe(true);
  });

  it('do not match a session of another role', () => {
    expect(isPlannedPrincipal(session, ['arn:aws:iam::111122223333:role/Administrators'])).toBe(false);
  });

  it('match a role given with its path, since session ARNs drop the path', () => {
    const sso = normalizeRecord(rec('PutKeyPolicy__panther__1')).actor;
    expect(
      isPlannedPrincipal(sso, ['arn:aws:iam::123456789012:role/AWSReservedSSO_ExampleRole_xxxxxxxxxxxxxxxx']),
    ).toBe(true);
    expect(
      isPlannedPrincipal(sso, [
        'arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_ExampleRole_xxxxxxxxxxxxxxxx',
      ]),
    ).toBe(true);
  });

  it('match an IAM user by its ARN', () => {
    expect(isPlannedPrincipal(actorOf('DisableKey__awskmsdg__1'), [ALICE])).toBe(true);
  });

  it('do not match the same role name in another account', () => {
    expect(isPlannedPrincipal(session, ['arn:aws:iam::444455556666:role/Admin'])).toBe(false);
  });

  it('make a session of the planned role a planned change in findings', () => {
    const record = by(onKey(rec('DisableKey__awskmsdg__1')), sessionIdentity('platform-deployer', 'codepipeline-7f3a'));
    const { last } = detect([record], { plannedPrincipals: ['arn:aws:iam::111122223333:role/platform-deployer'] });
    expect(last).toMatchObject({
      user: 'arn:aws:sts::111122223333:assumed-role/platform-deployer/codepipeline-7f3a',
      status: 'planned',
      severity: 'info',
    });
  });
});
