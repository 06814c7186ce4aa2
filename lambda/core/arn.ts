/** Building and reading the ARNs findings name. */

import type { ResourceKind } from './types';

/** The partition a Region belongs to (`aws`, `aws-cn`, `aws-us-gov`). */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

export function keyArn(region: string, account: string, keyId: string): string {
  return `arn:${partitionOf(region)}:kms:${region}:${account}:key/${keyId}`;
}

export function aliasArn(region: string, account: string, aliasName: string): string {
  return `arn:${partitionOf(region)}:kms:${region}:${account}:${aliasName.startsWith('alias/') ? aliasName : `alias/${aliasName}`}`;
}

export function trailArn(region: string, account: string, name: string): string {
  return `arn:${partitionOf(region)}:cloudtrail:${region}:${account}:trail/${name}`;
}

/** Custom key stores have no ARN of their own; this one follows the KMS pattern so findings still name one. */
export function customKeyStoreArn(region: string, account: string, id: string): string {
  return `arn:${partitionOf(region)}:kms:${region}:${account}:custom-key-store/${id}`;
}

export interface ParsedArn {
  partition: string;
  service: string;
  region: string;
  account: string;
  resource: string;
}

export function parseArn(arn: string): ParsedArn | undefined {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  return {
    partition: parts[1],
    service: parts[2],
    region: parts[3],
    account: parts[4],
    resource: parts.slice(5).join(':'),
  };
}

export const isKeyArn = (value: string): boolean => /^arn:[\w-]+:kms:[^:]*:\d*:key\//.test(value);
export const isAliasArn = (value: string): boolean => /^arn:[\w-]+:kms:[^:]*:\d*:alias\//.test(value);

/** The kind of resource an ARN keydrift names is: a key, alias, trail, or (by keydrift's own pattern) custom key store. */
export function resourceKindOf(arn: string): ResourceKind {
  if (isKeyArn(arn)) return 'key';
  if (isAliasArn(arn)) return 'alias';
  if (arn.includes(':cloudtrail:')) return 'trail';
  return 'custom-key-store';
}

/** `alias/payments` from an alias ARN or name. */
export function aliasNameOf(value: string): string {
  const index = value.indexOf('alias/');
  return index >= 0 ? value.slice(index) : value;
}

/** The key id (or `mrk-…`) at the end of a key ARN. */
export function keyIdOf(arn: string): string {
  const index = arn.lastIndexOf('key/');
  return index >= 0 ? arn.slice(index + 4) : arn;
}
