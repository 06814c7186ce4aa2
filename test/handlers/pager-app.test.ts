import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { SNSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { RetryablePagerDutyError, SecretError } from '../../lambda/adapters/errors';
import { createPageLedger } from '../../lambda/adapters/page-ledger';
import { opsCommand, pageCommand } from '../../lambda/adapters/publisher';
import { formatPagerDutyEvents, pagerDutyDedupKey } from '../../lambda/alerts/pagerduty';
import { audiencesFor } from '../../lambda/alerts/routing';
import { parseDetectionConfig } from '../../lambda/core/config';
import { MemoryStore } from '../../lambda/core/memory-store';
import { unbaselinedResource } from '../../lambda/core/reconcile';
import { snapshotFromState } from '../../lambda/core/state';
import type { Finding } from '../../lambda/core/types';
import { ATTEMPT_RESERVE_MS, createPager, type PagerDeps } from '../../lambda/handlers/pager-app';
import { startTable, type TestTable } from '../adapters/dynalite-table';
import { hugeFinding } from '../alerts/fixtures';
import {
  ALICE,
  aliceIdentity,
  at,
  by,
  createKey,
  createTrail,
  decryptFor,
  detect,
  EXTERNAL_ACCOUNT,
  KEY_ARN,
  onKey,
  onTrail,
  policyWith,
  putKeyPolicy,
  rec,
  sessionIdentity,
  TRAIL_ARN,
  TRAIL_NAME,
} from '../core/harness';
import { type CapturedOutput, captureOutput } from './harness';

const secretsMock = mockClient(SecretsManagerClient);
const ROUTING_KEY = 'R0UT1NGKEY0123456789abcdefABCDEF';
const ENDPOINT = 'https://pagerduty.test/v2/enqueue';
const KEY = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

const finding: Finding = {
  service: 'kms',
  event: 'PutKeyPolicy',
  eventId: 'c217db1f-903f-4a2f-8f88-9580182d6313',
  timestamp: '2022-09-01T20:06:16Z',
  account: '111122223333',
  region: 'us-west-2',
  resource: KEY,
  user: 'arn:aws:iam::111122223333:user/Alice',
  severity: 'critical',
  status: 'drift',
  changes: {
    policy: { before: null, after: { Statement: [] }, external_accounts: ['444455556666'] },
    key_state: { before: 'Enabled', after: 'Disabled' },
  },
  summary: 'Key policy of 1234abcd-12ab-34cd-56ef-1234567890ab opened to account 444455556666 by Alice',
  remediation: [],
};

/** What SNS hands a Lambda subscriber. */
function snsEvent(...messages: string[]): SNSEvent {
  return {
    Records: messages.map((Message, i) => ({
      EventVersion: '1.0',
      EventSubscriptionArn: 'arn:aws:sns:us-west-2:111122223333:keydrift-page:sub',
      EventSource: 'aws:sns',
      Sns: {
        SignatureVersion: '1',
        Timestamp: '2022-09-01T20:06:20.000Z',
        Signature: 'x',
        SigningCertUrl: 'https://sns.us-west-2.amazonaws.com/cert.pem',
        MessageId: `message-${i}`,
        Message,
        MessageAttributes: {},
        Type: 'Notification',
        UnsubscribeUrl: 'https://sns.us-west-2.amazonaws.com/unsubscribe',
        TopicArn: 'arn:aws:sns:us-west-2:111122223333:keydrift-page',
      },
    })),
  };
}

/** A fetch that answers with the given statuses in turn and records each request body. */
function fakeFetch(...statuses: number[]) {
  const bodies: unknown[] = [];
  const urls: string[] = [];
  const fetch = jest.fn(async (url: string | URL | Request, init?: RequestInit) => {
    urls.push(String(url));
    bodies.push(JSON.parse(String(init?.body)));
    const status = statuses.length > 1 ? (statuses.shift() as number) : statuses[0];
    return new Response(JSON.stringify({ status: status === 202 ? 'success' : 'error', message: 'm' }), { status });
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, bodies, urls, calls: fetch };
}

let output: CapturedOutput;
let table: TestTable;

beforeEach(async () => {
  secretsMock.reset();
  secretsMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ routing_key: ROUTING_KEY }) });
  table = await startTable();
  output = captureOutput();
});

afterEach(async () => {
  output.restore();
  await table.stop();
});

function makePager(
  fetch: typeof globalThis.fetch,
  tableName = table.tableName,
  sleep?: (ms: number) => Promise<unknown>,
  backoff: Pick<PagerDeps, 'sleep' | 'random'> = {},
) {
  return createPager({
    secrets: new SecretsManagerClient({ region: 'us-west-2' }),
    secretName: 'keydrift/pagerduty',
    ledger: createPageLedger({ client: table.client, tableName, sleep }),
    logger: new Logger({ serviceName: 'keydrift' }),
    metrics: new Metrics({ serviceName: 'keydrift', namespace: 'KeydriftTest' }),
    fetch,
    endpoint: ENDPOINT,
    ...backoff,
  });
}

/**
 * An invocation's clock: the Lambda context's time left, which the pager's waits (recorded in `waits`) use up at
 * once, so no test waits for real.
 */
function invocationClock(timeoutMs: number, random = () => 0.5) {
  let elapsed = 0;
  const waits: number[] = [];
  const sleep = async (ms: number) => {
    waits.push(ms);
    elapsed += ms;
  };
  return { context: { getRemainingTimeInMillis: () => timeoutMs - elapsed }, backoff: { sleep, random }, waits };
}

