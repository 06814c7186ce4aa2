import type { ApprovedValue } from '../remediation';
import type { AttributeChange, ChangeEvent, ResourceKind } from '../types';

/** What a rule sees: one event's changes on one resource, and what is known around it. */
export interface RuleContext {
  event: ChangeEvent;
  kind: ResourceKind;
  resource: string;
  changes: Record<string, AttributeChange>;
  /** Trails whose logs this key encrypts (empty for aliases, trails and unrelated keys). */
  trailsUsingKey: string[];
  /** The approved value of any path of the resource (`undefined` when unknown, `null` when approved absent). */
  approved: ApprovedValue;
}

export type RuleOutcome =
  | { verdict: 'COMPLIANT' }
  | { verdict: 'NOT_APPLICABLE' }
  | { verdict: 'NON_COMPLIANT'; reason: string };

/** An invariant checked on every change; its severity and explanation live in the catalogue (`RULES`). */
export interface Rule {
  id: string;
  check(ctx: RuleContext): RuleOutcome;
}

export const COMPLIANT: RuleOutcome = { verdict: 'COMPLIANT' };
export const NOT_APPLICABLE: RuleOutcome = { verdict: 'NOT_APPLICABLE' };
export const violation = (reason: string): RuleOutcome => ({ verdict: 'NON_COMPLIANT', reason });
