/**
 * How the operator commands print: readable tables for people, JSON Lines (one object per line) for machines.
 * Everything that came from AWS or the table is cleaned of control characters before it reaches a terminal.
 */

import { styleText } from 'node:util';
import { withoutSourceIdentity } from '../core/actor';
import { lookup } from '../core/state';
import type { Severity } from '../core/types';
import { attributesOf, type OpenDrift, uncomparedPaths } from '../ops/drift';
import type { AcceptResult, BaselineView, StatusReport } from '../ops/operations';
import { clean, escapeC1, pad, terminalColumns } from './format';

type Style = Parameters<typeof styleText>[0];
export interface TableOptions {
  color: boolean;
  /** The terminal's width; long cells are cut to fit it (nothing is cut without one). */
  columns?: number;
}

const SEVERITY_STYLE: Record<Severity, Style> = {
  critical: ['bold', 'red'],
  error: 'red',
  warning: 'yellow',
  info: 'gray',
};

/**
 * The terminal's width to cut to, as the findings table takes it: a reported width that is missing or too small to
 * be real (a pty under `script` reports 0) is taken for 80 columns, not for a table cut to its first letters.
 */
const widthOf = (options: TableOptions): number | undefined =>
  options.columns === undefined ? undefined : terminalColumns(options.columns);

const painter =
  (options: TableOptions) =>
  (style: Style, text: string): string =>
    options.color ? styleText(style, text) : text;

/** Cuts a line (or the last cell of one) to the width left on the terminal, when there is one. ARNs are never cut. */
const cut = (text: string, width: number | undefined): string =>
  width !== undefined && text.length > width ? pad(text, Math.max(10, width)).trimEnd() : text;

/** JSON Lines: one value per line, every control character escaped. */
export function jsonLines(values: unknown[]): string {
  return values.map((v) => `${escapeC1(JSON.stringify(v))}\n`).join('');
}

/** A value as a table shows it: JSON, `(unknown)` for a value keydrift does not know. */
export function showValue(value: unknown): string {
  return value === undefined ? '(unknown)' : clean(JSON.stringify(value));
}

/** A drifted attribute as status lists it, marked when its approved value is unknown (open by its findings). */
const driftedAttribute = (row: OpenDrift, attribute: string): string =>
  row.unknownBaseline.includes(attribute) ? `${attribute} (approved value unknown)` : attribute;

/**
 * `keydrift status`: one block per drifted resource, worst first; with none, what was compared, never claiming a
 * match for a baselined resource keydrift has no stored state for.
 */
export function formatStatus(report: StatusReport, options: TableOptions): string {
  const paint = painter(options);
  const columns = widthOf(options);
  const rows = report.drift;
  if (report.compared + report.withoutState === 0) {
    return (
      'Nothing has a baseline yet, so there is no drift to show (this is no all-clear). keydrift records every ' +
      "key, alias and trail as its baseline on the reconciler's first run after deploy: if that run failed, see the " +
      "reconciler's errors alarm and log. keydrift baseline adopt records them now.\n"
    );
  }
  if (rows.length === 0 && report.withoutState === 0)
    return 'No open drift: every resource with a baseline matches it.\n';
  if (rows.length === 0) {
    return (
      `No open drift among the ${report.compared} baselined resource(s) with a stored state; ` +
      `${report.withoutState} other baselined resource(s) have no stored state yet, so their drift is unknown ` +
      '(the next reconcile run stores it).\n'
    );
  }
  const lines = [paint('bold', `${pad('SEVERITY', 8)}  ${pad('SINCE', 20)}  ${pad('RESOURCE', 28)}  DRIFTED`)];
  for (const row of rows) {
    const severity = pad(row.severity ? row.severity.toUpperCase() : '-', 8);
    const prefix = `${pad(row.since ?? '-', 20)}  ${pad(clean(row.label), 28)}  `;
    const drifted = row.attributes.map((attribute) => driftedAttribute(row, attribute)).join(', ');
    lines.push(
      `${row.severity ? paint(SEVERITY_STYLE[row.severity], severity) : severity}  ${prefix}` +
        cut(drifted, columns && columns - 10 - prefix.length),
    );
    // Never cut: the ARN is what one copies into baseline show or accept, or findings --resource (a key's is 75
    // characters and more, past 80 columns with its indent).
    lines.push(paint('dim', `${' '.repeat(10)}${clean(row.resource)}`));
    if (row.latest) {
      const { timestamp, event, summary } = row.latest;
      const latest = (text: string) => `${' '.repeat(10)}latest: ${timestamp} ${clean(event)}: ${clean(text)}`;
      // The source identity is shown whole or not at all (the finding has it): cut, `alice@exa…` reads as another name.
      const whole = latest(summary);
      const line = columns && whole.length > columns ? latest(withoutSourceIdentity(summary, row.latest)) : whole;
      lines.push(paint('dim', cut(line, columns)));
    }
  }
  return `${lines.join('\n')}\n`;
}

