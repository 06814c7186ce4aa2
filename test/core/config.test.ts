/**
 * The detection configuration: validation errors name the field; overrides and ignore rules apply.
 */

import { DEFAULT_CONFIG, matchingIgnoreRule, parseDetectionConfig } from '../../lambda/core/config';
import { ConfigError } from '../../lambda/core/errors';
import { detect, KEY_ARN, onKey, rec } from './harness';

const problemsOf = (input: unknown): string => {
  try {
    parseDetectionConfig(input, 'keydrift.config.json');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be rejected');
};

describe('parseDetectionConfig', () => {
  it('fills in the defaults for an empty configuration', () => {
    expect(parseDetectionConfig({})).toEqual(DEFAULT_CONFIG);
    expect(parseDetectionConfig(undefined)).toEqual(DEFAULT_CONFIG);
  });

  it('accepts the configuration the example ships with', () => {
    const example = {
      plannedPrincipals: ['arn:aws:iam::111122223333:role/platform-deployer'],
      severityOverrides: {},
      ignore: [],
    };
    expect(parseDetectionConfig(example)).toEqual({ ...example, trailKeys: [] });
  });

  it('names a planned principal that is not an IAM role or user ARN', () => {
    expect(problemsOf({ plannedPrincipals: ['arn:aws:sts::111122223333:assumed-role/Admin/carol'] })).toBe(
      'keydrift.config.json is not valid:\n  plannedPrincipals[0]: must be an IAM role or user ARN (arn:aws:iam::123456789012:role/Name)',
    );
  });

  it('names an unknown event in severityOverrides', () => {
    expect(problemsOf({ severityOverrides: { PutKeyPolicies: 'info' } })).toBe(
      'keydrift.config.json is not valid:\n  severityOverrides.PutKeyPolicies: is not a watched event name or one of denied, planned, resolved',
    );
  });

  it('refuses an override of drift, which takes its event severity and would silently do nothing', () => {
    expect(problemsOf({ severityOverrides: { drift: 'info' } })).toBe(
      "keydrift.config.json is not valid:\n  severityOverrides.drift: is the drift status, which takes its event's severity: override the event by name",
    );
  });

  it('says an escalation rule named in severityOverrides is a rule, whose severity no override sets', () => {
    expect(problemsOf({ severityOverrides: { NoOutsideAccessGained: 'warning' } })).toBe(
      'keydrift.config.json is not valid:\n  severityOverrides.NoOutsideAccessGained: is an escalation rule, whose severity is fixed: override an event by name, or denied, planned, resolved',
    );
  });

  it('names a severity that does not exist', () => {
    expect(problemsOf({ severityOverrides: { TagResource: 'loud' } })).toMatch(
      /severityOverrides\.TagResource: Invalid option/,
    );
  });

  it('names an ignore rule without event, resource or user', () => {
    expect(problemsOf({ ignore: [{ event: 'TagResource' }, { reason: 'noise' }] })).toBe(
      'keydrift.config.json is not valid:\n  ignore[1]: an ignore rule needs event, resource or user',
    );
  });

  it('names an unknown top-level key', () => {
    expect(problemsOf({ plannedPrincipal: [] })).toBe(
      'keydrift.config.json is not valid:\n  (top level): Unrecognized key: "plannedPrincipal"',
    );
  });

  it('names a planned principal whose path ends without a role name, which no session would match', () => {
    for (const principal of ['arn:aws:iam::111122223333:role/deployer/', 'arn:aws:iam::111122223333:role//deployer']) {
      expect(problemsOf({ plannedPrincipals: [principal] })).toBe(
        'keydrift.config.json is not valid:\n  plannedPrincipals[0]: must be an IAM role or user ARN (arn:aws:iam::123456789012:role/Name)',
      );
    }
    const withPath =
      'arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123';
    expect(parseDetectionConfig({ plannedPrincipals: [withPath] }).plannedPrincipals).toEqual([withPath]);
  });

  it('names a trail key given as an alias ARN, which no trail key would match', () => {
    expect(problemsOf({ trailKeys: ['arn:aws:kms:eu-west-1:111122223333:alias/cloudtrail-logs'] })).toBe(
      'keydrift.config.json is not valid:\n  trailKeys[0]: must be a KMS key ARN',
    );
    expect(parseDetectionConfig({ trailKeys: [KEY_ARN] }).trailKeys).toEqual([KEY_ARN]);
  });

  it('lists every problem at once', () => {
    const message = problemsOf({ plannedPrincipals: ['bob'], trailKeys: ['alias/cloudtrail-logs'] });
    expect(message.split('\n').slice(1)).toEqual([
      '  plannedPrincipals[0]: must be an IAM role or user ARN (arn:aws:iam::123456789012:role/Name)',
      '  trailKeys[0]: must be a KMS key ARN',
    ]);
  });
});

describe('severityOverrides', () => {
  it('changes the default severity of an event', () => {
    const { last } = detect([rec('TagResource__awskmsdg__1')], { severityOverrides: { TagResource: 'error' } });
    expect(last).toMatchObject({ status: 'drift', severity: 'error' });
  });

  it('changes the severity a status sets', () => {
    const denied = rec('DisableKey__panther__1');
    expect(detect([denied]).last.severity).toBe('warning');
    expect(detect([denied], { severityOverrides: { denied: 'error' } }).last).toMatchObject({
      status: 'denied',
      severity: 'error',
    });
  });

  it('changes the severity of resolved changes', () => {
    const records = [onKey(rec('DisableKey__awskmsdg__1')), onKey(rec('EnableKey__awskmsdg__1'))];
    expect(detect(records, { severityOverrides: { resolved: 'warning' } }).last).toMatchObject({
      status: 'resolved',
      severity: 'warning',
    });
  });

  it.each(['KMSCMKRotation__awskmsdg__1', 'RotateKey__awskmsdg__1', 'SynchronizeMultiRegionKey__awskmsdg__1'])(
    'changes the severity of a routine event KMS does itself (%s), which is planned by nature',
    (sample) => {
      const unchanged = detect([rec(sample)]).last;
      expect(unchanged).toMatchObject({ status: 'planned', severity: 'info' });
      expect(detect([rec(sample)], { severityOverrides: { [unchanged.event]: 'warning' } }).last).toMatchObject({
        status: 'planned',
        severity: 'warning',
      });
    },
  );

  it('does not lower an event below an escalation', () => {
    const grant = rec('CreateGrant__awskmsdg__1', (r) => {
      (r.requestParameters as Record<string, unknown>).granteePrincipal = 'arn:aws:iam::444455556666:root';
    });
    expect(detect([grant], { severityOverrides: { CreateGrant: 'info' } }).last.severity).toBe('critical');
  });
});

describe('Ignore rules', () => {
  const config = parseDetectionConfig({
    ignore: [
      { event: 'Tag*', user: 'arn:aws:iam::111122223333:user/*', reason: 'tagging is owned by the teams' },
      { resource: 'arn:aws:kms:*:111122223333:key/0987dcba-*' },
    ],
  });

  it('matches a finding whose every given field matches its glob', () => {
    const finding = detect([rec('TagResource__awskmsdg__1')]).last;
    expect(matchingIgnoreRule(config, finding)?.reason).toBe('tagging is owned by the teams');
  });

  it('does not match when one given field differs', () => {
    const finding = detect([rec('UntagResource__awskmsdg__1')]).last;
    expect(matchingIgnoreRule(config, { ...finding, event: 'UntagResource' })).toBeUndefined();
    const byRole = {
      ...detect([rec('TagResource__awskmsdg__1')]).last,
      user: 'arn:aws:sts::111122223333:assumed-role/A/b',
    };
    expect(matchingIgnoreRule(config, byRole)).toBeUndefined();
  });

  it('matches a resource glob across Regions', () => {
    const finding = {
      event: 'DisableKey',
      user: 'x',
      resource: 'arn:aws:kms:eu-west-1:111122223333:key/0987dcba-09fe',
    };
    expect(matchingIgnoreRule(config, finding)).toEqual({ resource: 'arn:aws:kms:*:111122223333:key/0987dcba-*' });
    expect(matchingIgnoreRule(config, { ...finding, resource: KEY_ARN })).toBeUndefined();
  });

  it('treats glob metacharacters other than * literally', () => {
    const dots = parseDetectionConfig({ ignore: [{ event: 'Tag.Resource' }] });
    expect(matchingIgnoreRule(dots, { event: 'TagXResource', resource: KEY_ARN, user: 'x' })).toBeUndefined();
  });
});
