/**
 * keydrift's deployment configuration: what the CDK app reads from the `keydrift` context key and what the
 * {@link Keydrift} construct accepts. Validation fails early, at synth, with a message naming the bad field,
 * because a wrong value here otherwise surfaces as a silent gap in alerting after deployment.
 */
import { Token } from 'aws-cdk-lib';
import { z } from 'zod';
import {
  type DetectionConfig,
  type IgnoreRule,
  OVERRIDABLE_NAMES,
  overrideNameProblem,
  parseDetectionConfig,
} from '../lambda/core/config';
import { ConfigError } from '../lambda/core/errors';
import { SEVERITIES, type Severity } from '../lambda/core/types';

/** Slack channel that receives chat alerts through Amazon Q Developer in chat applications (AWS Chatbot). */
export interface SlackTarget {
  /** Workspace ID (`T…`), shown in the Chatbot console once the workspace has been authorized there. */
  readonly workspaceId: string;
  /** Channel ID (`C…`), from the channel's details in Slack. */
  readonly channelId: string;
}

/** Configuration as a user writes it: every field is optional and the defaults are listed per field. */
export interface KeydriftProps {
  /**
   * E-mail addresses subscribed to the `email`, `ops` and `last-resort` topics (each must confirm by clicking a
   * link). Each may be a CDK token (a parameter's value, for one); so may the Slack IDs and the secret name. The other
   * fields are checked at synth and must be written out.
   * @default []
   */
  readonly alertEmails?: string[];
  /**
   * Slack channel for the `chat`, `ops` and `last-resort` topics.
   * @default - no Slack integration
   */
  readonly slack?: SlackTarget;
  /**
   * Name (not ARN) of a Secrets Manager secret holding the PagerDuty Events API v2 routing key. When set, a
   * `pager` function forwards the `page` topic, and the critical findings of the `ops` and `last-resort` topics, to
   * PagerDuty.
   * @default - no paging
   */
  readonly pagerDutySecretName?: string;
  /**
   * IAM role or user ARNs whose changes are planned: they update the baseline instead of raising drift. An
   * assumed-role session matches its role.
   * @default []
   */
  readonly plannedPrincipals?: string[];
  /**
   * Severity per event name or status (`denied`, `planned`, `resolved`), replacing the defaults in DESIGN.md
   * (e.g. `{ "TagResource": "info", "denied": "error" }`). An escalation rule's id is refused: its severity is fixed.
   * @default {}
   */
  readonly severityOverrides?: Record<string, Severity>;
  /**
   * Lowest severity published to the alert topics; lower ones go to history, logs and metrics only.
   * @default 'error'
   */
  readonly alertMinSeverity?: Severity;
  /**
   * Findings to drop: each rule gives at least one of `event`, `resource`, `user` (`*` is a wildcard) and
   * optionally a `reason`; a finding matching every field a rule gives is kept in history but not alerted (the pager
   * still resolves the incidents keydrift opened that it closes, and opens none for it).
   * Validated by the detection core's own parser (lambda/core/config.ts), as `keydrift replay --config` does.
   * @default []
   */
  readonly ignore?: IgnoreRule[];
  /**
   * KMS key ARNs known to encrypt a trail whose creation keydrift has not seen, for the escalations that protect
   * trail keys. Validated by the detection core's own parser.
   * @default []
   */
  readonly trailKeys?: string[];
  /**
   * Create a multi-Region CloudTrail trail for management events. Off by default because most accounts
   * already have one (often an organization trail) and a second copy of management events is billed. The trail
   * covers every Region: set this in one Region's stack only.
   * @default false
   */
  readonly createTrail?: boolean;
  /**
   * EventBridge schedule expression for the reconciler (`rate(…)` or `cron(…)`).
   * @default 'rate(6 hours)'
   */
  readonly reconcileSchedule?: string;
}

