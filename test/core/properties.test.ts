/**
 * Properties of the detection core, checked with fast-check, and the example story of examples/cloudtrail
 * judged at the core level.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { parseDetectionConfig } from '../../lambda/core/config';
import { Detector } from '../../lambda/core/detector';
import { groupChanges } from '../../lambda/core/judge';
import { MemoryStore } from '../../lambda/core/memory-store';
import { normalizeRecord } from '../../lambda/core/normalize';
import { diffPolicies, normalizePolicy, stableJson } from '../../lambda/core/policy';
import { MAP_ATTRIBUTES, splitPath } from '../../lambda/core/state';
import type { ChangeEvent, Finding } from '../../lambda/core/types';
import { parseBuffer } from '../../lambda/replay/parse-file';
import { replayInProcess, tempDir, writeFile } from '../helpers/keydrift';
import { ACCOUNT, KEY_ARN, rec } from './harness';

const STORY_DIR = path.resolve(__dirname, '../../examples/cloudtrail');
const STORY_CONFIG = parseDetectionConfig({ plannedPrincipals: ['arn:aws:iam::111122223333:role/platform-deployer'] });

function filesUnder(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((entry) => {
      const full = path.join(dir, entry);
      return statSync(full).isDirectory() ? filesUnder(full) : [full];
    });
}

/** The watched writes of the story, in file order (the duplicate TagResource included). */
const storyWrites: unknown[] = filesUnder(STORY_DIR).flatMap((file) =>
  parseBuffer(file, readFileSync(file)).writes.map((w) => w.raw),
);

/** Same-second events: creations first, deletions last (the replay's rule). */
function phase(eventName: string): number {
  if (eventName.startsWith('Create')) return 0;
  if (eventName.startsWith('Delete') || eventName === 'KMS CMK Deletion') return 2;
  return 1;
}

const byReplayOrder = (a: ChangeEvent, b: ChangeEvent): number =>
  a.epochMs - b.epochMs ||
  phase(a.eventName) - phase(b.eventName) ||
  (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);

/** What the replay does with records, at the core level: normalize, sort, each eventID once, a fresh detector. */
function judgeLikeReplay(records: unknown[]): Finding[] {
  const events = records.map((raw) => normalizeRecord(structuredClone(raw))).sort(byReplayOrder);
  const detector = new Detector(STORY_CONFIG, new MemoryStore(STORY_CONFIG.trailKeys));
  const seen = new Set<string>();
  const findings: Finding[] = [];
  for (const event of events) {
    if (seen.has(event.eventId)) continue;
    seen.add(event.eventId);
    findings.push(detector.observe(event));
  }
  return findings;
}

