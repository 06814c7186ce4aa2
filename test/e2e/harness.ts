/**
 * The AWS side of the end-to-end tests, built in moto the way the stack builds it in an account: keydrift's table
 * (`pk`/`sk`, TTL `expiresAt`, GSI `byTime`), the four alert topics each subscribed by an SQS queue (raw message
 * delivery off, so the queue holds the SNS envelope with `Subject` and `Message`), an event bus whose rule copies
 * keydrift's findings to a queue, a trail writing to an S3 bucket, and keydrift's own KMS key. The live detector
 * (lambda/handlers/detector-app.ts) is wired to it exactly as its composition root wires it to AWS.
 */

import { spawnSync } from 'node:child_process';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  CloudTrailClient,
  CreateTrailCommand,
  PutEventSelectorsCommand,
  StartLoggingCommand,
} from '@aws-sdk/client-cloudtrail';
import {
  type AttributeValue,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateEventBusCommand,
  EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { ChatbotNotification } from '../../lambda/alerts/chatbot';
import { parseDetectionConfig } from '../../lambda/core/config';
import type { Finding, ResourceSnapshot } from '../../lambda/core/types';
import { createDetector, type DetectorHandler } from '../../lambda/handlers/detector-app';
import { type KeyRef, keyRef, toEventBridge } from '../helpers/cloudtrail-events';
import type { CloudTrailRecord } from '../helpers/fixtures';
import { type Moto, startMoto } from '../helpers/moto';
import { createQueue, drainQueue } from '../helpers/sqs';
import { createTableInput } from '../helpers/table-schema';

export const REGION = 'eu-west-1';
export const TABLE = 'keydrift-e2e';
export const EVENT_BUS = 'keydrift-e2e';
export const TRAIL_BUCKET = 'keydrift-e2e-trail-logs';
export const TRAIL = 'org-audit';
/** The one planned-change principal: sessions of this role move baselines. */
export const PLANNED_ROLE = 'KeydriftPlannedChanges';

export type Topic = 'chat' | 'email' | 'page' | 'ops';
const TOPICS: readonly Topic[] = ['chat', 'email', 'page', 'ops'];

/** One message as an SQS subscriber of an SNS topic receives it (raw message delivery off). */
export interface SnsEnvelope {
  Type: string;
  MessageId: string;
  TopicArn: string;
  Subject?: string;
  Message: string;
  MessageAttributes?: Record<string, { Type: string; Value: string }>;
}

/** What reached each destination for one event. */
export interface Delivered {
  email: SnsEnvelope[];
  chat: SnsEnvelope[];
  page: SnsEnvelope[];
  ops: SnsEnvelope[];
  /** Events the keydrift rule on the event bus forwarded (source `keydrift`). */
  eventBridge: Array<{ source: string; 'detail-type': string; resources: string[]; detail: Finding }>;
}

export interface World {
  moto: Moto;
  kms: KMSClient;
  dynamodb: DynamoDBClient;
  cloudtrail: CloudTrailClient;
  selfKey: KeyRef;
  trailArn: string;
  topics: Record<Topic, string>;
  detect: DetectorHandler;
  /** Another detector over the same account, as a second execution environment of the Lambda function runs it. */
  newDetector(): DetectorHandler;
  logger: Logger;
  /** Sends a record through the detector wrapped in its EventBridge envelope. */
  deliver(record: CloudTrailRecord): ReturnType<DetectorHandler>;
  /** Everything delivered so far that carries this eventId (the queues are drained into a pool first). */
  deliveredFor(eventId: string): Promise<Delivered>;
  /** The finding kept in the table for this event, found through the `byTime` index. */
  storedFinding(finding: Pick<Finding, 'timestamp' | 'eventId'>): Promise<Record<string, unknown> | undefined>;
  /** One item of keydrift's table, its attributes as plain values. */
  item(pk: string, sk: string): Promise<Record<string, unknown> | undefined>;
  /** The stored state or baseline of a resource. */
  snapshot(arn: string, which: 'STATE' | 'BASELINE'): Promise<ResourceSnapshot | undefined>;
  /** Runs a command line (a remediation step) in bash against this moto only. */
  run(command: string): { status: number | null; stdout: string; stderr: string };
  stop(): Promise<void>;
}

const client = <T>(make: (config: Moto['clientConfig'] & { maxAttempts: number }) => T, moto: Moto): T =>
  make({ ...moto.clientConfig, maxAttempts: 2 });

/** Builds the account in a fresh moto and wires the detector to it. */
/**
 * Sets up a world for the test file and takes it down after; each test fails if the detector logged a warning (moto's
 * answers disagreeing with the event: read-after-write lag never settling, a read that failed) or an error (an event
 * it could not process): none of that should happen here. Returns the world once `beforeAll` has run.
 */
export function worldForEachFile(): () => World {
  let world: World | undefined;
  let warnings: jest.SpyInstance;
  let errors: jest.SpyInstance;
  beforeAll(async () => {
    world = await setUpWorld();
    warnings = jest.spyOn(world.logger, 'warn');
    errors = jest.spyOn(world.logger, 'error');
  }, 60_000);
  afterEach(() => {
    const logged = [...warnings.mock.calls, ...errors.mock.calls].map((call) => JSON.stringify(call));
    warnings.mockClear();
    errors.mockClear();
    expect(logged).toEqual([]);
  });
  afterAll(async () => {
    await world?.stop();
  });
  return () => {
    if (!world) throw new Error('the world is set up in beforeAll');
    return world;
  };
}

export async function setUpWorld(): Promise<World> {
  // Powertools would print one EMF document per invocation; the tests read logs, not metrics.
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  const moto = await startMoto(REGION, { acceptArns: true });
  const kms = client((c) => new KMSClient(c), moto);
  const dynamodb = client((c) => new DynamoDBClient(c), moto);
  const sns = client((c) => new SNSClient(c), moto);
  const sqs = client((c) => new SQSClient(c), moto);
  const eventBridge = client((c) => new EventBridgeClient(c), moto);
  const cloudtrail = client((c) => new CloudTrailClient(c), moto);

  await dynamodb.send(new CreateTableCommand(createTableInput(TABLE)));
  await dynamodb.send(
    new UpdateTimeToLiveCommand({
      TableName: TABLE,
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    }),
  );

  const topics = {} as Record<Topic, string>;
  const queues = {} as Record<Topic | 'eventBridge', string>;
  for (const topic of TOPICS) {
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: `keydrift-e2e-${topic}` }));
    const queue = await createQueue(sqs, `keydrift-e2e-${topic}`);
    await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: queue.arn }));
    topics[topic] = TopicArn as string;
    queues[topic] = queue.url;
  }

  await eventBridge.send(new CreateEventBusCommand({ Name: EVENT_BUS }));
  const findingsQueue = await createQueue(sqs, 'keydrift-e2e-findings');
  queues.eventBridge = findingsQueue.url;
  await eventBridge.send(
    new PutRuleCommand({
      Name: 'keydrift-findings',
      EventBusName: EVENT_BUS,
      EventPattern: JSON.stringify({ source: ['keydrift'] }),
    }),
  );
  await eventBridge.send(
    new PutTargetsCommand({
      Rule: 'keydrift-findings',
      EventBusName: EVENT_BUS,
      Targets: [{ Id: 'queue', Arn: findingsQueue.arn }],
    }),
  );

  // moto keeps S3 buckets per account; CreateTrail checks that its bucket exists.
  moto.aws([
    's3api',
    'create-bucket',
    '--bucket',
    TRAIL_BUCKET,
    '--create-bucket-configuration',
    `LocationConstraint=${REGION}`,
  ]);
  const trail = await cloudtrail.send(
    new CreateTrailCommand({ Name: TRAIL, S3BucketName: TRAIL_BUCKET, IsMultiRegionTrail: true }),
  );
  // What AWS gives a new trail (moto starts with none): all management events.
  await cloudtrail.send(
    new PutEventSelectorsCommand({
      TrailName: TRAIL,
      EventSelectors: [{ ReadWriteType: 'All', IncludeManagementEvents: true }],
    }),
  );
  await cloudtrail.send(new StartLoggingCommand({ Name: TRAIL }));

  const self = await kms.send(
    new CreateKeyCommand({ Description: 'keydrift: table, queue and topics', KeyUsage: 'ENCRYPT_DECRYPT' }),
  );
  const selfKey = keyRef(self.KeyMetadata?.Arn as string);

  const logger = new Logger({ serviceName: 'keydrift-e2e', logLevel: 'SILENT' });
  const metrics = new Metrics({ namespace: 'KeydriftE2E', serviceName: 'keydrift-e2e' });
  // Each call is one Lambda execution environment: its own claim owner, the same clients, table and topics.
  const newDetector = (): DetectorHandler =>
    createDetector({
      kms,
      dynamodb,
      sns,
      eventBridge,
      cloudtrail,
      settings: {
        tableName: TABLE,
        topics,
        eventBusName: EVENT_BUS,
        selfKeyArn: selfKey.arn,
        opsKeyArn: `${selfKey.arn}-ops`,
        // Not created: no scenario here disables both of keydrift's keys, the only case the detector publishes there.
        lastResortTopicArn: topics.ops.replace(/[^:]+$/, 'keydrift-last-resort'),
        config: parseDetectionConfig({ plannedPrincipals: [`arn:aws:iam::123456789012:role/${PLANNED_ROLE}`] }),
        alertMinSeverity: 'error',
        lagRetries: 2,
        lagDelayMs: 20,
      },
      logger,
      metrics,
    });
  const detect = newDetector();

  const pool: Array<{ from: Topic | 'eventBridge'; body: string }> = [];

  async function drain(): Promise<void> {
    await Promise.all(
      Object.entries(queues).map(async ([from, url]) => {
        for (const m of await drainQueue(sqs, url))
          pool.push({ from: from as Topic | 'eventBridge', body: m.Body ?? '' });
      }),
    );
  }

  async function deliveredFor(eventId: string): Promise<Delivered> {
    await drain();
    const delivered: Delivered = { email: [], chat: [], page: [], ops: [], eventBridge: [] };
    for (const { from, body } of pool) {
      if (!body.includes(eventId)) continue;
      if (from === 'eventBridge') delivered.eventBridge.push(JSON.parse(body));
      else delivered[from].push(JSON.parse(body) as SnsEnvelope);
    }
    // Another event's message may quote this eventId only by accident of a substring: keep exact matches.
    delivered.eventBridge = delivered.eventBridge.filter((e) => e.detail.eventId === eventId);
    delivered.page = delivered.page.filter((e) => (JSON.parse(e.Message) as Finding).eventId === eventId);
    delivered.chat = delivered.chat.filter((e) => chatbot(e).metadata.additionalContext.eventId === eventId);
    return delivered;
  }

  async function storedFinding(finding: Pick<Finding, 'timestamp' | 'eventId'>) {
    const { Items = [] } = await dynamodb.send(
      new QueryCommand({
        TableName: TABLE,
        IndexName: 'byTime',
        KeyConditionExpression: 'gsi1pk = :day AND gsi1sk = :at',
        ExpressionAttributeValues: {
          ':day': { S: `FINDINGS#${finding.timestamp.slice(0, 10)}` },
          ':at': { S: `${finding.timestamp}#${finding.eventId}` },
        },
      }),
    );
    return Items[0] ? plain(Items[0]) : undefined;
  }

  async function item(pk: string, sk: string) {
    const { Item } = await dynamodb.send(
      new GetItemCommand({ TableName: TABLE, Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: true }),
    );
    return Item ? plain(Item) : undefined;
  }

  async function snapshot(arn: string, which: 'STATE' | 'BASELINE') {
    const stored = await item(`RESOURCE#${arn}`, which);
    return typeof stored?.snapshot === 'string' ? (JSON.parse(stored.snapshot) as ResourceSnapshot) : undefined;
  }

  // A command's AWS traffic stays on loopback: the endpoint is moto, and anything that ignored it would meet a proxy
  // on a closed loopback port. The CLI fetches an http(s):// parameter value without any proxy, so `run` refuses a
  // command holding one.
  const runEnv: NodeJS.ProcessEnv = {
    ...moto.env,
    HTTP_PROXY: 'http://127.0.0.1:9',
    HTTPS_PROXY: 'http://127.0.0.1:9',
    NO_PROXY: '127.0.0.1',
  };

  return {
    moto,
    kms,
    dynamodb,
    cloudtrail,
    selfKey,
    trailArn: trail.TrailARN as string,
    topics,
    detect,
    newDetector,
    logger,
    deliver: (record) => detect(toEventBridge(record)),
    deliveredFor,
    storedFinding,
    item,
    snapshot,
    run(command) {
      if (/(^|\s)'?https?:\/\//i.test(command))
        throw new Error(`refusing a command that would fetch a URL: ${command}`);
      const result = spawnSync('bash', ['-c', command], { env: runEnv, encoding: 'utf8', timeout: 20_000 });
      return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    },
    async stop() {
      for (const c of [kms, dynamodb, sns, sqs, eventBridge, cloudtrail]) c.destroy();
      await moto.stop();
    },
  };
}

/** A DynamoDB item with each scalar attribute as its plain value (numbers stay strings, as DynamoDB sends them). */
function plain(item: Record<string, AttributeValue>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(item).map(([k, v]) => [k, v.S ?? v.N ?? v.BOOL ?? v]));
}

/** The Chatbot custom notification an SNS envelope of the chat topic carries. */
export function chatbot(envelope: SnsEnvelope): ChatbotNotification {
  return JSON.parse(envelope.Message) as ChatbotNotification;
}