/** One accepted change, on one line when short, else before and after on lines of their own. */
function changeLines(
  change: { path: string; before: unknown; after: unknown },
  indent: string,
  first: boolean,
): string[] {
  const path = clean(change.path);
  const after = showValue(change.after);
  if (first) return [`${indent}${path}: ${after}`];
  const before = showValue(change.before);
  if (path.length + before.length + after.length < 100) return [`${indent}${path}: ${before} → ${after}`];
  return [`${indent}${path}`, `${indent}  before: ${before}`, `${indent}  after:  ${after}`];
}

/**
 * The drift line of `baseline show`: the paths where the stored state differs, and those approved as unknown whose
 * drift finding is still open (no comparison shows them; they are not a match).
 */
function driftLine(view: BaselineView, paint: ReturnType<typeof painter>): string {
  const { resource: arn, kind, state, baseline } = view;
  const unknown = new Set(uncomparedPaths({ arn, kind, state: state ?? undefined, baseline: baseline ?? undefined }));
  const differing = view.drift.filter((p) => !unknown.has(p)).map(clean);
  const open = view.drift.filter((p) => unknown.has(p)).map(clean);
  if (differing.length === 0 && open.length === 0) return 'none (the stored state matches)';
  const parts = [
    ...(differing.length ? [`${differing.join(', ')} (the stored state differs)`] : []),
    ...(open.length ? [`${open.join(', ')} (approved value unknown; a drift finding is open)`] : []),
  ];
  return paint('yellow', parts.join('; '));
}

/** The widest ATTRIBUTE column of `keydrift baseline show`. */
const MAX_ATTRIBUTE_WIDTH = 40;

/** `keydrift baseline show`: the approved value of every attribute, and the stored state where it differs. */
export function formatBaselines(views: BaselineView[], options: TableOptions): string {
  const paint = painter(options);
  const out: string[] = [];
  for (const view of views) {
    if (out.length) out.push('');
    out.push(paint('bold', `Baseline of ${clean(view.label)} (${view.kind})`));
    out.push(`  resource   ${clean(view.resource)}`);
    const { baseline, state } = view;
    if (!baseline) {
      out.push('  baseline   none yet: keydrift has not adopted this resource (keydrift baseline accept records one)');
      continue;
    }
    out.push(`  version    ${baseline.version}`);
    out.push(
      `  accepted   ${
        baseline.acceptedBy
          ? `by ${clean(baseline.acceptedBy)} at ${baseline.acceptedAt ?? '(unknown)'}`
          : 'not by an operator (set by keydrift: adoption or a planned change)'
      }`,
    );
    if (baseline.acceptReason) out.push(`  reason     ${clean(baseline.acceptReason)}`);
    out.push(`  updated    ${baseline.updatedAt ?? '(unknown)'}`);
    out.push(`  drift      ${!state ? 'unknown (keydrift has stored no state for it yet)' : driftLine(view, paint)}`);
    // A map known in full with no entry (no tags, no grants) has no path of its own: shown as {}.
    const attributes: Record<string, unknown> = { ...baseline.snapshot.attributes };
    for (const map of baseline.snapshot.completeMaps) {
      if (!Object.keys(attributes).some((p) => p.startsWith(`${map}#`))) attributes[map] = {};
    }
    const paths = Object.keys(attributes).sort();
    // The column fits the names up to 40 characters; a longer one (a tag key runs to 128) is shown whole on a line of
    // its own, its value under APPROVED VALUE: cut, two tags that share their first 40 characters would look the same.
    const width = Math.max(9, ...paths.map((p) => p.length).filter((length) => length <= MAX_ATTRIBUTE_WIDTH));
    out.push(paint('bold', `  ${pad('ATTRIBUTE', width)}  APPROVED VALUE`));
    for (const path of paths) {
      const value = showValue(attributes[path]);
      if (path.length > width) out.push(`  ${clean(path)}`, `  ${' '.repeat(width)}  ${value}`);
      else out.push(`  ${pad(clean(path), width)}  ${value}`);
      if (view.drift.includes(path) && state) {
        out.push(paint('yellow', `  ${' '.repeat(width)}  ↳ stored state: ${showValue(lookup(state.snapshot, path))}`));
      }
    }
    const unknown = baseline.snapshot.unknownPaths ?? [];
    if (unknown.length) out.push(`  approved as unknown: ${unknown.map(clean).join(', ')}`);
    // Not shown above, yet no key approved without grants: the item could not hold them.
    if (baseline.truncated?.length) {
      out.push(
        `  left out to fit a table item: ${baseline.truncated.map(clean).join(', ')} (approved as unknown: only ` +
          'their findings show their drift)',
      );
    }
    for (const path of unknown.filter((p) => view.drift.includes(p))) {
      out.push(paint('yellow', `    ↳ ${clean(path)} stored state: ${showValue(lookup(state?.snapshot, path))}`));
    }
  }
  return `${out.join('\n')}\n`;
}

