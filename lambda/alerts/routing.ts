/**
 * Which audiences a finding goes to. Chat and email get everything at or above the configured severity; the pager
 * gets critical findings, plus the `resolved` and `planned` ones that close an incident it may hold open. Chat also
 * gets every `resolved` finding, so the channel that saw the drift hears it was fixed (in its thread).
 */

import { type Finding, SEVERITIES, type Severity, type Status } from '../core/types';

/** The alert audiences, each published to its own SNS topic. */
export const AUDIENCES = ['chat', 'email', 'page'] as const;
export type Audience = (typeof AUDIENCES)[number];

// These statuses produce PagerDuty `resolve` events: they wake nobody, and without them incidents never close.
const CLOSES_INCIDENT: ReadonlySet<Status> = new Set<Status>(['resolved', 'planned']);

/** A drift finding that still brings one attribute back (CancelKeyDeletion clears deletion_date) closes its incident. */
const closesSomeAttribute = (finding: Partial<Pick<Finding, 'changes'>>): boolean =>
  Object.values(finding.changes ?? {}).some((change) => change.back_to_baseline === true);

/** True when `severity` ranks at or above `minimum` in SEVERITIES (info < warning < error < critical). */
export function severityAtLeast(severity: Severity, minimum: Severity): boolean {
  return SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(minimum);
}

/**
 * The audiences for a finding: chat and email at or above `minSeverity`, chat for every `resolved` one, page for
 * critical or incident-closing ones.
 */
export function audiencesFor(
  finding: Pick<Finding, 'severity' | 'status'> & Partial<Pick<Finding, 'changes'>>,
  minSeverity: Severity = 'error',
): Audience[] {
  const audiences: Audience[] = [];
  if (severityAtLeast(finding.severity, minSeverity)) audiences.push('chat', 'email');
  // The all-clear for drift chat was told about; e-mail is not worth a second message for it.
  else if (finding.status === 'resolved') audiences.push('chat');
  if (finding.severity === 'critical' || CLOSES_INCIDENT.has(finding.status) || closesSomeAttribute(finding)) {
    audiences.push('page');
  }
  return audiences;
}
