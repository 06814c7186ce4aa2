import { COMPLIANT, NOT_APPLICABLE, type Rule, violation } from './rule';

/**
 * Key material rotates at least as often as it did: a longer period keeps each key version in use longer. Rotation
 * turned on again after it was off (no period then) is held to its approved period.
 */
export const RotationPeriodNotLengthened: Rule = {
  id: 'RotationPeriodNotLengthened',
  check({ kind, changes, approved }) {
    const change = changes.rotation_period_in_days;
    const before = change?.before === null ? approved('rotation_period_in_days') : change?.before;
    if (kind !== 'key' || typeof before !== 'number' || typeof change?.after !== 'number') return NOT_APPLICABLE;
    if (change.after <= before) return COMPLIANT;
    return violation(`automatic rotation now every ${change.after} days instead of every ${before}`);
  },
};