/** Validated configuration with every default applied. */
export interface KeydriftConfig {
  readonly alertEmails: string[];
  readonly slack?: SlackTarget;
  readonly pagerDutySecretName?: string;
  readonly plannedPrincipals: string[];
  readonly severityOverrides: Record<string, Severity>;
  readonly alertMinSeverity: Severity;
  readonly ignore: IgnoreRule[];
  readonly trailKeys: string[];
  readonly createTrail: boolean;
  readonly reconcileSchedule: string;
}

/** What a severity override can target: the same names the detector accepts, so a typo fails at synth. */
export { OVERRIDABLE_NAMES };

// Role or user ARN, with an optional IAM path; sessions (`arn:aws:sts::…:assumed-role/…`) are rejected because
// planned principals match the issuing role. A path must end in a name: `role/deployer/` would match no session.
const PRINCIPAL_ARN = /^arn:aws[-a-z]*:iam::\d{12}:(role|user)\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]+$/;
// Patterns of CloudFormation's AWS::Chatbot::SlackChannelConfiguration, so a bad ID fails at synth, not deploy.
const SLACK_WORKSPACE_ID = /^[0-9A-Z]{1,255}$/;
const SLACK_CHANNEL_ID = /^[A-Za-z0-9]+$/;
// Secrets Manager's name alphabet; an ARN contains ':' and is rejected here on purpose.
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const CRON = /^cron\(([^()\s]+ ){5}[^()\s]+\)$/;
/** A rarer schedule outlasts the heartbeat alarm's longest window (7 days for two runs). */
const MAX_RATE_MINUTES = 3 * 24 * 60;
/** The most days a cron() schedule may leave between the days it runs, for the same reason. */
export const MAX_CRON_GAP_DAYS = 3;

/** The interval of a `rate(…)` schedule in minutes; undefined for anything else (a cron). */
export function rateMinutes(schedule: string): number | undefined {
  const rate = RATE.exec(schedule);
  return rate ? Number(rate[1]) * { m: 1, h: 60, d: 24 * 60 }[rate[2][0] as 'm' | 'h' | 'd'] : undefined;
}

/** EventBridge's day-of-week names; 1 is Sunday. */
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** A day-of-week value (1–7 or SUN–SAT) as 1–7; undefined when it is neither. */
function weekday(value: string): number | undefined {
  if (/^[1-7]$/.test(value)) return Number(value);
  const index = WEEKDAYS.indexOf(value.toUpperCase());
  return index < 0 ? undefined : index + 1;
}

/**
 * The days of the week a day-of-week field names (`*`, a day, a range `MON-FRI`, or a list of those), as 1–7; a
 * string saying why when it is anything else (`L`, `#`, `/`, a range that runs backwards).
 */
function weekdays(field: string): number[] | string {
  if (field === '*') return [1, 2, 3, 4, 5, 6, 7];
  const days = new Set<number>();
  for (const part of field.split(',')) {
    const bounds = part.split('-');
    const [first, last] = bounds.map(weekday);
    if (bounds.length > 2 || first === undefined || (bounds.length === 2 && last === undefined)) {
      return `"${part}" is not a day (1-7 or SUN-SAT) or a range of days: only *, days, ranges and lists of them show how far apart the runs are`;
    }
    const end = last ?? first;
    if (end < first) return `"${part}" runs backwards: write it as a list, like FRI,SAT,SUN,MON`;
    for (let day = first; day <= end; day++) days.add(day);
  }
  return [...days].sort((a, b) => a - b);
}

/** The longest run of days between two consecutive days of the week in `days` (sorted 1–7), wrapping over Sunday. */
function longestGap(days: readonly number[]): { days: number; from: number; to: number } {
  let longest = { days: 0, from: days[0], to: days[0] };
  days.forEach((day, i) => {
    const next = days[(i + 1) % days.length];
    const gap = (next - day + 7) % 7 || 7;
    if (gap > longest.days) longest = { days: gap, from: day, to: next };
  });
  return longest;
}

