/**
 * Whether CloudTrail may still encrypt a trail's log files with a key: the key policy's statements evaluated against
 * the request CloudTrail makes for each trail (`kms:GenerateDataKey*` as the service principal, with the trail's ARN
 * in `aws:SourceArn` and in the encryption context). Conditions keydrift cannot evaluate give an Allow the benefit of
 * the doubt and leave a Deny out, so an unusual policy is never reported as a lockout it may not be.
 */
import { parseArn } from './arn';
import { type Policy, type PolicyStatement, resolveVariables, type VariableScope, variableScope } from './policy';

const CLOUDTRAIL = 'cloudtrail.amazonaws.com';
const ACTION = 'kms:GenerateDataKey';

/** A condition key's value in CloudTrail's request: text, absent (`null`), or a trail known only by its account. */
type ContextValue = string | null | { account: string };

/**
 * Keys an AWS service principal's request does not carry: a negated match on one holds, a positive one does not.
 * CloudTrail calls KMS as itself, not through a service for an IAM principal of some account, so the KMS keys of the
 * "Allow access through <service>" statements (`kms:CallerAccount`, `kms:ViaService`) are absent too.
 */
const ABSENT_FOR_SERVICES = [
  'aws:principalorgid',
  'aws:principalaccount',
  'aws:principalarn',
  'aws:principalorgpaths',
  'kms:calleraccount',
  'kms:viaservice',
];

/**
 * The request CloudTrail makes for one trail (its ARN when known, else a trail of `keyAccount`), by lowercase
 * condition key. Its `aws:SourceAccount` is the trail's owner, which need not be the key's: an organization trail
 * belongs to the management account, whatever account's key encrypts its logs (the log archive's, often).
 */
function requestContext(keyAccount: string | undefined, trailArn: string | undefined): Map<string, ContextValue> {
  const account = (trailArn && parseArn(trailArn)?.account) || keyAccount;
  const trail: ContextValue | undefined = trailArn ?? (account ? { account } : undefined);
  const context = new Map<string, ContextValue>([
    ['aws:principalisawsservice', 'true'],
    ['aws:principalservicename', 'cloudtrail.amazonaws.com'],
    ['aws:securetransport', 'true'],
    ...ABSENT_FOR_SERVICES.map((key): [string, ContextValue] => [key, null]),
  ]);
  if (account) context.set('aws:sourceaccount', account);
  if (trail) {
    context.set('aws:sourcearn', trail);
    context.set('kms:encryptioncontext:aws:cloudtrail:arn', trail);
  }
  return context;
}

const glob = (pattern: string, ignoreCase = false): RegExp =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    ignoreCase ? 'i' : '',
  );

/**
 * Whether `value` matches `pattern`; for a trail known only by its account, true when the pattern covers every trail
 * of that account, false when it names another account, unknown otherwise.
 */
function matches(value: string | { account: string }, pattern: string, like: boolean, ignoreCase: boolean) {
  if (typeof value === 'string') {
    if (like) return glob(pattern, ignoreCase).test(value);
    return ignoreCase ? value.toLowerCase() === pattern.toLowerCase() : value === pattern;
  }
  const [, , , , account, resource] = pattern.split(':');
  if (account === undefined || resource === undefined) return undefined;
  if (account !== value.account && !(like && account === '*')) return false;
  return like && resource === 'trail/*' ? true : undefined;
}

const MATCHING = /^(String|Arn)(Not)?(Equals|EqualsIgnoreCase|Like)(IfExists)?$/i;
const SET_OPERATOR = /^(ForAllValues|ForAnyValue):(.+)$/i;

/**
 * Whether one condition holds for the request, or `undefined` when keydrift cannot tell. A value's policy variables
 * read as in the policy analysis (`${aws:ResourceAccount}` is the key's account); one keydrift cannot fill in is unknown.
 */
