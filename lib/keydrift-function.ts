import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/** Service name every keydrift function logs and emits metrics under (Powertools `service` dimension). */
export const SERVICE_NAME = 'keydrift';
/** CloudWatch namespace of keydrift's Powertools EMF metrics. */
export const METRICS_NAMESPACE = 'Keydrift';

export interface KeydriftFunctionProps extends Omit<NodejsFunctionProps, 'entry' | 'role' | 'logGroup'> {
  /** Path of the TypeScript handler file. */
  readonly entry: string;
  /**
   * Retention of the function's log group.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetentionDays?: logs.RetentionDays;
}

/**
 * A keydrift Lambda function: a `NodejsFunction` with the project's defaults baked in, so every function
 * is built, logged and permitted the same way.
 *
 * Defaults (each overridable through the props, except the role and the log group):
 * - runtime `Runtime.NODEJS_24_X`, architecture `Architecture.ARM_64`, handler `handler`;
 * - memory 512 MB, timeout 30 s, no reserved concurrency;
 * - bundling with local esbuild (no Docker): ESM, minified, no source map, target `node24`,
 *   `externalModules: []` so the pinned AWS SDK is bundled rather than the runtime's copy,
 *   `mainFields: ['module', 'main']` (ESM bundles of the SDK fail to load when `main` comes first) and a
 *   `createRequire` banner for CommonJS dependencies that call `require`;
 * - an explicit log group (sibling construct `<id>LogGroup`) kept for one year;
 * - its own role (sibling construct `<id>Role`) that may only write to that log group: no
 *   `AWSLambdaBasicExecutionRole` managed policy, whose `logs:*` rights span every log group;
 * - environment `POWERTOOLS_SERVICE_NAME=keydrift` and `POWERTOOLS_METRICS_NAMESPACE=Keydrift`, merged
 *   under `props.environment`.
 */
/** Gives CommonJS dependencies inside the ESM bundle a working `require` (npm run bench builds the same way). */
export const LAMBDA_BANNER =
  "import { createRequire as __keydriftCreateRequire } from 'node:module';" +
  'const require = __keydriftCreateRequire(import.meta.url);';

/** keydrift's own folder: its handlers and their dependencies are under it, wherever the app that uses it runs. */
const KEYDRIFT_ROOT = path.join(__dirname, '..');
const KEYDRIFT_LOCK_FILE = path.join(KEYDRIFT_ROOT, 'package-lock.json');

/**
 * keydrift's own folder and lock file for bundling, when it has one (a clone does). NodejsFunction otherwise looks
 * for a lock file from the working directory up and bundles from that folder, which in another project's app is that
 * project's: it refuses keydrift's handlers as outside it (`entryPath … should be under projectRoot`).
 */
function keydriftProject(): Pick<NodejsFunctionProps, 'projectRoot' | 'depsLockFilePath'> {
  return fs.existsSync(KEYDRIFT_LOCK_FILE) ? { projectRoot: KEYDRIFT_ROOT, depsLockFilePath: KEYDRIFT_LOCK_FILE } : {};
}

export class KeydriftFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: KeydriftFunctionProps) {
    const { logRetentionDays, bundling, environment, ...rest } = props;
    // Created beside the function because a subclass cannot create children before calling super().
    const logGroup = new logs.LogGroup(scope, `${id}LogGroup`, {
      retention: logRetentionDays ?? logs.RetentionDays.ONE_YEAR,
      // The record of what keydrift saw and sent outlives the stack, for the audits it serves (CDK's default too).
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `keydrift ${id} function`,
    });
    logGroup.grantWrite(role);

    super(scope, id, {
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.seconds(30),
      ...keydriftProject(),
      ...rest,
      role,
      logGroup,
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        ...environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        minify: true,
        sourceMap: false,
        target: 'node24',
        externalModules: [],
        mainFields: ['module', 'main'],
        banner: LAMBDA_BANNER,
        ...bundling,
      },
    });
  }
}
