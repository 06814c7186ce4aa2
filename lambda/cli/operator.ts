/**
 * The operator commands against a deployed keydrift stack: `status`, `findings` and `baseline show|accept|adopt`.
 * Only their options and help live here: the AWS SDK is loaded inside each action, so `keydrift replay` (which
 * needs no AWS) starts as fast as before.
 */

import { type Command, InvalidArgumentError, Option } from 'commander';
import { toIsoSeconds } from '../core/time';
import { SEVERITIES } from '../core/types';
import { impossibleSince, parseSince, parseUntil } from '../ops/drift';
import { isTargetName, TARGET_FORMS } from '../ops/targets';
import type { AcceptFlags, AdoptFlags, CommonFlags, FindingsFlags } from './operator-actions';

const AWS_HELP = `
Finds keydrift's table from the TableName output of the stack (--stack-name, default Keydrift) unless --table
names it. Uses the standard AWS credential chain (AWS_PROFILE, AWS_ACCESS_KEY_ID…, ~/.aws/config, SSO, instance
roles), --profile and --region, and AWS_ENDPOINT_URL or --endpoint-url for an emulator.

Exit status: 0 done, 2 usage error, no credentials or Region, no such stack, table or key, a table that is not keydrift's.`;

function since(value: string): string {
  const impossible = impossibleSince(value);
  if (impossible !== undefined) {
    throw new InvalidArgumentError(impossible);
  }
  if (parseSince(value, Date.now()) === undefined) {
    throw new InvalidArgumentError(
      'expected a duration (30m, 24h, 7d, 2w) or an ISO date (2026-11-01, 2026-11-01T08:00Z)',
    );
  }
  return value;
}

/** A key, alias or trail as `baseline show|accept` take it, checked before any AWS call. */
function targetName(value: string): string {
  if (!isTargetName(value)) throw new InvalidArgumentError(`expected ${TARGET_FORMS}`);
  return value;
}

/**
 * The most an accept's `--reason` may hold: a change ticket and a sentence or two. It is stored on the baseline item
 * and in its finding (DynamoDB items are at most 400 KB) and sent to PagerDuty, whose fields keydrift cuts at 1,000.
 */
const MAX_ACCEPT_REASON = 1000;

/** An accept's `--reason`: some text, at most {@link MAX_ACCEPT_REASON} characters. */
function acceptReason(value: string): string {
  const reason = value.trim();
  if (!reason) throw new InvalidArgumentError('expected why the state is approved (a change ticket, a sentence)');
  if (reason.length > MAX_ACCEPT_REASON) {
    throw new InvalidArgumentError(`at most ${MAX_ACCEPT_REASON} characters (this is ${reason.length})`);
  }
  return reason;
}

const REASON_HELP = `why it is approved (a change ticket, a sentence; at most ${MAX_ACCEPT_REASON} characters), recorded with who and when`;

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

/** A name of a table or stack: an empty one would silently mean another (`--table ''`, the stack's table). */
function name(value: string): string {
  if (!value.trim()) throw new InvalidArgumentError('expected a name, not an empty one');
  return value;
}

function url(value: string): string {
  try {
    new URL(value);
  } catch {
    throw new InvalidArgumentError('expected a URL such as http://localhost:4566');
  }
  return value;
}

/** The options every operator command takes. */
function withAwsOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--stack-name <name>', "the keydrift stack whose TableName output names keydrift's table")
        .env('KEYDRIFT_STACK_NAME')
        .default('Keydrift')
        .argParser(name),
    )
    .addOption(
      new Option(
        '--table <name>',
        "keydrift's DynamoDB table (skips the stack lookup, so accept and adopt tell no page topic: they name the " +
          'PagerDuty incidents to resolve by hand)',
      )
        .env('KEYDRIFT_TABLE')
        .argParser(name),
    )
    .option('--profile <name>', 'AWS profile to use (default: AWS_PROFILE, else the default credential chain)')
    .option('--region <name>', "AWS Region (default: AWS_REGION, else the profile's, else AWS_DEFAULT_REGION)")
    .option('--endpoint-url <url>', 'send every AWS call to this endpoint (default: AWS_ENDPOINT_URL)', url)
    .addOption(
      new Option('--format <format>', 'output format (json: JSON Lines, one object per line)')
        .choices(['table', 'json'])
        .default('table'),
    )
    .hook('preAction', (self) => {
      // Messages about the table name what named it.
      if (self.getOptionValueSource('table') === 'env') self.setOptionValue('tableSource', 'KEYDRIFT_TABLE');
    });
}

/**
 * The actions, loaded with the AWS SDK only when an operator command runs. A plain require: bin/keydrift.cjs leaves
 * it out of the CLI bundle (it builds the actions as a bundle of their own), and tsx resolves it to the TypeScript.
 */
const actions = async (): Promise<typeof import('./operator-actions')> => require('./operator-actions');