function holds(
  operator: string,
  key: string,
  values: string[],
  context: Map<string, ContextValue>,
  scope: VariableScope,
) {
  const lower = key.toLowerCase();
  if (!context.has(lower)) return undefined;
  const value = context.get(lower) as ContextValue;
  const set = SET_OPERATOR.exec(operator);
  if (set) {
    // Each key of the request has one value or none. A set operator reads one value as the set of it, so as the
    // operator alone; none as the empty set, which every ForAllValues condition holds for and no ForAnyValue one does
    // (the Deny perimeter `ForAllValues:StringNotLike aws:PrincipalOrgPaths` shuts CloudTrail out).
    const [, quantifier, single] = set;
    if (!MATCHING.test(single)) return undefined;
    if (value !== null) return holds(single, key, values, context, scope);
    if (/^ForAllValues$/i.test(quantifier)) return true;
    return /IfExists$/i.test(single) ? undefined : false;
  }
  if (/^Null$/i.test(operator)) return values.some((v) => v.toLowerCase() === String(value === null));
  const bool = /^Bool(IfExists)?$/i.exec(operator);
  if (bool) {
    if (value === null) return !!bool[1];
    return typeof value === 'string' ? values.some((v) => v.toLowerCase() === value.toLowerCase()) : undefined;
  }
  const matching = MATCHING.exec(operator);
  if (!matching) return undefined;
  const [, kind, not, how, ifExists] = matching;
  if (value === null) return !!not || !!ifExists;
  const like = /like/i.test(how) || /^arn$/i.test(kind);
  const results = values.map((written) => {
    const pattern = resolveVariables(written, scope, false);
    return pattern === undefined ? undefined : matches(value, pattern, like, /IgnoreCase/i.test(how));
  });
  const any = results.includes(true) ? true : results.includes(undefined) ? undefined : false;
  return any === undefined ? undefined : not ? !any : any;
}

/** Whether all of a statement's conditions hold for the request: true, false, or `undefined` when unknown. */
function conditionsHold(
  statement: PolicyStatement,
  context: Map<string, ContextValue>,
  scope: VariableScope,
): boolean | undefined {
  let result: boolean | undefined = true;
  for (const [operator, block] of Object.entries(statement.Condition ?? {})) {
    for (const [key, values] of Object.entries(block)) {
      const outcome = holds(operator, key, values, context, scope);
      if (outcome === false) return false;
      if (outcome === undefined) result = undefined;
    }
  }
  return result;
}

function actionCovers(patterns: string[] | undefined, action: string): boolean {
  return (patterns ?? []).some((pattern) => glob(pattern, true).test(action));
}

/** The statement's principals include CloudTrail: named, `*`, or a `NotPrincipal` that does not list it. */
function appliesToCloudTrail(statement: PolicyStatement): boolean {
  const excluded = statement.NotPrincipal;
  if (excluded) return excluded !== '*' && !Object.values(excluded).some((values) => values.includes(CLOUDTRAIL));
  const principal = statement.Principal;
  if (principal === '*') return true;
  return !!principal && Object.values(principal).some((values) => values.includes(CLOUDTRAIL) || values.includes('*'));
}

/** The statement's actions include `kms:GenerateDataKey`: matched by `Action`, or not matched by `NotAction`. */
const coversGenerateDataKey = (statement: PolicyStatement): boolean =>
  statement.NotAction ? !actionCovers(statement.NotAction, ACTION) : actionCovers(statement.Action, ACTION);

/**
 * True when the policy lets CloudTrail call `kms:GenerateDataKey*` for every trail in `trailArns`, each as its owner's
 * (or, with none known, for a trail of `ownAccount`, the key's): an Allow whose conditions hold for the request (or
 * may), and no Deny whose conditions surely hold, however either is spelled (`NotPrincipal`, `NotAction`).
 */
export function allowsCloudTrailEncryption(policy: Policy, ownAccount?: string, trailArns: string[] = []): boolean {
  const requests = (trailArns.length > 0 ? trailArns : [undefined]).map((arn) => requestContext(ownAccount, arn));
  const relevant = policy.Statement.filter((s) => appliesToCloudTrail(s) && coversGenerateDataKey(s));
  const scope = variableScope(policy, ownAccount);
  return requests.every(
    (context) =>
      relevant.some((s) => s.Effect === 'Allow' && conditionsHold(s, context, scope) !== false) &&
      !relevant.some((s) => s.Effect === 'Deny' && conditionsHold(s, context, scope) === true),
  );
}

/** True when a statement of the policy names CloudTrail's service principal: the key is meant for a trail. */
export function namesCloudTrail(policy: Policy): boolean {
  return policy.Statement.some(
    (s) => s.Principal !== undefined && s.Principal !== '*' && (s.Principal.Service ?? []).includes(CLOUDTRAIL),
  );
}
