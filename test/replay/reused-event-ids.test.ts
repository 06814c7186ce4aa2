/**
 * The same eventID twice counts once (DESIGN), but two different calls under one eventID are no copy of each
 * other: some public sample sets reuse "1", and a forged or mixed input could hide a critical write behind a
 * harmless one. Of such writes one is judged, chosen whatever the file order, and the other is reported by place.
 */
import * as path from 'node:path';
import { sessionIdentity, withSourceIdentity } from '../core/harness';
import {
  EXAMPLES,
  type Json,
  parseFindings,
  replayInProcess,
  runKeydrift,
  sample,
  samplePath,
  tempDir,
  writeFile,
} from '../helpers/keydrift';

const OTHER_KEY = '0987dcba-09fe-87dc-65ba-ab0987654321';

/** The Panther samples that reuse eventID "1": CreateTrail, DisableKey, ScheduleKeyDeletion, StopLogging twice. */
const PANTHER_ID_1 = [
  'CreateTrail__panther__1',
  'DisableKey__panther__1',
  'ScheduleKeyDeletion__panther__1',
  'StopLogging__panther__1',
  'StopLogging__panther__2',
].map(samplePath);

describe('writes that share an eventID but are different calls', () => {
  test('the Panther samples: CreateTrail is judged, each other call is a bad record naming both places and what differs', async () => {
    // Prepare
    const [createTrail, disableKey, scheduleDeletion, stopLogging, stopLoggingLater] = PANTHER_ID_1;
    const seen = `eventID 1 already seen for CreateTrail at ${createTrail}: record`;
    // Act
    const { findings, summary } = await replayInProcess(PANTHER_ID_1);
    // Assess: counted once, as DESIGN fixes; the four others are reported, not silently dropped.
    expect(findings.map((f) => [f.event, f.eventId])).toEqual([['CreateTrail', '1']]);
    expect(summary).toMatchObject({ records: 1, writes: 1, duplicates: 4 });
    const kmsNotTrail = 'eventSource kms.amazonaws.com, not cloudtrail.amazonaws.com';
    expect(summary.recordErrors).toEqual([
      `${disableKey}: record: ${seen}: this DisableKey record is ignored (eventName DisableKey, not CreateTrail; ${kmsNotTrail})`,
      `${scheduleDeletion}: record: ${seen}: this ScheduleKeyDeletion record is ignored (eventName ScheduleKeyDeletion, not CreateTrail; ${kmsNotTrail})`,
      `${stopLogging}: record: ${seen}: this StopLogging record is ignored (eventName StopLogging, not CreateTrail)`,
      `${stopLoggingLater}: record: ${seen}: this StopLogging record is ignored (eventName StopLogging, not CreateTrail; eventTime 2020-11-01T08:30:03Z, not 2019-01-01T00:00:00Z; recipientAccountId 493859302102, not 123456789012; awsRegion us-east-1, not us-west-2)`,
    ]);
  });

  test('which one is judged does not depend on the file order or on the worker threads', async () => {
    // Prepare: two writes of the same second and phase, DisableKey and ScheduleKeyDeletion, both eventID "1".
    const pair = [samplePath('ScheduleKeyDeletion__panther__1'), samplePath('DisableKey__panther__1')];
    // Act
    const runs = await Promise.all([
      replayInProcess(pair),
      replayInProcess([...pair].reverse()),
      replayInProcess(pair, { workers: 2 }),
    ]);
    // Assess: by name, DisableKey is judged whatever the order; ScheduleKeyDeletion is the one reported.
    for (const { findings, summary } of runs) {
      expect(findings.map((f) => f.event)).toEqual(['DisableKey']);
      expect(summary.recordErrors).toEqual([
        expect.stringMatching(
          new RegExp(
            `^${pair[0]}: record: eventID 1 already seen for DisableKey at ${pair[1]}: record: this ScheduleKeyDeletion record is ignored`,
          ),
        ),
      ]);
    }
  });

  test("a harmless write forged with a critical write's eventID is judged first, but the critical one is reported", () => {
    // Prepare: a TagResource given DisableKey's eventID, Region and an earlier time, in the same log file.
    const disable = sample('DisableKey__awskmsdg__1');
    const tag: Json = {
      ...sample('TagResource__awskmsdg__1'),
      eventID: disable.eventID,
      awsRegion: disable.awsRegion,
      eventTime: '2014-11-04T00:00:00Z',
    };
    const file = writeFile(path.join(tempDir(), 'log.json'), { Records: [disable, tag] });
    // Act
    const result = runKeydrift(['replay', '--format', 'json', file], { cwd: tempDir() });
    // Assess
    expect(parseFindings(result.stdout).map((f) => f.event)).toEqual(['TagResource']);
    expect(result.stderr).toContain(
      `bad record ${file}: Records[0]: eventID ${disable.eventID} already seen for TagResource at ${file}: Records[1]: ` +
        'this DisableKey record is ignored (eventName DisableKey, not TagResource; eventTime 2014-11-04T00:52:43Z, not 2014-11-04T00:00:00Z)',
    );
    expect(result.stderr).toContain('1 duplicate record(s) counted once');
  });

  test('a forged copy of the same call at the same time, naming another trail and user, is reported', async () => {
    // Prepare: the real StopLogging, and a copy with its eventID naming a decoy trail and another user.
    const stop = sample('StopLogging__stratus__1');
    const forged: Json = {
      ...stop,
      requestParameters: { name: 'decoy' },
      userIdentity: { ...(stop.userIdentity as Json), arn: 'arn:aws:iam::143434273843:user/innocent-bob' },
    };
    const dir = tempDir();
    const files = [
      writeFile(path.join(dir, 'a.json'), { Records: [forged] }),
      writeFile(path.join(dir, 'b.json'), { Records: [stop] }),
    ];
    // Act
    const { findings, summary } = await replayInProcess(files);
    // Assess: one is judged (DESIGN: once per eventID), and the other is reported with what differs.
    expect(findings).toHaveLength(1);
    expect(summary.recordErrors).toEqual([
      expect.stringMatching(/this StopLogging record is ignored \(user .*, not .*; other requestParameters\)$/),
    ]);
  });

  test('a forged copy naming another source identity behind the same session, or none, is reported', async () => {
    // Prepare: alice's DisableKey through the shared deployer role, and copies with its eventID that blame bob or
    // leave her out, in a file the sort puts first (same second and call: by place), so a copy is the one judged.
    const blaming = (sourceIdentity?: string) => {
      const session = sessionIdentity('platform-deployer', 'deploy-4711');
      const identity = sourceIdentity ? withSourceIdentity(session, sourceIdentity) : session;
      return { ...sample('DisableKey__awskmsdg__1'), userIdentity: identity };
    };
    const disable = blaming('alice@example.com');
    const dir = tempDir();
    const files = [
      writeFile(path.join(dir, 'a.json'), { Records: [blaming('bob@example.com')] }),
      writeFile(path.join(dir, 'b.json'), { Records: [disable] }),
      writeFile(path.join(dir, 'c.json'), { Records: [blaming(undefined)] }),
    ];
    // Act
    const { findings, summary } = await replayInProcess(files);
    // Assess: one judged, and the others said, not hidden as second deliveries.
    expect(findings).toHaveLength(1);
    expect(summary.recordErrors).toEqual([
      expect.stringMatching(
        /b\.json: .*this DisableKey record is ignored \(source identity alice@example\.com, not bob@example\.com\)$/,
      ),
      expect.stringMatching(
        /c\.json: .*this DisableKey record is ignored \(source identity none, not bob@example\.com\)$/,
      ),
    ]);
  });

  test('a copy in another account or Region (an organization trail holds every account) is reported, not merged', async () => {
    // Prepare: KMS deleting a key at the end of its waiting period: no caller and no request parameters, only the
    // account, Region and resources[] tell one deletion from another. The same eventID in account B, Region
    // eu-west-1, deletes B's key there.
    const deleted = sample('DeleteKey__awskmsdg__1');
    const elsewhere = JSON.parse(
      JSON.stringify(deleted).replaceAll('111122223333', '444455556666').replaceAll('us-west-2', 'eu-west-1'),
    );
    elsewhere.awsRegion = 'eu-west-1';
    // And in account A, the deletion of another key at the same second under that eventID.
    const anotherKey = JSON.parse(
      JSON.stringify(deleted).replaceAll('1234abcd-12ab-34cd-56ef-1234567890ab', OTHER_KEY),
    );
    const dir = tempDir();
    const files = [
      writeFile(path.join(dir, 'a.json'), { Records: [deleted] }),
      writeFile(path.join(dir, 'b.json'), { Records: [elsewhere] }),
      writeFile(path.join(dir, 'c.json'), { Records: [anotherKey] }),
    ];
    // Act
    const { findings, summary } = await replayInProcess(files);
    // Assess: one deletion judged, each other named with what differs, not counted as a second delivery.
    expect(findings).toHaveLength(1);
    expect(summary.recordErrors).toEqual([
      expect.stringMatching(
        /^.*b\.json: .*this DeleteKey record is ignored \(recipientAccountId 444455556666, not 111122223333; awsRegion eu-west-1, not us-east-1\)$/,
      ),
      expect.stringMatching(/^.*c\.json: .*this DeleteKey record is ignored \(other resources\)$/),
    ]);
  });

  test('a copy from EventBridge whose detail leaves out resources[] is a duplicate, not a bad record', async () => {
    // AWS's published "AWS API Call via CloudTrail" example has no resources[] in its detail.
    const disable = sample('DisableKey__awskmsdg__1');
    const { resources: _, ...detail } = disable;
    const event = { 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.kms', id: 'eb-1', detail };
    const dir = tempDir();
    const files = [
      writeFile(path.join(dir, 'log.json'), { Records: [disable] }),
      writeFile(path.join(dir, 'event.json'), event),
    ];
    const { findings, summary } = await replayInProcess(files);
    expect(findings).toHaveLength(1);
    expect(summary).toMatchObject({ duplicates: 1, recordErrors: [] });
  });

  test('the same record delivered twice (same call, time, user and parameters) is a duplicate, not a bad record', async () => {
    // The examples folder delivers one TagResource in two log files.
    const { summary } = await replayInProcess([EXAMPLES]);
    expect(summary.duplicates).toBe(1);
    expect(summary.recordErrors).toEqual([]);
  });

  test('two records of one second but different milliseconds are reported with the milliseconds', async () => {
    const disable = { ...sample('DisableKey__awskmsdg__1'), eventTime: '2014-11-04T00:52:43.250Z' };
    const copy = { ...disable, eventTime: '2014-11-04T00:52:43.750Z' };
    const file = writeFile(path.join(tempDir(), 'log.json'), { Records: [copy, disable] });
    const { summary } = await replayInProcess([file]);
    expect(summary.recordErrors).toEqual([
      expect.stringMatching(/eventTime 2014-11-04T00:52:43\.750Z, not 2014-11-04T00:52:43\.250Z\)$/),
    ]);
  });
});

describe('reads and other services’ records sharing an eventID', () => {
  test('count once without a report: only their fingerprints are kept (README), and a read never hides a write', async () => {
    // Prepare: an Encrypt given a Decrypt's eventID, and a DisableKey given it too.
    const decrypt = sample('Decrypt__awskmsdg__2');
    const encrypt = { ...sample('Encrypt__awskmsdg__1'), eventID: decrypt.eventID };
    const disable = { ...sample('DisableKey__awskmsdg__1'), eventID: decrypt.eventID };
    const file = writeFile(path.join(tempDir(), 'log.json'), { Records: [decrypt, encrypt, disable] });
    // Act
    const { findings, summary } = await replayInProcess([file]);
    // Assess
    expect(findings.map((f) => f.event)).toEqual(['DisableKey']);
    expect(summary).toMatchObject({ records: 2, reads: 1, writes: 1, duplicates: 1, recordErrors: [] });
  });
});
