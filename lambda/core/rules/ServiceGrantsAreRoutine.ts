import { COMPLIANT, NOT_APPLICABLE, type Rule, type RuleContext, violation } from './rule';

const GRANT_EVENTS = new Set(['CreateGrant', 'RetireGrant', 'RevokeGrant']);
const SERVICE = /\.amazonaws\.com$/;

/**
 * The AWS service that created or retired this grant on a caller's behalf (EBS, RDS, Secrets Manager…), when it
 * gives no other account access: such grants come and go all day and are approved as they happen.
 */
export function grantManagedByService({ event, changes }: Pick<RuleContext, 'event' | 'changes'>): string | undefined {
  if (!GRANT_EVENTS.has(event.eventName)) return undefined;
  const service = event.actor.invokedBy ?? (SERVICE.test(event.sourceIp ?? '') ? event.sourceIp : undefined);
  if (!service || !SERVICE.test(service)) return undefined;
  return (changes.grants?.external_accounts ?? []).length > 0 ? undefined : service;
}

/**
 * Grants an AWS service creates or retires on a caller's behalf are routine. A "violation" here lowers the
 * severity; outside access still escalates afterwards.
 */
export const ServiceGrantsAreRoutine: Rule = {
  id: 'ServiceGrantsAreRoutine',
  check(ctx) {
    if (!GRANT_EVENTS.has(ctx.event.eventName)) return NOT_APPLICABLE;
    const service = grantManagedByService(ctx);
    return service ? violation(`${service} manages this grant for its caller`) : COMPLIANT;
  },
};
