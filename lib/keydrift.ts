import * as path from 'node:path';
import {
  Annotations,
  ArnFormat,
  type CfnElement,
  CfnOutput,
  Duration,
  Fn,
  Names,
  RemovalPolicy,
  Stack,
  Token,
  Validations,
} from 'aws-cdk-lib';
import * as chatbot from 'aws-cdk-lib/aws-chatbot';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct, type IConstruct } from 'constructs';
import { TABLE_KEY } from '../lambda/adapters/table-key';
import { RECONCILE_EVENTS } from '../lambda/core/catalog';
import { SEVERITIES } from '../lambda/core/types';
import { KMS_API_WRITES, KMS_NATIVE_EVENTS, KMS_SERVICE_EVENTS, TRAIL_WRITES } from '../lambda/core/watched-events';
import {
  cronGapDays,
  detectionSettingsJson,
  environmentBytes,
  type KeydriftConfig,
  type KeydriftProps,
  parseKeydriftConfig,
  rateMinutes,
} from './config';
import { KeydriftFunction, METRICS_NAMESPACE, SERVICE_NAME } from './keydrift-function';

const HANDLERS_DIR = path.join(__dirname, '..', 'lambda', 'handlers');

/**
 * The KMS reads made on one key: by the detector on the key an event names, by the reconciler on each key in turn
 * (kms-reader.ts, kms-inventory.ts). All read-only, all scoped to keys.
 */
export const KEY_READ_ACTIONS = [
  'kms:DescribeKey',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListGrants',
  'kms:ListResourceTags',
] as const;
/** KMS listings IAM only authorizes on `*`: the detector lists the aliases of one key (ListAliases with KeyId). */
export const DETECTOR_KMS_LIST_ACTIONS = ['kms:ListAliases'] as const;
/** The reconciler lists every key (a page at a time) and every alias of the account. */
export const RECONCILER_KMS_LIST_ACTIONS = ['kms:ListAliases', 'kms:ListKeys'] as const;
/**
 * What the detector does in keydrift's table (state-store.ts): batch loads, claims (an update, and a get when another
 * holds it), releases (an update: never a delete), saves (a transaction of puts and an update of the claim) and
 * marking the claim done. No delete, no index, no query, no scan.
 */
export const DETECTOR_TABLE_ACTIONS = [
  'dynamodb:BatchGetItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
] as const;
/**
 * What the reconciler does in keydrift's table: the detector's loads, claims and saves (state-store.ts), plus its
 * cursor (deleted when a run completes) and adoption marker and the scan for baselines (reconcile-store.ts). No index.
 */
export const RECONCILER_TABLE_ACTIONS = [
  'dynamodb:BatchGetItem',
  'dynamodb:DeleteItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:Scan',
  'dynamodb:UpdateItem',
] as const;
/** The event that hands an unfinished reconcile to the next invocation (reconciler-app.ts sends it). */
export const RECONCILE_CONTINUE_PATTERN = { source: ['keydrift'], detailType: ['Reconcile Continue'] };

/** CloudFormation's event for a stack that finished a create or an update (it does not fire for a rollback). */
function stackDeployedPattern(stackId: string): events.EventPattern {
  return {
    source: ['aws.cloudformation'],
    detailType: ['CloudFormation Stack Status Change'],
    detail: { 'stack-id': [stackId], 'status-details': { status: ['CREATE_COMPLETE', 'UPDATE_COMPLETE'] } },
  };
}

/** What DynamoDB, SNS and SQS need from a caller to use keydrift's key on its behalf (no wildcard actions). */
export const KEY_USE_ACTIONS = ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'] as const;
/** What SNS needs from a publisher to an encrypted topic: the functions' use of the ops key (no wildcard actions). */
export const OPS_KEY_USE_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey'] as const;
/** The AWS managed key for SNS, which no one can disable, delete or re-policy: it encrypts the last-resort topic. */
export const AWS_MANAGED_SNS_KEY_ALIAS = 'alias/aws/sns';

/** An event name keydrift's rules route to the detector (lambda/core/watched-events.ts). */
type WatchedEvent =
  | (typeof KMS_API_WRITES)[number]
  | (typeof KMS_SERVICE_EVENTS)[number]
  | (typeof KMS_NATIVE_EVENTS)[number]
  | (typeof TRAIL_WRITES)[number];

/**
 * The dashboard's first row: findings about a key's policy, deletion, rotation and state, by event. The names are
 * typed as watched events, so a misspelt one fails to compile. The other watched events are graphed under "Trail
 * changes" and "Other KMS changes", and the reconciler's findings (catalog.ts `RECONCILE_EVENTS`) under "Found by
 * the reconciler".
 */
export const KEY_FINDING_WIDGETS: readonly { title: string; events: readonly WatchedEvent[] }[] = [
  { title: 'Key policy changes', events: ['PutKeyPolicy'] },
  { title: 'Key deletion', events: ['ScheduleKeyDeletion', 'CancelKeyDeletion', 'KMS CMK Deletion', 'DeleteKey'] },
  {
    title: 'Key rotation',
    events: ['EnableKeyRotation', 'DisableKeyRotation', 'RotateKeyOnDemand', 'RotateKey', 'KMS CMK Rotation'],
  },
  { title: 'Key state changes', events: ['DisableKey', 'EnableKey'] },
];

/** The CloudFormation output keys `exportOutputs` creates; operator commands look resources up by these. */
export const OUTPUT_KEYS = {
  tableName: 'TableName',
  chatTopicArn: 'ChatTopicArn',
  emailTopicArn: 'EmailTopicArn',
  pageTopicArn: 'PageTopicArn',
  opsTopicArn: 'OpsTopicArn',
  lastResortTopicArn: 'LastResortTopicArn',
  deadLetterQueueUrl: 'DeadLetterQueueUrl',
  detectorFunctionName: 'DetectorFunctionName',
  pagerFunctionName: 'PagerFunctionName',
  keyArn: 'KeyArn',
  opsKeyArn: 'OpsKeyArn',
  trailArn: 'TrailArn',
  trailPrerequisite: 'TrailPrerequisite',
} as const;

const TRAIL_PREREQUISITE =
  'keydrift only sees changes that a CloudTrail trail records: this account needs a trail with logging on that ' +
  'records management events in this Region (a multi-Region or organization trail is fine) and does not exclude ' +
  'KMS events. None was created here (createTrail is false). Check with "aws cloudtrail describe-trails" and ' +
  '"aws cloudtrail get-event-selectors", or redeploy with createTrail: true.';

const NO_ALERT_TARGETS =
  'keydrift alerts no one: no alertEmails, slack or pagerDutySecretName is configured, so its topics have no ' +
  'subscribers and findings and alarms reach nobody (they are still kept in the table and the logs). Redeploy ' +
  'with at least one of them, or subscribe to the topics in the ChatTopicArn, EmailTopicArn, PageTopicArn, ' +
  'OpsTopicArn and LastResortTopicArn outputs yourself.';

const NO_OPS_TARGET =
  "keydrift's alarms reach no one: only pagerDutySecretName is configured, and PagerDuty receives the page topic " +
  "and only the critical findings of the ops topic, so the ops topic's alarms (dead-lettered events, failures) and " +
  "its other findings on keydrift's own key reach no one. Add alertEmails or slack, or subscribe to the topic in " +
  'the OpsTopicArn output yourself.';

/**
 * The aliases of keydrift's two keys, `alias/keydrift/<stack name>` and `alias/keydrift/<stack name>-ops`, so that
 * findings and alerts about them (which name a key by its alias) say whose keys they are. A stack name holds only
 * letters, digits and hyphens, within KMS's alias rules; alias names are unique per account and Region, as a stack's
 * name is, so one keydrift per stack (and per account and Region) never collides with another.
 */
export function keyAliasNames(stackName: string): { key: string; opsKey: string; trailKey: string } {
  return {
    key: `alias/keydrift/${stackName}`,
    opsKey: `alias/keydrift/${stackName}-ops`,
    trailKey: `alias/keydrift/${stackName}-trail`,
  };
}

