/**
 * What `keydrift baseline adopt` reads: customer-managed keys only, aliases but AWS's own, every trail, page by
 * page, with bounded concurrency.
 */
import { DescribeKeyCommand, KMSClient, ListAliasesCommand, ListKeysCommand } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import type { KmsReader } from '../../lambda/adapters/kms-reader';
import type { TrailReader } from '../../lambda/adapters/trail-reader';
import { snapshotFromState } from '../../lambda/core/state';
import { customerAliases, customerManagedKeys, mapLimit, readInventory } from '../../lambda/ops/inventory';

const ARN = (id: string) => `arn:aws:kms:eu-west-1:111122223333:key/${id}`;
const ALIAS = (name: string) => `arn:aws:kms:eu-west-1:111122223333:${name}`;
const TRAIL = 'arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-audit';

const kmsMock = mockClient(KMSClient);
const kms = new KMSClient({ region: 'eu-west-1' });

beforeEach(() => {
  kmsMock.reset();
  // Two pages of keys; one of them is AWS-managed (aws/s3).
  kmsMock
    .on(ListKeysCommand)
    .resolvesOnce({ Keys: [{ KeyArn: ARN('a') }, { KeyArn: ARN('aws-s3') }], Truncated: true, NextMarker: 'm1' })
    .resolvesOnce({ Keys: [{ KeyArn: ARN('b') }], Truncated: false });
  kmsMock.on(DescribeKeyCommand).callsFake(({ KeyId }: { KeyId: string }) => ({
    KeyMetadata: { KeyId, Arn: KeyId, KeyManager: KeyId.endsWith('aws-s3') ? 'AWS' : 'CUSTOMER' },
  }));
  kmsMock
    .on(ListAliasesCommand)
    .resolvesOnce({
      Aliases: [
        { AliasName: 'alias/payments', AliasArn: ALIAS('alias/payments'), TargetKeyId: 'a' },
        { AliasName: 'alias/aws/s3', AliasArn: ALIAS('alias/aws/s3'), TargetKeyId: 'aws-s3' },
      ],
      Truncated: true,
      NextMarker: 'm2',
    })
    .resolvesOnce({ Aliases: [{ AliasName: 'alias/reports', AliasArn: ALIAS('alias/reports') }], Truncated: false });
});

afterAll(() => kmsMock.restore());

describe('customerManagedKeys', () => {
  it('lists every page of keys and leaves AWS-managed keys out', async () => {
    await expect(customerManagedKeys(kms)).resolves.toEqual({ arns: [ARN('a'), ARN('b')], skipped: 1 });
    // The paginator reuses one input object, so only the last Marker can be seen.
    expect(kmsMock.commandCalls(ListKeysCommand)).toHaveLength(2);
    expect(kmsMock.commandCalls(ListKeysCommand)[1].args[0].input.Marker).toBe('m1');
  });
});

describe('customerAliases', () => {
  it("lists every page of aliases and leaves AWS's own (alias/aws/…) out", async () => {
    await expect(customerAliases(kms)).resolves.toEqual([ALIAS('alias/payments'), ALIAS('alias/reports')]);
  });
});

describe('readInventory', () => {
  it('reads the live state of each key, alias and trail through the readers, and reports progress', async () => {
    // Prepare
    const kmsReader: KmsReader = {
      readKey: async (arn) => snapshotFromState('key', arn, { key_state: 'Enabled' }),
      readAlias: async (arn) => snapshotFromState('alias', arn, { target_key_id: ARN('a') }),
    };
    const trailReader: TrailReader = {
      readTrails: async () => [snapshotFromState('trail', TRAIL, { trail: 'exists' })],
      readTrail: async (arn) => snapshotFromState('trail', arn, { trail: 'exists' }),
    };
    const progress: string[] = [];
    // Act
    const inventory = await readInventory({
      kms,
      kmsReader,
      trailReader,
      onProgress: (done, total) => progress.push(`${done}/${total}`),
    });
    // Assess
    expect(inventory.keys.map((k) => k.arn)).toEqual([ARN('a'), ARN('b')]);
    expect(inventory.aliases.map((a) => a.arn)).toEqual([ALIAS('alias/payments'), ALIAS('alias/reports')]);
    expect(inventory.trails.map((t) => t.arn)).toEqual([TRAIL]);
    expect(inventory.skippedAwsManaged).toBe(1);
    expect(progress).toEqual(['1/4', '2/4', '3/4', '4/4']);
  });

  it('dates each resource when its own read began, trails when the trail listing began', async () => {
    // Prepare: each key or alias read takes a minute on the clock.
    let clock = 0;
    const aMinuteLater = async <T>(value: T): Promise<T> => {
      clock += 60_000;
      return value;
    };
    const kmsReader: KmsReader = {
      readKey: (arn) => aMinuteLater(snapshotFromState('key', arn, { key_state: 'Enabled' })),
      readAlias: (arn) => aMinuteLater(snapshotFromState('alias', arn, { target_key_id: ARN('a') })),
    };
    const trailReader: TrailReader = {
      readTrails: async () => [snapshotFromState('trail', TRAIL, { trail: 'exists' })],
      readTrail: async (arn) => snapshotFromState('trail', arn, { trail: 'exists' }),
    };
    // Act
    const inventory = await readInventory({ kms, kmsReader, trailReader, concurrency: 1, now: () => clock });
    // Assess
    expect(Object.fromEntries(inventory.readAt)).toEqual({
      [TRAIL]: 0,
      [ARN('a')]: 0,
      [ARN('b')]: 60_000,
      [ALIAS('alias/payments')]: 120_000,
      [ALIAS('alias/reports')]: 180_000,
    });
  });
});

describe('mapLimit', () => {
  it('keeps the order of the results and never runs more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const results = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (ms) => {
      most = Math.max(most, ++running);
      await new Promise((resolve) => setTimeout(resolve, ms));
      running--;
      return ms * 10;
    });
    expect(results).toEqual([50, 10, 40, 20, 30, 0]);
    expect(most).toBe(2);
  });
});
