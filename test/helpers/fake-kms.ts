/**
 * An in-memory KMS account behind aws-sdk-client-mock, for reconciler tests and the bench: keys with their policy,
 * rotation, tags and grants, aliases (AWS's reserved ones included), paged ListKeys, an optional delay per call, and
 * KMS's request quotas enforced per operation over a sliding second (excess calls get `ThrottlingException`, as KMS
 * answers them). Every call is counted, so tests can check calls per key and the busiest second of an operation.
 */

import {
  DescribeKeyCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  type GrantListEntry,
  type KeyMetadata,
  type KMSClient,
  ListAliasesCommand,
  ListGrantsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
} from '@aws-sdk/client-kms';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import { kmsError } from './kms-api';

export interface FakeKey {
  id: string;
  arn: string;
  keyManager: 'AWS' | 'CUSTOMER';
  keyState: string;
  description: string;
  policy: string;
  rotation: boolean;
  tags: Record<string, string>;
  grants: GrantListEntry[];
  deletionDate?: Date;
  /** A multi-Region key's primary Region and its replicas' Regions (the key's own Region among them or the primary). */
  multiRegion?: { primaryRegion: string; replicaRegions: string[] };
  /** The AWS CloudHSM key store the key is in (its origin AWS_CLOUDHSM). */
  customKeyStoreId?: string;
  /** A key with imported material (origin EXTERNAL): the id of the material DescribeKey names current. */
  currentKeyMaterialId?: string;
}

export interface FakeKmsOptions {
  region?: string;
  account?: string;
  /** Every call answers after this long (default 0). */
  latencyMs?: number;
  /** Requests per second per operation; a call over it is rejected with ThrottlingException. */
  quotas?: Record<string, number>;
  /** Share of calls (after the quota check) rejected with ThrottlingException anyway: others using the quota. */
  throttleShare?: number;
  random?: () => number;
  /** Keys per ListKeys page, whatever the request's Limit (default: the Limit, at most 1,000). */
  keysPageSize?: number;
}

export const FAKE_ACCOUNT = '111122223333';

