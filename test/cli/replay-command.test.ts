/**
 * `keydrift replay` as a user runs it: the real binary (node bin/keydrift.cjs) in a temporary working
 * folder, so no keydrift.config.json is picked up unless a test puts one there. Each run costs a Node
 * start, so each test groups the assertions one run allows.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Finding, SEVERITIES, STATUSES } from '../../lambda/core/types';
import {
  BIN,
  countBySeverity,
  EXAMPLES,
  parseFindings,
  type Run,
  runKeydrift,
  sample,
  samplePath,
  summaryCounts,
  tempDir,
  writeFile,
} from '../helpers/keydrift';

const DEPLOYER = 'arn:aws:iam::111122223333:role/platform-deployer';
const PAYMENTS_KEY = 'arn:aws:kms:eu-west-1:111122223333:key/0f4a6c1e-93b7-4d25-8e1a-6c2f0b7d4a91';
/** The pipeline's work in examples/cloudtrail (09:01–09:07), in time order. */
const PIPELINE_EVENTS = [
  'CreateKey',
  'CreateAlias',
  'EnableKeyRotation',
  'CreateKey',
  'CreateAlias',
  'EnableKeyRotation',
  'CreateTrail',
  'StartLogging',
];
/** Planned by approval, not the routine grant RDS makes at 11:42 (planned whoever is configured). */
const approved = (findings: Finding[]) =>
  findings.filter((f) => f.status === 'planned' && !f.reasons?.some((r) => r.startsWith('ServiceGrantsAreRoutine')));

let cwd: string;
let json: Run;

beforeAll(() => {
  cwd = tempDir();
  json = runKeydrift(['replay', '--format', 'json', EXAMPLES], { cwd });
});

