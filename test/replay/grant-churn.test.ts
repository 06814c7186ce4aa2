/**
 * AWS services create and retire grants on a key all day. The replay sets aside the grants it saw end, so that a month
 * of them is not scanned again at every event; its findings stay exactly those of a replay that keeps every ended
 * grant: judged one by one, in eventTime order, by a detector that forgets nothing.
 */
import * as path from 'node:path';
import { DEFAULT_CONFIG } from '../../lambda/core/config';
import { Detector } from '../../lambda/core/detector';
import { MemoryStore } from '../../lambda/core/memory-store';
import { normalizeRecord } from '../../lambda/core/normalize';
import type { Finding } from '../../lambda/core/types';
import { EndedGrants } from '../../lambda/replay/ended-grants';
import { type Json, replayInProcess, sample, tempDir, writeFile } from '../helpers/keydrift';

const PAIRS = 150;
const START_MS = Date.parse('2026-10-01T00:00:00Z');

const KEY = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const at = (second: number) => new Date(START_MS + second * 1000).toISOString().replace('.000Z', 'Z');
const grantId = (n: number) => n.toString(16).padStart(64, '0');

/** A sample record at `second`, with its own eventID and the changes given. */
function record(name: string, second: number, eventID: string, changes: Json = {}): Json {
  return { ...sample(name), eventTime: at(second), eventID, ...changes };
}

/** Grant `n` created, then retired a second later: by Alice for even `n`, by DynamoDB (routine) for odd `n`. */
function pair(n: number): Json[] {
  const id = grantId(n);
  const service = n % 2 === 1;
  const create = record(service ? 'CreateGrant__awskmsdg__3' : 'CreateGrant__awskmsdg__2', 2 * n, `create-${n}`, {
    responseElements: { grantId: id },
  });
  const retire = record('RetireGrant__awskmsdg__1', 2 * n + 1, `retire-${n}`, {
    additionalEventData: { grantId: id },
    ...(service ? { userIdentity: create.userIdentity } : {}),
  });
  return [create, retire];
}

/**
 * Many create/retire pairs; retires of ended grants tried again (refused) or recorded twice; then a grant for someone
 * else, a policy put and that grant revoked.
 */
function churn(): Json[] {
  const end = 2 * PAIRS;
  const outsider = grantId(PAIRS + 1);
  return [
    ...Array.from({ length: PAIRS }, (_, n) => pair(n)).flat(),
    // A retire tried again (its first answer lost), and a revoke of a grant a service retired: KMS refuses both.
    record('RetireGrant__awskmsdg__1', end, 'retire-again', {
      additionalEventData: { grantId: grantId(4) },
      errorCode: 'NotFoundException',
      errorMessage: 'Grant does not exist',
    }),
    // The same retire under a second eventID (a log put together from two copies).
    record('RetireGrant__awskmsdg__1', end + 1, 'retire-twice', { additionalEventData: { grantId: grantId(10) } }),
    record('RevokeGrant__awskmsdg__1', end + 2, 'revoke-ended', {
      requestParameters: { keyId: '1234abcd-12ab-34cd-56ef-1234567890ab', grantId: grantId(7) },
      errorCode: 'NotFoundException',
      errorMessage: 'Grant does not exist',
    }),
    record('CreateGrant__awskmsdg__1', end + 3, 'create-outsider', { responseElements: { grantId: outsider } }),
    record('PutKeyPolicy__awskmsdg__1', end + 4, 'policy'),
    record('RevokeGrant__awskmsdg__1', end + 5, 'revoke-outsider', {
      requestParameters: { keyId: '1234abcd-12ab-34cd-56ef-1234567890ab', grantId: outsider },
    }),
  ];
}

/** The findings of a detector that keeps every ended grant, judging `records` in eventTime order. */
function keepingEveryGrant(records: Json[]): Finding[] {
  const detector = new Detector(DEFAULT_CONFIG, new MemoryStore(DEFAULT_CONFIG.trailKeys));
  const events = records.map((raw) => normalizeRecord(raw)).sort((a, b) => a.epochMs - b.epochMs);
  return events.flatMap((event) => detector.observeOwn(event) ?? []);
}

