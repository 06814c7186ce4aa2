/**
 * How the operator commands talk to AWS: client settings from the options, and every way AWS can fail turned
 * into one line that says what to fix.
 */
import { ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { StoreError } from '../../lambda/adapters/errors';
import { type AwsOptions, clientConfig, explainAwsError } from '../../lambda/ops/aws';
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

  it('says when AWS (or the endpoint) cannot be reached', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4566'), { code: 'ECONNREFUSED' });
    expect(
      (explainAwsError(refused, { ...context, options: { ...OPTIONS, endpointUrl: 'http://127.0.0.1:4566' } }) as Error)
        .message,
    ).toBe('cannot reach AWS at http://127.0.0.1:4566: connect ECONNREFUSED 127.0.0.1:4566');
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
