/**
 * Which audiences a finding goes to. Chat and email get everything at or above the configured severity; the pager
 * gets critical findings, plus the `resolved` and `planned` ones that close an incident it may hold open, and a key's
 * deletion whatever its severity (it closes the key's other incidents). Chat also
 * gets every `resolved` finding, so the channel that saw the drift hears it was fixed (in its thread).
 */

import { type Finding, SEVERITIES, type Severity } from '../core/types';
import { changedNothing, resolvesSomeIncident } from './pagerduty';

/** The alert audiences, each published to its own SNS topic. */
export const AUDIENCES = ['chat', 'email', 'page'] as const;
export type Audience = (typeof AUDIENCES)[number];

/** True when `severity` ranks at or above `minimum` in SEVERITIES (info < warning < error < critical). */
export function severityAtLeast(severity: Severity, minimum: Severity): boolean {
  return SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(minimum);
}

/**
 * The audiences for a finding: chat and email at or above `minSeverity`, chat for every `resolved` one that changed
 * something, page for critical or incident-closing ones.
 */
export function audiencesFor(
  finding: Pick<Finding, 'event' | 'severity' | 'status'> & Partial<Pick<Finding, 'changes'>>,
  minSeverity: Severity = 'error',
): Audience[] {
  const audiences: Audience[] = [];
  if (severityAtLeast(finding.severity, minSeverity)) audiences.push('chat', 'email');
  // The all-clear for drift chat was told about; e-mail is not worth a second message for it. A call that changed
  // nothing clears nothing.
  else if (finding.status === 'resolved' && !changedNothing(finding)) audiences.push('chat');
  // Resolves wake nobody, and without them incidents never close.
  if (finding.severity === 'critical' || resolvesSomeIncident(finding)) audiences.push('page');
  return audiences;
}
