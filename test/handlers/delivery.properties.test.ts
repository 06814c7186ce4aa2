/**
 * "Nothing lost, nothing twice", checked with fast-check against the real detector, state store and publisher: one
 * CloudTrail event delivered once or more (EventBridge copies, concurrent or late), each copy an asynchronous Lambda
 * invocation retried twice after a failure and then dead-lettered, while any call fails: DynamoDB throttles, SNS refuses
 * one topic, PutEvents answers 200 with its entry failed, a call is applied but its answer is lost, or the invocation
 * times out before or after a call (it then stops there). Every call waits on fast-check's scheduler, so the copies'
 * calls interleave in any order.
 *
 * Invariants, once every copy is done or dead-lettered:
 * - nothing lost: when no copy was dead-lettered, every target of the finding got it at least once;
 * - nothing twice: a target gets it once, plus once for each attempt that reached it and could not record that it
 *   did, which at-least-once delivery makes unavoidable: an invocation that timed out after the target accepted it (or
 *   whose answer from the target was lost), or whose record of it failed (releasing the claim after a failure, or
 *   marking the claim done after a success; a later copy then sends again), or that never held the claim (its claim
 *   failed) and warned the ops topic about keydrift's own key.
 *
 * More runs: RUNS=2000 npx jest test/handlers/delivery.properties.test.ts
 */

import { AsyncLocalStorage } from 'node:async_hooks';
import { DescribeTrailsCommand } from '@aws-sdk/client-cloudtrail';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutEventsCommand, type PutEventsCommandOutput } from '@aws-sdk/client-eventbridge';
import {
  DescribeKeyCommand,
  type DescribeKeyCommandOutput,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  ListAliasesCommand,
  ListGrantsCommand,
  ListResourceTagsCommand,
} from '@aws-sdk/client-kms';
import { PublishCommand } from '@aws-sdk/client-sns';
import fc from 'fast-check';
import { FakeDynamoDB } from '../../bench/fake-dynamodb';
import type { DetectorHandler } from '../../lambda/handlers/detector-app';
import { kmsError, sdkOutput } from '../helpers/kms-api';
import { envelope, type Json, mockDetectorClients, mockedDetector, readRecord, TOPICS } from './harness';

const REGION = 'us-west-2';
const KEY = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const OTHER_KEY = 'arn:aws:kms:us-west-2:111122223333:key/keydrift-own-key';
const targetOfTopic = new Map(Object.entries(TOPICS).map(([target, arn]) => [arn, target]));
const T0 = Date.parse('2026-11-22T03:00:00Z');
/** Lambda retries a failed asynchronous invocation after a minute or two: leases of 35 s have run out by then. */
const ROUND_MS = 90_000;
const ATTEMPTS = 3;
const REMAINING_MS = 30_000;

const { kmsMock, snsMock, eventsMock, trailMock, ddbMock } = mockDetectorClients();

type FaultKind = 'throttle' | 'fail' | 'lostAck' | 'crash' | 'crashAfter' | 'partial';

interface Fault {
  copy: number;
  attempt: number;
  call: number;
  kind: FaultKind;
}

/** One invocation: what it reached, and whether it can still have recorded that. */
interface Attempt {
  name: string;
  calls: number;
  dead: boolean;
  faults: Map<number, FaultKind>;
  /** Targets that accepted the finding from this attempt. */
  reached: Set<string>;
  /** Targets it may have no record of: their answer was lost, or the write that records them failed. */
  unrecorded: Set<string>;
  recordFailed: boolean;
}

const als = new AsyncLocalStorage<Attempt>();
const never = () => new Promise<never>(() => {});

function awsError(name: string, fault: 'client' | 'server' = 'client'): Error {
  return Object.assign(new Error(`${name} (injected)`), { name, $fault: fault, $metadata: { httpStatusCode: 400 } });
}

const isClaim = (input: Record<string, unknown>) => String(input.UpdateExpression ?? '').includes('claimedAt');
const isRelease = (input: Record<string, unknown>) => String(input.UpdateExpression ?? '').includes(':released');

function liveKey() {
  const described = sdkOutput<DescribeKeyCommandOutput>('DescribeKey__custodian__1');
  const policy = String((readRecord('PutKeyPolicy__awskmsdg__1').requestParameters as Json).policy);
  return {
    describe: {
      ...described,
      KeyMetadata: {
        ...described.KeyMetadata,
        AWSAccountId: '111122223333',
        KeyId: KEY.slice(KEY.indexOf('key/') + 4),
        Arn: KEY,
        KeyState: 'Enabled' as const,
        Enabled: true,
      },
    },
    policy: { $metadata: {}, PolicyName: 'default', Policy: policy },
    rotation: sdkOutput('GetKeyRotationStatus__custodian__1'),
    tags: { $metadata: {}, Tags: [], Truncated: false },
    aliases: { $metadata: {}, Aliases: [], Truncated: false },
    grants: { $metadata: {}, Grants: [], Truncated: false },
  };
}

