/**
 * `npm run bench -- reconcile`: the reconciler (lambda/handlers/reconciler-app.ts, default settings) over a simulated
 * account, every AWS call answering after 20 ms and KMS's documented request quotas enforced by the mocks (a call
 * over its operation's quota in any second is throttled). Two runs per size: the first (adoption: every baseline
 * written) and a steady run with 1% of the keys drifted. Prints the run time against the quota-bound minimum, the
 * calls per key, and the cost of one run from the counted calls.
 *
 * Prices (us-east-1, on-demand): KMS $0.03 per 10,000 requests; DynamoDB $0.125 per million read request units and
 * $0.625 per million write request units; Lambda arm64 $0.0000133334 per GB-second and $0.20 per million requests;
 * EventBridge PutEvents $1.00 per million; SNS $0.50 per million publishes. CloudTrail's read APIs are free.
 */

import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  CloudTrailClient,
  DescribeTrailsCommand,
  GetEventSelectorsCommand,
  GetTrailStatusCommand,
} from '@aws-sdk/client-cloudtrail';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { KMS_READ_QUOTAS, kmsRates } from '../lambda/adapters/rate-limiter';
import { parseDetectionConfig } from '../lambda/core/config';
import {
  CONTINUE_DETAIL_TYPE,
  createReconciler,
  type ReconcileResult,
  type RunCounts,
} from '../lambda/handlers/reconciler-app';
import { FakeKms } from '../test/helpers/fake-kms';
import { FakeDynamoDB } from './fake-dynamodb';

const LATENCY_MS = 20;
const REGION = 'us-east-1';
const ACCOUNT = '111122223333';
const MEMORY_GB = 1;
const LAMBDA_TIMEOUT_MS = 15 * 60 * 1000;
const QUOTA_SHARE = 0.8;
const PRICE = {
  kmsRequest: 0.03 / 10_000,
  readUnit: 0.125 / 1e6,
  writeUnit: 0.625 / 1e6,
  gbSecond: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  putEvent: 1 / 1e6,
  snsPublish: 0.5 / 1e6,
};

