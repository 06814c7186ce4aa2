/**
 * How the operator commands talk to AWS: client settings from the options, and every way AWS can fail turned
 * into one line that says what to fix.
 */
import { ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { StoreError } from '../../lambda/adapters/errors';
import { type AwsOptions, clientConfig, configuredEndpoints, explainAwsError } from '../../lambda/ops/aws';
import { OperatorError } from '../../lambda/ops/errors';

const OPTIONS: AwsOptions = { stackName: 'Keydrift' };
const context = { options: OPTIONS, region: 'eu-west-1', table: 'Keydrift-Table-1A2B' };

/** An error shaped as the SDK throws a service exception. */
function awsError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 }, $fault: 'client' });
}

describe('clientConfig', () => {
  it('passes only what was given, leaving the rest to the standard chain', () => {
    expect(clientConfig(OPTIONS)).toEqual({ maxAttempts: 4, logger: expect.any(Object) });
    expect(
      clientConfig({ ...OPTIONS, profile: 'audit', region: 'eu-west-1', endpointUrl: 'http://localhost:5000' }),
    ).toEqual({
      profile: 'audit',
      region: 'eu-west-1',
      endpoint: 'http://localhost:5000',
      maxAttempts: 4,
      logger: expect.any(Object),
    });
  });
});

