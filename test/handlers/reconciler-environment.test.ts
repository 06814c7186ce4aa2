import { ConfigError } from '../../lambda/core/errors';
import { readReconcilerEnvironment } from '../../lambda/shared/reconciler-environment';

const base = {
  TABLE_NAME: 'keydrift-Table',
  CHAT_TOPIC_ARN: 'arn:aws:sns:us-west-2:111122223333:chat',
  EMAIL_TOPIC_ARN: 'arn:aws:sns:us-west-2:111122223333:email',
  PAGE_TOPIC_ARN: 'arn:aws:sns:us-west-2:111122223333:page',
  OPS_TOPIC_ARN: 'arn:aws:sns:us-west-2:111122223333:ops',
  SELF_KEY_ARN: 'arn:aws:kms:us-west-2:111122223333:key/keydrift',
  OPS_KEY_ARN: 'arn:aws:kms:us-west-2:111122223333:key/keydrift-ops',
  AWS_REGION: 'us-west-2',
};

describe('readReconcilerEnvironment', () => {
  it("reads the detector's settings, the Region and the reconcile's pacing defaults", () => {
    expect(readReconcilerEnvironment(base)).toMatchObject({
      tableName: 'keydrift-Table',
      region: 'us-west-2',
      eventBusName: 'default',
      concurrency: 10,
      kmsQuotaShare: 0.8,
      reserveMs: 60_000,
    });
  });

  it('takes the pacing from the environment', () => {
    const settings = readReconcilerEnvironment({
      ...base,
      RECONCILE_CONCURRENCY: '16',
      KMS_QUOTA_SHARE: '0.5',
      RECONCILE_RESERVE_MS: '90000',
    });
    expect(settings).toMatchObject({ concurrency: 16, kmsQuotaShare: 0.5, reserveMs: 90_000 });
  });

  it.each([
    [{ AWS_REGION: '' }, /AWS_REGION/],
    [{ KMS_QUOTA_SHARE: '1.5' }, /KMS_QUOTA_SHARE must be more than 0 and at most 1 \(got 1.5\)/],
    [{ RECONCILE_CONCURRENCY: 'many' }, /RECONCILE_CONCURRENCY must be 1–64/],
    [{ RECONCILE_RESERVE_MS: '100' }, /RECONCILE_RESERVE_MS must be at least 5000/],
  ])('rejects %j, saying what to fix', (override, message) => {
    expect(() => readReconcilerEnvironment({ ...base, ...override })).toThrow(ConfigError);
    expect(() => readReconcilerEnvironment({ ...base, ...override })).toThrow(message);
  });
});
