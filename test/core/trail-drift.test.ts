/**
 * Drift in what a trail logs and where: data-event and network-activity selectors kept whole (not just their resource
 * types), and the trail settings that decide whose activity is logged and where the logs go (bucket, organization
 * trail, global service events). Every record is a public CloudTrail sample, changed only where the scenario needs it.
 */
import { EVENTS } from '../../lambda/core/catalog';
import { normalizeSelectors } from '../../lambda/core/effects';
import type { CloudTrailRecord } from '../helpers/fixtures';
import {
  ALICE,
  at,
  by,
  createTrail,
  detect,
  KEY_ARN,
  onTrail,
  REGION,
  rec,
  sessionIdentity,
  TRAIL_ARN,
  TRAIL_NAME,
} from './harness';

type Json = Record<string, unknown>;

const PLANNED = { plannedPrincipals: [ALICE] };
const mallory = sessionIdentity('Ops', 'mallory');
const TRAIL = `--name ${TRAIL_ARN} --region ${REGION}`;

/** PutEventSelectors__panther__1 on the harness's trail, setting `selectors` (advanced or basic) as request and answer. */
function putSelectors(
  kind: 'advancedEventSelectors' | 'eventSelectors',
  selectors: Json[],
  eventId: string,
  identity?: Json,
): CloudTrailRecord {
  const record = onTrail(
    rec('PutEventSelectors__panther__1', (r) => {
      for (const side of [r.requestParameters, r.responseElements] as Json[]) {
        delete side.eventSelectors;
        side[kind] = structuredClone(selectors);
      }
    }),
  );
  at(record, eventId);
  return identity ? by(record, identity) : record;
}

const advanced = (selectors: Json[], eventId: string, identity?: Json) =>
  putSelectors('advancedEventSelectors', selectors, eventId, identity);
const basic = (selectors: Json[], eventId: string, identity?: Json) =>
  putSelectors('eventSelectors', selectors, eventId, identity);

const MANAGEMENT = { name: 'Management events', fieldSelectors: [{ field: 'eventCategory', equals: ['Management'] }] };
const payrollObjects = (prefix = 'arn:aws:s3:::payroll-exports/') => ({
  name: 'Payroll export objects',
  fieldSelectors: [
    { field: 'eventCategory', equals: ['Data'] },
    { field: 'resources.type', equals: ['AWS::S3::Object'] },
    { field: 'resources.ARN', startsWith: [prefix] },
  ],
});
const KMS_NETWORK_ACTIVITY = {
  name: 'KMS calls through VPC endpoints',
  fieldSelectors: [
    { field: 'eventCategory', equals: ['NetworkActivity'] },
    { field: 'eventSource', equals: ['kms.amazonaws.com'] },
  ],
};
const APPROVED_ADVANCED = [MANAGEMENT, payrollObjects(), KMS_NETWORK_ACTIVITY];
/** The retarget: payroll objects swapped for a decoy prefix, and KMS network activity no longer logged. */
const RETARGETED = [MANAGEMENT, payrollObjects('arn:aws:s3:::payroll-exports-decoy/')];

/** Alice (planned) creates the trail and approves its selectors. */
const approvedTrail = (selectors: CloudTrailRecord) => [at(createTrail(), 'create-1'), selectors];

/** The AWS CLI's JSON (`FieldSelectors`, `Equals` …) as CloudTrail records it (`fieldSelectors`, `equals` …). */
function asRecorded(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(asRecorded);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => [key[0].toLowerCase() + key.slice(1), asRecorded(v)]),
  );
}

/** The JSON after `flag` in a remediation command (single-quoted by the remediation). */
function jsonAfter(command: string, flag: string): Json[] {
  const match = new RegExp(`${flag} '([^']*)'`).exec(command);
  if (!match) throw new Error(`no ${flag} in ${command}`);
  return JSON.parse(match[1]);
}

