import { COMPLIANT, NOT_APPLICABLE, type Rule, violation } from './rule';

/** A trail that encrypted its logs with a KMS key keeps one. */
export const TrailKeepsKmsKey: Rule = {
  id: 'TrailKeepsKmsKey',
  check({ kind, changes }) {
    const change = changes.kms_key_id;
    if (kind !== 'trail' || !change) return NOT_APPLICABLE;
    if (change.after) return COMPLIANT;
    return violation('the trail is left without a KMS key: its log files are no longer encrypted with KMS');
  },
};
