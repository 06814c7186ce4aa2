/**
 * The operator commands' composition root: SDK clients from `--profile`, `--region` and `--endpoint-url` (else the
 * standard chain: AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ~/.aws/config, SSO …; and, as the aws CLI reads it,
 * AWS_DEFAULT_REGION when none of these gives a Region), the caller's identity, and
 * keydrift's table, found from the stack's `TableName` output. AWS errors become {@link OperatorError}s that say
 * what to fix.
 */

import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { SNSClient } from '@aws-sdk/client-sns';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { TABLE_KEY } from '../adapters/table-key';
import { OperatorError, TableKeyError } from './errors';
import { createTableReader } from './table-reader';

/** The options every operator command takes. */
export interface AwsOptions {
  stackName: string;
  table?: string;
  /** What gave `table`: `--table` (the default) or the KEYDRIFT_TABLE variable. For messages. */
  tableSource?: '--table' | 'KEYDRIFT_TABLE';
  profile?: string;
  region?: string;
  endpointUrl?: string;
}

/** The stack output that names keydrift's table (lib/keydrift.ts OUTPUT_KEYS.tableName). */
export const TABLE_OUTPUT = 'TableName';
/** The stack output that names the page topic (lib/keydrift.ts OUTPUT_KEYS.pageTopicArn). */
export const PAGE_TOPIC_OUTPUT = 'PageTopicArn';
const MAX_ATTEMPTS = 4;

export interface OpsContext {
  options: AwsOptions;
  region: string;
  kms: KMSClient;
  dynamodb: DynamoDBClient;
  cloudtrail: CloudTrailClient;
  sns: SNSClient;
  /** The caller's ARN (STS GetCallerIdentity), asked once. */
  identity(): Promise<string>;
  /**
   * keydrift's table: `--table`, else the stack's `TableName` output (asked once), checked once to exist and to have
   * keydrift's key, so that another table is refused before it is read as holding nothing.
   */
  tableName(): Promise<string>;
  /** The table's name once known (for messages about it). */
  knownTableName(): string | undefined;
  /**
   * The page topic: the stack's `PageTopicArn` output (asked once with the table's). Undefined with `--table`, which
   * skips the stack lookup: the stack named by `--stack-name` (default `Keydrift`) may be another deployment's.
   */
  pageTopicArn(): Promise<string | undefined>;
}

/**
 * The SDK's logger for the operator commands: silent, but for warnings. The warning that AWS_PROFILE wins over
 * AWS_ACCESS_KEY_ID is left out when --profile chose the profile: that is what the operator asked for.
 */
function sdkLogger(explicitProfile: boolean) {
  const quiet = () => {};
  return {
    trace: quiet,
    debug: quiet,
    info: quiet,
    error: quiet,
    warn: (...content: unknown[]) => {
      const text = content.map(String).join(' ');
      if (explicitProfile && /Multiple credential sources detected/.test(text)) return;
      process.stderr.write(`${text.trimEnd()}\n`);
    },
  };
}

/** An endpoint AWS calls go to instead of AWS itself (an emulator, a VPC endpoint), and what set it. */
export interface ConfiguredEndpoint {
  url: string;
  /** `--endpoint-url`, or the environment variable that set it. */
  source: string;
}

/** The AWS_ENDPOINT_URL_<SERVICE> variables of the services the operator commands call. */
const SERVICE_ENDPOINT_VARIABLES = ['KMS', 'DYNAMODB', 'CLOUDTRAIL', 'CLOUDFORMATION', 'SNS', 'STS'].map(
  (service) => `AWS_ENDPOINT_URL_${service}`,
);

/**
 * The endpoints the clients use instead of AWS, as the SDK picks them: `--endpoint-url` for every call; else each
 * service's AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL for the rest (none when
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true). For messages: the clients get only `--endpoint-url` from keydrift.
 *
 * @example
 * configuredEndpoints({ stackName: 'Keydrift' }, { AWS_ENDPOINT_URL: 'http://localhost:4566' });
 * // [{ url: 'http://localhost:4566', source: 'AWS_ENDPOINT_URL' }]
 */
export function configuredEndpoints(options: AwsOptions, env: NodeJS.ProcessEnv): ConfiguredEndpoint[] {
  if (options.endpointUrl) return [{ url: options.endpointUrl, source: '--endpoint-url' }];
  if (env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === 'true') return [];
  return [...SERVICE_ENDPOINT_VARIABLES, 'AWS_ENDPOINT_URL']
    .filter((name) => env[name])
    .map((name) => ({ url: env[name] as string, source: name }));
}

