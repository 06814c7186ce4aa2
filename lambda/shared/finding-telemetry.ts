import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { PublishReport } from '../adapters/publisher';
import type { Finding } from '../core/types';

/**
 * Counts a finding for the dashboard (`Findings` by event, `FindingsBySeverity` by severity; one dimension set
 * each) and logs it with where it was delivered. A finding an ignore rule kept out of alerts (`ignoredBy`, its
 * reason) is counted apart, as `IgnoredFindings`, wherever it was found (an event, or a reconcile run), so that the
 * dashboard's findings are those that alerted.
 */
export function recordFinding(
  logger: Logger,
  metrics: Metrics,
  finding: Finding,
  report: PublishReport | undefined,
  extra: Record<string, unknown> = {},
  ignoredBy?: string,
): void {
  if (ignoredBy) {
    metrics.addMetric('IgnoredFindings', MetricUnit.Count, 1);
    logger.info('Finding matches an ignore rule: kept, not alerted', {
      eventId: finding.eventId,
      resource: finding.resource,
      severity: finding.severity,
      ignoredBy,
      // One that closes an incident still goes to the pager, which only resolves for it.
      ...(report?.delivered.length ? { delivered: report.delivered } : {}),
    });
    return;
  }
  const byEvent = metrics.singleMetric();
  byEvent.addDimension('event', finding.event);
  byEvent.addMetric('Findings', MetricUnit.Count, 1);
  const bySeverity = metrics.singleMetric();
  bySeverity.addDimension('severity', finding.severity);
  bySeverity.addMetric('FindingsBySeverity', MetricUnit.Count, 1);
  logger.info(finding.summary, {
    eventId: finding.eventId,
    event: finding.event,
    resource: finding.resource,
    severity: finding.severity,
    status: finding.status,
    user: finding.user,
    delivered: report?.delivered ?? [],
    ...(report?.tolerated.length ? { tolerated: report.tolerated } : {}),
    ...extra,
  });
}
