import { ConfigError } from '../../lambda/core/errors';
import { readDetectorEnvironment } from '../../lambda/shared/environment';
import { readPagerEnvironment } from '../../lambda/shared/variables';

const base = {
  TABLE_NAME: 'keydrift-Table',
  CHAT_TOPIC_ARN: 'arn:aws:sns:us-west-2:111122223333:chat',
  EMAIL_TOPIC_ARN: 'arn:aws:sns:us-west-2:111122223333:email',
  PAGE_TOPIC_ARN: 'arn:aws:sns:us-west-2:111122223333:page',
  OPS_TOPIC_ARN: 'arn:aws:sns:us-west-2:111122223333:ops',
  EVENT_BUS_NAME: 'default',
  SELF_KEY_ARN: 'arn:aws:kms:us-west-2:111122223333:key/keydrift',
  OPS_KEY_ARN: 'arn:aws:kms:us-west-2:111122223333:key/keydrift-ops',
};

describe('readDetectorEnvironment', () => {
  it('reads the settings the stack passes, KEYDRIFT_CONFIG included', () => {
    const settings = readDetectorEnvironment({
      ...base,
      KEYDRIFT_CONFIG: JSON.stringify({
        plannedPrincipals: ['arn:aws:iam::111122223333:role/Deployer'],
        severityOverrides: { TagResource: 'error' },
        alertMinSeverity: 'warning',
      }),
    });

    expect(settings).toMatchObject({
      tableName: 'keydrift-Table',
      topics: {
        chat: base.CHAT_TOPIC_ARN,
        email: base.EMAIL_TOPIC_ARN,
        page: base.PAGE_TOPIC_ARN,
        ops: base.OPS_TOPIC_ARN,
      },
      eventBusName: 'default',
      selfKeyArn: base.SELF_KEY_ARN,
      alertMinSeverity: 'warning',
      config: {
        plannedPrincipals: ['arn:aws:iam::111122223333:role/Deployer'],
        severityOverrides: { TagResource: 'error' },
      },
    });
  });

  it("reads the ops topic's own key, and requires it: findings on that key must route around it", () => {
    const opsKeyArn = 'arn:aws:kms:us-west-2:111122223333:key/keydrift-ops';

    expect(readDetectorEnvironment({ ...base, OPS_KEY_ARN: ` ${opsKeyArn} ` }).opsKeyArn).toBe(opsKeyArn);
    expect(() => readDetectorEnvironment({ ...base, OPS_KEY_ARN: undefined })).toThrow(
      new ConfigError('missing environment variable(s): OPS_KEY_ARN'),
    );
  });

  it('defaults the threshold to error and the configuration to empty', () => {
    const settings = readDetectorEnvironment(base);

    expect(settings.alertMinSeverity).toBe('error');
    expect(settings.config.plannedPrincipals).toEqual([]);
  });

  it('names every missing variable in one error', () => {
    expect(() => readDetectorEnvironment({ ...base, TABLE_NAME: '', OPS_TOPIC_ARN: undefined })).toThrow(
      new ConfigError('missing environment variable(s): TABLE_NAME, OPS_TOPIC_ARN'),
    );
  });

  it.each([
    ['text that is not JSON', '{plannedPrincipals:', /KEYDRIFT_CONFIG is not JSON/],
    ['a list instead of an object', '[]', /KEYDRIFT_CONFIG must be a JSON object/],
    [
      'an unknown severity',
      '{"alertMinSeverity":"loud"}',
      /alertMinSeverity: must be one of info, warning, error, critical/,
    ],
    [
      'a principal that is not a role or user ARN',
      '{"plannedPrincipals":["bob"]}',
      /plannedPrincipals\[0\]: must be an IAM role or user ARN/,
    ],
  ])('explains %s in KEYDRIFT_CONFIG', (_name, config, message) => {
    expect(() => readDetectorEnvironment({ ...base, KEYDRIFT_CONFIG: config })).toThrow(message);
  });
});

describe('readPagerEnvironment', () => {
  it('reads the secret and table names, and names each one missing', () => {
    expect(readPagerEnvironment({ PAGERDUTY_SECRET_NAME: 'keydrift/pagerduty', TABLE_NAME: 'keydrift' })).toEqual({
      secretName: 'keydrift/pagerduty',
      tableName: 'keydrift',
    });
    expect(() => readPagerEnvironment({})).toThrow(/PAGERDUTY_SECRET_NAME, TABLE_NAME/);
    expect(() => readPagerEnvironment({ PAGERDUTY_SECRET_NAME: 'keydrift/pagerduty' })).toThrow(/: TABLE_NAME$/);
  });
});