/** Client settings from the options; what is not given is left to the SDK's standard chain. */
export function clientConfig(options: AwsOptions): {
  region?: string;
  profile?: string;
  endpoint?: string;
  maxAttempts: number;
  logger: ReturnType<typeof sdkLogger>;
} {
  return {
    ...(options.region ? { region: options.region } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
    ...(options.endpointUrl ? { endpoint: options.endpointUrl } : {}),
    maxAttempts: MAX_ATTEMPTS,
    logger: sdkLogger(!!options.profile),
  };
}

/**
 * Builds the clients and settles the Region (the one thing every command needs before its first call): `--region`,
 * else the SDK's (AWS_REGION, then the profile's), else AWS_DEFAULT_REGION of `env`, which the aws CLI reads and the
 * SDK does not.
 *
 * @throws OperatorError when no Region is configured
 */
export async function createOpsContext(options: AwsOptions, env: NodeJS.ProcessEnv = process.env): Promise<OpsContext> {
  const config = clientConfig(options);
  let kms = new KMSClient(config);
  let region: string;
  try {
    region = await kms.config.region();
  } catch (error) {
    kms.destroy();
    const fallback = env.AWS_DEFAULT_REGION?.trim();
    if (!fallback) {
      throw new OperatorError(
        'no AWS Region: pass --region, set AWS_REGION (or AWS_DEFAULT_REGION), or set region in ' +
          (options.profile ? `profile ${options.profile}` : 'your AWS profile'),
        { cause: error },
      );
    }
    region = fallback;
    kms = new KMSClient({ ...config, region });
  }
  // Every client in the same Region, even when it came from a profile.
  const regional = { ...config, region };
  const dynamodb = new DynamoDBClient(regional);
  const cloudtrail = new CloudTrailClient(regional);
  const sns = new SNSClient(regional);
  let identity: Promise<string> | undefined;
  let table: Promise<string> | undefined;
  let outputs: Promise<Map<string, string>> | undefined;
  let tableKnown: string | undefined = options.table;

  async function askIdentity(): Promise<string> {
    const sts = new STSClient(regional);
    try {
      const { Arn } = await sts.send(new GetCallerIdentityCommand({}));
      if (!Arn) throw new OperatorError('STS GetCallerIdentity returned no ARN');
      return Arn;
    } finally {
      sts.destroy();
    }
  }

  async function readOutputs(): Promise<Map<string, string>> {
    const cloudformation = new CloudFormationClient(regional);
    try {
      const { Stacks } = await cloudformation.send(new DescribeStacksCommand({ StackName: options.stackName }));
      const stack = Stacks?.[0];
      const values = new Map((stack?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
      if (!values.get(TABLE_OUTPUT)) {
        throw new OperatorError(
          `stack ${options.stackName} in ${region} has no ${TABLE_OUTPUT} output (status ${stack?.StackStatus ?? 'unknown'}): ` +
            'is it a keydrift stack? pass --stack-name or --table',
        );
      }
      return values;
    } catch (error) {
      if (error instanceof Error && error.name === 'ValidationError' && /does not exist/i.test(error.message)) {
        throw new OperatorError(
          `stack ${options.stackName} not found in ${region}: deploy it or pass --stack-name/--table`,
          { cause: error },
        );
      }
      throw error;
    } finally {
      cloudformation.destroy();
    }
  }

  /**
   * Proves the table exists and has keydrift's key.
   *
   * @throws OperatorError for a table of another key, saying what named it
   */
  async function checkTable(name: string): Promise<void> {
    try {
      await createTableReader({ client: dynamodb, tableName: name }).check();
    } catch (error) {
      if (!(error instanceof TableKeyError)) throw error;
      throw new OperatorError(
        `table ${name} in ${region} is not a keydrift table (${describeKey(error)}): ${whatNamedTable(options)}`,
        { cause: error },
      );
    }
  }

  /** One of the stack's outputs; the stack is asked once. */
  async function stackOutput(key: string): Promise<string> {
    outputs ??= readOutputs();
    const value = (await outputs).get(key);
    if (!value) throw new OperatorError(`stack ${options.stackName} in ${region} has no ${key} output`);
    return value;
  }

  return {
    options,
    region,
    kms,
    dynamodb,
    cloudtrail,
    sns,
    identity: () => {
      identity ??= askIdentity();
      return identity;
    },
    tableName: () => {
      table ??= (options.table ? Promise.resolve(options.table) : stackOutput(TABLE_OUTPUT)).then(async (name) => {
        tableKnown = name;
        await checkTable(name);
        return name;
      });
      return table;
    },
    knownTableName: () => tableKnown,
    pageTopicArn: () => (options.table ? Promise.resolve(undefined) : stackOutput(PAGE_TOPIC_OUTPUT)),
  };
}

const TYPE_NAMES: Record<string, string> = { S: 'string', N: 'number', B: 'binary' };

/** `its key is id, not pk and sk`: a table's key against keydrift's, with types where they differ. */
function describeKey({ key }: TableKeyError): string {
  const ours = `${TABLE_KEY.partitionKey} and ${TABLE_KEY.sortKey}`;
  if (!key) return `its key is not ${ours}`;
  const typed = key.some((k) => k.type && k.type !== 'S');
  const theirs = key.map((k) => (typed && k.type ? `${k.name} (${TYPE_NAMES[k.type] ?? k.type})` : k.name));
  return `its key is ${theirs.join(' and ')}, not ${ours}${typed ? ' (strings)' : ''}`;
}

/** What to check about a table name, by what gave it. */
function whatNamedTable(options: AwsOptions): string {
  const stack = `stack ${options.stackName}`;
  if (!options.table) return `${stack}'s ${TABLE_OUTPUT} output names it: check --stack-name, or pass --table`;
  if (options.tableSource === 'KEYDRIFT_TABLE') {
    return `check KEYDRIFT_TABLE, or unset it to find keydrift's table through ${stack}`;
  }
  return `check --table, or leave it out to find keydrift's table through ${stack}`;
}

/** Releases the clients' sockets so the process can exit at once. */
export function closeOpsContext(context: OpsContext): void {
  context.kms.destroy();
  context.dynamodb.destroy();
  context.cloudtrail.destroy();
  context.sns.destroy();
}

const CREDENTIAL_REJECTED = new Set([
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
]);
const ACCESS_DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation']);
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH']);

/** The underlying AWS error of an adapter's error (which keeps it as `cause`). */
function rootCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 5 && current instanceof Error && current.cause !== undefined; depth++) {
    if ((current as { $metadata?: unknown }).$metadata) break;
    current = current.cause;
  }
  return current;
}

/**
 * The configured endpoint a connection error is about: the one at the host the error names (ENOTFOUND names the host,
 * ECONNREFUSED only the address and port: a loopback address matches a loopback endpoint on that port), else the one
 * every other service uses (`--endpoint-url`, AWS_ENDPOINT_URL); none when the call went to AWS itself.
 */
function unreachableEndpoint(cause: Error, endpoints: ConfiguredEndpoint[]): ConfiguredEndpoint | undefined {
  const { hostname, address, port } = cause as { hostname?: string; address?: string; port?: number };
  const isLoopback = (host: string) => /^(localhost|127\.[\d.]+|\[?::1\]?)$/.test(host);
  const named = endpoints.find(({ url }) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return false;
    }
    const urlPort = Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80));
    if (parsed.hostname === hostname || parsed.hostname === address) return true;
    return !!address && isLoopback(address) && isLoopback(parsed.hostname) && urlPort === port;
  });
  return named ?? endpoints.find((e) => e.source === '--endpoint-url' || e.source === 'AWS_ENDPOINT_URL');
}

