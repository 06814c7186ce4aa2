/**
 * KMS deletes a key's aliases with the key, with no DeleteAlias event: a log of CreateAlias, ScheduleKeyDeletion and
 * DeleteKey (real samples) leaves the alias gone in the replay's memory, so the name used again is a new alias.
 */
import * as path from 'node:path';
import { type Json, replayInProcess, sample, tempDir, writeFile } from '../helpers/keydrift';

const ACCOUNT = '111122223333';
const REGION = 'us-west-2';
const KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const OTHER_KEY_ID = '0987dcba-09fe-87dc-65ba-ab0987654321';
const OTHER_KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${OTHER_KEY_ID}`;

/** The samples (alias/ExampleAlias on the samples' key), in the key's Region, at `eventTime`. */
const recorded = (name: string, eventTime: string, fields: Json = {}): Json => ({
  ...sample(name),
  awsRegion: REGION,
  eventTime,
  eventID: `${name}@${eventTime}`,
  ...fields,
});

test('takes the alias as deleted with its key: the name created again on another key is a new alias', async () => {
  // Prepare: ScheduleKeyDeletion__awskmsdg__1 is made 2021-03-23T18:58:30Z, for 2021-04-12T18:58:30Z.
  const records = [
    recorded('CreateAlias__awskmsdg__1', '2021-03-20T10:00:00Z'),
    recorded('ScheduleKeyDeletion__awskmsdg__1', '2021-03-23T18:58:30Z'),
    recorded('DeleteKey__awskmsdg__1', '2021-04-12T19:42:07Z'),
    recorded('CreateAlias__awskmsdg__1', '2021-04-20T10:00:00Z', {
      requestParameters: { aliasName: 'alias/ExampleAlias', targetKeyId: OTHER_KEY_ID },
      resources: [{ ARN: OTHER_KEY }, { ARN: `arn:aws:kms:${REGION}:${ACCOUNT}:alias/ExampleAlias` }],
    }),
  ];
  const file = writeFile(path.join(tempDir(), 'log.json'), { Records: records });

  // Act
  const { findings } = await replayInProcess([file]);

  // Assess: one finding per record, none for the alias KMS deleted; the new alias is not moved from the deleted key.
  expect(findings.map((f) => [f.event, f.resource, f.severity])).toEqual([
    ['CreateAlias', `arn:aws:kms:${REGION}:${ACCOUNT}:alias/ExampleAlias`, 'warning'],
    ['ScheduleKeyDeletion', KEY, 'critical'],
    ['DeleteKey', KEY, 'critical'],
    ['CreateAlias', `arn:aws:kms:${REGION}:${ACCOUNT}:alias/ExampleAlias`, 'warning'],
  ]);
  expect(findings[3].changes.target_key_id).toEqual({ before: null, after: OTHER_KEY });
  // The key's deletion is the alias's only record: it names it.
  expect(findings[2].changes.key_state).toMatchObject({ after: 'Deleted', aliases_deleted: ['alias/ExampleAlias'] });
  expect(findings[2].summary).toBe(
    'Key alias/ExampleAlias deleted by KMS at the end of its waiting period; its alias alias/ExampleAlias went with it',
  );
});
