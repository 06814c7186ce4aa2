import { COMPLIANT, NOT_APPLICABLE, type Rule, violation } from './rule';

/** The key policy of a key that encrypts a trail keeps CloudTrail's `kms:GenerateDataKey*`. */
export const TrailKeyKeepsCloudTrailAccess: Rule = {
  id: 'TrailKeyKeepsCloudTrailAccess',
  check({ changes, trailsUsingKey }) {
    if (!changes.policy || trailsUsingKey.length === 0) return NOT_APPLICABLE;
    if (!changes.policy.cloudtrail_access_removed) return COMPLIANT;
    return violation(`CloudTrail can no longer encrypt the logs of ${trailsUsingKey.join(', ')} with this key`);
  },
};
