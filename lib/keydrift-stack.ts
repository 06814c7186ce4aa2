import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { KeydriftProps } from './config';
import { Keydrift } from './keydrift';

export interface KeydriftStackProps extends StackProps {
  /**
   * keydrift's configuration, validated by `parseKeydriftConfig`.
   * @default - every default of {@link KeydriftProps}
   */
  readonly config?: KeydriftProps;
}

/**
 * The deployable keydrift stack: one {@link Keydrift} construct plus the stack outputs operator commands read
 * (`TableName`, `ChatTopicArn`, `EmailTopicArn`, `PageTopicArn`, `OpsTopicArn`, `LastResortTopicArn`,
 * `DeadLetterQueueUrl`, `DetectorFunctionName`, `PagerFunctionName` (with PagerDuty), `KeyArn`, `OpsKeyArn`, and
 * `TrailArn` or `TrailPrerequisite`). Environment-agnostic unless `env` is given.
 */
export class KeydriftStack extends Stack {
  readonly keydrift: Keydrift;

  constructor(scope: Construct, id: string, props: KeydriftStackProps = {}) {
    const { config, ...stackProps } = props;
    super(scope, id, {
      description: 'keydrift: detects drift in AWS KMS keys and the CloudTrail trails that depend on them',
      ...stackProps,
    });
    this.keydrift = new Keydrift(this, 'Keydrift', config);
    this.keydrift.exportOutputs(this);
  }
}
