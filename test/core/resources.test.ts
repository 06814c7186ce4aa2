/**
 * The `resource` of a finding is always a full ARN: the key ARN for key events whatever form the request
 * used, the alias ARN for alias events, the trail ARN for trail events.
 */
import { normalizeRecord } from '../../lambda/core/normalize';
import {
  ACCOUNT,
  at,
  createAlias,
  createKey,
  detect,
  KEY_ARN,
  KEY_ID,
  OTHER_KEY_ARN,
  OTHER_KEY_ID,
  onKey,
  onTrail,
  REGION,
  rec,
  TRAIL_ARN,
  withoutResources,
} from './harness';

const ALIAS_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:alias/ExampleAlias`;

/** DisableKey__awskmsdg__1 in the key's Region, without resources[], naming the key as `keyId`. */
const disableKeyNamed = (keyId: string) =>
  withoutResources(
    rec('DisableKey__awskmsdg__1', (r) => {
      r.awsRegion = REGION;
      (r.requestParameters as Record<string, unknown>).keyId = keyId;
    }),
  );

describe('Resource of key events', () => {
  it.each([
    ['a key id', KEY_ID],
    ['a key ARN', KEY_ARN],
    ['an alias name', 'alias/ExampleAlias'],
    ['an alias ARN', ALIAS_ARN],
  ])('is the full key ARN when the request names the key by %s', (_form, keyId) => {
    const { last } = detect([rec('CreateAlias__awskmsdg__1'), disableKeyNamed(keyId)]);
    expect(last.resource).toBe(KEY_ARN);
    expect(last.account).toBe(ACCOUNT);
  });

  it('is the key ARN from resources[] when the record has one', () => {
    expect(detect([rec('EnableKeyRotation__awskmsdg__1')]).last.resource).toBe(KEY_ARN);
  });

  it('rejects a record that names an alias it has never seen and has no resources[], saying which alias', () => {
    const run = () => detect([disableKeyNamed('alias/never-seen')]);
    expect(run).toThrow(
      'DisableKey abcde202-ba1a-467c-b4ba-f729d45ae521 names its key by alias/never-seen, which no earlier record ' +
        'points at a key, and has no resources[] naming the key',
    );
  });

  it('takes the ARN of a created key from responseElements.keyMetadata', () => {
    const { last } = detect([withoutResources(rec('CreateKey__awskmsdg__2'))]);
    expect(last.resource).toBe(OTHER_KEY_ARN);
  });

  it('finds the key of RetireGrant, whose requestParameters are null, in resources[] and its grant in additionalEventData', () => {
    const { last } = detect([rec('RetireGrant__awskmsdg__1')]);
    expect(last.resource).toBe(KEY_ARN);
    expect(last.changes.grants.after).toEqual({
      abcde1237f76e4ba7987489ac329fbfba6ad343d6f7075dbd1ef191f0120514a: null,
    });
  });

  it('notes a grant retired with a grant token, which names no grant id', () => {
    const record = rec('RetireGrant__awskmsdg__1', (r) => {
      r.additionalEventData = null;
    });
    const { last } = detect([record]);
    expect(last.resource).toBe(KEY_ARN);
    expect(last.changes.grants).toEqual({
      before: null,
      after: null,
      ended_grant: 'unknown (retired with a grant token)',
    });
  });

  it('names the key of a KMS service event (DeleteKey) from resources[]', () => {
    expect(detect([rec('DeleteKey__awskmsdg__3')]).last.resource).toBe(
      'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    );
  });

  it('names the key of a native KMS event from its resources', () => {
    const { last } = detect([rec('KMSCMKDeletion__awskmsdg__1')]);
    expect(last).toMatchObject({ resource: KEY_ARN, service: 'kms', eventId: 'e9ce3425-7d22-412a-a699-e7a5fc3fbc9a' });
  });
});

describe('Resource of alias events', () => {
  it('is the alias ARN for CreateAlias', () => {
    const { last } = detect([rec('CreateAlias__awskmsdg__1')]);
    expect(last.resource).toBe(ALIAS_ARN);
    expect(last.service).toBe('kms');
    expect(last.changes).toEqual({ target_key_id: { before: null, after: KEY_ARN } });
  });

  it('reports the old and the new target key ARNs of an UpdateAlias', () => {
    const { last } = detect([createAlias('alias/my_alias', OTHER_KEY_ID), rec('UpdateAlias__awskmsdg__1')]);
    expect(last).toMatchObject({
      event: 'UpdateAlias',
      resource: `arn:aws:kms:${REGION}:${ACCOUNT}:alias/my_alias`,
      severity: 'error',
      status: 'drift',
      changes: { target_key_id: { before: OTHER_KEY_ARN, after: KEY_ARN } },
    });
    expect(last.summary).toBe(`Alias alias/my_alias moved from ${OTHER_KEY_ID} to ${KEY_ID} by Alice`);
  });

  it('moves the alias between the keys, so the keys are labelled by their aliases', () => {
    const { store } = detect([createAlias('alias/my_alias', OTHER_KEY_ID), rec('UpdateAlias__awskmsdg__1')]);
    expect(store.labelOf(KEY_ARN)).toBe('alias/my_alias');
    expect(store.labelOf(OTHER_KEY_ARN)).toBe(OTHER_KEY_ID);
    expect(store.aliasTarget(`arn:aws:kms:${REGION}:${ACCOUNT}:alias/my_alias`)).toBe(KEY_ARN);
  });

  it('is the alias ARN for DeleteAlias, with the key it pointed to from resources[]', () => {
    const { last } = detect([rec('DeleteAlias__awskmsdg__1')]);
    expect(last.resource).toBe('arn:aws:kms:us-east-1:111122223333:alias/my_alias');
    expect(last.changes.target_key_id).toEqual({ before: KEY_ARN, after: null });
  });

  it('labels the key by its alias in later summaries', () => {
    const { last } = detect([createKey(), rec('CreateAlias__awskmsdg__1'), onKey(rec('DisableKey__awskmsdg__1'))]);
    expect(last.summary).toBe('Key alias/ExampleAlias disabled by Alice');
  });
});

describe('Resource of trail events', () => {
  it('is the trail ARN built from the trail name', () => {
    const { last } = detect([rec('StopLogging__stratus__1')]);
    expect(last).toMatchObject({
      service: 'cloudtrail',
      resource: 'arn:aws:cloudtrail:apiso-centralnorth-2r:143434273843:trail/stratus-red-team-ct-stop-trail-buykxbqejv',
    });
  });

  it('is the trail ARN the request gave', () => {
    const record = rec('StopLogging__panther__1', (r) => {
      delete r.errorCode;
    });
    expect(detect([record]).last.resource).toBe('arn:aws:cloudtrail:us-west-2:123456789012:trail/example-trail');
  });

  it('is the trailARN of the response for PutEventSelectors', () => {
    expect(detect([rec('PutEventSelectors__panther__1')]).last.resource).toBe(
      'arn:aws:cloudtrail:us-west-2:111122223333:trail/sample-cloudtrail-name',
    );
  });

  it('is the same ARN whether the trail is named by name or by ARN', () => {
    const { findings } = detect([
      at(onTrail(rec('StopLogging__stratus__1'), 'org-audit'), 'stop-1'),
      at(onTrail(rec('StopLogging__stratus__1'), TRAIL_ARN), 'stop-2'),
    ]);
    expect(findings.map((f) => f.resource)).toEqual([TRAIL_ARN, TRAIL_ARN]);
  });
});

describe('Record normalization', () => {
  it('reads a CloudTrail record wrapped in an EventBridge "AWS API Call via CloudTrail" envelope', () => {
    // Prepare: the only published envelope is for S3; carry a KMS record in it instead.
    const envelope = rec('CreateBucket__awscweug__1', (r) => {
      r.source = 'aws.kms';
      r.detail = rec('DisableKey__awskmsdg__1');
    });
    // Act
    const event = normalizeRecord(envelope);
    // Assess
    expect(event).toMatchObject({
      eventId: 'abcde202-ba1a-467c-b4ba-f729d45ae521',
      eventName: 'DisableKey',
      service: 'kms',
      account: ACCOUNT,
      region: 'us-east-1',
      readOnly: false,
      resourceArns: [KEY_ARN],
    });
  });

  it('gives a record without an eventID a stable id from its content', () => {
    const first = normalizeRecord(rec('UpdateTrail__panther__1'));
    const second = normalizeRecord(rec('UpdateTrail__panther__1'));
    expect(first.eventId).toMatch(/^synthetic-[0-9a-f]{32}$/);
    expect(second.eventId).toBe(first.eventId);
  });

  it('rejects a record of another service', () => {
    expect(() => normalizeRecord(rec('CreateBucket__awscweug__1'))).toThrow(/is not KMS or CloudTrail/);
  });

  it('rejects a record without a valid eventTime, naming where it came from', () => {
    const record = rec('DisableKey__awskmsdg__1', (r) => {
      r.eventTime = 'yesterday';
    });
    expect(() => normalizeRecord(record, 'file.json Records[3]')).toThrow(
      'file.json Records[3]: DisableKey has no valid eventTime ("yesterday")',
    );
  });
});
