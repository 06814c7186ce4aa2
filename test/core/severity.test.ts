/**
 * DESIGN.md's severity table, one test per row, each built from the public CloudTrail samples.
 */
import type { Severity, Status } from '../../lambda/core/types';
import { type CloudTrailRecord, malformedSampleText } from '../helpers/fixtures';
import {
  ACCOUNT,
  at,
  by,
  createAlias,
  createKey,
  createTrail,
  detect,
  KEY_ARN,
  OTHER_KEY_ID,
  onKey,
  onTrail,
  rec,
  sessionIdentity,
  TRAIL_ARN,
} from './harness';

const DEPLOYER = 'arn:aws:iam::111122223333:role/platform-deployer';
const PLANNED = { plannedPrincipals: [DEPLOYER] };

/** The ReplicateKey documentation example, with the trailing comma that makes it invalid JSON removed. */
function replicateKey(): CloudTrailRecord {
  const text = malformedSampleText('ReplicateKey__awskmsdg__1').replace(/("replicaPolicy": ".*"),(\s*\})/, '$1$2');
  const record = JSON.parse(text) as CloudTrailRecord;
  // The example's replica policy names users of two other accounts; this row is about the default severity.
  const response = record.responseElements as { replicaPolicy: string };
  response.replicaPolicy = response.replicaPolicy.replace(/123456789012|012345678901/g, ACCOUNT);
  return record;
}

interface Row {
  /** The event name the finding carries. */
  event: string;
  /** The table's wording, when it says more than the event name. */
  title?: string;
  /** The records to run; the last one is judged. */
  records: () => CloudTrailRecord[];
  config?: unknown;
  status?: Status;
  resource?: string;
}

const rows: Record<Severity, Row[]> = {
  critical: [
    { event: 'ScheduleKeyDeletion', records: () => [rec('ScheduleKeyDeletion__awskmsdg__1')] },
    { event: 'DisableKey', records: () => [rec('DisableKey__awskmsdg__1')] },
    { event: 'PutKeyPolicy', records: () => [rec('PutKeyPolicy__awskmsdg__1')] },
    { event: 'DeleteImportedKeyMaterial', records: () => [rec('DeleteImportedKeyMaterial__awskmsdg-current__1')] },
    { event: 'DeleteKey', records: () => [rec('DeleteKey__awskmsdg__1')] },
    { event: 'DisconnectCustomKeyStore', records: () => [rec('DisconnectCustomKeyStore__awskmsdg__1')] },
    { event: 'DeleteCustomKeyStore', records: () => [rec('DeleteCustomKeyStore__awskmsdg__1')] },
    { event: 'KMS CMK Deletion', records: () => [rec('KMSCMKDeletion__awskmsdg__1')] },
    { event: 'StopLogging', records: () => [rec('StopLogging__stratus__1')] },
    { event: 'DeleteTrail', records: () => [rec('DeleteTrail__stratus__1')] },
    {
      event: 'UpdateTrail',
      title: 'UpdateTrail that leaves the trail without a KMS key',
      records: () => [createTrail('org-audit', KEY_ARN), onTrail(rec('UpdateTrail__streamalert__1'))],
      resource: TRAIL_ARN,
    },
    {
      event: 'PutEventSelectors',
      title: 'PutEventSelectors that stops logging KMS management events',
      records: () => [rec('PutEventSelectors__stratus__1')],
    },
  ],
  error: [
    { event: 'DisableKeyRotation', records: () => [rec('DisableKeyRotation__awskmsdg__1')] },
    {
      event: 'UpdateAlias',
      records: () => [createAlias('alias/my_alias', OTHER_KEY_ID), rec('UpdateAlias__awskmsdg__1')],
    },
    { event: 'DeleteAlias', records: () => [rec('DeleteAlias__awskmsdg__1')] },
    { event: 'CreateGrant', records: () => [rec('CreateGrant__awskmsdg__1')] },
    { event: 'ImportKeyMaterial', records: () => [rec('ImportKeyMaterial__awskmsdg__1')] },
    { event: 'ReplicateKey', records: () => [replicateKey()] },
    { event: 'UpdatePrimaryRegion', records: () => [rec('UpdatePrimaryRegion__awskmsdg__1')] },
    { event: 'UpdateCustomKeyStore', records: () => [rec('UpdateCustomKeyStore__awskmsdg__1')] },
    {
      event: 'UpdateTrail',
      title: 'UpdateTrail that changes something else',
      records: () => [createTrail('org-audit', KEY_ARN), onTrail(rec('UpdateTrail__panther__1'))],
      resource: TRAIL_ARN,
    },
    {
      event: 'PutEventSelectors',
      title: 'PutEventSelectors that keeps logging KMS management events',
      records: () => [
        rec('PutEventSelectors__stratus__1', (r) => {
          const [selector] = (r.requestParameters as { eventSelectors: Array<Record<string, unknown>> }).eventSelectors;
          selector.includeManagementEvents = true;
          selector.readWriteType = 'All';
        }),
      ],
    },
    {
      event: 'KMS Imported Key Material Expiration',
      records: () => [rec('KMSImportedKeyMaterialExpiration__awskmsdg__1')],
    },
  ],
  warning: [
    { event: 'TagResource', records: () => [rec('TagResource__awskmsdg__1')] },
    { event: 'UntagResource', records: () => [rec('UntagResource__awskmsdg__1')] },
    { event: 'UpdateKeyDescription', records: () => [rec('UpdateKeyDescription__awskmsdg__1')] },
    { event: 'CreateAlias', records: () => [rec('CreateAlias__awskmsdg__1')] },
    { event: 'RetireGrant', records: () => [rec('RetireGrant__awskmsdg__1')] },
    { event: 'RevokeGrant', records: () => [rec('RevokeGrant__awskmsdg__1')] },
    {
      event: 'CreateKey',
      title: 'CreateKey by an unplanned principal',
      records: () => [rec('CreateKey__awskmsdg__2')],
      config: PLANNED,
    },
    {
      event: 'DisableKey',
      title: 'a denied attempt (DisableKey with AccessDenied)',
      records: () => [
        rec('DisableKey__awskmsdg__1', (r) => {
          r.errorCode = 'AccessDenied';
          r.errorMessage = 'User: arn:aws:iam::111122223333:user/Alice is not authorized to perform: kms:DisableKey';
        }),
      ],
      status: 'denied',
    },
  ],
  info: [
    { event: 'EnableKey', records: () => [rec('EnableKey__awskmsdg__1')] },
    { event: 'EnableKeyRotation', records: () => [rec('EnableKeyRotation__awskmsdg__1')] },
    { event: 'CancelKeyDeletion', records: () => [rec('CancelKeyDeletion__awskmsdg__1')] },
    { event: 'RotateKeyOnDemand', records: () => [rec('RotateKeyOnDemand__awskmsdg-current__1')] },
    { event: 'KMS CMK Rotation', records: () => [rec('KMSCMKRotation__awskmsdg__1')], status: 'planned' },
    {
      event: 'CreateKey',
      title: 'CreateKey by a planned principal',
      records: () => [by(createKey(), sessionIdentity('platform-deployer', 'codepipeline-7f3a'))],
      config: PLANNED,
      status: 'planned',
    },
    {
      event: 'EnableKey',
      title: 'a resolved change (EnableKey after DisableKey)',
      records: () => [
        onKey(rec('DisableKey__awskmsdg__1')),
        at(onKey(rec('EnableKey__awskmsdg__1')), 'be393928-3629-4370-9634-567f9274d52f'),
      ],
      status: 'resolved',
    },
  ],
};

