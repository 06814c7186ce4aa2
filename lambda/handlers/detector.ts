/**
 * Composition root of the detector Lambda: reads the environment once, builds the AWS clients once per execution
 * environment, and hands every event to the detector application (detector-app.ts).
 */

import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Context } from 'aws-lambda';
import { readDetectorEnvironment } from '../shared/environment';
import { logger, metrics } from '../shared/powertools';
import { required } from '../shared/variables';
import { createDetector } from './detector-app';

// The SDK's standard retry mode backs off on throttling; five attempts ride out a short burst of KMS throttling
// within the function's 30-second timeout. What still fails is retried by Lambda's asynchronous retries.
const retry = { maxAttempts: 5 };

const environment = {
  ...readDetectorEnvironment(process.env),
  // The detector's alone: the reconciler reads the settings above but never publishes there.
  lastResortTopicArn: required(process.env, ['LAST_RESORT_TOPIC_ARN']).LAST_RESORT_TOPIC_ARN,
};

const detect = createDetector({
  kms: new KMSClient(retry),
  dynamodb: new DynamoDBClient(retry),
  sns: new SNSClient(retry),
  eventBridge: new EventBridgeClient(retry),
  cloudtrail: new CloudTrailClient(retry),
  settings: environment,
  logger,
  metrics,
});

export const handler = async (event: unknown, context: Context) => {
  logger.addContext(context);
  return detect(event, context);
};