/**
 * The most days a `cron(…)` schedule can leave between two of its runs (1 when it runs every day), or why keydrift
 * cannot tell or would not accept it: a schedule that runs on some days of the month, in some months or some years,
 * or more than {@link MAX_CRON_GAP_DAYS} days apart. Undefined for anything that is not a cron with six fields.
 */
export function cronGapDays(schedule: string): { days: number } | { problem: string } | undefined {
  if (!CRON.test(schedule)) return undefined;
  const [, , dayOfMonth, month, dayOfWeek, year] = schedule.slice(5, -1).split(' ');
  const rarer = `which leaves more than ${MAX_CRON_GAP_DAYS} days between runs: the reconcile heartbeat alarm cannot watch it`;
  if (month !== '*') return { problem: `has month (4th field) "${month}": it skips months, ${rarer}` };
  if (year !== '*') return { problem: `has year (6th field) "${year}": it stops running after it, ${rarer}` };
  if (dayOfMonth !== '*' && dayOfMonth !== '?') {
    return {
      problem: `has day-of-month (3rd field) "${dayOfMonth}": it runs on some days of the month only, ${rarer} (use * or ?, or name days of the week)`,
    };
  }
  if (dayOfWeek === '?') return { days: 1 };
  const days = weekdays(dayOfWeek);
  if (typeof days === 'string') return { problem: `has day-of-week (5th field) "${dayOfWeek}": ${days}` };
  const gap = longestGap(days);
  if (gap.days > MAX_CRON_GAP_DAYS) {
    const name = (day: number) => WEEKDAYS[day - 1];
    return {
      problem: `has day-of-week (5th field) "${dayOfWeek}", which leaves ${gap.days} days between runs (${name(gap.from)} to ${name(gap.to)}), more than the ${MAX_CRON_GAP_DAYS} days the reconcile heartbeat alarm can watch`,
    };
  }
  return { days: gap.days };
}

/** A cron minutes or hours field EventBridge would refuse at deploy: values (`5`, `0-30`, `0/15`, lists) 0 to `max`. */
function timeFieldProblem(field: string, name: string, max: number): string | undefined {
  const valid = field.split(',').every((part) => {
    const item = /^(?:\*|(\d{1,2})(?:-(\d{1,2}))?)(?:\/(\d{1,2}))?$/.exec(part);
    if (!item) return false;
    const [from, to, step] = [item[1], item[2], item[3]].map((value) =>
      value === undefined ? undefined : Number(value),
    );
    return (from ?? 0) <= max && (to ?? 0) <= max && (step === undefined || (step >= 1 && step <= max + 1));
  });
  return valid ? undefined : `has ${name} "${field}": it takes values from 0 to ${max}`;
}

/** What EventBridge would refuse in a schedule expression, or what keydrift's heartbeat alarm cannot watch. */
function scheduleProblem(schedule: string): string | undefined {
  const rate = RATE.exec(schedule);
  if (rate) {
    const [count, unit] = [Number(rate[1]), rate[2]];
    if (count < 1) return 'must run at least every 1 unit: rate(0 …) never runs';
    if ((count === 1) !== !unit.endsWith('s'))
      return `says ${unit} for ${count}: EventBridge wants rate(1 hour), rate(6 hours)`;
    if ((rateMinutes(schedule) ?? 0) > MAX_RATE_MINUTES)
      return 'is rarer than every 3 days, which the reconcile heartbeat alarm cannot watch';
    return undefined;
  }
  if (!CRON.test(schedule)) return 'is not a schedule expression like rate(6 hours) or cron(0 6 * * ? *)';
  const fields = schedule.slice(5, -1).split(' ');
  const time =
    timeFieldProblem(fields[0], 'minutes (1st field)', 59) ?? timeFieldProblem(fields[1], 'hours (2nd field)', 23);
  if (time) return time;
  if ((fields[2] === '?') === (fields[4] === '?')) {
    return 'needs ? in exactly one of day-of-month and day-of-week (the 3rd and 5th fields), like cron(0 6 * * ? *)';
  }
  const gap = cronGapDays(schedule);
  return gap && 'problem' in gap ? gap.problem : undefined;
}

