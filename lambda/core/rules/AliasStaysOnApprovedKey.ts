import { COMPLIANT, NOT_APPLICABLE, type Rule, violation } from './rule';

/**
 * An alias approved on one key is not made to name another: code that encrypts through the alias would then use a key
 * no one approved. An UpdateAlias says so by its name, and weighs as its catalogue entry (or an override of it) says;
 * a DeleteAlias then a CreateAlias onto another key moves it too, and its CreateAlias is raised to weigh as a move.
 * Only the CreateAlias: an UpdateAlias or a reconcile run keeps its own severity, as an override sets it. Nor one of an
 * alias keydrift still knows on another key: it went unseen, with its key's deletion (which the live detector may see
 * only as a read already showing the alias on the new key) as likely as by a DeleteAlias still to come.
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
