/**
 * CloudTrail times calls to the second. An alias deleted and created again in the same second (repointed to
 * another key) can only have been deleted first: the name cannot be created while it exists.
 */
import * as path from 'node:path';
import { type Json, replayInProcess, sample, tempDir, writeFile } from '../helpers/keydrift';

const ACCOUNT = '111122223333';
const OTHER_ACCOUNT = '444455556666';
const REGION = 'us-east-1';
const keyArn = (id: string, account = ACCOUNT) => `arn:aws:kms:${REGION}:${account}:key/${id}`;
const aliasArnIn = (account: string) => `arn:aws:kms:${REGION}:${account}:alias/payments`;
const PAYMENTS_KEY = '1234abcd-12ab-34cd-56ef-1234567890ab';
const OTHER_KEY = '0987dcba-09fe-87dc-65ba-ab0987654321';

/** A real alias record (CreateAlias or DeleteAlias) on `aliasName` for `keyId`, at `eventTime`, in `account`. */
function aliasCall(
  name: 'CreateAlias' | 'DeleteAlias',
  keyId: string,
  eventTime: string,
  eventID: string,
  aliasName = 'alias/payments',
  account = ACCOUNT,
): Json {
  const record = sample(`${name}__awskmsdg__1`);
  const aliasArn = aliasArnIn(account);
  return {
    ...record,
    awsRegion: REGION,
    recipientAccountId: account,
    eventTime,
    eventID,
    requestParameters: name === 'CreateAlias' ? { aliasName, targetKeyId: keyId } : { aliasName },
    resources: [
      { ARN: aliasName === 'alias/payments' ? aliasArn : `${aliasArn.split(':alias/')[0]}:${aliasName}` },
      { ARN: keyArn(keyId, account) },
    ],
  };
}

async function replayRecords(records: Json[]) {
  const file = writeFile(path.join(tempDir(), 'log.json'), { Records: records });
  return replayInProcess([file]);
}

describe('an alias deleted and created again in the same second', () => {
  test('is judged deleted first, so the alias ends on the key it was created for', async () => {
    // Act: alias/payments exists on the payments key; within one second it is moved to another key.
    const { findings } = await replayRecords([
      aliasCall('CreateAlias', OTHER_KEY, '2026-10-03T12:00:01Z', 'recreate'),
      aliasCall('DeleteAlias', PAYMENTS_KEY, '2026-10-03T12:00:01Z', 'delete'),
      aliasCall('CreateAlias', PAYMENTS_KEY, '2026-10-03T11:00:00Z', 'create'),
    ]);

    // Assess
    expect(findings.map((f) => f.eventId)).toEqual(['create', 'delete', 'recreate']);
    expect(findings[2].changes.target_key_id).toEqual({ before: null, after: keyArn(OTHER_KEY) });
  });

  test('tells apart aliases whose names end alike (alias/team-a/db, alias/team-b/db)', async () => {
    const { findings } = await replayRecords([
      aliasCall('DeleteAlias', PAYMENTS_KEY, '2026-10-03T12:00:01Z', 'delete-a', 'alias/team-a/db'),
      aliasCall('CreateAlias', OTHER_KEY, '2026-10-03T12:00:01Z', 'create-b', 'alias/team-b/db'),
    ]);

    expect(findings.map((f) => f.eventId)).toEqual(['create-b', 'delete-a']);
  });

  test('keeps a name first created and then deleted in one second in that order when it did not exist', async () => {
    const { findings } = await replayRecords([
      aliasCall('CreateAlias', PAYMENTS_KEY, '2026-10-03T11:00:00Z', 'create'),
      aliasCall('DeleteAlias', PAYMENTS_KEY, '2026-10-03T11:30:00Z', 'delete'),
      aliasCall('DeleteAlias', OTHER_KEY, '2026-10-03T12:00:01Z', 'delete-again'),
      aliasCall('CreateAlias', OTHER_KEY, '2026-10-03T12:00:01Z', 'create-again'),
    ]);

    expect(findings.map((f) => f.eventId)).toEqual(['create', 'delete', 'create-again', 'delete-again']);
  });

  test('in one account is told by what that account did to the name, not by another account of an organization trail', async () => {
    // Act: account A deleted its alias/payments; later, in the same Region, account B moved its own alias/payments
    // to another key within one second.
    const other = (name: 'CreateAlias' | 'DeleteAlias', keyId: string, time: string, id: string) =>
      aliasCall(name, keyId, time, id, 'alias/payments', OTHER_ACCOUNT);
    const { findings } = await replayRecords([
      aliasCall('CreateAlias', PAYMENTS_KEY, '2026-10-03T09:00:00Z', 'a-create'),
      aliasCall('DeleteAlias', PAYMENTS_KEY, '2026-10-03T10:00:00Z', 'a-delete'),
      other('CreateAlias', PAYMENTS_KEY, '2026-10-03T09:00:00Z', 'b-create'),
      other('CreateAlias', OTHER_KEY, '2026-10-03T12:00:01Z', 'b-recreate'),
      other('DeleteAlias', PAYMENTS_KEY, '2026-10-03T12:00:01Z', 'b-delete'),
    ]);

    // Assess: B's alias ends on the other key, drift, not deleted and back at its baseline.
    expect(findings.map((f) => f.eventId)).toEqual(['a-create', 'b-create', 'a-delete', 'b-delete', 'b-recreate']);
    const recreated = findings[4];
    expect(recreated.resource).toBe(aliasArnIn(OTHER_ACCOUNT));
    expect(recreated.changes.target_key_id).toEqual({ before: null, after: keyArn(OTHER_KEY, OTHER_ACCOUNT) });
    expect(recreated.status).toBe('drift');
  });
});