describe.each([
  ['a key the log first meets through its grants', []],
  ['a key whose creation the log holds', [record('CreateKey__awskmsdg__1', -1, 'create-key')]],
])('%s, with many grants created and retired', (_, before: Json[]) => {
  let records: Json[];
  let findings: Finding[];

  beforeAll(async () => {
    records = [...before, ...churn()];
    const file = writeFile(path.join(tempDir(), 'grants.json'), { Records: records });
    ({ findings } = await replayInProcess([file]));
  });

  test('the replay reports exactly what a replay keeping every ended grant reports', () => {
    expect(findings).toEqual(keepingEveryGrant(records));
  });

  test('a retire refused for a grant long ended is denied; one recorded twice changed nothing', () => {
    const byId = (id: string) => findings.find((f) => f.eventId === id);
    expect([byId('retire-again')?.status, byId('revoke-ended')?.status]).toEqual(['denied', 'denied']);
    const twice = byId('retire-twice');
    expect(twice?.changes.grants).toEqual({
      before: { [grantId(10)]: null },
      after: { [grantId(10)]: null },
      unchanged: true,
    });
    expect(twice?.summary).toMatch(/changed nothing: already at its baseline/);
  });

  test('the grant for someone else, the policy put and its revoke are judged after all of them', () => {
    const late = findings.filter((f) => ['create-outsider', 'policy', 'revoke-outsider'].includes(f.eventId));
    expect(late.map((f) => f.event)).toEqual(['CreateGrant', 'PutKeyPolicy', 'RevokeGrant']);
    expect(late[0].status).toBe('drift');
    expect(late[2].status).toBe('resolved');
  });
});

test("the replay's store keeps a key's grants still in place, not every grant it ever had", () => {
  const store = new MemoryStore();
  const detector = new Detector(DEFAULT_CONFIG, store);
  const endedGrants = new EndedGrants(store);
  for (const raw of churn()) {
    const event = normalizeRecord(raw);
    endedGrants.restore(event);
    const finding = detector.observeOwn(event);
    if (finding) endedGrants.setAside(event, finding.resource);
  }
  const grants = (attributes: Record<string, unknown> = {}) =>
    Object.keys(attributes).filter((p) => p.startsWith('grants#'));
  expect(grants(store.snapshot(KEY)?.attributes)).toEqual([]);
  expect(grants(store.baseline(KEY)?.attributes)).toEqual([]);
  expect(grants(store.snapshot(KEY)?.changedAt)).toEqual([]);
});

test('a grant among many left in place undoes itself and 20 others, and counts the rest with the read that lists them', async () => {
  // Prepare: Alice creates 26 grants and retires none (an application that leaks them).
  const leaked = 26;
  const creates = Array.from({ length: leaked }, (_, n) =>
    record('CreateGrant__awskmsdg__2', n, `leak-${n}`, { responseElements: { grantId: grantId(n) } }),
  );
  const file = writeFile(path.join(tempDir(), 'leaked-grants.json'), JSON.stringify({ Records: creates }));

  // Act
  const { findings } = await replayInProcess([file]);

  // Assess: the last grant's own revoke, the first 20 of the 25 others, then one line for the 5 left
  const last = findings.find((f) => f.eventId === `leak-${leaked - 1}`);
  const revoked = (last?.remediation ?? []).flatMap(
    (c) => /^aws kms revoke-grant .* --grant-id (\w+)$/.exec(c)?.[1] ?? [],
  );
  expect(revoked).toEqual([grantId(leaked - 1), ...Array.from({ length: 20 }, (_, n) => grantId(n))]);
  expect(last?.remediation.at(-1)).toBe(
    `# 5 more grants entries differ from the approved baseline (each its own finding); list them: aws kms list-grants --key-id ${KEY} --region us-west-2`,
  );
  expect(last?.remediation).toHaveLength(22);
});
