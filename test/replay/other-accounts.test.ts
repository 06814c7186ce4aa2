/**
 * An organization trail holds both copies of a cross-account call: the caller's account's and the key owner's.
 * The replay judges the owner's copy only, and says how many it left to their owners.
 */
import * as path from 'node:path';
import { formatSummary } from '../../lambda/cli/format';
import { type Json, replayInProcess, sample, tempDir, writeFile } from '../helpers/keydrift';

const OWNER = '999988887777';
const CALLER = '111122223333';
const SHARED_KEY = `arn:aws:kms:us-west-2:${OWNER}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

/** CreateGrant__awskmsdg__1 by Alice of the caller's account on the owner's key, as recorded in `recordedIn`. */
function copyIn(recordedIn: string, eventID: string): Json {
  const record = sample('CreateGrant__awskmsdg__1');
  return {
    ...record,
    eventID,
    sharedEventID: '3b1a6f7e-0000-4000-8000-00000000c0de',
    recipientAccountId: recordedIn,
    requestParameters: { ...(record.requestParameters as Json), keyId: SHARED_KEY },
    resources: [{ ARN: SHARED_KEY, accountId: OWNER, type: 'AWS::KMS::Key' }],
  };
}

describe('a cross-account call in an organization trail', () => {
  it("gives one finding, on the owner's key in the owner's account, and counts the caller's copy", async () => {
    const dir = tempDir();
    writeFile(path.join(dir, CALLER, 'log.json'), {
      Records: [copyIn(CALLER, 'aaaaaaaa-0000-4000-8000-000000000001')],
    });
    writeFile(path.join(dir, OWNER, 'log.json'), { Records: [copyIn(OWNER, 'bbbbbbbb-0000-4000-8000-000000000002')] });

    const { findings, summary } = await replayInProcess([dir]);

    expect(findings.map((f) => [f.eventId, f.account, f.resource])).toEqual([
      ['bbbbbbbb-0000-4000-8000-000000000002', OWNER, SHARED_KEY],
    ]);
    expect(summary).toMatchObject({ records: 2, writes: 2, otherAccounts: 1 });
    expect(formatSummary(summary, findings.length)).toContain(
      "; 1 call(s) on other accounts' resources, left to their owners",
    );
  });
});
