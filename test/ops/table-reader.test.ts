/**
 * The table reader's walk through the findings by day (the `byTime` index), as `keydrift findings` without
 * `--resource` makes it; DynamoDB answers through aws-sdk-client-mock with no findings.
 */
import { DynamoDBClient, QueryCommand, type QueryCommandInput } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { createTableReader } from '../../lambda/ops/table-reader';

const dynamodb = mockClient(DynamoDBClient);
afterEach(() => dynamodb.reset());

/** The days the reader queried, in the order it queried them. */
const daysQueried = () =>
  dynamodb.commandCalls(QueryCommand).map((call) => call.args[0].input.ExpressionAttributeValues?.[':day']?.S);

describe('Table reader: findings by day', () => {
  it('walks back no further than the day AWS KMS launched, however far back --since reaches', async () => {
    // Prepare: `keydrift findings --since 0001-01-01` on 2026-12-06
    dynamodb.on(QueryCommand).resolves({ Items: [] });
    const reader = createTableReader({ client: new DynamoDBClient({ region: 'eu-west-1' }), tableName: 'Keydrift' });

    // Act
    await reader.findings({ sinceMs: Date.parse('0001-01-01T00:00:00Z'), nowMs: Date.parse('2026-12-06T12:00:00Z') });

    // Assess: one query a day, from today back to 2014-11-12, not 740,000 days to year 1
    const days = daysQueried();
    expect(days[0]).toBe('FINDINGS#2026-12-06');
    expect(days.at(-1)).toBe('FINDINGS#2014-11-12');
    expect(days).toHaveLength((Date.parse('2026-12-06') - Date.parse('2014-11-12')) / 86_400_000 + 1);
  });

  it('walks the days of a --since within them, its first day included', async () => {
    dynamodb.on(QueryCommand).resolves({ Items: [] });
    const reader = createTableReader({ client: new DynamoDBClient({ region: 'eu-west-1' }), tableName: 'Keydrift' });

    await reader.findings({ sinceMs: Date.parse('2026-12-04T18:00:00Z'), nowMs: Date.parse('2026-12-06T12:00:00Z') });

    expect(daysQueried()).toEqual(['FINDINGS#2026-12-06', 'FINDINGS#2026-12-05', 'FINDINGS#2026-12-04']);
  });

  it('walks only the days of a closed period (--since and --until), newest first, not back from today', async () => {
    // Prepare: `keydrift findings --since 2026-09-29 --until 2026-09-30` on 2026-12-06
    dynamodb.on(QueryCommand).resolves({ Items: [] });
    const reader = createTableReader({ client: new DynamoDBClient({ region: 'eu-west-1' }), tableName: 'Keydrift' });

    // Act
    await reader.findings({
      sinceMs: Date.parse('2026-09-29T00:00:00Z'),
      untilMs: Date.parse('2026-09-30T23:59:59.999Z'),
      nowMs: Date.parse('2026-12-06T12:00:00Z'),
    });

    // Assess: the period's two days, and none between it and today
    expect(daysQueried()).toEqual(['FINDINGS#2026-09-30', 'FINDINGS#2026-09-29']);
  });
});

describe('Table reader: a busy day', () => {
  it('lists a day of more findings than a call takes arguments (150,000: the grants of a busy account)', async () => {
    // Prepare: one day of 1,500 pages of 100 findings; the other day empty
    const pages = 1_500;
    dynamodb.on(QueryCommand).callsFake((input: QueryCommandInput) => {
      if (input.ExpressionAttributeValues?.[':day']?.S !== 'FINDINGS#2026-12-06') return { Items: [] };
      const page = Number(input.ExclusiveStartKey?.page?.N ?? 0);
      const Items = Array.from({ length: 100 }, (_, i) => ({
        finding: { S: JSON.stringify({ eventId: `e-${page}-${i}`, event: 'CreateGrant', severity: 'info' }) },
      }));
      return { Items, ...(page + 1 < pages ? { LastEvaluatedKey: { page: { N: String(page + 1) } } } : {}) };
    });
    const reader = createTableReader({ client: new DynamoDBClient({ region: 'eu-west-1' }), tableName: 'Keydrift' });

    // Act
    const found = await reader.findings({
      sinceMs: Date.parse('2026-12-05T00:00:00Z'),
      nowMs: Date.parse('2026-12-06T12:00:00Z'),
    });

    // Assess
    expect(found).toHaveLength(pages * 100);
    expect(found.at(-1)?.eventId).toBe(`e-${pages - 1}-99`);
  });
});

describe('Table reader: whether it holds a resource', () => {
  it("reads one item of the resource's partition, its key alone, whatever its kind (state, baseline or finding)", async () => {
    // Prepare: the alias's only item is a finding.
    const alias = 'arn:aws:kms:eu-west-1:111122223333:alias/payments';
    dynamodb.on(QueryCommand).resolves({ Items: [{ pk: { S: `RESOURCE#${alias}` } }] });
    const reader = createTableReader({ client: new DynamoDBClient({ region: 'eu-west-1' }), tableName: 'Keydrift' });

    // Act
    const held = await reader.holds(alias);

    // Assess
    expect(held).toBe(true);
    expect(dynamodb.commandCalls(QueryCommand).map((call) => call.args[0].input)).toEqual([
      expect.objectContaining({
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: `RESOURCE#${alias}` } },
        ProjectionExpression: '#pk',
        Limit: 1,
      }),
    ]);
  });

  it('says no when the partition is empty', async () => {
    dynamodb.on(QueryCommand).resolves({ Items: [] });
    const reader = createTableReader({ client: new DynamoDBClient({ region: 'eu-west-1' }), tableName: 'Keydrift' });

    expect(await reader.holds('arn:aws:cloudtrail:eu-west-1:111122223333:trail/nope')).toBe(false);
  });
});