describe('Property: a state compared with itself', () => {
  const attribute = fc.constantFrom(
    'policy',
    'key_state',
    'description',
    'enable_key_rotation',
    'kms_key_id',
    'logging',
  );
  const mapPath = fc
    .tuple(
      fc.constantFrom(...MAP_ATTRIBUTES),
      fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes('#')),
    )
    .map(([map, entry]) => `${map}#${entry}`);
  const attributes = fc.dictionary(fc.oneof(attribute, mapPath), fc.jsonValue(), { maxKeys: 12 });

  it('groups, when every touched path keeps its value, only what is still off its baseline, marked already known (or, with nothing off it, all it touched, marked unchanged)', () => {
    const event = normalizeRecord(rec('PutKeyPolicy__awskmsdg__1'));
    fc.assert(
      fc.property(attributes, fc.option(attributes), (state, baseline) => {
        const paths = Object.entries(state).map(([p, value]) => ({
          path: p,
          before: value,
          after: structuredClone(value),
          baseline: baseline?.[p],
        }));
        const changes = groupChanges({ paths, notes: {}, resource: KEY_ARN, event });
        const offBaseline = paths.filter(
          (p) => p.baseline === undefined || stableJson(p.after) !== stableJson(p.baseline),
        );
        const named = offBaseline.length > 0 ? offBaseline : paths;
        expect(Object.keys(changes).sort()).toEqual([...new Set(named.map((p) => splitPath(p.path).attribute))].sort());
        const flag = offBaseline.length > 0 ? 'already_known' : 'unchanged';
        for (const change of Object.values(changes)) {
          expect(change).toMatchObject({ [flag]: true, before: change.after });
        }
      }),
    );
  });

  it('marks the touched attributes unchanged when every path is at its baseline (a seed that found it)', () => {
    const event = normalizeRecord(rec('PutKeyPolicy__awskmsdg__1'));
    const paths = [{ path: 'key_state', before: {}, after: {}, baseline: {} }];
    expect(groupChanges({ paths, notes: {}, resource: KEY_ARN, event })).toEqual({
      key_state: { before: {}, after: {}, unchanged: true },
    });
  });

  const principal = fc.oneof(
    fc.constant('*'),
    fc.constantFrom(ACCOUNT, '444455556666').map((id) => ({ AWS: id })),
    fc
      .array(fc.constantFrom(`arn:aws:iam::${ACCOUNT}:root`, 'arn:aws:iam::444455556666:role/x', ACCOUNT, '*'), {
        minLength: 1,
        maxLength: 3,
      })
      .map((aws) => ({ AWS: aws })),
    fc.constant({ Service: 'cloudtrail.amazonaws.com' }),
  );
  const statement = fc.record(
    {
      Sid: fc.string({ maxLength: 6 }),
      Effect: fc.constantFrom('Allow', 'Deny'),
      Principal: principal,
      Action: fc.subarray(['kms:*', 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*'], { minLength: 1 }),
      Resource: fc.constant('*'),
      Condition: fc.constantFrom(
        { StringEquals: { 'kms:CallerAccount': ACCOUNT } },
        { StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } },
        { StringNotEquals: { 'kms:CallerAccount': ACCOUNT } },
      ),
    },
    { requiredKeys: ['Effect', 'Principal', 'Action', 'Resource'] },
  );
  const policy = fc.record({ Version: fc.constant('2012-10-17'), Statement: fc.array(statement, { maxLength: 5 }) });

  it('finds no added, removed or outside principals between a policy and a reordered copy of it', () => {
    fc.assert(
      fc.property(policy, (doc) => {
        const reordered = { Statement: [...doc.Statement].reverse(), Version: doc.Version };
        const before = normalizePolicy(JSON.stringify(doc));
        const after = normalizePolicy(reordered);
        expect(after).toEqual(before);
        expect(diffPolicies(before, after, ACCOUNT)).toEqual({
          added_principals: [],
          removed_principals: [],
          external_accounts: [],
        });
      }),
    );
  });

  it('normalizes a normalized policy to itself', () => {
    fc.assert(
      fc.property(policy, (doc) => {
        const once = normalizePolicy(doc);
        expect(normalizePolicy(once)).toEqual(once);
      }),
    );
  });
});

describe('Property: order and repeats of the records', () => {
  const indexes = storyWrites.map((_, i) => i);

  // Judged by the replay itself: a copy of its ordering here would be compared with itself and could never fail.
  it('gives the same findings whatever the order of the records and however often they repeat', async () => {
    const dir = tempDir();
    let files = 0;
    const replayed = async (records: unknown[]): Promise<Finding[]> => {
      const file = writeFile(path.join(dir, `${files++}.json`), { Records: records });
      return (await replayInProcess([file], { config: STORY_CONFIG })).findings;
    };
    const deliveries = fc
      .subarray(indexes, { minLength: 1 })
      .chain((chosen) =>
        fc.tuple(
          fc.constant(chosen),
          fc.shuffledSubarray(chosen, { minLength: chosen.length }),
          fc.array(fc.constantFrom(...chosen), { maxLength: 8 }),
        ),
      );
    await fc.assert(
      fc.asyncProperty(deliveries, async ([chosen, shuffled, repeats]) => {
        const inOrder = await replayed(chosen.map((i) => storyWrites[i]));
        const delivered = await replayed([...shuffled, ...repeats].map((i) => storyWrites[i]));
        expect(JSON.stringify(delivered)).toBe(JSON.stringify(inOrder));
        expect(inOrder).toEqual(judgeLikeReplay(chosen.map((i) => storyWrites[i])));
      }),
      { numRuns: 150 },
    );
  });
});