/**
 * A value that only CloudFormation needs (an e-mail subscription, the Slack IDs, the secret's name) may be a CDK token,
 * such as a CfnParameter's or an SSM parameter's value: it is resolved at deploy and cannot be checked at synth, so it
 * is taken as given. A literal value is checked by `literal`.
 */
function literalOrToken(literal: z.ZodType<string>) {
  return z.string().superRefine((value, ctx) => {
    if (Token.isUnresolved(value)) return;
    for (const issue of literal.safeParse(value).error?.issues ?? []) {
      ctx.addIssue({ code: 'custom', input: value, message: issue.message });
    }
  });
}

/** An element of a CDK list token (`Fn.split`, a CommaDelimitedList parameter): one string standing for a whole list. */
const LIST_TOKEN = /^#\{Token\[[^\]]+\]\}$/;

/**
 * The CDK tokens in a detection setting as given (`ignore`, `trailKeys`), with where each is: strings the core's parser
 * would take as they are (any text is a valid ignore rule's field), but that the functions would read as the JSON
 * CloudFormation makes of them at deploy, unchecked.
 */
function tokensIn(value: unknown, path: PropertyKey[] = []): Array<{ path: PropertyKey[]; input: string }> {
  if (typeof value === 'string') {
    return Token.isUnresolved(value) || LIST_TOKEN.test(value) ? [{ path, input: value }] : [];
  }
  if (Array.isArray(value)) return value.flatMap((item, i) => tokensIn(item, [...path, i]));
  // A token standing for a whole object (Token.asAny) is named by its string form.
  if (Token.isUnresolved(value)) return [{ path, input: String(value) }];
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, item]) => tokensIn(item, [...path, key]));
  }
  return [];
}

const severity = z.enum(SEVERITIES, { error: `is not one of ${SEVERITIES.join(', ')}` });

/**
 * A detection setting the core defines (`ignore`, `trailKeys`), validated by the core's own parser so that the stack
 * accepts exactly what the functions will; each problem is reported under the field as the core words it.
 */
function detectionSetting<K extends 'ignore' | 'trailKeys'>(field: K) {
  return z
    .custom<DetectionConfig[K]>()
    .optional()
    .transform((value, ctx): DetectionConfig[K] => {
      const tokens = tokensIn(value);
      for (const token of tokens) ctx.addIssue({ code: 'custom', message: 'is a CDK token', ...token });
      if (tokens.length > 0) return z.NEVER;
      try {
        return parseDetectionConfig({ [field]: value })[field];
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        // After its first line, the core's message lists one problem a line: `ignore[0].event: Too small: …`.
        for (const problem of error.message.split('\n').slice(1)) {
          ctx.addIssue({ code: 'custom', message: problem.trim(), params: { fromCore: true } });
        }
        return z.NEVER;
      }
    });
}

