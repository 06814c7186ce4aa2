/**
 * The synthesized keydrift stack, asserted fact by fact: what each resource must guarantee for keydrift to see
 * every change, keep it, and reach a human. Each configuration is synthesized once.
 */
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { KMS_API_WRITES, KMS_NATIVE_EVENTS, KMS_SERVICE_EVENTS, TRAIL_WRITES } from '../../lambda/core/watched-events';
import { KEY_USE_ACTIONS, Keydrift } from '../../lib/keydrift';
import { KeydriftStack } from '../../lib/keydrift-stack';
import { testApp } from '../helpers/cdk';

// biome-ignore lint/suspicious/noExplicitAny: synthesized CloudFormation JSON is untyped; assertions check its shape.
type Json = Record<string, any>;

const FULL_CONFIG = {
  alertEmails: ['secops@example.com', 'oncall@example.com'],
  slack: { workspaceId: 'T07EA123LEP', channelId: 'C07EZ1ABC23' },
  pagerDutySecretName: 'keydrift/pagerduty',
  plannedPrincipals: ['arn:aws:iam::111122223333:role/platform-deployer'],
  severityOverrides: { TagResource: 'info' as const },
  alertMinSeverity: 'warning' as const,
  createTrail: true,
};

const KEY_READ_ACTIONS = [
  'kms:DescribeKey',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListResourceTags',
  'kms:ListAliases',
  'kms:ListGrants',
  'kms:ListKeys',
  'kms:ListKeyRotations',
];

interface Synthesized {
  stack: KeydriftStack;
  template: Template;
  annotations: Annotations;
}
let defaults: Synthesized;
let full: Synthesized;

function synthesize(config?: ConstructorParameters<typeof KeydriftStack>[2]): Synthesized {
  const stack = new KeydriftStack(testApp(), 'Keydrift', config);
  // CDK prints the validation report (the trail prerequisite warning) on every synth; it is asserted below.
  const quiet = jest.spyOn(console, 'error').mockImplementation(() => {});
  try {
    return { stack, template: Template.fromStack(stack), annotations: Annotations.fromStack(stack) };
  } finally {
    quiet.mockRestore();
  }
}

beforeAll(() => {
  defaults = synthesize();
  full = synthesize({ config: FULL_CONFIG });
});

const logicalId = (stack: KeydriftStack, construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as never);
const keyArn = (stack: KeydriftStack) => ({ 'Fn::GetAtt': [logicalId(stack, stack.keydrift.key), 'Arn'] });
const toArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Every statement of the IAM policies attached to a role. */
function roleStatements(template: Template, roleLogicalId: string): Json[] {
  const policies = template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: Match.arrayWith([{ Ref: roleLogicalId }]) },
  });
  return Object.values(policies).flatMap((policy) => policy.Properties.PolicyDocument.Statement as Json[]);
}

/** The role logical id of the function whose environment has `marker` (and not `unless`). */
function functionRole(template: Template, marker: string, unless?: string): string {
  const fns = Object.values(
    template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: Match.objectLike({ [marker]: Match.anyValue() }) } },
    }),
  ).filter((fn) => !unless || !(unless in fn.Properties.Environment.Variables));
  expect(fns).toHaveLength(1);
  return fns[0].Properties.Role['Fn::GetAtt'][0];
}
const detectorRole = (template: Template) => functionRole(template, 'TABLE_NAME', 'RECONCILE_RESERVE_MS');
const reconcilerRole = (template: Template) => functionRole(template, 'RECONCILE_RESERVE_MS');
/** The rules whose target is the function with this logical id. */
const rulesTargeting = (template: Template, functionLogicalId: string) =>
  Object.values(template.findResources('AWS::Events::Rule'))
    .map((r) => r.Properties)
    .filter((rule) => rule.Targets.some((t: Json) => t.Arn['Fn::GetAtt']?.[0] === functionLogicalId));