/** A deterministic pseudo-random sequence (mulberry32), so that throttled calls are the same every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** KMS's default key policy for a key of `account` (created without one). */
export const basicPolicy = (account = FAKE_ACCOUNT): string =>
  JSON.stringify({
    Version: '2012-10-17',
    Id: 'key-default-1',
    Statement: [
      {
        Sid: 'Enable IAM User Permissions',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${account}:root` },
        Action: 'kms:*',
        Resource: '*',
      },
    ],
  });

export class FakeKms {
  readonly region: string;
  readonly account: string;
  readonly keys = new Map<string, FakeKey>();
  /** Alias name → target key id (AWS's reserved aliases may point to keys that do not exist). */
  readonly aliases = new Map<string, string>();
  /** Calls per operation, rejected ones included. */
  readonly calls = new Map<string, number>();
  /** Calls rejected because they went over the operation's quota. */
  readonly overQuota = new Map<string, number>();
  /** Calls rejected by `throttleShare`. */
  throttled = 0;
  /** Calls per key ARN per operation (reads that name a key). */
  readonly callsByKey = new Map<string, Map<string, number>>();
  /** Start times (performance.now()) of the accepted calls of each operation. */
  readonly starts = new Map<string, number[]>();
  private readonly windows = new Map<string, number[]>();
  private next = 0;

  constructor(private readonly options: FakeKmsOptions = {}) {
    this.region = options.region ?? 'us-west-2';
    this.account = options.account ?? FAKE_ACCOUNT;
  }

  addKey(overrides: Partial<Omit<FakeKey, 'id' | 'arn'>> & { id?: string } = {}): FakeKey {
    const id = overrides.id ?? `00000000-0000-4000-8000-${String(++this.next).padStart(12, '0')}`;
    const key: FakeKey = {
      keyManager: 'CUSTOMER',
      keyState: 'Enabled',
      description: `key ${id}`,
      policy: basicPolicy(this.account),
      rotation: true,
      tags: {},
      grants: [],
      ...overrides,
      id,
      arn: `arn:aws:kms:${this.region}:${this.account}:key/${id}`,
    };
    this.keys.set(key.arn, key);
    return key;
  }

  /** The busiest `windowMs` of an operation: the most accepted calls that started within any such window. */
  maxInWindow(operation: string, windowMs = 1000): number {
    const starts = this.starts.get(operation) ?? [];
    let best = 0;
    let first = 0;
    for (let last = 0; last < starts.length; last++) {
      while (starts[last] - starts[first] >= windowMs) first++;
      best = Math.max(best, last - first + 1);
    }
    return best;
  }

  total(): number {
    return [...this.calls.values()].reduce((a, b) => a + b, 0);
  }

  /** Answers the KMS client's commands from this account. */
  install(mock: AwsClientStub<KMSClient>): void {
    const handle =
      <I extends object, O>(operation: string, answer: (input: I) => O) =>
      async (input: I): Promise<O> => {
        this.admit(operation, (input as { KeyId?: string }).KeyId);
        if (this.options.latencyMs) await new Promise((resolve) => setTimeout(resolve, this.options.latencyMs));
        return answer(input);
      };
    mock.on(ListKeysCommand).callsFake(
      handle('ListKeys', (input: { Limit?: number; Marker?: string }) => {
        const all = [...this.keys.values()];
        const size = this.options.keysPageSize ?? Math.min(input.Limit ?? 1000, 1000);
        const start = input.Marker ? Number(input.Marker) : 0;
        const page = all.slice(start, start + size);
        const more = start + size < all.length;
        return {
          Keys: page.map((k) => ({ KeyId: k.id, KeyArn: k.arn })),
          Truncated: more,
          ...(more ? { NextMarker: String(start + size) } : {}),
        };
      }),
    );
    mock.on(ListAliasesCommand).callsFake(
      handle('ListAliases', (input: { Limit?: number; Marker?: string }) => {
        const all = [...this.aliases.entries()];
        const size = Math.min(input.Limit ?? 50, 100);
        const start = input.Marker ? Number(input.Marker) : 0;
        const more = start + size < all.length;
        return {
          Aliases: all.slice(start, start + size).map(([name, target]) => ({
            AliasName: name,
            AliasArn: `arn:aws:kms:${this.region}:${this.account}:${name}`,
            TargetKeyId: target,
          })),
          Truncated: more,
          ...(more ? { NextMarker: String(start + size) } : {}),
        };
      }),
    );
    mock
      .on(DescribeKeyCommand)
      .callsFake(
        handle('DescribeKey', (input: { KeyId?: string }) => ({ KeyMetadata: this.metadata(this.key(input.KeyId)) })),
      );
    mock.on(GetKeyPolicyCommand).callsFake(
      handle('GetKeyPolicy', (input: { KeyId?: string }) => ({
        Policy: this.key(input.KeyId).policy,
        PolicyName: 'default',
      })),
    );
    mock.on(GetKeyRotationStatusCommand).callsFake(
      handle('GetKeyRotationStatus', (input: { KeyId?: string }) => {
        const key = this.key(input.KeyId);
        return {
          KeyId: key.arn,
          KeyRotationEnabled: key.rotation,
          ...(key.rotation ? { RotationPeriodInDays: 365 } : {}),
        };
      }),
    );
    mock.on(ListResourceTagsCommand).callsFake(
      handle('ListResourceTags', (input: { KeyId?: string }) => ({
        Tags: Object.entries(this.key(input.KeyId).tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
        Truncated: false,
      })),
    );
    mock.on(ListGrantsCommand).callsFake(
      handle('ListGrants', (input: { KeyId?: string }) => ({
        Grants: this.key(input.KeyId).grants,
        Truncated: false,
      })),
    );
  }

  private admit(operation: string, keyId: string | undefined): void {
    this.calls.set(operation, (this.calls.get(operation) ?? 0) + 1);
    if (keyId) {
      const byOp = this.callsByKey.get(keyId) ?? new Map<string, number>();
      byOp.set(operation, (byOp.get(operation) ?? 0) + 1);
      this.callsByKey.set(keyId, byOp);
    }
    const at = performance.now();
    const quota = this.options.quotas?.[operation];
    if (quota !== undefined) {
      const window = this.windows.get(operation) ?? [];
      while (window.length > 0 && window[0] <= at - 1000) window.shift();
      if (window.length >= quota) {
        this.overQuota.set(operation, (this.overQuota.get(operation) ?? 0) + 1);
        throw kmsError('ThrottlingException', 'Rate exceeded');
      }
      window.push(at);
      this.windows.set(operation, window);
    }
    if (this.options.throttleShare && (this.options.random ?? Math.random)() < this.options.throttleShare) {
      this.throttled++;
      throw kmsError('ThrottlingException', 'Rate exceeded');
    }
    const starts = this.starts.get(operation) ?? [];
    starts.push(at);
    this.starts.set(operation, starts);
  }

  private key(keyId: string | undefined): FakeKey {
    // An alias name or ARN stands for the key it points to, as in every KMS call that takes a KeyId.
    const alias = keyId?.match(/(?:^|:)(alias\/.+)$/)?.[1];
    if (alias) keyId = this.aliases.get(alias) ?? keyId;
    const key =
      this.keys.get(keyId ?? '') ?? [...this.keys.values()].find((k) => k.id === keyId || k.arn.endsWith(`/${keyId}`));
    if (!key) throw kmsError('NotFoundException', `Key '${keyId}' does not exist`);
    return key;
  }

  /** DescribeKey's KeyMetadata for one of its keys. */
  metadata(key: FakeKey): KeyMetadata {
    return {
      AWSAccountId: this.account,
      KeyId: key.id,
      Arn: key.arn,
      CreationDate: new Date('2026-01-01T00:00:00Z'),
      Enabled: key.keyState === 'Enabled',
      Description: key.description,
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeySpec: 'SYMMETRIC_DEFAULT',
      KeyState: key.keyState as KeyMetadata['KeyState'],
      Origin: key.customKeyStoreId ? 'AWS_CLOUDHSM' : key.currentKeyMaterialId ? 'EXTERNAL' : 'AWS_KMS',
      ...(key.currentKeyMaterialId ? { CurrentKeyMaterialId: key.currentKeyMaterialId } : {}),
      KeyManager: key.keyManager,
      ...(key.customKeyStoreId ? { CustomKeyStoreId: key.customKeyStoreId } : {}),
      MultiRegion: !!key.multiRegion,
      ...(key.multiRegion ? { MultiRegionConfiguration: this.multiRegionConfiguration(key, key.multiRegion) } : {}),
      ...(key.deletionDate ? { DeletionDate: key.deletionDate } : {}),
    };
  }

  /** A multi-Region key's configuration as DescribeKey answers it in this key's Region: the same keys in every Region. */
  private multiRegionConfiguration(
    key: FakeKey,
    { primaryRegion, replicaRegions }: NonNullable<FakeKey['multiRegion']>,
  ) {
    const inRegion = (region: string) => ({ Arn: key.arn.replace(`:${this.region}:`, `:${region}:`), Region: region });
    return {
      MultiRegionKeyType: primaryRegion === this.region ? ('PRIMARY' as const) : ('REPLICA' as const),
      PrimaryKey: inRegion(primaryRegion),
      ReplicaKeys: replicaRegions.map(inRegion),
    };
  }
}