describe('--format json', () => {
  test('prints JSON Lines, each line a finding with the fields DESIGN.md names', () => {
    const lines = json.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(16);
    for (const line of lines) {
      const finding = JSON.parse(line);
      expect(finding).toEqual(
        expect.objectContaining({
          service: expect.stringMatching(/^(kms|cloudtrail)$/),
          event: expect.any(String),
          eventId: expect.any(String),
          timestamp: expect.stringMatching(/^2026-10-03T\d\d:\d\d:\d\dZ$/),
          account: '111122223333',
          region: 'eu-west-1',
          resource: expect.stringMatching(/^arn:aws:(kms|cloudtrail):eu-west-1:111122223333:(key|alias|trail)\//),
          user: expect.stringMatching(/^arn:aws:(iam|sts)::111122223333:/),
          severity: expect.stringMatching(new RegExp(`^(${SEVERITIES.join('|')})$`)),
          status: expect.stringMatching(new RegExp(`^(${STATUSES.join('|')})$`)),
          changes: expect.any(Object),
          summary: expect.any(String),
        }),
      );
      expect(finding.summary).not.toBe('');
    }
    expect(new Set(parseFindings(json.stdout).map((f) => f.eventId)).size).toBe(16);
  });

  test('writes the summary to standard error: inputs, records, writes, findings by severity, duplicates', () => {
    expect(json.stderr).toContain(
      'keydrift replay: 6 input(s), 57 records (16 KMS/trail writes, 35 KMS/trail reads, 6 other services)',
    );
    expect(summaryCounts(json.stderr)).toEqual(countBySeverity(parseFindings(json.stdout)));
    expect(json.stderr).toContain('1 duplicate record(s) counted once');
    expect(json.stderr).not.toContain('{');
  });

  test('without a planned principal the pipeline is unplanned: its CreateKeys are warning drift', () => {
    const findings = parseFindings(json.stdout);
    expect(findings.slice(0, 8).map((f) => f.event)).toEqual(PIPELINE_EVENTS);
    expect(approved(findings)).toEqual([]);
    expect(findings.filter((f) => f.event === 'CreateKey').map((f) => [f.severity, f.status])).toEqual([
      ['warning', 'drift'],
      ['warning', 'drift'],
    ]);
    // Rotation was off at creation, so carol turning it off brings the key back to that baseline.
    expect(findings.find((f) => f.event === 'DisableKeyRotation')).toMatchObject({
      status: 'resolved',
      severity: 'info',
    });
  });
});

describe('the table (default output)', () => {
  let table: Run;
  beforeAll(() => {
    table = runKeydrift(['replay', EXAMPLES], { cwd });
  });

  test('shows every finding with its time, severity, status, event and summary, without ANSI escapes', () => {
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TIME +SEVERITY +STATUS +EVENT +SUMMARY$/);
    const rows = lines.filter((line) => /^2026-10-03T/.test(line));
    const findings = parseFindings(json.stdout);
    expect(rows).toHaveLength(findings.length);
    findings.forEach((f, i) => {
      expect(rows[i]).toMatch(new RegExp(`^${f.timestamp} +${f.severity.toUpperCase()} +${f.status} +${f.event} +`));
      // Long summaries are cut to the line width with an ellipsis.
      expect(rows[i]).toContain(f.summary.slice(0, 80));
    });
    for (const severity of ['CRITICAL', 'WARNING', 'INFO']) expect(table.stdout).toContain(severity);
    expect(table.stdout).toContain('Key policy of alias/payments opened to account 444455556666 by carol@example.com');
    expect(table.stdout).not.toContain('\u001b');
    expect(table.stderr).toBe(json.stderr);
  });

  test('follows a drift with every command that undoes it, in order, each on its own line', () => {
    // Cancelling the deletion leaves the key Disabled: enabling it is part of the undo.
    expect(table.stdout).toMatch(
      new RegExp(
        `ScheduleKeyDeletion .*\n +↳ aws kms cancel-key-deletion --key-id ${PAYMENTS_KEY} --region eu-west-1\n` +
          ` +↳ aws kms enable-key --key-id ${PAYMENTS_KEY} --region eu-west-1\n`,
      ),
    );
  });

  test('shows event names longer than 22 characters whole when standard output is no terminal', () => {
    const names = ['KMSImportedKeyMaterialExpiration__awskmsdg__1', 'DeleteImportedKeyMaterial__awskmsdg-current__1'];
    const run = runKeydrift(['replay', '--fail-on', 'never', ...names.map(samplePath)], { cwd });
    expect(run.status).toBe(0);
    const rows = run.stdout.split('\n').filter((line) => /^\d{4}-/.test(line));
    expect(rows).toEqual([
      expect.stringMatching(/ {2}KMS Imported Key Material Expiration {2}Imported key material of /),
      expect.stringMatching(/ {2}DeleteImportedKeyMaterial {13}Imported key material of /),
    ]);
    expect(run.stdout.split('\n')[0]).toMatch(/ {2}EVENT {33}SUMMARY$/);
  });

  test('follows an info drift too: the key CancelKeyDeletion left Disabled gets its enable-key', () => {
    expect(table.stdout).toMatch(
      new RegExp(
        `CancelKeyDeletion .*left Disabled\n +↳ aws kms enable-key --key-id ${PAYMENTS_KEY} --region eu-west-1\n`,
      ),
    );
  });
});

