/**
 * keydrift's deployment configuration: defaults, and a message naming the field for every kind of mistake, as
 * read from the CDK context the way `cdk synth -c keydrift='{...}'` passes it.
 */
import { App, CfnParameter, Fn, Stack } from 'aws-cdk-lib';
import { parseDetectionConfig } from '../../lambda/core/config';
import { configFromContext, stackNameFromContext } from '../../lib/app-context';
import {
  detectionSettingsJson,
  environmentBytes,
  MAX_DETECTION_SETTINGS_BYTES,
  parseKeydriftConfig,
} from '../../lib/config';

describe('parseKeydriftConfig', () => {
  it('applies every default to an empty configuration', () => {
    expect(parseKeydriftConfig({})).toEqual({
      alertEmails: [],
      plannedPrincipals: [],
      severityOverrides: {},
      alertMinSeverity: 'error',
      ignore: [],
      trailKeys: [],
      createTrail: false,
      reconcileSchedule: 'rate(6 hours)',
    });
  });

  it('accepts a complete, valid configuration unchanged', () => {
    const config = {
      alertEmails: ['secops@example.com'],
      slack: { workspaceId: 'T07EA123LEP', channelId: 'C07EZ1ABC23' },
      pagerDutySecretName: 'keydrift/pagerduty-routing-key',
      plannedPrincipals: [
        'arn:aws:iam::111122223333:role/platform-deployer',
        'arn:aws-us-gov:iam::111122223333:user/ops/alice',
      ],
      severityOverrides: { TagResource: 'info', 'KMS CMK Deletion': 'critical', denied: 'error' },
      alertMinSeverity: 'warning',
      ignore: [
        { event: 'CreateGrant', user: 'arn:aws:sts::*:assumed-role/backup-*', reason: 'AWS Backup' },
        { resource: 'arn:aws:kms:*:111122223333:key/sandbox-*' },
      ],
      trailKeys: ['arn:aws:kms:eu-west-1:111122223333:key/c7d3e2b8-5a16-4f0e-b9c4-2e81a7f6d305'],
      createTrail: true,
      reconcileSchedule: 'cron(0 6 * * ? *)',
    };
    expect(parseKeydriftConfig(config)).toEqual(config);
  });

  it('accepts ignore and trailKeys exactly as the detection core does (README, keydrift replay --config)', () => {
    const detection = {
      ignore: [{ event: 'CreateGrant', user: 'arn:aws:sts::*:assumed-role/backup-*', reason: 'AWS Backup' }],
      trailKeys: ['arn:aws:kms:eu-west-1:111122223333:key/c7d3e2b8-5a16-4f0e-b9c4-2e81a7f6d305'],
    };
    const core = parseDetectionConfig(detection);
    expect(parseKeydriftConfig(detection)).toMatchObject({ ignore: core.ignore, trailKeys: core.trailKeys });
  });

  it.each([
    [{ alertEmails: ['ok@example.com', 'bob@'] }, 'keydrift config: alertEmails[1] "bob@" is not an e-mail address'],
    [{ alertEmails: ['a@example.com', 'a@example.com'] }, 'alertEmails[1] "a@example.com" is listed twice'],
    [{ alertEmails: 'secops@example.com' }, 'alertEmails must be array, got "secops@example.com"'],
    [
      { slack: { workspaceId: 'acme', channelId: 'C07EZ1ABC23' } },
      'slack.workspaceId "acme" is not a Slack workspace ID',
    ],
    [
      { slack: { workspaceId: 'T07EA123LEP', channelId: '#alerts' } },
      'slack.channelId "#alerts" is not a Slack channel ID',
    ],
    [{ slack: { workspaceId: 'T07EA123LEP' } }, 'slack.channelId is required'],
    [
      { pagerDutySecretName: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:pd-AbCdEf' },
      'pagerDutySecretName "arn:aws:secretsmanager:eu-west-1:111122223333:secret:pd-AbCdEf" is not a Secrets Manager secret name',
    ],
    [
      { plannedPrincipals: ['arn:aws:sts::111122223333:assumed-role/Deployer/ci'] },
      'plannedPrincipals[0] "arn:aws:sts::111122223333:assumed-role/Deployer/ci" is not an IAM role or user ARN',
    ],
    [
      { plannedPrincipals: ['arn:aws:iam::111122223333:role/deployer/'] },
      'plannedPrincipals[0] "arn:aws:iam::111122223333:role/deployer/" is not an IAM role or user ARN',
    ],
    [
      { plannedPrincipals: ['arn:aws:iam::1111:role/x'] },
      'plannedPrincipals[0] "arn:aws:iam::1111:role/x" is not an IAM role',
    ],
    [
      { severityOverrides: { PutKeyPolicy: 'urgent' } },
      'severityOverrides.PutKeyPolicy "urgent" is not one of info, warning, error, critical',
    ],
    [
      { severityOverrides: { PutKeyPolicyy: 'info' } },
      'severityOverrides key "PutKeyPolicyy" is not a watched event name or one of denied, planned, resolved',
    ],
    [
      // Rules are known names, but no override sets their severity: saying "not a rule keydrift knows" misled.
      { severityOverrides: { NoOutsideAccessGained: 'info' } },
      'severityOverrides key "NoOutsideAccessGained" is an escalation rule, whose severity is fixed',
    ],
    [
      { severityOverrides: { drift: 'info' } },
      `severityOverrides key "drift" is the drift status, which takes its event's severity`,
    ],
    [{ alertMinSeverity: 'high' }, 'alertMinSeverity "high" is not one of info, warning, error, critical'],
    [{ createTrail: 'yes' }, 'createTrail "yes" must be true or false'],
    [{ reconcileSchedule: 'every 6 hours' }, 'reconcileSchedule "every 6 hours" is not a schedule expression'],
    [{ reconcileSchedule: 'rate(0 hours)' }, 'reconcileSchedule "rate(0 hours)" must run at least every 1 unit'],
    [{ reconcileSchedule: 'rate(1 hours)' }, 'reconcileSchedule "rate(1 hours)" says hours for 1'],
    [{ reconcileSchedule: 'rate(2 hour)' }, 'reconcileSchedule "rate(2 hour)" says hour for 2'],
    [{ reconcileSchedule: 'rate(4 days)' }, 'reconcileSchedule "rate(4 days)" is rarer than every 3 days'],
    [{ reconcileSchedule: 'cron(0 6 * *)' }, 'reconcileSchedule "cron(0 6 * *)" is not a schedule expression'],
    [{ reconcileSchedule: 'cron(0 6 * * * *)' }, 'reconcileSchedule "cron(0 6 * * * *)" needs ? in exactly one'],
    [{ ignore: [{ reason: 'backups' }] }, 'keydrift config: ignore[0]: an ignore rule needs event, resource or user'],
    [{ ignore: [{ event: 'CreateGrant', evnt: 'x' }] }, 'keydrift config: ignore[0]: Unrecognized key: "evnt"'],
    [{ ignore: { event: 'CreateGrant' } }, 'keydrift config: ignore: Invalid input: expected array'],
    [{ trailKeys: ['alias/cloudtrail'] }, 'keydrift config: trailKeys[0]: must be a KMS key ARN'],
    [{ alertEmail: ['secops@example.com'] }, 'unknown field "alertEmail"'],
    [{ slack: { workspaceId: 'T07EA123LEP', channelId: 'C07EZ1ABC23', token: 'x' } }, 'unknown field "token" in slack'],
    [['secops@example.com'], 'keydrift config: must be an object'],
    [null, 'keydrift config: must be an object, got null'],
  ])('rejects %j naming the field', (input, message) => {
    expect(() => parseKeydriftConfig(input)).toThrow(message);
  });

  it.each([
    'cron(0 6 * * ? *)',
    'cron(0 6 ? * * *)',
    'cron(15 */6 * * ? *)',
    'cron(0 6 ? * MON-FRI *)',
    'cron(0 6 ? * 2-6 *)',
    'cron(0 6 ? * MON,WED,FRI *)',
    'cron(0 6 ? * SUN,TUE-THU,SAT *)',
    'cron(0 6 ? * SUN,WED,SAT *)',
    'cron(0/30 0-23/4 * * ? *)',
    'cron(5,35 6,18 * * ? *)',
  ])('accepts %s: its runs are never more than 3 days apart', (reconcileSchedule) => {
    expect(parseKeydriftConfig({ reconcileSchedule }).reconcileSchedule).toBe(reconcileSchedule);
  });

  it.each([
    [
      'cron(0 6 1 * ? *)',
      'reconcileSchedule "cron(0 6 1 * ? *)" has day-of-month (3rd field) "1": it runs on some days of the month only, which leaves more than 3 days between runs',
    ],
    ['cron(0 6 1,15 * ? *)', 'has day-of-month (3rd field) "1,15"'],
    ['cron(0 6 */2 * ? *)', 'has day-of-month (3rd field) "*/2"'],
    ['cron(0 6 L * ? *)', 'has day-of-month (3rd field) "L"'],
    [
      'cron(0 6 ? * MON *)',
      'reconcileSchedule "cron(0 6 ? * MON *)" has day-of-week (5th field) "MON", which leaves 7 days between runs (MON to MON), more than the 3 days the reconcile heartbeat alarm can watch',
    ],
    ['cron(0 6 ? * MON,THU *)', '"MON,THU", which leaves 4 days between runs (THU to MON)'],
    ['cron(0 6 ? * MON-WED *)', '"MON-WED", which leaves 5 days between runs (WED to MON)'],
    [
      'cron(0 6 ? * 2#1 *)',
      'has day-of-week (5th field) "2#1": "2#1" is not a day (1-7 or SUN-SAT) or a range of days',
    ],
    ['cron(0 6 ? * 6L *)', 'has day-of-week (5th field) "6L": "6L" is not a day'],
    ['cron(0 6 ? * 1/2 *)', 'has day-of-week (5th field) "1/2": "1/2" is not a day'],
    ['cron(0 6 ? * FRI-MON *)', 'has day-of-week (5th field) "FRI-MON": "FRI-MON" runs backwards: write it as a list'],
    ['cron(0 6 * 1-6 ? *)', 'has month (4th field) "1-6": it skips months'],
    ['cron(0 6 * * ? 2026)', 'has year (6th field) "2026": it stops running after it'],
    ['cron(0 25 * * ? *)', 'has hours (2nd field) "25": it takes values from 0 to 23'],
    ['cron(60 6 * * ? *)', 'has minutes (1st field) "60": it takes values from 0 to 59'],
    ['cron(0 6,24 * * ? *)', 'has hours (2nd field) "6,24": it takes values from 0 to 23'],
    ['cron(0 x * * ? *)', 'has hours (2nd field) "x": it takes values from 0 to 23'],
  ])('rejects %s, naming the field and why the heartbeat cannot watch it', (reconcileSchedule, message) => {
    expect(() => parseKeydriftConfig({ reconcileSchedule })).toThrow(message);
  });

  it("rejects detection settings too large for the functions' environment, naming the size, the limit and what to shorten", () => {
    // Prepare: 80 planned principals come to about 6 KB of JSON; Lambda allows 4 KB for a function's whole environment.
    const plannedPrincipals = Array.from(
      { length: 80 },
      (_, i) => `arn:aws:iam::111122223333:role/platform/deployers/team-${i}-pipeline-deployer`,
    );
    const size = environmentBytes(
      detectionSettingsJson({ ...parseKeydriftConfig({}), plannedPrincipals }),
    ).toLocaleString('en-US');

    // Act and assess
    expect(() => parseKeydriftConfig({ plannedPrincipals })).toThrow(
      `keydrift config: the detection settings take ${size} bytes in the functions' KEYDRIFT_CONFIG environment ` +
        'variable (plannedPrincipals ',
    );
    expect(() => parseKeydriftConfig({ plannedPrincipals })).toThrow(
      /over the limit of 2,750 bytes: Lambda allows 4 KB for all of a function's environment variables .*Shorten plannedPrincipals/,
    );
    expect(MAX_DETECTION_SETTINGS_BYTES).toBe(2750);
  });

  it('accepts detection settings up to that limit', () => {
    const plannedPrincipals = Array.from({ length: 40 }, (_, i) => `arn:aws:iam::111122223333:role/deployer-${i}`);
    expect(parseKeydriftConfig({ plannedPrincipals }).plannedPrincipals).toEqual(plannedPrincipals);
  });

  it('reports every bad field at once', () => {
    expect(() => parseKeydriftConfig({ alertEmails: ['bob@'], createTrail: 1 })).toThrow(
      'keydrift config: alertEmails[0] "bob@" is not an e-mail address; createTrail 1 must be true or false',
    );
    expect(() => parseKeydriftConfig({ alertEmails: ['bob@'], ignore: [{}], trailKeys: ['x'] })).toThrow(
      'keydrift config: alertEmails[0] "bob@" is not an e-mail address; ' +
        'ignore[0]: an ignore rule needs event, resource or user; trailKeys[0]: must be a KMS key ARN',
    );
  });
});

describe('configuration values known only at deploy (CDK tokens)', () => {
  const stack = new Stack(new App(), 'Platform');
  const parameter = (name: string) => new CfnParameter(stack, name).valueAsString;

  it('takes the e-mail addresses, Slack IDs and secret name as tokens, unchecked, for CloudFormation to resolve', () => {
    const config = {
      alertEmails: ['secops@example.com', parameter('OnCallEmail')],
      slack: { workspaceId: parameter('SlackWorkspace'), channelId: parameter('SlackChannel') },
      pagerDutySecretName: parameter('RoutingKeySecret'),
    };
    expect(parseKeydriftConfig(config)).toMatchObject(config);
  });

  it('says an address given twice as the same token is listed twice, not that it must be written out', () => {
    const onCall = parameter('OnCall');
    expect(() => parseKeydriftConfig({ alertEmails: [onCall, 'secops@example.com', onCall] })).toThrow(
      /^keydrift config: alertEmails\[2\] is listed twice \(the same CDK token as alertEmails\[0\]\)$/,
    );
  });

  it('still checks the literal values beside a token', () => {
    expect(() => parseKeydriftConfig({ alertEmails: [parameter('Email'), 'bob@'] })).toThrow(
      'keydrift config: alertEmails[1] "bob@" is not an e-mail address',
    );
  });

  it('says a detection setting given as a token must be written out, rather than calling it malformed', () => {
    expect(() => parseKeydriftConfig({ plannedPrincipals: [parameter('Deployer')] })).toThrow(
      'keydrift config: plannedPrincipals[0] is a CDK token (a value known only at deploy), which keydrift cannot check at synth: write the value out',
    );
    expect(() => parseKeydriftConfig({ reconcileSchedule: parameter('Schedule') })).toThrow(
      'keydrift config: reconcileSchedule is a CDK token',
    );
  });

  it('refuses a token in an ignore rule or among the trail keys, which the functions would read as JSON', () => {
    expect(() => parseKeydriftConfig({ ignore: [{ event: 'TagResource', reason: parameter('Why') }] })).toThrow(
      'keydrift config: ignore[0].reason is a CDK token (a value known only at deploy), which keydrift cannot check at synth: write the value out',
    );
    expect(() =>
      parseKeydriftConfig({ ignore: [{ resource: `arn:aws:kms:*:*:key/${parameter('TestKey')}` }] }),
    ).toThrow('keydrift config: ignore[0].resource is a CDK token');
    expect(() => parseKeydriftConfig({ trailKeys: [parameter('TrailKey')] })).toThrow(
      'keydrift config: trailKeys[0] is a CDK token',
    );
    expect(() => parseKeydriftConfig({ trailKeys: Fn.split(',', parameter('TrailKeys')) })).toThrow(
      'keydrift config: trailKeys is a CDK list token, which keydrift cannot read at synth: give an array of strings',
    );
  });

  it('says a list token cannot be read at synth', () => {
    const emails = new CfnParameter(stack, 'Emails', { type: 'CommaDelimitedList' }).valueAsList;
    expect(() => parseKeydriftConfig({ alertEmails: emails })).toThrow(
      'keydrift config: alertEmails is a CDK list token, which keydrift cannot read at synth: give an array of strings',
    );
  });
});

describe('configuration from the CDK context', () => {
  const appWith = (context: Record<string, unknown>) => new App({ context });

  it('uses every default when the keydrift context key is absent', () => {
    expect(configFromContext(appWith({}))).toEqual(parseKeydriftConfig({}));
  });

  it('accepts an object, as cdk.json holds it', () => {
    expect(configFromContext(appWith({ keydrift: { createTrail: true } })).createTrail).toBe(true);
  });

  it('accepts a JSON string, as `-c keydrift=...` passes it', () => {
    const config = configFromContext(appWith({ keydrift: '{"alertEmails":["secops@example.com"]}' }));
    expect(config.alertEmails).toEqual(['secops@example.com']);
  });

  it('says so when the JSON string is malformed', () => {
    expect(() => configFromContext(appWith({ keydrift: "{alertEmails:['x']}" }))).toThrow(
      'keydrift config: context "keydrift" is not valid JSON',
    );
  });

  it('says the CDK CLI cut a -c value written over several lines, which arrives as its first line only', () => {
    expect(() => configFromContext(appWith({ keydrift: '{' }))).toThrow(
      'the CDK CLI keeps only the first line of a -c value: write it on one line or put it in cdk.json',
    );
  });

  it('accepts ignore rules and trail keys from the context, as the README documents them', () => {
    const config = configFromContext(
      appWith({ keydrift: '{"ignore":[{"event":"CreateGrant","reason":"AWS Backup"}],"trailKeys":[]}' }),
    );
    expect(config.ignore).toEqual([{ event: 'CreateGrant', reason: 'AWS Backup' }]);
  });

  it('validates what the context holds', () => {
    expect(() => configFromContext(appWith({ keydrift: '{"alertEmails":["bob@"]}' }))).toThrow(
      'keydrift config: alertEmails[0] "bob@" is not an e-mail address',
    );
  });

  it('names the stack Keydrift unless stackName is given', () => {
    expect(stackNameFromContext(appWith({}))).toBe('Keydrift');
    expect(stackNameFromContext(appWith({ stackName: 'KeydriftStaging' }))).toBe('KeydriftStaging');
  });

  it('rejects a stack name CloudFormation would refuse', () => {
    expect(() => stackNameFromContext(appWith({ stackName: 'keydrift_prod' }))).toThrow(
      'keydrift: context "stackName" "keydrift_prod" is not a valid stack name',
    );
  });

  it("rejects a stack name over 64 characters, which would outgrow the functions' 4 KB environment", () => {
    expect(stackNameFromContext(appWith({ stackName: `K${'x'.repeat(63)}` }))).toHaveLength(64);
    expect(() => stackNameFromContext(appWith({ stackName: `K${'x'.repeat(64)}` }))).toThrow(/4 KB Lambda allows/);
  });
});
