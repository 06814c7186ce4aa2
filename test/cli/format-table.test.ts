/**
 * The replay's table on a terminal: every summary says what changed and who did it, so it is wrapped to the
 * terminal's width, never cut.
 */
import { formatTable, terminalColumns, wrap } from '../../lambda/cli/format';
import { EXAMPLES, replayInProcess } from '../helpers/keydrift';

const criticalExampleFindings = async () =>
  (await replayInProcess([EXAMPLES])).findings.filter((f) => f.severity === 'critical');

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
