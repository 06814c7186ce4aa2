import { consoleUrl } from '../../lambda/alerts/console-url';
import { ACCOUNT, KEY_ARN, KEY_ID, REGION, TRAIL_ARN } from './fixtures';

describe('consoleUrl', () => {
  it('links a key to its page in the KMS console of its Region', () => {
    expect(consoleUrl({ resource: KEY_ARN, region: REGION })).toBe(
      `https://us-west-2.console.aws.amazon.com/kms/home?region=us-west-2#/kms/keys/${KEY_ID}`,
    );
  });

  it('links a multi-Region key by its mrk- id', () => {
    const mrk = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/mrk-1234abcd12ab34cd56ef1234567890ab`;
    expect(consoleUrl({ resource: mrk, region: 'eu-west-1' })).toBe(
      'https://eu-west-1.console.aws.amazon.com/kms/home?region=eu-west-1#/kms/keys/mrk-1234abcd12ab34cd56ef1234567890ab',
    );
  });

  it('links an alias to the key list, which shows aliases beside their keys', () => {
    expect(consoleUrl({ resource: `arn:aws:kms:${REGION}:${ACCOUNT}:alias/payments`, region: REGION })).toBe(
      'https://us-west-2.console.aws.amazon.com/kms/home?region=us-west-2#/kms/keys',
    );
  });

  it('links a trail to its page in the CloudTrail console, by ARN', () => {
    expect(consoleUrl({ resource: TRAIL_ARN, region: 'us-east-1' })).toBe(
      `https://us-east-1.console.aws.amazon.com/cloudtrail/home?region=us-east-1#/trails/${TRAIL_ARN}`,
    );
  });

  it('uses the GovCloud console for the aws-us-gov partition', () => {
    const gov = `arn:aws-us-gov:kms:us-gov-west-1:${ACCOUNT}:key/${KEY_ID}`;
    expect(consoleUrl({ resource: gov, region: 'us-gov-west-1' })).toBe(
      `https://console.amazonaws-us-gov.com/kms/home?region=us-gov-west-1#/kms/keys/${KEY_ID}`,
    );
  });

  it('gives no link when the Region is not a real Region name', () => {
    const trail = `arn:aws:cloudtrail:apiso-centralnorth-2r:143434273843:trail/stratus`;
    expect(consoleUrl({ resource: trail, region: 'apiso-centralnorth-2r' })).toBeUndefined();
  });

  it('gives no link for a key id that could smuggle markup or another URL into the link', () => {
    const hostile = `arn:aws:kms:${REGION}:${ACCOUNT}:key/x"><script>alert(1)</script>`;
    expect(consoleUrl({ resource: hostile, region: REGION })).toBeUndefined();
    expect(
      consoleUrl({ resource: `arn:aws:kms:evil.example/:${ACCOUNT}:key/${KEY_ID}`, region: 'evil.example/' }),
    ).toBeUndefined();
  });
});