/** Waits for a call's turn: fast-check's scheduler in the property, a chosen order in the examples. */
type Gate = (label: string, attempt: Attempt | undefined, input: Record<string, unknown>) => Promise<void>;

const scheduled =
  (scheduler: fc.Scheduler): Gate =>
  (label) =>
    scheduler.schedule(Promise.resolve(), label);

/** A world: the fake table, the counts of what each target accepted, and every call waiting at the gate. */
type Applied = (what: string, attempt: Attempt | undefined, input: Record<string, unknown>) => void;

function world(gate: Gate, applied: Applied = () => {}) {
  const sends = new Map<string, number>();
  const accept = (attempt: Attempt | undefined, target: string) => {
    sends.set(target, (sends.get(target) ?? 0) + 1);
    attempt?.reached.add(target);
  };

  /**
   * Runs one call of the current attempt: waits its turn, then fails, dies or answers as the fault plan says.
   * `apply` performs the call and returns its answer; `onApplied` runs once it took effect.
   */
  const call: Call = async (what, apply, errors, options = {}) => {
    const attempt = als.getStore();
    const index = attempt ? attempt.calls++ : -1;
    await gate(`${attempt?.name ?? '?'} #${index} ${what}`, attempt, options.input ?? {});
    if (attempt?.dead) return never();
    let kind = attempt?.faults.get(index);
    if (kind === 'partial' && !options.partial) kind = 'fail';
    if (kind && options.recordsDelivery && kind !== 'lostAck' && attempt) attempt.recordFailed = true;
    // Without its claim an attempt records nothing: what the ops fallback sent then is sent again by the retry.
    if (kind && isClaim(options.input ?? {}) && attempt) attempt.recordFailed = true;
    switch (kind) {
      case 'throttle':
        throw errors.throttle();
      case 'fail':
        throw errors.fail();
      case 'partial':
        return options.partial?.() as never;
      case 'crash':
        if (attempt) attempt.dead = true;
        return never();
      default:
        break;
    }
    const output = await apply();
    options.onApplied?.(kind);
    applied(what, attempt, options.input ?? {});
    if (kind === 'crashAfter' && attempt) {
      attempt.dead = true;
      return never();
    }
    if (kind === 'lostAck') throw awsError('TimeoutError', 'server');
    return output;
  };

  active = { call, accept };
  table.items.clear();
  return { sends, dynamodb: gatedDynamoDB };
}

type Call = <T>(
  what: string,
  apply: () => Promise<T>,
  errors: { throttle: () => Error; fail: () => Error },
  options?: {
    onApplied?: (kind: FaultKind | undefined) => void;
    partial?: () => T;
    recordsDelivery?: boolean;
    input?: Record<string, unknown>;
  },
) => Promise<T>;

/** The world of the run in progress: the mocks, installed once, hand every call to it. */
let active: { call: Call; accept: (attempt: Attempt | undefined, target: string) => void };
const table = new FakeDynamoDB();
const ddbClient = new DynamoDBClient({ region: REGION });
// The fake answers through the mock; the store's client goes through the gate first.
const fakeSend = ddbClient.send.bind(ddbClient) as (command: unknown) => Promise<unknown>;
const gatedDynamoDB = {
  send: (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
    const name = command.constructor.name;
    const expression = String(command.input.UpdateExpression ?? '');
    // The writes that record what an attempt delivered: the release of its claim, and its completion.
    const recordsDelivery = expression.includes(':released') || expression.includes('completedAt');
    return active.call(
      name,
      () => fakeSend(command),
      { throttle: () => awsError('ThrottlingException'), fail: () => awsError('InternalServerError', 'server') },
      { recordsDelivery, input: command.input },
    );
  },
} as unknown as DynamoDBClient;

