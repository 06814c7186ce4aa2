/**
 * Composition root of the reconciler Lambda: reads the environment once, builds the AWS clients and the KMS rate
 * limiter once per execution environment, and hands every scheduled or continuation event to the reconciler
 * application (reconciler-app.ts).
 */

import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Context } from 'aws-lambda';
import { createRateLimiter, kmsRates, paceSdkRetries } from '../adapters/rate-limiter';
import { logger, metrics } from '../shared/powertools';
import { readReconcilerEnvironment } from '../shared/reconciler-environment';
import { createReconciler } from './reconciler-app';

const environment = readReconcilerEnvironment(process.env);

// KMS: the SDK's adaptive mode slows the whole client down after a throttle, on top of the limiter's pacing; the
// limiter also paces the SDK's retries, so no operation goes over its share of the quota.
const kms = new KMSClient({ retryMode: 'adaptive', maxAttempts: 3 });
const limiter = createRateLimiter({ rates: kmsRates(environment.kmsQuotaShare) });
paceSdkRetries(kms, limiter);
const retry = { maxAttempts: 5 };

const reconcile = createReconciler({
  kms,
  dynamodb: new DynamoDBClient(retry),
  sns: new SNSClient(retry),
  eventBridge: new EventBridgeClient(retry),
  cloudtrail: new CloudTrailClient({ retryMode: 'adaptive', maxAttempts: 5 }),
  limiter,
  settings: environment,
  logger,
  metrics,
});

export const handler = async (event: unknown, context: Context) => {
  logger.addContext(context);
  return reconcile(event, context);
};
