/**
 * CloudTrail records a call on another account's key in the caller's account as well as in the key's account: only
 * the owner's copy is judged.
 */
import { DEFAULT_CONFIG } from '../../lambda/core/config';
import { Detector } from '../../lambda/core/detector';
import { MemoryStore } from '../../lambda/core/memory-store';
import { normalizeRecord } from '../../lambda/core/normalize';
import { ownerElsewhere } from '../../lambda/core/owner';
import { type CloudTrailRecord, sample } from '../helpers/fixtures';

const OWNER = '999988887777';
const CALLER = '111122223333';
const SHARED_KEY = `arn:aws:kms:us-west-2:${OWNER}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

/** CreateGrant__awskmsdg__1 made by the caller's account on the owner's key, as recorded in `recordedIn`. */
function crossAccountGrant(recordedIn: string): CloudTrailRecord {
  const record = sample('CreateGrant__awskmsdg__1');
  (record.requestParameters as Record<string, unknown>).keyId = SHARED_KEY;
  record.resources = [{ ARN: SHARED_KEY, accountId: OWNER }];
  record.recipientAccountId = recordedIn;
  return record;
}

/** The owner the detector would leave the record to, if not the recording account. */
function ownerOf(record: CloudTrailRecord): string | undefined {
  const event = normalizeRecord(record);
  return ownerElsewhere(event, new Detector(DEFAULT_CONFIG, new MemoryStore()).observe(event).resource);
}

describe('ownerElsewhere, on the resource the detector judges', () => {
  it("names the owner of a key changed by a call recorded in the caller's account", () => {
    expect(ownerOf(crossAccountGrant(CALLER))).toBe(OWNER);
  });

  it('names it for a denied call too', () => {
    expect(ownerOf({ ...crossAccountGrant(CALLER), errorCode: 'AccessDeniedException' })).toBe(OWNER);
  });

  it("leaves the owner's copy of the same call to be judged", () => {
    expect(ownerOf(crossAccountGrant(OWNER))).toBeUndefined();
  });

  it("leaves calls on the recording account's own keys, by key id or ARN, to be judged", () => {
    expect(ownerOf(sample('CreateGrant__awskmsdg__1'))).toBeUndefined();
    expect(ownerOf(sample('DisableKey__awskmsdg__1'))).toBeUndefined();
  });

  it('judges a record whose recording account is unknown rather than drop it', () => {
    const record = crossAccountGrant(CALLER);
    delete record.recipientAccountId;
    record.userIdentity = { type: 'AWSService', invokedBy: 'ec2.amazonaws.com' };
    record.resources = [{ ARN: SHARED_KEY }];
    expect(normalizeRecord(record).account).toBe('unknown');
    expect(ownerOf(record)).toBeUndefined();
  });
});
