import { parseArn } from './arn';
import type { ChangeEvent } from './types';

const ACCOUNT_ID = /^\d{12}$/;

/**
 * The account that owns `resource` (what the event changed), when it is not the account that recorded the event.
 * CloudTrail records a call on another account's key (a cross-account CreateGrant, such as EBS makes for a shared
 * key) in the caller's account as well as in the owner's: the owner's copy is the one judged. The caller's copy would
 * be judged against no baseline, read live without rights, and counted twice in an organization trail.
 */
export function ownerElsewhere(event: ChangeEvent, resource: string): string | undefined {
  const owner = parseArn(resource)?.account ?? '';
  return ACCOUNT_ID.test(event.account) && ACCOUNT_ID.test(owner) && owner !== event.account ? owner : undefined;
}
