/**
 * Whoever can call KMS writes part of the log: key descriptions, tag values, alias names, even event names
 * of calls keydrift does not know. None of it may reach the terminal raw (escape sequences that repaint
 * the screen, retitle the window, or newlines that forge extra table rows), while the JSON output keeps
 * every value exactly.
 */
import * as path from 'node:path';
import { formatJsonLines, formatSummary, formatTable } from '../../lambda/cli/format';
import type { Finding } from '../../lambda/core/types';
import { parseFindings, type Run, runKeydrift, tempDir, writeFile } from '../helpers/keydrift';

const ACCOUNT = '111122223333';
const KEY_ID = '5e0c7a1d-2b3f-4c8e-9a6d-7f1e2d3c4b5a';
const KEY = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/${KEY_ID}`;

/** Clears the screen, forges a green all-clear, and starts a fake table row on a new line. */
const FORGED_ROW = '2026-10-03T12:00:00Z  INFO      planned   Nothing to see';
const HOSTILE_TAG = `\u001b[2J\u001b[H\u001b[32mall clear\u001b[0m\n${FORGED_ROW}\r\u0007`;
/** Sets the window title and hides a hyperlink (OSC), plus an 8-bit CSI (C1) colour. */
const HOSTILE_DESCRIPTION = `\u001b]0;owned\u0007\u001b]8;;https://evil.example\u0007payments\u001b]8;;\u0007\u009b31m\n${FORGED_ROW}`;

/** Control characters other than the newline that ends each line. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

function record(eventName: string, second: number, requestParameters: Record<string, unknown>) {
  return {
    eventVersion: '1.09',
    userIdentity: {
      type: 'IAMUser',
      principalId: 'AIDAEXAMPLEMALLORY',
      arn: `arn:aws:iam::${ACCOUNT}:user/mallory`,
      accountId: ACCOUNT,
      userName: 'mallory',
    },
    eventTime: `2026-10-03T12:00:${String(second).padStart(2, '0')}Z`,
    eventSource: 'kms.amazonaws.com',
    eventName,
    awsRegion: 'eu-west-1',
    sourceIPAddress: '203.0.113.66',
    userAgent: 'aws-cli/2.17.0',
    requestParameters,
    responseElements: null,
    requestID: `00000000-0000-4000-8000-0000000000${String(second).padStart(2, '0')}`,
    eventID: `11111111-0000-4000-8000-0000000000${String(second).padStart(2, '0')}`,
    readOnly: false,
    resources: [{ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: KEY }],
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: ACCOUNT,
  };
}

const RECORDS = [
  {
    ...record('CreateKey', 1, {
      description: HOSTILE_DESCRIPTION,
      keyUsage: 'ENCRYPT_DECRYPT',
      tags: [{ tagKey: 'owner', tagValue: HOSTILE_TAG }],
    }),
    responseElements: {
      keyMetadata: { keyId: KEY_ID, arn: KEY, description: HOSTILE_DESCRIPTION, keyState: 'Enabled' },
    },
  },
  record('TagResource', 2, { keyId: KEY_ID, tags: [{ tagKey: 'owner', tagValue: `${HOSTILE_TAG} again` }] }),
  record('UpdateKeyDescription', 3, { keyId: KEY_ID, description: 'plain' }),
  record('CreateAlias', 4, { aliasName: 'alias/\u001b[31mred\nalias', targetKeyId: KEY_ID }),
  // A write keydrift does not know yet is still reported, under the record's own event name.
  record('PutKeyFeature\u001b[2J\u001b[1;1H', 5, { keyId: KEY_ID }),
];

let dir: string;
let table: Run;
let json: Run;

beforeAll(() => {
  dir = tempDir();
  const log = writeFile(path.join(dir, 'hostile.json'), { Records: RECORDS });
  // V8 quotes the start of a file it cannot parse in its error message: that reaches the summary.
  const broken = writeFile(path.join(dir, 'broken.json'), `\u001b[2J\u001b]0;owned\u0007 not json`);
  table = runKeydrift(['replay', '--fail-on', 'never', log, broken], { cwd: dir });
  json = runKeydrift(['replay', '--fail-on', 'never', '--format', 'json', log], { cwd: dir });
});

test('the table carries no escape or control character from the records, and no forged rows', () => {
  expect(table.status).toBe(0);
  expect(table.stdout).not.toMatch(CONTROL);
  const lines = table.stdout.trimEnd().split('\n');
  // Every line is the header, a finding's row, a remediation line or an indented rest of a wrapped summary (under
  // SUMMARY, after an EVENT column as wide as the longest event name, 23 characters): embedded newlines made none,
  // and nothing from a record starts a line where rows start.
  expect(lines[0]).toMatch(/^TIME +SEVERITY/);
  expect(lines[0].indexOf('SUMMARY')).toBe(67);
  for (const line of lines.slice(1)) expect(line).toMatch(/^(2026-10-03T12:00:0[1-5]Z {2}| {22}↳ | {67}\S)/);
  expect(lines.filter((line) => line.startsWith('2026-10-03T'))).toHaveLength(RECORDS.length);
  expect(lines.filter((line) => line.startsWith(FORGED_ROW))).toEqual([]);
});

test('the hostile text is shown defanged rather than dropped', () => {
  const tagRow = table.stdout.split('\n').find((line) => line.includes('TagResource'))!;
  expect(tagRow).toContain('all clear');
  expect(table.stdout).toMatch(
    / {2}PutKeyFeature \[2J \[1;1H {2}PutKeyFeature \[2J \[1;1H on alias\/ \[31mred alias by/,
  );
  // Undoing the description change restores the hostile original: defanged, it is no longer the command, so a comment.
  expect(table.stdout).toMatch(
    /↳ # control characters removed, check before running: aws kms update-key-description .*--description '.*payments.*Nothing to see'/,
  );
});

test('the summary on standard error carries no control character either', () => {
  expect(table.stderr).toContain('skipped ');
  expect(table.stderr).toContain('broken.json: not valid JSON or JSON Lines');
  expect(table.stderr).not.toMatch(CONTROL);
});

test('a bad record is reported naming the invisible character it holds, never as a space JSON allows', () => {
  // A line of a byte order mark alone (files joined by `cat`, one of them empty) is a bad record, V8 naming the mark as
  // its unexpected token: shown as a space, the message blamed a space, which JSON allows, on a line that looks blank.
  const bomLine = writeFile(path.join(tempDir(), 'joined.jsonl'), `${JSON.stringify(RECORDS[2])}\n\uFEFF\n`);
  const run = runKeydrift(['replay', '--fail-on', 'never', bomLine], { cwd: dir });
  const bad = run.stderr.split('\n').find((line) => line.startsWith('bad record '));
  expect(bad).toMatch(/joined\.jsonl: line 2: not valid JSON \(.*\\ufeff/);
  expect(bad).not.toMatch(/' '/);
  expect(run.stderr).not.toMatch(/[\uFEFF\u200B-\u200F\u202A-\u202E]/);
});

test('the JSON output keeps every value exactly, escaped as JSON', () => {
  expect(json.stdout).not.toMatch(CONTROL);
  const findings = parseFindings(json.stdout);
  expect(findings.map((f) => f.event)).toEqual([
    'CreateKey',
    'TagResource',
    'UpdateKeyDescription',
    'CreateAlias',
    'PutKeyFeature\u001b[2J\u001b[1;1H',
  ]);
  expect(findings[0].changes.description.after).toBe(HOSTILE_DESCRIPTION);
  expect(findings[1].changes.tags.after).toEqual({ owner: `${HOSTILE_TAG} again` });
  expect(findings[3].resource).toBe(`arn:aws:kms:eu-west-1:${ACCOUNT}:alias/\u001b[31mred\nalias`);
});

test('formatTable in colour adds only its own styles; record text stays defanged', () => {
  const findings: Finding[] = parseFindings(json.stdout);
  // (styleText itself leaves colour out when standard output is no terminal, as under jest.)
  const coloured = formatTable(findings, { color: true, columns: 300 });
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removes the SGR sequences formatTable writes.
  const withoutOwnStyles = coloured.replace(/\u001b\[\d+(;\d+)*m/g, '');
  expect(withoutOwnStyles).not.toMatch(CONTROL);
  const summary = formatSummary(
    {
      inputs: 1,
      inputsRead: 0,
      bytes: 0,
      records: 0,
      writes: 0,
      reads: 0,
      others: 0,
      duplicates: 0,
      otherAccounts: 0,
      ignored: 0,
      findings: { critical: 0, error: 0, warning: 0, info: 0 },
      skipped: [{ source: 'logs/\u001b[2Jx.json', reason: 'not valid JSON (\u001b]0;t\u0007)' }],
      recordErrors: ['logs/a.json: line 1: \u009b31m'],
    },
    0,
  );
  expect(summary).not.toMatch(CONTROL);
});

test('--format json keeps each finding on one line for every reader: line and paragraph separators are escaped', () => {
  // Python's str.splitlines() (subprocess output, say) also ends a line at U+2028 and U+2029, which JSON.stringify leaves raw.
  const [finding] = parseFindings(json.stdout);
  const tagged = { ...finding, summary: 'Tags changed: note=a\u2028b\u2029c' };
  const output = formatJsonLines([tagged, finding]);
  expect(output).not.toMatch(/[\u2028\u2029]/);
  const lines = output.split(/\r\n|[\n\r\u2028\u2029\u0085]/).filter((line) => line !== '');
  expect(lines.map((line) => JSON.parse(line))).toEqual([tagged, finding]);
});
