/**
 * An account in moto for the operator commands: a CloudFormation stack `Keydrift` whose template holds keydrift's
 * table (`pk`/`sk`, TTL `expiresAt`, GSI `byTime`) and page topic with their `TableName` and `PageTopicArn` outputs
 * (an SQS queue subscribed to the topic shows what reaches it), keys and aliases made with the SDK, and baselines,
 * states and findings written through the real state store, as the detector writes them.
 */

import { CloudFormationClient, CreateStackCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudTrailClient, CreateTrailCommand } from '@aws-sdk/client-cloudtrail';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { CreateAliasCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createKmsReader, type KmsReader } from '../../lambda/adapters/kms-reader';
import { createStateStore, type StateStore } from '../../lambda/adapters/state-store';
import { toIsoSeconds } from '../../lambda/core/time';
import type { Finding, ResourceSnapshot, Severity, Status } from '../../lambda/core/types';
import { type Moto, startMoto } from './moto';
import { createQueue, drainQueue } from './sqs';
import { createTableInput, TABLE_KEYS } from './table-schema';

export const REGION = 'eu-west-1';
export const STACK = 'Keydrift';
/** moto's account and the identity STS GetCallerIdentity returns for its fake credentials. */
export const ACCOUNT = '123456789012';
export const MOTO_IDENTITY = `arn:aws:sts::${ACCOUNT}:user/moto`;

/** The stack's table and page topic as lib/keydrift.ts defines them, with the outputs the operator commands look up. */
export const STACK_TEMPLATE = {
  Resources: {
    Table: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        ...TABLE_KEYS,
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      },
    },
    PageTopic: { Type: 'AWS::SNS::Topic' },
  },
  Outputs: {
    TableName: { Value: { Ref: 'Table' }, Description: 'keydrift baselines, findings and dedupe' },
    PageTopicArn: { Value: { Ref: 'PageTopic' }, Description: 'Critical alerts for paging' },
  },
};

export interface OperatorWorld {
  moto: Moto;
  kms: KMSClient;
  dynamodb: DynamoDBClient;
  cloudtrail: CloudTrailClient;
  tableName: string;
  store: StateStore;
  reader: KmsReader;
  /** Creates a customer-managed key (and an alias for it); returns its ARN. */
  createKey(description: string, alias?: string): Promise<string>;
  /** Creates a trail (and its S3 bucket); returns its ARN. */
  createTrail(name: string): Promise<string>;
  /** Creates an empty table of keydrift's layout (as another deployment's, or one no reconcile has filled). */
  createTable(name: string): Promise<void>;
  /** Creates a CloudFormation stack from a template. */
  createStack(name: string, template: object): Promise<void>;
  /** Saves a finding (and optionally states and baselines) through the state store, as the detector does. */
  save(input: {
    finding: Finding;
    states?: Array<{ snapshot: ResourceSnapshot; expectedVersion: number | null }>;
    baselines?: Array<{ snapshot: ResourceSnapshot; expectedVersion: number | null }>;
  }): Promise<void>;
  /** The findings published to the page topic since the last call, oldest first. */
  pageMessages(): Promise<Finding[]>;
  /** One item of keydrift's table, as DynamoDB returns it. */
  item(pk: string, sk: string): Promise<Record<string, { S?: string; N?: string }> | undefined>;
  stop(): Promise<void>;
}

/** A finding as the detector stores one; `hoursAgo` sets its timestamp relative to now. */
export function finding(fields: {
  resource: string;
  event: string;
  severity: Severity;
  hoursAgo: number;
  status?: Status;
  changes?: Finding['changes'];
  summary?: string;
}): Finding {
  const timestamp = toIsoSeconds(Date.now() - fields.hoursAgo * 3_600_000);
  return {
    service: 'kms',
    event: fields.event,
    eventId: `${fields.event}-${fields.hoursAgo}-${fields.resource.slice(-12)}`,
    timestamp,
    account: ACCOUNT,
    region: REGION,
    resource: fields.resource,
    user: `arn:aws:sts::${ACCOUNT}:assumed-role/AdminRole/carol@example.com`,
    severity: fields.severity,
    status: fields.status ?? 'drift',
    changes: fields.changes ?? {},
    summary: fields.summary ?? `${fields.event} on ${fields.resource.slice(-12)} by carol@example.com`,
    remediation: [],
  };
}

