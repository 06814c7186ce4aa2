/**
 * keydrift's table as lib/keydrift.ts defines it (pk/sk, GSI `byTime`, on demand), for tests that create it in
 * dynalite or moto. The stack test checks the synthesized template against the same key names.
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

export const TABLE_KEYS = {
  BillingMode: 'PAY_PER_REQUEST',
  AttributeDefinitions: ['pk', 'sk', 'gsi1pk', 'gsi1sk'].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
  KeySchema: [
    { AttributeName: 'pk', KeyType: 'HASH' },
    { AttributeName: 'sk', KeyType: 'RANGE' },
  ],
  GlobalSecondaryIndexes: [
    {
      IndexName: 'byTime',
      KeySchema: [
        { AttributeName: 'gsi1pk', KeyType: 'HASH' },
        { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    },
  ],
} as const satisfies Omit<CreateTableCommandInput, 'TableName'>;

/** CreateTable input for keydrift's table under `tableName`. */
export const createTableInput = (tableName: string): CreateTableCommandInput =>
  structuredClone({ TableName: tableName, ...TABLE_KEYS }) as CreateTableCommandInput;
