/**
 * Links from an alert to the resource in the AWS console. Every part of the URL is checked against the shape AWS
 * allows, so a hostile region or name cannot turn the link into one that points elsewhere.
 */

import { ownEntry } from '../core/own';
import type { Finding } from '../core/types';

const CONSOLE_HOSTS: Record<string, (region: string) => string> = {
  aws: (region) => `https://${region}.console.aws.amazon.com`,
  'aws-us-gov': () => 'https://console.amazonaws-us-gov.com',
  'aws-cn': () => 'https://console.amazonaws.cn',
};

const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;
const ACCOUNT = /^\d{12}$/;
const KEY_ID = /^(?:mrk-)?[0-9a-f]{8}-?(?:[0-9a-f]{4}-?){3}[0-9a-f]{12}$/;
const TRAIL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{1,127}$/;

interface ParsedArn {
  partition: string;
  service: string;
  region: string;
  account: string;
  resource: string;
}

/** The console page for the finding's resource: the key, the key list for an alias, or the trail; else undefined. */
export function consoleUrl(finding: Pick<Finding, 'resource' | 'region'>): string | undefined {
  const arn = parseArn(finding.resource);
  if (!arn) return undefined;
  const region = REGION.test(arn.region) ? arn.region : finding.region;
  const host = ownEntry(CONSOLE_HOSTS, arn.partition);
  if (!host || !REGION.test(region) || !ACCOUNT.test(arn.account)) return undefined;
  const page = consolePage(arn, finding.resource);
  return page === undefined ? undefined : `${host(region)}/${page.app}/home?region=${region}#${page.fragment}`;
}

function consolePage(arn: ParsedArn, fullArn: string): { app: string; fragment: string } | undefined {
  const [type, ...rest] = arn.resource.split('/');
  const name = rest.join('/');
  if (arn.service === 'kms' && type === 'key' && KEY_ID.test(name))
    return { app: 'kms', fragment: `/kms/keys/${name}` };
  // The console has no page per alias; the key list shows aliases beside their keys.
  if (arn.service === 'kms' && type === 'alias') return { app: 'kms', fragment: '/kms/keys' };
  // The trail page is addressed by the whole ARN, so each of its parts must be valid, the region included.
  if (arn.service === 'cloudtrail' && type === 'trail' && TRAIL_NAME.test(name) && REGION.test(arn.region)) {
    return { app: 'cloudtrail', fragment: `/trails/${fullArn}` };
  }
  return undefined;
}

function parseArn(arn: string): ParsedArn | undefined {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  const [, partition, service, region, account] = parts as [string, string, string, string, string];
  return { partition, service, region, account, resource: parts.slice(5).join(':') };
}