export async function setUpOperatorWorld(): Promise<OperatorWorld> {
  const moto = await startMoto(REGION);
  const config = { ...moto.clientConfig, maxAttempts: 2 };
  const kms = new KMSClient(config);
  const dynamodb = new DynamoDBClient(config);
  const cloudtrail = new CloudTrailClient(config);
  const cloudformation = new CloudFormationClient(config);

  await cloudformation.send(new CreateStackCommand({ StackName: STACK, TemplateBody: JSON.stringify(STACK_TEMPLATE) }));
  const { Stacks } = await cloudformation.send(new DescribeStacksCommand({ StackName: STACK }));
  const output = (key: string) => Stacks?.[0]?.Outputs?.find((o) => o.OutputKey === key)?.OutputValue;
  const tableName = output('TableName');
  const pageTopicArn = output('PageTopicArn');
  if (!tableName || !pageTopicArn) throw new Error(`moto created stack ${STACK} without its outputs`);
  const sns = new SNSClient(config);
  const sqs = new SQSClient(config);
  const pageQueue = await createQueue(sqs, 'page-topic-messages');
  await sns.send(new SubscribeCommand({ TopicArn: pageTopicArn, Protocol: 'sqs', Endpoint: pageQueue.arn }));
  // moto's CloudFormation leaves the table's TTL off.
  await dynamodb.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    }),
  );
  const store = createStateStore({ client: dynamodb, tableName });

  return {
    moto,
    kms,
    dynamodb,
    cloudtrail,
    tableName,
    store,
    reader: createKmsReader({ client: kms }),
    async createKey(description, alias) {
      const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: description }));
      const arn = KeyMetadata?.Arn as string;
      if (alias) await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: KeyMetadata?.KeyId }));
      return arn;
    },
    async createTrail(name) {
      const bucket = `${name}-logs`;
      moto.aws([
        's3api',
        'create-bucket',
        '--bucket',
        bucket,
        '--create-bucket-configuration',
        `LocationConstraint=${REGION}`,
      ]);
      const { TrailARN } = await cloudtrail.send(new CreateTrailCommand({ Name: name, S3BucketName: bucket }));
      return TrailARN as string;
    },
    async createTable(name) {
      await dynamodb.send(new CreateTableCommand(createTableInput(name)));
    },
    async createStack(name, template) {
      await cloudformation.send(new CreateStackCommand({ StackName: name, TemplateBody: JSON.stringify(template) }));
    },
    async save({ finding: f, states = [], baselines = [] }) {
      if ((await store.claim(f.eventId)) !== 'new') throw new Error(`event ${f.eventId} was already saved`);
      await store.save({ eventId: f.eventId, finding: f, states, baselines });
    },
    async pageMessages() {
      // The SNS envelope (no raw delivery) carries the finding as its Message.
      const messages = await drainQueue(sqs, pageQueue.url);
      return messages.map((m) => JSON.parse(JSON.parse(m.Body ?? '{}').Message) as Finding);
    },
    async item(pk, sk) {
      const { Item } = await dynamodb.send(
        new GetItemCommand({ TableName: tableName, Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: true }),
      );
      return Item as Record<string, { S?: string; N?: string }> | undefined;
    },
    async stop() {
      kms.destroy();
      dynamodb.destroy();
      cloudtrail.destroy();
      cloudformation.destroy();
      sns.destroy();
      sqs.destroy();
      await moto.stop();
    },
  };
}