/** A metric keydrift's functions emit (Powertools EMF, default dimension `service`, plus any given). */
function keydriftMetric(
  metricName: string,
  statistic: string,
  period: Duration,
  more: { dimensions?: Record<string, string>; label?: string } = {},
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: SERVICE_NAME, ...more.dimensions },
    statistic,
    period,
    label: more.label,
  });
}

/** Chatbot's limit on a configuration name, whose characters may be letters, digits, `-` and `_`. */
const CHATBOT_NAME_MAX_LENGTH = 128;
/** Room kept for the Region in that name: the longest Region names today have 19 characters (us-isof-southeast-1). */
const REGION_NAME_MAX_LENGTH = 25;

/**
 * `keydrift-<stack name>-<Region>`: Chatbot is a global service whose configuration names are unique in the account,
 * so the same stack in a second Region needs its own name. The Region is a token in an environment-agnostic stack,
 * so the stack name is cut to leave room for the longest Region and the name stays within Chatbot's 128 characters.
 */
function slackChannelConfigurationName(stack: Stack): string {
  const prefix = 'keydrift';
  const stackNameRoom = CHATBOT_NAME_MAX_LENGTH - prefix.length - REGION_NAME_MAX_LENGTH - 2;
  const stackName = Token.isUnresolved(stack.stackName) ? stack.stackName : stack.stackName.slice(0, stackNameRoom);
  return Fn.join('-', [prefix, stackName, stack.region]);
}

/** Partitions without AWS Chatbot (Amazon Q Developer in chat applications): CloudFormation has no resource type there. */
const PARTITIONS_WITHOUT_CHATBOT = ['aws-cn', 'aws-us-gov'];

