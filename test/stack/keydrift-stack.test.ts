/**
 * The synthesized keydrift stack, asserted fact by fact: what each resource must guarantee for keydrift to see
 * every change, keep it, and reach a human. Each configuration is synthesized once.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CfnParameter, NestedStack, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct, type IConstruct } from 'constructs';
import { PAGE_TTL_SECONDS } from '../../lambda/adapters/page-ledger';
import { RECONCILE_EVENTS } from '../../lambda/core/catalog';
import { KMS_API_WRITES, KMS_NATIVE_EVENTS, KMS_SERVICE_EVENTS, TRAIL_WRITES } from '../../lambda/core/watched-events';
import { readDetectorEnvironment } from '../../lambda/shared/environment';
import { environmentBytes, MAX_DETECTION_SETTINGS_BYTES } from '../../lib/config';
import {
  KEY_USE_ACTIONS,
  Keydrift,
  keyAliasNames,
  OPS_KEY_USE_ACTIONS,
  reconcileHeartbeatWindow,
} from '../../lib/keydrift';
import { KeydriftStack } from '../../lib/keydrift-stack';
import { testApp } from '../helpers/cdk';
import { sample, sampleNames } from '../helpers/fixtures';
import { sdkActions } from '../helpers/sdk-calls';

// biome-ignore lint/suspicious/noExplicitAny: synthesized CloudFormation JSON is untyped; assertions check its shape.
type Json = Record<string, any>;

const FULL_CONFIG = {
  alertEmails: ['secops@example.com', 'oncall@example.com'],
  slack: { workspaceId: 'T07EA123LEP', channelId: 'C07EZ1ABC23' },
  pagerDutySecretName: 'keydrift/pagerduty',
  plannedPrincipals: ['arn:aws:iam::111122223333:role/platform-deployer'],
  severityOverrides: { TagResource: 'info' as const },
  alertMinSeverity: 'warning' as const,
  ignore: [{ event: 'CreateGrant', user: 'arn:aws:sts::*:assumed-role/backup-*', reason: 'AWS Backup' }],
  trailKeys: ['arn:aws:kms:eu-west-1:111122223333:key/c7d3e2b8-5a16-4f0e-b9c4-2e81a7f6d305'],
  createTrail: true,
};

// The exact rights of each function, written out from the AWS calls its code makes (lambda/adapters/*), so that
// a permission added without a call that needs it fails here.
/** Every function writes its own log group (KeydriftFunction). */
const LOG_WRITES = ['logs:CreateLogStream', 'logs:PutLogEvents'];
/** Lambda sends a failed asynchronous invocation to the dead-letter queue with the function's role. */
const DEAD_LETTER_SEND = ['sqs:SendMessage'];
/** kms-reader.ts and kms-inventory.ts, per key. */
const KEY_READS = [
  'kms:DescribeKey',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListGrants',
  'kms:ListResourceTags',
];
/** trail-reader.ts. */
const TRAIL_READS = ['cloudtrail:DescribeTrails', 'cloudtrail:GetEventSelectors', 'cloudtrail:GetTrailStatus'];
/** publisher.ts: the four topics and the default bus. */
const PUBLISHING = ['sns:Publish', 'events:PutEvents'];
/**
 * state-store.ts: batch loads, claims (an update, and a get when it is held), releases (an update, never a delete),
 * saves (a transaction of puts and a claim update), claims marked done.
 */
const STATE_STORE = ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'];
const DETECTOR_ACTIONS = [
  ...LOG_WRITES,
  ...KEY_READS,
  'kms:ListAliases', // the aliases of the key an event names
  ...TRAIL_READS,
  ...STATE_STORE,
  ...PUBLISHING,
  ...KEY_USE_ACTIONS,
  ...DEAD_LETTER_SEND,
];
const RECONCILER_ACTIONS = [
  ...LOG_WRITES,
  ...KEY_READS,
  'kms:ListAliases',
  'kms:ListKeys', // kms-inventory.ts lists every key and alias
  ...TRAIL_READS,
  ...STATE_STORE,
  'dynamodb:DeleteItem', // reconcile-store.ts: the cursor of a completed run
  'dynamodb:Scan', // reconcile-store.ts: the baselines
  ...PUBLISHING,
  ...KEY_USE_ACTIONS,
  ...DEAD_LETTER_SEND,
];
/** pager.ts reads the routing key and records the newest event per dedup key; nothing else but logs and failures. */
const PAGER_ACTIONS = [
  ...LOG_WRITES,
  'secretsmanager:GetSecretValue',
  'dynamodb:UpdateItem',
  ...KEY_USE_ACTIONS,
  ...DEAD_LETTER_SEND,
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
const opsKeyArn = (stack: KeydriftStack) => ({ 'Fn::GetAtt': [logicalId(stack, stack.keydrift.opsKey), 'Arn'] });
const toArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Every statement of the IAM policies attached to a role. */
function roleStatements(template: Template, roleLogicalId: string): Json[] {
  const policies = template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: Match.arrayWith([{ Ref: roleLogicalId }]) },
  });
  return Object.values(policies).flatMap((policy) => policy.Properties.PolicyDocument.Statement as Json[]);
}

/** The cdk-nag findings acknowledged on a construct, with their reasons. */
const acknowledgements = (construct: IConstruct): { id: string; reason: string }[] =>
  construct.node.metadata
    .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
    .map(([id, reason]) => ({ id, reason }));

/** Every action a role's policies allow, once each, sorted. */
const roleActions = (template: Template, roleLogicalId: string): string[] =>
  [...new Set(roleStatements(template, roleLogicalId).flatMap((s) => toArray(s.Action) as string[]))].sort();
const sorted = (actions: readonly string[]) => [...new Set(actions)].sort();

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
const detectorRole = (template: Template) => functionRole(template, 'CHAT_TOPIC_ARN', 'RECONCILE_RESERVE_MS');
const reconcilerRole = (template: Template) => functionRole(template, 'RECONCILE_RESERVE_MS');
/** The rules whose target is the function with this logical id. */
const rulesTargeting = (template: Template, functionLogicalId: string) =>
  Object.values(template.findResources('AWS::Events::Rule'))
    .map((r) => r.Properties)
    .filter((rule) => rule.Targets.some((t: Json) => t.Arn['Fn::GetAtt']?.[0] === functionLogicalId));

/** Alarm counts; the README's cost table quotes them (test/stack/readme.test.ts). */
const DEFAULT_ALARMS = 27;
const FULL_ALARMS = 33;

/** Each alarm as `Namespace/MetricName Dimension=value`, the value a logical id where it is a reference. */
function alarmedMetrics(template: Template): string[] {
  return Object.values(template.findResources('AWS::CloudWatch::Alarm'))
    .map((alarm) => {
      const { Namespace, MetricName, Dimensions } = alarm.Properties;
      const dimensions = (Dimensions as Json[]).map(
        ({ Name, Value }) => `${Name}=${Value.Ref ?? Value['Fn::GetAtt']?.[0] ?? Value}`,
      );
      return `${Namespace}/${MetricName} ${dimensions.join(',')}`;
    })
    .sort();
}

/** The alarms keydrift must have: every way a change can fail or be dropped, written out. */
function expectedAlarms(stack: KeydriftStack): string[] {
  const { keydrift } = stack;
  const id = (construct: { node: { defaultChild?: unknown } }) => logicalId(stack, construct);
  const functions = [keydrift.detector, keydrift.reconciler, ...(keydrift.pager ? [keydrift.pager] : [])];
  const count = (name: string) => `Keydrift/${name} service=keydrift`;
  const rules = [...Object.values(keydrift.rules), ...Object.values(keydrift.reconcileRules)];
  return [
    `AWS/SQS/ApproximateNumberOfMessagesVisible QueueName=${id(keydrift.deadLetterQueue)}`,
    // Each new dead letter, even while older ones keep the depth alarm in ALARM.
    `AWS/SQS/NumberOfMessagesSent QueueName=${id(keydrift.deadLetterQueue)}`,
    ...functions.flatMap((fn) => [
      `AWS/Lambda/Errors FunctionName=${id(fn)}`,
      // Every function sends its failed invocations to the dead-letter queue, and that can fail too.
      `AWS/Lambda/DestinationDeliveryFailures FunctionName=${id(fn)}`,
    ]),
    // Throttled invocations wait in Lambda's queue for up to 6 hours: findings and pages late, with no error. The
    // reconciler's concurrency of 1 throttles it by design (a run meeting a running one waits); the heartbeat watches it.
    `AWS/Lambda/Throttles FunctionName=${id(keydrift.detector)}`,
    ...(keydrift.pager ? [`AWS/Lambda/Throttles FunctionName=${id(keydrift.pager)}`] : []),
    // detector-app.ts: events it rejects or that name no resource; live state and trails it could not read.
    count('InvalidEvents'),
    count('LiveReadFailures'),
    count('TrailReadFailures'),
    count('ReconcileFailures'),
    // reconciler-app.ts: a completed run that found no trail delivering KMS events in the Region.
    count('NoTrailLogsKms'),
    // reconciler-app.ts emits ReconcileRunTime once per completed run: the heartbeat.
    count('ReconcileRunTime'),
    // pager-app.ts: messages that are not findings, and events PagerDuty refused (4xx), neither retried; pages sent
    // without checking for a newer one.
    ...(keydrift.pager
      ? [count('PagerInvalidMessages'), count('PagerDutyRejected'), count('PagerOrderUnchecked')]
      : []),
    ...rules.flatMap((rule) => [
      `AWS/Events/FailedInvocations RuleName=${id(rule)}`,
      `AWS/Events/InvocationsFailedToBeSentToDlq RuleName=${id(rule)}`,
    ]),
  ].sort();
}

