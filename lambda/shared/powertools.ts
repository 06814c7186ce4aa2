/**
 * The one Logger and Metrics of each function, created once per execution environment. Composition roots import
 * them; application code receives them as dependencies.
 */

import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

export const SERVICE_NAME = 'keydrift';

export const logger = new Logger({ serviceName: SERVICE_NAME });

// The stack sets POWERTOOLS_METRICS_NAMESPACE; Metrics adds the default dimension `service=keydrift`.
export const metrics = new Metrics({
  serviceName: SERVICE_NAME,
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE || 'Keydrift',
});
