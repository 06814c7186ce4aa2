/**
 * The KMS reader over the real SDK stack (serialization, retry middleware, deserialization), with KMS's HTTP
 * answers played back by a fake request handler. aws-sdk-client-mock replaces `send` and so skips the SDK's
 * retries; these tests need them.
 */

import { KMSClient } from '@aws-sdk/client-kms';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { RetryableKmsError } from '../../lambda/adapters/errors';
import { createKmsReader } from '../../lambda/adapters/kms-reader';
import { wireBody } from '../helpers/kms-api';

const KEY = 'arn:aws:kms:us-east-1:644160558196:key/082cd05f-96d1-49f6-a5ac-32093d2cfe38';
const THROTTLED = { status: 400, body: JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }) };

type Answer = { status: number; body: string };

/** Plays back answers per KMS operation (`X-Amz-Target: TrentService.<Operation>`); the last one repeats. */
function fakeKms(script: Record<string, Answer[]>) {
  const received: string[] = [];
  const requestHandler = {
    handle: async (request: { headers: Record<string, string> }) => {
      const operation = String(request.headers['x-amz-target']).replace('TrentService.', '');
      received.push(operation);
      const answers = script[operation] ?? [{ status: 200, body: '{}' }];
      const answer = answers.length > 1 ? (answers.shift() as Answer) : answers[0];
      return {
        response: {
          statusCode: answer.status,
          headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'test' },
          body: Buffer.from(answer.body),
        },
      };
    },
    updateHttpClientConfig: () => {},
    httpHandlerConfigs: () => ({}),
  };
  const client = new KMSClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler,
    // Three attempts with no backoff: the SDK's standard classification of errors, without the wait.
    retryStrategy: new ConfiguredRetryStrategy(3, () => 0),
  });
  return { client, received };
}

const ok = (name: string): Answer[] => [{ status: 200, body: wireBody(name) }];
const healthyKey = (): Record<string, Answer[]> => ({
  DescribeKey: ok('DescribeKey__custodian__1'),
  GetKeyPolicy: ok('GetKeyPolicy__custodian__1'),
  GetKeyRotationStatus: ok('GetKeyRotationStatus__custodian__2'),
  ListResourceTags: ok('ListResourceTags__custodian__1'),
  ListAliases: [{ status: 200, body: JSON.stringify({ Aliases: [], Truncated: false }) }],
  ListGrants: ok('ListGrants__custodian__1'),
});

describe('createKmsReader over the SDK retry stack', () => {
  it('succeeds when KMS throttles once and the SDK retry gets through', async () => {
    // Prepare
    const { client, received } = fakeKms({
      ...healthyKey(),
      DescribeKey: [THROTTLED, ...ok('DescribeKey__custodian__1')],
    });

    // Act
    const live = await createKmsReader({ client }).readKey(KEY);

    // Assess
    expect(live.attributes).toMatchObject({
      key_state: 'Enabled',
      enable_key_rotation: true,
      'tags#RequisiteKey': 'Required',
    });
    expect(received.filter((op) => op === 'DescribeKey')).toHaveLength(2);
  });

  it('gives up after maxAttempts with RetryableKmsError, keeping the throttling error as cause', async () => {
    const { client, received } = fakeKms({ ...healthyKey(), ListGrants: [THROTTLED] });

    const error = await createKmsReader({ client })
      .readKey(KEY)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RetryableKmsError);
    expect((error as Error).cause).toMatchObject({ name: 'ThrottlingException', message: 'Rate exceeded' });
    expect(received.filter((op) => op === 'ListGrants')).toHaveLength(3);
  });

  it.each([
    [
      'a 503 whose body is no KMS error (a load balancer page)',
      { status: 503, body: '<html>Service Unavailable</html>' },
    ],
    ['a 429 under a name of its own', { status: 429, body: JSON.stringify({ __type: 'TooManyRequests' }) }],
    [
      'LimitExceededException, which the SDK retries as throttling',
      {
        status: 400,
        body: JSON.stringify({ __type: 'LimitExceededException', message: 'Rate exceeded' }),
      },
    ],
  ])('fails with RetryableKmsError on %s past the SDK retries, as on ThrottlingException', async (_, answer) => {
    const { client, received } = fakeKms({ ...healthyKey(), ListGrants: [answer] });

    const error = await createKmsReader({ client })
      .readKey(KEY)
      .catch((e: unknown) => e);

    // The SDK retried it as transient: past its retries, the invocation must fail for Lambda to retry it too, not
    // have the detector judge the event without the key's live state.
    expect(received.filter((op) => op === 'ListGrants')).toHaveLength(3);
    expect(error).toBeInstanceOf(RetryableKmsError);
  });

  it('deserializes a recorded NotFoundException and reads the key as Deleted', async () => {
    const { client } = fakeKms({
      DescribeKey: [{ status: 400, body: wireBody('DescribeKey__custodian__5') }],
      GetKeyPolicy: [{ status: 400, body: wireBody('DescribeKey__custodian__5') }],
    });

    const live = await createKmsReader({ client }).readKey(KEY);

    expect(live.attributes).toEqual({ key_state: 'Deleted', deletion_date: null });
  });

  it('deserializes a recorded UnsupportedOperationException and leaves rotation unknown', async () => {
    const { client } = fakeKms({
      ...healthyKey(),
      DescribeKey: ok('DescribeKey__custodian__4'),
      GetKeyRotationStatus: [{ status: 400, body: wireBody('GetKeyRotationStatus__custodian__3') }],
    });

    const { attributes } = await createKmsReader({ client }).readKey(KEY);

    expect(attributes).toMatchObject({ origin: 'EXTERNAL', key_state: 'PendingImport' });
    expect(attributes).not.toHaveProperty('enable_key_rotation');
  });
});