/** The dashboard's graphs, by title, each with the `event` dimensions of its `Findings` metrics. */
function findingGraphs(template: Template): Record<string, string[]> {
  const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  const body = dashboard.Properties.DashboardBody;
  const parts: unknown[] = typeof body === 'string' ? [body] : body['Fn::Join'][1];
  // References (Region, alarm ARNs) become placeholders; the rest is the dashboard's JSON.
  const json = parts.map((part) => (typeof part === 'string' ? part : 'REF')).join('');
  const widgets = JSON.parse(json).widgets as Json[];
  const graphs: Record<string, string[]> = {};
  for (const widget of widgets) {
    const metrics = (widget.properties.metrics ?? []) as unknown[][];
    const events = metrics
      .filter((m) => m[0] === 'Keydrift' && m[1] === 'Findings')
      .map((m) => String(m[m.indexOf('event') + 1]));
    if (events.length) graphs[widget.properties.title] = events;
  }
  return graphs;
}

describe('keydrift stack with the default configuration', () => {
  it('creates a rotating, retained customer managed key', () => {
    defaults.template.hasResource('AWS::KMS::Key', {
      Properties: { EnableKeyRotation: true },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('lets no service principal use the key', () => {
    const key = defaults.template.toJSON().Resources[logicalId(defaults.stack, defaults.stack.keydrift.key)];
    const services = (key.Properties.KeyPolicy.Statement as Json[]).flatMap((s) => toArray(s.Principal?.Service ?? []));
    expect(services).toEqual([]);
  });

  it("sends alarms only to the ops topic, which does not need keydrift's key", () => {
    const opsTopic = { Ref: logicalId(defaults.stack, defaults.stack.keydrift.opsTopic) };
    const alarms = Object.values(defaults.template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    const targets = alarms.flatMap((a) => [...toArray(a.AlarmActions ?? []), ...toArray(a.OKActions ?? [])]);
    expect(targets.length).toBeGreaterThan(0);
    expect(targets.every((target) => JSON.stringify(target) === JSON.stringify(opsTopic))).toBe(true);
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

  it("encrypts the ops topic with a second key of its own, not keydrift's key, so alerts about that key survive its loss", () => {
    const { stack, template } = defaults;
    const id = logicalId(stack, stack.keydrift.opsTopic);
    expect(template.toJSON().Resources[id].Properties.KmsMasterKeyId).toEqual(opsKeyArn(stack));
    expect(logicalId(stack, stack.keydrift.opsKey)).not.toEqual(logicalId(stack, stack.keydrift.key));
    template.resourceCountIs('AWS::KMS::Key', 2);
    expect(template.toJSON().Resources[logicalId(stack, stack.keydrift.opsKey)]).toMatchObject({
      Properties: { EnableKeyRotation: true },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
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

  it('encrypts the last-resort topic with the AWS managed key for SNS, which no one can disable, and lets no service publish', () => {
    const { stack, template } = defaults;
    const id = logicalId(stack, stack.keydrift.lastResortTopic);
    expect(template.toJSON().Resources[id].Properties.KmsMasterKeyId).toEqual({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':kms:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          ':alias/aws/sns',
        ],
      ],
    });
    const [policy] = Object.values(
      template.findResources('AWS::SNS::TopicPolicy', { Properties: { Topics: [{ Ref: id }] } }),
    );
    expect(policy.Properties.PolicyDocument.Statement).toEqual([
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    ]);
  });

  it('lets the detector alone publish to the last-resort topic', () => {
    const { stack, template } = defaults;
    const topic = { Ref: logicalId(stack, stack.keydrift.lastResortTopic) };
    const statements = roleStatements(template, detectorRole(template));
    expect(statements).toContainEqual(
      expect.objectContaining({ Sid: 'PublishLastResort', Effect: 'Allow', Action: 'sns:Publish', Resource: topic }),
    );
    // The AWS managed key's own policy lets the account's principals use it through SNS: no statement names it.
    expect(JSON.stringify(statements)).not.toContain('alias/aws/sns');
    const reconciler = JSON.stringify(roleStatements(template, reconcilerRole(template)));
    expect(reconciler).not.toContain(topic.Ref);
  });

  it("lets only this account's CloudWatch alarms use the ops key, to publish to the ops topic", () => {
    const { stack, template } = defaults;
    const key = template.toJSON().Resources[logicalId(stack, stack.keydrift.opsKey)];
    const services = (key.Properties.KeyPolicy.Statement as Json[]).filter((s) => s.Principal?.Service);
    expect(services).toEqual([
      {
        Sid: 'AllowThisAccountsAlarmsToUseTheKey',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Resource: '*',
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          ArnLike: {
            'aws:SourceArn': {
              'Fn::Join': [
                '',
                [
                  'arn:',
                  { Ref: 'AWS::Partition' },
                  ':cloudwatch:',
                  { Ref: 'AWS::Region' },
                  ':',
                  { Ref: 'AWS::AccountId' },
                  ':alarm:*',
                ],
              ],
            },
          },
        },
      },
    ]);
  });

  it('acknowledges no unencrypted topic: every topic has a customer managed key', () => {
    const { keydrift } = defaults.stack;
    for (const topic of [keydrift.chatTopic, keydrift.emailTopic, keydrift.pageTopic, keydrift.opsTopic]) {
      expect(acknowledgements(topic).map((a) => a.id)).not.toContain('AwsSolutions-SNS2');
    }
    for (const topic of Object.values(defaults.template.findResources('AWS::SNS::Topic'))) {
      expect(topic.Properties.KmsMasterKeyId).toBeDefined();
    }
  });

  it("keeps failed events for 14 days in an encrypted dead-letter queue that does not depend on keydrift's key", () => {
    const [queue] = Object.values(defaults.template.findResources('AWS::SQS::Queue'));
    expect(queue.Properties).toEqual(
      expect.objectContaining({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 }),
    );
    // Its messages are detections not yet alerted: deleting or replacing the stack keeps them, as it keeps the table.
    expect([queue.DeletionPolicy, queue.UpdateReplacePolicy]).toEqual(['Retain', 'Retain']);
    // A page redriven on its last day (after Lambda's 6 hours of retries) still finds its record: it cannot reopen.
    expect(PAGE_TTL_SECONDS).toBeGreaterThan(queue.Properties.MessageRetentionPeriod + 6 * 3600);
    expect(queue.Properties.KmsMasterKeyId).toBeUndefined();
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
          LAST_RESORT_TOPIC_ARN: ref(keydrift.lastResortTopic),
          EVENT_BUS_NAME: 'default',
          SELF_KEY_ARN: keyArn(stack),
          OPS_KEY_ARN: opsKeyArn(stack),
          KEYDRIFT_CONFIG: JSON.stringify({
            plannedPrincipals: [],
            severityOverrides: {},
            alertMinSeverity: 'error',
            ignore: [],
            trailKeys: [],
          }),
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

  it('routes each real record of a watched call to the detector under the detail-type its eventType reaches EventBridge with', () => {
    const rules = rulesTargeting(defaults.template, logicalId(defaults.stack, defaults.stack.keydrift.detector));
    const watched = new Set<string>([...KMS_API_WRITES, ...KMS_SERVICE_EVENTS, ...TRAIL_WRITES]);
    const DETAIL_TYPES: Record<string, string> = {
      AwsApiCall: 'AWS API Call via CloudTrail',
      AwsServiceEvent: 'AWS Service Event via CloudTrail',
    };
    const records = sampleNames()
      .map(sample)
      .filter((r) => watched.has(String(r.eventName)) && String(r.eventType) in DETAIL_TYPES && !r.errorCode);
    const matches = (pattern: Json, event: Json) =>
      pattern.source.includes(event.source) &&
      pattern['detail-type'].includes(event['detail-type']) &&
      Object.entries(pattern.detail ?? {}).every(([field, values]) =>
        (values as unknown[]).includes(event.detail[field]),
      );

    const unrouted = records
      .map((record) => ({
        source: `aws.${String(record.eventSource).split('.')[0]}`,
        'detail-type': DETAIL_TYPES[String(record.eventType)],
        detail: record,
      }))
      .filter((event) => !rules.some((rule) => matches(rule.EventPattern, event)))
      .map((event) => `${event.detail.eventName} (${event.detail.eventType})`);

    expect(new Set(records.map((r) => r.eventName)).size).toBeGreaterThan(25);
    expect(unrouted).toEqual([]);
  });

  it('gives every rule target 8 retries over 24 hours and the dead-letter queue', () => {
    const queueArn = { 'Fn::GetAtt': [logicalId(defaults.stack, defaults.stack.keydrift.deadLetterQueue), 'Arn'] };
    const functionArns = [defaults.stack.keydrift.detector, defaults.stack.keydrift.reconciler].map((fn) => ({
      'Fn::GetAtt': [logicalId(defaults.stack, fn), 'Arn'],
    }));
    const rules = Object.values(defaults.template.findResources('AWS::Events::Rule'));
    expect(rules).toHaveLength(7);
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

  it('grants the detector exactly the actions its code calls', () => {
    expect(roleActions(defaults.template, detectorRole(defaults.template))).toEqual(sorted(DETECTOR_ACTIONS));
  });

  it("grants each function exactly the AWS calls of the code it bundles, besides logs, dead letters and keydrift's keys through services", () => {
    const calls = (template: Template, role: string) =>
      sorted(
        roleStatements(template, role)
          .filter((s) => !JSON.stringify(s.Condition ?? {}).includes('kms:ViaService'))
          .flatMap((s) => toArray(s.Action) as string[])
          .filter((action) => ![...LOG_WRITES, ...DEAD_LETTER_SEND].includes(action)),
      );
    const entry = (name: string) => `lambda/handlers/${name}.ts`;
    expect(calls(full.template, detectorRole(full.template))).toEqual(sdkActions(entry('detector')));
    expect(calls(full.template, reconcilerRole(full.template))).toEqual(sdkActions(entry('reconciler')));
    expect(calls(full.template, functionRole(full.template, 'PAGERDUTY_SECRET_NAME'))).toEqual(
      sdkActions(entry('pager')),
    );
  });

  it('scopes the detector to keys, its table (not its index), the four topics, the default bus and the queue', () => {
    const { stack } = defaults;
    const statements = roleStatements(defaults.template, detectorRole(defaults.template));
    const resourceOf = (action: string) => statements.find((s) => toArray(s.Action).includes(action))?.Resource;
    expect(JSON.stringify(resourceOf('kms:GetKeyPolicy'))).toContain(':key/*');
    expect(resourceOf('kms:ListAliases')).toBe('*');
    expect(resourceOf('dynamodb:PutItem')).toEqual({ 'Fn::GetAtt': [logicalId(stack, stack.keydrift.table), 'Arn'] });
    expect(JSON.stringify(statements)).not.toContain('/index/');
    expect(resourceOf('sns:Publish')).toHaveLength(4);
    expect(JSON.stringify(resourceOf('events:PutEvents'))).toContain(':event-bus/default');
    expect(resourceOf('sqs:SendMessage')).toEqual({
      'Fn::GetAtt': [logicalId(stack, stack.keydrift.deadLetterQueue), 'Arn'],
    });
    const keyUse = statements.find((s) => toArray(s.Action).includes('kms:GenerateDataKey'));
    expect(keyUse?.Resource).toEqual(keyArn(stack));
    expect(keyUse?.Condition).toEqual({
      StringEquals: {
        'kms:ViaService': ['dynamodb', 'sns'].map((service) => ({
          'Fn::Join': ['', [`${service}.`, { Ref: 'AWS::Region' }, '.amazonaws.com']],
        })),
      },
    });
  });

  it('lets the detector and the reconciler use the ops key only through SNS, to publish to the ops topic', () => {
    const { stack, template } = defaults;
    for (const role of [detectorRole(template), reconcilerRole(template)]) {
      const opsKeyUse = roleStatements(template, role).filter(
        (s) => JSON.stringify(s.Resource) === JSON.stringify(opsKeyArn(stack)),
      );
      expect(opsKeyUse).toEqual([
        expect.objectContaining({
          Effect: 'Allow',
          Action: [...OPS_KEY_USE_ACTIONS],
          Condition: {
            StringEquals: {
              'kms:ViaService': { 'Fn::Join': ['', ['sns.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
            },
          },
        }),
      ]);
    }
  });

  it("acknowledges only the detector's own wildcards, with reasons that name only actions it is granted", () => {
    const granted = new Set(roleActions(defaults.template, detectorRole(defaults.template)));
    const acknowledged = acknowledgements(defaults.stack.keydrift.detector.role!);
    expect(acknowledged.map((a) => a.id).filter((id) => id.includes('/index/'))).toEqual([]);
    for (const { reason } of acknowledged) {
      for (const action of reason.match(/\b(kms|cloudtrail|dynamodb):\w+/g) ?? []) expect(granted).toContain(action);
      expect(reason).not.toMatch(/\b(index|reconciler|every key)\b/);
    }
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

  it('alarms to the ops topic on anything that fails or drops a change, and only on that', () => {
    const opsTopic = { Ref: logicalId(defaults.stack, defaults.stack.keydrift.opsTopic) };
    const alarms = Object.values(defaults.template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    // The heartbeat alarms on the absence of a metric instead, the dead-letter arrivals on at least one (below).
    // The reconciler writes its run results (0 or more) at the end of every run: between runs, the state holds.
    const perRun = ['ReconcileFailures', 'NoTrailLogsKms'];
    for (const alarm of alarms.filter((a) => !['ReconcileRunTime', 'NumberOfMessagesSent'].includes(a.MetricName))) {
      expect(alarm).toMatchObject({
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        AlarmActions: [opsTopic],
        OKActions: [opsTopic],
        TreatMissingData: perRun.includes(alarm.MetricName) ? 'ignore' : 'notBreaching',
      });
    }
    expect(alarmedMetrics(defaults.template)).toEqual(expectedAlarms(defaults.stack));
    expect(alarms).toHaveLength(DEFAULT_ALARMS);
  });

  it('alarms to the ops topic on each new dead letter, even while older ones keep the depth alarm in ALARM', () => {
    const opsTopic = { Ref: logicalId(defaults.stack, defaults.stack.keydrift.opsTopic) };
    const queue = { 'Fn::GetAtt': [logicalId(defaults.stack, defaults.stack.keydrift.deadLetterQueue), 'QueueName'] };
    for (const [metricName, statistic] of [
      ['ApproximateNumberOfMessagesVisible', 'Maximum'],
      ['NumberOfMessagesSent', 'Sum'],
    ]) {
      defaults.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: metricName,
        Dimensions: [{ Name: 'QueueName', Value: queue }],
        Statistic: statistic,
        Period: 300,
        EvaluationPeriods: 1,
        AlarmActions: [opsTopic],
        OKActions: [opsTopic],
        TreatMissingData: 'notBreaching',
      });
    }
    defaults.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'NumberOfMessagesSent',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it("alarms when the detector could not list the trails, as when it could not read a resource's live state", () => {
    for (const metricName of ['LiveReadFailures', 'TrailReadFailures']) {
      defaults.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'Keydrift',
        MetricName: metricName,
        Dimensions: [{ Name: 'service', Value: 'keydrift' }],
        Statistic: 'Sum',
        Period: 300,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      });
    }
  });

  it("alarms on both failed invocations and failed dead-lettering of every rule, the reconciler's included", () => {
    const rules = Object.keys(defaults.template.findResources('AWS::Events::Rule'));
    expect(rules).toHaveLength(7);
    const alarmed = alarmedMetrics(defaults.template);
    for (const rule of rules) {
      expect(alarmed).toContain(`AWS/Events/FailedInvocations RuleName=${rule}`);
      expect(alarmed).toContain(`AWS/Events/InvocationsFailedToBeSentToDlq RuleName=${rule}`);
    }
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

  it('graphs key deletion, rotation and state findings by every event that makes them', () => {
    const graphs = findingGraphs(defaults.template);
    const graph = (title: string) => [...(graphs[title] ?? [])].sort();
    expect(graph('Key policy changes')).toEqual(['PutKeyPolicy']);
    expect(graph('Key deletion')).toEqual([
      'CancelKeyDeletion',
      'DeleteKey',
      'KMS CMK Deletion',
      'ScheduleKeyDeletion',
    ]);
    expect(graph('Key rotation')).toEqual(
      ['DisableKeyRotation', 'EnableKeyRotation', 'KMS CMK Rotation', 'RotateKey', 'RotateKeyOnDemand'].sort(),
    );
    expect(graph('Key state changes')).toEqual(['DisableKey', 'EnableKey']);
    expect(graph('Trail changes')).toEqual([...TRAIL_WRITES].sort());
  });

  it("graphs the reconciler's findings (drift no event explained, new resources, deletion reminders)", () => {
    expect(findingGraphs(defaults.template)['Found by the reconciler']).toEqual(Object.keys(RECONCILE_EVENTS));
    expect(Object.keys(RECONCILE_EVENTS)).toContain('Reconcile');
  });

  it('graphs every finding keydrift can make in exactly one dashboard graph', () => {
    const graphed = Object.values(findingGraphs(defaults.template)).flat();
    const findable = [
      ...KMS_API_WRITES,
      ...KMS_SERVICE_EVENTS,
      ...KMS_NATIVE_EVENTS,
      ...TRAIL_WRITES,
      ...Object.keys(RECONCILE_EVENTS),
    ];
    expect([...graphed].sort()).toEqual([...findable].sort());
  });

  it('says at synth and in an output that a CloudTrail trail is required', () => {
    defaults.annotations.hasWarning(
      '/Keydrift/Keydrift',
      Match.stringLikeRegexp('needs a trail with logging on that records management events'),
    );
    defaults.template.hasOutput('TrailPrerequisite', { Value: Match.stringLikeRegexp('CloudTrail trail') });
  });

  it('warns at synth that alerts reach no one when no e-mail, Slack or PagerDuty target is configured', () => {
    defaults.annotations.hasWarning('/Keydrift/Keydrift', Match.stringLikeRegexp('^keydrift alerts no one'));
    defaults.annotations.hasWarning(
      '/Keydrift/Keydrift',
      Match.stringLikeRegexp('alertEmails, slack or pagerDutySecretName'),
    );
  });

  it('exports the outputs operator commands look up, under their exact keys', () => {
    expect(Object.keys(defaults.template.toJSON().Outputs).sort()).toEqual(
      [
        'ChatTopicArn',
        'DeadLetterQueueUrl',
        'DetectorFunctionName',
        'EmailTopicArn',
        'KeyArn',
        'LastResortTopicArn',
        'OpsKeyArn',
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
    defaults.template.hasOutput('OpsKeyArn', { Value: opsKeyArn(defaults.stack) });
    defaults.template.hasOutput('LastResortTopicArn', {
      Value: { Ref: logicalId(defaults.stack, defaults.stack.keydrift.lastResortTopic) },
    });
    defaults.template.hasOutput('DetectorFunctionName', {
      Value: { Ref: logicalId(defaults.stack, defaults.stack.keydrift.detector) },
    });
  });

  it('with PagerDuty, also exports the pager function name, where the redrive sends pages back', () => {
    const pager = full.stack.keydrift.pager;
    if (!pager) throw new Error('the full configuration has no pager');
    full.template.hasOutput('PagerFunctionName', { Value: { Ref: logicalId(full.stack, pager) } });
  });

  it("names both keys by aliases that say they are keydrift's, after the stack", () => {
    const { stack, template } = defaults;
    template.resourceCountIs('AWS::KMS::Alias', 2);
    template.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: 'alias/keydrift/Keydrift',
      TargetKeyId: keyArn(stack),
    });
    template.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: 'alias/keydrift/Keydrift-ops',
      TargetKeyId: opsKeyArn(stack),
    });
  });

  it('creates no e-mail subscription, Slack channel, pager or trail unless configured', () => {
    defaults.template.resourceCountIs('AWS::SNS::Subscription', 0);
    defaults.template.resourceCountIs('AWS::Chatbot::SlackChannelConfiguration', 0);
    defaults.template.resourceCountIs('AWS::CloudTrail::Trail', 0);
    defaults.template.resourceCountIs('AWS::S3::Bucket', 0);
    defaults.template.resourceCountIs('AWS::KMS::Key', 2);
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

  it('runs every 6 hours by default, after each completed deployment of its stack, and on its own continuations', () => {
    const rules = rulesTargeting(defaults.template, reconciler());
    expect(rules).toHaveLength(3);
    expect(rules.map((r) => r.ScheduleExpression).filter(Boolean)).toEqual(['rate(6 hours)']);
    expect(rules.map((r) => r.EventPattern).filter(Boolean)).toEqual([
      {
        source: ['aws.cloudformation'],
        'detail-type': ['CloudFormation Stack Status Change'],
        detail: {
          'stack-id': [{ Ref: 'AWS::StackId' }],
          'status-details': { status: ['CREATE_COMPLETE', 'UPDATE_COMPLETE'] },
        },
      },
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

  it('is granted exactly the actions its code calls: key listings and reads, trail reads, its table, publishing', () => {
    const statements = roleStatements(defaults.template, reconcilerRole(defaults.template));
    expect(roleActions(defaults.template, reconcilerRole(defaults.template))).toEqual(sorted(RECONCILER_ACTIONS));
    const table = statements.find((s) => toArray(s.Action).includes('dynamodb:Scan'));
    expect(table?.Resource).toEqual({
      'Fn::GetAtt': [logicalId(defaults.stack, defaults.stack.keydrift.table), 'Arn'],
    });
    const keyReads = statements.find((s) => toArray(s.Action).includes('kms:ListGrants'));
    expect(JSON.stringify(keyReads?.Resource)).toContain(':key/*');
    const putEvents = statements.find((s) => s.Action === 'events:PutEvents');
    expect(JSON.stringify(putEvents?.Resource)).toContain(':event-bus/default');
    expect(statements.find((s) => s.Action === 'sns:Publish')?.Resource).toHaveLength(4);
    expect(JSON.stringify(statements)).not.toContain('/index/');
  });

  it("acknowledges only the reconciler's own wildcards, with reasons that name only actions it is granted", () => {
    const granted = new Set(roleActions(defaults.template, reconcilerRole(defaults.template)));
    const acknowledged = acknowledgements(defaults.stack.keydrift.reconciler.role!);
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const { id, reason } of acknowledged) {
      expect(id).not.toContain('/index/');
      for (const action of reason.match(/\b(kms|cloudtrail|dynamodb):\w+/g) ?? []) expect(granted).toContain(action);
      expect(reason).not.toMatch(/\bdetector\b/);
    }
  });

  it('alarms to the ops topic when no reconcile run completes within twice the 6-hour schedule', () => {
    const opsTopic = { Ref: logicalId(defaults.stack, defaults.stack.keydrift.opsTopic) };
    defaults.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Keydrift',
      MetricName: 'ReconcileRunTime',
      Dimensions: [{ Name: 'service', Value: 'keydrift' }],
      Statistic: 'SampleCount',
      Period: 3600,
      EvaluationPeriods: 12,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
      AlarmActions: [opsTopic],
      OKActions: [opsTopic],
    });
  });

  it.each([
    ['rate(30 minutes)', 2],
    ['rate(1 hour)', 2],
    ['rate(12 hours)', 24],
    ['rate(1 day)', 48],
    ['rate(10 days)', 168],
    ['cron(0 6 * * ? *)', 48],
    ['cron(0 */4 ? * * *)', 48],
    ['cron(0 6 ? * MON-FRI *)', 144],
    ['cron(0 6 ? * MON,WED,FRI *)', 144],
    ['cron(0 6 ? * SUN,TUE,THU,SAT *)', 96],
  ])('waits for a completed run %s for %i hours before the heartbeat alarms', (schedule, hours) => {
    expect(reconcileHeartbeatWindow(schedule).toHours()).toBe(hours);
  });

  it('derives the heartbeat window from reconcileSchedule', () => {
    const stack = new KeydriftStack(testApp(), 'KeydriftDaily', { config: { reconcileSchedule: 'rate(1 day)' } });
    const quiet = jest.spyOn(console, 'error').mockImplementation(() => {});
    try {
      Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ReconcileRunTime',
        Period: 3600,
        EvaluationPeriods: 48,
      });
    } finally {
      quiet.mockRestore();
    }
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
  it('keeps the logical ids of what holds state, so that an upgrade never replaces the table, keys, queue, topics or trail', () => {
    // A renamed construct id gives a new logical id: CloudFormation then creates a new resource and, for a retained
    // one, leaves the old behind. The baselines and history would stay in an orphaned table, the trail and its logs
    // would move, and a new topic would lose the subscriptions users added themselves. These ids are deployed in
    // users' accounts: change them only with a migration.
    const stateful = Object.entries(full.template.toJSON().Resources as Record<string, Json>)
      .filter(
        ([, resource]) =>
          resource.DeletionPolicy === 'Retain' || ['AWS::CloudTrail::Trail', 'AWS::SNS::Topic'].includes(resource.Type),
      )
      .map(([id, resource]) => `${resource.Type} ${id}`)
      .sort();
    expect(stateful).toEqual([
      'AWS::CloudTrail::Trail KeydriftTrailCEFF7945',
      'AWS::DynamoDB::GlobalTable KeydriftTable9C43AA30',
      'AWS::KMS::Key KeydriftKey8C180502',
      'AWS::KMS::Key KeydriftOpsKey4A531478',
      'AWS::KMS::Key KeydriftTrailKey373D3C89',
      'AWS::Logs::LogGroup KeydriftDetectorLogGroupC2697A04',
      'AWS::Logs::LogGroup KeydriftPagerLogGroup93DF862D',
      'AWS::Logs::LogGroup KeydriftReconcilerLogGroupC832EA86',
      'AWS::S3::Bucket KeydriftTrailAccessLogsBucketB9CAB06F',
      'AWS::S3::Bucket KeydriftTrailBucket591FBA0C',
      'AWS::SNS::Topic KeydriftChatTopic1F184B4A',
      'AWS::SNS::Topic KeydriftEmailTopic0CCAD6B3',
      'AWS::SNS::Topic KeydriftLastResortTopic7363F380',
      'AWS::SNS::Topic KeydriftOpsTopic6059C66C',
      'AWS::SNS::Topic KeydriftPageTopicF2E0C10A',
      'AWS::SQS::Queue KeydriftDeadLetterQueue573E215B',
    ]);
  });

  it('subscribes each alert address to the email, ops and last-resort topics', () => {
    const { keydrift } = full.stack;
    for (const email of FULL_CONFIG.alertEmails) {
      for (const topic of [keydrift.emailTopic, keydrift.opsTopic, keydrift.lastResortTopic]) {
        full.template.hasResourceProperties('AWS::SNS::Subscription', {
          Protocol: 'email',
          Endpoint: email,
          TopicArn: { Ref: logicalId(full.stack, topic) },
        });
      }
    }
    // Plus the pager's three: the page, ops and last-resort topics.
    full.template.resourceCountIs('AWS::SNS::Subscription', 3 * FULL_CONFIG.alertEmails.length + 3);
  });

  it('sends the chat, ops and last-resort topics to Slack with CloudWatch read-only guardrails and error logging', () => {
    const { keydrift } = full.stack;
    full.template.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', {
      SlackWorkspaceId: FULL_CONFIG.slack.workspaceId,
      SlackChannelId: FULL_CONFIG.slack.channelId,
      LoggingLevel: 'ERROR',
      GuardrailPolicies: [
        { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/CloudWatchReadOnlyAccess']] },
      ],
      SnsTopicArns: [
        { Ref: logicalId(full.stack, keydrift.chatTopic) },
        { Ref: logicalId(full.stack, keydrift.opsTopic) },
        { Ref: logicalId(full.stack, keydrift.lastResortTopic) },
      ],
    });
  });

  it('gives the Slack channel a role with no policy at all, notifications need none', () => {
    const [channel] = Object.values(full.template.findResources('AWS::Chatbot::SlackChannelConfiguration'));
    const roleId = channel.Properties.IamRoleArn['Fn::GetAtt'][0];
    const role = full.template.toJSON().Resources[roleId];
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({ Principal: { Service: 'chatbot.amazonaws.com' } }),
    ]);
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    expect(role.Properties.Policies).toBeUndefined();
    expect(roleStatements(full.template, roleId)).toEqual([]);
  });

  it("names the Slack channel configuration after the stack and the deployment's Region", () => {
    full.template.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', {
      ConfigurationName: { 'Fn::Join': ['-', ['keydrift-Keydrift', { Ref: 'AWS::Region' }]] },
    });
  });

  it('gives the same stack in two Regions two Slack channel configuration names within Chatbot limits', () => {
    const names = ['eu-west-1', 'us-isof-southeast-1'].map((region) => {
      const stack = new KeydriftStack(testApp(), 'K'.repeat(128), {
        env: { account: '111122223333', region },
        config: { slack: FULL_CONFIG.slack },
      });
      const [channel] = Object.values(
        Template.fromStack(stack).findResources('AWS::Chatbot::SlackChannelConfiguration'),
      );
      return channel.Properties.ConfigurationName as string;
    });
    expect(names[0]).not.toEqual(names[1]);
    for (const name of names) expect(name).toMatch(/^[A-Za-z0-9_-]{1,128}$/);
    expect(names[1]).toMatch(/^keydrift-K+-us-isof-southeast-1$/);
  });

  it('forwards the page topic to a pager function that may read only the PagerDuty secret and write its order items', () => {
    // SNS decrypts both topics' messages before invoking it; keydrift's key is for the table alone.
    const pager = full.stack.keydrift.pager;
    full.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'lambda',
      TopicArn: { Ref: logicalId(full.stack, full.stack.keydrift.pageTopic) },
      Endpoint: { 'Fn::GetAtt': [logicalId(full.stack, pager!), 'Arn'] },
    });
    full.template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      // Time to send an event PagerDuty refused (429) three more times, about 30 s apart, within one invocation.
      Timeout: 180,
      Environment: {
        Variables: Match.objectLike({
          PAGERDUTY_SECRET_NAME: 'keydrift/pagerduty',
          TABLE_NAME: { Ref: logicalId(full.stack, full.stack.keydrift.table) },
        }),
      },
    });
    const pagerRole = functionRole(full.template, 'PAGERDUTY_SECRET_NAME');
    expect(roleActions(full.template, pagerRole)).toEqual(sorted(PAGER_ACTIONS));
    const statements = roleStatements(full.template, pagerRole);
    const secretRead = statements.find((s) => toArray(s.Action).includes('secretsmanager:GetSecretValue'));
    expect(JSON.stringify(secretRead?.Resource)).toContain(':secret:keydrift/pagerduty-??????');
    expect(statements.find((s) => toArray(s.Action).includes('dynamodb:UpdateItem'))).toMatchObject({
      Resource: { 'Fn::GetAtt': [logicalId(full.stack, full.stack.keydrift.table), 'Arn'] },
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['PAGE#*'] } },
    });
    const keyUse = statements.find((s) => toArray(s.Action).includes('kms:Decrypt'));
    expect(JSON.stringify(keyUse?.Condition)).toBe(
      JSON.stringify({
        StringEquals: {
          'kms:ViaService': [{ 'Fn::Join': ['', ['dynamodb.', { Ref: 'AWS::Region' }, '.amazonaws.com']] }],
        },
      }),
    );
  });

  it('subscribes the pager to the page, ops and last-resort topics with no filter: the JSON-structured findings on ops carry no attributes to filter on', () => {
    const { stack, template } = full;
    const pagerArn = { 'Fn::GetAtt': [logicalId(stack, stack.keydrift.pager!), 'Arn'] };
    const subscriptions = Object.values(
      template.findResources('AWS::SNS::Subscription', { Properties: { Protocol: 'lambda', Endpoint: pagerArn } }),
    ).map((subscription) => subscription.Properties);
    expect(subscriptions).toHaveLength(3);
    const byTopic = (topic: IConstruct) =>
      subscriptions.find((sub) => sub.TopicArn.Ref === logicalId(stack, topic as never));
    // The pager itself skips the alarms' notifications on ops, and triggers for critical findings only.
    expect(byTopic(stack.keydrift.pageTopic)?.FilterPolicy).toBeUndefined();
    expect(byTopic(stack.keydrift.opsTopic)?.FilterPolicy).toBeUndefined();
    expect(byTopic(stack.keydrift.lastResortTopic)?.FilterPolicy).toBeUndefined();
    for (const topic of [stack.keydrift.opsTopic, stack.keydrift.lastResortTopic]) {
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: 'sns.amazonaws.com',
        FunctionName: pagerArn,
        SourceArn: { Ref: logicalId(stack, topic) },
      });
    }
  });

  it('keeps in the dead-letter queue what SNS could not deliver to the pager from any topic, rather than dropping a page', () => {
    const { stack, template } = full;
    const queueArn = { 'Fn::GetAtt': [logicalId(stack, stack.keydrift.deadLetterQueue), 'Arn'] };
    const pagerArn = { 'Fn::GetAtt': [logicalId(stack, stack.keydrift.pager!), 'Arn'] };
    const subscriptions = Object.values(
      template.findResources('AWS::SNS::Subscription', { Properties: { Protocol: 'lambda', Endpoint: pagerArn } }),
    ).map((subscription) => subscription.Properties);
    expect(subscriptions).toHaveLength(3);
    for (const subscription of subscriptions) {
      expect(subscription.RedrivePolicy).toEqual({ deadLetterTargetArn: queueArn });
    }
    const [queuePolicy] = Object.values(template.findResources('AWS::SQS::QueuePolicy'));
    const snsSenders = (queuePolicy.Properties.PolicyDocument.Statement as Json[])
      .filter((s) => s.Effect === 'Allow' && s.Principal?.Service === 'sns.amazonaws.com')
      .map((s) => ({ action: s.Action, topic: s.Condition?.ArnEquals?.['aws:SourceArn']?.Ref }));
    expect(snsSenders).toEqual(
      expect.arrayContaining(
        [stack.keydrift.pageTopic, stack.keydrift.opsTopic, stack.keydrift.lastResortTopic].map((topic) => ({
          action: 'sqs:SendMessage',
          topic: logicalId(stack, topic),
        })),
      ),
    );
    expect(snsSenders).toHaveLength(3);
  });

  it('grants the detector and the reconciler the same exact actions as by default', () => {
    expect(roleActions(full.template, detectorRole(full.template))).toEqual(sorted(DETECTOR_ACTIONS));
    expect(roleActions(full.template, reconcilerRole(full.template))).toEqual(sorted(RECONCILER_ACTIONS));
  });

  it('passes planned principals, overrides, the alert threshold, ignore rules and trail keys to both functions', () => {
    const config = JSON.stringify({
      plannedPrincipals: FULL_CONFIG.plannedPrincipals,
      severityOverrides: FULL_CONFIG.severityOverrides,
      alertMinSeverity: FULL_CONFIG.alertMinSeverity,
      ignore: FULL_CONFIG.ignore,
      trailKeys: FULL_CONFIG.trailKeys,
    });
    const withConfig = full.template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: Match.objectLike({ KEYDRIFT_CONFIG: config }) } },
    });
    expect(Object.keys(withConfig).sort()).toEqual(
      [
        logicalId(full.stack, full.stack.keydrift.detector),
        logicalId(full.stack, full.stack.keydrift.reconciler),
      ].sort(),
    );
  });

  it('passes what the functions themselves read back, with the ignore rules and trail keys applied', () => {
    const [fn] = Object.values(
      full.template.findResources('AWS::Lambda::Function', {
        Properties: { Environment: { Variables: Match.objectLike({ KEYDRIFT_CONFIG: Match.anyValue() }) } },
      }),
    );
    const environment = readDetectorEnvironment({
      TABLE_NAME: 'table',
      CHAT_TOPIC_ARN: 'chat',
      EMAIL_TOPIC_ARN: 'email',
      PAGE_TOPIC_ARN: 'page',
      OPS_TOPIC_ARN: 'ops',
      SELF_KEY_ARN: 'key',
      OPS_KEY_ARN: 'ops-key',
      KEYDRIFT_CONFIG: fn.Properties.Environment.Variables.KEYDRIFT_CONFIG,
    });
    expect(environment.config.ignore).toEqual(FULL_CONFIG.ignore);
    expect(environment.config.trailKeys).toEqual(FULL_CONFIG.trailKeys);
    expect(environment.alertMinSeverity).toBe(FULL_CONFIG.alertMinSeverity);
  });

  it('alarms on pager errors and throttles, its failed dead-lettering, the messages it drops and pages sent unordered', () => {
    expect(alarmedMetrics(full.template)).toEqual(expectedAlarms(full.stack));
    full.template.resourceCountIs('AWS::CloudWatch::Alarm', FULL_ALARMS);
  });

  it('alarms to the ops topic as soon as the pager is throttled: a critical page then waits unseen in Lambda', () => {
    const pager = full.stack.keydrift.pager;
    if (!pager) throw new Error('the full configuration has no pager');
    const opsTopic = { Ref: logicalId(full.stack, full.stack.keydrift.opsTopic) };
    full.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Throttles',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(full.stack, pager) } }],
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [opsTopic],
      OKActions: [opsTopic],
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

  it("names the trail's key by an alias that says it is keydrift's trail key, so findings about it say so", () => {
    const trail = full.template.findResources('AWS::CloudTrail::Trail');
    const [trailKeyId] = Object.values(trail)[0].Properties.KMSKeyId['Fn::GetAtt'] ?? [];
    expect(trailKeyId).toEqual(expect.stringMatching(/^KeydriftTrailKey/));
    full.template.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: 'alias/keydrift/Keydrift-trail',
      TargetKeyId: { 'Fn::GetAtt': [trailKeyId, 'Arn'] },
    });
  });

  it('encrypts trail logs with a dedicated key that CloudTrail may use only for this account', () => {
    // keydrift's key, the ops key and the trail key.
    full.template.resourceCountIs('AWS::KMS::Key', 3);
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

  it('never expires a trail log, not even a deleted or overwritten one that versioning keeps', () => {
    const trailBucket = Object.values(full.template.findResources('AWS::S3::Bucket')).find(
      (bucket) => bucket.Properties.VersioningConfiguration,
    );
    const rules = trailBucket?.Properties.LifecycleConfiguration.Rules as Json[];
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect(Object.keys(rule).filter((field) => field.includes('Expiration'))).toEqual([]);
    }
    expect(rules).toContainEqual(
      expect.objectContaining({
        NoncurrentVersionTransitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 30 }],
      }),
    );
  });

  it("lets CloudTrail read the trail bucket's ACL and write logs only for keydrift's own trail", () => {
    const [trail] = Object.values(full.template.findResources('AWS::CloudTrail::Trail'));
    const trailName = trail.Properties.TrailName;
    expect(trailName).toMatch(/^keydrift-[A-Za-z0-9]+$/);
    const trailArn = {
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':cloudtrail:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          `:trail/${trailName}`,
        ],
      ],
    };
    const bucketId = trail.Properties.S3BucketName.Ref;
    const [[policyId, policy]] = Object.entries(
      full.template.findResources('AWS::S3::BucketPolicy', { Properties: { Bucket: { Ref: bucketId } } }),
    );
    const cloudTrailStatements = (policy.Properties.PolicyDocument.Statement as Json[]).filter(
      (s) => s.Principal?.Service === 'cloudtrail.amazonaws.com',
    );
    expect(cloudTrailStatements.map((s) => s.Action).sort()).toEqual(['s3:GetBucketAcl', 's3:PutObject']);
    for (const statement of cloudTrailStatements) {
      expect(statement.Effect).toBe('Allow');
      expect(statement.Condition.StringEquals['aws:SourceArn']).toEqual(trailArn);
    }
    // The trail waits for that policy (CloudTrail checks it on creation), and nothing in the policy refers back.
    expect(trail.DependsOn).toContain(policyId);
    expect(JSON.stringify(policy)).not.toContain(logicalId(full.stack, full.stack.keydrift.trail!));
  });

  it('outputs the trail ARN instead of the trail prerequisite', () => {
    const outputs = Object.keys(full.template.toJSON().Outputs);
    expect(outputs).toContain('TrailArn');
    expect(outputs).not.toContain('TrailPrerequisite');
    full.annotations.hasNoWarning('*', Match.stringLikeRegexp('CloudTrail trail'));
  });

  it('does not warn that alerts reach no one once any one alert target is configured', () => {
    full.annotations.hasNoWarning('*', Match.stringLikeRegexp('alerts no one'));
    for (const config of [
      { alertEmails: ['secops@example.com'] },
      { slack: FULL_CONFIG.slack },
      { pagerDutySecretName: FULL_CONFIG.pagerDutySecretName },
    ]) {
      synthesize({ config }).annotations.hasNoWarning('*', Match.stringLikeRegexp('alerts no one'));
    }
  });

  it('warns at synth that alarms reach no one when PagerDuty is the only alert target', () => {
    const pagingOnly = synthesize({ config: { pagerDutySecretName: FULL_CONFIG.pagerDutySecretName } });
    pagingOnly.annotations.hasWarning('/Keydrift/Keydrift', Match.stringLikeRegexp("^keydrift's alarms reach no one"));
    pagingOnly.annotations.hasWarning('/Keydrift/Keydrift', Match.stringLikeRegexp('OpsTopicArn output'));
    defaults.annotations.hasNoWarning('*', Match.stringLikeRegexp('alarms reach no one'));
    full.annotations.hasNoWarning('*', Match.stringLikeRegexp('alarms reach no one'));
    for (const config of [{ alertEmails: ['secops@example.com'] }, { slack: FULL_CONFIG.slack }]) {
      synthesize({ config }).annotations.hasNoWarning('*', Match.stringLikeRegexp('alarms reach no one'));
    }
  });
});