describe('exit codes', () => {
  let onlyErrors: string;
  beforeAll(() => {
    // DisableKeyRotation and UpdateAlias: two error findings, nothing critical.
    onlyErrors = writeFile(path.join(cwd, 'only-errors.json'), {
      Records: [sample('DisableKeyRotation__awskmsdg__1'), sample('UpdateAlias__awskmsdg__1')],
    });
  });

  test('1 when a finding reaches --fail-on (default error); 0 with --fail-on never', () => {
    expect(json.status).toBe(1);
    const never = runKeydrift(['replay', '--fail-on', 'never', '--format', 'json', EXAMPLES], { cwd });
    expect(never.status).toBe(0);
    expect(never.stdout).toBe(json.stdout);
  });

  test('errors only: 1 by default, 0 with --fail-on critical', () => {
    const byDefault = runKeydrift(['replay', '--format', 'json', onlyErrors], { cwd });
    expect(parseFindings(byDefault.stdout).map((f) => f.severity)).toEqual(['error', 'error']);
    expect(byDefault.status).toBe(1);
    const critical = runKeydrift(['replay', '--fail-on', 'critical', onlyErrors], { cwd });
    expect(critical.status).toBe(0);
    expect(critical.stdout).toContain('ERROR');
  });

  test('2 for an unknown option, naming it', () => {
    const run = runKeydrift(['replay', '--colour', onlyErrors], { cwd });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("unknown option '--colour'");
    expect(run.stdout).toBe('');
  });

  test('2 for a bad --min-severity, listing the levels as --fail-on does', () => {
    const run = runKeydrift(['replay', '--min-severity', 'loud', onlyErrors], { cwd });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(
      "option '--min-severity <level>' argument 'loud' is invalid. Allowed choices are info, warning, error, critical.",
    );
  });

  test('2 when no command is given (help on standard error), 0 for --help', () => {
    const bare = runKeydrift([], { cwd });
    expect(bare.status).toBe(2);
    expect(bare.stderr).toContain('Usage: keydrift');
    const help = runKeydrift(['replay', '--help'], { cwd });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Exit status: 0 no finding at or above --fail-on, 1 at least one, 2 usage error');
    expect(help.stdout).toMatch(/--min-severity <level> +show findings at or above this severity \(choices:\s+"info",/);
  });

  test('2 when nothing could be read (a missing path), saying why', () => {
    const missing = path.join(cwd, 'no-such-logs');
    const run = runKeydrift(['replay', missing], { cwd });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`skipped ${missing}: no such file or folder`);
    expect(run.stderr).toContain('keydrift replay: nothing could be read');
  });

  test('2 when a folder named holds no log file: it is named, and nothing could be read', () => {
    const empty = tempDir();
    const run = runKeydrift(['replay', empty], { cwd });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`skipped ${empty}: no .json, .jsonl or .ndjson files (gzipped or not) in it\n`);
    expect(run.stderr).toContain('keydrift replay: nothing could be read');
  });

  test('a folder with no log file next to readable files is named, and leaves the status to the findings', () => {
    const empty = tempDir();
    const run = runKeydrift(['replay', '--fail-on', 'critical', empty, onlyErrors], { cwd });
    expect(run.status).toBe(0);
    expect(run.stderr).toContain(`skipped ${empty}: no .json, .jsonl or .ndjson files (gzipped or not) in it\n`);
    expect(run.stderr).not.toContain('nothing could be read');
  });

  test('2 for a missing path next to readable files: their findings are printed, the run is called incomplete', () => {
    const missing = path.join(cwd, 'no-such-file.json');
    const run = runKeydrift(['replay', '--format', 'json', '--fail-on', 'critical', missing, onlyErrors], { cwd });
    expect(run.status).toBe(2);
    expect(parseFindings(run.stdout).length).toBeGreaterThan(0);
    expect(run.stderr).toContain(`skipped ${missing}: no such file or folder`);
    expect(run.stderr).toContain('1 named path(s) do not exist; the replay above is incomplete');
    expect(run.stderr).not.toContain('nothing could be read');
  });
});

