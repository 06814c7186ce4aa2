/**
 * Fixes from the audit of the judging side of the core: organization fences keep their org id, a policy
 * that locks CloudTrail out of its trail's key is critical even when the previous policy is unknown,
 * network-activity records are not changes, and KMS's own calls are named by the service.
 */
import { DEFAULT_CONFIG } from '../../lambda/core/config';
import { classifyRecord, normalizeRecord } from '../../lambda/core/normalize';
import { replay } from '../../lambda/replay/replay';
import { CLOUDTRAIL_SAMPLES_DIR } from '../helpers/fixtures';
import {
  ACCOUNT,
  cloudTrailStatement,
  createKey,
  createTrail,
  detect,
  KEY_ARN,
  onKey,
  policyWith,
  putKeyPolicy,
  rec,
  TRAIL_ARN,
} from './harness';

const QUIET_POLICY = { severityOverrides: { PutKeyPolicy: 'warning' } };

/** Panther's PutKeyPolicy__panther__1 policy with its org fences replaced by `orgs`. */
function pantherPolicyFencedTo(...orgs: string[]): string {
  const text = String(rec('PutKeyPolicy__panther__1').requestParameters?.policy);
  const policy = JSON.parse(text) as { Statement: Array<{ Condition?: { StringEquals?: Record<string, string> } }> };
  const fenced = policy.Statement.filter((s) => s.Condition?.StringEquals?.['aws:PrincipalOrgID']);
  fenced.forEach((statement, index) => {
    (statement.Condition as { StringEquals: Record<string, string> }).StringEquals['aws:PrincipalOrgID'] =
      orgs[Math.min(index, orgs.length - 1)];
  });
  return JSON.stringify(policy, null, 2);
}

/** PutKeyPolicy__panther__1 with `policy`, as event `eventId` at `eventTime`. */
function pantherPut(policy: string, eventId: string, eventTime: string) {
  return rec('PutKeyPolicy__panther__1', (r) => {
    (r.requestParameters as Record<string, unknown>).policy = policy;
    r.eventID = eventId;
    r.eventTime = eventTime;
  });
}

describe('Policy: wildcards fenced to an organization', () => {
  it("keeps each organization id in the principals Panther's org-fenced policy adds", () => {
    // Act
    const { last } = detect([rec('PutKeyPolicy__panther__1')], QUIET_POLICY);
    // Assess
    expect(last.changes.policy.added_principals).toEqual([
      '* (org o-xxxxxxxxxx)',
      '* (org o-yyyyyyyyyy)',
      'arn:aws:iam::123456789012:role/ExampleRoleAssumption1',
      'arn:aws:iam::123456789012:role/ExampleRoleAssumption2',
      'arn:aws:iam::123456789012:root',
    ]);
    expect(last.changes.policy.external_accounts).toEqual([]);
  });

  it('reports a fence moved from our organization to another one as an added and a removed principal', () => {
    // Prepare
    const ours = pantherPut(pantherPolicyFencedTo('o-ours'), 'org-1', '2025-03-05T21:19:44Z');
    const evil = pantherPut(pantherPolicyFencedTo('o-evil'), 'org-2', '2025-03-05T21:30:00Z');
    // Act
    const { last } = detect([ours, evil], QUIET_POLICY);
    // Assess
    expect(last.changes.policy.added_principals).toEqual(['* (org o-evil)']);
    expect(last.changes.policy.removed_principals).toEqual(['* (org o-ours)']);
    expect(last.changes.policy.external_accounts).toEqual([]);
    expect(last.summary).toBe(
      'Key policy of xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx changed by example.user (+1 / -1 principals): ' +
        'now shared with organization o-evil, no longer with o-ours',
    );
  });

  it('reports no principal change when the org-fenced policy is put again unchanged', () => {
    const ours = pantherPolicyFencedTo('o-ours');
    const { last } = detect(
      [pantherPut(ours, 'org-1', '2025-03-05T21:19:44Z'), pantherPut(ours, 'org-2', '2025-03-05T21:30:00Z')],
      QUIET_POLICY,
    );
    expect(last.changes.policy?.added_principals ?? []).toEqual([]);
    expect(last.changes.policy?.removed_principals ?? []).toEqual([]);
  });
});

