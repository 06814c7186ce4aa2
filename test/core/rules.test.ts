/**
 * The escalation rules in lambda/core/rules, each judged on the contexts the detector builds from real
 * records: the verdict of the rule's last call is what these tests assert.
 */
import { ALL_RULES, type Rule, type RuleOutcome } from '../../lambda/core/rules';
import { AliasStaysOnApprovedKey } from '../../lambda/core/rules/AliasStaysOnApprovedKey';
import { NoOutsideAccessGained } from '../../lambda/core/rules/NoOutsideAccessGained';
import { RotationPeriodNotLengthened } from '../../lambda/core/rules/RotationPeriodNotLengthened';
import { ServiceGrantsAreRoutine } from '../../lambda/core/rules/ServiceGrantsAreRoutine';
import { TrailKeepsKmsKey } from '../../lambda/core/rules/TrailKeepsKmsKey';
import { TrailKeyKeepsCloudTrailAccess } from '../../lambda/core/rules/TrailKeyKeepsCloudTrailAccess';
import { TrailKeyStaysInAccount } from '../../lambda/core/rules/TrailKeyStaysInAccount';
import { TrailKeyStaysUsable } from '../../lambda/core/rules/TrailKeyStaysUsable';
import { TrailLogsKmsManagementEvents } from '../../lambda/core/rules/TrailLogsKmsManagementEvents';
import type { CloudTrailRecord } from '../helpers/fixtures';
import {
  ACCOUNT,
  ALICE,
  at,
  by,
  cloudTrailStatement,
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
  REGION,
  rec,
  sessionIdentity,
  TRAIL_ARN,
} from './harness';

/** Runs the records and returns what `rule` answered for the last one. */
function verdictOf(rule: Rule, records: CloudTrailRecord[], configInput?: unknown): RuleOutcome {
  const spy = jest.spyOn(rule, 'check');
  try {
    detect(records, configInput);
    const result = spy.mock.results[spy.mock.results.length - 1];
    expect(result?.type).toBe('return');
    return result.value as RuleOutcome;
  } finally {
    spy.mockRestore();
  }
}

const COMPLIANT = { verdict: 'COMPLIANT' };
const NOT_APPLICABLE = { verdict: 'NOT_APPLICABLE' };
const nonCompliant = (reason: string | RegExp) => ({
  verdict: 'NON_COMPLIANT',
  reason: typeof reason === 'string' ? reason : expect.stringMatching(reason),
});

/** A key whose policy lets CloudTrail encrypt logs, and trail org-audit encrypted with it. */
const trailKeySetup = (): CloudTrailRecord[] => [
  createKey({ policy: policyWith(cloudTrailStatement()) }),
  createTrail('org-audit', KEY_ARN),
];

describe('Rule: NoOutsideAccessGained', () => {
  it('is COMPLIANT when a policy change keeps every principal inside the account', () => {
    const records = [
      createKey(),
      putKeyPolicy(policyWith({ Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'kms:Decrypt', Resource: '*' })),
    ];
    expect(verdictOf(NoOutsideAccessGained, records)).toEqual(COMPLIANT);
  });

  it('is NON_COMPLIANT when a policy change lets another account use the key', () => {
    const opened = policyWith({
      Effect: 'Allow',
      Principal: { AWS: EXTERNAL_ACCOUNT },
      Action: 'kms:Decrypt',
      Resource: '*',
    });
    expect(verdictOf(NoOutsideAccessGained, [createKey(), putKeyPolicy(opened)])).toEqual(
      nonCompliant(`account ${EXTERNAL_ACCOUNT} gained access to the key`),
    );
  });

  it('is NON_COMPLIANT, naming anyone, when a policy change opens the key to every principal', () => {
    const open = policyWith({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Resource: '*' });
    expect(verdictOf(NoOutsideAccessGained, [createKey(), putKeyPolicy(open)])).toEqual(
      nonCompliant('anyone can now use the key'),
    );
  });

  it('is NON_COMPLIANT when a grant is created for another account', () => {
    const grant = rec('CreateGrant__awskmsdg__1', (r) => {
      (r.requestParameters as Record<string, unknown>).granteePrincipal =
        `arn:aws:iam::${EXTERNAL_ACCOUNT}:role/reader`;
    });
    expect(verdictOf(NoOutsideAccessGained, [grant])).toEqual(nonCompliant(/account 444455556666/));
  });

  it('is NOT_APPLICABLE to a change that touches neither policy nor grants', () => {
    expect(verdictOf(NoOutsideAccessGained, [rec('DisableKey__awskmsdg__1')])).toEqual(NOT_APPLICABLE);
  });
});

