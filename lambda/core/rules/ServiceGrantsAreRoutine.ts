import { parseArn } from '../arn';
import { COMPLIANT, NOT_APPLICABLE, type Rule, type RuleContext, violation } from './rule';

const GRANT_EVENTS = new Set(['CreateGrant', 'RetireGrant', 'RevokeGrant']);
const SERVICE = /\.amazonaws\.com$/;

/**
 * The AWS service that created or retired this grant on a caller's behalf (EBS, RDS, Secrets Manager…), when it
 * lets in no account but the caller's own: such grants come and go all day and are approved as they happen. A caller
 * of another account (EBS attaching a volume encrypted with a shared key) could only do so because the key policy
 * already lets that account use the key through the service; a grant for a third account is never routine.
 */
export function grantManagedByService({ event, changes }: Pick<RuleContext, 'event' | 'changes'>): string | undefined {
  if (!GRANT_EVENTS.has(event.eventName)) return undefined;
  const service = event.actor.invokedBy ?? (SERVICE.test(event.sourceIp ?? '') ? event.sourceIp : undefined);
  if (!service || !SERVICE.test(service)) return undefined;
  const callerAccount = parseArn(event.actor.arn)?.account;
  const outside = changes.grants?.external_accounts ?? [];
  return outside.every((account) => account === callerAccount) ? service : undefined;
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