describe('standard output closed early (`| head -1`)', () => {
  test('the replay ends quietly, with no stack trace, and exits with the status its findings give', async () => {
    // Prepare: 3000 DisableKey calls (each its own eventID), far more table than a pipe holds.
    const record = sample('DisableKey__awskmsdg__1');
    const file = writeFile(path.join(cwd, 'many.json'), {
      Records: Array.from({ length: 3000 }, (_, i) => ({ ...record, eventID: `disable-${i}` })),
    });
    // Act: take the first chunk of output, then close the pipe, as head does.
    const child = spawn(process.execPath, [BIN, 'replay', file], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.stdout.once('data', () => child.stdout.destroy());
    const status = await new Promise((resolve) => child.on('close', resolve));
    // Assess
    expect(stderr).not.toContain('EPIPE');
    expect(stderr).toContain('findings: 3000 critical');
    expect(status).toBe(1);
  });
});

describe('a run ended by a signal while standard input is held in a temporary file', () => {
  /** `keydrift replay -` with its temporary folder in a test folder, given `input` (and its end, when `end`). */
  function replayStandardInput(input: Buffer, end: boolean) {
    const tmp = tempDir();
    const child = spawn(process.execPath, [BIN, 'replay', '-'], {
      cwd,
      env: { ...process.env, TMPDIR: tmp },
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    const ended = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_, by) => resolve(by)));
    child.stdin.on('error', () => {});
    if (end) child.stdin.end(input);
    else child.stdin.write(input);
    const copies = () => fs.readdirSync(tmp).filter((name) => name.startsWith('keydrift-stdin-'));
    /** Waits until a copy holds at least `bytes`. */
    const copied = async (bytes: number) => {
      const size = (dir: string) => fs.statSync(path.join(tmp, dir, 'stdin'), { throwIfNoEntry: false })?.size ?? -1;
      while (!copies().some((dir) => size(dir) >= bytes)) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    return { child, ended, copies, copied };
  }

  test.each([['SIGINT'], ['SIGTERM']] as const)(
    '%s while it is copied removes the copy and ends the run as the signal does',
    async (signal) => {
      // Prepare: 8 MiB that starts as gzip does is copied to the temporary folder; the pipe stays open after it.
      const gzipStart = Buffer.alloc(8 * 1024 * 1024);
      gzipStart.set([0x1f, 0x8b]);
      const run = replayStandardInput(gzipStart, false);
      await run.copied(0);
      // Act
      run.child.kill(signal);
      // Assess
      expect(await run.ended).toBe(signal);
      expect(run.copies()).toEqual([]);
    },
  );

  test('SIGTERM while the whole copy is read at once (an indented log) is not lost once the read is done', async () => {
    // Prepare: an indented log of 70 MiB (mostly indentation), read whole in one synchronous stretch.
    const record = JSON.stringify(sample('DisableKey__awskmsdg__1'));
    const padding = `${' '.repeat(1023)}\n`.repeat(70 * 1024);
    const log = Buffer.from(`{\n  "Records": [\n${record}\n${padding}]}\n`);
    const run = replayStandardInput(log, true);
    await run.copied(log.length);
    // Act: as soon as the copy is complete, while it is read (an earlier signal is handled as the copy is written).
    // No wait: the read takes about 100 ms on a quiet machine, and the run must not have ended before the signal.
    expect(run.child.exitCode).toBeNull();
    run.child.kill('SIGTERM');
    // Assess
    expect(await run.ended).toBe('SIGTERM');
    expect(run.copies()).toEqual([]);
  });
});

test('--min-severity shows only findings at or above it; --fail-on still sees them all', () => {
  const run = runKeydrift(['replay', '--format', 'json', '--min-severity', 'warning', '--fail-on', 'info', EXAMPLES], {
    cwd,
  });
  const all = parseFindings(json.stdout);
  const shown = parseFindings(run.stdout);
  expect(shown).toEqual(all.filter((f) => f.severity !== 'info'));
  expect(shown.length).toBeLessThan(all.length);
  expect(run.stderr).toContain(`(${shown.length} shown)`);
  expect(run.status).toBe(1);
});

test("--planned-principal turns the example pipeline's changes into planned (info), and only those", () => {
  const run = runKeydrift(['replay', '--format', 'json', '--planned-principal', DEPLOYER, EXAMPLES], { cwd });
  const findings = parseFindings(run.stdout);
  const planned = approved(findings);
  expect(planned.map((f) => f.event)).toEqual(PIPELINE_EVENTS);
  expect(planned.every((f) => f.severity === 'info' && f.user.includes('assumed-role/platform-deployer/'))).toBe(true);
  expect(findings.filter((f) => !planned.includes(f)).every((f) => !f.user.includes('platform-deployer'))).toBe(true);
  // With rotation approved by the pipeline, carol turning it off is drift again.
  expect(findings.find((f) => f.event === 'DisableKeyRotation')).toMatchObject({ status: 'drift', severity: 'error' });
});

describe('configuration', () => {
  test('--config FILE applies severityOverrides (by event and by status) and ignore rules', () => {
    const config = writeFile(path.join(cwd, 'team.json'), {
      plannedPrincipals: [DEPLOYER],
      severityOverrides: { TagResource: 'error', denied: 'critical' },
      ignore: [{ event: 'CreateGrant', resource: `${PAYMENTS_KEY.slice(0, -20)}*`, reason: 'RDS grants are routine' }],
    });
    const run = runKeydrift(['replay', '--format', 'json', '--config', config, EXAMPLES], { cwd });
    const findings = parseFindings(run.stdout);
    expect(findings).toHaveLength(15);
    expect(findings.find((f) => f.event === 'CreateGrant')).toBeUndefined();
    expect(findings.find((f) => f.event === 'TagResource')).toMatchObject({ severity: 'error', status: 'drift' });
    expect(findings.find((f) => f.status === 'denied')).toMatchObject({ event: 'PutKeyPolicy', severity: 'critical' });
    expect(findings.filter((f) => f.status === 'planned')).toHaveLength(8);
    expect(run.stderr).toContain('1 ignored by configuration');
  });

  test('a wrong config is a clear error: exit 2, the message names the file and each wrong field', () => {
    const config = writeFile(path.join(cwd, 'wrong.json'), {
      plannedPrincipals: ['platform-deployer'],
      severityOverrides: { PutKeyPolicy: 'urgent' },
      ignore: [{ reason: 'matches nothing' }],
    });
    const run = runKeydrift(['replay', '--config', config, EXAMPLES], { cwd });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`keydrift: config file ${config} is not valid:`);
    expect(run.stderr).toMatch(/plannedPrincipals\[0\]: must be an IAM role or user ARN/);
    expect(run.stderr).toMatch(/severityOverrides\.PutKeyPolicy: .*"critical"/);
    expect(run.stderr).toMatch(/ignore\[0\]: an ignore rule needs event, resource or user/);
  });

  test('a config that is not JSON, or is missing, is a clear error naming the file', () => {
    const broken = writeFile(path.join(cwd, 'broken.json'), '{ "plannedPrincipals": [ }');
    const notJson = runKeydrift(['replay', '--config', broken, EXAMPLES], { cwd });
    expect(notJson.status).toBe(2);
    expect(notJson.stderr).toContain(`keydrift: config file ${broken} is not valid JSON`);
    const absent = path.join(cwd, 'absent.json');
    const missing = runKeydrift(['replay', '--config', absent, EXAMPLES], { cwd });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(`keydrift: cannot read config file ${absent}`);
  });

  test.each(['null', '[]', '"x"'])(
    'a keydrift.config.json holding %s, no object, is an error naming the file, as the stack says (exit 2)',
    (content) => {
      const project = tempDir();
      writeFile(path.join(project, 'keydrift.config.json'), `${content}\n`);
      const run = runKeydrift(['replay', EXAMPLES], { cwd: project });
      expect(run.status).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe(
        `keydrift: config file keydrift.config.json is not valid:\n  (top level): must be an object, got ${content}\n`,
      );
    },
  );

  test('./keydrift.config.json in the working folder is picked up by default', () => {
    const project = tempDir();
    writeFile(path.join(project, 'keydrift.config.json'), {
      plannedPrincipals: [DEPLOYER],
      severityOverrides: { denied: 'error' },
    });
    const run = runKeydrift(['replay', '--format', 'json', EXAMPLES], { cwd: project });
    const findings = parseFindings(run.stdout);
    expect(approved(findings).map((f) => f.event)).toEqual(PIPELINE_EVENTS);
    expect(findings.find((f) => f.status === 'denied')).toMatchObject({ severity: 'error' });
  });

  test('a config file that starts with a byte order mark (Notepad, PowerShell 5) is read as the log files are', () => {
    const project = tempDir();
    writeFile(
      path.join(project, 'keydrift.config.json'),
      `\uFEFF${JSON.stringify({ plannedPrincipals: [DEPLOYER] }, null, 2)}\r\n`,
    );
    const run = runKeydrift(['replay', '--format', 'json', EXAMPLES], { cwd: project });
    expect(run.stderr).not.toContain('not valid JSON');
    expect(approved(parseFindings(run.stdout)).map((f) => f.event)).toEqual(PIPELINE_EVENTS);
  });

  test('a config file PowerShell 5 wrote with `>` (UTF-16 with a byte order mark) is read as such log files are', () => {
    // `'{...}' > keydrift.config.json` in Windows PowerShell 5 writes UTF-16LE: read as UTF-8, its two mark bytes and
    // the NULs between characters stopped the replay with "not valid JSON: Unexpected token '\uFFFD'".
    const project = tempDir();
    const config = `\uFEFF${JSON.stringify({ plannedPrincipals: [DEPLOYER] }, null, 2)}\r\n`;
    writeFile(path.join(project, 'keydrift.config.json'), Buffer.from(config, 'utf16le'));
    const run = runKeydrift(['replay', '--format', 'json', EXAMPLES], { cwd: project });
    expect(run.stderr).not.toContain('not valid JSON');
    expect(approved(parseFindings(run.stdout)).map((f) => f.event)).toEqual(PIPELINE_EVENTS);
  });

  test('--planned-principal adds to the planned principals of the config file', () => {
    const project = tempDir();
    writeFile(path.join(project, 'keydrift.config.json'), {
      plannedPrincipals: ['arn:aws:iam::111122223333:role/someone-else'],
    });
    const run = runKeydrift(['replay', '--format', 'json', '--planned-principal', DEPLOYER, EXAMPLES], {
      cwd: project,
    });
    const planned = approved(parseFindings(run.stdout));
    expect(planned.map((f) => f.event)).toEqual(PIPELINE_EVENTS);
  });

  test('a --planned-principal that is no ARN is a usage error naming the flag and the value, not the config file', () => {
    const project = tempDir();
    writeFile(path.join(project, 'keydrift.config.json'), { plannedPrincipals: [DEPLOYER] });
    const run = runKeydrift(
      ['replay', '--format', 'json', '--planned-principal', 'notanarn', samplePath('DisableKey__awskmsdg__1')],
      { cwd: project },
    );
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      "error: option '--planned-principal <arn>' argument 'notanarn' is invalid. expected an IAM role or user ARN " +
        '(arn:aws:iam::123456789012:role/Name)\n(run keydrift replay --help for usage)\n',
    );
  });
});

