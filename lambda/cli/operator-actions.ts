/**
 * The operator commands' actions (loaded on demand, with the AWS SDK): build the context from the options, do the
 * work in lambda/ops, print tables or JSON Lines on standard output and a summary on standard error, and turn AWS
 * errors into messages that say what to fix.
 */

import { createInterface } from 'node:readline';
import { commandsNotKept } from '../alerts/kept-commands';
import { aliasArn, isAliasArn, keyArn, parseArn } from '../core/arn';
import { KeydriftError } from '../core/errors';
import { toIsoSeconds } from '../core/time';
import type { Severity } from '../core/types';
import {
  type AwsOptions,
  closeOpsContext,
  configuredEndpoints,
  createOpsContext,
  explainAwsError,
  type OpsContext,
} from '../ops/aws';
import { parseSince, parseUntil, type StoredFinding } from '../ops/drift';
import { OperatorError } from '../ops/errors';
import {
  type AcceptResult,
  acceptBaselines,
  applyAdopt,
  ChangedMeanwhileError,
  findings,
  type PagerNotice,
  planAdopt,
  requireKnownResource,
  requireOwnResource,
  resolveTargets,
  showBaselines,
  status,
  tellPagerAboutAccepts,
} from '../ops/operations';
import { CUSTOM_KEY_STORE_ARN, isTargetName, TARGET_FORMS } from '../ops/targets';
import { clean, formatJsonLines, formatTable } from './format';
import {
  adoptCounts,
  formatAccepted,
  formatAdopted,
  formatBaselines,
  formatStatus,
  jsonLines,
  type TableOptions,
} from './operator-format';

export interface CommonFlags extends AwsOptions {
  format: 'table' | 'json';
}

export interface FindingsFlags extends CommonFlags {
  since: string;
  until?: string;
  severity: Severity;
  resource?: string;
  limit?: number;
}

export interface AcceptFlags extends CommonFlags {
  reason?: string;
}

export interface AdoptFlags extends AcceptFlags {
  yes?: boolean;
}

/** As lambda/cli/main.ts: 0 done, 1 nothing shown or declined, 2 usage error or AWS not usable. */
const EXIT = { ok: 0, none: 1, usage: 2 } as const;

function tableOptions(): TableOptions {
  const tty = !!process.stdout.isTTY;
  return { color: tty && !process.env.NO_COLOR, columns: tty ? process.stdout.columns : undefined };
}

const out = (text: string) => process.stdout.write(text);
const note = (text: string) => process.stderr.write(`${text}\n`);

/**
 * Runs one command with a fresh context, and closes its clients. What went wrong with AWS or keydrift's table is
 * printed as one line saying what to fix, with exit status 2 (here: this module is a bundle of its own, so main's
 * `instanceof KeydriftError` would not recognise its errors); anything else is a bug and is thrown.
 */
async function withContext(flags: CommonFlags, work: (context: OpsContext) => Promise<number>): Promise<number> {
  let context: OpsContext | undefined;
  try {
    context = await createOpsContext(flags);
    return await work(context);
  } catch (error) {
    const explained = explainAwsError(error, {
      options: flags,
      region: context?.region,
      table: context?.knownTableName(),
      endpoints: configuredEndpoints(flags, process.env),
    });
    if (!(explained instanceof KeydriftError)) throw explained;
    process.stderr.write(`keydrift: ${explained.message}\n`);
    return EXIT.usage;
  } finally {
    if (context) closeOpsContext(context);
  }
}

/**
 * Says how many accepted resources the pager was told about (it resolves their open incidents), and, when that
 * failed, that the baselines are accepted all the same and which resources' incidents need resolving by hand.
 */