describe('Rule: ServiceGrantsAreRoutine', () => {
  it('is NON_COMPLIANT (lowering the severity) when an AWS service creates a grant for its caller', () => {
    expect(verdictOf(ServiceGrantsAreRoutine, [rec('CreateGrant__awskmsdg__3')])).toEqual(
      nonCompliant('dynamodb.amazonaws.com manages this grant for its caller'),
    );
  });

  it('is COMPLIANT when a person creates the grant', () => {
    expect(verdictOf(ServiceGrantsAreRoutine, [rec('CreateGrant__awskmsdg__1')])).toEqual(COMPLIANT);
  });

  it('is COMPLIANT when the call was made for its caller by something that names no service (AWS Internal)', () => {
    const grant = rec('CreateGrant__awskmsdg__1', (r) => {
      (r.userIdentity as Record<string, unknown>).invokedBy = 'AWS Internal';
    });
    expect(verdictOf(ServiceGrantsAreRoutine, [grant])).toEqual(COMPLIANT);
  });

  it('is COMPLIANT when a service-made grant lets another account in', () => {
    const grant = rec('CreateGrant__awskmsdg__3', (r) => {
      (r.requestParameters as Record<string, unknown>).granteePrincipal = `arn:aws:iam::${EXTERNAL_ACCOUNT}:root`;
    });
    expect(verdictOf(ServiceGrantsAreRoutine, [grant])).toEqual(COMPLIANT);
  });

  it('is NOT_APPLICABLE to events other than grant changes', () => {
    expect(verdictOf(ServiceGrantsAreRoutine, [rec('TagResource__awskmsdg__1')])).toEqual(NOT_APPLICABLE);
  });
});