test('--planned-principal takes the deletion KMS carries out on the date a planned principal scheduled as planned', () => {
  // Prepare: Alice schedules the deletion (for 2021-04-12T18:58:30Z); KMS deletes the key 43 minutes after that date.
  const logs = tempDir();
  const deleteKey = { ...sample('DeleteKey__awskmsdg__1'), eventTime: '2021-04-12T19:42:07Z' };
  const cmkDeletion = { ...sample('KMSCMKDeletion__awskmsdg__1'), time: '2021-04-12T19:42:08Z' };
  writeFile(path.join(logs, 'trail.json'), { Records: [sample('ScheduleKeyDeletion__awskmsdg__1'), deleteKey] });
  writeFile(path.join(logs, 'native.json'), cmkDeletion);
  const alice = 'arn:aws:iam::111122223333:user/Alice';

  // Act
  const planned = runKeydrift(['replay', '--format', 'json', '--planned-principal', alice, logs], { cwd });
  const unplanned = runKeydrift(['replay', '--format', 'json', logs], { cwd });

  // Assess: approved, no alert and exit 0; scheduled by anyone else, the deletion is critical drift as before.
  const deletions = (run: Run) =>
    parseFindings(run.stdout)
      .filter((f) => f.event !== 'ScheduleKeyDeletion')
      .map((f) => [f.event, f.status, f.severity]);
  expect(deletions(planned)).toEqual([
    ['DeleteKey', 'planned', 'info'],
    ['KMS CMK Deletion', 'resolved', 'info'],
  ]);
  expect(parseFindings(planned.stdout)[1].summary).toBe(
    'Key 1234abcd-12ab-34cd-56ef-1234567890ab deleted by KMS as approved: its deletion was scheduled for 2021-04-12T18:58:30Z',
  );
  expect(planned.status).toBe(0);
  expect(deletions(unplanned)).toEqual([
    ['DeleteKey', 'drift', 'critical'],
    ['KMS CMK Deletion', 'drift', 'critical'],
  ]);
  expect(unplanned.status).toBe(1);
});