function reportPagerNotice(notice: PagerNotice, flags: CommonFlags, context: OpsContext): void {
  if (notice.told.length > 0) {
    note(
      `keydrift: told the page topic that ${notice.told.length} resource(s) are approved as they are now ` +
        '(the pager resolves their open incidents)',
    );
  }
  if (notice.topicUnknown) {
    note(
      'keydrift: baselines accepted; with --table (or KEYDRIFT_TABLE) keydrift does not look up the stack, so it ' +
        `does not know the page topic and told no pager: resolve the open PagerDuty incidents of ${notice.untold.join(', ')} by hand`,
    );
    return;
  }
  if (notice.failed === undefined) return;
  const explained = explainAwsError(notice.failed, {
    options: flags,
    region: context.region,
    endpoints: configuredEndpoints(flags, process.env),
  });
  const reason = explained instanceof Error ? explained.message : String(explained);
  note(
    `keydrift: baselines accepted, but the page topic could not be told (${reason}): resolve the open ` +
      `PagerDuty incidents of ${notice.untold.join(', ')} by hand`,
  );
}

export function runStatus(flags: CommonFlags): Promise<number> {
  return withContext(flags, async (context) => {
    const report = await status(context);
    out(flags.format === 'json' ? jsonLines(report.drift) : formatStatus(report, tableOptions()));
    // Nothing baselined is no all-clear (a first reconcile that failed looks the same): exit 1, as `baseline show`
    // does for a key with no baseline yet.
    if (report.compared + report.withoutState === 0) {
      note(
        `keydrift status: nothing has a baseline yet, so nothing was compared` +
          (report.withoutBaseline ? ` (${report.withoutBaseline} resource(s) seen without one)` : '') +
          `: run keydrift baseline adopt (table ${context.knownTableName()}, ${context.region})`,
      );
      return EXIT.none;
    }
    note(
      `keydrift status: ${report.drift.length} of ${report.compared} baselined resource(s) drifted` +
        (report.withoutState
          ? `; ${report.withoutState} other baselined resource(s) not compared: no stored state yet (the next reconcile run stores it)`
          : '') +
        (report.withoutBaseline
          ? `; ${report.withoutBaseline} seen without a baseline (keydrift baseline adopt records them)`
          : '') +
        ` (table ${context.knownTableName()}, ${context.region})`,
    );
    return EXIT.ok;
  });
}

/**
 * The resources `findings --resource` names: none without it. `asTyped` when nothing vouched for the name (an ARN taken
 * as it is, an alias KMS does not know), as KMS does for what it resolves.
 */
async function findingsResources(
  context: OpsContext,
  name: string | undefined,
): Promise<{ resources: string[]; asTyped: boolean }> {
  if (!name) return { resources: [], asTyped: false };
  // Checked before any AWS call: an ARN of anything else (an S3 bucket, a key ARN with a stray character) would be
  // read as a resource with no findings, exit 0, as if nothing had happened to it.
  // A custom key store has findings too (created, connected, deleted), under the ARN keydrift names it by.
  const store = CUSTOM_KEY_STORE_ARN.test(name);
  if (!isTargetName(name) && !store) {
    throw new OperatorError(`not a KMS key, alias or trail: ${name} (expected ${TARGET_FORMS})`);
  }
  if (name.startsWith('arn:')) await requireOwnResource(context, name);
  const alias = name.startsWith('alias/') || isAliasArn(name);
  if (name.startsWith('arn:') && !alias) return { resources: [name], asTyped: true };
  try {
    const targets = await resolveTargets(context, name);
    return { resources: alias ? targets.map((t) => t.arn) : [targets[0].arn], asTyped: false };
  } catch (error) {
    // An alias or key KMS no longer knows (deleted, or gone with its key), whose only trace may be its findings, is
    // what one investigates: its own findings, under the ARN the name gives in the caller's account.
    if (!(error instanceof OperatorError)) throw error;
    if (name.startsWith('arn:')) return { resources: [name], asTyped: true };
    const account = parseArn(await context.identity())?.account ?? '';
    return {
      resources: [alias ? aliasArn(context.region, account, name) : keyArn(context.region, account, name)],
      asTyped: true,
    };
  }
}

/**
 * A finding as the findings table shows it: one an ignore rule kept out of alerts says so after its summary (JSON has
 * `ignoredBy`), or it would read as drift someone was told of; an accept given a reason says why (`acceptReason`).
 * One whose commands were too many to keep with it (JSON lists `/remediation` under `truncated`) says so where they
 * would be, with the reads to work them out from, rather than showing none as if nothing were to be undone.
 */
