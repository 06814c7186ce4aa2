/**
 * The replay's table on a terminal: every summary says what changed and who did it, so it is wrapped to the
 * terminal's width, never cut.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatTable, terminalColumns, wrap } from '../../lambda/cli/format';
import type { Finding } from '../../lambda/core/types';
import { EXAMPLES, type Json, replayInProcess, tempDir, writeFile } from '../helpers/keydrift';

const criticalExampleFindings = async () =>
  (await replayInProcess([EXAMPLES])).findings.filter((f) => f.severity === 'critical');

const REMEDIATION_INDENT = ' '.repeat(22);
/** The `↳` lines of a table, without their indent. */
const remediationLines = (table: string): string[] =>
  table
    .split('\n')
    .filter((line) => line.trimStart().startsWith('↳ '))
    .map((line) => line.slice(REMEDIATION_INDENT.length));

/** Every record of the example story, by event name (the first of each). */
function exampleRecord(eventName: string): Json {
  const files = (dir: string): string[] =>
    fs
      .readdirSync(dir, { withFileTypes: true })
      .flatMap((entry) => (entry.isDirectory() ? files(path.join(dir, entry.name)) : [path.join(dir, entry.name)]));
  for (const file of files(EXAMPLES)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const records = JSON.parse(fs.readFileSync(file, 'utf8')).Records as Json[];
    const found = records.find((r) => r.eventName === eventName);
    if (found) return structuredClone(found);
  }
  throw new Error(`no ${eventName} in the examples`);
}

/** A finding of the example story with only the event name changed (the table shows it as it comes). */
async function findingNamed(event: string): Promise<Finding> {
  const [first] = await criticalExampleFindings();
  return { ...structuredClone(first), event };
}

describe('formatTable on a terminal', () => {
  it.each([80, 120])('keeps every word of each summary within %i columns', async (columns) => {
    const findings = await criticalExampleFindings();
    const table = formatTable(findings, { color: false, columns });
    const words = table.split(/\s+/);
    for (const finding of findings) {
      for (const word of finding.summary.split(' ')) expect(words).toContain(word);
    }
    const rows = table.split('\n').filter((line) => !line.trimStart().startsWith('↳'));
    expect(rows.filter((line) => line.length > columns)).toEqual([]);
  });

  it.each([0, 1, 20])(
    'lays the table out in 80 columns when the terminal reports %i (as a pty under script)',
    async (columns) => {
      const findings = await criticalExampleFindings();
      expect(formatTable(findings, { color: false, columns })).toBe(
        formatTable(findings, { color: false, columns: 80 }),
      );
    },
  );

  it('writes the summary beside the fixed columns when there is room for it', async () => {
    const [policy] = await criticalExampleFindings();
    const [row] = formatTable([policy], { color: false, columns: 200 }).split('\n').slice(1);
    expect(row.endsWith(policy.summary)).toBe(true);
  });
});

describe('terminalColumns', () => {
  it('believes a plausible width and takes 80 columns when the terminal reports none, or too few', () => {
    expect([120, 80, 40].map(terminalColumns)).toEqual([120, 80, 40]);
    expect([undefined, 0, 39].map(terminalColumns)).toEqual([80, 80, 80]);
  });
});

describe('wrap', () => {
  it('breaks at spaces, and inside a word only when it is longer than a line', () => {
    expect(wrap('Key policy of alias/payments opened', 16)).toEqual(['Key policy of', 'alias/payments', 'opened']);
    expect(wrap('arn:aws:kms:eu-west-1:111122223333:key/x', 20)).toEqual([
      'arn:aws:kms:eu-west-',
      '1:111122223333:key/x',
    ]);
  });
});

