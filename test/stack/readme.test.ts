/**
 * What the README's Deploy section promises, checked against package.json and the synthesized stack: the commands
 * it tells users to run, what it says about KMS rights, the trail and a second Region, and the alarm count and
 * conditional items of its cost table.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { configFromContext } from '../../lib/app-context';
import type { KeydriftProps } from '../../lib/config';
import { OUTPUT_KEYS } from '../../lib/keydrift';
import { KeydriftStack } from '../../lib/keydrift-stack';
import { testApp } from '../helpers/cdk';

const ROOT = path.join(__dirname, '..', '..');
const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const scripts: Record<string, string> = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts;

/** The README's section under `heading` (e.g. `## Deploy`), up to the next heading of the same or a higher level. */
function section(heading: string): string {
  const level = heading.indexOf(' ');
  const start = readme.indexOf(`\n${heading}\n`);
  expect(start).toBeGreaterThanOrEqual(0);
  const rest = readme.slice(start + heading.length + 2);
  const next = rest.search(new RegExp(`^#{1,${level}} `, 'm'));
  return next < 0 ? rest : rest.slice(0, next);
}

/** The stack's template for `config`, without the validation report CDK prints on synth. */
function synthesize(config: KeydriftProps): Template {
  const stack = new KeydriftStack(testApp(), 'Keydrift', { config });
  const quiet = jest.spyOn(console, 'error').mockImplementation(() => {});
  try {
    return Template.fromStack(stack);
  } finally {
    quiet.mockRestore();
  }
}

const alarmCount = (config: KeydriftProps): number =>
  Object.keys(synthesize(config).findResources('AWS::CloudWatch::Alarm')).length;

describe('README: deploying', () => {
  it('has package.json synth and deploy scripts that turn off the CDK CLI version check', () => {
    expect(scripts.synth).toMatch(/^CDK_DISABLE_VERSION_CHECK=1 cdk synth\b/);
    expect(scripts.deploy).toMatch(/^CDK_DISABLE_VERSION_CHECK=1 cdk deploy\b/);
  });

  it('synthesizes and deploys through those scripts, never through a bare cdk synth or deploy', () => {
    const deploy = section('## Deploy');
    expect(deploy).toContain('npm run deploy -- -c keydrift=');
    expect(deploy).toContain('npm run synth');
    expect(readme).not.toMatch(/\b(npx )?cdk (synth|deploy)\b/);
  });
});

