/**
 * Why a finding has its severity, in words for the reader: the core tags each escalation reason with the id of the
 * rule that raised it (`NoOutsideAccessGained: account … gained access`); alerts show the rule's explanation from
 * the catalogue instead of its id.
 */

import { EVENTS, RECONCILE_EVENTS, RULES, STATUS_SEVERITY, UNKNOWN_WRITE } from '../core/catalog';
import { ownEntry } from '../core/own';
import type { Finding, Severity } from '../core/types';

// The core prefixes the reasons of a denied call with this (what the call would have done).
const DENIED_PREFIX = 'had it succeeded: ';
const RULE_TAGGED = /^([A-Za-z][A-Za-z0-9]*): ([\s\S]*)$/;

const STATUS_WHY: Record<keyof typeof STATUS_SEVERITY, string> = {
  denied: 'the call failed, so nothing changed',
  planned: 'a planned-change principal made it, or AWS made it as routine, and the baseline was updated',
  resolved: 'what it touched is at its approved baseline',
};

/**
 * One reason without its rule id, followed by the rule's explanation from the catalogue; a reason that names no
 * known rule is returned as it is.
 *
 * @example
 * readableReason('NoOutsideAccessGained: account 444455556666 gained access');
 * // 'Account 444455556666 gained access. A change that lets another account, or anyone, use the key is critical.'
 */
export function readableReason(reason: string): string {
  const denied = reason.startsWith(DENIED_PREFIX);
  const rest = denied ? reason.slice(DENIED_PREFIX.length) : reason;
  const match = RULE_TAGGED.exec(rest);
  const id = match?.[1];
  if (!match || id === undefined || !Object.hasOwn(RULES, id)) return reason;
  const detail = match[2]!.trim();
  const prefix = denied ? 'Had it succeeded: ' : '';
  // `RuleFailed: <rule> threw <message>`: the explanation says what to do, the detail what broke.
  if (id === 'RuleFailed') return `${prefix}${RULES.RuleFailed.explanation} (${detail})`;
  const text = denied ? detail : capitalized(detail);
  return `${prefix}${withFullStop(text)} ${RULES[id]!.explanation}`;
}

/**
 * Why the finding's severity is what it is, in words: the rules' reasons, or the default one when none applied. A
 * denied call's rule reasons say only what it would have done, so the status's own reason comes first.
 */
export function severityExplanations(
  finding: Pick<Finding, 'event' | 'reasons' | 'severity' | 'status'> & Partial<Pick<Finding, 'changes'>>,
): string[] {
  const given = (finding.reasons ?? []).map((r) => readableReason(String(r)));
  if (given.length === 0) return [defaultSeverityReason(finding)];
  return finding.status === 'denied' ? [defaultSeverityReason(finding), ...given] : given;
}

/**
 * Why the severity is what it is when no rule raised or lowered it: the status's own severity, or the event's default
 * from the catalogue (with the catalogue's explanation when the entry carries one), or a configuration override.
 */
export function defaultSeverityReason(
  finding: Pick<Finding, 'event' | 'severity' | 'status'> & Partial<Pick<Finding, 'changes'>>,
): string {
  const { event, severity, status } = finding;
  if (status !== 'drift' && Object.hasOwn(STATUS_SEVERITY, status)) {
    const why = STATUS_WHY[status as keyof typeof STATUS_SEVERITY];
    const standard = STATUS_SEVERITY[status as keyof typeof STATUS_SEVERITY];
    return standard === severity
      ? `Every ${status} finding is ${severityPhrase(severity)} by default: ${why}.`
      : `Set by configuration for ${status} findings (${severityPhrase(standard)} by default): ${why}.`;
  }
  const entry = ownEntry(EVENTS, event) ?? ownEntry(RECONCILE_EVENTS, event);
  const catalogued = (entry ?? UNKNOWN_WRITE).severity;
  // One that depends on what changed (drift found with no event, a deletion reminder) is worked out from the changes,
  // so that an override of it is told apart too.
  const byChanges = typeof catalogued !== 'string';
  const standard = !byChanges ? catalogued : finding.changes ? catalogued(finding.changes) : undefined;
  if (standard !== undefined && standard !== severity) {
    const forWhat = byChanges ? ', for what it found' : '';
    return `Set by configuration for ${event} (${severityPhrase(standard)} by default in keydrift's event catalogue${forWhat}).`;
  }
  if (entry?.explanation) return entry.explanation;
  if (byChanges) return `The severity keydrift's event catalogue gives ${event} for what it found.`;
  const name = entry ? event : `A write keydrift does not know yet (${event})`;
  return `${name} is ${severityPhrase(severity)} by default in keydrift's event catalogue.`;
}

const SEVERITY_PHRASE: Record<Severity, string> = {
  critical: 'critical',
  error: 'an error',
  warning: 'a warning',
  info: 'info',
};

function severityPhrase(severity: Severity): string {
  return SEVERITY_PHRASE[severity] ?? severity;
}

// A first word that is a name (`s3.amazonaws.com`, an ARN, an account id) keeps its case.
function capitalized(text: string): string {
  return /^[a-z]+\b(?![.:/-])/.test(text) ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

function withFullStop(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}
