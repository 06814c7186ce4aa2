import { z } from 'zod';
import { EVENTS, RECONCILE_EVENTS } from './catalog';
import { ConfigError } from './errors';
import { SEVERITIES, STATUSES } from './types';
import { KMS_API_WRITES, KMS_NATIVE_EVENTS, KMS_SERVICE_EVENTS, TRAIL_WRITES } from './watched-events';

const PRINCIPAL = /^arn:aws[\w-]*:iam::\d{12}:(role|user)\/[\w+=,.@/-]+$/;
/** What a severity override may name: every event the core judges, and the statuses. */
export const OVERRIDABLE_NAMES: ReadonlySet<string> = new Set<string>([
  ...Object.keys(EVENTS),
  ...Object.keys(RECONCILE_EVENTS),
  ...KMS_API_WRITES,
  ...KMS_SERVICE_EVENTS,
  ...KMS_NATIVE_EVENTS,
  ...TRAIL_WRITES,
  ...STATUSES,
]);

const IgnoreRule = z
  .object({
    event: z.string().min(1).optional(),
    resource: z.string().min(1).optional(),
    user: z.string().min(1).optional(),
    reason: z.string().optional(),
  })
  .strict()
  .refine((rule) => rule.event || rule.resource || rule.user, 'an ignore rule needs event, resource or user');

const Schema = z
  .object({
    plannedPrincipals: z
      .array(z.string().regex(PRINCIPAL, 'must be an IAM role or user ARN (arn:aws:iam::123456789012:role/Name)'))
      .default([]),
    severityOverrides: z
      .record(
        z.string().refine((name) => OVERRIDABLE_NAMES.has(name), 'is not a watched event name or a status'),
        z.enum(SEVERITIES),
      )
      .default({}),
    ignore: z.array(IgnoreRule).default([]),
    trailKeys: z.array(z.string().regex(/^arn:aws[\w-]*:kms:/, 'must be a KMS key ARN')).default([]),
  })
  .strict();

/** What the detection core is told: planned principals, severity overrides, ignore rules, known trail keys. */
export type DetectionConfig = z.infer<typeof Schema>;
export type IgnoreRule = z.infer<typeof IgnoreRule>;

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
