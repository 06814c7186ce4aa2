import { COMPLIANT, NOT_APPLICABLE, type Rule, violation } from './rule';

const GRANT_EVENTS = new Set(['CreateGrant', 'RetireGrant', 'RevokeGrant']);
const SERVICE = /\.amazonaws\.com$/;

/**
 * Grants an AWS service creates or retires on a caller's behalf (EBS, RDS, Secrets Manager…) are
 * routine. A "violation" here lowers the severity; outside access still escalates afterwards.
 */
export const ServiceGrantsAreRoutine: Rule = {
  id: 'ServiceGrantsAreRoutine',
  check({ event, changes }) {
    if (!GRANT_EVENTS.has(event.eventName)) return NOT_APPLICABLE;
    const service = event.actor.invokedBy ?? (SERVICE.test(event.sourceIp ?? '') ? event.sourceIp : undefined);
    if (!service || !SERVICE.test(service)) return COMPLIANT;
    if ((changes.grants?.external_accounts ?? []).length > 0) return COMPLIANT;
    return violation(`${service} manages this grant for its caller`);
  },
};