describe('README: the deploy command', () => {
  /** `-c key=value` as the CDK CLI reads it: the value up to the first line break. */
  const cdkContextValue = (assignment: string): string => assignment.split(/=(.*)/, 2)[1];

  it('passes a configuration the app accepts whole, once the CDK CLI has read it', () => {
    const [command] = section('### Deploy command').match(/npm run deploy -- -c keydrift='[^']*'/) ?? [''];
    const value = cdkContextValue(command.slice(command.indexOf('keydrift=')).replace(/'/g, ''));
    expect(configFromContext(testApp({ keydrift: value }))).toMatchObject({
      alertEmails: ['kms-oncall@example.com'],
      createTrail: false,
    });
  });

  it('shows a cdk.json context the app accepts, with every alert channel', () => {
    const [, json] = section('### Deploy command').match(/```json\n([\s\S]*?)```/) ?? [];
    const config = configFromContext(testApp(JSON.parse(json).context));
    expect(config).toMatchObject({ slack: { workspaceId: 'T0123ABCD' }, pagerDutySecretName: 'keydrift/pagerduty' });
    expect(config.alertEmails).toHaveLength(1);
  });
});

describe('README: operating', () => {
  it('looks up only stack outputs the stack exports', () => {
    const lookedUp = [...readme.matchAll(/\$\(out (\w+)\)/g)].map(([, key]) => key);
    expect(lookedUp).toEqual(expect.arrayContaining(['DeadLetterQueueUrl', 'DetectorFunctionName']));
    expect(Object.values(OUTPUT_KEYS)).toEqual(expect.arrayContaining(lookedUp));
  });
});

describe('README: security and Regions', () => {
  const deploy = () => section('## Deploy').replace(/\s+/g, ' ');

  it("says the functions use keydrift's own key only through DynamoDB and SNS, with the actions they are granted", () => {
    const policies = Object.values(synthesize({}).findResources('AWS::IAM::Policy'));
    const keyUse = policies
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as { Action: string[]; Condition?: object }[])
      .filter((statement) => JSON.stringify(statement.Condition ?? {}).includes('kms:ViaService'));
    expect(keyUse.length).toBeGreaterThan(0);
    const text = deploy();
    expect(text).not.toMatch(/KMS read actions only/);
    for (const action of new Set(keyUse.flatMap((statement) => statement.Action)))
      expect(text).toContain(`\`${action}\``);
    expect(text).toContain('only through DynamoDB and SNS');
    expect(text).toContain('`kms:ViaService`');
  });

  it('says createTrail makes a multi-Region trail, to be set in one Region only', () => {
    synthesize({ createTrail: true }).hasResourceProperties('AWS::CloudTrail::Trail', { IsMultiRegionTrail: true });
    expect(deploy()).toMatch(/\| `createTrail` \| create a multi-Region [^|]*set it in one Region only \|/);
  });

  it("says createTrail's key and both its buckets are kept when the stack is deleted, and names its output", () => {
    const template = synthesize({ createTrail: true });
    const kept = (type: string) =>
      Object.values(template.findResources(type)).filter((resource) => resource.DeletionPolicy === 'Retain').length;
    expect(kept('AWS::S3::Bucket')).toBe(2);
    expect(kept('AWS::KMS::Key')).toBe(3);
    expect(template.findOutputs(OUTPUT_KEYS.trailArn)).not.toEqual({});
    expect(deploy()).toMatch(
      /\| `createTrail` \|[^|]*an access-logs bucket[^|]*the key and both buckets kept when the stack is deleted, its ARN in the `TrailArn` output/,
    );
  });

  it('gives every AWS Chatbot CLI command --region us-east-2, where the Chatbot API answers', () => {
    const commands = [...readme.matchAll(/`(aws chatbot [^`]*)`/g)].map(([, command]) => command);
    expect(commands.length).toBeGreaterThan(0);
    for (const command of commands) expect(command).toContain('--region us-east-2');
  });

  it('tells a second Region to share the Slack channel through the outputs the stack exports', () => {
    const text = deploy();
    expect(text).toContain('one configuration per Slack channel per account');
    for (const key of [OUTPUT_KEYS.chatTopicArn, OUTPUT_KEYS.opsTopicArn]) expect(text).toContain(`\`${key}\``);
    expect(text).toContain('aws chatbot update-slack-channel-configuration --sns-topic-arns');
  });
});

describe('README: reusing the construct', () => {
  it('shows the construct with exportOutputs(), and says when its fixed output ids collide', () => {
    const deploy = section('## Deploy');
    const [, example] = deploy.match(/```ts\n([\s\S]*?)```/) ?? [];
    expect(example).toMatch(/new Keydrift\(this, 'Keydrift', \{[^\n]*\}\);/);
    expect(example).toContain('keydrift.exportOutputs();');
    const text = deploy.replace(/\s+/g, ' ');
    expect(text).toContain(
      '`exportOutputs()` gives the outputs those fixed ids, so CDK refuses it in a stack that already',
    );
  });
});

describe('README: failures and the dead-letter queue', () => {
  const template = () => synthesize({}).toJSON();

  it('states the retry policy the rule targets have, not a 24-hour retry', () => {
    const targets = Object.values(template().Resources as Record<string, { Type: string; Properties: never }>)
      .filter((r) => r.Type === 'AWS::Events::Rule')
      .flatMap((r) => (r.Properties as { Targets: { RetryPolicy: Record<string, number> }[] }).Targets);
    const policies = new Set(targets.map((t) => JSON.stringify(t.RetryPolicy)));
    expect(policies.size).toBe(1);
    const { MaximumRetryAttempts, MaximumEventAgeInSeconds } = targets[0].RetryPolicy;
    const text = section('### When something fails').replace(/\s+/g, ' ');
    expect(text).toContain(`\`MaximumRetryAttempts\` ${MaximumRetryAttempts}`);
    expect(text).toContain(`\`MaximumEventAgeInSeconds\` ${MaximumEventAgeInSeconds}`);
    expect(readme).not.toMatch(/retries delivery\s+for 24 hours/);
  });

  it('names both dead-letter alarms, and says which encryption the queue and each topic use', () => {
    const text = section('### When something fails').replace(/\s+/g, ' ');
    expect(text).toContain('`NumberOfMessagesSent`');
    expect(text).toContain('depth');
    expect(readme).not.toMatch(/table, queue and topics use that key/);
    expect(text).toContain('the dead-letter queue SQS-managed encryption');
    expect(section('## Deploy').replace(/\s+/g, ' ')).toContain('the dead-letter queue with SQS-managed encryption');
  });
});