beforeAll(() => {
  table.install(ddbMock);
  const live = liveKey();
  const kmsErrors = {
    throttle: () => kmsError('ThrottlingException', 'Rate exceeded'),
    fail: () => kmsError('KMSInternalException', 'internal', 500),
  };
  const kmsCall = (what: string, output: unknown) => () => active.call(what, async () => output, kmsErrors);
  kmsMock.on(DescribeKeyCommand).callsFake(kmsCall('DescribeKey', live.describe));
  kmsMock.on(GetKeyPolicyCommand).callsFake(kmsCall('GetKeyPolicy', live.policy));
  kmsMock.on(GetKeyRotationStatusCommand).callsFake(kmsCall('GetKeyRotationStatus', live.rotation));
  kmsMock.on(ListResourceTagsCommand).callsFake(kmsCall('ListResourceTags', live.tags));
  kmsMock.on(ListAliasesCommand).callsFake(kmsCall('ListAliases', live.aliases));
  kmsMock.on(ListGrantsCommand).callsFake(kmsCall('ListGrants', live.grants));
  trailMock.on(DescribeTrailsCommand).callsFake(() =>
    active.call('DescribeTrails', async () => ({ $metadata: {}, trailList: [] }), {
      throttle: () => awsError('ThrottlingException'),
      fail: () => awsError('InternalFailure', 'server'),
    }),
  );
  snsMock.on(PublishCommand).callsFake((input: { TopicArn?: string }) => {
    const target = targetOfTopic.get(String(input.TopicArn)) ?? String(input.TopicArn);
    const attempt = als.getStore();
    return active.call(
      `Publish ${target}`,
      async () => ({ $metadata: { httpStatusCode: 200 }, MessageId: `m-${attempt?.name}-${target}` }),
      { throttle: () => awsError('ThrottledException'), fail: () => awsError('InternalErrorException', 'server') },
      {
        onApplied: (kind) => {
          active.accept(attempt, target);
          if (kind === 'lostAck') attempt?.unrecorded.add(target);
        },
      },
    );
  });
  eventsMock.on(PutEventsCommand).callsFake(() => {
    const attempt = als.getStore();
    return active.call<PutEventsCommandOutput>(
      'PutEvents',
      async () => ({ $metadata: { httpStatusCode: 200 }, FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] }),
      { throttle: () => awsError('ThrottlingException'), fail: () => awsError('InternalException', 'server') },
      {
        onApplied: (kind) => {
          active.accept(attempt, 'eventbridge');
          if (kind === 'lostAck') attempt?.unrecorded.add('eventbridge');
        },
        // HTTP 200, and the entry failed.
        partial: () => ({
          $metadata: { httpStatusCode: 200 },
          FailedEntryCount: 1,
          Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'Internal service error.' }],
        }),
      },
    );
  });
});

interface Plan {
  /** The round (90 s apart) in which each copy of the event is first delivered. */
  copies: number[];
  /** Per copy and attempt: whether a retry lands on the container of the last failed attempt (Lambda reuses it). */
  warm: boolean[];
  selfKey: boolean;
  faults: Fault[];
}

const faultArb = fc.record({
  copy: fc.nat({ max: 2 }),
  attempt: fc.nat({ max: ATTEMPTS - 1 }),
  call: fc.nat({ max: 24 }),
  kind: fc.constantFrom<FaultKind>('throttle', 'fail', 'lostAck', 'crash', 'crashAfter', 'partial'),
});

const planArb: fc.Arbitrary<Plan> = fc.record({
  copies: fc.array(fc.nat({ max: 2 }), { minLength: 1, maxLength: 3 }),
  warm: fc.array(fc.boolean(), { minLength: 9, maxLength: 9 }),
  selfKey: fc.boolean(),
  faults: fc.array(faultArb, { maxLength: 6 }),
});

interface Outcome {
  sends: Map<string, number>;
  excused: Map<string, number>;
  deadLettered: boolean;
  stuck: string[];
  targets: string[];
}

async function runPlan(plan: Plan, gate: Gate, idle: () => Promise<void>, applied?: Applied): Promise<Outcome> {
  const { sends, dynamodb } = world(gate, applied);
  let clock = T0;
  const settings = { selfKeyArn: plan.selfKey ? KEY : OTHER_KEY, lagRetries: 0 };
  // Each container (execution environment) has its own detector, so its own claim owner.
  const container = (): DetectorHandler => mockedDetector(dynamodb, () => clock, settings);
  const event = envelope(readRecord('PutKeyPolicy__awskmsdg__1'));
  const excused = new Map<string, number>();
  const chains = plan.copies.map((start, copy) => ({
    copy,
    start,
    attempts: 0,
    done: false,
    deadLettered: false,
    handler: undefined as DetectorHandler | undefined,
  }));
  const stuck: string[] = [];
  for (let round = 0; chains.some((c) => !c.done); round++) {
    clock = T0 + round * ROUND_MS;
    const running = chains.filter((c) => !c.done && c.start <= round);
    const attempts = running.map((chain) => {
      const attempt: Attempt = {
        name: `copy ${chain.copy} attempt ${chain.attempts}`,
        calls: 0,
        dead: false,
        faults: new Map(
          plan.faults.filter((f) => f.copy === chain.copy && f.attempt === chain.attempts).map((f) => [f.call, f.kind]),
        ),
        reached: new Set(),
        unrecorded: new Set(),
        recordFailed: false,
      };
      if (!chain.handler || !plan.warm[chain.copy * ATTEMPTS + chain.attempts]) chain.handler = container();
      const handler = chain.handler;
      const settled = { value: undefined as undefined | 'ok' | 'error' };
      const promise = als
        .run(attempt, () => handler(structuredClone(event), { getRemainingTimeInMillis: () => REMAINING_MS }))
        .then(
          () => {
            settled.value = 'ok';
          },
          () => {
            settled.value = 'error';
          },
        );
      return { chain, attempt, settled, promise };
    });
    await idle();
    for (const { chain, attempt, settled } of attempts) {
      if (!settled.value && !attempt.dead) stuck.push(attempt.name);
      // An invocation that timed out is gone with its container; Lambda retries it as a failure.
      if (attempt.dead) chain.handler = undefined;
      const unrecorded = attempt.dead || attempt.recordFailed ? attempt.reached : attempt.unrecorded;
      for (const target of unrecorded) excused.set(target, (excused.get(target) ?? 0) + 1);
      chain.attempts++;
      if (settled.value === 'ok') chain.done = true;
      else if (chain.attempts >= ATTEMPTS) {
        chain.done = true;
        chain.deadLettered = true;
      }
    }
    if (round > 20) throw new Error('the rounds never end');
  }
  const targets = ['chat', 'email', 'page', 'eventbridge', ...(plan.selfKey ? ['ops'] : [])];
  return { sends, excused, deadLettered: chains.some((c) => c.deadLettered), stuck, targets };
}

