/**
 * The KMS request pacing: the sliding-window limiter, and the middleware that makes the SDK's own retries wait for
 * it too (over the real SDK stack, with KMS's HTTP answers played back by a fake request handler).
 */

import { KMSClient, ListGrantsCommand } from '@aws-sdk/client-kms';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { createRateLimiter, kmsRates, paceSdkRetries, type RateLimiter } from '../../lambda/adapters/rate-limiter';

/** A clock that only moves when the limiter sleeps. */
function virtualClock() {
  let t = 0;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
    },
  };
}

describe('createRateLimiter', () => {
  it('lets N requests through at once and the next one a full window after the first', async () => {
    // Prepare
    const clock = virtualClock();
    const limiter = createRateLimiter({ rates: { ListGrants: 3 }, ...clock });
    const starts: number[] = [];

    // Act
    for (let i = 0; i < 7; i++) {
      await limiter.take('ListGrants');
      starts.push(clock.now());
    }

    // Assess
    expect(starts).toEqual([0, 0, 0, 1000, 1000, 1000, 2000]);
  });

  it('never admits more than N starts in any window, whatever the arrival pattern', async () => {
    // Prepare
    const clock = virtualClock();
    const limiter = createRateLimiter({ rates: { ListGrants: 5 }, ...clock });
    const starts: number[] = [];

    // Act: bursts and gaps
    for (const gap of [0, 0, 0, 300, 0, 0, 0, 0, 700, 10, 10, 990, 0, 0, 0, 0, 0, 0, 1, 0]) {
      await clock.sleep(gap);
      await limiter.take('ListGrants');
      starts.push(clock.now());
    }

    // Assess
    for (let i = 5; i < starts.length; i++) expect(starts[i] - starts[i - 5]).toBeGreaterThanOrEqual(1000);
  });

  it('does not pace operations it has no rate for', async () => {
    const clock = virtualClock();
    const limiter = createRateLimiter({ rates: { ListGrants: 1 }, ...clock });
    for (let i = 0; i < 10; i++) await limiter.take('DescribeKey');
    expect(clock.now()).toBe(0);
  });
});

describe('kmsRates', () => {
  it("takes a share of KMS's documented quotas, ListGrants the tightest", () => {
    expect(kmsRates(0.8)).toMatchObject({ ListGrants: 80, GetKeyPolicy: 800, DescribeKey: 1600, ListKeys: 400 });
    expect(kmsRates(1, { ListGrants: 250 }).ListGrants).toBe(250);
    expect(() => kmsRates(1.5)).toThrow(RangeError);
  });
});

describe('paceSdkRetries', () => {
  it("makes each SDK retry wait for the limiter, but not the first attempt (the caller's turn)", async () => {
    // Prepare: ListGrants throttled twice, then answered
    const answers = [400, 400, 200];
    const requestHandler = {
      handle: async () => {
        const status = answers.shift() ?? 200;
        const body =
          status === 200
            ? { Grants: [], Truncated: false }
            : { __type: 'ThrottlingException', message: 'Rate exceeded' };
        return {
          response: {
            statusCode: status,
            headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'test' },
            body: Buffer.from(JSON.stringify(body)),
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
      retryStrategy: new ConfiguredRetryStrategy(3, () => 0),
    });
    const taken: string[] = [];
    const limiter: RateLimiter = {
      take: async (operation) => {
        taken.push(operation);
      },
    };
    paceSdkRetries(client, limiter);

    // Act
    const output = await client.send(new ListGrantsCommand({ KeyId: 'k' }));

    // Assess
    expect(output.$metadata.attempts).toBe(3);
    expect(taken).toEqual(['ListGrants', 'ListGrants']);
  });
});
