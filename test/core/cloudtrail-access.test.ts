/**
 * Whether CloudTrail can still encrypt a trail's logs with a key: the policy evaluated against the request CloudTrail
 * makes (the service principal, with the trail in aws:SourceArn and in the encryption context).
 */
import { allowsCloudTrailEncryption } from '../../lambda/core/cloudtrail-access';
import { normalizePolicy } from '../../lambda/core/policy';
import {
  ACCOUNT,
  cloudTrailStatement,
  createKey,
  defaultPolicy,
  detect,
  EXTERNAL_ACCOUNT,
  policyWith,
  putKeyPolicy,
  TRAIL_ARN,
} from './harness';

const denyCloudTrail = (condition: Record<string, Record<string, string>>) => ({
  Effect: 'Deny',
  Principal: '*',
  Action: 'kms:*',
  Resource: '*',
  Condition: condition,
});
const cloudTrailOnlyIf = (condition: Record<string, Record<string, string>>) => ({
  ...cloudTrailStatement(),
  Condition: condition,
});
const ownTrails = `arn:aws:cloudtrail:*:${ACCOUNT}:trail/*`;
const allows = (statements: Array<Record<string, unknown>>, trails: string[] = []) =>
  allowsCloudTrailEncryption(normalizePolicy(policyWith(...statements)), ACCOUNT, trails);

describe('CloudTrail access to the key of its logs', () => {
  it.each([
    ['a Deny of AWS services', { Bool: { 'aws:PrincipalIsAWSService': 'true' } }],
    ['a Deny of callers without an organization', { Null: { 'aws:PrincipalOrgID': 'true' } }],
    ["a Deny of this account's trails", { StringLike: { 'aws:SourceArn': ownTrails } }],
    [
      "a Deny of log files not in another account's trails",
      {
        StringNotLike: {
          'kms:EncryptionContext:aws:cloudtrail:arn': `arn:aws:cloudtrail:*:${EXTERNAL_ACCOUNT}:trail/*`,
        },
      },
    ],
  ])('finds CloudTrail locked out by %s', (_, condition) => {
    expect(allows([cloudTrailStatement(), denyCloudTrail(condition)])).toBe(false);
  });

  it('finds CloudTrail locked out by a Deny of every trail but a decoy, when it knows the trail', () => {
    const decoy = { ArnNotEquals: { 'aws:SourceArn': `arn:aws:cloudtrail:us-west-2:${ACCOUNT}:trail/decoy` } };
    expect(allows([cloudTrailStatement(), denyCloudTrail(decoy)], [TRAIL_ARN])).toBe(false);
    expect(
      allows([cloudTrailStatement(), denyCloudTrail(decoy)], [`arn:aws:cloudtrail:us-west-2:${ACCOUNT}:trail/decoy`]),
    ).toBe(true);
  });

  it.each([
    ['a Deny over plain HTTP, which CloudTrail never uses', { Bool: { 'aws:SecureTransport': 'false' } }],
    [
      'a Deny on a condition keydrift cannot evaluate',
      { DateGreaterThan: { 'aws:CurrentTime': '2000-01-01T00:00:00Z' } },
    ],
  ])('does not report a lockout for %s', (_, condition) => {
    expect(allows([cloudTrailStatement(), denyCloudTrail(condition)])).toBe(true);
  });

  it.each([
    [
      'an organization, which CloudTrail does not carry',
      { StringEquals: { 'aws:PrincipalOrgID': 'o-abc123' } },
      [],
      false,
    ],
    [
      'another trail',
      { StringEquals: { 'aws:SourceArn': `arn:aws:cloudtrail:us-west-2:${ACCOUNT}:trail/other` } },
      [TRAIL_ARN],
      false,
    ],
    ['the trail itself', { StringEquals: { 'aws:SourceArn': TRAIL_ARN } }, [TRAIL_ARN], true],
    [
      "this account's trails, by encryption context",
      { StringLike: { 'kms:EncryptionContext:aws:cloudtrail:arn': ownTrails } },
      [],
      true,
    ],
  ])("finds whether CloudTrail's Allow, conditioned on %s, still applies", (_, condition, trails, allowed) => {
    expect(allows([cloudTrailOnlyIf(condition)], trails)).toBe(allowed);
  });

  it('does not say CloudTrail lost access when a key that encrypts no trail is closed to everyone else', () => {
    const openToAll = { Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' };
    const { last } = detect([createKey({ policy: policyWith(openToAll) }), putKeyPolicy(defaultPolicy())]);
    expect(last.changes.policy).not.toHaveProperty('cloudtrail_access_removed');
    expect(last.summary).not.toMatch(/CloudTrail/);
  });
});
