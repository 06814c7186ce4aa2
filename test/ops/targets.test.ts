/**
 * What an operator may name in `keydrift baseline show|accept` (and `findings --resource` by name): a KMS key by id,
 * ARN, alias name or alias ARN, or a trail by ARN. Anything else is refused before KMS is asked.
 */
import { DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import {
  CustomKeyStoreNotFoundException,
  DescribeCustomKeyStoresCommand,
  DescribeKeyCommand,
  KMSClient,
} from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import type { OpsContext } from '../../lambda/ops/aws';
import { OperatorError } from '../../lambda/ops/errors';
import { requireKnownResource, resolveTargets } from '../../lambda/ops/operations';
import { isTargetName } from '../../lambda/ops/targets';

const KEY_ID = '0f4a6c1e-93b7-4d25-8e1a-6c2f0b7d4a91';
const KEY_ARN = `arn:aws:kms:eu-west-1:111122223333:key/${KEY_ID}`;

const kmsMock = mockClient(KMSClient);
const kms = new KMSClient({ region: 'eu-west-1' });
/** Only what resolveTargets uses: KMS and the Region. */
const context = { kms, region: 'eu-west-1' } as unknown as OpsContext;

beforeEach(() => {
  kmsMock.reset();
  kmsMock.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: KEY_ID, Arn: KEY_ARN } });
});

afterAll(() => kmsMock.restore());

describe('isTargetName', () => {
  it.each([
    KEY_ID,
    'mrk-1234abcd12ab34cd56ef1234567890ab',
    KEY_ARN,
    'arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab',
    'alias/payments',
    'alias/team_a/payments-2',
    'arn:aws:kms:eu-west-1:111122223333:alias/payments',
    'arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-audit',
  ])('accepts %s', (name) => {
    expect(isTargetName(name)).toBe(true);
  });

  it.each([
    'arn:aws:s3:::bucket',
    'arn:aws:iam::111122223333:role/admin',
    'arn:aws:kms:eu-west-1:111122223333:custom-key-store/cks-1234567890abcdef0',
    'payments',
    'alias/',
    'alias/pay ments',
    '0f4a6c1e',
    '',
  ])('refuses %j', (name) => {
    expect(isTargetName(name)).toBe(false);
  });
});

describe('resolveTargets', () => {
  it('refuses what is no key, alias or trail before asking KMS, naming what it accepts', async () => {
    // Act
    const resolving = resolveTargets(context, 'arn:aws:s3:::bucket');
    // Assess
    await expect(resolving).rejects.toThrow(OperatorError);
    await expect(resolving).rejects.toThrow(
      /^not a KMS key, alias or trail: arn:aws:s3:::bucket \(expected a KMS key id .*, key ARN, alias name \(alias\/payments\) or alias ARN, or a CloudTrail trail ARN\)$/,
    );
    expect(kmsMock.calls()).toHaveLength(0);
  });

  it('resolves an alias name through KMS to the key and the alias', async () => {
    await expect(resolveTargets(context, 'alias/payments')).resolves.toEqual([
      { kind: 'key', arn: KEY_ARN },
      { kind: 'alias', arn: 'arn:aws:kms:eu-west-1:111122223333:alias/payments' },
    ]);
    expect(kmsMock.commandCalls(DescribeKeyCommand)[0].args[0].input).toEqual({ KeyId: 'alias/payments' });
  });
});

describe('requireKnownResource, for a custom key store the table holds nothing of', () => {
  const STORE_ID = 'cks-1234567890abcdef0';
  const STORE_ARN = `arn:aws:kms:eu-west-1:111122223333:custom-key-store/${STORE_ID}`;
  const dynamodbMock = mockClient(DynamoDBClient);
  const withTable = {
    ...context,
    dynamodb: new DynamoDBClient({ region: 'eu-west-1' }),
    tableName: async () => 'keydrift',
  } as unknown as OpsContext;

  beforeEach(() => dynamodbMock.on(QueryCommand).resolves({ Items: [], Count: 0 }));
  afterAll(() => dynamodbMock.restore());

  it('accepts one KMS knows: a store never changed since keydrift was deployed is no typo', async () => {
    // Prepare: DescribeCustomKeyStores answers as KMS does for an existing store.
    kmsMock.on(DescribeCustomKeyStoresCommand).resolves({
      CustomKeyStores: [
        { CustomKeyStoreId: STORE_ID, CustomKeyStoreName: 'hsm-payments', ConnectionState: 'CONNECTED' },
      ],
    });
    // Act, Assess
    await expect(requireKnownResource(withTable, STORE_ARN)).resolves.toBeUndefined();
    expect(kmsMock.commandCalls(DescribeCustomKeyStoresCommand)[0].args[0].input).toEqual({
      CustomKeyStoreId: STORE_ID,
    });
  });

  it('refuses one KMS does not know, naming it and what to check', async () => {
    // Prepare
    kmsMock
      .on(DescribeCustomKeyStoresCommand)
      .rejects(
        new CustomKeyStoreNotFoundException({ message: `Custom key store ${STORE_ID} not found.`, $metadata: {} }),
      );
    // Act
    const requiring = requireKnownResource(withTable, STORE_ARN);
    // Assess
    await expect(requiring).rejects.toThrow(OperatorError);
    await expect(requiring).rejects.toThrow(`nothing known of ${STORE_ARN} in eu-west-1: keydrift's table keydrift`);
  });
});