describe('keydrift stack with the default configuration', () => {
  it('creates a rotating, retained customer managed key', () => {
    defaults.template.hasResource('AWS::KMS::Key', {
      Properties: { EnableKeyRotation: true },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('lets EventBridge and CloudWatch use the key only on behalf of this account', () => {
    defaults.template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: ['cloudwatch.amazonaws.com', 'events.amazonaws.com'] },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          }),
        ]),
      },
    });
  });

  it('keeps baselines and findings in an on-demand table keyed by pk/sk with TTL and a byTime index', () => {
    defaults.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byTime',
          KeySchema: [
            { AttributeName: 'gsi1pk', KeyType: 'HASH' },
            { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
  });

  it('protects the table with point-in-time recovery, deletion protection and a Retain policy', () => {
    defaults.template.hasResource('AWS::DynamoDB::GlobalTable', {
      Properties: {
        Replicas: [
          Match.objectLike({
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
            DeletionProtectionEnabled: true,
          }),
        ],
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it("encrypts the table with keydrift's key", () => {
    defaults.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
      Replicas: [Match.objectLike({ SSESpecification: { KMSMasterKeyId: keyArn(defaults.stack) } })],
    });
  });

  it("encrypts the chat, email and page topics with keydrift's key and requires TLS to publish", () => {
    const { keydrift } = defaults.stack;
    for (const topic of [keydrift.chatTopic, keydrift.emailTopic, keydrift.pageTopic]) {
      const id = logicalId(defaults.stack, topic);
      expect(defaults.template.toJSON().Resources[id].Properties.KmsMasterKeyId).toEqual(keyArn(defaults.stack));
      defaults.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [{ Ref: id }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  it("keeps the ops topic free of keydrift's key, so alerts about that key survive its loss", () => {
    const id = logicalId(defaults.stack, defaults.stack.keydrift.opsTopic);
    expect(defaults.template.toJSON().Resources[id].Properties.KmsMasterKeyId).toBeUndefined();
    defaults.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: id }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: Match.objectLike({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }),
          }),
        ]),
      },
    });
  });

  it("keeps failed events for 14 days in a dead-letter queue encrypted with keydrift's key", () => {
    defaults.template.hasResourceProperties('AWS::SQS::Queue', {
      KmsMasterKeyId: keyArn(defaults.stack),
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    defaults.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('runs the detector on Node.js 24, arm64, 512 MB and 30 s without reserved concurrency', () => {
    defaults.template.resourceCountIs('AWS::Lambda::Function', 2);
    defaults.template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('change events into findings'),
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 512,
      Timeout: 30,
      ReservedConcurrentExecutions: Match.absent(),
    });
  });

  it('tells the detector its table, topics, bus, own key and detection settings', () => {
    const { stack } = defaults;
    const { keydrift } = stack;
    const ref = (construct: { node: { defaultChild?: unknown } }) => ({ Ref: logicalId(stack, construct) });
    defaults.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          TABLE_NAME: ref(keydrift.table),
          CHAT_TOPIC_ARN: ref(keydrift.chatTopic),
          EMAIL_TOPIC_ARN: ref(keydrift.emailTopic),
          PAGE_TOPIC_ARN: ref(keydrift.pageTopic),
          OPS_TOPIC_ARN: ref(keydrift.opsTopic),
          EVENT_BUS_NAME: 'default',
          SELF_KEY_ARN: keyArn(stack),
          KEYDRIFT_CONFIG: JSON.stringify({ plannedPrincipals: [], severityOverrides: {}, alertMinSeverity: 'error' }),
          POWERTOOLS_SERVICE_NAME: 'keydrift',
          POWERTOOLS_METRICS_NAMESPACE: 'Keydrift',
        },
      },
    });
  });

  it("keeps the detector's logs for one year in its own log group", () => {
    defaults.template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
    defaults.template.hasResourceProperties('AWS::Lambda::Function', {
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('DetectorLogGroup') } },
    });
  });

  it('retries a failing detector invocation twice, then keeps the event in the dead-letter queue', () => {
    const queueId = logicalId(defaults.stack, defaults.stack.keydrift.deadLetterQueue);
    defaults.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } } },
    });
  });

  it('routes every watched KMS API call, service event, native event and trail change to the detector', () => {
    const rules = rulesTargeting(defaults.template, logicalId(defaults.stack, defaults.stack.keydrift.detector));
    expect(rules).toHaveLength(4);
    expect(rules.every((rule) => rule.State === 'ENABLED')).toBe(true);
    const pattern = (source: string, detailType: string) =>
      rules.find((r) => r.EventPattern.source[0] === source && r.EventPattern['detail-type'].includes(detailType))
        ?.EventPattern;

    const apiCalls = pattern('aws.kms', 'AWS API Call via CloudTrail');
    expect(apiCalls.detail.eventSource).toEqual(['kms.amazonaws.com']);
    expect(apiCalls.detail.eventName).toEqual(expect.arrayContaining([...KMS_API_WRITES]));
    const serviceEvents = pattern('aws.kms', 'AWS Service Event via CloudTrail');
    expect(serviceEvents.detail.eventName).toEqual(expect.arrayContaining([...KMS_SERVICE_EVENTS]));
    const nativeEvents = pattern('aws.kms', KMS_NATIVE_EVENTS[0]);
    expect(nativeEvents['detail-type']).toEqual(expect.arrayContaining([...KMS_NATIVE_EVENTS]));
    const trailCalls = pattern('aws.cloudtrail', 'AWS API Call via CloudTrail');
    expect(trailCalls.detail.eventSource).toEqual(['cloudtrail.amazonaws.com']);
    expect(trailCalls.detail.eventName).toEqual(expect.arrayContaining([...TRAIL_WRITES]));
  });

  it('gives every rule target 8 retries over 24 hours and the dead-letter queue', () => {
    const queueArn = { 'Fn::GetAtt': [logicalId(defaults.stack, defaults.stack.keydrift.deadLetterQueue), 'Arn'] };
    const functionArns = [defaults.stack.keydrift.detector, defaults.stack.keydrift.reconciler].map((fn) => ({
      'Fn::GetAtt': [logicalId(defaults.stack, fn), 'Arn'],
    }));
    const rules = Object.values(defaults.template.findResources('AWS::Events::Rule'));
    expect(rules).toHaveLength(6);
    for (const rule of rules) {
      expect(functionArns).toContainEqual(rule.Properties.Targets[0].Arn);
      expect(rule.Properties.Targets).toEqual([
        expect.objectContaining({
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 86400 },
          DeadLetterConfig: { Arn: queueArn },
        }),
      ]);
    }
  });

  it('grants the detector only the listed KMS reads, plus key use through DynamoDB, SNS and SQS', () => {
    const statements = roleStatements(defaults.template, detectorRole(defaults.template));
    const kmsStatements = statements.filter((s) => toArray(s.Action).some((a: string) => a.startsWith('kms:')));
    const kmsActions = kmsStatements.flatMap((s) => toArray(s.Action) as string[]);
    expect(kmsActions).toEqual(expect.arrayContaining(KEY_READ_ACTIONS));
    expect(kmsActions.filter((a) => !KEY_READ_ACTIONS.includes(a)).sort()).toEqual([...KEY_USE_ACTIONS].sort());
    const keyUse = kmsStatements.find((s) => toArray(s.Action).includes('kms:GenerateDataKey'));
    expect(keyUse?.Resource).toEqual(keyArn(defaults.stack));
    expect(Object.keys(keyUse?.Condition.StringEquals)).toEqual(['kms:ViaService']);
  });

  it('grants the detector trail reads, its table, the four topics and the default bus', () => {
    const statements = roleStatements(defaults.template, detectorRole(defaults.template));
    const actions = statements.flatMap((s) => toArray(s.Action) as string[]);
    expect(actions).toEqual(
      expect.arrayContaining([
        'cloudtrail:DescribeTrails',
        'cloudtrail:GetTrailStatus',
        'cloudtrail:GetEventSelectors',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'sns:Publish',
        'events:PutEvents',
      ]),
    );
    const publish = statements.find((s) => s.Action === 'sns:Publish');
    expect(publish?.Resource).toHaveLength(4);
    const putEvents = statements.find((s) => s.Action === 'events:PutEvents');
    expect(JSON.stringify(putEvents?.Resource)).toContain(':event-bus/default');
  });

  it('has no wildcard action in any IAM policy', () => {
    const policies = Object.values(defaults.template.findResources('AWS::IAM::Policy'));
    const actions = policies.flatMap((p) =>
      (p.Properties.PolicyDocument.Statement as Json[]).flatMap((s) => toArray(s.Action)),
    );
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.filter((action: string) => action.includes('*'))).toEqual([]);
  });

  it("attaches no managed policy to keydrift's function roles", () => {
    const roles = Object.values(defaults.template.findResources('AWS::IAM::Role'));
    expect(roles.map((role) => role.Properties.ManagedPolicyArns)).toEqual(roles.map(() => undefined));
  });

  it("alarms to the ops topic on dead letters, detector errors and throttles, and each rule's failed deliveries", () => {
    const opsTopic = { Ref: logicalId(defaults.stack, defaults.stack.keydrift.opsTopic) };
    const alarms = Object.values(defaults.template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    expect(alarms).toHaveLength(9);
    for (const alarm of alarms) {
      expect(alarm).toMatchObject({
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        AlarmActions: [opsTopic],
        TreatMissingData: 'notBreaching',
      });
    }
    const metrics = alarms.map((a) => `${a.Namespace}/${a.MetricName}`).sort();
    expect(metrics).toEqual([
      'AWS/Events/FailedInvocations',
      'AWS/Events/FailedInvocations',
      'AWS/Events/FailedInvocations',
      'AWS/Events/FailedInvocations',
      'AWS/Lambda/Errors',
      'AWS/Lambda/Errors',
      'AWS/Lambda/Throttles',
      'AWS/SQS/ApproximateNumberOfMessagesVisible',
      'Keydrift/ReconcileFailures',
    ]);
  });

  it("draws a dashboard from the detector's Keydrift metrics and the alarms", () => {
    const dashboards = Object.values(defaults.template.findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(dashboards[0].Properties.DashboardBody);
    for (const fragment of [
      '\\"Keydrift\\",\\"Findings\\",\\"event\\",\\"PutKeyPolicy\\",\\"service\\",\\"keydrift\\"',
      '\\"event\\",\\"KMS CMK Deletion\\"',
      '\\"event\\",\\"DisableKeyRotation\\"',
      '\\"event\\",\\"DisableKey\\"',
      '\\"FindingsBySeverity\\",\\"service\\",\\"keydrift\\",\\"severity\\",\\"critical\\"',
      '\\"ProcessingTime\\",\\"service\\",\\"keydrift\\"',
      '\\"OpenDrift\\",\\"service\\",\\"keydrift\\"',
      '\\"alarms\\"',
    ]) {
      expect(body).toContain(fragment);
    }
  });

  it('says at synth and in an output that a CloudTrail trail is required', () => {
    defaults.annotations.hasWarning(
      '/Keydrift/Keydrift',
      Match.stringLikeRegexp('needs a trail with logging on that records management events'),
    );
    defaults.template.hasOutput('TrailPrerequisite', { Value: Match.stringLikeRegexp('CloudTrail trail') });
  });

  it('exports the outputs operator commands look up, under their exact keys', () => {
    expect(Object.keys(defaults.template.toJSON().Outputs).sort()).toEqual(
      [
        'ChatTopicArn',
        'DeadLetterQueueUrl',
        'EmailTopicArn',
        'KeyArn',
        'OpsTopicArn',
        'PageTopicArn',
        'TableName',
        'TrailPrerequisite',
      ].sort(),
    );
    defaults.template.hasOutput('TableName', {
      Value: { Ref: logicalId(defaults.stack, defaults.stack.keydrift.table) },
    });
    defaults.template.hasOutput('KeyArn', { Value: keyArn(defaults.stack) });
  });

  it('creates no e-mail subscription, Slack channel, pager or trail unless configured', () => {
    defaults.template.resourceCountIs('AWS::SNS::Subscription', 0);
    defaults.template.resourceCountIs('AWS::Chatbot::SlackChannelConfiguration', 0);
    defaults.template.resourceCountIs('AWS::CloudTrail::Trail', 0);
    defaults.template.resourceCountIs('AWS::S3::Bucket', 0);
    defaults.template.resourceCountIs('AWS::KMS::Key', 1);
  });
});

