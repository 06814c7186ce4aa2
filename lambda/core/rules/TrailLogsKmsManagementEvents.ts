import { logsKmsWrites, type TrailSelectors } from '../effects';
import { COMPLIANT, NOT_APPLICABLE, type Rule, violation } from './rule';

/** A trail keeps logging KMS management write events (what keydrift and auditors rely on). */
export const TrailLogsKmsManagementEvents: Rule = {
  id: 'TrailLogsKmsManagementEvents',
  check({ kind, changes }) {
    const selectors = changes.event_selectors?.after as TrailSelectors | undefined;
    if (kind !== 'trail' || !selectors) return NOT_APPLICABLE;
    if (logsKmsWrites(selectors)) return COMPLIANT;
    return violation(
      selectors.excluded_sources.includes('kms.amazonaws.com')
        ? 'the trail now excludes KMS management events'
        : `the trail now logs ${selectors.management === 'None' ? 'no' : 'only read-only'} management events`,
    );
  },
};