const schema = z.strictObject({
  alertEmails: z
    .array(literalOrToken(z.email({ error: 'is not an e-mail address' })))
    .default([])
    .superRefine((emails, ctx) => {
      emails.forEach((email, i) => {
        const first = emails.indexOf(email);
        if (first === i) return;
        if (!Token.isUnresolved(email)) {
          ctx.addIssue({ code: 'custom', path: [i], input: email, message: 'is listed twice' });
          return;
        }
        // The same parameter twice is the same address twice; its placeholder text means nothing to the reader.
        const message = `is listed twice (the same CDK token as alertEmails[${first}])`;
        ctx.addIssue({ code: 'custom', path: [i], input: email, message, params: { tokenAllowed: true } });
      });
    }),
  slack: z
    .strictObject({
      workspaceId: literalOrToken(
        z
          .string()
          .regex(
            SLACK_WORKSPACE_ID,
            'is not a Slack workspace ID (like T07EA123LEP: authorize the workspace in the chat applications console, then copy its ID)',
          ),
      ),
      channelId: literalOrToken(z.string().regex(SLACK_CHANNEL_ID, 'is not a Slack channel ID (like C07EZ1ABC23)')),
    })
    .optional(),
  pagerDutySecretName: literalOrToken(
    z.string().regex(SECRET_NAME, 'is not a Secrets Manager secret name (give the name, not the ARN)'),
  ).optional(),
  plannedPrincipals: z
    .array(z.string().regex(PRINCIPAL_ARN, 'is not an IAM role or user ARN (arn:aws:iam::111122223333:role/NAME)'))
    .default([]),
  severityOverrides: z
    .record(z.string(), severity)
    .default({})
    .superRefine((overrides, ctx) => {
      for (const name of Object.keys(overrides)) {
        const problem = overrideNameProblem(name);
        if (problem) ctx.addIssue({ code: 'custom', path: [name], input: name, message: problem });
      }
    }),
  alertMinSeverity: severity.default('error'),
  ignore: detectionSetting('ignore'),
  trailKeys: detectionSetting('trailKeys'),
  createTrail: z.boolean({ error: 'must be true or false' }).default(false),
  reconcileSchedule: z
    .string()
    .superRefine((schedule, ctx) => {
      const problem = scheduleProblem(schedule);
      if (problem) ctx.addIssue({ code: 'custom', input: schedule, message: problem });
    })
    .default('rate(6 hours)'),
});

// Compile-time check that the schema and the documented interfaces describe the same shape.
const typedSchema: z.ZodType<KeydriftConfig, KeydriftProps> = schema;

/** `alertEmails[1]`, `slack.channelId`, `severityOverrides["KMS CMK Deletion"]`. */
function fieldName(path: readonly PropertyKey[]): string {
  return path
    .map((part, i) => {
      if (typeof part === 'number') return `[${part}]`;
      const name = String(part);
      if (/^[A-Za-z_$][\w$]*$/.test(name)) return i === 0 ? name : `.${name}`;
      return `[${JSON.stringify(name)}]`;
    })
    .join('');
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const field = fieldName(issue.path);
  const input = (issue as { input?: unknown }).input;
  // A problem other than being a token, of a field that takes tokens.
  if (issue.code === 'custom' && issue.params?.tokenAllowed) return `${field} ${issue.message}`;
  if (typeof input === 'string' && LIST_TOKEN.test(input)) {
    return `${fieldName(issue.path.slice(0, -1))} is a CDK list token, which keydrift cannot read at synth: give an array of strings`;
  }
  // The detection settings are checked at synth and read by the functions as JSON: a value known only at deploy fits neither.
  if (typeof input === 'string' && Token.isUnresolved(input)) {
    return `${field} is a CDK token (a value known only at deploy), which keydrift cannot check at synth: write the value out`;
  }
  // The core's problems already name their field: `ignore[0]: an ignore rule needs event, resource or user`.
  if (issue.code === 'custom' && issue.params?.fromCore) return issue.message;
  if (issue.code === 'unrecognized_keys') {
    const where = field ? ` in ${field}` : '';
    return issue.keys.map((key) => `unknown field ${JSON.stringify(key)}${where}`).join('; ');
  }
  if (issue.code === 'invalid_type') {
    if (!field) return `must be an object, got ${JSON.stringify(input) ?? 'undefined'}`;
    if (input === undefined) return `${field} is required`;
    if (issue.message.startsWith('Invalid input'))
      return `${field} must be ${issue.expected}, got ${JSON.stringify(input)}`;
  }
  // A custom issue on a record key names the key itself, so show it as the field rather than repeating it.
  if (issue.code === 'custom' && issue.path.length > 0 && input === issue.path[issue.path.length - 1]) {
    return `${fieldName(issue.path.slice(0, -1))} key ${JSON.stringify(input)} ${issue.message}`;
  }
  return `${field} ${JSON.stringify(input)} ${issue.message}`;
}

