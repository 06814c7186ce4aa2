/**
 * Composition root of the pager Lambda (subscribed to the page topic): reads the environment once and builds the
 * Secrets Manager and DynamoDB clients once per execution environment.
 */

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context, SNSEvent } from 'aws-lambda';
import { createPageLedger } from '../adapters/page-ledger';
import { logger, metrics } from '../shared/powertools';
import { readPagerEnvironment } from '../shared/variables';
import { createPager } from './pager-app';

const environment = readPagerEnvironment(process.env);

const page = createPager({
  secrets: new SecretsManagerClient({ maxAttempts: 5 }),
  secretName: environment.secretName,
  ledger: createPageLedger({ client: new DynamoDBClient({}), tableName: environment.tableName }),
  logger,
  metrics,
});

export const handler = async (event: SNSEvent, context: Context) => {
  logger.addContext(context);
  return page(event, context);
};
