/**
 * An in-memory AWS account for differential tests of the live detector: KMS keys, aliases and grants, and CloudTrail
 * trails, moved by applying CloudTrail records as AWS would have made the changes they record (not as keydrift's core
 * reads them), and answering the KMS and CloudTrail reads the detector makes through aws-sdk-client-mock. After
 * `apply(record)` the account is exactly the state right after that record's call.
 */

import {
  type CloudTrailClient,
  DescribeTrailsCommand,
  GetEventSelectorsCommand,
  GetTrailStatusCommand,
} from '@aws-sdk/client-cloudtrail';
import {
  DescribeKeyCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  type GrantListEntry,
  type KMSClient,
  ListAliasesCommand,
  ListGrantsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
} from '@aws-sdk/client-kms';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import { parseAwsDate } from '../../lambda/core/time';
import { basicPolicy } from '../helpers/fake-kms';
import type { CloudTrailRecord } from '../helpers/fixtures';
import { kmsError } from '../helpers/kms-api';

type Json = Record<string, unknown>;

export interface WorldKey {
  arn: string;
  id: string;
  state: string;
  description: string;
  keyUsage: string;
  keySpec: string;
  origin: string;
  policy: string;
  rotation: boolean;
  rotationPeriod: number;
  tags: Record<string, string>;
  grants: GrantListEntry[];
  deletionDate?: Date;
  customKeyStoreId?: string;
  /** Imported key material's expiry (keys of origin EXTERNAL). */
  material?: { expirationModel: string; validTo?: Date };
}

export interface WorldTrail {
  arn: string;
  name: string;
  kmsKeyId?: string;
  multiRegion: boolean;
  logFileValidation: boolean;
  bucket?: string;
  includeGlobal: boolean;
  logging: boolean;
  selectors: { EventSelectors?: Json[]; AdvancedEventSelectors?: Json[] };
}

const isObject = (value: unknown): value is Json => !!value && typeof value === 'object' && !Array.isArray(value);
const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/**
 * `{encryptionContextSubset}` as CloudTrail records it → the SDK's `{EncryptionContextSubset}`, `depth` levels down
 * (an encryption context's own keys stay as they are).
 */
function pascal(value: unknown, depth: number): unknown {
  if (depth === 0) return value;
  if (Array.isArray(value)) return value.map((v) => pascal(v, depth));
  if (!isObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k[0].toUpperCase() + k.slice(1), pascal(v, depth - 1)]),
  );
}

export class LiveWorld {
  readonly keys = new Map<string, WorldKey>();
  /** `arn:aws:kms:REGION:ACCOUNT:alias/NAME` → key ARN. */
  readonly aliases = new Map<string, string>();
  readonly trails = new Map<string, WorldTrail>();

  /** A key that existed before the records start (samples act on keys whose creation they do not hold). */
  addKey(arn: string, overrides: Partial<WorldKey> = {}): WorldKey {
    const [, , , , account] = arn.split(':');
    const key: WorldKey = {
      arn,
      id: arn.slice(arn.indexOf(':key/') + 5),
      state: 'Enabled',
      description: '',
      keyUsage: 'ENCRYPT_DECRYPT',
      keySpec: 'SYMMETRIC_DEFAULT',
      origin: 'AWS_KMS',
      policy: basicPolicy(account),
      rotation: false,
      rotationPeriod: 365,
      tags: {},
      grants: [],
      ...overrides,
    };
    this.keys.set(arn, key);
    return key;
  }

  /** A trail that existed before the records start. */
  addTrail(arn: string, overrides: Partial<WorldTrail> = {}): WorldTrail {
    const trail: WorldTrail = {
      arn,
      name: arn.slice(arn.lastIndexOf('/') + 1),
      multiRegion: true,
      logFileValidation: true,
      bucket: 'audit-logs',
      includeGlobal: true,
      logging: true,
      selectors: { EventSelectors: [{ ReadWriteType: 'All', IncludeManagementEvents: true }] },
      ...overrides,
    };
    this.trails.set(arn, trail);
    return trail;
  }

  /** The key a record's call named, in any form KMS accepts (id, ARN, alias name or ARN), or from `resources[]`. */
  keyOf(record: CloudTrailRecord, named?: unknown): WorldKey | undefined {
    const region = record.awsRegion ?? '';
    const account = String(record.recipientAccountId ?? '');
    const request = record.requestParameters ?? {};
    const candidates = [named ?? request.keyId, ...(record.resources ?? []).map((r) => r.ARN)];
    for (const candidate of candidates) {
      const key = this.findKey(String(candidate ?? ''), region, account);
      if (key) return key;
    }
    return undefined;
  }