/** The partition of a Region keydrift is deployed to, from CDK's Region table or, for a newer Region, its name. */
function partitionOf(region: string): string {
  const known = RegionInfo.get(region).partition;
  if (known) return known;
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/**
 * Refuses Slack for a stack whose Region is known and lies in a partition without AWS Chatbot, where the deployment
 * would fail on the channel configuration (cfn-lint E3006). An environment-agnostic stack's Region is only known at
 * deploy time, so it is not checked.
 */
function assertChatbotAvailable(stack: Stack, config: KeydriftConfig): void {
  if (!config.slack || Token.isUnresolved(stack.region)) return;
  const partition = partitionOf(stack.region);
  if (!PARTITIONS_WITHOUT_CHATBOT.includes(partition)) return;
  throw new Error(
    `keydrift config: slack is set, but this stack deploys to ${stack.region} (partition ${partition}), where AWS ` +
      'Chatbot (Amazon Q Developer in chat applications) does not exist, so CloudFormation cannot create the Slack ' +
      'channel configuration. Leave slack out there and subscribe alertEmails, or subscribe your own endpoint to ' +
      'the topics in the ChatTopicArn and OpsTopicArn outputs.',
  );
}

/**
 * Refuses at synth a second Keydrift in one stack, or for an account and Region another stack of the app watches.
 * - In one stack it would ask for the same key aliases (named after the stack, {@link keyAliasNames}) and Slack
 *   configuration name, and CloudFormation would fail the deployment on them.
 * - For one account and Region (both stacks name them, or one is nested in the other, which deploys to its parent's)
 *   each would alert on every change twice, and count its metrics (the `Keydrift` namespace, which the alarms and the
 *   reconcile heartbeat read) with the other's. An environment-agnostic stack's are unknown here.
 */
function assertOnlyKeydrift(stack: Stack, keydrift: Construct): void {
  const others = keydrift.node.root.node
    .findAll()
    .filter((construct) => isBuiltKeydrift(construct) && construct !== keydrift);
  const inStack = others.find((other) => Stack.of(other) === stack);
  if (inStack) {
    throw new Error(
      `keydrift: stack ${stack.node.path} already holds a Keydrift (${inStack.node.path}); a second one ` +
        `(${keydrift.node.path}) would ask for the same key aliases (alias/keydrift/<stack name>), and the deployment ` +
        'would fail. Put one Keydrift per stack, and one per account and Region: each watches them whole.',
    );
  }
  const { account, region } = stack;
  const known = !Token.isUnresolved(account) && !Token.isUnresolved(region);
  const elsewhere = others.find((other) => {
    const otherStack = Stack.of(other);
    if (deployedWith(otherStack) === deployedWith(stack)) return true;
    return known && otherStack.account === account && otherStack.region === region;
  });
  if (!elsewhere) return;
  const where = known
    ? `account ${account} in ${region}`
    : `the account and Region ${deployedWith(stack).node.path} deploys to`;
  throw new Error(
    `keydrift: ${elsewhere.node.path} already watches ${where}; a second Keydrift there ` +
      `(${keydrift.node.path}) would alert on every change twice and mix its metrics and alarms with the other's. ` +
      'Put one Keydrift per account and Region: it watches them whole.',
  );
}

/** The top-level stack a stack deploys with: itself, or a nested stack's outermost parent. */
const deployedWith = (stack: Stack): Stack => (stack.nestedStackParent ? deployedWith(stack.nestedStackParent) : stack);

/**
 * A Keydrift that created something. One whose constructor threw before it created anything (its configuration
 * refused, or itself refused as a second) stays in the tree, empty: it asks for no key alias and watches nothing.
 */
const isBuiltKeydrift = (construct: IConstruct): boolean =>
  construct instanceof Keydrift && construct.node.children.length > 0;

/** Lambda's limit on all of a function's environment variables, measured as one JSON object `{"NAME":"value",…}`. */
const LAMBDA_ENVIRONMENT_MAX_BYTES = 4096;

/** The shortest heartbeat window: a run can take several 15-minute invocations, and its metric lands at its end. */
const MIN_HEARTBEAT_WINDOW = Duration.hours(2);
/** CloudWatch's limit on period × evaluation periods for alarms with periods of an hour or more. */
const MAX_HEARTBEAT_WINDOW = Duration.days(7);

/**
 * How long the reconcile heartbeat alarm waits for a completed run: twice the interval of a rate() schedule, twice the
 * longest run of days between the days a cron() runs on (two days for one that runs daily, six for `MON-FRI`); never
 * under 2 hours or over CloudWatch's 7 days. parseKeydriftConfig refuses schedules rarer than every 3 days, so a
 * valid schedule never alarms between its runs; a cron() it cannot read gets the longest window.
 */
export function reconcileHeartbeatWindow(schedule: string): Duration {
  const interval = rateMinutes(schedule);
  const cronGap = cronGapDays(schedule);
  const days = cronGap && 'days' in cronGap ? cronGap.days : undefined;
  const minutes =
    interval !== undefined ? 2 * interval : days !== undefined ? 2 * days * 24 * 60 : MAX_HEARTBEAT_WINDOW.toMinutes();
  const bounded = Math.min(Math.max(minutes, MIN_HEARTBEAT_WINDOW.toMinutes()), MAX_HEARTBEAT_WINDOW.toMinutes());
  // Whole hours: the alarm counts hourly periods.
  return Duration.hours(Math.ceil(bounded / 60));
}

/**
 * The trail's log bucket: every statement of its policy that grants CloudTrail something (the ACL read and the
 * log writes that `cloudtrail.Trail` adds itself) only holds for keydrift's trail (`aws:SourceArn`), so another
 * account's or another trail's CloudTrail cannot write here (the confused deputy).
 */
class TrailLogBucket extends s3.Bucket {
  private readonly trailArn: string;

  constructor(scope: Construct, id: string, trailArn: string, props: s3.BucketProps) {
    super(scope, id, props);
    this.trailArn = trailArn;
  }

  override addToResourcePolicy(statement: iam.PolicyStatement): iam.AddToResourcePolicyResult {
    const grantsCloudTrail = statement.principals.some(
      (principal) => principal instanceof iam.ServicePrincipal && principal.service === 'cloudtrail.amazonaws.com',
    );
    if (grantsCloudTrail) statement.addCondition('StringEquals', { 'aws:SourceArn': this.trailArn });
    return super.addToResourcePolicy(statement);
  }
}

/**
 * keydrift in one construct: watches KMS keys and CloudTrail trails through EventBridge, keeps baselines and
 * findings in DynamoDB and alerts by audience over SNS. Put one per account and Region (rules are regional).
 *
 * Defaults (configuration in {@link KeydriftProps}, validated by `parseKeydriftConfig`):
 * - alerts: `chat`, `email` and `page` topics encrypted with keydrift's key; an `ops` topic for alarms and for
 *   findings about that key, encrypted with a second key of its own (findings about the second key go to the
 *   other topics), so disabling either key is still reported through the other, and a `lastResort` topic under the
 *   AWS managed key for SNS, subscribed like ops, for the detector's warning when both are disabled; the pager (with
 *   `pagerDutySecretName`) takes the page topic and the ops topic's critical findings; no e-mail, Slack or paging
 *   targets until configured;
 * - only `error` and `critical` findings are published (`alertMinSeverity`); no planned principals;
 * - no CloudTrail trail is created (`createTrail: false`): a `TrailPrerequisite` output and a synth warning say
 *   that one is required;
 * - with no e-mail, Slack or PagerDuty target configured, a synth warning says that alerts reach no one;
 * - the keys have the aliases `alias/keydrift/<stack name>` and `alias/keydrift/<stack name>-ops`
 *   ({@link keyAliasNames}), so findings about them say they are keydrift's;
 * - both keys, the table (deletion protection, point-in-time recovery) and the trail's buckets are retained when
 *   the stack is deleted, because they hold baselines, history and audit logs;
 * - EventBridge targets retry 8 times (events older than 24 hours are not retried), the detector retries twice,
 *   and whatever still fails lands in the dead-letter queue (kept 14 days), which alarms to `ops` on each new
 *   arrival and while messages wait;
 * - the reconciler runs on `reconcileSchedule` (every 6 hours) and after each completed create or update of the
 *   stack, one invocation at a time (reserved concurrency 1),
 *   up to 15 minutes each; a larger account continues in further invocations through a `Reconcile Continue` event;
 * - function defaults are those of {@link KeydriftFunction};
 * - a second Keydrift in the same stack is refused (it would ask for the same key aliases), as is one for the
 *   account and Region of another stack of the app when both stacks give them, or one is nested in the other.
 *
 * Call {@link Keydrift.exportOutputs} once in the stack so operator commands can find the resources. Its outputs
 * take fixed ids (`TableName`, `KeyArn`, …) directly under the stack, so CDK refuses it in a stack that already has a
 * construct of one of those ids there (an output of your own named `TableName`, or a second Keydrift's outputs).
 *
 * @example
 * const keydrift = new Keydrift(stack, 'Keydrift', { alertEmails: ['secops@example.com'] });
 * keydrift.exportOutputs();
 */
export class Keydrift extends Construct {
  /** The validated configuration, defaults applied. */
  readonly config: KeydriftConfig;
  /** Customer managed key for the table and the chat/email/page topics (the ops topic and dead-letter queue do without it). */
  readonly key: kms.Key;
  /** Customer managed key for the ops topic alone, so that losing either key is still reported through the other. */
  readonly opsKey: kms.Key;
  /** `alias/keydrift/<stack name>`, on {@link key}: findings about the key name it by this alias. */
  readonly keyAlias: kms.Alias;
  /** `alias/keydrift/<stack name>-ops`, on {@link opsKey}. */
  readonly opsKeyAlias: kms.Alias;
  /**
   * Baselines, drift history and deduplication (`pk`/`sk`, TTL `expiresAt`, GSI `byTime`), encrypted with {@link key};
   * its grant* methods grant the use of that key too.
   */
  readonly table: dynamodb.TableV2;
  /** Chatbot custom-notification JSON for Slack. */
  readonly chatTopic: sns.Topic;
  /** Human-readable text with a subject, for e-mail. */
  readonly emailTopic: sns.Topic;
  /** Critical findings for on-call paging. */
  readonly pageTopic: sns.Topic;
  /** Alarms and findings about keydrift's main key; encrypted with {@link opsKey}, deliberately not with that key. */
  readonly opsTopic: sns.Topic;
  /**
   * The detector's last way out when an event on one of keydrift's own keys cannot be processed and the ops topic
   * refuses its warning too (both keys disabled): encrypted with the AWS managed key for SNS, which no one can
   * disable, so only the detector publishes there (CloudWatch alarms cannot use that key); subscribed like ops.
   */
  readonly lastResortTopic: sns.Topic;
  /** Events that neither EventBridge nor the detector could process. */
  readonly deadLetterQueue: sqs.Queue;
  readonly detector: KeydriftFunction;
  /** Compares every key, alias and trail with its baseline on the schedule; adopts on the first run. */
  readonly reconciler: KeydriftFunction;
  /** Forwards the `page` topic, and the `ops` topic's critical findings, to PagerDuty; only with `pagerDutySecretName`. */
  readonly pager?: KeydriftFunction;
  readonly slackChannel?: chatbot.SlackChannelConfiguration;
  /** The EventBridge rules feeding the detector, by name. */
  readonly rules: Readonly<
    Record<'kmsApiCalls' | 'kmsServiceEvents' | 'kmsNativeEvents' | 'trailApiCalls', events.Rule>
  >;
  /**
   * What starts the reconciler: its schedule, each completed deployment of the stack (so the first run adopts
   * baselines right away rather than hours later), and its own continuation events.
   */
  readonly reconcileRules: Readonly<Record<'schedule' | 'deployment' | 'continuation', events.Rule>>;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;
  /** The multi-Region trail; only with `createTrail: true`. */
  readonly trail?: cloudtrail.Trail;

  constructor(scope: Construct, id: string, props: KeydriftProps = {}) {
    super(scope, id);
    // The trail's buckets disable ACLs (BucketOwnerEnforced), so S3 server access logs must be let in by bucket policy.
    // Without this flag, which an app may lack or turn off, CDK grants them by ACL instead and synth fails; set here,
    // it holds for keydrift's own resources only.
    this.node.setContext(cxapi.S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);
    this.config = parseKeydriftConfig(props);
    const stack = Stack.of(this);
    assertOnlyKeydrift(stack, this);
    assertChatbotAvailable(stack, this.config);

    this.key = new kms.Key(this, 'Key', {
      description: 'keydrift: encrypts the keydrift table and its chat/email/page alert topics',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // No service principal needs this key: CloudWatch alarms publish only to the ops topic and failures go to the
    // dead-letter queue, neither of which this key encrypts.

    // A second key for the ops topic alone, so that disabling or deleting either key leaves a way to say so: findings
    // on the main key also go to ops, findings on this one to the chat, e-mail and page topics (publisher.ts).
    this.opsKey = new kms.Key(this, 'OpsKey', {
      description: "keydrift: encrypts the ops alert topic (alarms, findings on keydrift's main key)",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Findings name a key by its alias: these say the keys are keydrift's own, not some other team's.
    const aliases = keyAliasNames(stack.stackName);
    this.keyAlias = this.key.addAlias(aliases.key);
    this.opsKeyAlias = this.opsKey.addAlias(aliases.opsKey);
    const thisAccountsAlarms = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: {
        'aws:SourceArn': stack.formatArn({
          service: 'cloudwatch',
          resource: 'alarm',
          resourceName: '*',
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    };
    // CloudWatch publishes alarm state changes to the encrypted ops topic, so it must use the topic's key; only for
    // this account's alarms (the confused deputy).
    this.opsKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowThisAccountsAlarmsToUseTheKey',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: thisAccountsAlarms,
      }),
    );

    this.table = new dynamodb.TableV2(this, 'Table', {
      partitionKey: { name: TABLE_KEY.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEY.sortKey, type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      timeToLiveAttribute: 'expiresAt',
      globalSecondaryIndexes: [
        {
          indexName: 'byTime',
          partitionKey: { name: 'gsi1pk', type: dynamodb.AttributeType.STRING },
          sortKey: { name: 'gsi1sk', type: dynamodb.AttributeType.STRING },
        },
      ],
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      // Completed below: TableEncryptionV2.customerManagedKey() refuses environment-agnostic stacks.
      encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
    });
    // customerManagedKey() must map the key to each replica's Region, which it cannot do while the Region is a
    // token. The only replica is the deployment Region's, so it gets keydrift's key directly. keydrift's functions
    // are granted the key through grantKeyUseViaServices, not the table's grant* methods.
    (this.table.node.defaultChild as dynamodb.CfnGlobalTable).addPropertyOverride(
      'Replicas.0.SSESpecification.KMSMasterKeyId',
      this.key.keyArn,
    );
    // Told to the L2 too, which otherwise knows no key: a stack that grants its own roles the table
    // (table.grantReadData) then grants them the key as well, without which DynamoDB refuses them every read.
    (this.table as { encryptionKey?: kms.IKey }).encryptionKey = this.key;

    const encryptedTopic = (topicId: string, displayName: string) =>
      new sns.Topic(this, topicId, { displayName, masterKey: this.key, enforceSSL: true });
    this.chatTopic = encryptedTopic('ChatTopic', 'keydrift chat');
    this.emailTopic = encryptedTopic('EmailTopic', 'keydrift');
    this.pageTopic = encryptedTopic('PageTopic', 'keydrift page');
    // Encrypted with the ops key, not the main one: it carries full findings (who, from where, policy diffs), and
    // must still reach someone when the main key is disabled or pending deletion.
    this.opsTopic = new sns.Topic(this, 'OpsTopic', {
      displayName: 'keydrift ops',
      masterKey: this.opsKey,
      enforceSSL: true,
    });
    // The topic policy that enforceSSL creates replaces SNS's default one, so CloudWatch alarms need an explicit
    // allow; it is fenced to this account's alarms.
    this.opsTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowThisAccountsAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.opsTopic.topicArn],
        conditions: thisAccountsAlarms,
      }),
    );

    // An attacker who disables both keys back to back leaves the ops topic unable to say so: the detector's warning
    // then goes here. The AWS managed key cannot be disabled, deleted or given another policy, and lets any IAM
    // principal of the account publish through SNS (AWS services such as CloudWatch alarms cannot: hence the ops key).
    this.lastResortTopic = new sns.Topic(this, 'LastResortTopic', {
      displayName: 'keydrift last resort',
      masterKey: kms.Alias.fromAliasName(this, 'AwsManagedSnsKey', AWS_MANAGED_SNS_KEY_ALIAS),
      enforceSSL: true,
    });

    for (const email of this.config.alertEmails) {
      this.emailTopic.addSubscription(new subscriptions.EmailSubscription(email));
      this.opsTopic.addSubscription(new subscriptions.EmailSubscription(email));
      this.lastResortTopic.addSubscription(new subscriptions.EmailSubscription(email));
    }

    if (this.config.slack) {
      this.slackChannel = new chatbot.SlackChannelConfiguration(this, 'SlackChannel', {
        slackChannelConfigurationName: slackChannelConfigurationName(stack),
        slackWorkspaceId: this.config.slack.workspaceId,
        slackChannelId: this.config.slack.channelId,
        notificationTopics: [this.chatTopic, this.opsTopic, this.lastResortTopic],
        // The default guardrail is AdministratorAccess: anyone in the channel could then run any command the
        // channel role allows. Notifications need no rights at all, and the channel role (created by the L2) has
        // no policy; the guardrail caps it at CloudWatch reads, the narrowest policy used for notification-only
        // channels, rather than ReadOnlyAccess's reads of every service.
        guardrailPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('CloudWatchReadOnlyAccess')],
        loggingLevel: chatbot.LoggingLevel.ERROR,
      });
    }

    // SQS-managed encryption, not keydrift's key: when that key is disabled or scheduled for deletion, the detector
    // fails on its table and topics, and exactly those events must still be kept here to be redriven.
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // Like the table: events waiting here are detections not yet alerted, not to be lost with the stack.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is itself the dead-letter queue of the EventBridge targets, of the pager's SNS subscriptions and of the functions' asynchronous " +
        'invocations. A queue behind it would only move the problem; instead an alarm on its depth pages ops.',
    });

    const findingEnvironment = {
      TABLE_NAME: this.table.tableName,
      CHAT_TOPIC_ARN: this.chatTopic.topicArn,
      EMAIL_TOPIC_ARN: this.emailTopic.topicArn,
      PAGE_TOPIC_ARN: this.pageTopic.topicArn,
      OPS_TOPIC_ARN: this.opsTopic.topicArn,
      EVENT_BUS_NAME: 'default',
      SELF_KEY_ARN: this.key.keyArn,
      OPS_KEY_ARN: this.opsKey.keyArn,
      // The detection settings, read by lambda/shared/environment.ts with the core's own parser.
      // parseKeydriftConfig has checked that it fits in Lambda's 4 KB environment with the variables above.
      KEYDRIFT_CONFIG: detectionSettingsJson(this.config),
    };
    this.detector = new KeydriftFunction(this, 'Detector', {
      entry: path.join(HANDLERS_DIR, 'detector.ts'),
      description: 'keydrift: turns KMS and CloudTrail change events into findings',
      // The last-resort topic is the detector's alone (warnOps in detector-app.ts).
      environment: { ...findingEnvironment, LAST_RESORT_TOPIC_ARN: this.lastResortTopic.topicArn },
    });
    this.grantDetectorAccess(this.detector);
    this.sendFailedInvocationsToDeadLetterQueue(this.detector);

    this.reconciler = new KeydriftFunction(this, 'Reconciler', {
      entry: path.join(HANDLERS_DIR, 'reconciler.ts'),
      description: 'keydrift: compares every key, alias and trail with its baseline, and counts down deletions',
      // One run at a time: a scheduled run never overlaps an unfinished one (it waits in Lambda's queue).
      reservedConcurrentExecutions: 1,
      memorySize: 1024,
      timeout: Duration.minutes(15),
      environment: { ...findingEnvironment, RECONCILE_RESERVE_MS: '60000' },
    });
    this.grantReconcilerAccess(this.reconciler);
    this.sendFailedInvocationsToDeadLetterQueue(this.reconciler);
    this.assertEnvironmentsFit();

    if (this.config.pagerDutySecretName) {
      const secretName = this.config.pagerDutySecretName;
      this.pager = new KeydriftFunction(this, 'Pager', {
        entry: path.join(HANDLERS_DIR, 'pager.ts'),
        description: 'keydrift: forwards critical findings to PagerDuty Events API v2',
        environment: { PAGERDUTY_SECRET_NAME: secretName, TABLE_NAME: this.table.tableName },
        // Room to send an event PagerDuty refused (429 when a burst fills the routing key's 60-second window) three
        // more times about 30 s apart within the invocation (handlers/pager-app.ts), each with time left for its
        // attempt, rather than fail at once into Lambda's retries, which meet the same limit and end in the
        // dead-letter queue.
        timeout: Duration.minutes(3),
      });
      // GetSecretValue is the pager's one call (adapters/pagerduty.ts), on this secret name with Secrets Manager's
      // six-character suffix. A secret encrypted with a customer managed key also needs kms:Decrypt on that key,
      // granted by whoever owns it.
      this.pager.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'ReadPagerDutyRoutingKey',
          actions: ['secretsmanager:GetSecretValue'],
          resources: [
            stack.formatArn({
              service: 'secretsmanager',
              resource: 'secret',
              resourceName: `${secretName}-??????`,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          ],
        }),
      );
      // Its other call records the newest event sent per dedup key (adapters/page-ledger.ts): only those items.
      this.pager.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'RecordPageOrder',
          actions: ['dynamodb:UpdateItem'],
          resources: [this.table.tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['PAGE#*'] } },
        }),
      );
      this.grantKeyUseViaServices(this.pager, ['dynamodb']);
      // What SNS cannot hand to the pager (the invocation refused: a permission removed, the function gone) is kept
      // in the dead-letter queue, whose alarms tell ops, rather than dropped: a page that never went out.
      const pagerSubscription = { deadLetterQueue: this.deadLetterQueue };
      // The page topic's messages reach the pager decrypted: it needs no use of keydrift's keys for them.
      this.pageTopic.addSubscription(new subscriptions.LambdaSubscription(this.pager, pagerSubscription));
      // The ops topic too: a finding on keydrift's main key pages even while that key (and so the page topic) is
      // unusable. No filter policy: the findings there are JSON-structured, and SNS sends message attributes only
      // with String ones, so a filter on them might never match; the pager skips the alarms' notifications and
      // triggers for critical findings only. A finding that arrives both ways is one PagerDuty incident: the dedup
      // key is per resource and attribute.
      this.opsTopic.addSubscription(new subscriptions.LambdaSubscription(this.pager, pagerSubscription));
      // The last-resort topic carries what ops would have (opsCommand's forms): its critical findings page too.
      this.lastResortTopic.addSubscription(new subscriptions.LambdaSubscription(this.pager, pagerSubscription));
      this.sendFailedInvocationsToDeadLetterQueue(this.pager);
    }

    this.rules = {
      kmsApiCalls: this.addRule('KmsApiCallsRule', 'KMS API calls that change a key, alias, grant or key store', {
        source: ['aws.kms'],
        detailType: ['AWS API Call via CloudTrail'],
        detail: { eventSource: ['kms.amazonaws.com'], eventName: [...KMS_API_WRITES] },
      }),
      kmsServiceEvents: this.addRule('KmsServiceEventsRule', 'Changes KMS makes itself (deletion, rotation)', {
        source: ['aws.kms'],
        detailType: ['AWS Service Event via CloudTrail'],
        detail: { eventSource: ['kms.amazonaws.com'], eventName: [...KMS_SERVICE_EVENTS] },
      }),
      kmsNativeEvents: this.addRule('KmsNativeEventsRule', "KMS's own events (deletion, rotation, material expiry)", {
        source: ['aws.kms'],
        detailType: [...KMS_NATIVE_EVENTS],
      }),
      trailApiCalls: this.addRule('TrailApiCallsRule', 'CloudTrail API calls that change a trail', {
        source: ['aws.cloudtrail'],
        detailType: ['AWS API Call via CloudTrail'],
        detail: { eventSource: ['cloudtrail.amazonaws.com'], eventName: [...TRAIL_WRITES] },
      }),
    };

    this.reconcileRules = {
      schedule: this.addReconcileRule('ReconcileScheduleRule', 'scheduled reconcile of keys, aliases and trails', {
        schedule: events.Schedule.expression(this.config.reconcileSchedule),
      }),
      deployment: this.addReconcileRule(
        'ReconcileAfterDeployRule',
        'reconcile once the stack is deployed or updated (the first run adopts the baselines)',
        { eventPattern: stackDeployedPattern(stack.stackId) },
      ),
      continuation: this.addReconcileRule(
        'ReconcileContinueRule',
        'continues a reconcile run that needs more than one invocation',
        { eventPattern: RECONCILE_CONTINUE_PATTERN },
      ),
    };

    this.addAlarms();
    this.dashboard = this.addDashboard();

    if (this.config.createTrail) {
      this.trail = this.addTrail();
    } else {
      Annotations.of(this).addWarningV2('keydrift:trailPrerequisite', TRAIL_PREREQUISITE);
    }
    const { alertEmails, slack, pagerDutySecretName } = this.config;
    if (alertEmails.length === 0 && !slack && !pagerDutySecretName) {
      Annotations.of(this).addWarningV2('keydrift:noAlertTargets', NO_ALERT_TARGETS);
    } else if (alertEmails.length === 0 && !slack) {
      Annotations.of(this).addWarningV2('keydrift:noOpsTarget', NO_OPS_TARGET);
    }

    this.acknowledgeUnavoidableWildcards();
  }

  /**
   * Creates the stack outputs operator commands rely on, with exactly these ids: `TableName`, `ChatTopicArn`,
   * `EmailTopicArn`, `PageTopicArn`, `OpsTopicArn`, `LastResortTopicArn`, `DeadLetterQueueUrl`,
   * `DetectorFunctionName`, `PagerFunctionName` (with PagerDuty), `KeyArn`, `OpsKeyArn`, plus `TrailArn` (with
   * `createTrail`) or `TrailPrerequisite` (without). Call it once per stack.
   *
   * @param scope where the outputs go; their logical ids equal the keys only directly under a stack.
   */
  exportOutputs(scope: Construct = Stack.of(this)): void {
    const output = (id: string, value: string, description: string) => new CfnOutput(scope, id, { value, description });
    output(OUTPUT_KEYS.tableName, this.table.tableName, 'keydrift baselines, findings and dedupe');
    output(OUTPUT_KEYS.chatTopicArn, this.chatTopic.topicArn, 'Alerts for chat (Chatbot custom notifications)');
    output(OUTPUT_KEYS.emailTopicArn, this.emailTopic.topicArn, 'Alerts for e-mail');
    output(OUTPUT_KEYS.pageTopicArn, this.pageTopic.topicArn, 'Critical alerts for paging');
    output(OUTPUT_KEYS.opsTopicArn, this.opsTopic.topicArn, "Alarms and findings about keydrift's own key");
    output(
      OUTPUT_KEYS.lastResortTopicArn,
      this.lastResortTopic.topicArn,
      "Findings about keydrift's own keys when the ops topic refuses them (AWS managed key)",
    );
    output(OUTPUT_KEYS.deadLetterQueueUrl, this.deadLetterQueue.queueUrl, 'Events keydrift failed to process');
    output(OUTPUT_KEYS.detectorFunctionName, this.detector.functionName, 'Where dead-lettered events are sent back');
    if (this.pager) {
      output(OUTPUT_KEYS.pagerFunctionName, this.pager.functionName, 'Where dead-lettered pages are sent back');
    }
    // Literal descriptions: CloudFormation takes no intrinsic function there (a nested stack's name is one).
    output(OUTPUT_KEYS.keyArn, this.key.keyArn, "keydrift's own KMS key (table; chat, email and page topics)");
    output(OUTPUT_KEYS.opsKeyArn, this.opsKey.keyArn, "keydrift's ops KMS key (ops topic)");
    if (this.trail) {
      output(OUTPUT_KEYS.trailArn, this.trail.trailArn, 'The multi-Region trail keydrift created');
    } else {
      output(OUTPUT_KEYS.trailPrerequisite, TRAIL_PREREQUISITE, 'Required: a CloudTrail trail with management events');
    }
  }

  /**
   * Refuses at synth a detector or reconciler whose environment would outgrow Lambda's 4 KB once CloudFormation has
   * resolved it. parseKeydriftConfig's limit on the detection settings assumes keydrift's own app (a stack name of at
   * most 64 characters, this construct at the stack's top); in another stack the table and topic names CloudFormation
   * generates, `<stack name>-<logical id>-<12 characters>`, can be longer: a longer stack name, a construct deeper in
   * the tree. Reckoned as that limit is, in the partition with the longest ARNs unless the stack's Region is known.
   */
  private assertEnvironmentsFit(): void {
    const stack = Stack.of(this);
    const known = (value: string, worst: string) => (Token.isUnresolved(value) ? worst : value);
    const region = known(stack.region, 'us-gov-west-1');
    // From the Region: a stack's partition is a token even where its Region is known.
    const partition = partitionOf(region);
    const account = known(stack.account, '0'.repeat(12));
    const stackName = known(stack.stackName, 'x'.repeat(128));
    const logicalId = (construct: Construct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
    const generated = (construct: Construct) => `${stackName}-${logicalId(construct)}-${'x'.repeat(12)}`;
    const arn = (service: string, resource: string) => `arn:${partition}:${service}:${region}:${account}:${resource}`;
    const resolved = new Map<string, string>([
      [JSON.stringify({ Ref: logicalId(this.table) }), generated(this.table)],
      ...[this.chatTopic, this.emailTopic, this.pageTopic, this.opsTopic, this.lastResortTopic].map(
        (topic): [string, string] => [JSON.stringify({ Ref: logicalId(topic) }), arn('sns', generated(topic))],
      ),
      ...[this.key, this.opsKey].map((key): [string, string] => [
        JSON.stringify({ 'Fn::GetAtt': [logicalId(key), 'Arn'] }),
        arn('kms', `key/${'0'.repeat(36)}`),
      ]),
    ]);
    for (const fn of [this.detector, this.reconciler]) {
      const { variables } = stack.resolve((fn.node.defaultChild as lambda.CfnFunction).environment) as {
        variables: Record<string, unknown>;
      };
      const bytes =
        Object.entries(variables).reduce((sum, [name, value]) => {
          const text = typeof value === 'string' ? value : (resolved.get(JSON.stringify(value)) ?? String(value));
          // `"NAME":"value",` for each variable, `{` and `}` around them.
          return sum + environmentBytes(name) + environmentBytes(text) + 6;
        }, 2) - 1;
      if (bytes <= LAMBDA_ENVIRONMENT_MAX_BYTES) continue;
      throw new Error(
        `keydrift: the ${fn.node.id.toLowerCase()} function's environment would take up to ` +
          `${bytes.toLocaleString('en-US')} bytes once CloudFormation names the table and topics after the stack ` +
          `(${stackName.length} characters) and their logical ids (under ${this.node.path}), over the ` +
          `${LAMBDA_ENVIRONMENT_MAX_BYTES.toLocaleString('en-US')} bytes Lambda allows: it would refuse the ` +
          "deployment. Shorten the stack's name (keydrift's own app allows 64 characters), put the Keydrift construct " +
          'nearer the top of the stack or give it a shorter id, or shorten the detection settings ' +
          `(KEYDRIFT_CONFIG takes ${environmentBytes(detectionSettingsJson(this.config)).toLocaleString('en-US')} bytes).`,
      );
    }
  }

  /**
   * Least privilege for the detector: the reads of the key an event names and that key's aliases, trail reads, its
   * table items (no index), the four topics, the default bus, and the key through the services that use it; and the
   * last-resort topic.
   */
  private grantDetectorAccess(fn: KeydriftFunction): void {
    this.grantFindingAccess(fn, { kmsListActions: DETECTOR_KMS_LIST_ACTIONS, tableActions: DETECTOR_TABLE_ACTIONS });
    // No KMS statement: the AWS managed key's own policy lets the account's principals use it through SNS.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'PublishLastResort',
        actions: ['sns:Publish'],
        resources: [this.lastResortTopic.topicArn],
      }),
    );
  }

  /**
   * Least privilege for the reconciler: the per-key reads and the key and alias listings, trail reads, its table
   * items and the baseline scan (no index), the four topics, the default bus for findings and its continuation
   * events, and the key through the services that use it.
   */
  private grantReconcilerAccess(fn: KeydriftFunction): void {
    this.grantFindingAccess(fn, {
      kmsListActions: RECONCILER_KMS_LIST_ACTIONS,
      tableActions: RECONCILER_TABLE_ACTIONS,
    });
  }

  /**
   * What a function that makes findings needs: the KMS reads on keys, the given KMS listings (IAM authorizes them
   * only on `*`), trail reads, the given actions on the table's items, publishing to the four topics, events on the
   * default bus, keydrift's key through the services that encrypt with it (SNS needs it to publish to the
   * encrypted topics), and the ops key through SNS alone.
   */
  private grantFindingAccess(
    fn: KeydriftFunction,
    access: { kmsListActions: readonly string[]; tableActions: readonly string[] },
  ): void {
    const stack = Stack.of(this);
    const statements = [
      new iam.PolicyStatement({
        sid: 'ReadKeyState',
        actions: [...KEY_READ_ACTIONS],
        resources: [stack.formatArn({ service: 'kms', resource: 'key', resourceName: '*' })],
      }),
      new iam.PolicyStatement({ sid: 'ListKms', actions: [...access.kmsListActions], resources: ['*'] }),
      new iam.PolicyStatement({ sid: 'ListTrails', actions: ['cloudtrail:DescribeTrails'], resources: ['*'] }),
      new iam.PolicyStatement({
        sid: 'ReadTrailState',
        actions: ['cloudtrail:GetEventSelectors', 'cloudtrail:GetTrailStatus'],
        // Any Region: a multi-Region trail's home Region may differ from this one.
        resources: [stack.formatArn({ service: 'cloudtrail', region: '*', resource: 'trail', resourceName: '*' })],
      }),
      new iam.PolicyStatement({
        sid: 'ReadWriteKeydriftTable',
        actions: [...access.tableActions],
        resources: [this.table.tableArn],
      }),
      new iam.PolicyStatement({
        sid: 'PublishAlerts',
        actions: ['sns:Publish'],
        resources: [this.chatTopic, this.emailTopic, this.pageTopic, this.opsTopic].map((t) => t.topicArn),
      }),
      new iam.PolicyStatement({
        sid: 'PutKeydriftEvents',
        actions: ['events:PutEvents'],
        resources: [stack.formatArn({ service: 'events', resource: 'event-bus', resourceName: 'default' })],
      }),
    ];
    for (const statement of statements) fn.addToRolePolicy(statement);
    this.grantKeyUseViaServices(fn, ['dynamodb', 'sns']);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'UseOpsKeyViaSns',
        actions: [...OPS_KEY_USE_ACTIONS],
        resources: [this.opsKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `sns.${stack.region}.amazonaws.com` } },
      }),
    );
  }

  /**
   * Lets a function use keydrift's key only through the given services. Written out rather than taken from the L2
   * grants, which add the `kms:GenerateDataKey*` and `kms:ReEncrypt*` wildcards.
   */
  private grantKeyUseViaServices(fn: lambda.IFunction, services: readonly ('dynamodb' | 'sns')[]): void {
    const region = Stack.of(this).region;
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'UseKeydriftKeyViaServices',
        actions: [...KEY_USE_ACTIONS],
        resources: [this.key.keyArn],
        conditions: {
          StringEquals: { 'kms:ViaService': services.map((service) => `${service}.${region}.amazonaws.com`) },
        },
      }),
    );
  }

  /**
   * Lambda's asynchronous retries (2) end in the dead-letter queue, so an event the function keeps failing on is
   * kept rather than dropped. Lambda sends it with the function's role, which gets `sqs:SendMessage` on the queue
   * and nothing else (SqsDestination would add GetQueueAttributes and GetQueueUrl, which Lambda does not call).
   */
  private sendFailedInvocationsToDeadLetterQueue(fn: KeydriftFunction): void {
    const queueArn = this.deadLetterQueue.queueArn;
    fn.configureAsyncInvoke({
      retryAttempts: 2,
      onFailure: {
        bind: (_scope, target) => {
          target.addToRolePolicy(
            new iam.PolicyStatement({
              sid: 'SendFailedInvocations',
              actions: ['sqs:SendMessage'],
              resources: [queueArn],
            }),
          );
          return { destination: queueArn };
        },
      },
    });
  }

  private addRule(ruleId: string, description: string, eventPattern: events.EventPattern): events.Rule {
    const rule = new events.Rule(this, ruleId, { description: `keydrift: ${description}`, eventPattern });
    rule.addTarget(
      new targets.LambdaFunction(this.detector, {
        retryAttempts: 8,
        maxEventAge: Duration.hours(24),
        deadLetterQueue: this.deadLetterQueue,
      }),
    );
    return rule;
  }

  /** A rule that invokes the reconciler, with the same delivery retries and dead-letter queue as the others. */
  private addReconcileRule(ruleId: string, description: string, props: events.RuleProps): events.Rule {
    const rule = new events.Rule(this, ruleId, { description: `keydrift: ${description}`, ...props });
    rule.addTarget(
      new targets.LambdaFunction(this.reconciler, {
        retryAttempts: 8,
        maxEventAge: Duration.hours(24),
        deadLetterQueue: this.deadLetterQueue,
      }),
    );
    return rule;
  }

  /**
   * Alarms to the ops topic on anything that fails or drops a change: dead letters (waiting, and each new one);
   * function errors, throttles and failed deliveries to the dead-letter queue; events the detector rejects or could
   * not read live state or the trails for; messages the pager drops; each rule's failed invocations and failed
   * dead-lettering; reconcile failures; and no completed reconcile run for twice the schedule (the heartbeat).
   */
  private addAlarms(): void {
    const period = Duration.minutes(5);
    // Metrics written only when something fails read as OK when missing; the reconciler's run results, written at the
    // end of every run, keep the alarm's state until the next run says otherwise.
    const alarmOnAny = (
      alarmId: string,
      metric: cloudwatch.IMetric,
      description: string,
      missing = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) => {
      const alarm = new cloudwatch.Alarm(this, alarmId, {
        metric,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: missing,
        alarmDescription: `keydrift: ${description}`,
      });
      this.reportToOps(alarm);
    };
    const keydriftCount = (metricName: string, metricPeriod = period) =>
      keydriftMetric(metricName, cloudwatch.Stats.SUM, metricPeriod);
    const sum = { period, statistic: cloudwatch.Stats.SUM };
    const destinationDeliveryFailures = (fn: KeydriftFunction, name: string) =>
      alarmOnAny(
        `${fn.node.id}DestinationDeliveryFailuresAlarm`,
        fn.metric('DestinationDeliveryFailures', sum),
        `Lambda could not put a failed ${name} invocation in the dead-letter queue: that event is lost`,
      );

    alarmOnAny(
      'DeadLetterQueueAlarm',
      this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: cloudwatch.Stats.MAXIMUM }),
      'events are waiting in the dead-letter queue: changes went unchecked or pages never went out (redrive them after ' +
        'fixing the cause)',
    );
    // The depth alarm stays in ALARM while an old record waits, so it says nothing of the next one; this one goes to
    // ALARM when new messages arrive (again after 5 quiet minutes). EventBridge and Lambda's on-failure destination both use
    // SendMessage, which NumberOfMessagesSent counts.
    const arrivals = new cloudwatch.Alarm(this, 'DeadLetterQueueArrivalsAlarm', {
      metric: this.deadLetterQueue.metricNumberOfMessagesSent(sum),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription:
        'keydrift: new records reached the dead-letter queue: an event from a rule or the detector is a change that ' +
        'went unchecked; a pager record (requestContext.functionArn names it) or an SNS notification (TopicArn names ' +
        'the page or ops topic) is a critical page that never went out. Fix the cause, then redrive them (README, ' +
        'When something fails); a reconciler record is to read and delete. It fires again when new ones arrive ' +
        'after 5 quiet minutes, even while older ones wait',
    });
    this.reportToOps(arrivals);
    alarmOnAny(
      'DetectorErrorsAlarm',
      this.detector.metricErrors(sum),
      'the detector failed on an event (Lambda retries it twice, then sends it to the dead-letter queue)',
    );
    alarmOnAny(
      'DetectorThrottlesAlarm',
      this.detector.metricThrottles(sum),
      'the detector was throttled: account concurrency is exhausted and findings are delayed',
    );
    destinationDeliveryFailures(this.detector, 'detector');
    alarmOnAny(
      'InvalidEventsAlarm',
      keydriftCount('InvalidEvents'),
      'the detector dropped an event it could not read or that names no resource (logged as "Invalid event"); ' +
        'it is not retried, so check the log and the change it describes',
    );
    alarmOnAny(
      'LiveReadFailuresAlarm',
      keydriftCount('LiveReadFailures'),
      "the detector could not read a resource's live state (logged) and judged from the event alone; a key whose " +
        'policy denies keydrift its reads counts as UnreadableKeys instead, and the reconciler alarms on one it could ' +
        'read before',
    );
    alarmOnAny(
      'TrailReadFailuresAlarm',
      keydriftCount('TrailReadFailures'),
      "the detector could not list this account's trails (logged) and judged a key change knowing only the " +
        'trailKeys of its configuration: a key that encrypts a trail may have been rated too low',
    );
    alarmOnAny(
      'ReconcilerErrorsAlarm',
      this.reconciler.metricErrors(sum),
      'a reconcile invocation failed (Lambda retries it twice from its stored place, then the dead-letter queue)',
    );
    destinationDeliveryFailures(this.reconciler, 'reconciler');
    alarmOnAny(
      'ReconcileFailuresAlarm',
      keydriftCount('ReconcileFailures', Duration.hours(1)),
      'the last reconcile run could not read or save some resources; it stays in ALARM until a run completes ' +
        'without failure. A key keydrift could read before that now denies it its reads may mean someone locked ' +
        'keydrift out: find the resources in the reconciler log ("Resource could not be reconciled")',
      cloudwatch.TreatMissingData.IGNORE,
    );
    alarmOnAny(
      'NoTrailLogsKmsAlarm',
      keydriftCount('NoTrailLogsKms', Duration.hours(1)),
      'no trail delivers KMS write events in this Region (none logging, or all leave KMS out): EventBridge sends ' +
        'keydrift no KMS events, and changes show only at reconcile runs. Check with aws cloudtrail describe-trails, ' +
        'get-trail-status --name NAME and get-event-selectors --trail-name NAME; then aws cloudtrail start-logging ' +
        '--name NAME, or redeploy with createTrail. It stays in ALARM until a run finds such a trail',
      cloudwatch.TreatMissingData.IGNORE,
    );
    this.addReconcileHeartbeatAlarm();
    if (this.pager) {
      alarmOnAny('PagerErrorsAlarm', this.pager.metricErrors(sum), 'a critical finding could not be sent to PagerDuty');
      // Like the detector, the pager has no reserved concurrency, so the account's can run out under it. The
      // reconciler has no such alarm: its concurrency of 1 throttles it by design, and the heartbeat watches its runs.
      alarmOnAny(
        'PagerThrottlesAlarm',
        this.pager.metricThrottles(sum),
        'the pager was throttled: account concurrency is exhausted and critical pages wait in Lambda (up to 6 hours, ' +
          'then the dead-letter queue) without an error',
      );
      destinationDeliveryFailures(this.pager, 'pager');
      alarmOnAny(
        'PagerInvalidMessagesAlarm',
        keydriftCount('PagerInvalidMessages'),
        'the pager dropped a page-topic message that is not a keydrift finding (logged); it is not retried',
      );
      alarmOnAny(
        'PagerOrderUncheckedAlarm',
        keydriftCount('PagerOrderUnchecked'),
        'the pager could not check its table for a newer PagerDuty event (logged) and paged anyway: a late trigger ' +
          'may have reopened an incident for drift already undone',
      );
      alarmOnAny(
        'PagerDutyRejectedAlarm',
        keydriftCount('PagerDutyRejected'),
        'PagerDuty refused an event (4xx, logged with its response): a critical finding paged no one',
      );
    }
    const rules: [string, events.Rule, string][] = [
      ...Object.entries(this.rules).map(([name, rule]): [string, events.Rule, string] => [name, rule, 'detector']),
      ...Object.entries(this.reconcileRules).map(([name, rule]): [string, events.Rule, string] => [
        `reconcile${name.charAt(0).toUpperCase()}${name.slice(1)}`,
        rule,
        'reconciler',
      ]),
    ];
    for (const [name, rule, target] of rules) {
      const alarmPrefix = `${name.charAt(0).toUpperCase()}${name.slice(1)}`;
      const ruleMetric = (metricName: string) =>
        new cloudwatch.Metric({
          namespace: 'AWS/Events',
          metricName,
          dimensionsMap: { RuleName: rule.ruleName },
          ...sum,
        });
      alarmOnAny(
        `${alarmPrefix}FailedInvocationsAlarm`,
        ruleMetric('FailedInvocations'),
        `EventBridge could not deliver ${name} events to the ${target} (they go to the dead-letter queue)`,
      );
      alarmOnAny(
        `${alarmPrefix}DeadLetterFailuresAlarm`,
        // AWS/Events spells it `Dlq`; metric names are case-sensitive.
        ruleMetric('InvocationsFailedToBeSentToDlq'),
        `EventBridge could not put undeliverable ${name} events in the dead-letter queue: they are lost`,
      );
    }
  }

  /**
   * Alarms to the ops topic when no reconcile run has completed for twice the schedule's interval (see
   * {@link reconcileHeartbeatWindow}): the schedule rule disabled or deleted, runs that never finish, the reconciler
   * unable to start. The reconciler emits `ReconcileRunTime` once per completed run (reconciler-app.ts), so its
   * sample count is the heartbeat, and no data at all is breaching. Hourly periods: the alarm fires once every hour
   * of the window has passed without a completed run.
   */
  private addReconcileHeartbeatAlarm(): void {
    const window = reconcileHeartbeatWindow(this.config.reconcileSchedule);
    const alarm = new cloudwatch.Alarm(this, 'ReconcileHeartbeatAlarm', {
      metric: keydriftMetric('ReconcileRunTime', cloudwatch.Stats.SAMPLE_COUNT, Duration.hours(1)),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: window.toHours(),
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      alarmDescription:
        `keydrift: no reconcile run has completed in ${window.toHumanString()} (reconcileSchedule ` +
        `${this.config.reconcileSchedule}): check the reconciler's schedule rule, errors and logs. Right after a ` +
        'first deployment it can alarm for a few minutes, until the run the deployment starts has completed.',
    });
    this.reportToOps(alarm);
  }

  /** Sends an alarm's state changes, into alarm and back to OK, to the ops topic. */
  private reportToOps(alarm: cloudwatch.Alarm): void {
    const action = new cloudwatchActions.SnsAction(this.opsTopic);
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    this.alarms.push(alarm);
  }

  private addDashboard(): cloudwatch.Dashboard {
    const period = Duration.minutes(5);
    const emf = (metricName: string, dimensions: Record<string, string>, statistic: string, label?: string) =>
      keydriftMetric(metricName, statistic, period, { dimensions, label });
    const findings = (title: string, eventNames: string[], width = 6) =>
      new cloudwatch.GraphWidget({
        title,
        width,
        left: eventNames.map((event) => emf('Findings', { event }, cloudwatch.Stats.SUM, event)),
      });

    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(7),
    });
    const grouped = new Set<string>(KEY_FINDING_WIDGETS.flatMap((widget) => widget.events));
    dashboard.addWidgets(...KEY_FINDING_WIDGETS.map((widget) => findings(widget.title, [...widget.events])));
    dashboard.addWidgets(
      findings('Trail changes', [...TRAIL_WRITES], 8),
      findings(
        'Other KMS changes',
        [...KMS_API_WRITES, ...KMS_SERVICE_EVENTS, ...KMS_NATIVE_EVENTS].filter((event) => !grouped.has(event)),
        8,
      ),
      findings('Found by the reconciler', Object.keys(RECONCILE_EVENTS), 8),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Findings by severity',
        width: 8,
        stacked: true,
        left: [...SEVERITIES]
          .reverse()
          .map((severity) => emf('FindingsBySeverity', { severity }, cloudwatch.Stats.SUM, severity)),
      }),
      // p99 alone: one more metric would take the dashboard past the free tier's 50 ($3 a month).
      new cloudwatch.GraphWidget({
        title: 'Processing time (ms, p99)',
        width: 8,
        left: [emf('ProcessingTime', {}, cloudwatch.Stats.p(99), 'p99')],
      }),
      new cloudwatch.SingleValueWidget({
        title: 'Open drift (from the last reconcile)',
        width: 8,
        metrics: [emf('OpenDrift', {}, cloudwatch.Stats.MAXIMUM, 'open drift')],
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'keydrift alarms', width: 24, alarms: this.alarms }),
    );
    return dashboard;
  }

  /**
   * The opt-in multi-Region trail: management events (KMS included), log file validation, log files encrypted
   * with a dedicated key, a private SSL-only bucket with access logging. Its key is not keydrift's key, so that
   * disabling one cannot blind both the trail and the alerts.
   */
  private addTrail(): cloudtrail.Trail {
    const stack = Stack.of(this);
    const accessLogsBucket = new s3.Bucket(this, 'TrailAccessLogsBucket', {
      // Server access logging only delivers to SSE-S3 buckets.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: 'expire-access-logs',
          expiration: Duration.days(365),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });

    // Named, so that its ARN can fence the bucket policy without a reference from the bucket to the trail, which
    // itself depends on that policy. A multi-Region trail's ARN names its home Region: the deployment Region.
    const trailName = `keydrift-${Names.uniqueResourceName(this, { maxLength: 100 })}`;
    const trailArn = stack.formatArn({ service: 'cloudtrail', resource: 'trail', resourceName: trailName });
    const trailBucket = new TrailLogBucket(this, 'TrailBucket', trailArn, {
      // Log files are SSE-KMS with the trail key (set on the trail); this default covers digest files.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      serverAccessLogsBucket: accessLogsBucket,
      serverAccessLogsPrefix: 'trail-bucket/',
      removalPolicy: RemovalPolicy.RETAIN,
      // Audit logs are never expired here (retention is a compliance decision); they move to cheaper storage. That
      // holds for noncurrent versions too: CloudTrail never overwrites a log file, so a noncurrent version is a log
      // someone deleted or replaced, which versioning is here to keep.
      lifecycleRules: [
        {
          id: 'archive-logs',
          transitions: [
            { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(90) },
          ],
          noncurrentVersionTransitions: [
            { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(30) },
          ],
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });

    const trailKey = new kms.Key(this, 'TrailKey', {
      description: 'keydrift: encrypts the log files of the keydrift CloudTrail trail',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // A finding about the key that protects the audit logs names it by this alias, not by a bare key id.
    trailKey.addAlias(keyAliasNames(Stack.of(this).stackName).trailKey);
    const cloudTrailPrincipal = new iam.ServicePrincipal('cloudtrail.amazonaws.com');
    trailKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudTrailToEncryptThisAccountsLogs',
        principals: [cloudTrailPrincipal],
        actions: ['kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          StringLike: {
            'kms:EncryptionContext:aws:cloudtrail:arn': stack.formatArn({
              service: 'cloudtrail',
              region: '*',
              resource: 'trail',
              resourceName: '*',
            }),
          },
        },
      }),
    );
    trailKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudTrailToDescribeTheKey',
        principals: [cloudTrailPrincipal],
        actions: ['kms:DescribeKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );

    return new cloudtrail.Trail(this, 'Trail', {
      trailName,
      bucket: trailBucket,
      isMultiRegionTrail: true,
      includeGlobalServiceEvents: true,
      enableFileValidation: true,
      managementEvents: cloudtrail.ReadWriteType.ALL,
      encryptionKey: trailKey,
    });
  }

  /**
   * The detector's and the reconciler's IAM5 (wildcard resource) findings that no narrowing can fix, each with a
   * reason true of the function it covers. The ids are cdk-nag's full finding ids, so a new wildcard still fails the
   * nag test.
   */
  private acknowledgeUnavoidableWildcards(): void {
    // The ids must spell the ARNs as the policies hold them: a pseudo parameter in an environment-agnostic stack
    // (cdk-nag writes it `<AWS::AccountId>`), the account and Region themselves in a stack given an `env` (and the
    // partition, with @aws-cdk/core:enablePartitionLiterals), or the acknowledgements cover nothing.
    const stack = Stack.of(this);
    const asNagSpellsIt = (value: string, pseudoParameter: string) =>
      Token.isUnresolved(value) ? `<AWS::${pseudoParameter}>` : value;
    const account = asNagSpellsIt(stack.account, 'AccountId');
    const partition = asNagSpellsIt(stack.partition, 'Partition');
    const region = asNagSpellsIt(stack.region, 'Region');
    const keys = (reason: string) => ({
      id: `AwsSolutions-IAM5[Resource::arn:${partition}:kms:${region}:${account}:key/*]`,
      reason: `${reason} The actions are read-only (Describe/Get/List) and no key ARN is known at deploy time.`,
    });
    const listings = (reason: string) => ({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: `${reason} name no resource, so IAM only authorizes them on "*". They are read-only listings.`,
    });
    const trails = {
      id: `AwsSolutions-IAM5[Resource::arn:${partition}:cloudtrail:*:${account}:trail/*]`,
      reason:
        "Reads the status and event selectors of this account's trails, whatever their names; a multi-Region " +
        "trail's home Region can be any Region. Read-only.",
    };
    // On the roles, so the acknowledgements cover their default policies and nothing else in the stack.
    Validations.of(this.detector.role as iam.Role).acknowledge(
      keys('The detector reads the key a change event names, which can be any key in this account and Region.'),
      listings(
        "kms:ListAliases (the aliases of the key an event names) and cloudtrail:DescribeTrails (the account's trails)",
      ),
      trails,
    );
    Validations.of(this.reconciler.role as iam.Role).acknowledge(
      keys('The reconciler reads every key in this account and Region, one after another.'),
      listings(
        'kms:ListKeys, kms:ListAliases and cloudtrail:DescribeTrails (every key, alias and trail of the account)',
      ),
      trails,
    );
  }
}
