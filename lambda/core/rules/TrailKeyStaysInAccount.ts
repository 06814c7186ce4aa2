import { parseArn } from '../arn';
import { COMPLIANT, NOT_APPLICABLE, type Rule, violation } from './rule';

const accountOf = (arn: unknown): string | undefined => (typeof arn === 'string' ? parseArn(arn)?.account : undefined);

/**
 * A trail's logs stay encrypted with a key of the trail's own account (or of the account its approved key
 * was already in): whoever holds the key can stop log delivery by disabling it. The approved key, not the one before
 * this change: a second move between keys of an outside account is no more routine than the first.
 */
export const TrailKeyStaysInAccount: Rule = {
  id: 'TrailKeyStaysInAccount',
  check({ kind, resource, changes, approved }) {
    const change = changes.kms_key_id;
    // A trail that has just appeared (created, or first seen by the reconciler) moves no existing logs.
    const appeared = changes.trail?.after === 'exists';
    if (kind !== 'trail' || !change?.after || appeared) return NOT_APPLICABLE;
    const keyAccount = accountOf(change.after);
    // With no approved state known, the key before this change is the best guess at it.
    const approvedKey = approved('kms_key_id');
    const approvedAccount = accountOf(approvedKey === undefined ? change.before : approvedKey);
    if (!keyAccount || keyAccount === accountOf(resource) || keyAccount === approvedAccount) return COMPLIANT;
    return violation(`the trail's logs are now encrypted with a key of account ${keyAccount}`);
  },
};