describe('The example story (examples/cloudtrail)', () => {
  it('holds 17 watched writes, one of them delivered twice', () => {
    expect(storyWrites).toHaveLength(17);
  });

  it('reports one finding per change, with the severities and statuses of examples/README.md', () => {
    // Act
    const findings = judgeLikeReplay(storyWrites);
    // Assess
    const PAYMENTS = 'key/0f4a6c1e-93b7-4d25-8e1a-6c2f0b7d4a91';
    const AUDIT = 'key/c7d3e2b8-5a16-4f0e-b9c4-2e81a7f6d305';
    expect(
      findings.map((f) => [
        f.timestamp.slice(11, 19),
        f.event,
        f.resource.split(':').slice(5).join(':'),
        f.severity,
        f.status,
      ]),
    ).toEqual([
      ['09:01:12', 'CreateKey', PAYMENTS, 'info', 'planned'],
      ['09:01:27', 'CreateAlias', 'alias/payments', 'info', 'planned'],
      ['09:01:31', 'EnableKeyRotation', PAYMENTS, 'info', 'planned'],
      ['09:03:44', 'CreateKey', AUDIT, 'info', 'planned'],
      ['09:03:58', 'CreateAlias', 'alias/cloudtrail-logs', 'info', 'planned'],
      ['09:04:02', 'EnableKeyRotation', AUDIT, 'info', 'planned'],
      ['09:06:37', 'CreateTrail', 'trail/org-audit', 'info', 'planned'],
      ['09:06:39', 'StartLogging', 'trail/org-audit', 'info', 'planned'],
      // The README table says error; a grant an AWS service makes is routine (ServiceGrantsAreRoutine).
      ['11:42:17', 'CreateGrant', PAYMENTS, 'info', 'planned'],
      ['14:02:18', 'DisableKeyRotation', PAYMENTS, 'error', 'drift'],
      ['14:05:47', 'PutKeyPolicy', PAYMENTS, 'critical', 'drift'],
      ['14:09:03', 'TagResource', PAYMENTS, 'warning', 'drift'],
      ['14:20:29', 'PutKeyPolicy', AUDIT, 'warning', 'denied'],
      ['15:30:41', 'ScheduleKeyDeletion', PAYMENTS, 'critical', 'drift'],
      ['15:42:06', 'CancelKeyDeletion', PAYMENTS, 'info', 'drift'],
      ['16:10:52', 'UpdateTrail', 'trail/org-audit', 'critical', 'drift'],
    ]);
    const policy = findings[10];
    expect(policy.changes.policy).toMatchObject({
      added_principals: ['arn:aws:iam::444455556666:root'],
      removed_principals: [],
      external_accounts: ['444455556666'],
    });
    expect(policy.user).toMatch(
      /^arn:aws:sts::111122223333:assumed-role\/AWSReservedSSO_AdministratorAccess_[^/]+\/carol@example\.com$/,
    );
    expect(findings[11].changes).toEqual({
      tags: { before: { 'data-class': 'pci' }, after: { 'data-class': 'internal' } },
    });
    expect(findings[12].user).toBe('arn:aws:iam::111122223333:user/mallory');
    expect(findings[13].changes.deletion_date).toEqual({ before: null, after: '2026-10-10T15:30:41Z' });
    expect(findings[14].changes.key_state).toEqual({ before: 'PendingDeletion', after: 'Disabled' });
    expect(findings[15].changes.kms_key_id).toEqual({
      before: 'arn:aws:kms:eu-west-1:111122223333:key/c7d3e2b8-5a16-4f0e-b9c4-2e81a7f6d305',
      after: null,
    });
  });

  it('counts the pipeline work as drift without the planned principal, and carol turning rotation off as resolved', () => {
    const detector = new Detector(parseDetectionConfig({}), new MemoryStore());
    const events = storyWrites.map((raw) => normalizeRecord(structuredClone(raw))).sort(byReplayOrder);
    const seen = new Set<string>();
    const findings = events.filter((e) => !seen.has(e.eventId) && seen.add(e.eventId)).map((e) => detector.observe(e));
    const byEvent = (name: string) => findings.filter((f) => f.event === name).map((f) => [f.severity, f.status]);
    expect(byEvent('CreateKey')).toEqual([
      ['warning', 'drift'],
      ['warning', 'drift'],
    ]);
    expect(byEvent('EnableKeyRotation')).toEqual([
      ['info', 'drift'],
      ['info', 'drift'],
    ]);
    expect(byEvent('DisableKeyRotation')).toEqual([['info', 'resolved']]);
  });
});
