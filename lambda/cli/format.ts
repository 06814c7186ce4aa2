import { styleText } from 'node:util';
import type { Finding, Severity } from '../core/types';
import { DIGEST_SKIPPED } from '../replay/parse-file';
import type { ReplaySummary } from '../replay/replay';

type Style = Parameters<typeof styleText>[0];
const SEVERITY_STYLE: Record<Severity, Style> = {
  critical: ['bold', 'red'],
  error: 'red',
  warning: 'yellow',
  info: 'gray',
};

/**
 * What a terminal must not get raw from a record: control characters (ANSI escapes, line breaks), and the characters
 * that move or hide text (bidi overrides such as U+202E, zero-width characters, line and paragraph separators),
 * with which a tag value could show a row, or a command to paste, other than it is. The alerts drop them too.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const UNSHOWABLE = /[\u0000-\u001f\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}]/gu;

/** Record text as the terminal may show it: each character of {@link UNSHOWABLE} a space. */
export const clean = (text: string): string => text.replace(UNSHOWABLE, ' ');

/**
 * A message about the input (a bad record, a skipped file) as the terminal may show it: each character of
 * {@link UNSHOWABLE} as its escape (`\ufeff`), not a space. The message may be about that very character (JSON.parse
 * quotes the token it refused): a space would name one JSON allows.
 */
export const escapeUnshowable = (text: string): string => text.replace(UNSHOWABLE, unicodeEscape);

