/**
 * A key KMS refuses to let keydrift read is known from its events only: whatever order EventBridge delivers them in
 * (each late one judged once the state a newer one saved is there), the state stored is the one in-time delivery leaves.
 * Rotation, state, policy, deletion, a refused call, imported material (which a rotation on demand leaves unknown), and
 * a tag, a grant and an alias, added and removed (each entry dated, its absence too; not an alias moved between keys).
 * Not a key state an event infers from the one before it (the deletion of imported material, after a DisableKey
 * delivered late, leaves the key Disabled).
 *
 * More runs: RUNS=500 npx jest test/handlers/unreadable-order.properties.test.ts
 */

import { DescribeTrailsCommand } from '@aws-sdk/client-cloudtrail';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PublishCommand } from '@aws-sdk/client-sns';
import fc from 'fast-check';
import { FakeDynamoDB } from '../../bench/fake-dynamodb';
import { createStateStore } from '../../lambda/adapters/state-store';
import { keyRef, kmsRecords } from '../helpers/cloudtrail-events';
import { type CloudTrailRecord, sample } from '../helpers/fixtures';
import { kmsError } from '../helpers/kms-api';
import {
  type CapturedOutput,
  captureOutput,
  envelope,
  type Json,
  mockDetectorClients,
  mockedDetector,
  readRecord,
} from './harness';

const REGION = 'us-west-2';
const KEY = keyRef('arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab');
const T0 = Date.parse('2026-11-01T09:00:00Z');
const RUNS = Number(process.env.RUNS ?? 60);

const { kmsMock, snsMock, eventsMock, trailMock, ddbMock } = mockDetectorClients();

const defaultPolicy = () => String((readRecord('PutKeyPolicy__awskmsdg__1').requestParameters as Json).policy);
const opened = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' },
    { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::444455556666:root' }, Action: 'kms:Decrypt', Resource: '*' },
  ],
});

type Change =
  | 'rotationOn'
  | 'rotationOff'
  | 'enable'
  | 'disable'
  | 'policyOpen'
  | 'policyDefault'
  | 'schedule'
  | 'cancel'
  | 'deniedOff'
  | 'rotateNow'
  | 'reimport'
  | 'tagAlice'
  | 'tagBob'
  | 'untag'
  | 'grant'
  | 'revoke'
  | 'retire'
  | 'alias'
  | 'unalias';
const CHANGES: Change[] = [
  'rotationOn',
  'rotationOff',
  'enable',
  'disable',
  'policyOpen',
  'policyDefault',
  'schedule',
  'cancel',
  'deniedOff',
  'rotateNow',
  'reimport',
  'tagAlice',
  'tagBob',
  'untag',
  'grant',
  'revoke',
  'retire',
  'alias',
  'unalias',
];
const GRANT = {
  grantId: '0c237476b39f8bc44e45212e08498fbe3151305030726c0590dd8d3e9f3d6a60',
  granteePrincipal: 'arn:aws:iam::111122223333:role/payments-app',
  operations: ['Decrypt'],
};

function record(change: Change, index: number): CloudTrailRecord {
  const ctx = { region: REGION, account: '111122223333', eventId: `e-${index}`, time: new Date(T0 + index * 60_000) };
  switch (change) {
    case 'rotationOn':
      return kmsRecords.enableKeyRotation(KEY, ctx);
    case 'rotationOff':
      return kmsRecords.disableKeyRotation(KEY, ctx);
    case 'enable':
      return kmsRecords.enableKey(KEY, ctx);
    case 'disable':
      return kmsRecords.disableKey(KEY, ctx);
    case 'policyOpen':
      return kmsRecords.putKeyPolicy(KEY, opened, ctx);
    case 'policyDefault':
      return kmsRecords.putKeyPolicy(KEY, defaultPolicy(), ctx);
    case 'schedule':
      return kmsRecords.scheduleKeyDeletion(
        KEY,
        { pendingWindowInDays: 7, deletionDate: new Date(T0 + 7 * 86_400_000 + index * 60_000) },
        ctx,
      );
    case 'cancel':
      return kmsRecords.cancelKeyDeletion(KEY, ctx);
    case 'deniedOff':
      return kmsRecords.disableKeyRotation(KEY, { ...ctx, error: { code: 'AccessDenied', message: 'no' } });
    case 'rotateNow':
      return kmsRecords.rotateKeyOnDemand(KEY, ctx);
    case 'reimport': {
      const r = Object.assign(sample('ImportKeyMaterial__awskmsdg__1') as CloudTrailRecord, {
        eventID: `e-${index}`,
        eventTime: new Date(T0 + index * 60_000).toISOString().replace('.000', ''),
      });
      (r.requestParameters as Json).validTo = `Jan ${index + 1}, 2027 8:00:00 PM`;
      return r;
    }
    case 'tagAlice':
      return kmsRecords.tagResource(KEY, { owner: 'alice' }, ctx);
    case 'tagBob':
      return kmsRecords.tagResource(KEY, { owner: 'bob' }, ctx);
    case 'untag':
      return kmsRecords.untagResource(KEY, ['owner'], ctx);
    case 'grant':
      return kmsRecords.createGrant(KEY, GRANT, ctx);
    case 'revoke':
      return kmsRecords.revokeGrant(KEY, GRANT.grantId, ctx);
    case 'retire':
      return kmsRecords.retireGrant(KEY, GRANT.grantId, ctx);
    case 'alias':
      return kmsRecords.createAlias('alias/payments', KEY, ctx);
    case 'unalias':
      return kmsRecords.deleteAlias('alias/payments', KEY, ctx);
  }
}

/** Delivers `records` in `order` (indexes), each judged a minute after the later of its time and the last judged. */
async function storedAfter(records: CloudTrailRecord[], order: number[]): Promise<Record<string, unknown>> {
  const table = new FakeDynamoDB();
  ddbMock.reset();
  table.install(ddbMock);
  const dynamodb = new DynamoDBClient({ region: REGION });
  let clock = T0;
  const detect = mockedDetector(dynamodb, () => clock);
  for (const index of order) {
    clock = Math.max(clock, Date.parse(String(records[index].eventTime))) + 60_000;
    await detect(envelope(records[index] as Json), undefined);
  }
  const loaded = await createStateStore({ client: dynamodb, tableName: 'keydrift' }).load([KEY.arn]);
  return loaded.states.get(KEY.arn)?.snapshot.attributes ?? {};
}

let output: CapturedOutput;
afterEach(() => output.restore());

beforeEach(() => {
  output = captureOutput();
  kmsMock.reset();
  kmsMock.onAnyCommand().rejects(kmsError('AccessDeniedException', 'not authorized to perform kms:DescribeKey'));
  snsMock.reset();
  snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
  eventsMock.reset();
  eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
  trailMock.reset();
  trailMock.on(DescribeTrailsCommand).resolves({ trailList: [] });
});

describe('a key keydrift cannot read, its changes delivered in any order', () => {
  it('ends with the state in-time delivery leaves', async () => {
    const plan = fc.array(fc.constantFrom(...CHANGES), { minLength: 2, maxLength: 5 }).chain((changes) =>
      fc.tuple(
        fc.constant(changes),
        fc.shuffledSubarray(
          changes.map((_, i) => i),
          { minLength: changes.length },
        ),
      ),
    );
    await fc.assert(
      fc.asyncProperty(plan, async ([changes, order]) => {
        const records = changes.map(record);
        const inTime = await storedAfter(
          records,
          changes.map((_, i) => i),
        );
        expect(await storedAfter(records, order)).toEqual(inTime);
      }),
      { numRuns: RUNS },
    );
  });
});
