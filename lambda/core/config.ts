// zod/mini: the same validation, tree-shakable, so the Lambda bundles stay small and start fast.

import { en } from 'zod/locales';
import * as z from 'zod/mini';
import { EVENTS, RECONCILE_EVENTS, RULES, STATUS_SEVERITY } from './catalog';
import { ConfigError } from './errors';
import { SEVERITIES } from './types';
import { KMS_API_WRITES, KMS_NATIVE_EVENTS, KMS_SERVICE_EVENTS, TRAIL_WRITES } from './watched-events';

// zod/mini ships without messages; the English ones name what is wrong ("Unrecognized key", "Invalid option").
z.config(en());

// An IAM path is `/`-separated names: a path with no name after it (`role/deployer/`) or an empty segment would pass
// validation and match no session.
const PRINCIPAL = /^arn:aws[\w-]*:iam::\d{12}:(role|user)\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]+$/;
const KEY_ARN = /^arn:aws[\w-]*:kms:[a-z0-9-]+:\d{12}:key\/[\w-]+$/;
/**
 * What a severity override may name: every event the core judges, and the statuses that set a severity whatever the
 * event (`drift` does not: a drift finding takes its event's severity).
 */
export const OVERRIDABLE_NAMES: ReadonlySet<string> = new Set<string>([
  ...Object.keys(EVENTS),
  ...Object.keys(RECONCILE_EVENTS),
  ...KMS_API_WRITES,
  ...KMS_SERVICE_EVENTS,
  ...KMS_NATIVE_EVENTS,
  ...TRAIL_WRITES,
  ...Object.keys(STATUS_SEVERITY),
]);

/**
 * Why a severity override cannot be set by `name`, in words about what was written: an escalation rule's id and the
 * `drift` status are names keydrift knows, yet neither sets a severity of its own; `undefined` when it can.
 */
export function overrideNameProblem(name: string): string | undefined {
  if (OVERRIDABLE_NAMES.has(name)) return undefined;
  if (Object.hasOwn(RULES, name))
    return 'is an escalation rule, whose severity is fixed: override an event by name, or denied, planned, resolved';
  if (name === 'drift') return "is the drift status, which takes its event's severity: override the event by name";
  return 'is not a watched event name or one of denied, planned, resolved';
}

const nonEmpty = () => z.string().check(z.minLength(1));

const IgnoreRule = z
  .strictObject({
    event: z.optional(nonEmpty()),
    resource: z.optional(nonEmpty()),
    user: z.optional(nonEmpty()),
    reason: z.optional(z.string()),
  })
  .check(
    z.refine((rule) => !!(rule.event || rule.resource || rule.user), 'an ignore rule needs event, resource or user'),
  );

const Schema = z.strictObject({
  plannedPrincipals: z._default(
    z.array(
      z.string().check(z.regex(PRINCIPAL, 'must be an IAM role or user ARN (arn:aws:iam::123456789012:role/Name)')),
    ),
    [],
  ),
  severityOverrides: z._default(
    z.record(
      z.string().check(
        z.refine((name) => OVERRIDABLE_NAMES.has(name), {
          error: (issue) => overrideNameProblem(String(issue.input)),
        }),
      ),
      z.enum(SEVERITIES),
    ),
    {},
  ),
  ignore: z._default(z.array(IgnoreRule), []),
  // A trail's key is known by its key ARN (CloudTrail answers with it): an alias ARN would never match one.
  trailKeys: z._default(z.array(z.string().check(z.regex(KEY_ARN, 'must be a KMS key ARN'))), []),
});

/** What the detection core is told: planned principals, severity overrides, ignore rules, known trail keys. */
export type DetectionConfig = z.output<typeof Schema>;
export type IgnoreRule = z.output<typeof IgnoreRule>;

export const DEFAULT_CONFIG: DetectionConfig = Object.freeze({
  plannedPrincipals: [],
  severityOverrides: {},
  ignore: [],
  trailKeys: [],
});

/** Validates a configuration object; the error names the source and every field that is wrong. */
export function parseDetectionConfig(input: unknown, source = 'configuration'): DetectionConfig {
  const result = Schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path
      .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
      .join('')
      .replace(/^\./, '');
    // A bad record key ("Invalid key in record") carries the reason, e.g. "is not a watched event name", inside.
    const message =
      issue.code === 'invalid_key' ? issue.issues.map((inner) => inner.message).join('; ') : issue.message;
    return `${path || '(top level)'}: ${message}`;
  });
  throw new ConfigError(`${source} is not valid:\n  ${problems.join('\n  ')}`);
}

/** `*` matches any run of characters; everything else literally. */
function globMatch(pattern: string, value: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return regex.test(value);
}

/** The ignore rule a finding matches, if any: every field the rule gives must match. */
export function matchingIgnoreRule(
  config: DetectionConfig,
  finding: { event: string; resource: string; user: string },
): IgnoreRule | undefined {
  return config.ignore.find(
    (rule) =>
      (!rule.event || globMatch(rule.event, finding.event)) &&
      (!rule.resource || globMatch(rule.resource, finding.resource)) &&
      (!rule.user || globMatch(rule.user, finding.user)),
  );
}