/** The pager on `clock` (its waits and time left), handed SNS `messages` as one invocation. */
function pageOnClock(fetch: typeof globalThis.fetch, clock: ReturnType<typeof invocationClock>, ...messages: string[]) {
  return makePager(fetch, table.tableName, undefined, clock.backoff)(snsEvent(...messages), clock.context);
}

/** A fetch that answers each attribute's events with its own statuses in turn (202 once they run out). */
function fetchPerAttribute(statuses: Record<string, number[]>) {
  const sent: string[] = [];
  const fetch = (async (_url: string, init: RequestInit) => {
    const body = JSON.parse(String(init.body));
    const attribute = body.dedup_key.split(':').pop();
    const status = statuses[attribute]?.shift() ?? 202;
    sent.push(`${attribute} ${status}`);
    return new Response(JSON.stringify({ status: status === 202 ? 'success' : 'error' }), { status });
  }) as unknown as typeof globalThis.fetch;
  return { fetch, sent };
}

describe('createPager', () => {
  it('posts one Events v2 body per changed attribute, built by formatPagerDutyEvents, with the routing key', async () => {
    const { fetch, bodies, urls } = fakeFetch(202);

    await makePager(fetch)(snsEvent(JSON.stringify(finding)));

    expect(urls).toEqual([ENDPOINT, ENDPOINT]);
    expect(bodies).toEqual(formatPagerDutyEvents(finding, ROUTING_KEY));
    expect(bodies).toEqual([
      expect.objectContaining({ routing_key: ROUTING_KEY, event_action: 'trigger', client: 'keydrift' }),
      expect.objectContaining({ routing_key: ROUTING_KEY, event_action: 'trigger' }),
    ]);
    expect(output.metric('PagerDutyEvents')).toBe(2);
  });

  it('closes the incident a planned change brings back, and opens none for what else that change moved', async () => {
    // Prepare: mallory leaves the trail without a key (pages kms_key_id); alice, a planned principal, puts the key back
    // and moves the log bucket in one UpdateTrail: info, planned, on the page topic only to close the incident.
    const updateTrail = (request: Record<string, unknown>, eventId: string, identity: Record<string, unknown>) =>
      by(
        at(
          onTrail(
            rec('UpdateTrail__streamalert__1', (record) => {
              record.requestParameters = { name: TRAIL_NAME, ...request };
              record.responseElements = {
                ...(record.responseElements as Record<string, unknown>),
                name: TRAIL_NAME,
                trailARN: TRAIL_ARN,
                kmsKeyId: KEY_ARN,
                ...request,
              };
            }),
          ),
          eventId,
        ),
        identity,
      );
    const { findings } = detect(
      [
        at(createTrail(TRAIL_NAME, KEY_ARN), 'create'),
        updateTrail({ kmsKeyId: '' }, 'unkeyed', sessionIdentity('Ops', 'mallory')),
        updateTrail({ kmsKeyId: KEY_ARN, s3BucketName: 'org-audit-logs-v2' }, 'fixed', aliceIdentity()),
      ],
      { plannedPrincipals: [ALICE] },
    );
    const fix = findings[2];
    expect([fix.status, fix.severity, audiencesFor(fix, 'error')]).toEqual(['planned', 'info', ['page']]);
    const { fetch, bodies } = fakeFetch(202);

    // Act
    await makePager(fetch)(snsEvent(String(pageCommand('arn:aws:sns:us-west-2:111122223333:page', fix).input.Message)));

    // Assess
    const sent = (bodies as { dedup_key: string; event_action: string }[]).map((b) => [b.event_action, b.dedup_key]);
    expect(sent).toEqual([['resolve', pagerDutyDedupKey(fix, 'kms_key_id')]]);
  });

  it('pages every attribute of a critical finding too large for one SNS message', async () => {
    // Prepare: policy, tags and description changes with thousands of principals, commands and reasons (over 256 KiB).
    const input = pageCommand('arn:aws:sns:us-west-2:111122223333:page', hugeFinding).input;
    expect(Buffer.byteLength(JSON.stringify(hugeFinding))).toBeGreaterThan(256 * 1024);
    expect(Buffer.byteLength(String(input.Message))).toBeLessThan(256 * 1024);
    const { fetch, bodies } = fakeFetch(202);

    // Act
    await makePager(fetch)(snsEvent(String(input.Message)));

    // Assess
    const sent = (bodies as { dedup_key: string; event_action: string }[]).map((b) => [b.event_action, b.dedup_key]);
    const expected = formatPagerDutyEvents(hugeFinding, ROUTING_KEY).map((e) => [e.event_action, e.dedup_key]);
    expect(expected).toHaveLength(3);
    expect(sent).toEqual(expected);
    expect(output.metric('PagerInvalidMessages')).toBe(0);
  });

  it('opens no incident for drift since undone too large for one SNS message, as when it fits', async () => {
    // Prepare: the huge policy change arrives after the change that put the policy back (judged first).
    const undone: Finding = {
      ...hugeFinding,
      changes: { policy: { ...hugeFinding.changes.policy, since_undone: true } },
    };
    const input = pageCommand('arn:aws:sns:us-west-2:111122223333:page', undone).input;
    expect(Buffer.byteLength(JSON.stringify(undone))).toBeGreaterThan(256 * 1024);
    const { fetch, bodies } = fakeFetch(202);

    // Act
    await makePager(fetch)(snsEvent(String(input.Message)));

    // Assess
    expect(bodies).toEqual([]);
    expect(output.metric('PagerInvalidMessages')).toBe(0);
  });

  it('pages a new key too large for one SNS message as one incident, "created", as when it fits', async () => {
    // Prepare: the reconciler finds a key open to anyone (critical) that appeared without its creation event, with
    // 3,000 grants: the finding is over 256 KiB, so the page topic carries its compact copy.
    const created = detect([rec('CreateKey__streamalert__1')]).last;
    const grants = Object.fromEntries(
      Array.from({ length: 3000 }, (_, i) => [
        `${String(i).padStart(8, '0')}0e4e15d7f1ad2d4b6d1ad1b8a1e3b7bdbd0b1c0e7c2c1a3b4f`,
        {
          grantee_principal: `arn:aws:iam::111122223333:role/ebs-volume-attacher-${i}`,
          retiring_principal: null,
          operations: ['CreateGrant', 'Decrypt', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo'],
          constraints: { encryptionContextSubset: { 'aws:ebs:id': `vol-${i}` } },
          name: null,
        },
      ]),
    );
    const state = Object.fromEntries(Object.entries(created.changes).map(([name, change]) => [name, change.after]));
    const live = snapshotFromState('key', created.resource, { ...state, grants });
    const surroundings = new MemoryStore([]);
    surroundings.putState(live);
    const appeared = unbaselinedResource(
      live,
      Date.parse('2026-10-03T12:00:00Z'),
      surroundings,
      parseDetectionConfig({}),
    );
    expect(appeared).toMatchObject({ event: 'Unbaselined', severity: 'critical' });
    const input = pageCommand('arn:aws:sns:us-west-2:111122223333:page', appeared).input;
    expect(String(input.Message).length).toBeLessThan(Buffer.byteLength(JSON.stringify(appeared)));
    const { fetch, bodies } = fakeFetch(202);

    // Act
    await makePager(fetch)(snsEvent(String(input.Message)));

    // Assess: the incident an accept of the key resolves, not one per attribute that nothing ever resolves.
    const sent = (bodies as { dedup_key: string; event_action: string }[]).map((b) => [b.event_action, b.dedup_key]);
    expect(sent).toEqual([['trigger', pagerDutyDedupKey(appeared, 'created')]]);
  });

  it('sends a finding delivered by both the page and the ops topic once per attribute: the second delivery sends nothing', async () => {
    // Prepare: what SNS hands the pager from each topic (the ops topic's `lambda` form, as its subscription gets it).
    const fromPage = String(pageCommand('arn:aws:sns:us-west-2:111122223333:page', finding).input.Message);
    const fromOps = JSON.parse(String(opsCommand('arn:aws:sns:us-west-2:111122223333:ops', finding).input.Message));
    const { fetch, bodies } = fakeFetch(202);

    // Act
    await makePager(fetch)(snsEvent(fromPage));
    await makePager(fetch)(snsEvent(fromOps.lambda));

    // Assess: PagerDuty took each event of the first delivery; sent again, a trigger resolved by hand meanwhile would
    // open a second incident.
    const keys = (bodies as { dedup_key: string; event_action: string }[]).map((b) => [b.dedup_key, b.event_action]);
    expect(keys.map(([key, action]) => [key.split(':').pop(), action])).toEqual([
      ['policy', 'trigger'],
      ['key_state', 'trigger'],
    ]);
    expect(output.metric('PagerInvalidMessages')).toBe(0);
    expect([output.metric('PagerDutyEvents'), output.metric('PagerDutySuperseded')]).toEqual([2, 2]);
  });

  describe('an event older than one already sent for its attribute', () => {
    // DisableKey pages key_state; the EnableKey after it puts the key back and resolves that incident.
    const pageMessage = (f: Finding) => String(pageCommand('arn:aws:sns:us-west-2:111122223333:page', f).input.Message);
    const disableThenEnable = (enabledAt: string) =>
      detect([
        at(createKey(), 'create', '2026-10-03T11:00:00Z'),
        at(onKey(rec('DisableKey__awskmsdg__1')), 'disable', '2026-10-03T12:00:00Z'),
        at(onKey(rec('EnableKey__awskmsdg__1')), 'enable', enabledAt),
      ]).findings.slice(1);
    const [disabled, enabled] = disableThenEnable('2026-10-03T12:01:00Z');
    const sent = (bodies: unknown[]) =>
      (bodies as { dedup_key: string; event_action: string }[]).map((b) => [b.event_action, b.dedup_key]);
    const keyState = () => pagerDutyDedupKey(disabled, 'key_state');

    it.each([
      ['a minute later', '2026-10-03T12:01:00Z'],
      ['in the same second (CloudTrail times are whole seconds)', '2026-10-03T12:00:00Z'],
    ])('is not sent when its retry comes after the resolve of a change %s', async (_when, enabledAt) => {
      // Prepare: PagerDuty answers the trigger with 429, so Lambda retries it after the resolve went out.
      const [disable, enable] = disableThenEnable(enabledAt);
      expect([disable.severity, enable.status]).toEqual(['critical', 'resolved']);
      const { fetch, bodies } = fakeFetch(429, 202);
      const pager = makePager(fetch);

      // Act
      await expect(pager(snsEvent(pageMessage(disable)))).rejects.toBeInstanceOf(RetryablePagerDutyError);
      await pager(snsEvent(pageMessage(enable)));
      await pager(snsEvent(pageMessage(disable)));

      // Assess: the incident stays closed.
      expect(sent(bodies)).toEqual([
        ['trigger', keyState()],
        ['resolve', keyState()],
      ]);
      expect(output.metric('PagerDutySuperseded')).toBe(1);
      expect(output.logs('INFO').at(-1)).toMatchObject({ eventId: 'disable', dedupKey: keyState(), action: 'trigger' });
    });

    it('is not sent again when, while its invocation waits after a 429, the resolve of a later change goes out', async () => {
      // Prepare: the trigger is refused; during its wait, another invocation sends the EnableKey's resolve.
      const { fetch, bodies } = fakeFetch(429, 202);
      let pager: ReturnType<typeof makePager>;
      const resolveMeanwhile = async () => pager(snsEvent(pageMessage(enabled)));
      pager = makePager(fetch, table.tableName, undefined, { sleep: resolveMeanwhile, random: () => 0.5 });

      // Act
      await pager(snsEvent(pageMessage(disabled)), { getRemainingTimeInMillis: () => 180_000 });

      // Assess: the incident stays closed.
      expect(sent(bodies)).toEqual([
        ['trigger', keyState()],
        ['resolve', keyState()],
      ]);
      expect(output.metric('PagerDutySuperseded')).toBe(1);
    });

    it('is not sent when EventBridge delivers it after the newer one', async () => {
      const { fetch, bodies } = fakeFetch(202);

      await makePager(fetch)(snsEvent(pageMessage(enabled)));
      await makePager(fetch)(snsEvent(pageMessage(disabled)));

      expect(sent(bodies)).toEqual([['resolve', keyState()]]);
    });

    it('is sent again on its own retry when nothing newer was sent', async () => {
      const { fetch, bodies } = fakeFetch(429, 202);

      await expect(makePager(fetch)(snsEvent(pageMessage(disabled)))).rejects.toBeInstanceOf(RetryablePagerDutyError);
      await makePager(fetch)(snsEvent(pageMessage(disabled)));

      expect(sent(bodies)).toEqual([
        ['trigger', keyState()],
        ['trigger', keyState()],
      ]);
      expect(output.metric('PagerDutyEvents')).toBe(1);
    });

    /**
     * A fetch whose first call PagerDuty answers only once `arrive` is called (a slow request); `arrived` lists the
     * events in the order they reached PagerDuty.
     */
    function slowFirstFetch() {
      const arrived: string[][] = [];
      let arrive = () => {};
      const firstArrives = new Promise<void>((resolve) => {
        arrive = resolve;
      });
      let calls = 0;
      const fetch = (async (_url: string, init: RequestInit) => {
        const body = JSON.parse(String(init.body));
        calls += 1;
        if (calls === 1) await firstArrives;
        arrived.push([body.event_action, body.dedup_key]);
        return new Response('{}', { status: 202 });
      }) as unknown as typeof globalThis.fetch;
      return { fetch, arrived, arrive, called: () => calls };
    }

    /** Resolves once `condition` holds, checking between turns of the event loop. */
    async function until(condition: () => boolean): Promise<void> {
      while (!condition()) await new Promise((resolve) => setImmediate(resolve));
    }

    it('waits while an event of its attribute is on its way, so PagerDuty sees them in their order', async () => {
      // Prepare: the key is disabled (paged), enabled (the resolve is slow to reach PagerDuty), then disabled again.
      const [disable, enable, disableAgain] = detect([
        at(createKey(), 'create', '2026-10-03T11:00:00Z'),
        at(onKey(rec('DisableKey__awskmsdg__1')), 'disable', '2026-10-03T12:00:00Z'),
        at(onKey(rec('EnableKey__awskmsdg__1')), 'enable', '2026-10-03T12:01:00Z'),
        at(onKey(rec('DisableKey__awskmsdg__1')), 'disable-again', '2026-10-03T12:02:00Z'),
      ]).findings.slice(1);
      const { fetch: quick, bodies } = fakeFetch(202);
      await makePager(quick)(snsEvent(pageMessage(disable)));
      const slow = slowFirstFetch();
      // The second invocation, waiting for its turn, lets the first one's request arrive.
      const pager = makePager(slow.fetch, table.tableName, async () => slow.arrive());

      // Act: the second invocation starts while the first one's resolve is on its way.
      const resolving = pager(snsEvent(pageMessage(enable)));
      await until(() => slow.called() === 1);
      await pager(snsEvent(pageMessage(disableAgain)));
      slow.arrive();
      await resolving;

      // Assess: the incident is open, as the key is disabled.
      expect(sent(bodies)).toEqual([['trigger', keyState()]]);
      expect(slow.arrived).toEqual([
        ['resolve', keyState()],
        ['trigger', keyState()],
      ]);
    });

    it("is not sent twice when a finding's copies through the page and ops topics arrive together", async () => {
      const fromOps = JSON.parse(String(opsCommand('arn:aws:sns:us-west-2:111122223333:ops', disabled).input.Message));
      const slow = slowFirstFetch();
      const pager = makePager(slow.fetch, table.tableName, async () => slow.arrive());

      const first = pager(snsEvent(pageMessage(disabled)));
      await until(() => slow.called() === 1);
      await pager(snsEvent(fromOps.lambda));
      slow.arrive();
      await first;

      expect(slow.arrived).toEqual([['trigger', keyState()]]);
      expect([output.metric('PagerDutyEvents'), output.metric('PagerDutySuperseded')]).toEqual([1, 1]);
    });

    it('opens no incident for drift a later change already undid, even when the table cannot be written', async () => {
      // Prepare: the EnableKey was judged first, so the DisableKey before it arrives with its change since undone.
      const undone: Finding = {
        ...disabled,
        changes: { key_state: { ...disabled.changes.key_state, since_undone: true } },
      };
      const { fetch, bodies } = fakeFetch(202);
      const pager = makePager(fetch, 'no-such-table');

      // Act
      await pager(snsEvent(pageMessage(enabled)));
      await pager(snsEvent(pageMessage(undone)));

      // Assess: the incident stays closed.
      expect(sent(bodies)).toEqual([['resolve', keyState()]]);
    });

    it('is sent, and the failed check logged, when the table cannot be written', async () => {
      const { fetch, bodies } = fakeFetch(202);

      await makePager(fetch, 'no-such-table')(snsEvent(pageMessage(disabled)));

      expect(sent(bodies)).toEqual([['trigger', keyState()]]);
      expect(output.metric('PagerOrderUnchecked')).toBe(1);
      expect(output.logs('ERROR')[0]).toMatchObject({
        message: 'Could not check for a newer PagerDuty event; sending this one anyway',
        eventId: 'disable',
        error: expect.stringContaining('ResourceNotFoundException'),
      });
    });
  });

  describe('a deleted key', () => {
    const MALLORY = sessionIdentity('ReadOnly', 'mallory');
    const opened = policyWith(decryptFor({ AWS: `arn:aws:iam::${EXTERNAL_ACCOUNT}:root` }));
    /**
     * A key whose policy someone opened to another account (critical: its incident stays open), scheduled for
     * deletion by Alice, then deleted by KMS at the end of the waiting period: the findings the page topic gets.
     */
    function deletedAfterPolicyDrift(configInput: unknown = {}): Finding[] {
      const { findings } = detect(
        [
          at(createKey(), 'create', '2021-03-01T00:00:00Z'),
          at(by(putKeyPolicy(opened), MALLORY), 'open-policy', '2021-03-10T00:00:00Z'),
          at(onKey(rec('ScheduleKeyDeletion__awskmsdg__1')), 'schedule', '2021-03-23T18:58:30Z'),
          at(onKey(rec('DeleteKey__awskmsdg__1')), 'delete', '2021-04-12T19:42:07Z'),
        ],
        configInput,
      );
      return findings.filter((f) => audiencesFor(f).includes('page'));
    }
    const pageMessage = (f: Finding) => String(pageCommand('arn:aws:sns:us-west-2:111122223333:page', f).input.Message);
    type Sent = { event_action: string; dedup_key: string; payload: { summary: string } };
    /** What PagerDuty got for each page message in turn, as `<action> <incident>`. */
    async function pageEach(findings: Finding[], fetch = fakeFetch(202)): Promise<string[][]> {
      const perFinding: string[][] = [];
      for (const f of findings) {
        const before = fetch.bodies.length;
        await makePager(fetch.fetch)(snsEvent(pageMessage(f)));
        perFinding.push(
          (fetch.bodies.slice(before) as Sent[]).map((b) => `${b.event_action} ${b.dedup_key.split(':').pop()}`),
        );
      }
      return perFinding;
    }

    it("resolves the incidents of its other attributes, and keeps the deletion's own open when it is drift", async () => {
      // Prepare
      const findings = deletedAfterPolicyDrift();
      expect(findings.map((f) => [f.event, f.status, f.severity])).toEqual([
        ['PutKeyPolicy', 'drift', 'critical'],
        ['ScheduleKeyDeletion', 'drift', 'critical'],
        ['DeleteKey', 'drift', 'critical'],
      ]);
      const fetch = fakeFetch(202);

      // Act
      const sent = await pageEach(findings, fetch);

      // Assess: the policy's incident is resolved, saying why; the key's state (its deletion) is still paged. No
      // resolve goes for the incidents never opened (its rotation, tags, creation…).
      expect(sent.slice(0, 2)).toEqual([['trigger policy'], ['trigger key_state']]);
      expect([...sent[2]!].sort()).toEqual(['resolve policy', 'trigger key_state']);
      const policyResolve = (fetch.bodies as Sent[]).find(
        (b) => b.event_action === 'resolve' && b.dedup_key === pagerDutyDedupKey(findings[0]!, 'policy'),
      );
      expect(policyResolve!.payload.summary).toBe(`[INFO] Resolved: key ${KEY_ARN.split('/')[1]} was deleted (policy)`);
      expect(output.metric('PagerDutySuperseded')).toBe(0);
    });

    it('resolves them with its state when the deletion is the one a planned principal scheduled', async () => {
      // Prepare: Alice is a planned principal; mallory's policy change is still drift.
      const findings = deletedAfterPolicyDrift({ plannedPrincipals: [ALICE] });
      expect(findings.map((f) => [f.event, f.status, f.severity])).toEqual([
        ['PutKeyPolicy', 'drift', 'critical'],
        ['DeleteKey', 'planned', 'info'],
      ]);

      // Act
      const sent = await pageEach(findings);

      // Assess: nothing of the key is left open.
      expect(sent[0]).toEqual(['trigger policy']);
      expect([...sent[1]!].sort()).toEqual(['resolve key_state', 'resolve policy']);
    });

    it('sends no resolve for an incident the key never had open, so that deletions spare the rate limit', async () => {
      // Prepare: the policy's trigger was never paged here (another routing key then, or its record expired).
      const [, , deletion] = deletedAfterPolicyDrift();
      const fetch = fakeFetch(202);

      // Act
      const [sent] = await pageEach([deletion!], fetch);

      // Assess
      expect(sent).toEqual(['trigger key_state']);
      expect(output.metric('PagerDutySuperseded')).toBe(0);
    });

    it('resolves them, and triggers nothing, for a deletion an ignore rule matched', async () => {
      // Prepare: the policy's incident is open; the deletion (critical drift) is one an ignore rule matched.
      const [opening, , deletion] = deletedAfterPolicyDrift();
      const fetch = fakeFetch(202);
      await pageEach([opening!], fetch);
      const ignored = pageCommand('arn:aws:sns:us-west-2:111122223333:page', deletion!, { ignored: true }).input;
      const before = fetch.bodies.length;

      // Act
      await makePager(fetch.fetch)(snsEvent(String(ignored.Message)));

      // Assess
      expect(deletion!.severity).toBe('critical');
      const sent = (fetch.bodies.slice(before) as Sent[]).map(
        (b) => `${b.event_action} ${b.dedup_key.split(':').pop()}`,
      );
      expect(sent).toEqual(['resolve policy']);
    });

    it('sends a resolve PagerDuty did not take again on the retry, and only that one', async () => {
      // Prepare: the policy's incident is open; PagerDuty answers its resolve with 500 (no time left for a retry
      // within the invocation).
      const [opening, , deletion] = deletedAfterPolicyDrift();
      const { fetch, sent } = fetchPerAttribute({ policy: [202, 500] });
      const pager = makePager(fetch);
      await pager(snsEvent(pageMessage(opening!)));
      await expect(pager(snsEvent(pageMessage(deletion!)))).rejects.toBeInstanceOf(RetryablePagerDutyError);
      const first = sent.length;

      // Act: Lambda retries the invocation.
      await pager(snsEvent(pageMessage(deletion!)));

      // Assess
      expect(sent.slice(first)).toEqual(['policy 202']);
    });
  });

  it('sends again, on the retry of a partly failed invocation, only the events PagerDuty did not take', async () => {
    // Prepare: the key_state event fails on the network, the policy event is taken.
    const sent: string[] = [];
    let offline = true;
    const fetch = (async (_url: string, init: RequestInit) => {
      const body = JSON.parse(String(init.body));
      const attribute = body.dedup_key.split(':').pop();
      if (attribute === 'key_state' && offline) throw new TypeError('fetch failed');
      sent.push(`${body.event_action} ${attribute}`);
      return new Response('{}', { status: 202 });
    }) as unknown as typeof globalThis.fetch;
    const pager = makePager(fetch);
    await expect(pager(snsEvent(JSON.stringify(finding)))).rejects.toBeInstanceOf(RetryablePagerDutyError);

    // Act: Lambda retries the invocation once the network is back.
    offline = false;
    await pager(snsEvent(JSON.stringify(finding)));

    // Assess
    expect(sent).toEqual(['trigger policy', 'trigger key_state']);
  });

  it('sends only the resolves of a finding an ignore rule matched, never a trigger', async () => {
    // Prepare: a critical planned change that approves the key's state and leaves its policy drifting (alerted, it
    // would trigger the policy's incident too).
    const key_state = { before: 'Disabled', after: 'Disabled', back_to_baseline: true };
    const planned: Finding = { ...finding, status: 'planned', changes: { ...finding.changes, key_state } };
    expect(formatPagerDutyEvents(planned, ROUTING_KEY).map((e) => e.event_action)).toEqual(['trigger', 'resolve']);
    const ignored = pageCommand('arn:aws:sns:us-west-2:111122223333:page', planned, { ignored: true }).input;
    const { fetch, bodies } = fakeFetch(202);

    // Act
    await makePager(fetch)(snsEvent(String(ignored.Message)));

    // Assess
    const sent = (bodies as { dedup_key: string; event_action: string }[]).map((b) => [b.event_action, b.dedup_key]);
    expect(sent).toEqual([['resolve', pagerDutyDedupKey(planned, 'key_state')]]);
  });

  it('drops a page message whose ignored mark is no boolean', async () => {
    const { fetch, calls } = fakeFetch(202);

    await makePager(fetch)(snsEvent(JSON.stringify({ ...finding, ignored: 'yes' })));

    expect(calls).not.toHaveBeenCalled();
    expect(output.metric('PagerInvalidMessages')).toBe(1);
  });

  it("pages a page-topic message the README's redrive gives back from the dead-letter queue", async () => {
    // Prepare: the notification SNS could not deliver, as the subscription's dead-letter queue keeps it, wrapped as
    // the redrive script wraps it.
    const input = pageCommand('arn:aws:sns:us-west-2:111122223333:page', finding).input;
    const undelivered = {
      Type: 'Notification',
      MessageId: '5a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b',
      TopicArn: 'arn:aws:sns:us-west-2:111122223333:page',
      Message: input.Message,
      Timestamp: '2026-12-05T10:00:00.000Z',
      MessageAttributes: { severity: { Type: 'String', Value: 'critical' } },
    };
    const { fetch, bodies } = fakeFetch(202);

    // Act
    await makePager(fetch)({ Records: [{ EventSource: 'aws:sns', Sns: undelivered }] } as unknown as SNSEvent);

    // Assess
    expect(bodies).toEqual(formatPagerDutyEvents(finding, ROUTING_KEY));
  });

  it('fetches the routing key once for many invocations', async () => {
    const { fetch } = fakeFetch(202);
    const page = makePager(fetch);

    await page(snsEvent(JSON.stringify(finding)));
    await page(snsEvent(JSON.stringify(finding), JSON.stringify({ ...finding, eventId: 'another' })));

    expect(secretsMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    expect(secretsMock).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: 'keydrift/pagerduty' });
  });

  it('accepts a secret that holds the bare routing key', async () => {
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: `${ROUTING_KEY}\n` });
    const { fetch, bodies } = fakeFetch(202);

    await makePager(fetch)(snsEvent(JSON.stringify(finding)));

    expect((bodies[0] as { routing_key: string }).routing_key).toBe(ROUTING_KEY);
  });

  it('throws on 429 so that SNS retries the invocation', async () => {
    const { fetch } = fakeFetch(429);

    await expect(makePager(fetch)(snsEvent(JSON.stringify(finding)))).rejects.toMatchObject({
      name: 'RetryablePagerDutyError',
      status: 429,
    });
    expect(output.metric('PagerErrors')).toBe(1);
  });

  describe('when PagerDuty refuses an event for now (429: the routing key takes about 120 events a minute)', () => {
    const keyState: Finding = { ...finding, changes: { key_state: finding.changes.key_state } };

    it('sends it again after a wait within the invocation, and PagerDuty takes it once', async () => {
      // Prepare: a burst has filled the routing key's window; the wait lets it empty.
      const { fetch, bodies } = fakeFetch(429, 202);
      const clock = invocationClock(180_000);
      const pager = makePager(fetch, table.tableName, undefined, clock.backoff);

      // Act
      await pager(snsEvent(JSON.stringify(keyState)), clock.context);

      // Assess: the same event twice, refused then taken; no invocation failed, so Lambda retries none.
      expect(bodies).toEqual([
        ...formatPagerDutyEvents(keyState, ROUTING_KEY),
        ...formatPagerDutyEvents(keyState, ROUTING_KEY),
      ]);
      expect(clock.waits).toEqual([30_000]);
      expect([output.metric('PagerDutyEvents'), output.metric('PagerErrors')]).toEqual([1, 0]);
      expect(output.logs('WARN')[0]).toMatchObject({ dedupKey: pagerDutyDedupKey(keyState, 'key_state'), status: 429 });

      // Act: the same finding again (its copy from the ops topic): PagerDuty has it.
      await pager(snsEvent(JSON.stringify(keyState)), clock.context);

      // Assess
      expect(bodies).toHaveLength(2);
      expect(output.metric('PagerDutySuperseded')).toBe(1);
    });

    it('waits 20 to 40 s, drawn at random, so that the events of a burst come back spread out', async () => {
      const waits: number[] = [];
      for (const draw of [0, 0.999_999]) {
        const clock = invocationClock(180_000, () => draw);
        await pageOnClock(fakeFetch(429, 202).fetch, clock, JSON.stringify({ ...keyState, eventId: `draw-${draw}` }));
        waits.push(...clock.waits);
      }

      expect(waits).toEqual([20_000, 40_000]);
    });

    it('sends a 5xx or a network failure again the same way', async () => {
      let calls = 0;
      const fetch = (async () => {
        calls += 1;
        if (calls === 1) return new Response('{}', { status: 503 });
        if (calls === 2) throw new TypeError('fetch failed');
        return new Response('{}', { status: 202 });
      }) as unknown as typeof globalThis.fetch;
      const clock = invocationClock(180_000);

      await pageOnClock(fetch, clock, JSON.stringify(keyState));

      expect([calls, clock.waits.length, output.metric('PagerDutyEvents')]).toEqual([3, 2, 1]);
    });

    it('does not send a 400 again, however much time is left', async () => {
      const { fetch, calls } = fakeFetch(400);
      const clock = invocationClock(180_000);

      await pageOnClock(fetch, clock, JSON.stringify(keyState));

      expect(calls).toHaveBeenCalledTimes(1);
      expect(clock.waits).toEqual([]);
      expect(output.metric('PagerDutyRejected')).toBe(1);
    });

    it('fails the invocation after three more tries, so that Lambda retries it', async () => {
      const { fetch, calls } = fakeFetch(429);
      const clock = invocationClock(180_000);

      const error = await pageOnClock(fetch, clock, JSON.stringify(keyState)).catch((e: unknown) => e);

      expect(error).toMatchObject({ name: 'RetryablePagerDutyError', status: 429 });
      expect(calls).toHaveBeenCalledTimes(4);
      expect(clock.waits).toEqual([30_000, 30_000, 30_000]);
      expect(output.metric('PagerErrors')).toBe(1);
    });

    it('fails the invocation, rather than wait, once the time left would not cover the wait and one more attempt', async () => {
      // Prepare: 100 s left: two waits of 30 s leave 40 s, which the third would cut below what an attempt may take.
      const { fetch, calls } = fakeFetch(429);
      const clock = invocationClock(100_000);

      const error = await pageOnClock(fetch, clock, JSON.stringify(keyState)).catch((e: unknown) => e);

      expect(error).toMatchObject({ name: 'RetryablePagerDutyError', status: 429 });
      expect(calls).toHaveBeenCalledTimes(3);
      expect(clock.waits).toEqual([30_000, 30_000]);
      expect(clock.context.getRemainingTimeInMillis()).toBeGreaterThanOrEqual(ATTEMPT_RESERVE_MS);
    });

    it('sends again, in an invocation of several events, only those PagerDuty refused, until it takes them', async () => {
      // Prepare: two findings in one invocation, three events; PagerDuty takes the policy events at once.
      const other = {
        ...finding,
        eventId: 'other',
        resource: `${KEY}-other`,
        changes: { policy: finding.changes.policy },
      };
      const { fetch, sent } = fetchPerAttribute({ key_state: [429, 429, 202] });
      const clock = invocationClock(180_000);

      // Act
      await pageOnClock(fetch, clock, JSON.stringify(finding), JSON.stringify(other));

      // Assess
      expect([...sent].sort()).toEqual(['key_state 202', 'key_state 429', 'key_state 429', 'policy 202', 'policy 202']);
      expect([output.metric('PagerDutyEvents'), output.metric('PagerErrors')]).toEqual([3, 0]);
    });

    it("fails an invocation whose event PagerDuty keeps refusing; Lambda's retry sends only that event", async () => {
      const { fetch, sent } = fetchPerAttribute({ key_state: [429, 429, 429, 429] });
      const clock = invocationClock(180_000);
      const pager = makePager(fetch, table.tableName, undefined, clock.backoff);
      await expect(pager(snsEvent(JSON.stringify(finding)), clock.context)).rejects.toBeInstanceOf(
        RetryablePagerDutyError,
      );
      expect([...sent].sort()).toEqual([
        'key_state 429',
        'key_state 429',
        'key_state 429',
        'key_state 429',
        'policy 202',
      ]);

      // Act: Lambda's retry, a minute later, in a new invocation.
      await pager(snsEvent(JSON.stringify(finding)), invocationClock(180_000).context);

      // Assess
      expect(sent.slice(5)).toEqual(['key_state 202']);
      expect(clock.waits).toHaveLength(3);
    });
  });

  it('throws on a 5xx and on a network failure', async () => {
    await expect(makePager(fakeFetch(503).fetch)(snsEvent(JSON.stringify(finding)))).rejects.toBeInstanceOf(
      RetryablePagerDutyError,
    );
    const offline = (async () => {
      throw new TypeError('fetch failed');
    }) as unknown as typeof globalThis.fetch;
    await expect(makePager(offline)(snsEvent(JSON.stringify(finding)))).rejects.toBeInstanceOf(RetryablePagerDutyError);
  });

  it('logs a 400 and does not throw: sending the same body again cannot succeed', async () => {
    const { fetch } = fakeFetch(400, 202);

    await expect(makePager(fetch)(snsEvent(JSON.stringify(finding)))).resolves.toBeUndefined();

    expect(output.metric('PagerDutyRejected')).toBe(1);
    expect(output.metric('PagerDutyEvents')).toBe(1);
    expect(output.logs('ERROR')[0]).toMatchObject({ status: 400, eventId: finding.eventId });
  });

  it('sends a refused event again with the rotated routing key, rather than dropping it until the cached key expires', async () => {
    // Prepare: the pager has cached the key; then the secret is rotated to a new integration's key and the old
    // integration deleted, so that PagerDuty refuses the old key.
    const newKey = 'N3WR0UT1NGKEY0123456789abcdefABC';
    let oldKeyValid = true;
    const routingKeys: string[] = [];
    const fetch = (async (_url: string | URL | Request, init?: RequestInit) => {
      const { routing_key } = JSON.parse(String(init?.body)) as { routing_key: string };
      routingKeys.push(routing_key);
      if (routing_key === ROUTING_KEY && !oldKeyValid) {
        return new Response(JSON.stringify({ status: 'invalid event', errors: ['Invalid routing key'] }), {
          status: 400,
        });
      }
      return new Response(JSON.stringify({ status: 'success' }), { status: 202 });
    }) as typeof globalThis.fetch;
    const page = makePager(fetch);
    const keyState = { ...finding, changes: { key_state: finding.changes.key_state } };
    await page(snsEvent(JSON.stringify(keyState)));
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ routing_key: newKey }) });
    oldKeyValid = false;

    // Act
    await page(snsEvent(JSON.stringify({ ...keyState, eventId: 'after-rotation' })));

    // Assess
    expect(routingKeys).toEqual([ROUTING_KEY, ROUTING_KEY, newKey]);
    expect(output.metric('PagerDutyRejected')).toBe(0);
    expect(output.metric('PagerDutyEvents')).toBe(2);
  });

  it('drops a message that is not a finding, without calling PagerDuty', async () => {
    const { fetch, calls } = fakeFetch(202);

    await makePager(fetch)(snsEvent('not json', JSON.stringify({ hello: 'world' })));

    expect(calls).not.toHaveBeenCalled();
    expect(secretsMock).not.toHaveReceivedCommand(GetSecretValueCommand);
    expect(output.metric('PagerInvalidMessages')).toBe(2);
  });

  it('reads a non-critical finding from the ops topic and pages no one for it', async () => {
    // Prepare: DisableKeyRotation on keydrift's own key: an error, sent to ops, which the pager hears unfiltered.
    const rotationOff: Finding = {
      ...finding,
      event: 'DisableKeyRotation',
      severity: 'error',
      changes: { enable_key_rotation: { before: true, after: false } },
    };
    const { fetch, calls } = fakeFetch(202);

    // Act
    await makePager(fetch)(snsEvent(JSON.stringify(rotationOff)));

    // Assess
    expect(calls).not.toHaveBeenCalled();
    expect(output.metric('PagerInvalidMessages')).toBe(0);
  });

  it("skips a CloudWatch alarm's notification from the ops topic quietly: no PagerDuty call, nothing counted as invalid", async () => {
    // Prepare: what CloudWatch publishes to the ops topic when keydrift's dead-letter queue alarm fires.
    const alarm = {
      AlarmName: 'Keydrift-DeadLetterQueueNotEmpty',
      AlarmDescription: 'keydrift: events or findings could not be delivered',
      AWSAccountId: '111122223333',
      NewStateValue: 'ALARM',
      NewStateReason: 'Threshold Crossed: 1 datapoint [1.0] was greater than or equal to the threshold (1.0).',
      StateChangeTime: '2026-10-03T12:00:00.000+0000',
      Region: 'US West (Oregon)',
      AlarmArn: 'arn:aws:cloudwatch:us-west-2:111122223333:alarm:Keydrift-DeadLetterQueueNotEmpty',
      OldStateValue: 'OK',
      Trigger: { MetricName: 'ApproximateNumberOfMessagesVisible', Namespace: 'AWS/SQS', Threshold: 1 },
    };
    const { fetch, calls } = fakeFetch(202);

    // Act
    await makePager(fetch)(snsEvent(JSON.stringify(alarm), JSON.stringify({ ...alarm, NewStateValue: 'OK' })));

    // Assess
    expect(calls).not.toHaveBeenCalled();
    expect(output.metric('PagerInvalidMessages')).toBe(0);
    expect(output.logs('ERROR')).toEqual([]);
  });

  it('fails with a clear error when the secret is missing', async () => {
    secretsMock
      .on(GetSecretValueCommand)
      .rejects(new ResourceNotFoundException({ message: "Secrets Manager can't find the secret", $metadata: {} }));

    const error = await makePager(fakeFetch(202).fetch)(snsEvent(JSON.stringify(finding))).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SecretError);
    expect((error as Error).message).toContain('keydrift/pagerduty');
  });
});
