import { COMPLIANT, NOT_APPLICABLE, type Rule, violation } from './rule';

/** No change lets another account, or anyone, use a key (through its policy or a grant). */
export const NoOutsideAccessGained: Rule = {
  id: 'NoOutsideAccessGained',
  check({ changes }) {
    if (!changes.policy && !changes.grants) return NOT_APPLICABLE;
    const outside = [...(changes.policy?.external_accounts ?? []), ...(changes.grants?.external_accounts ?? [])];
    if (outside.length === 0) return COMPLIANT;
    return violation(
      outside.includes('*')
        ? 'anyone can now use the key'
        : `account ${[...new Set(outside)].join(', ')} gained access to the key`,
    );
  },
};