/** A character as its escape: `\ufeff`, or `\u{1f600}` past the first plane (escapeC1 meets first-plane ones only). */
function unicodeEscape(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

export function pad(text: string, width: number): string {
  return text.length <= width ? text.padEnd(width) : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/** Splits text into lines of at most `width` characters, at spaces where it can. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let rest = text.trim();
  while (rest.length > width) {
    const space = rest.lastIndexOf(' ', width);
    const cut = space > width / 2 ? space : width;
    lines.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  return rest ? [...lines, rest] : lines;
}

/** Where summaries that do not fit beside the fixed columns continue, like the remediation lines. */
const INDENT = ' '.repeat(22);
/** The EVENT column's width when every event name fits it: what the table has always been laid out with. */
const EVENT_WIDTH = 22;
/** The columns before EVENT: time, severity and status, each followed by two spaces. */
const BEFORE_EVENT = 20 + 2 + 8 + 2 + 8 + 2;
/** The narrowest summary column worth keeping beside the fixed columns; below it the summary goes under them. */
const MIN_SUMMARY_WIDTH = 30;

/** The width assumed for a terminal that reports none, or one too narrow to be real. */
const FALLBACK_COLUMNS = 80;
/** Narrower than this a reported width is taken for a placeholder (a pty under `script` reports 0), not a terminal. */
const MIN_PLAUSIBLE_COLUMNS = 40;

/** The terminal width to lay the table out in: the reported one, unless it is missing or implausibly small. */
export function terminalColumns(reported: number | undefined): number {
  return reported !== undefined && reported >= MIN_PLAUSIBLE_COLUMNS ? reported : FALLBACK_COLUMNS;
}

/**
 * The EVENT column's width: the longest event name shown (never under 22), so names are shown whole; on a terminal,
 * no wider than keeps the header (up to SUMMARY) within its width: a longer name is cut there.
 */
function eventWidth(findings: Finding[], columns: number | undefined): number {
  // A loop, not Math.max(...lengths): a month of grant churn is hundreds of thousands of findings, past what a call's
  // arguments may hold.
  let longest = EVENT_WIDTH;
  for (const f of findings) longest = Math.max(longest, clean(f.event).length);
  if (columns === undefined) return longest;
  return Math.max(EVENT_WIDTH, Math.min(longest, columns - BEFORE_EVENT - '  SUMMARY'.length));
}

/**
 * A readable table: one row per finding (time, severity, status, event, summary), then for drift every command
 * that undoes it (comments included), in order, each on a line of its own. `columns` (a terminal's width; none
 * when not a terminal) bounds the line width: a summary is wrapped, never cut, since it says what changed and who
 * did it; a command is never wrapped, so it can be copied whole.
 */
export function formatTable(findings: Finding[], options: { color: boolean; columns?: number }): string {
  return [...tableLines(findings, options)].join('');
}

/** {@link formatTable}'s lines one by one, each ending in a line break: a long replay's table is never one string. */
export function* tableLines(findings: Finding[], options: { color: boolean; columns?: number }): Generator<string> {
  const paint = (style: Style, text: string) => (options.color ? styleText(style, text) : text);
  const columns = options.columns === undefined ? undefined : terminalColumns(options.columns);
  const width = columns ?? 200;
  const events = eventWidth(findings, columns);
  const summaryColumn = BEFORE_EVENT + events + 2;
  yield `${paint('bold', `${pad('TIME', 20)}  ${pad('SEVERITY', 8)}  ${pad('STATUS', 8)}  ${pad('EVENT', events)}  SUMMARY`)}\n`;
  for (const f of findings) {
    const lines: string[] = [];
    const event = pad(clean(f.event), events);
    const row = `${pad(f.timestamp, 20)}  ${paint(SEVERITY_STYLE[f.severity], pad(f.severity.toUpperCase(), 8))}  ${pad(f.status, 8)}  ${event}  `;
    const summary = clean(f.summary);
    if (width - summaryColumn >= MIN_SUMMARY_WIDTH) {
      const [first = '', ...more] = wrap(summary, width - summaryColumn);
      lines.push(`${row}${first}`, ...more.map((line) => `${' '.repeat(summaryColumn)}${line}`));
    } else {
      lines.push(
        row.trimEnd(),
        ...wrap(summary, Math.max(20, width - INDENT.length)).map((line) => `${INDENT}${line}`),
      );
    }
    if (f.status === 'drift') lines.push(...remediationLines(f.remediation).map((line) => paint('dim', line)));
    yield `${lines.join('\n')}\n`;
  }
}

/**
 * Every remediation entry (a command, or a `#` comment saying what no command can do) on a `↳` line of its own, in
 * order: following only the first would leave a key whose deletion was cancelled Disabled. Each entry stays one
 * line: a line break inside it (in a shell-quoted value from a record) is shown as a space, like any control
 * character, and can start no line of its own (the command, altered so, is shown as a comment).
 */
function remediationLines(remediation: string[]): string[] {
  return remediation.filter((entry) => entry.trim() !== '').map((entry) => `${INDENT}↳ ${shownCommand(entry)}`);
}

/**
 * A command as it can be shown: one holding a character {@link clean} shows as a space is no longer the command (a tag
 * key `a<TAB>b` would read `'a b'`, another tag), so it is shown as a comment, never to paste, as the alerts do.
 */
function shownCommand(entry: string): string {
  const shown = clean(entry).trimEnd();
  return clean(entry) !== entry && !entry.startsWith('#')
    ? `# control characters removed, check before running: ${shown}`
    : shown;
}

/**
 * DEL and the C1 controls (8-bit CSI and OSC) that JSON.stringify leaves raw, and the line and paragraph separators
 * (U+2028, U+2029) it leaves raw too, at which Python's `splitlines()` and other readers end a line: one finding would
 * read as two broken lines.
 */
export const escapeC1 = (json: string): string => json.replace(/[\u007f-\u009f\u2028\u2029]/g, unicodeEscape);

/** JSON Lines: one finding per line, the format machines read (every control character escaped). */
export function formatJsonLines(findings: Finding[]): string {
  return findings.map(jsonLine).join('');
}

/** One finding's line of JSON Lines, ending in a line break. */
export const jsonLine = (finding: Finding): string => `${escapeC1(JSON.stringify(finding))}\n`;

/** The run's summary for standard error: what was read, what was found, what was skipped and why. */
export function formatSummary(summary: ReplaySummary, shown: number): string {
  const f = summary.findings;
  const lines = [
    `keydrift replay: ${summary.inputs} input(s), ${summary.records} records (${summary.writes} KMS/trail writes, ${summary.reads} KMS/trail reads, ${summary.others} other services)`,
    `findings: ${f.critical} critical, ${f.error} error, ${f.warning} warning, ${f.info} info` +
      `${shown !== f.critical + f.error + f.warning + f.info ? ` (${shown} shown)` : ''}` +
      `${summary.duplicates ? `; ${summary.duplicates} duplicate record(s) counted once` : ''}` +
      `${summary.otherAccounts ? `; ${summary.otherAccounts} call(s) on other accounts' resources, left to their owners` : ''}` +
      `${summary.ignored ? `; ${summary.ignored} ignored by configuration` : ''}`,
  ];
  // Digest files are expected beside the logs (an organization's prefix over a week holds thousands): one line for
  // them all, so that what was skipped for a reason stays in sight.
  const digests = summary.skipped.filter((s) => s.reason === DIGEST_SKIPPED);
  const listed = digests.length > 1 ? summary.skipped.filter((s) => s.reason !== DIGEST_SKIPPED) : summary.skipped;
  for (const { source, reason } of listed) {
    lines.push(`skipped ${escapeUnshowable(source)}: ${escapeUnshowable(reason)}`);
  }
  if (digests.length > 1) {
    lines.push(
      `skipped ${digests.length.toLocaleString('en-US')} CloudTrail digest files (no records), such as ${escapeUnshowable(digests[0].source)}`,
    );
  }
  for (const error of summary.recordErrors) lines.push(`bad record ${escapeUnshowable(error)}`);
  return `${lines.join('\n')}\n`;
}

/** A one-line progress bar for long runs on a terminal. */
export function progressLine(done: number, total: number): string {
  const width = 30;
  const filled = total ? Math.round((done / total) * width) : width;
  return `\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total} files`;
}