describe('formatTable: remediation', () => {
  it('shows every command of a ScheduleKeyDeletion, in order: cancelling alone would leave the key Disabled', async () => {
    // Prepare
    const deletion = (await criticalExampleFindings()).find((f) => f.event === 'ScheduleKeyDeletion')!;
    expect(deletion.remediation.map((command) => command.split(' --')[0])).toEqual([
      'aws kms cancel-key-deletion',
      'aws kms enable-key',
    ]);
    // Act
    const table = formatTable([deletion], { color: false });
    // Assess
    expect(remediationLines(table)).toEqual(deletion.remediation.map((command) => `↳ ${command}`));
  });

  it("shows a deleted trail's start-logging after the comment on recreating it, and both tags a TagResource changed", async () => {
    // Prepare: bob deletes the trail, carol changes two of the payments key's approved tags.
    const deleteTrail = exampleRecord('UpdateTrail');
    const trail = (deleteTrail.requestParameters as Json).name;
    Object.assign(deleteTrail, {
      eventName: 'DeleteTrail',
      eventID: '5d0c1f9e-0000-4000-8000-00000000d7e1',
      eventTime: '2026-10-03T17:05:00Z',
      requestParameters: { name: trail },
      responseElements: null,
    });
    const tagResource = exampleRecord('TagResource');
    Object.assign(tagResource, {
      eventID: '5d0c1f9e-0000-4000-8000-0000000074a6',
      eventTime: '2026-10-03T17:00:00Z',
      requestParameters: {
        ...(tagResource.requestParameters as Json),
        tags: [
          { tagKey: 'team', tagValue: 'billing' },
          { tagKey: 'data-class', tagValue: 'public' },
        ],
      },
    });
    const later = writeFile(path.join(tempDir(), 'later.json'), { Records: [tagResource, deleteTrail] });
    const { findings } = await replayInProcess([EXAMPLES, later]);
    const deleted = findings.find((f) => f.event === 'DeleteTrail')!;
    const tagged = findings.find((f) => f.event === 'TagResource' && f.timestamp === '2026-10-03T17:00:00Z')!;
    expect(deleted.remediation).toEqual([
      expect.stringMatching(/^aws cloudtrail create-trail /),
      expect.stringMatching(/^aws cloudtrail put-event-selectors /),
      expect.stringMatching(/^# keydrift does not record the S3 key prefix/),
      expect.stringMatching(/^aws cloudtrail start-logging /),
    ]);
    expect(tagged.remediation).toHaveLength(2);
    // Act
    const table = formatTable([tagged, deleted], { color: false, columns: 120 });
    // Assess
    expect(remediationLines(table)).toEqual([...tagged.remediation, ...deleted.remediation].map((c) => `↳ ${c}`));
  });

  it('keeps comment lines whole, each on its own line, with the commented-out command after them', async () => {
    // Prepare
    const opened = await findingNamed('PutKeyPolicy');
    opened.remediation = [
      '# the approved policy lets account 444455556666 use the key again; restore it only if that access is intended:',
      "# aws kms put-key-policy --key-id arn:aws:kms:eu-west-1:111122223333:key/0f4a6c1e --policy-name default --policy '{}'",
    ];
    // Act
    const table = formatTable([opened], { color: false, columns: 80 });
    // Assess
    expect(remediationLines(table)).toEqual(opened.remediation.map((line) => `↳ ${line}`));
  });

  it('starts no line of its own from a line break inside a command (a quoted value from a record)', async () => {
    // Prepare
    const described = await findingNamed('UpdateKeyDescription');
    described.remediation = [
      "aws kms update-key-description --key-id k --description 'a\n2026-10-03T00:00:00Z  CRITICAL'",
    ];
    // Act
    const table = formatTable([described], { color: false });
    // Assess
    expect(remediationLines(table)).toEqual([
      "↳ # control characters removed, check before running: aws kms update-key-description --key-id k --description 'a 2026-10-03T00:00:00Z  CRITICAL'",
    ]);
    expect(table.split('\n').filter((line) => line.startsWith('2026-'))).toHaveLength(1);
  });

  it('never shows as a command one whose control character it shows as a space: it would name another tag', async () => {
    // Prepare: the tag to remove is `cost<TAB>center`; `cost center` is another tag, perhaps an approved one.
    const tagged = await findingNamed('TagResource');
    tagged.remediation = ["aws kms untag-resource --key-id k --region us-west-2 --tag-keys 'cost\tcenter'"];
    // Act
    const [line] = remediationLines(formatTable([tagged], { color: false }));
    // Assess: shown, but as a comment a paste does not run.
    expect(line).toBe(
      "↳ # control characters removed, check before running: aws kms untag-resource --key-id k --region us-west-2 --tag-keys 'cost center'",
    );
  });

  it('shows no character from a record that moves or hides text: a bidi override, a zero-width space, a line separator', async () => {
    // Prepare: U+202E shows what follows right to left in terminals that lay out bidi text (Konsole, GNOME Terminal).
    const tagged = await findingNamed('TagResource');
    const hidden = 'pci\u202Etxt.exe\u200B\u2028CRITICAL';
    tagged.summary = `Tags of alias/payments changed by carol@example.com: data-class=${hidden}`;
    tagged.remediation = [`aws kms untag-resource --key-id k --region eu-west-1 --tag-keys '${hidden}'`];
    // Act
    const table = formatTable([tagged], { color: false });
    // Assess: each a space, as control characters are, and the command it changes is a comment, not to paste.
    expect(table).not.toMatch(/[\u200B\u202E\u2028]/);
    expect(table).toContain('data-class=pci txt.exe  CRITICAL');
    expect(remediationLines(table)).toEqual([
      "↳ # control characters removed, check before running: aws kms untag-resource --key-id k --region eu-west-1 --tag-keys 'pci txt.exe  CRITICAL'",
    ]);
  });

  it('shows no remediation for a finding that is not drift', async () => {
    const planned = { ...(await findingNamed('CreateKey')), status: 'planned' as const };
    expect(remediationLines(formatTable([planned], { color: false }))).toEqual([]);
  });
});

describe('formatTable: the EVENT column', () => {
  const LONG_NAMES = ['KMS Imported Key Material Expiration', 'DeleteImportedKeyMaterial', 'SynchronizeMultiRegionKey'];

  /** Where each line's SUMMARY (or the header's) starts. */
  const summaryStarts = (table: string, findings: Finding[]): number[] => {
    const [header, ...lines] = table.split('\n');
    const rows = lines.filter((line) => /^\d{4}-/.test(line));
    return [header.indexOf('SUMMARY'), ...findings.map((f, i) => rows[i].indexOf(f.summary.slice(0, 20)))];
  };

  it('shows event names whole when not on a terminal, the column as wide as the longest name shown', async () => {
    // Prepare
    const findings = await Promise.all(LONG_NAMES.map(findingNamed));
    // Act
    const table = formatTable(findings, { color: false });
    // Assess
    const rows = table.split('\n').filter((line) => /^\d{4}-/.test(line));
    expect(rows).toEqual(LONG_NAMES.map((name) => expect.stringContaining(`  ${name}  `)));
    expect(table).not.toContain('…');
    expect(new Set(summaryStarts(table, findings))).toEqual(new Set([42 + LONG_NAMES[0].length + 2]));
  });

  it.each([
    { columns: 89, whole: LONG_NAMES, which: 'all three' },
    { columns: 120, whole: LONG_NAMES, which: 'all three' },
    { columns: 80, whole: LONG_NAMES.slice(1), which: 'the two of 25 characters' },
  ])('shows them whole on a terminal of $columns columns where they fit: $which', async ({ columns, whole }) => {
    // Prepare
    const findings = await Promise.all(LONG_NAMES.map(findingNamed));
    // Act
    const table = formatTable(findings, { color: false, columns });
    // Assess
    const rows = table.split('\n').filter((line) => /^\d{4}-/.test(line));
    for (const name of whole) expect(rows[LONG_NAMES.indexOf(name)]).toMatch(new RegExp(` {2}${name}( {2}|$)`));
    expect(table.split('\n').filter((line) => line.length > columns && !line.trimStart().startsWith('↳'))).toEqual([]);
  });

  it('cuts a name only where the terminal is too narrow for it', async () => {
    const findings = await Promise.all(LONG_NAMES.map(findingNamed));
    // 80 columns hold the header with a 29-character column; narrower, the column stays at 22 characters.
    expect(formatTable(findings, { color: false, columns: 80 })).toMatch(/ {2}KMS Imported Key Material Ex…$/m);
    expect(formatTable(findings, { color: false, columns: 60 })).toMatch(/ {2}KMS Imported Key Mate…$/m);
  });

  it('keeps the 22-character column when every name fits it', async () => {
    const findings = await criticalExampleFindings();
    const table = formatTable(findings, { color: false });
    expect(new Set(summaryStarts(table, findings))).toEqual(new Set([66]));
  });
});

describe('formatTable: many findings', () => {
  it('lays out a month of grant churn (200,000 findings) as one row each', async () => {
    // Prepare
    const [finding] = await criticalExampleFindings();
    const findings = Array.from({ length: 200_000 }, () => ({ ...finding, status: 'planned' as const }));
    // Act
    const table = formatTable(findings, { color: false });
    // Assess
    expect(table.split('\n').filter((line) => /^\d{4}-/.test(line))).toHaveLength(200_000);
  });
});
