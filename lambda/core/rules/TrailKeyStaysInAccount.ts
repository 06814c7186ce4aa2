import { parseArn } from '../arn';
import { COMPLIANT, NOT_APPLICABLE, type Rule, violation } from './rule';

const accountOf = (arn: unknown): string | undefined => (typeof arn === 'string' ? parseArn(arn)?.account : undefined);

/**
 * A trail's logs stay encrypted with a key of the trail's own account (or of the account its approved key
 * was already in): whoever holds the key can stop log delivery by disabling it.
 */
export const TrailKeyStaysInAccount: Rule = {
  id: 'TrailKeyStaysInAccount',
  check({ kind, resource, changes }) {
    const change = changes.kms_key_id;
    // A trail that has just appeared (created, or first seen by the reconciler) moves no existing logs.
    const appeared = changes.trail?.after === 'exists';
    if (kind !== 'trail' || !change?.after || appeared) return NOT_APPLICABLE;
    const keyAccount = accountOf(change.after);
    if (!keyAccount || keyAccount === accountOf(resource) || keyAccount === accountOf(change.before)) return COMPLIANT;
    return violation(`the trail's logs are now encrypted with a key of account ${keyAccount}`);
  },
};