interface Measured {
  keys: number;
  seconds: number;
  invocations: number;
  kmsCalls: Map<string, number>;
  throttled: number;
  ddbCalls: Map<string, number>;
  readUnits: number;
  writeUnits: number;
  publishes: number;
  putEvents: number;
  counts?: RunCounts;
  findings: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/** Builds an account of `keys` customer managed keys (each with an alias; every tenth with a grant). */
function account(keys: number): FakeKms {
  const kms = new FakeKms({ region: REGION, account: ACCOUNT, latencyMs: LATENCY_MS, quotas: { ...KMS_READ_QUOTAS } });
  for (let i = 0; i < keys; i++) {
    const key = kms.addKey({
      tags: { team: `team-${i % 20}`, env: 'prod' },
      grants:
        i % 10 === 0
          ? [
              {
                KeyId: '',
                GrantId: `grant-${i}`,
                GranteePrincipal: `arn:aws:iam::${ACCOUNT}:role/app-${i}`,
                Operations: ['Decrypt', 'Encrypt'],
                Name: `app-${i}`,
              },
            ]
          : [],
    });
    kms.aliases.set(`alias/app-${i}`, key.id);
  }
  const ebs = kms.addKey({ keyManager: 'AWS', description: 'Default key for EBS' });
  kms.aliases.set('alias/aws/ebs', ebs.id);
  return kms;
}

async function simulate(keys: number): Promise<{ adoption: Measured; steady: Measured }> {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const kmsMock = mockClient(KMSClient);
  const ddbMock = mockClient(DynamoDBClient);
  const snsMock = mockClient(SNSClient);
  const eventsMock = mockClient(EventBridgeClient);
  const trailMock = mockClient(CloudTrailClient);
  const kms = account(keys);
  kms.install(kmsMock);
  const table = new FakeDynamoDB(LATENCY_MS);
  table.install(ddbMock);
  const continuations: unknown[] = [];
  let publishes = 0;
  let putEvents = 0;
  snsMock.on(PublishCommand).callsFake(async () => {
    publishes++;
    await sleep(LATENCY_MS);
    return { MessageId: 'm' };
  });
  eventsMock.on(PutEventsCommand).callsFake(async (input) => {
    putEvents++;
    await sleep(LATENCY_MS);
    for (const entry of input.Entries ?? []) {
      if (entry.DetailType === CONTINUE_DETAIL_TYPE) {
        continuations.push({ source: entry.Source, 'detail-type': entry.DetailType, detail: JSON.parse(entry.Detail) });
      }
    }
    return { FailedEntryCount: 0, Entries: [{ EventId: 'e' }] };
  });
  const trailArn = `arn:aws:cloudtrail:${REGION}:${ACCOUNT}:trail/org-audit`;
  trailMock.on(DescribeTrailsCommand).callsFake(async () => {
    await sleep(LATENCY_MS);
    return { trailList: [{ Name: 'org-audit', TrailARN: trailArn, IsMultiRegionTrail: true }] };
  });
  trailMock.on(GetTrailStatusCommand).callsFake(async () => {
    await sleep(LATENCY_MS);
    return { IsLogging: true };
  });
  trailMock.on(GetEventSelectorsCommand).callsFake(async () => {
    await sleep(LATENCY_MS);
    return { EventSelectors: [{ ReadWriteType: 'All', IncludeManagementEvents: true }] };
  });

  const reconcile = createReconciler({
    kms: new KMSClient({ region: REGION }),
    dynamodb: new DynamoDBClient({ region: REGION }),
    sns: new SNSClient({ region: REGION }),
    eventBridge: new EventBridgeClient({ region: REGION }),
    cloudtrail: new CloudTrailClient({ region: REGION }),
    settings: {
      tableName: 'keydrift',
      topics: { chat: 'chat', email: 'email', page: 'page', ops: 'ops' },
      eventBusName: 'default',
      selfKeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/keydrift`,
      opsKeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/keydrift-ops`,
      config: parseDetectionConfig({}),
      alertMinSeverity: 'error',
      region: REGION,
      kmsQuotaShare: QUOTA_SHARE,
    },
    logger: new Logger({ serviceName: 'keydrift-bench', logLevel: 'SILENT' }),
    metrics: new Metrics({ namespace: 'KeydriftBench', serviceName: 'keydrift-bench' }),
  });

  async function run(): Promise<Measured> {
    const kmsBefore = new Map(kms.calls);
    const throttledBefore = sum(kms.overQuota) + kms.throttled;
    table.reset();
    publishes = 0;
    putEvents = 0;
    const started = performance.now();
    let invocations = 0;
    let findings = 0;
    let event: unknown = { source: 'aws.events', 'detail-type': 'Scheduled Event' };
    let result: ReconcileResult;
    do {
      const invoked = performance.now();
      const context = { getRemainingTimeInMillis: () => LAMBDA_TIMEOUT_MS - (performance.now() - invoked) };
      result = await reconcile(event, context);
      invocations++;
      findings += result.findings.length;
      event = continuations.shift();
    } while (result.status === 'continued');
    const kmsCalls = new Map([...kms.calls].map(([op, n]) => [op, n - (kmsBefore.get(op) ?? 0)]));
    return {
      keys,
      seconds: (performance.now() - started) / 1000,
      invocations,
      kmsCalls,
      throttled: sum(kms.overQuota) + kms.throttled - throttledBefore,
      ddbCalls: new Map(table.calls),
      readUnits: table.readUnits,
      writeUnits: table.writeUnits,
      publishes,
      putEvents,
      counts: result.counts,
      findings,
    };
  }

  const adoption = await run();
  // 1% of the keys drift behind keydrift's back: half disabled, half re-tagged.
  const customer = [...kms.keys.values()].filter((k) => k.keyManager === 'CUSTOMER');
  const drifted = Math.max(1, Math.round(keys / 100));
  customer.slice(0, drifted).forEach((key, i) => {
    if (i % 2 === 0) key.keyState = 'Disabled';
    else key.tags.owner = 'someone-else';
  });
  const steady = await run();
  for (const mock of [kmsMock, ddbMock, snsMock, eventsMock, trailMock]) mock.restore();
  return { adoption, steady };
}

function cost(m: Measured) {
  const kms = sum(m.kmsCalls) * PRICE.kmsRequest;
  const dynamodb = m.readUnits * PRICE.readUnit + m.writeUnits * PRICE.writeUnit;
  const lambda = m.seconds * MEMORY_GB * PRICE.gbSecond + m.invocations * PRICE.lambdaRequest;
  const other = m.putEvents * PRICE.putEvent + m.publishes * PRICE.snsPublish;
  return { kms, dynamodb, lambda, other, total: kms + dynamodb + lambda + other };
}

/** The shortest run KMS's quotas allow: the operation that needs the most seconds at its quota. */
function quotaMinimum(m: Measured, rates: Record<string, number>): { seconds: number; operation: string } {
  let best = { seconds: 0, operation: '' };
  for (const [operation, calls] of m.kmsCalls) {
    const rate = rates[operation];
    if (rate && calls / rate > best.seconds) best = { seconds: calls / rate, operation };
  }
  return best;
}

const usd = (n: number) => (n < 0.01 ? `$${n.toFixed(5)}` : `$${n.toFixed(4)}`);
const fmt = (n: number, digits = 2) => n.toFixed(digits);

function report(label: string, m: Measured): void {
  const kmsTotal = sum(m.kmsCalls);
  const quota = quotaMinimum(m, KMS_READ_QUOTAS);
  const paced = quotaMinimum(m, kmsRates(QUOTA_SHARE));
  const c = cost(m);
  const perOp = [...m.kmsCalls]
    .filter(([, n]) => n > 0)
    .map(([op, n]) => `${op} ${fmt(n / m.keys)}`)
    .join(', ');
  const ddb = [...m.ddbCalls].map(([op, n]) => `${op} ${n}`).join(', ');
  console.log(
    `| ${label}: run time (${m.invocations} invocation${m.invocations > 1 ? 's' : ''}) | ${fmt(m.seconds, 1)} s |`,
  );
  console.log(
    `| ${label}: quota-bound minimum (${quota.operation} at ${KMS_READ_QUOTAS[quota.operation as keyof typeof KMS_READ_QUOTAS]}/s) | ${fmt(quota.seconds, 1)} s → run is ${fmt(m.seconds / quota.seconds)}× |`,
  );
  console.log(
    `| ${label}: paced minimum (${Math.round(QUOTA_SHARE * 100)}% of quotas, ${paced.operation} at ${kmsRates(QUOTA_SHARE)[paced.operation as keyof typeof KMS_READ_QUOTAS]}/s) | ${fmt(paced.seconds, 1)} s → run is ${fmt(m.seconds / paced.seconds)}× |`,
  );
  console.log(`| ${label}: KMS calls per key | ${fmt(kmsTotal / m.keys)} (${perOp}) |`);
  console.log(`| ${label}: KMS calls throttled by the quota mocks | ${m.throttled} |`);
  console.log(
    `| ${label}: DynamoDB | ${ddb}; ${fmt(m.readUnits, 0)} RRU, ${fmt(m.writeUnits, 0)} WRU (${fmt(m.readUnits / m.keys)} / ${fmt(m.writeUnits / m.keys)} per key) |`,
  );
  console.log(`| ${label}: findings, SNS publishes, PutEvents | ${m.findings}, ${m.publishes}, ${m.putEvents} |`);
  console.log(
    `| ${label}: cost of the run | ${usd(c.total)} (KMS ${usd(c.kms)}, DynamoDB ${usd(c.dynamodb)}, Lambda ${usd(c.lambda)}, SNS+EventBridge ${usd(c.other)}) |`,
  );
}

export async function reconcileBench(): Promise<void> {
  const sizes = (process.env.BENCH_RECONCILE_KEYS ?? '100,10000').split(',').map(Number);
  const results: Array<{ keys: number; adoption: Measured; steady: Measured }> = [];
  for (const keys of sizes) {
    console.log(`simulating a reconcile of ${keys} keys (two runs)…`);
    results.push({ keys, ...(await simulate(keys)) });
  }
  console.log(
    `\n## Reconcile (every AWS call answers after ${LATENCY_MS} ms; KMS quotas enforced: ListGrants 100/s, ` +
      'GetKeyPolicy and GetKeyRotationStatus 1,000/s, DescribeKey and ListResourceTags 2,000/s, ListKeys and ' +
      'ListAliases 500/s)\n',
  );
  console.log('| measure | figure |');
  console.log('| --- | --- |');
  for (const { keys, adoption, steady } of results) {
    report(`${keys.toLocaleString('en')} keys, adoption run`, adoption);
    report(`${keys.toLocaleString('en')} keys, steady run (1% drift)`, steady);
  }
  const monthly = (run: Measured) => cost(run).total * 4 * 30;
  for (const { keys, steady } of results) {
    console.log(
      `| ${keys.toLocaleString('en')} keys: steady runs every 6 hours, per month | ${usd(monthly(steady))} |`,
    );
  }
}