describe('PutEventSelectors: data-event and network-activity selectors', () => {
  it('reports retargeted data events and a dropped network-activity selector as error drift, showing the selectors', () => {
    // Act
    const { last } = detect(
      [...approvedTrail(advanced(APPROVED_ADVANCED, 'approve-1')), advanced(RETARGETED, 'retarget-1', mallory)],
      PLANNED,
    );

    // Assess
    expect(last).toMatchObject({ event: 'PutEventSelectors', severity: 'error', status: 'drift' });
    expect(last.reasons).toBeUndefined();
    expect(last.summary).toBe(
      `Data-event selectors of trail ${TRAIL_NAME} changed by mallory: ` +
        'no longer logs AWS::S3::Object under arn:aws:s3:::payroll-exports/, kms.amazonaws.com network activity; ' +
        'now logs AWS::S3::Object under arn:aws:s3:::payroll-exports-decoy/',
    );
    const { before, after } = last.changes.event_selectors as { before: Json; after: Json };
    expect(before).toEqual({
      management: 'All',
      excluded_sources: [],
      data_resources: [
        {
          selector: 'advanced',
          field_selectors: [
            { field: 'eventCategory', equals: ['Data'] },
            { field: 'resources.ARN', startsWith: ['arn:aws:s3:::payroll-exports/'] },
            { field: 'resources.type', equals: ['AWS::S3::Object'] },
          ],
        },
        {
          selector: 'advanced',
          field_selectors: [
            { field: 'eventCategory', equals: ['NetworkActivity'] },
            { field: 'eventSource', equals: ['kms.amazonaws.com'] },
          ],
        },
      ],
    });
    expect(after.data_resources).toEqual([
      {
        selector: 'advanced',
        field_selectors: [
          { field: 'eventCategory', equals: ['Data'] },
          { field: 'resources.ARN', startsWith: ['arn:aws:s3:::payroll-exports-decoy/'] },
          { field: 'resources.type', equals: ['AWS::S3::Object'] },
        ],
      },
    ]);
  });

  it('resolves when the approved selectors are put back in another order and under other names', () => {
    const shuffled = [
      { ...KMS_NETWORK_ACTIVITY, name: 'vpce' },
      { name: 'all management', fieldSelectors: MANAGEMENT.fieldSelectors },
      { name: 'payroll', fieldSelectors: [...payrollObjects().fieldSelectors].reverse() },
    ];
    const { findings } = detect(
      [
        ...approvedTrail(advanced(APPROVED_ADVANCED, 'approve-1')),
        advanced(RETARGETED, 'retarget-1', mallory),
        advanced(shuffled, 'restore-1', mallory),
      ],
      PLANNED,
    );
    expect(findings.map((f) => [f.status, f.severity])).toEqual([
      ['planned', 'info'],
      ['planned', 'info'],
      ['drift', 'error'],
      ['resolved', 'info'],
    ]);
  });

  it('restores the approved advanced selectors whole: putting what its command puts brings the trail back', () => {
    // Prepare
    const { last } = detect(
      [...approvedTrail(advanced(APPROVED_ADVANCED, 'approve-1')), advanced(RETARGETED, 'retarget-1', mallory)],
      PLANNED,
    );

    // Act: the one command, as CloudTrail would record it
    expect(last.remediation).toHaveLength(1);
    const [command] = last.remediation;
    expect(command).toMatch(
      new RegExp(
        `^aws cloudtrail put-event-selectors --trail-name ${TRAIL_ARN} --region ${REGION} --advanced-event-selectors '`,
      ),
    );
    const restored = asRecorded(jsonAfter(command, '--advanced-event-selectors')) as Json[];
    const { findings } = detect(
      [
        ...approvedTrail(advanced(APPROVED_ADVANCED, 'approve-1')),
        advanced(RETARGETED, 'retarget-1', mallory),
        advanced(restored, 'restore-1', mallory),
      ],
      PLANNED,
    );

    // Assess
    expect(findings[3]).toMatchObject({ status: 'resolved', severity: 'info' });
  });

  describe('basic selectors', () => {
    const management = { readWriteType: 'All', includeManagementEvents: true, excludeManagementEventSources: [] };
    const s3Objects = (values: string[], readWriteType = 'All') => ({
      readWriteType,
      includeManagementEvents: false,
      excludeManagementEventSources: [],
      dataResources: [
        { type: 'AWS::S3::Object', values },
        { type: 'AWS::Lambda::Function', values: ['arn:aws:lambda:us-west-2:111122223333:function:payroll-export'] },
      ],
    });
    const APPROVED = [management, s3Objects(['arn:aws:s3:::payroll-exports/'])];

    it.each([
      ['logs another bucket', [management, s3Objects(['arn:aws:s3:::payroll-exports-decoy/'])]],
      ['logs only reads of the bucket', [management, s3Objects(['arn:aws:s3:::payroll-exports/'], 'ReadOnly')]],
    ])('reports a data-event selector that %s as error drift', (_, changed) => {
      const { last } = detect(
        [...approvedTrail(basic(APPROVED, 'approve-1')), basic(changed as Json[], 'change-1', mallory)],
        PLANNED,
      );
      expect(last).toMatchObject({ event: 'PutEventSelectors', severity: 'error', status: 'drift' });
    });

    it.each([
      [
        'moved to another bucket',
        [management, s3Objects(['arn:aws:s3:::payroll-exports-decoy/'])],
        'no longer logs AWS::S3::Object under arn:aws:s3:::payroll-exports/; ' +
          'now logs AWS::S3::Object under arn:aws:s3:::payroll-exports-decoy/',
      ],
      [
        'narrowed to reads',
        [management, s3Objects(['arn:aws:s3:::payroll-exports/'], 'ReadOnly')],
        'no longer logs AWS::Lambda::Function under arn:aws:lambda:us-west-2:111122223333:function:payroll-export, ' +
          'AWS::S3::Object under arn:aws:s3:::payroll-exports/; ' +
          'now logs AWS::Lambda::Function under arn:aws:lambda:us-west-2:111122223333:function:payroll-export ' +
          '(reads only), AWS::S3::Object under arn:aws:s3:::payroll-exports/ (reads only)',
      ],
      [
        'widened to a second bucket',
        [management, s3Objects(['arn:aws:s3:::payroll-exports/', 'arn:aws:s3:::hr-exports/'])],
        'now logs AWS::S3::Object under arn:aws:s3:::hr-exports/',
      ],
      [
        'dropped',
        [management],
        'no longer logs AWS::Lambda::Function under arn:aws:lambda:us-west-2:111122223333:function:payroll-export, ' +
          'AWS::S3::Object under arn:aws:s3:::payroll-exports/',
      ],
    ])('names what the trail no longer logs and now logs when its data events are %s', (_, changed, detail) => {
      // Act
      const { last } = detect(
        [...approvedTrail(basic(APPROVED, 'approve-1')), basic(changed as Json[], 'change-1', mallory)],
        PLANNED,
      );

      // Assess
      expect(last.summary).toBe(`Data-event selectors of trail ${TRAIL_NAME} changed by mallory: ${detail}`);
    });

    it('restores them with one put-event-selectors whose selectors bring the trail back', () => {
      const records = [
        ...approvedTrail(basic(APPROVED, 'approve-1')),
        basic([management, s3Objects(['arn:aws:s3:::payroll-exports-decoy/'])], 'change-1', mallory),
      ];
      const [command, ...rest] = detect(records, PLANNED).last.remediation;
      expect(rest).toEqual([]);

      const restored = asRecorded(jsonAfter(command, '--event-selectors')) as Json[];
      const { last } = detect([...records, basic(restored, 'restore-1', mallory)], PLANNED);

      expect(last).toMatchObject({ status: 'resolved', severity: 'info' });
    });

    it('gives the same selectors the same canonical form however they are grouped and ordered', () => {
      const split = [
        { ...management, dataResources: [{ type: 'AWS::S3::Object', values: ['arn:aws:s3:::b/', 'arn:aws:s3:::a/'] }] },
        {
          readWriteType: 'All',
          includeManagementEvents: false,
          dataResources: [
            { type: 'AWS::Lambda::Function', values: ['arn:aws:lambda:us-west-2:111122223333:function:f'] },
          ],
        },
      ];
      const together = [
        {
          ...management,
          dataResources: [
            { type: 'AWS::Lambda::Function', values: ['arn:aws:lambda:us-west-2:111122223333:function:f'] },
            { type: 'AWS::S3::Object', values: ['arn:aws:s3:::a/', 'arn:aws:s3:::b/'] },
          ],
        },
      ];
      expect(normalizeSelectors({ eventSelectors: split })).toEqual(normalizeSelectors({ eventSelectors: together }));
    });
  });

  it('names the fields an advanced selector narrows what it logs to', () => {
    // Prepare: payroll objects, then only their writes, by PutObject or DeleteObject, and a second prefix
    const narrowed = {
      name: 'Payroll export writes',
      fieldSelectors: [
        ...payrollObjects().fieldSelectors.slice(0, 2),
        { field: 'resources.ARN', startsWith: ['arn:aws:s3:::payroll-exports/', 'arn:aws:s3:::payroll-archive/'] },
        { field: 'readOnly', equals: ['false'] },
        { field: 'eventName', equals: ['PutObject', 'DeleteObject'] },
      ],
    };
    const vpceDenials = {
      name: 'Denied KMS calls through VPC endpoints',
      fieldSelectors: [...KMS_NETWORK_ACTIVITY.fieldSelectors, { field: 'errorCode', equals: ['VpceAccessDenied'] }],
    };

    // Act
    const { last } = detect(
      [
        ...approvedTrail(advanced(APPROVED_ADVANCED, 'approve-1')),
        advanced([MANAGEMENT, narrowed, vpceDenials], 'narrow-1', mallory),
      ],
      PLANNED,
    );

    // Assess
    expect(last.summary).toMatch(
      new RegExp(
        '^Data-event selectors of trail org-audit changed by mallory: ' +
          'no longer logs AWS::S3::Object under arn:aws:s3:::payroll-exports/, kms.amazonaws.com network activity; ' +
          'now logs AWS::S3::Object under arn:aws:s3:::payroll-archive/ ' +
          '\\(eventName equals DeleteObject or PutObject, readOnly equals false\\), ',
      ),
    );
  });

  it('keeps both sides of a long selector change in the summary, the same whatever the order of the selectors', () => {
    // Prepare: 40 buckets, swapped for 40 others
    const buckets = (prefix: string) =>
      Array.from({ length: 40 }, (_, i) => ({
        name: `${prefix} ${i}`,
        fieldSelectors: [
          { field: 'eventCategory', equals: ['Data'] },
          { field: 'resources.type', equals: [i % 2 ? 'AWS::S3::Object' : 'AWS::DynamoDB::Table'] },
          { field: 'resources.ARN', startsWith: [`arn:aws:s3:::${prefix}-${String(i).padStart(2, '0')}/`] },
        ],
      }));
    const approved = [MANAGEMENT, ...buckets('finance')];
    const changed = [MANAGEMENT, ...buckets('scratch')];
    const summaryOf = (selectors: Json[]) =>
      detect([...approvedTrail(advanced(approved, 'approve-1')), advanced(selectors, 'change-1', mallory)], PLANNED)
        .last.summary;

    // Act
    const summary = summaryOf(changed);

    // Assess
    expect(summary.length).toBeLessThanOrEqual(400);
    expect(summary).toMatch(/: no longer logs AWS::DynamoDB::Table under arn:aws:s3:::finance-00\/, .* and 37 more; /);
    expect(summary).toMatch(/; now logs AWS::DynamoDB::Table under arn:aws:s3:::scratch-00\/, /);
    expect(summaryOf([...changed].reverse())).toBe(summary);
  });

  it('adds nothing it cannot know when the approved selectors were stored by an earlier keydrift (types only)', () => {
    // Prepare: a baseline of resource types alone, as an earlier keydrift stored them
    const summary = EVENTS.PutEventSelectors.summary;
    const change = (before: unknown[]) => ({
      event_selectors: {
        before: { management: 'All', excluded_sources: [], data_resources: before },
        after: normalizeSelectors({ advancedEventSelectors: RETARGETED }),
      },
    });
    const ctx = (before: unknown[]) =>
      ({ label: TRAIL_NAME, who: 'mallory', changes: change(before), labelOf: String }) as unknown as Parameters<
        typeof summary
      >[0];

    // Act, Assess
    expect(summary(ctx(['AWS::S3::Object']))).toBe(`Data-event selectors of trail ${TRAIL_NAME} changed by mallory`);
    expect(summary(ctx([]))).toBe(
      `Data-event selectors of trail ${TRAIL_NAME} changed by mallory: ` +
        'now logs AWS::S3::Object under arn:aws:s3:::payroll-exports-decoy/',
    );
  });

  describe('KMS read events left out while KMS writes are logged', () => {
    const writes = { readWriteType: 'WriteOnly', includeManagementEvents: true, excludeManagementEventSources: [] };
    const readsButKms = {
      readWriteType: 'ReadOnly',
      includeManagementEvents: true,
      excludeManagementEventSources: ['kms.amazonaws.com'],
    };
    const everything = { readWriteType: 'All', includeManagementEvents: true, excludeManagementEventSources: [] };

    it('reports a trail that stops logging Decrypt and GenerateDataKey as drift, not as a change of nothing', () => {
      const { last } = detect(
        [...approvedTrail(basic([everything], 'approve-1')), basic([writes, readsButKms], 'change-1', mallory)],
        PLANNED,
      );

      expect(last).toMatchObject({ status: 'drift', severity: 'error' });
      expect(last.summary).toBe(
        `Event selectors of trail ${TRAIL_NAME} changed by mallory: KMS read events (Decrypt, GenerateDataKey…) no longer logged`,
      );
      expect(last.changes.event_selectors?.after).toMatchObject({ management: 'All', kms_reads_excluded: true });
    });

    it('reads the same selectors in their advanced form alike', () => {
      const advancedForm = [
        {
          name: 'writes',
          fieldSelectors: [
            { field: 'eventCategory', equals: ['Management'] },
            { field: 'readOnly', equals: ['false'] },
          ],
        },
        {
          name: 'reads but KMS',
          fieldSelectors: [
            { field: 'eventCategory', equals: ['Management'] },
            { field: 'readOnly', equals: ['true'] },
            { field: 'eventSource', notEquals: ['kms.amazonaws.com'] },
          ],
        },
      ];
      expect(normalizeSelectors({ advancedEventSelectors: advancedForm })).toEqual(
        normalizeSelectors({ eventSelectors: [writes, readsButKms] }),
      );
    });

    it('restores such an approved trail with selectors that read back as approved', () => {
      const records = [
        ...approvedTrail(basic([writes, readsButKms], 'approve-1')),
        basic([everything], 'change-1', mallory),
      ];
      const [command] = detect(records, PLANNED).last.remediation;
      const restored = JSON.parse(command.split("--event-selectors '")[1].slice(0, -1)) as Json[];
      const lower = (selector: Json) =>
        Object.fromEntries(Object.entries(selector).map(([k, v]) => [k[0].toLowerCase() + k.slice(1), v]));

      expect(normalizeSelectors({ eventSelectors: restored.map(lower) })).toEqual(
        normalizeSelectors({ eventSelectors: [writes, readsButKms] }),
      );
    });
  });

  it('still escalates to critical when the change also stops logging KMS management events', () => {
    const noKms = {
      name: 'Management events',
      fieldSelectors: [...MANAGEMENT.fieldSelectors, { field: 'eventSource', notEquals: ['kms.amazonaws.com'] }],
    };
    const { last } = detect(
      [...approvedTrail(advanced(APPROVED_ADVANCED, 'approve-1')), advanced([noKms, payrollObjects()], 'c-1', mallory)],
      PLANNED,
    );
    expect(last.severity).toBe('critical');
    expect(last.reasons).toEqual(['TrailLogsKmsManagementEvents: the trail now excludes KMS management events']);
  });
});