  findKey(id: string, region: string, account: string): WorldKey | undefined {
    if (!id) return undefined;
    const alias = id.match(/(?:^|:)(alias\/.+)$/)?.[1];
    if (alias) {
      const arn = id.startsWith('arn:') ? id : `arn:aws:kms:${region}:${account}:${alias}`;
      const target = this.aliases.get(arn);
      return target ? this.keys.get(target) : undefined;
    }
    if (id.startsWith('arn:')) return this.keys.get(id);
    return [...this.keys.values()].find((k) => k.id === id && k.arn.includes(`:${region}:`));
  }

  private trailOf(record: CloudTrailRecord): WorldTrail | undefined {
    const name = String(record.requestParameters?.name ?? record.requestParameters?.trailName ?? '');
    return this.trails.get(name) ?? [...this.trails.values()].find((t) => t.name === name);
  }

  /**
   * KMS deletes a key's aliases with it, with no DeleteAlias event (KMS Developer Guide: "If you delete a KMS key, all
   * aliases associated with that KMS key are deleted"); the key then reads NotFound.
   */
  private deleteKey(key: WorldKey): void {
    this.keys.delete(key.arn);
    for (const [alias, target] of this.aliases) if (target === key.arn) this.aliases.delete(alias);
  }

  /**
   * Makes the change a record's call made; failed calls and reads change nothing. KMS's native KMS CMK Deletion
   * (an EventBridge event, not a record) deletes its key as its DeleteKey does: whichever comes second finds it gone.
   */
  apply(record: CloudTrailRecord): void {
    if (record['detail-type'] === 'KMS CMK Deletion') {
      const [arn] = (record.resources ?? []) as unknown as string[];
      const deleted = this.keys.get(arn);
      if (deleted) this.deleteKey(deleted);
      return;
    }
    if (record.eventName === 'DeleteKey' && !this.keyOf(record)) return;
    if (record.errorCode) return;
    const request = (record.requestParameters ?? {}) as Json;
    const response = (record.responseElements ?? {}) as Json;
    const key = () => {
      const found = this.keyOf(record);
      if (!found) throw new Error(`${record.eventName} ${record.eventID}: no such key in the world`);
      return found;
    };
    const region = record.awsRegion ?? '';
    const account = String(record.recipientAccountId ?? '');
    switch (record.eventName) {
      case 'CreateKey': {
        const metadata = (response.keyMetadata ?? {}) as Json;
        const arn = String(metadata.arn);
        const tags: Record<string, string> = {};
        for (const tag of (request.tags ?? []) as Json[]) tags[String(tag.tagKey)] = String(tag.tagValue ?? '');
        this.addKey(arn, {
          state: String(metadata.keyState ?? 'Enabled'),
          description: String(metadata.description ?? request.description ?? ''),
          keyUsage: String(metadata.keyUsage ?? 'ENCRYPT_DECRYPT'),
          keySpec: String(metadata.keySpec ?? 'SYMMETRIC_DEFAULT'),
          origin: String(metadata.origin ?? 'AWS_KMS'),
          customKeyStoreId: text(metadata.customKeyStoreId) ?? text(request.customKeyStoreId),
          policy: text(request.policy) ?? basicPolicy(arn.split(':')[4]),
          tags,
        });
        return;
      }
      case 'ScheduleKeyDeletion': {
        const k = key();
        k.state = String(response.keyState ?? 'PendingDeletion');
        const ms = parseAwsDate(response.deletionDate);
        k.deletionDate = ms === undefined ? undefined : new Date(ms);
        return;
      }
      case 'CancelKeyDeletion':
        Object.assign(key(), { state: 'Disabled', deletionDate: undefined });
        return;
      case 'DisableKey':
        key().state = 'Disabled';
        return;
      case 'EnableKey':
        key().state = 'Enabled';
        return;
      case 'PutKeyPolicy':
        key().policy = String(request.policy);
        return;
      case 'EnableKeyRotation':
        Object.assign(key(), {
          rotation: true,
          rotationPeriod: typeof request.rotationPeriodInDays === 'number' ? request.rotationPeriodInDays : 365,
        });
        return;
      case 'DisableKeyRotation':
        key().rotation = false;
        return;
      case 'TagResource':
        for (const tag of (request.tags ?? []) as Json[])
          key().tags[String(tag.tagKey ?? tag.TagKey)] = String(tag.tagValue ?? tag.TagValue ?? '');
        return;
      case 'UntagResource':
        for (const name of (request.tagKeys ?? []) as string[]) delete key().tags[name];
        return;
      case 'UpdateKeyDescription':
        key().description = String(request.description ?? '');
        return;
      case 'CreateAlias':
      case 'UpdateAlias': {
        const name = String(request.aliasName);
        const target = this.keyOf(record, request.targetKeyId);
        if (!target) throw new Error(`${record.eventName} ${record.eventID}: no target key`);
        const [, , , r, a] = target.arn.split(':');
        this.aliases.set(`arn:aws:kms:${r}:${a}:${name}`, target.arn);
        return;
      }
      case 'DeleteAlias':
        this.aliases.delete(`arn:aws:kms:${region}:${account}:${String(request.aliasName)}`);
        return;
      case 'CreateGrant': {
        const k = key();
        k.grants.push({
          KeyId: k.arn,
          GrantId: String(response.grantId),
          GranteePrincipal: text(request.granteePrincipal),
          RetiringPrincipal: text(request.retiringPrincipal),
          Operations: (request.operations ?? []) as GrantListEntry['Operations'],
          ...(request.constraints
            ? { Constraints: pascal(request.constraints, 1) as GrantListEntry['Constraints'] }
            : {}),
          ...(text(request.name) ? { Name: text(request.name) } : {}),
        });
        return;
      }
      case 'RetireGrant':
      case 'RevokeGrant': {
        const id = text(request.grantId) ?? text(record.additionalEventData?.grantId);
        const k = key();
        k.grants = k.grants.filter((g) => g.GrantId !== id);
        return;
      }
      case 'ImportKeyMaterial': {
        const k = key();
        const ms = parseAwsDate(request.validTo);
        k.material = {
          expirationModel: String(request.expirationModel ?? 'KEY_MATERIAL_EXPIRES'),
          ...(ms === undefined ? {} : { validTo: new Date(ms) }),
        };
        if (k.state === 'PendingImport') k.state = 'Enabled';
        return;
      }
      case 'DeleteImportedKeyMaterial':
      case 'DeleteExpiredKeyMaterial':
        Object.assign(key(), { state: 'PendingImport', material: undefined });
        return;
      case 'DeleteKey':
        this.deleteKey(key());
        return;
      case 'CreateTrail': {
        const arn = String(response.trailARN);
        this.trails.set(arn, {
          arn,
          name: String(response.name ?? request.name),
          kmsKeyId: text(response.kmsKeyId),
          multiRegion: response.isMultiRegionTrail === true,
          logFileValidation: response.logFileValidationEnabled === true,
          bucket: text(response.s3BucketName),
          includeGlobal: response.includeGlobalServiceEvents !== false,
          logging: false,
          selectors: { EventSelectors: [{ ReadWriteType: 'All', IncludeManagementEvents: true }] },
        });
        return;
      }
      case 'StartLogging':
      case 'StopLogging': {
        const trail = this.trailOf(record);
        if (trail) trail.logging = record.eventName === 'StartLogging';
        return;
      }
      case 'UpdateTrail': {
        const trail = this.trailOf(record);
        if (!trail) return;
        if ('kmsKeyId' in request) trail.kmsKeyId = text(response.kmsKeyId) ?? text(request.kmsKeyId);
        if ('isMultiRegionTrail' in request) trail.multiRegion = request.isMultiRegionTrail === true;
        if ('enableLogFileValidation' in request) trail.logFileValidation = request.enableLogFileValidation === true;
        if ('s3BucketName' in request) trail.bucket = text(request.s3BucketName);
        if ('includeGlobalServiceEvents' in request) trail.includeGlobal = request.includeGlobalServiceEvents === true;
        return;
      }
      case 'DeleteTrail': {
        const trail = this.trailOf(record);
        if (trail) this.trails.delete(trail.arn);
        return;
      }
      case 'PutEventSelectors': {
        const trail = this.trailOf(record);
        if (!trail) return;
        trail.selectors = {
          ...(request.eventSelectors ? { EventSelectors: pascal(request.eventSelectors, 3) as Json[] } : {}),
          ...(request.advancedEventSelectors
            ? { AdvancedEventSelectors: pascal(request.advancedEventSelectors, 3) as Json[] }
            : {}),
        };
        return;
      }
      default:
        // Rotations, SynchronizeMultiRegionKey and the like change nothing the detector reads.
        return;
    }
  }

