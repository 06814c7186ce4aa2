/**
 * What lambda/core/effects.ts makes of five kinds of record that it used to misread: the replica key of a
 * ReplicateKey, a trail linked to its key by an alias, re-enabled rotation, the default policy of a key in
 * another account than the record's, and advanced event selectors that leave KMS out. Every record is a
 * public CloudTrail sample, changed only where the scenario needs it.
 */
import { Detector } from '../../lambda/core/detector';
import { MemoryStore } from '../../lambda/core/memory-store';
import { normalizeRecord } from '../../lambda/core/normalize';
import { defaultKeyPolicy } from '../../lambda/core/policy';
import { type CloudTrailRecord, malformedSampleText } from '../helpers/fixtures';
import {
  ACCOUNT,
  at,
  by,
  config,
  createKey,
  createTrail,
  defaultPolicy,
  detect,
  EXTERNAL_ACCOUNT,
  KEY_ARN,
  KEY_ID,
  onKey,
  putKeyPolicy,
  rec,
  sessionIdentity,
  TRAIL_ARN,
  TRAIL_NAME,
} from './harness';

type Json = Record<string, unknown>;

/** Default severities lowered, so that only an escalation rule can make these findings critical. */
const QUIET = { severityOverrides: { DisableKey: 'warning', ReplicateKey: 'warning' } };

