import { AliasStaysOnApprovedKey } from './AliasStaysOnApprovedKey';
import { NoOutsideAccessGained } from './NoOutsideAccessGained';
import { RotationPeriodNotLengthened } from './RotationPeriodNotLengthened';
import type { Rule } from './rule';
import { ServiceGrantsAreRoutine } from './ServiceGrantsAreRoutine';
import { TrailKeepsKmsKey } from './TrailKeepsKmsKey';
import { TrailKeyKeepsCloudTrailAccess } from './TrailKeyKeepsCloudTrailAccess';
import { TrailKeyStaysInAccount } from './TrailKeyStaysInAccount';
import { TrailKeyStaysUsable } from './TrailKeyStaysUsable';
import { TrailLogsKmsManagementEvents } from './TrailLogsKmsManagementEvents';

export type { Rule, RuleContext, RuleOutcome } from './rule';

/** Every rule, lowering rules first so that escalations always win. */
export const ALL_RULES: readonly Rule[] = [
  ServiceGrantsAreRoutine,
  NoOutsideAccessGained,
  RotationPeriodNotLengthened,
  AliasStaysOnApprovedKey,
  TrailKeyKeepsCloudTrailAccess,
  TrailKeyStaysUsable,
  TrailKeepsKmsKey,
  TrailKeyStaysInAccount,
  TrailLogsKmsManagementEvents,
];