describe('README: what the stack holds and costs', () => {
  let byDefault: number;
  let withPaging: number;
  beforeAll(() => {
    byDefault = alarmCount({});
    withPaging = alarmCount({ pagerDutySecretName: 'keydrift/pagerduty', createTrail: true });
  });

  it('counts the alarms the stack creates, by default and with PagerDuty, at $0.10 each', () => {
    const row = section('### What it costs').match(
      /^\| (\d+)–(\d+) CloudWatch alarms[^|]*\| \$(\d+\.\d\d)–(\d+\.\d\d) \|$/m,
    );
    expect(row).not.toBeNull();
    const [, low, high, lowCost, highCost] = row!;
    expect([Number(low), Number(high)]).toEqual([byDefault, withPaging]);
    expect([lowCost, highCost]).toEqual([(byDefault * 0.1).toFixed(2), (withPaging * 0.1).toFixed(2)]);
    const holds = section('## Deploy').replace(/\s+/g, ' ');
    expect(holds).toContain(`${byDefault} CloudWatch alarms to the \`ops\` topic (${withPaging} with PagerDuty`);
  });

  it("prices both of the stack's KMS keys and their rotation", () => {
    const keys = Object.values(synthesize({}).toJSON().Resources as Record<string, { Type: string }>).filter(
      (r) => r.Type === 'AWS::KMS::Key',
    );
    expect(keys).toHaveLength(2);
    const rows = section('### What it costs').split('\n');
    expect(rows).toContainEqual(expect.stringMatching(/^\| the stack's two KMS keys .*\| \$2\.00 \|$/));
    expect(rows).toContainEqual(
      expect.stringMatching(
        /^\| their yearly rotation: .*first two rotations.*\| \$0 the first year, \$2\.00 the second, \$4\.00 from the third \|$/,
      ),
    );
  });

  it("keeps the dashboard within the free tier's 50 metrics, as the cost table says", () => {
    const [dashboard] = Object.values(
      synthesize({}).findResources('AWS::CloudWatch::Dashboard') as Record<
        string,
        { Properties: Record<string, unknown> }
      >,
    );
    const body = dashboard.Properties.DashboardBody as string | { 'Fn::Join': [string, unknown[]] };
    const json = (typeof body === 'string' ? [body] : body['Fn::Join'][1])
      .map((part) => (typeof part === 'string' ? part : 'REF'))
      .join('');
    const widgets = JSON.parse(json).widgets as { properties: { metrics?: unknown[] } }[];
    const metrics = widgets.reduce((sum, widget) => sum + (widget.properties.metrics?.length ?? 0), 0);
    const row = section('### What it costs')
      .split('\n')
      .find((line) => line.startsWith('| dashboard'));
    expect(metrics).toBeLessThanOrEqual(50);
    expect(row).toMatch(new RegExp(`^\\| dashboard: ${metrics} metrics .*within the free tier.*\\| \\$0 \\|$`));
  });

  it('lists the Secrets Manager secret and the trail key, each marked as conditional', () => {
    const rows = section('### What it costs').split('\n');
    expect(rows).toContainEqual(
      expect.stringMatching(/^\| only with `pagerDutySecretName`: .*Secrets Manager secret.*\| \$0\.40 \|$/),
    );
    expect(rows).toContainEqual(expect.stringMatching(/^\| only with `createTrail`: .*KMS key.*\| \$1\.00 \|$/));
  });
});
