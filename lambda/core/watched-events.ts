/**
 * The event names keydrift watches. The EventBridge rules are built from these lists and the core's
 * catalogue covers each of them, so the deployed rules and the detection core cannot drift apart.
 */

/** KMS API calls that change a key, an alias, a grant or a custom key store (`AWS API Call via CloudTrail`). */
export const KMS_API_WRITES = [
  'CancelKeyDeletion',
  'ConnectCustomKeyStore',
  'CreateAlias',
  'CreateCustomKeyStore',
  'CreateGrant',
  'CreateKey',
  'DeleteAlias',
  'DeleteCustomKeyStore',
  'DeleteImportedKeyMaterial',
  'DisableKey',
  'DisableKeyRotation',
  'DisconnectCustomKeyStore',
  'EnableKey',
  'EnableKeyRotation',
  'ImportKeyMaterial',
  'PutKeyPolicy',
  'ReplicateKey',
  'RetireGrant',
  'RevokeGrant',
  'RotateKeyOnDemand',
  'ScheduleKeyDeletion',
  // KMS itself calls it (no user), but CloudTrail records it as an API call, not a service event.
  'SynchronizeMultiRegionKey',
  'TagResource',
  'UntagResource',
  'UpdateAlias',
  'UpdateCustomKeyStore',
  'UpdateKeyDescription',
  'UpdatePrimaryRegion',
] as const;

/** Changes KMS makes itself (`AWS Service Event via CloudTrail`). */
export const KMS_SERVICE_EVENTS = ['DeleteKey', 'RotateKey', 'DeleteExpiredKeyMaterial'] as const;

/** KMS's own EventBridge events (source `aws.kms`), named by their `detail-type`. */
export const KMS_NATIVE_EVENTS = [
  'KMS CMK Deletion',
  'KMS CMK Rotation',
  'KMS Imported Key Material Expiration',
] as const;

/** CloudTrail API calls that change a trail (`AWS API Call via CloudTrail`, source `aws.cloudtrail`). */
export const TRAIL_WRITES = [
  'CreateTrail',
  'DeleteTrail',
  'PutEventSelectors',
  'StartLogging',
  'StopLogging',
  'UpdateTrail',
] as const;