/** `keydrift baseline accept`: what was recorded, and every approved value it changed. */
export function formatAccepted(results: AcceptResult[], options: TableOptions): string {
  const paint = painter(options);
  const out: string[] = [];
  for (const r of results) {
    const what = `${clean(r.label)} (${r.kind})`;
    out.push(
      r.result === 'new'
        ? `${paint('bold', 'Recorded')} the live state of ${what} as its first baseline, version ${r.version}`
        : r.result === 'changed'
          ? `${paint('bold', 'Accepted')} the live state of ${what} as its baseline, version ${r.version}`
          : `${paint('bold', 'Re-approved')} the baseline of ${what}, which already matched its live state, as version ${r.version}`,
    );
    out.push(`  resource     ${clean(r.resource)}`);
    out.push(`  accepted by  ${clean(r.acceptedBy ?? '(unknown)')} at ${r.acceptedAt ?? '(unknown)'}`);
    if (r.acceptReason) out.push(`  reason       ${clean(r.acceptReason)}`);
    if (r.changes.length > 0) {
      out.push(r.result === 'new' ? '  values approved:' : '  changes approved:');
      for (const change of r.changes) out.push(...changeLines(change, '    ', r.result === 'new'));
    }
    // Not approved, nor listed entry by entry (a key's grants run to thousands): the baseline could not hold them.
    for (const { attribute, entries } of r.leftOut ?? []) {
      out.push(
        `  ${clean(attribute)}: ${entries.toLocaleString('en-US')} ${entries === 1 ? 'entry' : 'entries'}, left out ` +
          'of the stored baseline to fit a table item (approved as unknown: only their findings show their drift)',
      );
    }
  }
  return `${out.join('\n')}\n`;
}

/** `keydrift baseline adopt`: one line per resource with what adopting did (or would do) to its baseline. */
export function formatAdopted(results: AcceptResult[], options: TableOptions): string {
  const paint = painter(options);
  const columns = widthOf(options);
  // As wide as the longest name: an alias name runs to 256 characters, and two cut to the same first 35 would leave
  // the operator asked to approve two lines that look alike.
  // A loop, not Math.max(...lengths): a Region at KMS's quotas holds more keys and aliases than a call takes arguments.
  let labels = 36;
  for (const r of results) labels = Math.max(labels, clean(r.label).length);
  const lines = [
    paint('bold', `${pad('KIND', 5)}  ${pad('RESULT', 9)}  ${pad('RESOURCE', labels)}  CHANGED ATTRIBUTES`),
  ];
  const order = { key: 0, alias: 1, trail: 2, 'custom-key-store': 3 };
  const sorted = [...results].sort((a, b) => order[a.kind] - order[b.kind] || a.label.localeCompare(b.label));
  for (const r of sorted) {
    // An attribute left out of the baseline is named as such, changed or not: adopting does not approve it.
    const changed = [
      ...(r.result === 'changed' ? attributesOf(r.changes.map((c) => c.path)) : []),
      ...(r.written ? (r.leftOut ?? []).map((l) => `${l.attribute} (left out)`) : []),
    ].join(', ');
    const result = pad(r.result, 9);
    const label = pad(clean(r.label), labels);
    lines.push(
      `${pad(r.kind, 5)}  ${r.result === 'unchanged' ? result : paint('bold', result)}  ${label}  ${cut(
        changed,
        columns && columns - 5 - 2 - 9 - 2 - labels - 2,
      )}`.trimEnd(),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** `keydrift baseline adopt`'s counts, for standard error and the confirmation question. */
export function adoptCounts(results: AcceptResult[]): string {
  const count = (result: AcceptResult['result']) => results.filter((r) => r.result === result).length;
  const kinds = (['key', 'alias', 'trail'] as const)
    .map((kind) => {
      const n = results.filter((r) => r.kind === kind).length;
      return `${n} ${kind === 'alias' ? (n === 1 ? 'alias' : 'aliases') : `${kind}${n === 1 ? '' : 's'}`}`;
    })
    .join(', ');
  return `${kinds}: ${count('new')} new, ${count('changed')} changed, ${count('unchanged')} unchanged`;
}