describe('explainAwsError', () => {
  it('says how to provide credentials when the chain found none', () => {
    const error = Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    });
    expect(explainAwsError(error, context)).toEqual(
      new OperatorError(
        'no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile, or run ' +
          'aws configure / aws sso login',
      ),
    );
    expect(
      (explainAwsError(error, { ...context, options: { ...OPTIONS, profile: 'audit' } }) as Error).message,
    ).toMatch(/^no AWS credentials for profile audit: Could not load credentials .* aws sso login --profile audit\)$/);
  });

  it('says when AWS rejected the credentials, or denied the call', () => {
    expect(
      (explainAwsError(awsError('ExpiredTokenException', 'The security token expired'), context) as Error).message,
    ).toBe(
      'AWS rejected the credentials (ExpiredTokenException: The security token expired): refresh them (aws sso login) ' +
        'or pass another --profile',
    );
    expect(
      (explainAwsError(awsError('AccessDeniedException', 'not authorized to kms:ListKeys'), context) as Error).message,
    ).toBe('access denied: not authorized to kms:ListKeys');
  });

  it("names the missing table and where its name came from, even under the state store's error", () => {
    const missing = new ResourceNotFoundException({ message: 'Requested resource not found', $metadata: {} });
    const wrapped = new StoreError('DynamoDB BatchGetItem failed: ResourceNotFoundException', { cause: missing });
    expect((explainAwsError(wrapped, context) as Error).message).toBe(
      'table Keydrift-Table-1A2B not found in eu-west-1 (named by the TableName output of stack Keydrift): check the ' +
        'Region, or pass --table',
    );
  });

  it('says to check the name and the Region of a table --table or KEYDRIFT_TABLE named, not to pass --table', () => {
    const missing = new ResourceNotFoundException({ message: 'Requested resource not found', $metadata: {} });
    const named = { ...context, table: 'nope' };
    expect((explainAwsError(missing, { ...named, options: { ...OPTIONS, table: 'nope' } }) as Error).message).toBe(
      'table nope not found in eu-west-1 (named by --table): check the name and the Region',
    );
    const fromEnv = { ...OPTIONS, table: 'nope', tableSource: 'KEYDRIFT_TABLE' as const };
    expect((explainAwsError(missing, { ...named, options: fromEnv }) as Error).message).toBe(
      'table nope not found in eu-west-1 (named by KEYDRIFT_TABLE): check the name and the Region',
    );
  });

  /** A connection error as Node's http client gives it to the SDK. */
  const refused = (host: string, port: number) =>
    Object.assign(new Error(`connect ECONNREFUSED ${host}:${port}`), {
      code: 'ECONNREFUSED',
      address: host,
      port,
      $metadata: { attempts: 1, totalRetryDelay: 0 },
    });

  it('names the endpoint --endpoint-url set when it cannot be reached, and what to do', () => {
    const options = { ...OPTIONS, endpointUrl: 'http://127.0.0.1:4566' };
    expect((explainAwsError(refused('127.0.0.1', 4566), { ...context, options }) as Error).message).toBe(
      'cannot reach http://127.0.0.1:4566 (the endpoint set by --endpoint-url): connect ECONNREFUSED ' +
        '127.0.0.1:4566: check that it is running and its URL is right, or leave out --endpoint-url to reach AWS ' +
        'in eu-west-1',
    );
  });

  it('names the endpoint AWS_ENDPOINT_URL set, not AWS, when it cannot be reached', () => {
    const endpoints = configuredEndpoints(OPTIONS, { AWS_ENDPOINT_URL: 'http://127.0.0.1:9' });
    expect((explainAwsError(refused('127.0.0.1', 9), { ...context, endpoints }) as Error).message).toBe(
      'cannot reach http://127.0.0.1:9 (the endpoint set by AWS_ENDPOINT_URL): connect ECONNREFUSED 127.0.0.1:9: ' +
        'check that it is running and its URL is right, or unset AWS_ENDPOINT_URL to reach AWS in eu-west-1',
    );
  });

  it("names a service's own endpoint variable when that is the endpoint the error names", () => {
    const endpoints = configuredEndpoints(OPTIONS, {
      AWS_ENDPOINT_URL: 'http://localhost:4566',
      AWS_ENDPOINT_URL_DYNAMODB: 'http://localhost:8000',
    });
    expect((explainAwsError(refused('127.0.0.1', 8000), { ...context, endpoints }) as Error).message).toMatch(
      /^cannot reach http:\/\/localhost:8000 \(the endpoint set by AWS_ENDPOINT_URL_DYNAMODB\): .* unset AWS_ENDPOINT_URL_DYNAMODB /,
    );
    expect((explainAwsError(refused('127.0.0.1', 4566), { ...context, endpoints }) as Error).message).toMatch(
      /^cannot reach http:\/\/localhost:4566 \(the endpoint set by AWS_ENDPOINT_URL\): /,
    );
  });

  it("does not blame a service's endpoint for another service's address on the same port", () => {
    const endpoints = configuredEndpoints(OPTIONS, { AWS_ENDPOINT_URL_STS: 'https://sts.eu-west-1.amazonaws.com' });
    expect((explainAwsError(refused('52.94.0.10', 443), { ...context, endpoints }) as Error).message).toMatch(
      /^cannot reach AWS in eu-west-1: connect ECONNREFUSED 52\.94\.0\.10:443: check the network connection/,
    );
  });

  it('says to check the network and the Region when AWS itself cannot be reached', () => {
    const unknownHost = Object.assign(new Error('getaddrinfo ENOTFOUND kms.eu-wset-1.amazonaws.com'), {
      code: 'ENOTFOUND',
      hostname: 'kms.eu-wset-1.amazonaws.com',
    });
    expect((explainAwsError(unknownHost, { ...context, region: 'eu-wset-1', endpoints: [] }) as Error).message).toBe(
      'cannot reach AWS in eu-wset-1: getaddrinfo ENOTFOUND kms.eu-wset-1.amazonaws.com: check the network ' +
        'connection (VPN, proxy, firewall) and the Region (--region, AWS_REGION, AWS_DEFAULT_REGION)',
    );
    const timeout = Object.assign(new Error('Connection timed out after 1000 ms'), { name: 'TimeoutError' });
    expect((explainAwsError(timeout, context) as Error).message).toMatch(
      /^cannot reach AWS in eu-west-1: Connection timed out after 1000 ms: check the network connection/,
    );
  });

  it('names any other AWS error, and passes a bug through untouched', () => {
    expect((explainAwsError(awsError('KMSInternalException', 'boom'), context) as Error).message).toBe(
      'AWS KMSInternalException in eu-west-1: boom',
    );
    const bug = new TypeError("Cannot read properties of undefined (reading 'arn')");
    expect(explainAwsError(bug, context)).toBe(bug);
    const own = new OperatorError('no such key: alias/nope in eu-west-1');
    expect(explainAwsError(own, context)).toBe(own);
  });
});

describe('configuredEndpoints', () => {
  it('takes --endpoint-url for every call, over any environment variable', () => {
    expect(
      configuredEndpoints({ ...OPTIONS, endpointUrl: 'http://127.0.0.1:5000' }, { AWS_ENDPOINT_URL: 'http://x:1' }),
    ).toEqual([{ url: 'http://127.0.0.1:5000', source: '--endpoint-url' }]);
  });

  it("lists the services' own variables before AWS_ENDPOINT_URL, and none when configured endpoints are ignored", () => {
    const env = { AWS_ENDPOINT_URL: 'http://localhost:4566', AWS_ENDPOINT_URL_KMS: 'http://localhost:5000' };
    expect(configuredEndpoints(OPTIONS, env)).toEqual([
      { url: 'http://localhost:5000', source: 'AWS_ENDPOINT_URL_KMS' },
      { url: 'http://localhost:4566', source: 'AWS_ENDPOINT_URL' },
    ]);
    expect(configuredEndpoints(OPTIONS, { ...env, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' })).toEqual([]);
    expect(configuredEndpoints(OPTIONS, {})).toEqual([]);
  });
});