describe('keydrift stack: the reconciler', () => {
  const reconciler = () => logicalId(defaults.stack, defaults.stack.keydrift.reconciler);

  it('runs one reconcile at a time, for up to 15 minutes with 1024 MB, with the detector settings', () => {
    const { stack } = defaults;
    defaults.template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('compares every key, alias and trail with its baseline'),
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 1024,
      Timeout: 900,
      ReservedConcurrentExecutions: 1,
      Environment: {
        Variables: Match.objectLike({
          TABLE_NAME: { Ref: logicalId(stack, stack.keydrift.table) },
          SELF_KEY_ARN: keyArn(stack),
          EVENT_BUS_NAME: 'default',
          RECONCILE_RESERVE_MS: '60000',
        }),
      },
    });
  });

  it('runs every 6 hours by default, and on its own continuation events', () => {
    const rules = rulesTargeting(defaults.template, reconciler());
    expect(rules).toHaveLength(2);
    expect(rules.map((r) => r.ScheduleExpression).filter(Boolean)).toEqual(['rate(6 hours)']);
    expect(rules.map((r) => r.EventPattern).filter(Boolean)).toEqual([
      { source: ['keydrift'], 'detail-type': ['Reconcile Continue'] },
    ]);
    expect(rules.every((rule) => rule.State === 'ENABLED')).toBe(true);
  });

  it('takes its schedule from reconcileSchedule', () => {
    const stack = new KeydriftStack(testApp(), 'KeydriftDaily', { config: { reconcileSchedule: 'cron(0 6 * * ? *)' } });
    const quiet = jest.spyOn(console, 'error').mockImplementation(() => {});
    try {
      Template.fromStack(stack).hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(0 6 * * ? *)' });
    } finally {
      quiet.mockRestore();
    }
  });

  it('retries a failing reconcile twice, then keeps the event in the dead-letter queue', () => {
    const queueId = logicalId(defaults.stack, defaults.stack.keydrift.deadLetterQueue);
    defaults.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: reconciler() },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } } },
    });
  });

  it('may list keys and aliases, read keys and trails, use its table, publish alerts and put events', () => {
    const statements = roleStatements(defaults.template, reconcilerRole(defaults.template));
    const actions = statements.flatMap((s) => toArray(s.Action) as string[]);
    expect([...new Set(actions)].sort()).toEqual(
      [
        'kms:DescribeKey',
        'kms:GetKeyPolicy',
        'kms:GetKeyRotationStatus',
        'kms:ListGrants',
        'kms:ListResourceTags',
        'kms:ListAliases',
        'kms:ListKeys',
        'cloudtrail:DescribeTrails',
        'cloudtrail:GetEventSelectors',
        'cloudtrail:GetTrailStatus',
        'dynamodb:BatchGetItem',
        'dynamodb:ConditionCheckItem',
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Scan',
        'sns:Publish',
        'events:PutEvents',
        ...KEY_USE_ACTIONS,
        // Writing its log group (KeydriftFunction), and sending failed invocations to the dead-letter queue.
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'sqs:SendMessage',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
      ].sort(),
    );
    const table = statements.find((s) => toArray(s.Action).includes('dynamodb:Scan'));
    expect(table?.Resource).toEqual({
      'Fn::GetAtt': [logicalId(defaults.stack, defaults.stack.keydrift.table), 'Arn'],
    });
    const keyReads = statements.find((s) => toArray(s.Action).includes('kms:ListGrants'));
    expect(JSON.stringify(keyReads?.Resource)).toContain(':key/*');
    const putEvents = statements.find((s) => s.Action === 'events:PutEvents');
    expect(JSON.stringify(putEvents?.Resource)).toContain(':event-bus/default');
    expect(statements.find((s) => s.Action === 'sns:Publish')?.Resource).toHaveLength(4);
  });

  it('alarms when a reconcile invocation fails, and when resources could not be reconciled', () => {
    defaults.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: reconciler() } }],
    });
    defaults.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Keydrift',
      MetricName: 'ReconcileFailures',
      Dimensions: [{ Name: 'service', Value: 'keydrift' }],
    });
  });
});