describe('Rule: TrailKeyKeepsCloudTrailAccess', () => {
  it('is NON_COMPLIANT when the policy of a trail key stops letting CloudTrail generate data keys', () => {
    expect(verdictOf(TrailKeyKeepsCloudTrailAccess, [...trailKeySetup(), putKeyPolicy(policyWith())])).toEqual(
      nonCompliant(`CloudTrail can no longer encrypt the logs of ${TRAIL_ARN} with this key`),
    );
  });

  it('is COMPLIANT when the policy of a trail key changes but keeps CloudTrail statement', () => {
    const reworded = policyWith(cloudTrailStatement(), {
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/Alice` },
      Action: 'kms:DescribeKey',
      Resource: '*',
    });
    expect(verdictOf(TrailKeyKeepsCloudTrailAccess, [...trailKeySetup(), putKeyPolicy(reworded)])).toEqual(COMPLIANT);
  });

  it('is NOT_APPLICABLE to a policy change on a key no trail uses', () => {
    expect(verdictOf(TrailKeyKeepsCloudTrailAccess, [createKey(), putKeyPolicy(policyWith())])).toEqual(NOT_APPLICABLE);
  });
});

describe('Rule: TrailKeyStaysUsable', () => {
  it('is NON_COMPLIANT when the key of a trail is disabled', () => {
    expect(verdictOf(TrailKeyStaysUsable, [...trailKeySetup(), onKey(rec('DisableKey__awskmsdg__1'))])).toEqual(
      nonCompliant(`the key encrypting the logs of ${TRAIL_ARN} is now Disabled`),
    );
  });

  it('is NON_COMPLIANT when the key of a trail is scheduled for deletion', () => {
    const schedule = onKey(rec('ScheduleKeyDeletion__awskmsdg__1'));
    expect(verdictOf(TrailKeyStaysUsable, [...trailKeySetup(), schedule])).toEqual(
      nonCompliant(/is now PendingDeletion$/),
    );
  });

  it('is COMPLIANT when the key of a trail is enabled again', () => {
    const records = [...trailKeySetup(), onKey(rec('DisableKey__awskmsdg__1')), onKey(rec('EnableKey__awskmsdg__1'))];
    expect(verdictOf(TrailKeyStaysUsable, records)).toEqual(COMPLIANT);
  });

  it('is NOT_APPLICABLE when the disabled key encrypts no trail', () => {
    expect(verdictOf(TrailKeyStaysUsable, [createKey(), onKey(rec('DisableKey__awskmsdg__1'))])).toEqual(
      NOT_APPLICABLE,
    );
  });
});

describe('Rule: AliasStaysOnApprovedKey', () => {
  const ALIAS_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:alias/payments`;
  const mallory = sessionIdentity('Ops', 'mallory');
  /** alias/payments created on the key by Alice (a planned principal), then deleted by Mallory. */
  const approvedThenDeleted = (): CloudTrailRecord[] => [
    at(createAlias('alias/payments', KEY_ID), 'create-1', '2024-01-01T00:00:01Z'),
    by(
      at(
        rec('DeleteAlias__awskmsdg__1', (r) => {
          r.awsRegion = REGION;
          r.requestParameters = { aliasName: 'alias/payments' };
          r.resources = [{ ARN: KEY_ARN }, { ARN: ALIAS_ARN }];
        }),
        'delete-1',
        '2024-01-01T00:00:02Z',
      ),
      mallory,
    ),
  ];
  const planned = { plannedPrincipals: [ALICE] };

  it('is NON_COMPLIANT when an alias approved on one key is created again on another: an error, as a move is', () => {
    // Act: Mallory creates the alias again, on another key (a move in two calls, DeleteAlias then CreateAlias).
    const recreated = by(at(createAlias('alias/payments', OTHER_KEY_ID), 'create-2', '2024-01-01T00:00:03Z'), mallory);
    const records = [...approvedThenDeleted(), recreated];

    // Assess: CreateAlias alone is a warning (not alerted by default); onto another key than the approved one, an error
    // whose undo moves it back.
    expect(verdictOf(AliasStaysOnApprovedKey, records, planned)).toEqual(
      nonCompliant(`the alias now names ${OTHER_KEY_ARN} instead of its approved key ${KEY_ARN}`),
    );
    const { last } = detect(records, planned);
    expect(last).toMatchObject({ event: 'CreateAlias', status: 'drift', severity: 'error' });
    expect(last.remediation).toEqual([
      `aws kms update-alias --alias-name alias/payments --region ${REGION} --target-key-id ${KEY_ARN}`,
    ]);
  });

  it('is COMPLIANT when the alias is created again on its approved key', () => {
    const recreated = by(at(createAlias('alias/payments', KEY_ID), 'create-2', '2024-01-01T00:00:03Z'), mallory);
    expect(verdictOf(AliasStaysOnApprovedKey, [...approvedThenDeleted(), recreated], planned)).toEqual(COMPLIANT);
  });

  it('does not apply while keydrift still knows the alias on its key: how it went is unseen, maybe with its key', () => {
    // Act: no DeleteAlias seen; the alias is created on another key (its key's deletion was seen only as a live read
    // already showing the alias there, which keeps it on the deleted key, or its DeleteAlias is still to come).
    const created = at(createAlias('alias/payments', KEY_ID), 'create-1', '2024-01-01T00:00:01Z');
    const recreated = by(at(createAlias('alias/payments', OTHER_KEY_ID), 'create-2', '2024-01-01T00:00:03Z'), mallory);

    // Assess: not known to be a move; a DeleteAlias delivered late is an error of its own.
    expect(verdictOf(AliasStaysOnApprovedKey, [created, recreated], planned)).toEqual(NOT_APPLICABLE);
    expect(detect([created, recreated], planned).last).toMatchObject({ event: 'CreateAlias', severity: 'warning' });
  });

  it('does not apply to UpdateAlias: its own severity, an override of it included, holds', () => {
    // Act: Mallory moves the approved alias by UpdateAlias, whose severity the configuration lowers to a warning.
    const created = at(createAlias('alias/my_alias', OTHER_KEY_ID), 'create-1', '2024-01-01T00:00:01Z');
    const moved = by(at(rec('UpdateAlias__awskmsdg__1'), 'update-1', '2024-01-01T00:00:02Z'), mallory);
    const overridden = { ...planned, severityOverrides: { UpdateAlias: 'warning' } };

    // Assess: as before this rule, the override decides; the rule is for the move's CreateAlias alone.
    expect(verdictOf(AliasStaysOnApprovedKey, [created, moved], overridden)).toEqual(NOT_APPLICABLE);
    expect(detect([created, moved], overridden).last).toMatchObject({
      event: 'UpdateAlias',
      status: 'drift',
      severity: 'warning',
    });
  });

  it('does not apply to an alias no baseline approves on a key: a new alias stays a warning', () => {
    const created = by(at(createAlias('alias/payments', OTHER_KEY_ID), 'create-1'), mallory);
    expect(verdictOf(AliasStaysOnApprovedKey, [created], planned)).toEqual(NOT_APPLICABLE);
    expect(detect([created], planned).last).toMatchObject({ event: 'CreateAlias', severity: 'warning' });
  });
});

describe('Rule: RotationPeriodNotLengthened', () => {
  const enableRotation = (days: number, eventId: string) =>
    at(
      onKey(
        rec('EnableKeyRotation__awskmsdg__1', (r) => {
          (r.requestParameters as Record<string, unknown>).rotationPeriodInDays = days;
        }),
      ),
      eventId,
    );

  it('is NON_COMPLIANT, and a warning, when rotation gets rarer (90 to 2560 days)', () => {
    const records = [createKey(), enableRotation(90, 'rotate-1'), enableRotation(2560, 'rotate-2')];
    expect(verdictOf(RotationPeriodNotLengthened, records)).toEqual(
      nonCompliant('automatic rotation now every 2560 days instead of every 90'),
    );
    expect(detect(records).last).toMatchObject({ severity: 'warning', status: 'drift' });
  });

  it('holds rotation turned on again after it was turned off to its approved period', () => {
    // Prepare: Alice (planned) rotates the key every 90 days; mallory turns rotation off, then on every 2560 days.
    const mallory = sessionIdentity('ReadOnly', 'mallory');
    const records = [
      at(createKey(), 'create-1', '2024-01-01T00:00:00Z'),
      at(enableRotation(90, 'rotate-1'), 'rotate-1', '2024-01-02T00:00:00Z'),
      by(at(onKey(rec('DisableKeyRotation__awskmsdg__1')), 'rotate-2', '2024-01-03T00:00:00Z'), mallory),
      by(at(enableRotation(2560, 'rotate-3'), 'rotate-3', '2024-01-04T00:00:00Z'), mallory),
    ];
    const planned = { plannedPrincipals: [ALICE] };
    expect(verdictOf(RotationPeriodNotLengthened, records, planned)).toEqual(
      nonCompliant('automatic rotation now every 2560 days instead of every 90'),
    );
    expect(detect(records, planned).last).toMatchObject({ severity: 'warning', status: 'drift' });
  });

  it('is COMPLIANT when rotation gets more frequent, and NOT_APPLICABLE when it is first turned on', () => {
    expect(
      verdictOf(RotationPeriodNotLengthened, [
        createKey(),
        enableRotation(365, 'rotate-1'),
        enableRotation(90, 'rotate-2'),
      ]),
    ).toEqual(COMPLIANT);
    expect(verdictOf(RotationPeriodNotLengthened, [createKey(), enableRotation(90, 'rotate-1')])).toEqual(
      NOT_APPLICABLE,
    );
  });

  it('is COMPLIANT when rotation is turned on again, after it was off, at its approved period', () => {
    const mallory = sessionIdentity('ReadOnly', 'mallory');
    const records = [
      at(createKey(), 'create-1', '2024-01-01T00:00:00Z'),
      at(enableRotation(90, 'rotate-1'), 'rotate-1', '2024-01-02T00:00:00Z'),
      by(at(onKey(rec('DisableKeyRotation__awskmsdg__1')), 'rotate-2', '2024-01-03T00:00:00Z'), mallory),
      by(at(enableRotation(90, 'rotate-3'), 'rotate-3', '2024-01-04T00:00:00Z'), mallory),
    ];
    expect(verdictOf(RotationPeriodNotLengthened, records, { plannedPrincipals: [ALICE] })).toEqual(COMPLIANT);
  });
});

describe('Rule: TrailKeepsKmsKey', () => {
  it('is NON_COMPLIANT when an UpdateTrail removes the KMS key of a trail', () => {
    expect(
      verdictOf(TrailKeepsKmsKey, [createTrail('org-audit', KEY_ARN), onTrail(rec('UpdateTrail__streamalert__1'))]),
    ).toEqual(nonCompliant(/left without a KMS key/));
  });

  it('is COMPLIANT when an UpdateTrail moves the trail to another key', () => {
    const update = onTrail(
      rec('UpdateTrail__streamalert__1', (r) => {
        (r.requestParameters as Record<string, unknown>).kmsKeyId = 'alias/other-logs-key';
      }),
    );
    expect(verdictOf(TrailKeepsKmsKey, [createTrail('org-audit', KEY_ARN), update])).toEqual(COMPLIANT);
  });

  it('is COMPLIANT when a trail is created with a key', () => {
    expect(verdictOf(TrailKeepsKmsKey, [createTrail('org-audit', KEY_ARN)])).toEqual(COMPLIANT);
  });

  it('is NOT_APPLICABLE to a trail created without a key (it never had one to lose)', () => {
    expect(verdictOf(TrailKeepsKmsKey, [createTrail('org-audit')])).toEqual(NOT_APPLICABLE);
  });

  it('is NOT_APPLICABLE to trail changes that leave the key alone', () => {
    expect(verdictOf(TrailKeepsKmsKey, [at(onTrail(rec('StopLogging__stratus__1')), 'stop-1')])).toEqual(
      NOT_APPLICABLE,
    );
  });
});

describe('Rule: TrailKeyStaysInAccount', () => {
  const EXTERNAL_KEY_ARN = `arn:aws:kms:us-west-2:${EXTERNAL_ACCOUNT}:key/5e6f7a8b-0000-4000-8000-000000000001`;
  const moveTrailTo = (kmsKeyId: string, eventId = 'move-1') =>
    at(
      onTrail(
        rec('UpdateTrail__streamalert__1', (r) => {
          (r.requestParameters as Record<string, unknown>).kmsKeyId = kmsKeyId;
        }),
      ),
      eventId,
    );

  it('is NON_COMPLIANT, and critical, when an UpdateTrail moves the logs to a key of another account', () => {
    const records = [createTrail('org-audit', KEY_ARN), moveTrailTo(EXTERNAL_KEY_ARN)];
    expect(verdictOf(TrailKeyStaysInAccount, records)).toEqual(
      nonCompliant(`the trail's logs are now encrypted with a key of account ${EXTERNAL_ACCOUNT}`),
    );
    const { last } = detect(records);
    expect(last).toMatchObject({ severity: 'critical', status: 'drift' });
    expect(last.summary).toBe(
      `Trail org-audit now encrypts its logs with 5e6f7a8b-0000-4000-8000-000000000001 of account ${EXTERNAL_ACCOUNT} (changed by Alice)`,
    );
  });

  it('is NON_COMPLIANT, and critical, again on a second move between keys of that account: the approved key is ours', () => {
    const secondKey = `arn:aws:kms:us-west-2:${EXTERNAL_ACCOUNT}:key/5e6f7a8b-0000-4000-8000-000000000003`;
    const records = [
      createTrail('org-audit', KEY_ARN),
      moveTrailTo(EXTERNAL_KEY_ARN),
      moveTrailTo(secondKey, 'move-2'),
    ];
    expect(verdictOf(TrailKeyStaysInAccount, records)).toEqual(
      nonCompliant(`the trail's logs are now encrypted with a key of account ${EXTERNAL_ACCOUNT}`),
    );
    expect(detect(records).last).toMatchObject({ severity: 'critical', status: 'drift' });
  });

  it('is COMPLIANT when the trail moves to another key of its own account', () => {
    expect(verdictOf(TrailKeyStaysInAccount, [createTrail('org-audit', KEY_ARN), moveTrailTo(OTHER_KEY_ARN)])).toEqual(
      COMPLIANT,
    );
  });

  it("is COMPLIANT when the trail's approved key was already in that account (an organization's log archive)", () => {
    const archiveKey = `arn:aws:kms:us-west-2:${EXTERNAL_ACCOUNT}:key/5e6f7a8b-0000-4000-8000-000000000002`;
    const records = [createTrail('org-audit', archiveKey), moveTrailTo(EXTERNAL_KEY_ARN)];
    expect(verdictOf(TrailKeyStaysInAccount, records)).toEqual(COMPLIANT);
    expect(detect(records).last).toMatchObject({ severity: 'error', status: 'drift' });
  });

  it('is NOT_APPLICABLE to a trail created with a key of another account (no existing logs move)', () => {
    expect(verdictOf(TrailKeyStaysInAccount, [createTrail('org-audit', EXTERNAL_KEY_ARN)])).toEqual(NOT_APPLICABLE);
    expect(detect([createTrail('org-audit', EXTERNAL_KEY_ARN)]).last).toMatchObject({ severity: 'warning' });
  });
});

describe('Rule: TrailLogsKmsManagementEvents', () => {
  it('is NON_COMPLIANT when event selectors turn management events off', () => {
    expect(verdictOf(TrailLogsKmsManagementEvents, [rec('PutEventSelectors__stratus__1')])).toEqual(
      nonCompliant('the trail now logs no management events'),
    );
  });

  it('is NON_COMPLIANT when event selectors exclude KMS events', () => {
    const excluding = rec('PutEventSelectors__stratus__1', (r) => {
      const [selector] = (r.requestParameters as { eventSelectors: Array<Record<string, unknown>> }).eventSelectors;
      selector.includeManagementEvents = true;
      selector.readWriteType = 'All';
      selector.excludeManagementEventSources = ['kms.amazonaws.com'];
    });
    expect(verdictOf(TrailLogsKmsManagementEvents, [excluding])).toEqual(
      nonCompliant('the trail now excludes KMS management events'),
    );
  });

  it('is NON_COMPLIANT when advanced event selectors leave KMS out of the management events', () => {
    const advanced = rec('PutEventSelectors__stratus__1', (r) => {
      const request = r.requestParameters as Record<string, unknown>;
      delete request.eventSelectors;
      request.advancedEventSelectors = [
        {
          name: 'Management events without KMS',
          fieldSelectors: [
            { field: 'eventCategory', equals: ['Management'] },
            { field: 'eventSource', notEquals: ['kms.amazonaws.com'] },
          ],
        },
      ];
    });
    expect(verdictOf(TrailLogsKmsManagementEvents, [advanced])).toEqual(
      nonCompliant('the trail now excludes KMS management events'),
    );
  });

  it('is COMPLIANT when event selectors keep write management events', () => {
    const writeOnly = rec('PutEventSelectors__panther__1', (r) => {
      const [selector] = (r.requestParameters as { eventSelectors: Array<Record<string, unknown>> }).eventSelectors;
      selector.includeManagementEvents = true;
      selector.readWriteType = 'WriteOnly';
    });
    expect(verdictOf(TrailLogsKmsManagementEvents, [writeOnly])).toEqual(COMPLIANT);
  });

  it('is NOT_APPLICABLE to a KMS key change', () => {
    expect(verdictOf(TrailLogsKmsManagementEvents, [rec('TagResource__awskmsdg__1')])).toEqual(NOT_APPLICABLE);
  });
});

describe('A rule that throws', () => {
  afterEach(() => jest.restoreAllMocks());

  it('becomes part of the finding, at least error, instead of stopping detection', () => {
    // Prepare
    jest.spyOn(NoOutsideAccessGained, 'check').mockImplementation(() => {
      throw new Error('policy parser exploded');
    });
    // Act
    const { last } = detect([rec('TagResource__awskmsdg__1')]);
    // Assess
    expect(last.severity).toBe('error');
    expect(last.status).toBe('drift');
    expect(last.reasons).toEqual(['RuleFailed: NoOutsideAccessGained threw policy parser exploded']);
    expect(last.changes.tags).toEqual({ before: { Department: null }, after: { Department: 'IT' } });
  });

  it('does not hide what the other rules found', () => {
    jest.spyOn(TrailLogsKmsManagementEvents, 'check').mockImplementation(() => {
      throw new TypeError('selectors is undefined');
    });
    const { last } = detect([createTrail('org-audit', KEY_ARN), onTrail(rec('UpdateTrail__streamalert__1'))]);
    expect(last.severity).toBe('critical');
    expect(last.reasons).toEqual([
      expect.stringMatching(/^TrailKeepsKmsKey: /),
      'RuleFailed: TrailLogsKmsManagementEvents threw selectors is undefined',
    ]);
  });

  it('never lowers a critical event', () => {
    jest.spyOn(ServiceGrantsAreRoutine, 'check').mockImplementation(() => {
      throw new Error('boom');
    });
    const { last } = detect([rec('ScheduleKeyDeletion__awskmsdg__1')]);
    expect(last.severity).toBe('critical');
    expect(last.reasons).toEqual(['RuleFailed: ServiceGrantsAreRoutine threw boom']);
  });

  it('runs every rule of the catalogue, lowering rules first', () => {
    expect(ALL_RULES.map((rule) => rule.id)).toEqual([
      'ServiceGrantsAreRoutine',
      'NoOutsideAccessGained',
      'RotationPeriodNotLengthened',
      'AliasStaysOnApprovedKey',
      'TrailKeyKeepsCloudTrailAccess',
      'TrailKeyStaysUsable',
      'TrailKeepsKmsKey',
      'TrailKeyStaysInAccount',
      'TrailLogsKmsManagementEvents',
    ]);
  });
});
