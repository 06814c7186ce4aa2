/**
 * How `keydrift status` and `keydrift baseline adopt` lay their tables out on a terminal: cut to its width, but
 * never so that what one acts on (a resource's ARN) is lost, and never to nothing on a terminal that reports no width.
 */
import { formatAdopted, formatStatus } from '../../lambda/cli/operator-format';
import type { OpenDrift } from '../../lambda/ops/drift';
import type { AcceptResult, StatusReport } from '../../lambda/ops/operations';

const KEY = 'arn:aws:kms:ap-southeast-2:111122223333:key/0f4a6c1e-93b7-4d25-8e1a-6c2f0b7d4a91';

const drifted: OpenDrift = {
  resource: KEY,
  kind: 'key',
  label: 'alias/payments',
  attributes: ['description', 'enable_key_rotation'],
  paths: ['description', 'enable_key_rotation'],
  unknownBaseline: [],
  since: '2026-11-22T04:55:04Z',
  severity: 'error',
  latest: null,
  baseline: { version: 1, updatedAt: null, acceptedBy: null, acceptedAt: null },
  stateUpdatedAt: null,
};
const report: StatusReport = { drift: [drifted], compared: 5, withoutState: 0, withoutBaseline: 0 };

const adopted: AcceptResult = {
  resource: KEY,
  kind: 'key',
  label: 'alias/payments',
  result: 'changed',
  written: true,
  previousVersion: 1,
  version: 2,
  acceptedBy: 'arn:aws:sts::111122223333:assumed-role/Admin/carol',
  acceptedAt: '2026-11-22T06:55:22.006Z',
  readAt: '2026-11-22T06:55:22.006Z',
  changes: [{ path: 'description', before: 'a', after: 'b' }],
};

describe('keydrift status on a terminal', () => {
  it.each([0, 20])(
    'lays the table out in 80 columns when the terminal reports %i (as a pty under script), as findings does',
    (columns) => {
      expect(formatStatus(report, { color: false, columns })).toBe(formatStatus(report, { color: false, columns: 80 }));
    },
  );

  it('cuts the drifted attributes at the edge of those 80 columns, not after their first 10 characters', () => {
    const [, row] = formatStatus(report, { color: false, columns: 0 }).split('\n');
    expect(row).toMatch(/ {2}description, enab…$/);
    expect(row).toHaveLength(80);
  });
});

describe('keydrift status on an 80-column terminal', () => {
  it("shows each drifted resource's ARN whole, to copy into baseline show or accept, or findings --resource", () => {
    const lines = formatStatus(report, { color: false, columns: 80 }).split('\n');
    expect(lines[2]).toBe(`          ${KEY}`);
  });
});

describe('keydrift baseline adopt on a terminal', () => {
  it.each([0, 20])('lays the table out in 80 columns when the terminal reports %i', (columns) => {
    expect(formatAdopted([adopted], { color: false, columns })).toBe(
      formatAdopted([adopted], { color: false, columns: 80 }),
    );
    expect(formatAdopted([adopted], { color: false, columns }).split('\n')[1]).toMatch(/ {2}description$/);
  });
});