describe('Severity table (DESIGN.md)', () => {
  for (const [severity, events] of Object.entries(rows) as Array<[Severity, Row[]]>) {
    describe(severity, () => {
      const cases = events.map((row) => ({ ...row, title: row.title ?? row.event }));
      it.each(cases)(`reports $title as ${severity}`, ({ event, records, config, status, resource }) => {
        // Act
        const { last } = detect(records(), config);
        // Assess
        expect(last.event).toBe(event);
        expect(last.severity).toBe(severity);
        expect(last.status).toBe(status ?? 'drift');
        if (resource) expect(last.resource).toBe(resource);
        expect(last.reasons ?? []).not.toContainEqual(expect.stringMatching(/^RuleFailed/));
      });
    });
  }
});

describe('UpdateTrail of settings keydrift does not baseline', () => {
  it('is an error that names each setting as the request set it', () => {
    const moved = onTrail(
      rec('UpdateTrail__streamalert__1', (r) => {
        r.requestParameters = {
          name: 'org-audit',
          s3KeyPrefix: 'elsewhere',
          snsTopicName: 'attacker-topic',
        };
      }),
    );
    const { last } = detect([createTrail('org-audit', KEY_ARN), moved]);
    expect(last).toMatchObject({ event: 'UpdateTrail', severity: 'error', status: 'drift' });
    expect(last.summary).toBe('Trail org-audit updated by Alice: s3KeyPrefix=elsewhere, snsTopicName=attacker-topic');
  });
});

describe('Grant revoked', () => {
  it('names the grant and its grantee when keydrift saw the grant made', () => {
    const grant = rec('CreateGrant__awskmsdg__1', (r) => {
      (r.responseElements as Record<string, unknown>).grantId =
        'abcde1237f76e4ba7987489ac329fbfba6ad343d6f7075dbd1ef191f0120514a';
      (r.requestParameters as Record<string, unknown>).granteePrincipal = `arn:aws:iam::${ACCOUNT}:role/app`;
    });
    const { last } = detect([grant, rec('RevokeGrant__awskmsdg__1')]);
    expect(last.summary).toBe(
      `Grant abcde1237f76… for arn:aws:iam::${ACCOUNT}:role/app on 1234abcd-12ab-34cd-56ef-1234567890ab revoked by Alice: back to its baseline`,
    );
  });

  it('names the grant id alone when the grant was never seen', () => {
    expect(detect([rec('RevokeGrant__awskmsdg__1')]).last.summary).toBe(
      'Grant abcde1237f76… on 1234abcd-12ab-34cd-56ef-1234567890ab revoked by Alice',
    );
  });
});

describe('RotateKey, the service event of a rotation', () => {
  it('says a rotation KMS made on demand was requested, not automatic', () => {
    // Prepare: the current documentation's RotateKey names its rotation type.
    const onDemand = rec('RotateKey__awskmsdg__1', (r) => {
      (r.serviceEventDetails as Record<string, unknown>).rotationType = 'ON_DEMAND';
    });
    // Act
    const { last } = detect([onDemand]);
    // Assess
    expect(last).toMatchObject({ status: 'planned', severity: 'info' });
    expect(last.summary).toBe(
      'Key 1234abcd-12ab-34cd-56ef-1234567890ab rotated on demand: KMS completed the rotation requested with RotateKeyOnDemand',
    );
  });

  it('says an automatic rotation is one', () => {
    const automatic = rec('RotateKey__awskmsdg__1', (r) => {
      (r.serviceEventDetails as Record<string, unknown>).rotationType = 'AUTOMATIC';
    });
    expect(detect([automatic]).last.summary).toBe(
      'Key 1234abcd-12ab-34cd-56ef-1234567890ab rotated automatically by KMS',
    );
  });
});
