/**
 * How the CDK app reads its settings from context (`cdk.json`, `cdk.context.json` or `-c key=value`). Kept out of
 * bin/app.ts so that tests can exercise it without running the app.
 */
import type { Construct } from 'constructs';
import { type KeydriftConfig, parseKeydriftConfig } from './config';

/** Context key holding keydrift's configuration: an object, or a JSON string as `-c keydrift='{...}'` gives. */
export const CONFIG_CONTEXT_KEY = 'keydrift';
/** Context key that renames the stack. */
export const STACK_NAME_CONTEXT_KEY = 'stackName';
export const DEFAULT_STACK_NAME = 'Keydrift';

// CloudFormation's stack name rule, but at most 64 characters: the stack name is part of five generated names in the
// functions' environment, which must fit Lambda's 4 KB with the largest detection settings (MAX_DETECTION_SETTINGS_BYTES).
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;

/**
 * The validated configuration from the `keydrift` context key (absent means every default).
 * @throws Error starting with `keydrift config:` that names the bad field or says the JSON is malformed.
 */
export function configFromContext(scope: Construct): KeydriftConfig {
  const raw: unknown = scope.node.tryGetContext(CONFIG_CONTEXT_KEY);
  if (raw === undefined) return parseKeydriftConfig({});
  if (typeof raw !== 'string') return parseKeydriftConfig(raw);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    // `cdk -c key=value` keeps the value's first line only: a JSON object written over several lines arrives cut.
    const cut = !raw.trimEnd().endsWith('}')
      ? '; the CDK CLI keeps only the first line of a -c value: write it on one line or put it in cdk.json'
      : '';
    throw new Error(
      `keydrift config: context "${CONFIG_CONTEXT_KEY}" is not valid JSON (${(error as Error).message})${cut}`,
    );
  }
  return parseKeydriftConfig(parsed);
}

/**
 * The stack name from the `stackName` context key, `Keydrift` by default.
 * @throws Error when the name is not a valid CloudFormation stack name.
 */
export function stackNameFromContext(scope: Construct): string {
  const name: unknown = scope.node.tryGetContext(STACK_NAME_CONTEXT_KEY) ?? DEFAULT_STACK_NAME;
  if (typeof name !== 'string' || !STACK_NAME.test(name)) {
    throw new Error(
      `keydrift: context "${STACK_NAME_CONTEXT_KEY}" ${JSON.stringify(name)} is not a valid stack name ` +
        "(a letter, then up to 63 letters, digits or hyphens; CloudFormation allows 128, but keydrift's functions " +
        'would outgrow the 4 KB Lambda allows for their environment)',
    );
  }
  return name;
}
