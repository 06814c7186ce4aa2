import { COMPLIANT, NOT_APPLICABLE, type Rule, violation } from './rule';

/**
 * An alias approved on one key is not moved to another in two calls, DeleteAlias then CreateAlias: code encrypting
 * through the alias would use a key no one approved. That CreateAlias weighs as the move it completes (an UpdateAlias
 * keeps its own entry, and any override of it). Not one of an alias keydrift still knows on another key: it went
 * unseen, perhaps with its key's deletion.
 */
export const AliasStaysOnApprovedKey: Rule = {
  id: 'AliasStaysOnApprovedKey',
  check({ event, kind, changes, approved }) {
    const before = changes.target_key_id?.before;
    const after = changes.target_key_id?.after;
    const approvedKey = approved('target_key_id');
    if (event.eventName !== 'CreateAlias' || kind !== 'alias') return NOT_APPLICABLE;
    if (typeof after !== 'string' || typeof approvedKey !== 'string') return NOT_APPLICABLE;
    if (typeof before === 'string' && before !== after) return NOT_APPLICABLE;
    if (after === approvedKey) return COMPLIANT;
    return violation(`the alias now names ${after} instead of its approved key ${approvedKey}`);
  },
};