/**
 * Most bytes the detection settings may take in the functions' `KEYDRIFT_CONFIG` variable, as Lambda counts them.
 * Lambda rejects a function whose environment exceeds 4 KB (4,096 bytes), and only at deploy: synth passes. It
 * measures the variables as one JSON object, `{"NAME":"value",…}`, so each `"` of the settings' JSON counts twice
 * ({@link environmentBytes}). The detector's other variables take up to about 1,310 bytes of it with a 64-character
 * stack name (app-context.ts allows no longer) in the partition with the longest ARNs: names and punctuation, the
 * literal values, then the table name, five topic ARNs (the last-resort topic's is the detector's alone) and the two
 * key ARNs that CloudFormation resolves; the reconciler's, about 1,160. 2,750 bytes leaves them 1,346. The Keydrift
 * construct checks the whole environment again with its stack's real name and its own logical ids.
 */
export const MAX_DETECTION_SETTINGS_BYTES = 2750;

/** Bytes a value takes in Lambda's measure of an environment: inside a JSON string, escapes included. */
export const environmentBytes = (value: string): number => Buffer.byteLength(JSON.stringify(value), 'utf8') - 2;

/** The fields of {@link KeydriftConfig} the functions read at run time, and so pass in `KEYDRIFT_CONFIG`. */
const DETECTION_FIELDS = ['plannedPrincipals', 'severityOverrides', 'alertMinSeverity', 'ignore', 'trailKeys'] as const;

/**
 * The detector's and reconciler's `KEYDRIFT_CONFIG` variable: the detection settings as JSON, read back by
 * lambda/shared/environment.ts with the core's own parser.
 */
export function detectionSettingsJson(config: KeydriftConfig): string {
  return JSON.stringify(Object.fromEntries(DETECTION_FIELDS.map((field) => [field, config[field]])));
}

/** Throws when the detection settings would not fit in the functions' environment (see MAX_DETECTION_SETTINGS_BYTES). */
function assertDetectionSettingsFit(config: KeydriftConfig): void {
  const size = environmentBytes(detectionSettingsJson(config));
  if (size <= MAX_DETECTION_SETTINGS_BYTES) return;
  const largest = DETECTION_FIELDS.filter((field) => field !== 'alertMinSeverity')
    .map((field) => ({ field, size: environmentBytes(JSON.stringify(config[field])) }))
    .sort((a, b) => b.size - a.size)
    .map(({ field, size: fieldSize }) => `${field} ${fieldSize.toLocaleString('en-US')}`)
    .join(', ');
  throw new Error(
    `keydrift config: the detection settings take ${size.toLocaleString('en-US')} bytes in the functions' ` +
      `KEYDRIFT_CONFIG environment variable (${largest}), over the limit of ` +
      `${MAX_DETECTION_SETTINGS_BYTES.toLocaleString('en-US')} bytes: Lambda allows 4 KB for all of a function's ` +
      'environment variables and would refuse the deployment. Shorten plannedPrincipals (one role per team ' +
      'rather than each person), severityOverrides, ignore (fewer rules, "*" wildcards, shorter reasons) or trailKeys.',
  );
}

/**
 * Validates keydrift's configuration and applies the defaults.
 *
 * @throws Error whose message starts with `keydrift config:` and names each bad field, e.g.
 *   `keydrift config: alertEmails[1] "bob@" is not an e-mail address`, or says that the detection settings are too
 *   large for the functions' environment.
 * @example
 * const config = parseKeydriftConfig({ alertEmails: ['secops@example.com'], createTrail: true });
 */
export function parseKeydriftConfig(input: unknown): KeydriftConfig {
  const result = typedSchema.safeParse(input, { reportInput: true });
  if (result.success) {
    assertDetectionSettingsFit(result.data);
    return result.data;
  }
  throw new Error(`keydrift config: ${result.error.issues.map(describeIssue).join('; ')}`);
}
