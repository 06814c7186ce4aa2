import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_CONFIG, type DetectionConfig, parseDetectionConfig } from '../core/config';
import { ConfigError, KeydriftError } from '../core/errors';
import { type Finding, SEVERITIES, type Severity } from '../core/types';
import { decodeText } from '../replay/parse-file';
import { replay } from '../replay/replay';
import { formatSummary, jsonLine, progressLine, tableLines, terminalColumns } from './format';
import { addOperatorCommands } from './operator';

/** Exit codes: 0 nothing at or above --fail-on, 1 something is, 2 usage error or nothing could be read (no CloudTrail log). */
export const EXIT = { ok: 0, findings: 1, usage: 2 } as const;

const DEFAULT_CONFIG_FILE = 'keydrift.config.json';

/**
 * keydrift's version, read from the package.json above this file at run time: from lambda/cli/ (tsx, Jest) or
 * from the bundle bin/keydrift.cjs runs, in node_modules/.cache/keydrift/ (not rebuilt when only the version changes).
 */
function packageVersion(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const { name, version } = JSON.parse(readFileSync(file, 'utf8'));
    if (name === 'keydrift') return version;
  }
  return 'unknown';
}

/** Collects --planned-principal values, each checked by the same rule as plannedPrincipals in a config file. */
function plannedPrincipal(value: string, previous: string[]): string[] {
  try {
    parseDetectionConfig({ plannedPrincipals: [value] });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new InvalidArgumentError('expected an IAM role or user ARN (arn:aws:iam::123456789012:role/Name)');
  }
  return [...previous, value];
}

/** Loads --config, or ./keydrift.config.json when present, and adds --planned-principal values. */
function loadConfig(file: string | undefined, planned: string[]): DetectionConfig {
  const path = file ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  let raw: unknown = {};
  if (path) {
    let text: string;
    try {
      // Read as the log files are: Windows tools write UTF-16, or a byte order mark first.
      text = decodeText(readFileSync(path));
    } catch (error) {
      throw new KeydriftError(`cannot read config file ${path}: ${(error as Error).message}`);
    }
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new KeydriftError(`config file ${path} is not valid JSON: ${(error as Error).message}`);
    }
    // As the stack's parser: a file holding `null` is a configuration gone wrong, not the defaults.
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new ConfigError(
        `config file ${path} is not valid:\n  (top level): must be an object, got ${JSON.stringify(raw)}`,
      );
    }
  }
  const base = path ? parseDetectionConfig(raw, `config file ${path}`) : DEFAULT_CONFIG;
  return { ...base, plannedPrincipals: [...base.plannedPrincipals, ...planned] };
}

/** After a usage error each command prints the error and where its help is, not the whole help. */
function hintHelpAfterError(command: Command, name: string): void {
  command.showHelpAfterError(`(run ${name} --help for usage)`);
  for (const sub of command.commands) hintHelpAfterError(sub, `${name} ${sub.name()}`);
}

interface ReplayFlags {
  format: 'table' | 'json';
  plannedPrincipal: string[];
  config?: string;
  minSeverity: Severity;
  failOn: Severity | 'never';
  progress: boolean;
}

/** Output of this many characters or more is written a piece at a time. */
const OUTPUT_CHUNK = 1 << 20;

/**
 * Standard output written about a mebibyte at a time. A month of grant churn is hundreds of megabytes of findings:
 * built as one string, it was held twice more (the string, then its bytes) beside the findings.
 */
function chunkedStdout(): { write: (text: string) => void; end: () => void } {
  let chunk: string[] = [];
  let length = 0;
  const flush = () => {
    if (chunk.length) process.stdout.write(chunk.join(''));
    chunk = [];
    length = 0;
  };
  return {
    write: (text) => {
      chunk.push(text);
      length += text.length;
      if (length >= OUTPUT_CHUNK) flush();
    },
    end: flush,
  };
}