/** UpdateTrail__streamalert__1 on the harness's trail by Mallory: `request` as the request, CloudTrail's answer to it. */
function updateTrail(request: Json, eventId: string): CloudTrailRecord {
  const record = rec('UpdateTrail__streamalert__1', (r) => {
    r.requestParameters = { name: TRAIL_NAME, ...request };
    r.responseElements = {
      name: TRAIL_NAME,
      trailARN: TRAIL_ARN,
      s3BucketName: 'org-audit-logs',
      includeGlobalServiceEvents: true,
      isMultiRegionTrail: true,
      logFileValidationEnabled: true,
      isOrganizationTrail: true,
      kmsKeyId: KEY_ARN,
      ...request,
    };
  });
  return by(at(onTrail(record), eventId), mallory);
}

/** Alice's (planned) organization trail, encrypted with KEY_ARN, writing to org-audit-logs. */
function organizationTrail(): CloudTrailRecord {
  const record = at(createTrail(TRAIL_NAME, KEY_ARN), 'create-1');
  Object.assign(record.requestParameters as Json, { isOrganizationTrail: true, includeGlobalServiceEvents: true });
  return record;
}

describe('UpdateTrail: where the logs go and whose activity they hold', () => {
  it.each([
    [
      'moves the logs to another bucket',
      { s3BucketName: 'attacker-bucket-999988887777' },
      's3_bucket_name',
      ['org-audit-logs', 'attacker-bucket-999988887777'],
      `aws cloudtrail update-trail ${TRAIL} --s3-bucket-name org-audit-logs`,
      `Trail ${TRAIL_NAME} now delivers its logs to S3 bucket attacker-bucket-999988887777 (changed by mallory)`,
    ],
    [
      'stops logging the member accounts of the organization',
      { isOrganizationTrail: false },
      'organization_trail',
      [true, false],
      `aws cloudtrail update-trail ${TRAIL} --is-organization-trail`,
      `Trail ${TRAIL_NAME} is no longer an organization trail: the member accounts are no longer logged (changed by mallory)`,
    ],
    [
      'stops logging global service events',
      { includeGlobalServiceEvents: false },
      'include_global_service_events',
      [true, false],
      `aws cloudtrail update-trail ${TRAIL} --include-global-service-events`,
      `Trail ${TRAIL_NAME} no longer logs global service events (IAM, STS, CloudFront) (changed by mallory)`,
    ],
  ])(
    'reports an UpdateTrail that %s as error drift, undone by update-trail',
    (_, request, attribute, [before, after], undo, summary) => {
      // Act
      const { last } = detect([organizationTrail(), updateTrail(request, 'update-1')], PLANNED);

      // Assess
      expect(last).toMatchObject({
        event: 'UpdateTrail',
        severity: 'error',
        status: 'drift',
        changes: { [attribute]: { before, after } },
        remediation: [undo],
        summary,
      });
      expect(Object.keys(last.changes)).toEqual([attribute]);
    },
  );

  it('resolves when the approved bucket is set again', () => {
    const { findings } = detect(
      [
        organizationTrail(),
        updateTrail({ s3BucketName: 'attacker-bucket-999988887777' }, 'update-1'),
        updateTrail({ s3BucketName: 'org-audit-logs' }, 'update-2'),
      ],
      PLANNED,
    );
    expect(findings[2]).toMatchObject({
      status: 'resolved',
      severity: 'info',
      changes: { s3_bucket_name: { before: 'attacker-bucket-999988887777', after: 'org-audit-logs' } },
    });
  });

  it('is critical when the same UpdateTrail also leaves the trail without a KMS key', () => {
    const { last } = detect(
      [organizationTrail(), updateTrail({ s3BucketName: 'attacker-bucket-999988887777', kmsKeyId: '' }, 'update-1')],
      PLANNED,
    );
    expect(last.severity).toBe('critical');
    expect(last.summary).toBe(
      `Trail ${TRAIL_NAME} left without a KMS key by mallory: its logs are no longer encrypted with KMS; it also now delivers its logs to S3 bucket attacker-bucket-999988887777`,
    );
    expect(last.remediation).toEqual([
      `aws cloudtrail update-trail ${TRAIL} --kms-key-id ${KEY_ARN}`,
      `aws cloudtrail update-trail ${TRAIL} --s3-bucket-name org-audit-logs`,
    ]);
  });

  it('takes the settings CloudTrail answers a CreateTrail with, and their defaults when neither side names them', () => {
    const answered = at(createTrail(), 'create-1');
    answered.responseElements = {
      name: TRAIL_NAME,
      trailARN: TRAIL_ARN,
      s3BucketName: 'org-audit-logs',
      includeGlobalServiceEvents: false,
      isOrganizationTrail: true,
    };
    expect(detect([answered]).store.baseline(TRAIL_ARN)?.attributes).toMatchObject({
      s3_bucket_name: 'org-audit-logs',
      organization_trail: true,
      include_global_service_events: false,
    });
    expect(detect([at(createTrail(), 'create-1')]).store.baseline(TRAIL_ARN)?.attributes).toMatchObject({
      organization_trail: false,
      include_global_service_events: true,
    });
  });

  it('recreates a deleted organization trail in its approved bucket', () => {
    const deleted = by(at(onTrail(rec('DeleteTrail__stratus__1')), 'delete-1'), mallory);
    const [recreate] = detect([organizationTrail(), deleted], PLANNED).last.remediation;
    expect(recreate).toBe(
      `aws cloudtrail create-trail --name ${TRAIL_NAME} --s3-bucket-name org-audit-logs --region ${REGION} --kms-key-id ${KEY_ARN} --is-multi-region-trail --enable-log-file-validation --is-organization-trail`,
    );
  });
});