export function addOperatorCommands(program: Command): void {
  withAwsOptions(
    program
      .command('status')
      .summary('Show open drift per resource (against a deployed keydrift stack).')
      .description(
        'Show open drift: every resource whose last known state differs from its approved baseline, or whose ' +
          'attribute approved as unknown has a drift finding still open, with the attributes that drifted, since ' +
          'when, the worst severity and the latest finding.',
      ),
  )
    .addHelpText(
      'after',
      `
Examples:
  keydrift status
  keydrift status --profile security-audit --region eu-west-1
  keydrift status --format json | jq -r 'select(.severity == "critical") | .resource'
  keydrift status --table Keydrift-Table-1A2B3C4D5E6F
${AWS_HELP.replace('0 done,', '0 done, 1 nothing has a baseline yet (no all-clear: run keydrift baseline adopt),')}`,
    )
    .action(async (flags: CommonFlags) => {
      process.exitCode = await (await actions()).runStatus(flags);
    });

  withAwsOptions(
    program
      .command('findings')
      .summary("List keydrift's findings, newest first.")
      .description("List keydrift's findings, newest first.")
      .option(
        '--since <when>',
        'how far back: 30m, 24h, 7d, 2w, or an ISO date (UTC unless a zone is given)',
        since,
        '7d',
      )
      .option(
        '--until <when>',
        'the last time to list, included, as --since takes it (default: now); a bare date includes its whole day',
        since,
      )
      .addOption(
        new Option('--severity <level>', 'only findings at or above this severity').choices(SEVERITIES).default('info'),
      )
      .option(
        '--resource <resource>',
        'only findings about this resource: a key, trail or custom key store ARN, or a key id; an alias (name or ARN): it and its key',
      )
      .option('--limit <n>', 'at most this many findings', positiveInteger),
  )
    .addHelpText(
      'after',
      `
Examples:
  keydrift findings
  keydrift findings --since 24h --severity error
  keydrift findings --since 2026-11-01 --resource arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
  keydrift findings --since 2026-07-01 --until 2026-09-30 --format json > q3-findings.jsonl
  keydrift findings --since 30d --format json | jq -r '[.timestamp, .severity, .summary] | @tsv'
${AWS_HELP}`,
    )
    .action(async (flags: FindingsFlags, command: Command) => {
      // A period that ends before it starts is a typo (the dates swapped), not an empty audit period.
      const nowMs = Date.now();
      const sinceMs = parseSince(flags.since, nowMs) ?? nowMs;
      const untilMs = flags.until === undefined ? undefined : parseUntil(flags.until, nowMs);
      if (untilMs !== undefined && untilMs < sinceMs) {
        command.error(
          `error: --until ${flags.until} (${toIsoSeconds(untilMs)}) is before --since ${flags.since} ` +
            `(${toIsoSeconds(sinceMs)})`,
        );
      }
      process.exitCode = await (await actions()).runFindings(flags);
    });

  const baseline = program
    .command('baseline')
    .summary('Show, accept or adopt approved baselines.')
    .description('Show, accept or adopt approved baselines (the state drift is measured against).')
    .addHelpText(
      'after',
      `
Examples:
  keydrift baseline show alias/payments
  keydrift baseline accept alias/payments --reason 'CHG-4711: rotation off while the key is migrated'
  keydrift baseline adopt --yes`,
    );

  const keyArgument = [
    '<key>',
    'key id, key ARN, alias name (alias/payments) or alias ARN, resolved through KMS; or a trail ARN',
    targetName,
  ] as const;

  withAwsOptions(
    baseline
      .command('show')
      .summary("Show a key's approved baseline and where its last known state differs.")
      .description(
        "Show a key's approved baseline: who accepted it and when, every attribute's approved value, and where the " +
          'last known state differs. Named by alias, the alias is shown too.',
      )
      .argument(...keyArgument),
  )
    .addHelpText(
      'after',
      `
Examples:
  keydrift baseline show alias/payments
  keydrift baseline show 1234abcd-12ab-34cd-56ef-1234567890ab --format json | jq .baseline.snapshot.attributes
  keydrift baseline show arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-audit
${AWS_HELP.replace('0 done,', '0 done, 1 no baseline recorded yet for what is named (named by alias: the alias),')}`,
    )
    .action(async (key: string, flags: CommonFlags) => {
      process.exitCode = await (await actions()).runBaselineShow(key, flags);
    });

  withAwsOptions(
    baseline
      .command('accept')
      .summary("Approve a key's live state as its baseline.")
      .description(
        "Approve a key's current live state (read from KMS now) as its baseline, recording who accepted it (your " +
          'identity from STS) and when, and print every approved value that changed. Named by alias, the alias ' +
          '(what it points to) is accepted too.',
      )
      .argument(...keyArgument)
      .option('--reason <text>', REASON_HELP, acceptReason),
  )
    .addHelpText(
      'after',
      `
Examples:
  keydrift baseline accept alias/payments
  keydrift baseline accept alias/payments --reason 'CHG-4711: rotation off while the key is migrated'
  keydrift baseline accept arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab --profile admin
  keydrift baseline accept arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-audit
${AWS_HELP}`,
    )
    .action(async (key: string, flags: AcceptFlags) => {
      process.exitCode = await (await actions()).runBaselineAccept(key, flags);
    });

  withAwsOptions(
    baseline
      .command('adopt')
      .summary('Approve the live state of every customer-managed key, alias and trail.')
      .description(
        'Approve the current live state of every customer-managed key (AWS-managed keys are skipped), alias and ' +
          'trail in the Region as its baseline. Baselines that already match are left as they are. Asks first; ' +
          'where it cannot (standard input is not a terminal), accepts nothing unless --yes is given.',
      )
      .option('--yes', 'accept without asking (required where standard input is not a terminal)')
      .option('--reason <text>', REASON_HELP, acceptReason),
  )
    .addHelpText(
      'after',
      `
Examples:
  keydrift baseline adopt
  keydrift baseline adopt --yes --profile admin --region eu-west-1
  keydrift baseline adopt --yes --format json | jq -r 'select(.result != "unchanged") | .resource'
${AWS_HELP.replace('0 done, 2 usage error,', '0 done, 1 declined at the prompt, 2 usage error (no --yes and no terminal to ask on),')}`,
    )
    .action(async (flags: AdoptFlags) => {
      process.exitCode = await (await actions()).runBaselineAdopt(flags);
    });
}
