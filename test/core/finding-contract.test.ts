/**
 * The finding contract of DESIGN.md, checked on every public sample: each watched write becomes one
 * finding with a full-ARN resource, the record's eventID and an ISO-8601 timestamp; reads are not writes.
 */
import { classifyRecord } from '../../lambda/core/normalize';
import { SEVERITIES, STATUSES } from '../../lambda/core/types';
import { sample, sampleNames } from '../helpers/fixtures';
import { by, detect, rec, sessionIdentity, withSourceIdentity } from './harness';

const writes = sampleNames().filter((name) => classifyRecord(sample(name)) === 'write');
const reads = sampleNames().filter((name) => classifyRecord(sample(name)) === 'read');

describe('Finding contract on every sample', () => {
  it('sorts the samples into watched writes, reads and other services', () => {
    // 59: UpdateTrail__panther__1 is a network-activity record (a VPC endpoint call), not a change.
    expect(writes).toHaveLength(59);
    expect(reads.map((name) => name.split('__')[0])).toEqual(
      expect.arrayContaining(['Decrypt', 'Encrypt', 'GenerateDataKey', 'DescribeKey', 'ListAliases', 'ReEncrypt']),
    );
    expect(
      reads.every((name) =>
        /^(Decrypt|Encrypt|GenerateDataKey|GenerateDataKeyWithoutPlaintext|DescribeKey|GetKeyPolicy|GetParametersForImport|ListAliases|ListGrants|ReEncrypt)__/.test(
          name,
        ),
      ),
    ).toBe(true);
    expect(classifyRecord(sample('CreateBucket__awscweug__1'))).toBe('other');
    expect(classifyRecord(sample('UpdateTrail__panther__1'))).toBe('other');
  });

  it.each([
    [
      'StopEventDataStoreIngestion',
      { eventDataStore: 'arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/EXAMPLE' },
    ],
    ['AddTags', { resourceId: 'arn:aws:cloudtrail:us-east-1:123456789012:trail/myTrail', tagsList: [] }],
    ['PutInsightSelectors', { trailName: 'myTrail', insightSelectors: [{ insightType: 'ApiCallRateInsight' }] }],
  ])('counts a CloudTrail %s, which changes no trail logging, as no watched write', (eventName, requestParameters) => {
    const record = { ...sample('StopLogging__panther__2'), eventName, requestParameters, readOnly: false };
    delete record.errorCode;
    expect(classifyRecord(record)).toBe('other');
  });

  it.each(writes)('turns %s into one finding that follows the contract', (name) => {
    // Prepare
    const record = sample(name);
    // Act
    const { last } = detect([record]);
    // Assess
    expect(last.resource).toMatch(/^arn:aws:(kms|cloudtrail):[\w-]+:\d{12}:(key|alias|trail|custom-key-store)\/.+$/);
    expect(last.service).toBe(last.resource.split(':')[2] === 'cloudtrail' ? 'cloudtrail' : 'kms');
    expect(last.eventId).toBe(String(record.eventID ?? record.id ?? last.eventId));
    expect(last.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(SEVERITIES).toContain(last.severity);
    expect(STATUSES).toContain(last.status);
    expect(last.summary).not.toBe('');
    expect(last.status === 'denied').toBe(!!record.errorCode);
    for (const change of Object.values(last.changes)) {
      expect(change).toHaveProperty('before');
      expect(change).toHaveProperty('after');
    }
    // Where the call came from, for the reader: as the record has it, or not at all.
    expect(last.sourceIp).toBe(record.sourceIPAddress || undefined);
    expect(last.userAgent).toBe(record.userAgent || undefined);
  });
});

describe('Summary length', () => {
  it('cuts a summary that a caller-chosen value would stretch, and keeps the whole value in changes', () => {
    const long = 'x'.repeat(5000);
    const { last } = detect([
      rec('TagResource__awskmsdg__1', (r) => {
        (r.requestParameters as { tags: Array<{ tagKey: string; tagValue: string }> }).tags = [
          { tagKey: 'note', tagValue: long },
        ];
      }),
    ]);

    expect(last.summary.length).toBe(400);
    expect(last.summary.endsWith('…')).toBe(true);
    expect(last.summary).toMatch(/^Tags of .* changed by Alice: note=x+…$/);
    expect(last.changes.tags.after).toEqual({ note: long });
  });

  it('leaves out a source identity the cut would reach, so that no cut name reads as another caller', () => {
    // Prepare: alice, behind the session deploy-4711, grants a role with a long path every operation
    const grantee = `arn:aws:iam::111122223333:role/${'platform/'.repeat(6)}payments-batch-worker`;
    const operations = [
      ...['Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo'],
      ...['GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext', 'DescribeKey', 'CreateGrant', 'RetireGrant'],
    ];
    const grant = rec('CreateGrant__awskmsdg__1', (r) => {
      Object.assign(r.requestParameters as object, { granteePrincipal: grantee, operations });
    });
    const identity = withSourceIdentity(sessionIdentity('platform-deployer', 'deploy-4711'), 'alice@example.com');

    // Act
    const { last } = detect([by(grant, identity)]);

    // Assess: not `(source identity alice@exa…`; the finding names her
    expect(last.summary).toBe(
      `Grant on 1234abcd-12ab-34cd-56ef-1234567890ab for ${grantee} (${[...operations].sort().join(', ')}) created by deploy-4711`,
    );
    expect(last.sourceIdentity).toBe('alice@example.com');
    // A cut that ends further on (in a tag value) keeps it.
    const tagged = rec('TagResource__awskmsdg__1', (r) => {
      (r.requestParameters as { tags: unknown }).tags = [{ tagKey: 'note', tagValue: 'x'.repeat(5000) }];
    });
    expect(detect([by(tagged, identity)]).last.summary).toMatch(
      /^Tags of .* changed by deploy-4711 \(source identity alice@example\.com\): note=x+…$/,
    );
  });

  it('never cuts a summary inside a character that takes two UTF-16 units (an emoji)', () => {
    for (const padding of ['', 'x']) {
      const { last } = detect([
        rec('TagResource__awskmsdg__1', (r) => {
          (r.requestParameters as { tags: Array<{ tagKey: string; tagValue: string }> }).tags = [
            { tagKey: 'note', tagValue: `${padding}${'🔑'.repeat(300)}` },
          ];
        }),
      ]);
      expect(last.summary).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
      expect(last.summary.endsWith('…')).toBe(true);
    }
  });
});
