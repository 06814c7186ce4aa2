import { COMPLIANT, NOT_APPLICABLE, type Rule, violation } from './rule';

/**
 * An alias approved on one key is not made to name another: code that encrypts through the alias would then use a key
 * no one approved. An UpdateAlias says so by its name; a DeleteAlias then a CreateAlias onto another key moves it too.
 */
export const AliasStaysOnApprovedKey: Rule = {
  id: 'AliasStaysOnApprovedKey',
  check({ kind, changes, approved }) {
    const after = changes.target_key_id?.after;
    const approvedKey = approved('target_key_id');
    if (kind !== 'alias' || typeof after !== 'string' || typeof approvedKey !== 'string') return NOT_APPLICABLE;
    if (after === approvedKey) return COMPLIANT;
    return violation(`the alias now names ${after} instead of its approved key ${approvedKey}`);
  },
};