describe('Keydrift construct', () => {
  it.each([
    ['us-gov-west-1', 'aws-us-gov'],
    ['cn-north-1', 'aws-cn'],
    ['cn-northwest-1', 'aws-cn'],
  ])('refuses Slack at synth for a stack in %s, where AWS Chatbot does not exist (%s)', (region, partition) => {
    const build = () =>
      new KeydriftStack(testApp(), 'Keydrift', {
        env: { account: '111122223333', region },
        config: { slack: FULL_CONFIG.slack },
      });
    expect(build).toThrow(
      new RegExp(
        `^keydrift config: slack is set, but this stack deploys to ${region} \\(partition ${partition}\\), where AWS Chatbot`,
      ),
    );
  });

  it('accepts Slack in the aws partition, and in an environment-agnostic stack whose Region is only known at deploy', () => {
    for (const env of [{ account: '111122223333', region: 'eu-west-1' }, undefined]) {
      const stack = new KeydriftStack(testApp(), 'Keydrift', { env, config: { slack: FULL_CONFIG.slack } });
      expect(stack.keydrift.slackChannel).toBeDefined();
    }
    expect(
      () =>
        new KeydriftStack(testApp(), 'Keydrift', {
          env: { account: '111122223333', region: 'us-gov-west-1' },
          config: { alertEmails: ['secops@example.com'] },
        }),
    ).not.toThrow();
  });

  it("refuses at synth detection settings that would not fit in Lambda's 4 KB environment", () => {
    const plannedPrincipals = Array.from(
      { length: 80 },
      (_, i) => `arn:aws:iam::111122223333:role/platform/deployers/team-${i}-pipeline-deployer`,
    );
    const stack = new KeydriftStack(testApp(), 'Empty', { config: {} });
    expect(() => new Keydrift(stack, 'Large', { plannedPrincipals })).toThrow(
      /^keydrift config: the detection settings take [\d,]+ bytes in the functions' KEYDRIFT_CONFIG environment variable \(plannedPrincipals [\d,]+, .*\), over the limit of 2,750 bytes: Lambda allows 4 KB .* Shorten plannedPrincipals/,
    );
  });

  /** As many ignore rules (quote-heavy JSON, escaped in Lambda's measure) as the detection settings' limit lets through. */
  const largestIgnore = () => {
    const rule = (i: number) => ({ event: 'TagResource', user: `arn:aws-us-gov:iam::111122223333:role/r${i}` });
    const ignore = [rule(0)];
    while (environmentBytes(JSON.stringify([...ignore, rule(ignore.length)])) < MAX_DETECTION_SETTINGS_BYTES - 160) {
      ignore.push(rule(ignore.length));
    }
    return ignore;
  };

  /**
   * The size of each function's environment once CloudFormation resolves it (generated names are
   * `<stack>-<logical id>-<12 characters>`), as Lambda measures it.
   */
  const resolvedEnvironmentSizes = (stack: Stack, partition: string): number[] => {
    const template = Template.fromStack(stack).toJSON();
    const generated = (id: string) => `${stack.stackName}-${id}-${'A'.repeat(12)}`;
    const arn = (service: string, resource: string) =>
      `arn:${partition}:${service}:${stack.region}:${stack.account}:${resource}`;
    const resolve = (value: unknown): string => {
      if (typeof value === 'string') return value;
      const { Ref, 'Fn::GetAtt': getAtt } = value as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
      const type = template.Resources[Ref ?? getAtt?.[0] ?? '']?.Type;
      if (Ref && type === 'AWS::SNS::Topic') return arn('sns', generated(Ref));
      if (Ref && /^AWS::DynamoDB::(Global)?Table$/.test(type)) return generated(Ref);
      if (getAtt?.[1] === 'Arn' && type === 'AWS::KMS::Key') return arn('kms', `key/${'0'.repeat(36)}`);
      throw new Error(`no worst case for ${JSON.stringify(value)}`);
    };
    const functions = Object.values(template.Resources as Record<string, { Type: string; Properties: Json }>).filter(
      (r) => r.Type === 'AWS::Lambda::Function' && (r.Properties.Environment as Json | undefined)?.Variables,
    );
    return functions.map(({ Properties }) => {
      const variables = (Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      const resolved = Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, resolve(value)]));
      return Buffer.byteLength(JSON.stringify(resolved));
    });
  };

  it("keeps each function's environment within Lambda's 4 KB as Lambda measures it, at the largest settings and longest stack name", () => {
    // Prepare
    const ignore = largestIgnore();
    const stack = new KeydriftStack(testApp(), `K${'x'.repeat(63)}`, {
      env: { account: '111122223333', region: 'us-gov-west-1' },
      config: { ignore },
    });

    // Act
    const sizes = resolvedEnvironmentSizes(stack, 'aws-us-gov');

    // Assess
    expect(environmentBytes(JSON.stringify(ignore))).toBeGreaterThan(MAX_DETECTION_SETTINGS_BYTES - 300);
    expect(sizes.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4096);
  });

  it("refuses at synth, naming the stack name's length and the construct's path, settings that fit keydrift's own app but whose environment would outgrow 4 KB in a user's stack with a longer name", () => {
    // Prepare: CloudFormation allows stack names of 128 characters; keydrift's own app, 64
    const stack = new Stack(testApp(), `K${'x'.repeat(127)}`, {
      env: { account: '111122223333', region: 'us-gov-west-1' },
    });

    // Act
    const build = () => new Keydrift(new Construct(stack, 'Security'), 'Keydrift', { ignore: largestIgnore() });

    // Assess
    expect(build).toThrow(
      /^keydrift: the detector function's environment would take up to 4,[\d]{3} bytes once CloudFormation names the table and topics after the stack \(128 characters\) and their logical ids \(under Kx+\/Security\/Keydrift\), over the 4,096 bytes Lambda allows: .* Shorten the stack's name/,
    );
  });

  it("builds in a user's stack of a commercial Region whose environment fits there, though GovCloud's longer ARNs would not let it", () => {
    // Prepare: a 90-character stack name, the largest settings, in eu-west-1 and in us-gov-west-1, in an app created
    // before @aws-cdk/core:enablePartitionLiterals (its stacks' partition stays a token where the Region is known)
    const env = (region: string) => ({ account: '111122223333', region });
    const stackName = `K${'x'.repeat(89)}`;
    const build = (region: string) => {
      const app = testApp({ '@aws-cdk/core:enablePartitionLiterals': false });
      const stack = new Stack(app, stackName, { env: env(region) });
      new Keydrift(stack, 'Keydrift', { ignore: largestIgnore() });
      return stack;
    };

    // Act
    const stack = build('eu-west-1');

    // Assess: within 4 KB in the Region's own partition, over it in GovCloud's
    expect(Math.max(...resolvedEnvironmentSizes(stack, 'aws'))).toBeLessThanOrEqual(4096);
    expect(() => build('us-gov-west-1')).toThrow(/^keydrift: the detector function's environment would take up to 4,/);
  });

  it('passes the full test configuration well within that limit', () => {
    const [fn] = Object.values(
      full.template.findResources('AWS::Lambda::Function', {
        Properties: { Environment: { Variables: Match.objectLike({ KEYDRIFT_CONFIG: Match.anyValue() }) } },
      }),
    );
    expect(environmentBytes(fn.Properties.Environment.Variables.KEYDRIFT_CONFIG)).toBeLessThan(
      MAX_DETECTION_SETTINGS_BYTES,
    );
  });

  it("names the keys' aliases after the user's own stack, and exports both key ARNs there", () => {
    // Prepare
    const stack = new Stack(testApp(), 'Platform-Security');

    // Act
    const keydrift = new Keydrift(stack, 'KmsWatch', { alertEmails: ['secops@example.com'] });
    keydrift.exportOutputs();

    // Assess
    const template = Template.fromStack(stack);
    const arnOf = (key: { node: { defaultChild?: unknown } }) => ({
      'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as never), 'Arn'],
    });
    expect(keyAliasNames('Platform-Security')).toEqual({
      key: 'alias/keydrift/Platform-Security',
      opsKey: 'alias/keydrift/Platform-Security-ops',
      trailKey: 'alias/keydrift/Platform-Security-trail',
    });
    template.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: 'alias/keydrift/Platform-Security',
      TargetKeyId: arnOf(keydrift.key),
    });
    template.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: 'alias/keydrift/Platform-Security-ops',
      TargetKeyId: arnOf(keydrift.opsKey),
    });
    template.hasOutput('KeyArn', { Value: arnOf(keydrift.key) });
    template.hasOutput('OpsKeyArn', { Value: arnOf(keydrift.opsKey) });
  });

  it('keeps the aliases within KMS alias rules for the longest stack name CloudFormation allows', () => {
    const longest = `K${'x'.repeat(127)}`;
    const stack = new Stack(testApp(), longest);
    new Keydrift(stack, 'Keydrift');
    const names = Object.values(Template.fromStack(stack).findResources('AWS::KMS::Alias')).map(
      (alias) => alias.Properties.AliasName,
    );
    expect(names).toEqual([`alias/keydrift/${longest}`, `alias/keydrift/${longest}-ops`]);
    // KMS: alias/ then 1 to 250 letters, digits, slashes, underscores or hyphens, never under alias/aws/.
    for (const name of names) expect(name).toMatch(/^alias\/(?!aws\/)[a-zA-Z0-9/_-]{1,250}$/);
  });

  it('subscribes, connects Slack and reads the routing key from values CloudFormation resolves at deploy', () => {
    // Prepare: a platform team keeps its on-call address and Slack IDs in parameters of its own stack
    const stack = new Stack(testApp(), 'Platform');
    const parameter = (name: string) => new CfnParameter(stack, name).valueAsString;

    // Act
    new Keydrift(stack, 'Keydrift', {
      alertEmails: [parameter('OnCallEmail')],
      slack: { workspaceId: parameter('SlackWorkspace'), channelId: parameter('SlackChannel') },
      pagerDutySecretName: parameter('PagerDutyRoute'),
    });

    // Assess
    const template = Template.fromStack(stack);
    expect(
      Object.values(template.findResources('AWS::SNS::Subscription', { Properties: { Protocol: 'email' } })).map(
        (subscription) => subscription.Properties.Endpoint,
      ),
    ).toEqual([{ Ref: 'OnCallEmail' }, { Ref: 'OnCallEmail' }, { Ref: 'OnCallEmail' }]);
    template.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', {
      SlackWorkspaceId: { Ref: 'SlackWorkspace' },
      SlackChannelId: { Ref: 'SlackChannel' },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ PAGERDUTY_SECRET_NAME: { Ref: 'PagerDutyRoute' } }) },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'ReadPagerDutyRoutingKey',
            Resource: { 'Fn::Join': ['', Match.arrayWith([{ Ref: 'PagerDutyRoute' }, '-??????'])] },
          }),
        ]),
      },
    });
  });

  it("synthesizes in another project's app, whose working directory and lock file are that project's", () => {
    // Prepare: a platform team's CDK project elsewhere, with its own lock file, that imports keydrift's construct
    const project = fs.mkdtempSync(path.join(os.tmpdir(), 'platform-app-'));
    fs.writeFileSync(path.join(project, 'package-lock.json'), '{"lockfileVersion":3,"packages":{}}');
    const workingDirectory = process.cwd();
    process.chdir(project);
    try {
      // Act
      const stack = new Stack(testApp(), 'Platform');
      const keydrift = new Keydrift(stack, 'Keydrift');

      // Assess
      expect([keydrift.detector, keydrift.reconciler]).toHaveLength(2);
      Template.fromStack(stack).resourceCountIs('AWS::Lambda::Function', 2);
    } finally {
      process.chdir(workingDirectory);
      fs.rmSync(project, { recursive: true, force: true });
    }
  });

  it("creates the trail in an app without keydrift's feature flags, its access logs delivered by bucket policy, not ACL", () => {
    // Prepare: an app created before @aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy, or one that turns it off
    const stack = new Stack(testApp({ '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': false }), 'Platform');

    // Act
    const keydrift = new Keydrift(stack, 'Keydrift', { createTrail: true });

    // Assess
    const template = Template.fromStack(stack);
    expect(keydrift.trail).toBeDefined();
    const buckets = Object.values(template.findResources('AWS::S3::Bucket'));
    expect(buckets).toHaveLength(2);
    for (const bucket of buckets) {
      expect(bucket.Properties.AccessControl).toBeUndefined();
      expect(bucket.Properties.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    }
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 's3:PutObject', Principal: { Service: 'logging.s3.amazonaws.com' } }),
        ]),
      },
    });
  });

  it('rejects an invalid configuration before creating anything', () => {
    const stack = new KeydriftStack(testApp(), 'Empty', { config: {} });
    expect(() => new Keydrift(stack, 'Second', { alertEmails: ['bob@'] })).toThrow(
      'keydrift config: alertEmails[0] "bob@" is not an e-mail address',
    );
    expect(stack.node.tryFindChild('Second')?.node.children ?? []).toHaveLength(0);
  });

  it('refuses a second Keydrift for an account and Region another stack of the app already watches, naming both', () => {
    // Prepare: one app, keydrift already deployed to an account and Region by one of its stacks
    const app = testApp();
    const env = { account: '111122223333', region: 'eu-west-1' };
    new Keydrift(new Stack(app, 'Platform', { env }), 'Keydrift');

    // Act
    const second = () => new Keydrift(new Stack(app, 'Team', { env }), 'KmsWatch');

    // Assess
    expect(second).toThrow(
      /^keydrift: Platform\/Keydrift already watches account 111122223333 in eu-west-1; a second Keydrift there \(Team\/KmsWatch\) would alert on every change twice .* Put one Keydrift per account and Region/,
    );
    const elsewhere = () =>
      new Keydrift(new Stack(app, 'Frankfurt', { env: { ...env, region: 'eu-central-1' } }), 'Keydrift');
    expect(elsewhere).not.toThrow();
  });

  it("lets a role of the user's stack that is granted the table read it: the grant covers keydrift's key, which encrypts it", () => {
    // Prepare: a platform team's audit role, to read keydrift's findings
    const stack = new Stack(testApp(), 'Platform');
    const keydrift = new Keydrift(stack, 'Keydrift');
    const auditor = new iam.Role(stack, 'Auditor', { assumedBy: new iam.AccountRootPrincipal() });

    // Act
    keydrift.table.grantReadData(auditor);

    // Assess
    const id = (construct: { node: { defaultChild?: unknown } }) =>
      stack.getLogicalId(construct.node.defaultChild as never);
    const [policy] = Object.values(
      Template.fromStack(stack).findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: id(auditor) }] } }),
    );
    expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({
        Action: expect.arrayContaining(['kms:Decrypt']),
        Resource: { 'Fn::GetAtt': [id(keydrift.key), 'Arn'] },
      }),
    );
  });

  it('builds a Keydrift where an earlier one was refused before it created anything: that one holds no alias and watches nothing', () => {
    // Prepare: a first attempt whose configuration is refused, in a stack and in another stack of the same account
    // and Region
    const app = testApp();
    const env = { account: '111122223333', region: 'eu-west-1' };
    const stack = new Stack(app, 'Platform', { env });
    const refused = () => new Keydrift(stack, 'Draft', { alertEmails: ['bob@'] });
    expect(refused).toThrow('keydrift config: alertEmails[0] "bob@" is not an e-mail address');

    // Act
    const corrected = () => new Keydrift(stack, 'Keydrift', { alertEmails: ['bob@example.com'] });

    // Assess
    expect(corrected).not.toThrow();
    Template.fromStack(stack).resourceCountIs('AWS::KMS::Alias', 2);
    const elsewhere = () => new Keydrift(new Stack(app, 'Team', { env }), 'Keydrift');
    expect(elsewhere).toThrow(/^keydrift: Platform\/Keydrift already watches account 111122223333 in eu-west-1/);
  });

  it('refuses a second Keydrift in a nested stack of an environment-agnostic stack that holds one, whichever comes first', () => {
    // Prepare: keydrift's own stack, environment-agnostic, and a nested stack of it, which deploys to its account
    // and Region whatever they are; then the same two the other way round
    const parentFirst = new Stack(testApp(), 'Platform');
    new Keydrift(parentFirst, 'Keydrift');
    const nestedFirst = new Stack(testApp(), 'Platform');
    new Keydrift(new NestedStack(nestedFirst, 'Security'), 'Keydrift');

    // Act
    const inNested = () => new Keydrift(new NestedStack(parentFirst, 'Security'), 'Keydrift');
    const inParent = () => new Keydrift(nestedFirst, 'Keydrift');

    // Assess
    const refused =
      /^keydrift: Platform\/(Security\/)?Keydrift already watches the account and Region Platform deploys to; a second Keydrift there \(Platform\/(Security\/)?Keydrift\) would alert on every change twice/;
    expect(inNested).toThrow(refused);
    expect(inParent).toThrow(refused);
  });

  it('refuses a second Keydrift in the same stack at synth, naming both, rather than failing the deployment on its key aliases', () => {
    // Prepare: a platform stack that already holds keydrift
    const app = testApp();
    const stack = new Stack(app, 'Platform');
    new Keydrift(stack, 'Keydrift');

    // Act
    const second = () => new Keydrift(new Construct(stack, 'Team'), 'KmsWatch', { alertEmails: ['team@example.com'] });

    // Assess
    expect(second).toThrow(
      /^keydrift: stack Platform already holds a Keydrift \(Platform\/Keydrift\); a second one \(Platform\/Team\/KmsWatch\) would ask for the same key aliases .* Put one Keydrift per stack/,
    );
    expect(() => new Keydrift(new Stack(app, 'OtherRegion'), 'Keydrift')).not.toThrow();
  });
});