describe('Escalation: CloudTrail locked out of its key when the previous policy is unknown', () => {
  it('reports a policy without CloudTrail on the key of a trail as critical', () => {
    // Prepare: the trail is created on the key; the key's creation (and policy) was never seen.
    const records = [createTrail('org-audit', KEY_ARN), putKeyPolicy(policyWith())];
    // Act
    const { last } = detect(records, QUIET_POLICY);
    // Assess
    expect(last.changes.policy.before).toBeNull();
    expect(last.changes.policy.cloudtrail_access_removed).toBe(true);
    expect(last.severity).toBe('critical');
    expect(last.reasons).toEqual([
      `TrailKeyKeepsCloudTrailAccess: CloudTrail can no longer encrypt the logs of ${TRAIL_ARN} with this key`,
    ]);
    expect(last.summary).toBe(
      `Key policy of ${KEY_ARN.split('/')[1]} no longer lets CloudTrail encrypt logs (changed by Alice)`,
    );
  });

  it('does not flag an unknown previous policy replaced by one that keeps CloudTrail', () => {
    const { last } = detect(
      [createTrail('org-audit', KEY_ARN), putKeyPolicy(policyWith(cloudTrailStatement()))],
      QUIET_POLICY,
    );
    expect(last.changes.policy.cloudtrail_access_removed).toBeUndefined();
    expect(last.severity).toBe('warning');
  });

  it('does not flag a policy without CloudTrail on a key that encrypts no trail', () => {
    const { last } = detect([putKeyPolicy(policyWith())], QUIET_POLICY);
    expect(last.changes.policy.cloudtrail_access_removed).toBeUndefined();
    expect(last.severity).toBe('warning');
  });

  it('does not flag a known policy that never let CloudTrail in', () => {
    const { last } = detect(
      [createKey({ policy: policyWith() }), createTrail('org-audit', KEY_ARN), putKeyPolicy(policyWith())],
      QUIET_POLICY,
    );
    expect(last.changes.policy?.cloudtrail_access_removed).toBeUndefined();
  });
});

describe('Records that are not changes: network activity', () => {
  it('classifies the VPC-endpoint UpdateTrail record (NetworkActivity) as not a change', () => {
    const record = rec('UpdateTrail__panther__1');
    expect(classifyRecord(record)).toBe('other');
    expect(normalizeRecord(record).readOnly).toBe(true);
  });

  it('classifies the same record wrapped in an EventBridge envelope as not a change', () => {
    const envelope = {
      'detail-type': 'AWS API Call via CloudTrail',
      source: 'aws.cloudtrail',
      detail: rec('UpdateTrail__panther__1'),
    };
    expect(classifyRecord(envelope)).toBe('other');
  });

  it('classifies a data event on a watched source as not a change', () => {
    const record = rec('UpdateTrail__awsctug__1', (r) => {
      r.eventCategory = 'Data';
    });
    expect(classifyRecord(record)).toBe('other');
  });

  it('still classifies a management UpdateTrail as a change', () => {
    expect(classifyRecord(rec('UpdateTrail__awsctug__1'))).toBe('write');
  });

  it('produces no finding when the replay reads the network-activity record', async () => {
    const { findings } = await replay([`${CLOUDTRAIL_SAMPLES_DIR}/UpdateTrail__panther__1.json`], {
      config: DEFAULT_CONFIG,
      workers: 0,
    });
    expect(findings).toEqual([]);
  });
});

describe('Actor: calls KMS makes itself', () => {
  it('names KMS, not "AWS Internal", for SynchronizeMultiRegionKey', () => {
    // Act
    const { last } = detect([rec('SynchronizeMultiRegionKey__awskmsdg__1')]);
    // Assess
    expect(last.user).toBe('kms.amazonaws.com');
    expect(normalizeRecord(rec('SynchronizeMultiRegionKey__awskmsdg__1')).actor).toEqual({
      arn: 'kms.amazonaws.com',
      name: 'kms.amazonaws.com',
      type: 'AWSService',
      invokedBy: 'kms.amazonaws.com',
    });
    expect(last.summary).not.toContain('AWS Internal');
  });

  it('keeps a named service in invokedBy when the identity has no type or ARN', () => {
    const record = onKey(
      rec('SynchronizeMultiRegionKey__awskmsdg__1', (r) => {
        r.userIdentity = { accountId: ACCOUNT, invokedBy: 'dynamodb.amazonaws.com' };
      }),
    );
    expect(normalizeRecord(record).actor.arn).toBe('dynamodb.amazonaws.com');
  });
});

describe('Event names that are also names of object properties', () => {
  it.each([['constructor'], ['__proto__'], ['toString'], ['hasOwnProperty']])(
    'judges a KMS write named %s as a write keydrift does not know, not as a broken record',
    (eventName) => {
      // A forged or future record: the catalogue, effects and overrides must not answer with Object's own members.
      const record = onKey(rec('DisableKey__awskmsdg__1', (r) => Object.assign(r, { eventName })));
      const { last } = detect([record], { severityOverrides: { DisableKey: 'info' } });
      expect(last).toMatchObject({ event: eventName, severity: 'warning', status: 'drift', resource: KEY_ARN });
      expect(last.summary).toContain('(a write keydrift does not know yet)');
    },
  );
});