/**
 * Turns what went wrong talking to AWS into a message that says what to do. keydrift's own errors pass through;
 * anything that is not an AWS error (a bug) is returned as it came. `endpoints` are those configured instead of AWS
 * ({@link configuredEndpoints}; by default `--endpoint-url` alone), so an unreachable one is named.
 */
export function explainAwsError(
  error: unknown,
  context: { options: AwsOptions; region?: string; table?: string; endpoints?: ConfiguredEndpoint[] },
) {
  if (error instanceof OperatorError) return error;
  const cause = rootCause(error);
  if (!(cause instanceof Error)) return error;
  const name = cause.name;
  const code = (cause as { code?: string }).code;
  const where = context.region ? ` in ${context.region}` : '';
  const profile = context.options.profile;
  if (name === 'CredentialsProviderError' || /could not load credentials/i.test(cause.message)) {
    return new OperatorError(
      profile
        ? `no AWS credentials for profile ${profile}: ${cause.message} (check ~/.aws/config, or run aws sso login --profile ${profile})`
        : 'no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile, ' +
            'or run aws configure / aws sso login',
      { cause: error },
    );
  }
  if (CREDENTIAL_REJECTED.has(name)) {
    return new OperatorError(
      `AWS rejected the credentials (${name}: ${cause.message}): refresh them (aws sso login) or pass another --profile`,
      { cause: error },
    );
  }
  if (ACCESS_DENIED.has(name)) return new OperatorError(`access denied: ${cause.message}`, { cause: error });
  if (name === 'ResourceNotFoundException') {
    const { table, tableSource, stackName } = context.options;
    // Named by the operator, the name may be wrong; named by the stack, the stack may be another Region's.
    const named = table
      ? `${tableSource ?? '--table'}): check the name and the Region`
      : `the ${TABLE_OUTPUT} output of stack ${stackName}): check the Region, or pass --table`;
    return new OperatorError(`table ${context.table ?? '(unknown)'} not found${where} (named by ${named}`, {
      cause: error,
    });
  }
  if ((code && UNREACHABLE.has(code)) || name === 'TimeoutError') {
    const endpoint = unreachableEndpoint(cause, context.endpoints ?? configuredEndpoints(context.options, {}));
    if (endpoint) {
      const without = endpoint.source === '--endpoint-url' ? 'leave out --endpoint-url' : `unset ${endpoint.source}`;
      return new OperatorError(
        `cannot reach ${endpoint.url} (the endpoint set by ${endpoint.source}): ${cause.message}: check that it is ` +
          `running and its URL is right, or ${without} to reach AWS${where}`,
        { cause: error },
      );
    }
    return new OperatorError(
      `cannot reach AWS${where}: ${cause.message}: check the network connection (VPN, proxy, firewall) and the ` +
        `Region (--region, AWS_REGION, AWS_DEFAULT_REGION)`,
      { cause: error },
    );
  }
  if ((cause as { $metadata?: unknown }).$metadata) {
    return new OperatorError(`AWS ${name}${where}: ${cause.message}`, { cause: error });
  }
  return error;
}
