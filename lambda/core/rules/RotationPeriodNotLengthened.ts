import { COMPLIANT, NOT_APPLICABLE, type Rule, violation } from './rule';

/** Key material rotates at least as often as it did: a longer period keeps each key version in use longer. */
export const RotationPeriodNotLengthened: Rule = {
  id: 'RotationPeriodNotLengthened',
  check({ kind, changes }) {
    const change = changes.rotation_period_in_days;
    if (kind !== 'key' || typeof change?.before !== 'number' || typeof change.after !== 'number') return NOT_APPLICABLE;
    if (change.after <= change.before) return COMPLIANT;
    return violation(`automatic rotation now every ${change.after} days instead of every ${change.before}`);
  },
};