const withNotes = (finding: StoredFinding): StoredFinding => {
  const notes = [
    ...(finding.acceptReason ? [`(reason: ${finding.acceptReason})`] : []),
    ...(finding.ignoredBy ? [`(kept out of alerts: ${finding.ignoredBy})`] : []),
  ];
  const noted = notes.length ? { ...finding, summary: [finding.summary, ...notes].join(' ') } : finding;
  const truncated = finding.truncated ?? [];
  if (!truncated.includes('/remediation')) return noted;
  // A change left out whole leaves no attribute names: the approved state is still there to compare with.
  const attributes = truncated.includes('/changes') ? [] : Object.keys(finding.changes);
  return { ...noted, remediation: [commandsNotKept(finding, attributes)] };
};

export function runFindings(flags: FindingsFlags): Promise<number> {
  return withContext(flags, async (context) => {
    const nowMs = Date.now();
    const sinceMs = parseSince(flags.since, nowMs) ?? nowMs;
    const untilMs = flags.until === undefined ? undefined : parseUntil(flags.until, nowMs);
    // A key or trail ARN of this table's Region and account is taken as it is; a key id is resolved to its key's ARN
    // (through the table for a key KMS no longer knows); an alias, by name or ARN, to the alias and its key, as
    // `baseline show` names both.
    const { resources, asTyped } = await findingsResources(context, flags.resource);
    // JSON Lines are written as they are read, none held; the table waits for them all (its EVENT column is as wide
    // as the longest name shown). Once the reader is gone (`| head`: EPIPE), no more is read, nor anything said.
    let closed = false;
    const onClosed = (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') closed = true;
    };
    process.stdout.on('error', onClosed);
    const list: StoredFinding[] = [];
    let count = 0;
    try {
      const parts = findings(context, {
        sinceMs,
        untilMs,
        nowMs,
        minSeverity: flags.severity,
        resources,
        limit: flags.limit,
      });
      for await (const part of parts) {
        if (closed) break;
        count += part.length;
        if (flags.format === 'json') out(formatJsonLines(part));
        // One by one: a busy day holds more findings than a call takes arguments.
        else for (const finding of part) list.push(finding);
      }
    } finally {
      process.stdout.off('error', onClosed);
    }
    if (closed) return EXIT.ok;
    // A name nothing vouched for, that the table holds nothing of either, is mistyped: no "No findings" for it.
    if (asTyped && count === 0) await requireKnownResource(context, resources[0], flags.resource);
    const scope =
      `since ${toIsoSeconds(sinceMs)}` +
      (untilMs !== undefined ? ` until ${toIsoSeconds(untilMs)}` : '') +
      (flags.severity !== 'info' ? `, severity ${flags.severity} or worse` : '') +
      (resources.length ? `, resource ${resources.join(' and ')}` : '');
    if (flags.format === 'table') {
      out(list.length === 0 ? `No findings ${scope}.\n` : formatTable(list.map(withNotes), tableOptions()));
    }
    note(
      `keydrift findings: ${count} finding(s) ${scope}${flags.limit && count >= flags.limit ? ` (first ${flags.limit})` : ''}`,
    );
    return EXIT.ok;
  });
}

export function runBaselineShow(key: string, flags: CommonFlags): Promise<number> {
  return withContext(flags, async (context) => {
    const targets = await resolveTargets(context, key);
    const views = await showBaselines(context, targets, Date.now());
    out(flags.format === 'json' ? jsonLines(views) : formatBaselines(views, tableOptions()));
    // What was named decides: named by alias, the alias (its key's baseline, shown too, is another resource's).
    const named = views.find((v) => v.kind === 'alias') ?? views[0];
    if (named?.baseline) return EXIT.ok;
    const keyHasOne = named?.kind === 'alias' && views.some((v) => v.kind === 'key' && v.baseline);
    note(
      `keydrift: no baseline recorded for ${key} yet${keyHasOne ? ' (the key it points to has one, shown too)' : ''}: ` +
        `keydrift baseline accept ${key} records its live state`,
    );
    return EXIT.none;
  });
}