/** The primary key and replica key the ReplicateKey documentation example names. */
const PRIMARY_ARN = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const REPLICA_ARN = `arn:aws:kms:us-west-2:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

/**
 * The ReplicateKey documentation example (the only one published), without the trailing comma that makes
 * it invalid JSON in its source. Its replica policy names users of accounts 123456789012 and 012345678901.
 */
function replicateKey(edit?: (request: Json, response: Json) => void): CloudTrailRecord {
  const text = malformedSampleText('ReplicateKey__awskmsdg__1').replace(/("replicaPolicy": ".*"),(\s*\})/, '$1$2');
  const record = JSON.parse(text) as CloudTrailRecord;
  edit?.(record.requestParameters as Json, record.responseElements as Json);
  return record;
}

describe('ReplicateKey: the replica key and its policy', () => {
  it('reports a replica policy that opens the key to other accounts as critical, listing them', () => {
    // Act
    const { last } = detect([replicateKey()], QUIET);
    // Assess
    expect(last).toMatchObject({ event: 'ReplicateKey', resource: PRIMARY_ARN, severity: 'critical', status: 'drift' });
    expect(last.changes.policy).toMatchObject({
      before: null,
      replica_key: REPLICA_ARN,
      removed_principals: [],
      external_accounts: ['012345678901', '123456789012'],
    });
    expect(last.changes.replica_regions).toEqual({ before: { 'us-west-2': null }, after: { 'us-west-2': true } });
    expect(last.reasons).toEqual([
      'NoOutsideAccessGained: account 012345678901, 123456789012 gained access to the key',
    ]);
    // The summary says why it is critical, as a CreateKey's does.
    expect(last.summary).toBe(
      'Key 1234abcd-12ab-34cd-56ef-1234567890ab replicated to us-west-2 by Alice, open to account 012345678901, 123456789012',
    );
  });

  it('keeps a replica whose policy stays inside the account at the default error severity', () => {
    // Prepare
    const ownAccount = replicateKey((_request, response) => {
      response.replicaPolicy = String(response.replicaPolicy).replace(/123456789012|012345678901/g, ACCOUNT);
    });
    // Act
    const { last } = detect([ownAccount]);
    // Assess
    expect(last.severity).toBe('error');
    expect(last.changes.policy.external_accounts).toEqual([]);
    expect(last.reasons).toBeUndefined();
  });

  it('prefers the policy of the request to the one in the response', () => {
    // Prepare
    const requested = replicateKey((request, response) => {
      request.policy = JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: EXTERNAL_ACCOUNT }, Action: 'kms:Decrypt', Resource: '*' }],
      });
      response.replicaPolicy = JSON.stringify(defaultKeyPolicy(ACCOUNT));
    });
    // Act
    const { last } = detect([requested], QUIET);
    // Assess
    expect(last.severity).toBe('critical');
    expect(last.changes.policy.external_accounts).toEqual([EXTERNAL_ACCOUNT]);
  });

  it('gives a replica with no policy in the record the default policy of its own account', () => {
    // Prepare
    const bare = replicateKey((_request, response) => {
      delete response.replicaPolicy;
    });
    // Act
    const { last } = detect([bare]);
    // Assess
    expect(last.severity).toBe('error');
    expect(last.changes.policy).toMatchObject({ after: defaultKeyPolicy(ACCOUNT), external_accounts: [] });
  });

  it('remembers the replica key, so a later change to its policy is compared with the replicated one', () => {
    // Act
    const { last, store } = detect([replicateKey(), at(putKeyPolicy(defaultPolicy(), REPLICA_ARN), 'put-policy-1')]);
    // Assess
    expect(store.snapshot(REPLICA_ARN)?.attributes).toMatchObject({ multi_region: true, primary_region: 'us-east-1' });
    expect(last.resource).toBe(REPLICA_ARN);
    expect(last.changes.policy.before).not.toBeNull();
    expect(last.changes.policy.removed_principals).toEqual([
      'arn:aws:iam::012345678901:user/Bob',
      'arn:aws:iam::012345678901:user/Charlie',
      'arn:aws:iam::123456789012:user/Alice',
    ]);
    expect(last.changes.policy.external_accounts).toEqual([]);
  });

  it('reports a replica made again in an approved Region, open to another account, as critical drift, not back to its baseline', () => {
    // Prepare: a planned replica to us-west-2 with the account's default policy, deleted at the end of its waiting
    // period, then replicated again by someone else with a policy that lets another account in.
    const approved = at(
      by(
        replicateKey((_request, response) => {
          response.replicaPolicy = JSON.stringify(defaultKeyPolicy(ACCOUNT));
        }),
        sessionIdentity('deployer', 'release-42'),
      ),
      'replicate-1',
      '2026-01-01T00:00:00Z',
    );
    const deleted = at(onKey(rec('DeleteKey__awskmsdg__1'), REPLICA_ARN), 'delete-replica-1', '2026-01-09T00:00:00Z');
    const opened = at(
      replicateKey((_request, response) => {
        const policy = defaultKeyPolicy(ACCOUNT);
        policy.Statement.push({ Effect: 'Allow', Principal: { AWS: [EXTERNAL_ACCOUNT] }, Action: ['kms:*'] });
        response.replicaPolicy = JSON.stringify(policy);
      }),
      'replicate-2',
      '2026-01-10T00:00:00Z',
    );
    // Act
    const { last } = detect([approved, deleted, opened], {
      plannedPrincipals: [`arn:aws:iam::${ACCOUNT}:role/deployer`],
    });
    // Assess
    expect(last).toMatchObject({ event: 'ReplicateKey', resource: PRIMARY_ARN, severity: 'critical', status: 'drift' });
    expect(last.changes.policy.external_accounts).toEqual([EXTERNAL_ACCOUNT]);
    expect(last.reasons).toEqual([`NoOutsideAccessGained: account ${EXTERNAL_ACCOUNT} gained access to the key`]);
    // The undo is the replica's policy put back as approved for it, in its own Region (the replica itself is approved).
    expect(last.remediation).toEqual([
      `aws kms put-key-policy --key-id ${REPLICA_ARN} --region us-west-2 --policy-name default --policy '${JSON.stringify(defaultKeyPolicy(ACCOUNT))}'`,
    ]);
  });

  it('reads a replica made again in an approved Region with the policy approved for it, open to another account, as back to its baseline', () => {
    // Prepare: a planned replica to us-west-2 whose policy lets another account in, deleted, then replicated again by
    // someone else with that same policy.
    const shared = () => {
      const policy = defaultKeyPolicy(ACCOUNT);
      policy.Statement.push({ Effect: 'Allow', Principal: { AWS: [EXTERNAL_ACCOUNT] }, Action: ['kms:*'] });
      return JSON.stringify(policy);
    };
    const approved = at(
      by(
        replicateKey((_request, response) => {
          response.replicaPolicy = shared();
        }),
        sessionIdentity('deployer', 'release-42'),
      ),
      'replicate-1',
      '2026-01-01T00:00:00Z',
    );
    const deleted = at(onKey(rec('DeleteKey__awskmsdg__1'), REPLICA_ARN), 'delete-replica-1', '2026-01-09T00:00:00Z');
    const again = at(
      replicateKey((_request, response) => {
        response.replicaPolicy = shared();
      }),
      'replicate-2',
      '2026-01-10T00:00:00Z',
    );
    // Act
    const { last } = detect([approved, deleted, again], {
      plannedPrincipals: [`arn:aws:iam::${ACCOUNT}:role/deployer`],
    });
    // Assess
    expect(last).toMatchObject({ event: 'ReplicateKey', resource: PRIMARY_ARN, severity: 'info', status: 'resolved' });
    expect(last.summary).toMatch(/: back to its baseline$/);
    expect(last.remediation).toEqual([]);
  });

  it("reads a replica made again in an approved Region, open only to an account the primary's approved policy lets in, as back to its baseline where the replica's own baseline is not known", () => {
    // Prepare: the primary shared with another account and replicated to us-west-2, as planned. The live detector of
    // us-east-1 holds the primary only (the replica, its baseline and its deletion are us-west-2's).
    const shared = () => {
      const policy = defaultKeyPolicy(ACCOUNT);
      policy.Statement.push({ Effect: 'Allow', Principal: { AWS: [EXTERNAL_ACCOUNT] }, Action: ['kms:*'] });
      return policy;
    };
    const deployer = sessionIdentity('deployer', 'release-42');
    const planned = detect(
      [
        at(by(putKeyPolicy(shared(), PRIMARY_ARN), deployer), 'share-1', '2026-01-01T00:00:00Z'),
        at(
          by(
            replicateKey((_request, response) => {
              response.replicaPolicy = JSON.stringify(shared());
            }),
            deployer,
          ),
          'replicate-1',
          '2026-01-02T00:00:00Z',
        ),
      ],
      { plannedPrincipals: [`arn:aws:iam::${ACCOUNT}:role/deployer`] },
    );
    const primaryOnly = new MemoryStore([]);
    primaryOnly.putState(structuredClone(planned.store.snapshot(PRIMARY_ARN)!));
    primaryOnly.putBaseline(structuredClone(planned.store.baseline(PRIMARY_ARN)!));
    const again = at(
      replicateKey((_request, response) => {
        response.replicaPolicy = JSON.stringify(shared());
      }),
      'replicate-2',
      '2026-01-10T00:00:00Z',
    );

    // Act
    const last = new Detector(config(), primaryOnly).observe(normalizeRecord(again, 'record 0'));

    // Assess
    expect(last).toMatchObject({ event: 'ReplicateKey', resource: PRIMARY_ARN, severity: 'info', status: 'resolved' });
  });
});

/** CreateTrail__panther__1 (as the harness makes it succeed) naming `requested`, answered with the key's ARN. */
function trailCreatedWithAlias(requested: string): CloudTrailRecord {
  const record = createTrail(TRAIL_NAME, requested);
  record.responseElements = {
    name: TRAIL_NAME,
    s3BucketName: 'org-audit-logs',
    isMultiRegionTrail: true,
    logFileValidationEnabled: true,
    trailARN: TRAIL_ARN,
    kmsKeyId: KEY_ARN,
  };
  return record;
}

describe('Trails linked to their key by an alias the replay has not seen', () => {
  it.each([
    ['an alias name', 'alias/x'],
    ['an alias ARN', 'arn:aws:kms:us-west-2:111122223333:alias/x'],
  ])('links a trail created with %s to the key ARN of the response', (_form, requested) => {
    // Act
    const { findings, store } = detect([
      trailCreatedWithAlias(requested),
      at(onKey(rec('DisableKey__awskmsdg__1')), 'disable-1'),
    ]);
    // Assess
    expect(findings[0].changes.kms_key_id).toEqual({ before: null, after: KEY_ARN });
    expect(store.trailsUsingKey(KEY_ARN)).toEqual([TRAIL_ARN]);
  });

  it('reports disabling the key of that trail as critical, with the trail as the reason', () => {
    // Act
    const { last } = detect(
      [trailCreatedWithAlias('alias/x'), at(onKey(rec('DisableKey__awskmsdg__1')), 'disable-1')],
      QUIET,
    );
    // Assess
    expect(last.severity).toBe('critical');
    expect(last.reasons).toEqual([`TrailKeyStaysUsable: the key encrypting the logs of ${TRAIL_ARN} is now Disabled`]);
  });

  it('still keeps the alias ARN when the response does not name the key', () => {
    // Act
    const { last } = detect([createTrail(TRAIL_NAME, 'alias/x')]);
    // Assess
    expect(last.changes.kms_key_id.after).toBe('arn:aws:kms:us-west-2:111122223333:alias/x');
  });
});

describe('EnableKeyRotation after a DisableKeyRotation', () => {
  // A deployer (planned) sets the approved rotation; Alice (unplanned) turns it off and on again without a period.
  const rotationHistory = (approvedPeriod?: number) => {
    const deployer = sessionIdentity('Deployer', 'ci');
    const approve = by(
      at(
        rec('EnableKeyRotation__awskmsdg__1', (r) => {
          if (approvedPeriod) (r.requestParameters as Json).rotationPeriodInDays = approvedPeriod;
        }),
        'enable-rotation-0',
        '2026-10-03T11:00:00Z',
      ),
      deployer,
    );
    return detect(
      [
        createKey(),
        approve,
        at(rec('DisableKeyRotation__awskmsdg__1'), 'disable-rotation-1', '2026-10-03T11:30:00Z'),
        at(rec('EnableKeyRotation__awskmsdg__1'), 'enable-rotation-1', '2026-10-03T12:00:00Z'),
      ],
      { plannedPrincipals: [`arn:aws:iam::${ACCOUNT}:role/Deployer`] },
    ).findings.slice(2);
  };

  it('resolves the drift when rotation is enabled again at the approved default period (365 days)', () => {
    const [disabled, enabled] = rotationHistory();
    expect(disabled).toMatchObject({ status: 'drift', severity: 'error' });
    expect(enabled).toMatchObject({ status: 'resolved', severity: 'info' });
    // Rotation off has no period (as GetKeyRotationStatus reads it): enabling it again brings the approved one back.
    expect(enabled.changes.rotation_period_in_days).toEqual({ before: null, after: 365, back_to_baseline: true });
  });

  it("takes KMS's 365 days when no period is given, so an approved 90 days is not restored by it", () => {
    const [disabled, enabled] = rotationHistory(90);
    expect(disabled.remediation).toEqual([
      `aws kms enable-key-rotation --key-id ${KEY_ARN} --region us-west-2 --rotation-period-in-days 90`,
    ]);
    expect(enabled).toMatchObject({
      status: 'drift',
      changes: { rotation_period_in_days: { before: null, after: 365 } },
      remediation: [`aws kms enable-key-rotation --key-id ${KEY_ARN} --region us-west-2 --rotation-period-in-days 90`],
    });
  });

  it('approves no rotation period once a planned DisableKeyRotation turns rotation off, as KMS reads it', () => {
    // Prepare: the deployer turns rotation on every 90 days, later off; Alice turns it on every 90 days again.
    const deployer = sessionIdentity('Deployer', 'ci');
    const every90Days = (eventId: string, time: string) =>
      at(
        rec('EnableKeyRotation__awskmsdg__1', (r) => {
          (r.requestParameters as Json).rotationPeriodInDays = 90;
        }),
        eventId,
        time,
      );
    const records = [
      createKey(),
      by(every90Days('enable-rotation-0', '2026-10-03T11:00:00Z'), deployer),
      by(at(rec('DisableKeyRotation__awskmsdg__1'), 'disable-rotation-0', '2026-10-03T11:30:00Z'), deployer),
      every90Days('enable-rotation-1', '2026-10-03T12:00:00Z'),
    ];

    // Act
    const { last, store } = detect(records, { plannedPrincipals: [`arn:aws:iam::${ACCOUNT}:role/Deployer`] });

    // Assess: GetKeyRotationStatus names no period for a key that does not rotate; nor does the baseline.
    expect(store.baseline(KEY_ARN)?.attributes).toMatchObject({
      enable_key_rotation: false,
      rotation_period_in_days: null,
    });
    expect(last).toMatchObject({
      status: 'drift',
      changes: {
        enable_key_rotation: { before: false, after: true },
        rotation_period_in_days: { before: null, after: 90 },
      },
      summary: `Automatic rotation of key ${KEY_ID} enabled (every 90 days) by Alice`,
    });
  });

  it('records the rotation period when the request gives one', () => {
    // Prepare
    const every180Days = rec('EnableKeyRotation__awskmsdg__1', (r) => {
      (r.requestParameters as Json).rotationPeriodInDays = 180;
    });
    // Act
    const { last } = detect([createKey(), every180Days]);
    // Assess
    expect(last.changes.rotation_period_in_days).toEqual({ before: null, after: 180 });
  });
});

describe('CreateKey: the default key policy belongs to the key account', () => {
  it('does not report the account that received the record as gaining access to a key of another account', () => {
    // Prepare: CreateKey__awskmsdg__3 names key 39c5eb22… of account 227179770375 in resources[] and was
    // delivered to account 111122223333.
    const record = rec('CreateKey__awskmsdg__3');
    // Act
    const { last } = detect([record]);
    // Assess
    expect(last.resource).toBe('arn:aws:kms:us-east-1:227179770375:key/39c5eb22-f37c-4956-92ca-89e8f8b57ab2');
    expect(last.changes.policy).toMatchObject({
      after: defaultKeyPolicy('227179770375'),
      external_accounts: [],
    });
    expect(last.severity).toBe('warning');
    expect(last.reasons).toBeUndefined();
  });
});

/** PutEventSelectors__stratus__1 with `advancedEventSelectors` instead of its basic selectors. */
function advancedSelectors(...selectors: Json[]): CloudTrailRecord {
  return rec('PutEventSelectors__stratus__1', (r) => {
    const request = r.requestParameters as Json;
    delete request.eventSelectors;
    request.advancedEventSelectors = selectors;
  });
}

/** PutEventSelectors__stratus__1 with its basic selector logging management events, changed by `edit`. */
function basicSelectors(...edits: Array<(selector: Json) => void>): CloudTrailRecord {
  return rec('PutEventSelectors__stratus__1', (r) => {
    const request = r.requestParameters as { eventSelectors: Json[] };
    const [template] = request.eventSelectors;
    request.eventSelectors = edits.map((edit) => {
      const selector = { ...structuredClone(template), includeManagementEvents: true, readWriteType: 'All' };
      edit(selector);
      return selector;
    });
  });
}

const managementOf = (...fieldSelectors: Json[]): Json => ({
  name: 'Management events',
  fieldSelectors: [{ field: 'eventCategory', equals: ['Management'] }, ...fieldSelectors],
});

describe('PutEventSelectors: selectors that stop logging KMS management events', () => {
  const EXCLUDES_KMS = 'TrailLogsKmsManagementEvents: the trail now excludes KMS management events';

  it('reports advanced selectors that log management events of other sources only as critical', () => {
    // Act
    const { last } = detect([advancedSelectors(managementOf({ field: 'eventSource', equals: ['s3.amazonaws.com'] }))]);
    // Assess
    expect(last.severity).toBe('critical');
    expect(last.reasons).toEqual([EXCLUDES_KMS]);
    expect(last.changes.event_selectors.after).toMatchObject({ excluded_sources: ['kms.amazonaws.com'] });
  });

  it('reports advanced selectors whose source prefixes leave KMS out as critical', () => {
    const { last } = detect([advancedSelectors(managementOf({ field: 'eventSource', startsWith: ['s3.'] }))]);
    expect(last.reasons).toEqual([EXCLUDES_KMS]);
  });

  it('does not flag advanced selectors whose source list includes KMS', () => {
    const { last } = detect([
      advancedSelectors(managementOf({ field: 'eventSource', equals: ['s3.amazonaws.com', 'kms.amazonaws.com'] })),
    ]);
    expect(last.severity).toBe('error');
    expect(last.reasons).toBeUndefined();
  });

  it('does not flag a source-limited selector when another management selector logs KMS', () => {
    const { last } = detect([
      advancedSelectors(managementOf({ field: 'eventSource', equals: ['s3.amazonaws.com'] }), managementOf()),
    ]);
    expect(last.reasons).toBeUndefined();
  });

  it('does not flag advanced selectors that log every management event', () => {
    const { last } = detect([advancedSelectors(managementOf())]);
    expect(last.severity).toBe('error');
    expect(last.reasons).toBeUndefined();
    expect(last.changes.event_selectors.after).toEqual({ management: 'All', excluded_sources: [], data_resources: [] });
  });

  it('still reports classic selectors that exclude KMS as critical', () => {
    const { last } = detect([
      basicSelectors((s) => {
        s.excludeManagementEventSources = ['kms.amazonaws.com'];
      }),
    ]);
    expect(last.severity).toBe('critical');
    expect(last.reasons).toEqual([EXCLUDES_KMS]);
  });

  it('does not flag classic selectors when another selector still logs KMS management events', () => {
    const { last } = detect([
      basicSelectors(
        (s) => {
          s.excludeManagementEventSources = ['kms.amazonaws.com'];
        },
        () => {},
      ),
    ]);
    expect(last.reasons).toBeUndefined();
  });

  it('does not flag classic selectors that include management events with no source filter', () => {
    const { last } = detect([basicSelectors(() => {})]);
    expect(last.severity).toBe('error');
    expect(last.reasons).toBeUndefined();
  });
});
