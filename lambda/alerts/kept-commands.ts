/**
 * Where an alert sends the reader for the commands it cannot show. `keydrift findings` lists them as keydrift keeps
 * the finding; but a finding too large for a table item (a key found with some 1,200 grants or more, one revoke-grant
 * command each) is kept as its EventBridge copy, which may replace the commands by their SHA-256. Then no copy of them
 * is left to point at, and the alert names the reads that show the live state and the approved one instead.
 */

import { parseArn, resourceKindOf } from '../core/arn';
import { comment, readCommand, shellQuote } from '../core/remediation';
import type { AttributeChange, Finding } from '../core/types';
import { storedFinding } from './event-entry';
import { findingsCommand, UNSAFE_IN_COMMAND } from './values';

/** Where the commands an alert leaves out are. */
export interface CommandsElsewhere {
  /** Whether keydrift's table keeps the finding's commands (`keydrift findings` lists them). */
  kept: boolean;
  /** Ends a `# a N-character command does not fit here: ` line. */
  whole: string;
  /** Ends a `N more commands not shown` line (from its punctuation on), each command given through `show`. */
  rest(show?: (command: string) => string): string;
}

/** The finding keeps its commands in keydrift's table: true unless its stored copy replaced them. */
export function remediationKept(finding: Finding): boolean {
  return !storedFinding(finding).replaced.includes('/remediation');
}

/** Where to find the commands an alert does not show, as keydrift keeps the finding (see above). */
export function commandsElsewhere(finding: Finding): CommandsElsewhere {
  const verbatim = (command: string) => command;
  if (remediationKept(finding)) {
    const findings = findingsCommand(finding);
    return {
      kept: true,
      whole: `${findings} shows it whole`,
      rest: (show = verbatim) => `: ${show(findings)} lists them all`,
    };
  }
  const reads = stateReads(finding, Object.keys(finding.changes));
  const listed = (show: (command: string) => string) =>
    reads.map(({ command, gives }) => `${show(command)} ${gives}`).join(', ');
  return {
    kept: false,
    whole: `keydrift kept no copy of it (too many commands): ${listed(verbatim)}`,
    rest: (show = verbatim) => `, too many for keydrift to keep: ${listed(show)}`,
  };
}

/**
 * The reads from which the undo can be worked out: the live value of each attribute (`aws kms list-grants` for
 * grants) and the approved one (`keydrift baseline show`). They go in `#` lines too: the resource is named when it can
 * be pasted as it is, else by placeholders that are words, as in {@link findingsCommand}.
 */
export function stateReads(
  finding: Pick<Finding, 'resource' | 'region'>,
  attributes: string[],
): Array<{ command: string; gives: string }> {
  const region = parseArn(finding.resource)?.region || finding.region;
  const pastable = !UNSAFE_IN_COMMAND.test(finding.resource) && !UNSAFE_IN_COMMAND.test(region);
  const arn = pastable ? finding.resource : 'RESOURCE_ARN';
  const where = pastable ? shellQuote(region) : 'REGION';
  const kind = resourceKindOf(finding.resource);
  const attributesByRead = new Map<string, string[]>();
  // Attribute names are the core's own (`grants`, `key_state`): words, never a record's text.
  for (const attribute of attributes.filter((name) => /^\w+$/.test(name))) {
    const read = readCommand(kind, arn, where, attribute);
    attributesByRead.set(read, [...(attributesByRead.get(read) ?? []), attribute.replace(/_/g, ' ')]);
  }
  const live = [...attributesByRead].map(([command, names]) => ({
    command,
    gives: `shows the live ${names.join(', ')}`,
  }));
  const baseline = `keydrift baseline show ${shellQuote(arn)} --region ${where}`;
  return [...live, { command: baseline, gives: live.length ? 'the approved ones' : 'shows the approved state' }];
}

/**
 * The line that stands for a finding's commands where keydrift kept no copy of them (`keydrift findings` shows it in
 * their place): the reads to work them out from.
 */
export function commandsNotKept(finding: Pick<Finding, 'resource' | 'region'>, attributes: string[]): string {
  const reads = stateReads(finding, attributes).map(({ command, gives }) => `${command} ${gives}`);
  return comment(`its commands were too many to keep with the finding: ${reads.join(', ')}`);
}

/**
 * A finding read back from keydrift's table, as the alerts can read it: a copy shortened to fit an item (`truncated`
 * lists what it replaced) holds stand-ins (`{ truncated, sha256, bytes }`) where its largest values were, even its
 * commands, reasons or changes. A retry sending again the finding an earlier attempt saved sends this instead: commands
 * left out become the line `keydrift findings` shows, reasons or an error left out are none, a change left out whole
 * goes from unknown to its stand-in, and the whole map left out is no change named. Stand-ins of values stay, shown as
 * they are, and so does `truncated`.
 */
export function alertableStoredFinding(stored: Finding): Finding {
  if (!Array.isArray((stored as { truncated?: unknown }).truncated)) return stored;
  const isObject = (value: unknown): value is Record<string, unknown> =>
    typeof value === 'object' && value !== null && !Array.isArray(value);
  const finding: Finding = { ...stored };
  const changes: Record<string, unknown> =
    isObject(stored.changes) && (stored.changes as Record<string, unknown>).truncated !== true ? stored.changes : {};
  finding.changes = Object.fromEntries(
    Object.entries(changes).map(([attribute, change]): [string, AttributeChange] =>
      isObject(change) && change.truncated !== true
        ? [attribute, change as AttributeChange]
        : [attribute, { before: null, after: change }],
    ),
  );
  if (!Array.isArray(stored.remediation)) {
    finding.remediation = [commandsNotKept(stored, Object.keys(finding.changes))];
  }
  if (stored.reasons !== undefined && !Array.isArray(stored.reasons)) delete finding.reasons;
  if (stored.error !== undefined && typeof stored.error?.code !== 'string') delete finding.error;
  return finding;
}