async function runReplay(paths: string[], flags: ReplayFlags): Promise<number> {
  const config = loadConfig(flags.config, flags.plannedPrincipal);
  let progressShown = flags.progress && process.stderr.isTTY;
  const clearProgress = () => {
    if (progressShown) process.stderr.write('\r\u001b[K');
    progressShown = false;
  };
  const rank = (s: Severity) => SEVERITIES.indexOf(s);
  const out = chunkedStdout();
  // JSON Lines are written as the findings are judged, none held; the table waits for them all (its EVENT column is as
  // wide as the longest name shown).
  const table: Finding[] = [];
  let shown = 0;
  const { summary } = await replay(paths, {
    config,
    stdin: process.stdin,
    onProgress:
      progressShown && paths.length ? (done, total) => process.stderr.write(progressLine(done, total)) : undefined,
    onFinding: (finding) => {
      if (rank(finding.severity) < rank(flags.minSeverity)) return;
      shown++;
      if (flags.format === 'table') {
        table.push(finding);
      } else {
        clearProgress();
        out.write(jsonLine(finding));
      }
    },
  });
  clearProgress();
  if (flags.format === 'table') {
    const lines = tableLines(table, {
      color: !!process.stdout.isTTY && !process.env.NO_COLOR,
      columns: process.stdout.isTTY ? terminalColumns(process.stdout.columns) : undefined,
    });
    for (const line of lines) out.write(line);
  }
  out.end();
  process.stderr.write(formatSummary(summary, shown));
  // Inputs that are no CloudTrail log (`{}`, a digest folder alone) must not pass for "no drift" either; a log that
  // holds no records (a quiet hour) is a log read.
  if (summary.inputsRead === 0) {
    process.stderr.write('keydrift replay: nothing could be read (no input is a CloudTrail log)\n');
    return EXIT.usage;
  }
  // A mistyped path must not pass for "no drift" in an audit: the replay above is incomplete.
  const missing = summary.skipped.filter((s) => s.missing).length;
  if (missing) {
    process.stderr.write(`keydrift replay: ${missing} named path(s) do not exist; the replay above is incomplete\n`);
    return EXIT.usage;
  }
  if (flags.failOn === 'never') return EXIT.ok;
  const failOn = flags.failOn;
  return SEVERITIES.some((s) => rank(s) >= rank(failOn) && summary.findings[s] > 0) ? EXIT.findings : EXIT.ok;
}

export function buildProgram(): Command {
  const program = new Command('keydrift')
    .description('Detects drift in AWS KMS keys and the CloudTrail trails that depend on them.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .exitOverride();
  program
    .command('replay')
    .description('Replay CloudTrail logs offline (no AWS access) and report every KMS key and trail drift.')
    .argument(
      '<paths...>',
      'CloudTrail log files (.json, .json.gz, JSON Lines), folders of them, or - for standard input',
    )
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .option(
      '--planned-principal <arn>',
      'an IAM role or user ARN whose changes are planned (repeatable)',
      plannedPrincipal,
      [] as string[],
    )
    .option('--config <file>', `configuration file (default: ./${DEFAULT_CONFIG_FILE} when present)`)
    .addOption(
      new Option('--min-severity <level>', 'show findings at or above this severity')
        .choices(SEVERITIES)
        .default('info'),
    )
    .addOption(
      new Option('--fail-on <level>', 'exit 1 when a finding is at or above this severity')
        .choices([...SEVERITIES, 'never'])
        .default('error'),
    )
    .option('--no-progress', 'no progress bar on a terminal')
    .addHelpText(
      'after',
      `
Examples:
  keydrift replay examples/cloudtrail
  keydrift replay --format json s3-export/AWSLogs/ | jq 'select(.severity == "critical")'
  zcat trail.json.gz | keydrift replay - --planned-principal arn:aws:iam::111122223333:role/deployer
  keydrift replay logs/ --min-severity error --fail-on critical

Exit status: 0 no finding at or above --fail-on, 1 at least one, 2 usage error, a named path that does not exist, or nothing readable.`,
    )
    .action(async (paths: string[], flags: ReplayFlags) => {
      process.exitCode = await runReplay(paths, flags);
    });
  addOperatorCommands(program);
  hintHelpAfterError(program, program.name());
  return program;
}

export async function main(argv: string[]): Promise<number> {
  // A reader that stops early (`| head`) closes the pipe: the rest of the output is dropped quietly, and the exit
  // status stays the one the command gives (a script reading a replay still learns of drift), not a stack trace. So
  // for every command's output, the help and the version as well.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
  try {
    await buildProgram().parseAsync(argv);
    return Number(process.exitCode ?? EXIT.ok);
  } catch (error) {
    const { code, exitCode } = error as { code?: string; exitCode?: number };
    // Help asked for (`--help`) exits 0; help shown because no command was given is a usage error.
    if (code?.startsWith('commander.')) return exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (error instanceof KeydriftError) {
      process.stderr.write(`keydrift: ${error.message}\n`);
      return EXIT.usage;
    }
    throw error;
  }
}