// Metrics are written to stdout on every invocation; a spy would keep every call.
const write = process.stdout.write;
beforeAll(() => {
  process.stdout.write = () => true;
});
afterAll(() => {
  process.stdout.write = write;
});

describe('the detector delivers each finding once per target, whatever fails', () => {
  it('loses nothing unless the event was dead-lettered, and sends nothing twice that it could know was sent', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), planArb, async (scheduler, plan) => {
        const outcome = await runPlan(plan, scheduled(scheduler), () => scheduler.waitIdle());
        expect(outcome.stuck).toEqual([]);
        const count = (target: string) => outcome.sends.get(target) ?? 0;
        const lost = outcome.deadLettered ? [] : outcome.targets.filter((target) => count(target) === 0);
        const twice = outcome.targets.filter((target) => count(target) > 1 + (outcome.excused.get(target) ?? 0));
        expect({ lost, twice }).toEqual({ lost: [], twice: [] });
      }),
      { numRuns: Number(process.env.RUNS ?? 100) },
    );
  });
});

/** Lets every call through at once, but those `hold` names, which wait for what they return. */
const inOrder =
  (hold: (label: string, attempt: Attempt | undefined, input: Record<string, unknown>) => Promise<void> | undefined) =>
  async (label: string, attempt: Attempt | undefined, input: Record<string, unknown>) => {
    await hold(label, attempt, input);
  };
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 20));
const plainPlan = (copies: number[], selfKey = false): Plan => ({
  copies,
  warm: Array(9).fill(false),
  selfKey,
  faults: [],
});

describe('the detector delivers each finding once per target: sequences found by the property', () => {
  it('sends nothing twice when a concurrent copy claims the event just after a failed attempt released it', async () => {
    // Copy 0's e-mail fails, and it releases the claim with chat, page and EventBridge delivered. Copy 1 loaded the
    // claim before that release, and claimed it just after.
    let released: () => void = () => {};
    const release = new Promise<void>((resolve) => {
      released = resolve;
    });
    const gate = inOrder((label, attempt, input) => {
      if (attempt?.name === 'copy 0 attempt 0' && label.endsWith('Publish email'))
        return Promise.reject(awsError('InternalErrorException', 'server'));
      if (attempt?.name === 'copy 1 attempt 0' && isClaim(input)) return release;
      return undefined;
    });
    const applied: Applied = (_what, attempt, input) => {
      if (attempt?.name === 'copy 0 attempt 0' && isRelease(input)) released();
    };

    const outcome = await runPlan(plainPlan([0, 0]), gate, settle, applied);

    expect(outcome.stuck).toEqual([]);
    expect(Object.fromEntries(outcome.sends)).toEqual({ chat: 1, email: 1, page: 1, eventbridge: 1 });
  });

  it("sends keydrift's own key's finding to ops once when an attempt failed before publishing and warned ops", async () => {
    // The first attempt's key policy read is throttled: the event on keydrift's own key goes to ops from the event
    // alone, and the retry judges it in full.
    const gate = inOrder((label, attempt) =>
      attempt?.name === 'copy 0 attempt 0' && label.endsWith('GetKeyPolicy')
        ? Promise.reject(kmsError('ThrottlingException', 'Rate exceeded'))
        : undefined,
    );

    const outcome = await runPlan(plainPlan([0], true), gate, settle);

    expect(outcome.stuck).toEqual([]);
    expect(Object.fromEntries(outcome.sends)).toEqual({ ops: 1, chat: 1, email: 1, page: 1, eventbridge: 1 });
  });
});
