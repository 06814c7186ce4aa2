import { isPendingDeletion, UNUSABLE_KEY_STATES } from '../catalog';
import { COMPLIANT, NOT_APPLICABLE, type Rule, violation } from './rule';

/** A key that encrypts a trail stays enabled, is not scheduled for deletion and keeps its key material. */
export const TrailKeyStaysUsable: Rule = {
  id: 'TrailKeyStaysUsable',
  check({ changes, trailsUsingKey }) {
    if (trailsUsingKey.length === 0 || (!changes.key_state && !changes.key_material)) return NOT_APPLICABLE;
    const state = changes.key_state?.after;
    if (typeof state !== 'string' || !UNUSABLE_KEY_STATES.has(state)) return COMPLIANT;
    // CancelKeyDeletion leaves the key Disabled, as it was while pending deletion: it saves the key, it disables nothing.
    if (state === 'Disabled' && isPendingDeletion(changes.key_state?.before)) return COMPLIANT;
    return violation(`the key encrypting the logs of ${trailsUsingKey.join(', ')} is now ${state}`);
  },
};
