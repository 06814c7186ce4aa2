/**
 * What an operator may name in `keydrift baseline show|accept`: a KMS key (by id, ARN, alias name or alias ARN) or a
 * CloudTrail trail (by ARN). Checked before any AWS call, so a mistyped or foreign ARN costs no request and names
 * what is accepted. Pure: no AWS SDK, so the CLI can check it while parsing its arguments.
 */

/** What {@link isTargetName} accepts, for messages. */
export const TARGET_FORMS =
  'a KMS key id (1234abcd-12ab-34cd-56ef-1234567890ab or mrk-…), key ARN, alias name (alias/payments) or alias ARN, ' +
  'or a CloudTrail trail ARN';

const KEY_ID = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/i;
const ALIAS_NAME = /^alias\/[\w/-]+$/;
const KMS_ARN = /^arn:aws[\w-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/(.+)$/;
export const TRAIL_ARN = /^arn:aws[\w-]*:cloudtrail:[a-z0-9-]+:\d{12}:trail\/.+$/;
/** A custom key store's ARN, as keydrift names the store in its findings (KMS gives a store an id, not an ARN). */
export const CUSTOM_KEY_STORE_ARN = /^arn:aws[\w-]*:kms:[a-z0-9-]+:\d{12}:custom-key-store\/[\w-]+$/;

/** True when `name` is a key id, key ARN, alias name, alias ARN or trail ARN (in form: KMS or CloudTrail says if it exists). */
export function isTargetName(name: string): boolean {
  if (KEY_ID.test(name) || ALIAS_NAME.test(name) || TRAIL_ARN.test(name)) return true;
  const arn = KMS_ARN.exec(name);
  if (!arn) return false;
  const [, type, rest] = arn;
  return type === 'key' ? /^[\w-]+$/.test(rest) : ALIAS_NAME.test(`alias/${rest}`);
}