describe('keydrift stack with every option', () => {
  it('subscribes each alert address to the email and ops topics', () => {
    const { keydrift } = full.stack;
    for (const email of FULL_CONFIG.alertEmails) {
      for (const topic of [keydrift.emailTopic, keydrift.opsTopic]) {
        full.template.hasResourceProperties('AWS::SNS::Subscription', {
          Protocol: 'email',
          Endpoint: email,
          TopicArn: { Ref: logicalId(full.stack, topic) },
        });
      }
    }
    full.template.resourceCountIs('AWS::SNS::Subscription', 2 * FULL_CONFIG.alertEmails.length + 1);
  });

  it('sends the chat and ops topics to Slack with read-only guardrails and error logging', () => {
    const { keydrift } = full.stack;
    full.template.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', {
      SlackWorkspaceId: FULL_CONFIG.slack.workspaceId,
      SlackChannelId: FULL_CONFIG.slack.channelId,
      LoggingLevel: 'ERROR',
      GuardrailPolicies: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/ReadOnlyAccess']] }],
      SnsTopicArns: [
        { Ref: logicalId(full.stack, keydrift.chatTopic) },
        { Ref: logicalId(full.stack, keydrift.opsTopic) },
      ],
    });
  });

  it('forwards the page topic to a pager function that may read only the PagerDuty secret', () => {
    const pager = full.stack.keydrift.pager;
    expect(pager).toBeDefined();
    full.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'lambda',
      TopicArn: { Ref: logicalId(full.stack, full.stack.keydrift.pageTopic) },
      Endpoint: { 'Fn::GetAtt': [logicalId(full.stack, pager!), 'Arn'] },
    });
    full.template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Environment: { Variables: Match.objectLike({ PAGERDUTY_SECRET_NAME: 'keydrift/pagerduty' }) },
    });
    const statements = roleStatements(full.template, functionRole(full.template, 'PAGERDUTY_SECRET_NAME'));
    const secretRead = statements.find((s) => toArray(s.Action).includes('secretsmanager:GetSecretValue'));
    expect(JSON.stringify(secretRead?.Resource)).toContain(':secret:keydrift/pagerduty-??????');
    expect(statements.flatMap((s) => toArray(s.Action)).filter((a: string) => a.startsWith('kms:'))).toEqual([
      ...KEY_USE_ACTIONS,
    ]);
  });

  it('alarms on pager errors too', () => {
    full.template.resourceCountIs('AWS::CloudWatch::Alarm', 10);
  });

  it('passes planned principals, severity overrides and the alert threshold to the detector', () => {
    full.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          KEYDRIFT_CONFIG: JSON.stringify({
            plannedPrincipals: FULL_CONFIG.plannedPrincipals,
            severityOverrides: FULL_CONFIG.severityOverrides,
            alertMinSeverity: FULL_CONFIG.alertMinSeverity,
          }),
        }),
      },
    });
  });

  it('creates a logging multi-Region trail of all management events with log file validation', () => {
    full.template.hasResourceProperties('AWS::CloudTrail::Trail', {
      IsLogging: true,
      IsMultiRegionTrail: true,
      IncludeGlobalServiceEvents: true,
      EnableLogFileValidation: true,
      EventSelectors: [{ IncludeManagementEvents: true, ReadWriteType: 'All' }],
      KMSKeyId: Match.anyValue(),
    });
    const trail = Object.values(full.template.findResources('AWS::CloudTrail::Trail'))[0];
    expect(JSON.stringify(trail)).not.toContain('ExcludeManagementEventSources');
  });

  it('encrypts trail logs with a dedicated key that CloudTrail may use only for this account', () => {
    full.template.resourceCountIs('AWS::KMS::Key', 2);
    full.template.hasResource('AWS::KMS::Key', {
      Properties: {
        EnableKeyRotation: true,
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Principal: { Service: 'cloudtrail.amazonaws.com' },
              Action: 'kms:GenerateDataKey*',
              Condition: Match.objectLike({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }),
            }),
          ]),
        },
      },
      DeletionPolicy: 'Retain',
    });
  });

  it('keeps trail logs in a private, TLS-only, encrypted, access-logged bucket with lifecycle rules', () => {
    const buckets = full.template.findResources('AWS::S3::Bucket');
    expect(Object.keys(buckets)).toHaveLength(2);
    for (const bucket of Object.values(buckets)) {
      expect(bucket.DeletionPolicy).toBe('Retain');
      expect(bucket.Properties).toMatchObject({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        LifecycleConfiguration: { Rules: expect.any(Array) },
      });
    }
    full.template.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { DestinationBucketName: Match.anyValue(), LogFilePrefix: 'trail-bucket/' },
      VersioningConfiguration: { Status: 'Enabled' },
    });
    for (const policy of Object.values(full.template.findResources('AWS::S3::BucketPolicy'))) {
      expect(policy.Properties.PolicyDocument.Statement).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      );
    }
  });

  it('outputs the trail ARN instead of the trail prerequisite', () => {
    const outputs = Object.keys(full.template.toJSON().Outputs);
    expect(outputs).toContain('TrailArn');
    expect(outputs).not.toContain('TrailPrerequisite');
    full.annotations.hasNoWarning('*', Match.stringLikeRegexp('CloudTrail trail'));
  });
});

describe('Keydrift construct', () => {
  it('rejects an invalid configuration before creating anything', () => {
    const stack = new KeydriftStack(testApp(), 'Empty', { config: {} });
    expect(() => new Keydrift(stack, 'Second', { alertEmails: ['bob@'] })).toThrow(
      'keydrift config: alertEmails[0] "bob@" is not an e-mail address',
    );
    expect(stack.node.tryFindChild('Second')?.node.children ?? []).toHaveLength(0);
  });
});
