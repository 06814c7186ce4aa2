/**
 * How `keydrift status` and `keydrift baseline adopt` lay their tables out on a terminal: cut to its width, but
 * never so that what one acts on (a resource's ARN) is lost, and never to nothing on a terminal that reports no width.
 */
import { formatAccepted, formatAdopted, formatBaselines, formatStatus } from '../../lambda/cli/operator-format';
import { snapshotFromState } from '../../lambda/core/state';
import type { OpenDrift } from '../../lambda/ops/drift';
import type { AcceptResult, BaselineView, StatusReport } from '../../lambda/ops/operations';
import { by, detect, onKey, rec, sessionIdentity, withSourceIdentity } from '../core/harness';

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

describe('keydrift status on a wide terminal', () => {
  it('leaves out of the latest finding a source identity it would cut, so that no cut name reads as another caller', () => {
    // Prepare: alice, behind the session deploy-4711, turned off the key's rotation
    const identity = withSourceIdentity(sessionIdentity('platform-deployer', 'deploy-4711'), 'alice@example.com');
    const { last } = detect([by(onKey(rec('DisableKeyRotation__awskmsdg__1')), identity)]);
    const summary = 'Automatic rotation of key 1234abcd-12ab-34cd-56ef-1234567890ab disabled by deploy-4711';
    expect(last.summary).toBe(`${summary} (source identity alice@example.com)`);
    const rotationOff = { ...report, drift: [{ ...drifted, latest: last }] };

    // Act
    const [, , , latest] = formatStatus(rotationOff, { color: false, columns: 160 }).split('\n');

    // Assess: not `(source identity alice@exa…`
    expect(latest).toBe(`          latest: ${last.timestamp} DisableKeyRotation: ${summary}`);
    expect(formatStatus(rotationOff, { color: false, columns: 200 })).toContain(last.summary);
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

describe('keydrift baseline adopt', () => {
  it('names every resource whole, so two aliases that share their first 36 characters are told apart', () => {
    const alias = (name: string): AcceptResult => ({
      ...adopted,
      kind: 'alias',
      resource: `arn:aws:kms:ap-southeast-2:111122223333:${name}`,
      label: name,
    });
    const names = [
      'alias/payments-production-ap-southeast-2-primary',
      'alias/payments-production-ap-southeast-2-replica',
    ];
    const lines = formatAdopted(names.map(alias), { color: false }).split('\n');
    expect(lines[0]).toMatch(/^KIND +RESULT +RESOURCE +CHANGED ATTRIBUTES$/);
    expect(lines.slice(1, 3)).toEqual(names.map((name) => `alias  changed    ${name}  description`));
  });

  it("lists a Region at KMS's quotas (100,000 keys and 50,000 aliases), more than a call takes arguments", () => {
    const results = Array.from(
      { length: 150_000 },
      (_, i): AcceptResult => ({
        ...adopted,
        result: 'unchanged',
        changes: [],
        label: `alias/app-${String(i).padStart(6, '0')}`,
      }),
    );
    const lines = formatAdopted(results, { color: false }).split('\n');
    expect(lines).toHaveLength(150_002);
    expect(lines[150_000]).toBe('key    unchanged  alias/app-149999');
  });

  it('names an attribute left out of the baseline to fit a table item as such, changed or new', () => {
    const busy: AcceptResult = { ...adopted, leftOut: [{ attribute: 'grants', entries: 2500 }] };
    const lines = formatAdopted([busy, { ...busy, result: 'new', label: 'alias/volumes', changes: [] }], {
      color: false,
    }).split('\n');
    expect(lines.slice(1, 3)).toEqual([
      `key    changed    ${'alias/payments'.padEnd(36)}  description, grants (left out)`,
      `key    new        ${'alias/volumes'.padEnd(36)}  grants (left out)`,
    ]);
  });
});

describe('keydrift baseline accept', () => {
  it('sums an attribute left out of the baseline up in one line, apart from the values it approved', () => {
    const recorded: AcceptResult = {
      ...adopted,
      result: 'new',
      previousVersion: null,
      version: 1,
      changes: [{ path: 'description', before: undefined, after: 'ebs volumes' }],
      leftOut: [{ attribute: 'grants', entries: 2500 }],
    };
    expect(formatAccepted([recorded], { color: false }).split('\n').slice(3)).toEqual([
      '  values approved:',
      '    description: "ebs volumes"',
      '  grants: 2,500 entries, left out of the stored baseline to fit a table item (approved as unknown: only ' +
        'their findings show their drift)',
      '',
    ]);
  });

  it('says why under who and when, on one line, when the operator gave a reason', () => {
    const reasoned: AcceptResult = { ...adopted, acceptReason: 'CHG-4711\r\nrotation off \u001b[2Jduring migration' };
    expect(formatAccepted([reasoned], { color: false }).split('\n').slice(2, 4)).toEqual([
      '  accepted by  arn:aws:sts::111122223333:assumed-role/Admin/carol at 2026-11-22T06:55:22.006Z',
      expect.stringMatching(/^ {2}reason {7}CHG-4711 +rotation off +\[2Jduring migration$/),
    ]);
  });
});

describe('keydrift baseline show', () => {
  // Tag keys run to 128 characters: two that share their first 40 are two tags, each with its own approved value.
  const department = (name: string) => `cost-allocation:finance:department-of-payments-${name}`;
  const approved = snapshotFromState('key', KEY, {
    description: 'payments',
    tags: { [department('cards')]: 'cc-1', [department('loans')]: 'cc-2' },
  });
  const stored = snapshotFromState('key', KEY, {
    description: 'payments',
    tags: { [department('cards')]: 'cc-1', [department('loans')]: 'cc-9' },
  });
  const view: BaselineView = {
    resource: KEY,
    kind: 'key',
    label: 'alias/payments',
    baseline: { snapshot: approved, version: 1 },
    state: { snapshot: stored, version: 2 },
    drift: [`tags#${department('loans')}`],
  };

  it.each([undefined, 80])('names every attribute whole, however long (terminal width %s)', (columns) => {
    const lines = formatBaselines([view], { color: false, columns }).split('\n');
    const at = (path: string) => lines.indexOf(`  ${path}`);
    expect(lines[at(`tags#${department('cards')}`) + 1].trim()).toBe('"cc-1"');
    expect(lines[at(`tags#${department('loans')}`) + 1].trim()).toBe('"cc-2"');
    expect(lines[at(`tags#${department('loans')}`) + 2].trim()).toBe('↳ stored state: "cc-9"');
    expect(lines).toContain('  description  "payments"');
  });

  it('shows a tag the stored state knows gone as none there, not as unknown', () => {
    // Prepare: tag team approved and removed; tag Department approved as unknown (removed from a key keydrift never
    // saw), both with a drift finding open. The stored state (a live read) shows the tags whole.
    const view: BaselineView = {
      resource: KEY,
      kind: 'key',
      label: 'alias/payments',
      baseline: {
        snapshot: {
          ...snapshotFromState('key', KEY, { tags: { team: 'payments' } }),
          unknownPaths: ['tags#Department'],
        },
        version: 1,
      },
      state: { snapshot: snapshotFromState('key', KEY, { tags: {} }), version: 2 },
      drift: ['tags#Department', 'tags#team'],
    };
    // Act
    const lines = formatBaselines([view], { color: false }).split('\n');
    // Assess
    expect(lines[lines.indexOf('  tags#team  "payments"') + 1].trim()).toBe('↳ stored state: null');
    expect(lines).toContain('    ↳ tags#Department stored state: null');
  });
});