export function runBaselineAccept(key: string, flags: AcceptFlags): Promise<number> {
  return withContext(flags, async (context) => {
    const targets = await resolveTargets(context, key);
    const print = (results: AcceptResult[]) =>
      out(flags.format === 'json' ? jsonLines(results) : formatAccepted(results, tableOptions()));
    const results = await acceptingAll(context, flags, print, () =>
      acceptBaselines(context, targets, Date.now(), flags.reason),
    );
    print(results);
    reportPagerNotice(await tellPagerAboutAccepts(context, results), flags, context);
    return EXIT.ok;
  });
}

/**
 * Runs an accept; when some resources changed meanwhile, the others, which were written, are printed and the page
 * topic hears of them, before the error says which to accept again.
 */
export async function acceptingAll(
  context: OpsContext,
  flags: CommonFlags,
  print: (results: AcceptResult[]) => void,
  accept: () => Promise<AcceptResult[]>,
): Promise<AcceptResult[]> {
  try {
    return await accept();
  } catch (error) {
    if (error instanceof ChangedMeanwhileError && error.accepted.length > 0) {
      print(error.accepted);
      reportPagerNotice(await tellPagerAboutAccepts(context, error.accepted), flags, context);
    }
    throw error;
  }
}

/** Asks a yes/no question on the terminal; anything but y or yes, Ctrl-C and Ctrl-D mean no. */
function confirm(question: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  return new Promise<boolean>((resolve) => {
    prompt.on('SIGINT', () => {
      process.stderr.write('\n');
      prompt.close();
    });
    prompt.on('close', () => resolve(false));
    prompt.question(question, (answer) => {
      resolve(/^y(es)?$/i.test(answer.trim()));
      prompt.close();
    });
  });
}

export async function runBaselineAdopt(flags: AdoptFlags): Promise<number> {
  // Only a person can approve without --yes: a script that left it out must not approve whatever the live state is
  // now (an attacker's changes too) as the baseline. Refused before any AWS call.
  if (!flags.yes && !process.stdin.isTTY) {
    note(
      'keydrift baseline adopt: nothing accepted: standard input is not a terminal, so there is no one to ask; ' +
        'pass --yes to accept without asking',
    );
    return EXIT.usage;
  }
  return withContext(flags, async (context) => {
    const progress = process.stderr.isTTY
      ? (done: number, total: number) => process.stderr.write(`\rreading ${done}/${total} keys and aliases…`)
      : undefined;
    const plan = await planAdopt(context, Date.now, progress, flags.reason);
    if (progress) process.stderr.write('\r\u001b[K');
    const pending = plan.results.filter((r) => r.written).length;
    const where = `table ${plan.tableName} (${context.region})`;
    const why = flags.reason ? `, for: ${clean(flags.reason)}` : '';
    const skipped = plan.inventory.skippedAwsManaged
      ? `; ${plan.inventory.skippedAwsManaged} AWS-managed key(s) skipped`
      : '';
    const print = (results: AcceptResult[]) =>
      out(flags.format === 'json' ? jsonLines(results) : formatAdopted(results, tableOptions()));
    if (pending === 0) {
      print(plan.results);
      note(
        `keydrift baseline adopt: nothing to accept, every baseline matches the live state (${adoptCounts(plan.results)})${skipped}`,
      );
      return EXIT.ok;
    }
    const ask = !flags.yes;
    if (ask) {
      if (flags.format === 'table') print(plan.results);
      const agreed = await confirm(
        `Accept the live state of ${pending} resource(s) as their baselines in ${where}, as ${plan.acceptedBy}${why} ` +
          `(${adoptCounts(plan.results)})? [y/N] `,
      );
      if (!agreed) {
        note('keydrift baseline adopt: nothing accepted');
        return EXIT.none;
      }
    }
    const results = await acceptingAll(context, flags, print, () => applyAdopt(context, plan, Date.now()));
    if (!ask || flags.format === 'json') print(results);
    reportPagerNotice(await tellPagerAboutAccepts(context, results), flags, context);
    note(
      `keydrift baseline adopt: accepted ${pending} baseline(s) in ${where} as ${plan.acceptedBy}${why} ` +
        `(${adoptCounts(plan.results)})${skipped}`,
    );
    return EXIT.ok;
  });
}