  /** Answers the detector's and the reconciler's KMS reads from this world. */
  installKms(mock: AwsClientStub<KMSClient>): void {
    const keyFor = (keyId: string | undefined): WorldKey => {
      const id = keyId ?? '';
      const [, , , region = '', account = ''] = id.split(':');
      const key = id.startsWith('arn:') ? this.findKey(id, region, account) : undefined;
      if (!key) throw kmsError('NotFoundException', `Key '${id}' does not exist`);
      return key;
    };
    mock.on(DescribeKeyCommand).callsFake(({ KeyId }) => {
      const key = keyFor(KeyId);
      return {
        KeyMetadata: {
          AWSAccountId: key.arn.split(':')[4],
          KeyId: key.id,
          Arn: key.arn,
          CreationDate: new Date('2026-01-01T00:00:00Z'),
          Enabled: key.state === 'Enabled',
          Description: key.description,
          KeyUsage: key.keyUsage,
          KeySpec: key.keySpec,
          CustomerMasterKeySpec: key.keySpec,
          KeyState: key.state,
          Origin: key.origin,
          KeyManager: 'CUSTOMER',
          MultiRegion: false,
          ...(key.customKeyStoreId ? { CustomKeyStoreId: key.customKeyStoreId } : {}),
          ...(key.material ? { ExpirationModel: key.material.expirationModel, ValidTo: key.material.validTo } : {}),
          ...(key.deletionDate ? { DeletionDate: key.deletionDate, PendingDeletionWindowInDays: 7 } : {}),
        },
      };
    });
    mock.on(GetKeyPolicyCommand).callsFake(({ KeyId }) => ({ Policy: keyFor(KeyId).policy, PolicyName: 'default' }));
    mock.on(GetKeyRotationStatusCommand).callsFake(({ KeyId }) => {
      const key = keyFor(KeyId);
      return {
        KeyId: key.arn,
        KeyRotationEnabled: key.rotation,
        ...(key.rotation ? { RotationPeriodInDays: key.rotationPeriod } : {}),
      };
    });
    mock.on(ListResourceTagsCommand).callsFake(({ KeyId }) => ({
      Tags: Object.entries(keyFor(KeyId).tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
      Truncated: false,
    }));
    mock.on(ListGrantsCommand).callsFake(({ KeyId }) => ({ Grants: keyFor(KeyId).grants, Truncated: false }));
    // The reconciler's listing: every key KMS still knows (one pending deletion too, not one deleted).
    mock.on(ListKeysCommand).callsFake(() => ({
      Keys: [...this.keys.values()].map((key) => ({ KeyId: key.id, KeyArn: key.arn })),
      Truncated: false,
    }));
    mock.on(ListAliasesCommand).callsFake(({ KeyId }) => {
      const key = KeyId ? keyFor(KeyId) : undefined;
      const aliases = [...this.aliases].filter(([, target]) => !key || target === key.arn);
      return {
        Aliases: aliases.map(([arn, target]) => ({
          AliasName: arn.slice(arn.indexOf(':alias/') + 1),
          AliasArn: arn,
          TargetKeyId: target.slice(target.indexOf(':key/') + 5),
        })),
        Truncated: false,
      };
    });
  }

  /** Answers the detector's and the reconciler's CloudTrail reads from this world. */
  installCloudTrail(mock: AwsClientStub<CloudTrailClient>): void {
    const trailFor = (name: string | undefined) =>
      this.trails.get(name ?? '') ?? [...this.trails.values()].find((t) => t.name === name);
    const notFound = () =>
      Object.assign(new Error('Trail not found'), { name: 'TrailNotFoundException', $metadata: {} });
    mock.on(DescribeTrailsCommand).callsFake(({ trailNameList }) => {
      const trails = trailNameList
        ? trailNameList.flatMap((n: string) => trailFor(n) ?? [])
        : [...this.trails.values()];
      return {
        trailList: trails.map((t: WorldTrail) => ({
          Name: t.name,
          TrailARN: t.arn,
          S3BucketName: t.bucket,
          IncludeGlobalServiceEvents: t.includeGlobal,
          IsMultiRegionTrail: t.multiRegion,
          LogFileValidationEnabled: t.logFileValidation,
          IsOrganizationTrail: false,
          ...(t.kmsKeyId ? { KmsKeyId: t.kmsKeyId } : {}),
        })),
      };
    });
    mock.on(GetTrailStatusCommand).callsFake(({ Name }) => {
      const trail = trailFor(Name);
      if (!trail) throw notFound();
      return { IsLogging: trail.logging };
    });
    mock.on(GetEventSelectorsCommand).callsFake(({ TrailName }) => {
      const trail = trailFor(TrailName);
      if (!trail) throw notFound();
      return { TrailARN: trail.arn, ...trail.selectors };
    });
  }
}
