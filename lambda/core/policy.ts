/**
 * Key policy semantics: a normal form (so formatting, principal spelling and statement order never
 * count as drift), the principals a change adds or removes, and who outside the account gained access.
 */

export interface PolicyStatement {
  Sid?: string;
  Effect: string;
  Principal?: Record<string, string[]> | '*';
  NotPrincipal?: Record<string, string[]> | '*';
  Action?: string[];
  NotAction?: string[];
  Resource?: string[];
  NotResource?: string[];
  Condition?: Record<string, Record<string, string[]>>;
}

export interface Policy {
  Version?: string;
  Id?: string;
  Statement: PolicyStatement[];
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => !!value && typeof value === 'object' && !Array.isArray(value);
const list = (value: unknown): string[] =>
  [...new Set((Array.isArray(value) ? value : value === undefined ? [] : [value]).map(String))].sort();

/** Condition keys that fence a wildcard principal to one account or an organization. */
const ACCOUNT_FENCES = ['kms:calleraccount', 'aws:principalaccount', 'aws:sourceaccount'];
const ORG_FENCES = ['aws:principalorgid'];
/** Organization paths (`o-abc123/r-ab12/ou-ab12-11111111/*`) begin with the organization's id. */
const ORG_PATH_FENCES = ['aws:principalorgpaths'];

/** A bare account id principal means the account's root (in the key's partition: `aws-cn` in China). */
function principalArn(value: string, partition: string): string {
  return /^\d{12}$/.test(value) ? `arn:${partition}:iam::${value}:root` : value;
}

function normalizePrincipal(value: unknown, partition: string): Record<string, string[]> | '*' | undefined {
  if (value === undefined) return undefined;
  if (value === '*') return '*';
  if (!isObject(value)) return { AWS: list(value).map((v) => principalArn(v, partition)) };
  const out: Record<string, string[]> = {};
  for (const kind of Object.keys(value).sort()) {
    const values = list(value[kind]);
    out[kind] = kind === 'AWS' ? [...new Set(values.map((v) => principalArn(v, partition)))].sort() : values;
  }
  if (Object.keys(out).length === 1 && out.AWS?.length === 1 && out.AWS[0] === '*') return '*';
  return out;
}

function normalizeCondition(value: unknown): PolicyStatement['Condition'] {
  if (!isObject(value)) return undefined;
  const out: Record<string, Record<string, string[]>> = {};
  for (const operator of Object.keys(value).sort()) {
    const block = value[operator];
    if (!isObject(block)) continue;
    out[operator] = {};
    for (const key of Object.keys(block).sort()) out[operator][key] = list(block[key]);
  }
  return out;
}

function normalizeStatement(raw: unknown, partition: string): PolicyStatement {
  const s = isObject(raw) ? raw : {};
  const statement: PolicyStatement = { Effect: String(s.Effect ?? 'Allow') };
  if (s.Sid !== undefined) statement.Sid = String(s.Sid);
  const principal = normalizePrincipal(s.Principal, partition);
  if (principal) statement.Principal = principal;
  const notPrincipal = normalizePrincipal(s.NotPrincipal, partition);
  if (notPrincipal) statement.NotPrincipal = notPrincipal;
  for (const field of ['Action', 'NotAction', 'Resource', 'NotResource'] as const) {
    if (s[field] !== undefined) statement[field] = list(s[field]);
  }
  const condition = normalizeCondition(s.Condition);
  if (condition) statement.Condition = condition;
  return statement;
}

/**
 * Parses (when given a JSON string) and normalizes a key policy of a key in `partition`. Throws on text that is not a
 * JSON policy.
 */
export function normalizePolicy(value: unknown, partition = 'aws'): Policy {
  const doc = typeof value === 'string' ? JSON.parse(value) : value;
  if (!isObject(doc)) throw new Error('policy is not a JSON object');
  const statements = (Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement])
    .filter((s) => s !== undefined)
    .map((statement) => normalizeStatement(statement, partition));
  statements.sort((a, b) => stableJson(a).localeCompare(stableJson(b)));
  const policy: Policy = { Statement: statements };
  if (doc.Version !== undefined) policy.Version = String(doc.Version);
  if (doc.Id !== undefined) policy.Id = String(doc.Id);
  return policy;
}

/** The policy KMS gives a key created without one: the account's root may do everything. */
export function defaultKeyPolicy(account: string, partition = 'aws'): Policy {
  return normalizePolicy({
    Version: '2012-10-17',
    Id: 'key-default-1',
    Statement: [
      {
        Sid: 'Enable IAM User Permissions',
        Effect: 'Allow',
        Principal: { AWS: `arn:${partition}:iam::${account}:root` },
        Action: 'kms:*',
        Resource: '*',
      },
    ],
  });
}

/** JSON with sorted keys, for comparing normalized values. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    isObject(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, v[k]]),
        )
      : v,
  );
}

/** Whether two values are the same, key order aside. */
export const sameJson = (a: unknown, b: unknown): boolean => stableJson(a) === stableJson(b);

/** One principal an Allow statement grants to, with the fences its conditions set. */
interface Grantee {
  /** An ARN, a service name (`cloudtrail.amazonaws.com`) or `*`. */
  principal: string;
  /** The accounts its conditions confine it to; none when no account condition applies. */
  accounts: string[];
  /** The organizations (`o-abc123`) its conditions confine it to; none when no organization condition applies. */
  orgs: string[];
}

/**
 * Operators that confine a key to the values listed; negated (`StringNotEquals`) and `…IfExists` ones do not (a
 * service principal's request carries no principal account or ARN, so IfExists lets it through).
 */
const CONFINING_OPERATORS = /^(ForAnyValue:)?(String(Equals|EqualsIgnoreCase|Like)|Arn(Equals|Like))$/i;
/** Condition keys whose ARN values confine the caller to the account in the ARN. */
const ARN_FENCES = ['aws:sourcearn', 'aws:principalarn'];

/** The account field of an ARN fence's value, when it names one account (`arn:aws:cloudtrail:*:ID:trail/*`). */
const accountOfArnFence = (value: string): string | undefined => /^arn:[^:]*:[^:]*:[^:]*:(\d{12}):/.exec(value)?.[1];

/** Condition keys about the resource a service acts for, not the caller. */
const SOURCE_FENCES = ['aws:sourceaccount', 'aws:sourcearn'];
/**
 * Encryption context keys (`kms:EncryptionContext:aws:logs:arn`): a service principal sets the context to a resource
 * it acts on, so an ARN there names an account it serves. Any other caller writes the context it likes.
 */
const CONTEXT_FENCE = 'kms:encryptioncontext:';

/**
 * What a statement's policy variables stand for: `${aws:ResourceAccount}` is the key's own account (when known), and
 * only the 2012 policy language has variables (in an older one `${…}` is text). Escapes (`${*}`, `${?}`, `${$}`) are
 * not variables.
 */
export interface VariableScope {
  ownAccount?: string;
  variables: boolean;
}
/** The variables of `policy`, a policy of a key in `ownAccount`. */
export const variableScope = (policy: Policy, ownAccount?: string): VariableScope => ({
  ownAccount,
  variables: policy.Version === '2012-10-17',
});
const POLICY_VARIABLE = /\$\{[^}]*:[^}]*\}/;
const RESOURCE_ACCOUNT = /\$\{aws:ResourceAccount\}/gi;
/** The key's own organization: inside, whatever its id. */
const RESOURCE_ORG = /^\$\{aws:ResourceOrgID\}$/i;

/**
 * A fence value with `${aws:ResourceAccount}` put in, or `undefined` when another variable makes it something each
 * request supplies (`${aws:PrincipalOrgID}` is every caller's own organization): such a value fences no one out.
 */
export function resolveVariables(value: string, scope: VariableScope, org: boolean): string | undefined {
  if (!scope.variables) return value;
  const resolved = withResourceAccount(value, scope);
  if (org && RESOURCE_ORG.test(resolved)) return resolved;
  return POLICY_VARIABLE.test(resolved) ? undefined : resolved;
}

/** A value with `${aws:ResourceAccount}` put in (when the policy has variables and the key's account is known). */
const withResourceAccount = (value: string, scope: VariableScope): string =>
  scope.variables && scope.ownAccount ? value.replace(RESOURCE_ACCOUNT, scope.ownAccount) : value;

/**
 * The organization an organization path pattern names before its first `/`: its id, or the key's own
 * (`${aws:ResourceOrgID}/…`, in the 2012 language). What follows may hold variables; it only narrows the fence.
 */
function organizationOfPath(path: string, scope: VariableScope): string | undefined {
  const org = /^(o-[a-z0-9]+|\$\{aws:ResourceOrgID\})\//i.exec(path)?.[1].toLowerCase();
  return org?.startsWith('$') && !scope.variables ? undefined : org;
}

/** The values every set holds (conditions that must all hold); `undefined` with no sets. */
function common(sets: string[][]): string[] | undefined {
  if (sets.length === 0) return undefined;
  return [...new Set(sets.reduce((kept, set) => kept.filter((value) => set.includes(value))))].sort();
}

/**
 * The accounts and organizations a statement's conditions confine it to. Each condition key lists what it allows, and
 * every key must hold: the accounts are those all the caller's keys allow (else all the source keys allow), so a
 * fence to the key's own account and a pattern of another account's roles let no one in (`unsatisfiable`). For a
 * `service` principal with no source key, ARNs in the encryption context stand in for one.
 */
function fencesOf(
  statement: PolicyStatement,
  scope: VariableScope,
  service = false,
): Pick<Grantee, 'accounts' | 'orgs'> & { unsatisfiable: boolean } {
  const caller: string[][] = [];
  const source: string[][] = [];
  const context: string[][] = [];
  const orgs: string[][] = [];
  for (const [operator, block] of Object.entries(statement.Condition ?? {})) {
    if (!CONFINING_OPERATORS.test(operator)) continue;
    for (const [key, written] of Object.entries(block)) {
      const lower = key.toLowerCase();
      const inContext = lower.startsWith(CONTEXT_FENCE);
      const fences = SOURCE_FENCES.includes(lower) ? source : inContext ? context : caller;
      if (ARN_FENCES.includes(lower) || inContext) {
        // An ARN pattern may leave everything but its account open (a variable in the role name, too): it still
        // confines the caller to that account. A variable or wildcard in the account field, or a value that is no ARN,
        // leaves no account, so no fence.
        const owners = written
          .map((value) => accountOfArnFence(withResourceAccount(value, scope)))
          .filter((owner) => owner !== undefined);
        if (owners.length === written.length) fences.push(owners);
        continue;
      }
      if (ORG_PATH_FENCES.includes(lower)) {
        // A path pattern that names its organization confines the caller to it, whatever it leaves open below.
        const owners = written.map((value) => organizationOfPath(value, scope)).filter((org) => org !== undefined);
        if (owners.length === written.length) orgs.push(owners);
        continue;
      }
      const resolved = written.map((value) => resolveVariables(value, scope, ORG_FENCES.includes(lower)));
      // A value each request supplies itself matches every request: the key confines nothing.
      if (resolved.some((value) => value === undefined)) continue;
      const values = resolved as string[];
      // A `StringLike` pattern with a wildcard (`*`, `o-*`) confines nothing.
      if (/Like$/i.test(operator) && values.some((value) => /[*?]/.test(value))) continue;
      if (ACCOUNT_FENCES.includes(lower)) fences.push(values);
      // Org ids are lowercase; `StringEqualsIgnoreCase` may spell them otherwise.
      if (ORG_FENCES.includes(lower)) orgs.push(values.map((value) => value.toLowerCase()));
    }
  }
  // The source keys name the resource a service acts for; its context may name another, the one it writes to (SNS
  // delivering another account's topic to a queue of the key's account sets aws:sqs:arn to the queue), so the context
  // is the fence only where no source key is.
  const served = source.length > 0 || !service ? source : context;
  const accounts = common(caller.length ? caller : served);
  const organizations = common(orgs);
  return {
    accounts: accounts ?? [],
    orgs: organizations ?? [],
    unsatisfiable: accounts?.length === 0 || organizations?.length === 0,
  };
}

/** A Deny whose one condition is a negated fence (`StringNotEquals aws:PrincipalOrgID`): it denies all outside it. */
type DenyFence = Pick<Grantee, 'accounts' | 'orgs'>;

// `ForAllValues:` with a negated operator holds when no value of the key matches, or the key is missing: the Deny
// shuts out everyone outside, as the confining `ForAnyValue:` form lets in only those inside.
const NEGATED_OPERATORS =
  /^(ForAllValues:)?(String(NotEquals|NotEqualsIgnoreCase|NotLike)|Arn(NotEquals|NotLike))(IfExists)?$/i;
// AWS services let through by `aws:PrincipalIsAWSService false`, or by name (`aws:PrincipalServiceName`, which IAM
// principals lack, so a negated condition on it holds for every one of them, however it matches; a `ForAnyValue:` one
// holds for no request without the key, so it would keep the Deny off them).
const isServiceExemption = (operator: string, key: string, values: string[]): boolean =>
  (/^Bool(IfExists)?$/i.test(operator) &&
    key.toLowerCase() === 'aws:principalisawsservice' &&
    values.length === 1 &&
    values[0].toLowerCase() === 'false') ||
  (/^(ForAllValues:)?StringNot(Equals|EqualsIgnoreCase|Like)(IfExists)?$/i.test(operator) &&
    key.toLowerCase() === 'aws:principalservicename');

/**
 * The fence of a Deny statement conditioned on exactly one negated account, organization or ARN key (optionally
 * exempting AWS services, which outside access does not count), read as the confining operator it negates. Any other
 * condition makes the Deny narrower than a fence, so it is not one.
 */
function denyFenceOf(statement: PolicyStatement, scope: VariableScope): DenyFence | undefined {
  if (statement.Effect !== 'Deny' || !statement.Condition) return undefined;
  let fence: { operator: string; key: string; values: string[] } | undefined;
  for (const [operator, block] of Object.entries(statement.Condition)) {
    for (const [key, values] of Object.entries(block)) {
      if (isServiceExemption(operator, key, values)) continue;
      if (fence || !NEGATED_OPERATORS.test(operator)) return undefined;
      fence = { operator, key, values };
    }
  }
  if (!fence) return undefined;
  // A variable keydrift cannot fill in (a tag the caller may not have) may keep the Deny from applying at all: it is no
  // perimeter, even where the Allow side reads the account before it. The key's own organization heading a path
  // (`${aws:ResourceOrgID}/r-ab12/*`) is filled in, as for an Allow and for aws:PrincipalOrgID.
  const lower = fence.key.toLowerCase();
  const filled = (value: string) =>
    ORG_PATH_FENCES.includes(lower) ? value.replace(/^\$\{aws:ResourceOrgID\}\//i, '/') : value;
  if (fence.values.some((value) => resolveVariables(filled(value), scope, ORG_FENCES.includes(lower)) === undefined)) {
    return undefined;
  }
  const confining = fence.operator
    .replace(/^ForAllValues:/i, 'ForAnyValue:')
    .replace(/Not/i, '')
    .replace(/IfExists$/i, '');
  const { accounts, orgs } = fencesOf(
    { Effect: 'Allow', Condition: { [confining]: { [fence.key]: fence.values } } },
    scope,
  );
  return accounts.length === 0 && orgs.length === 0 ? undefined : { accounts, orgs };
}

/** Deny fences that apply to every principal and every KMS action on the key: a perimeter around the whole key. */
function perimetersOf(policy: Policy, scope: VariableScope): DenyFence[] {
  const everyAction = (s: PolicyStatement) => !s.NotAction && (s.Action ?? []).some((a) => a === '*' || a === 'kms:*');
  // In a key policy `*` is the key itself; a Deny on some other resource never applies to it.
  const thisKey = (s: PolicyStatement) => !s.NotResource && (s.Resource ?? ['*']).includes('*');
  return policy.Statement.filter((s) => s.Principal === '*' && everyAction(s) && thisKey(s))
    .map((statement) => denyFenceOf(statement, scope))
    .filter((fence) => fence !== undefined);
}

/**
 * Principals the policy's Allow statements grant to, each with its fences. A Deny perimeter fences a wildcard that
 * has none of its own, and takes away a principal of an account outside the accounts it lets in.
 */
function granteesOf(policy: Policy, ownAccount: string): Grantee[] {
  const grantees: Grantee[] = [];
  const scope = variableScope(policy, ownAccount);
  const perimeters = perimetersOf(policy, scope);
  // Every perimeter applies: one fenced to accounts is the narrowest a wildcard can be read as.
  const perimeter = perimeters.find((p) => p.accounts.length > 0) ?? perimeters[0];
  const fencedOut = (principal: string) => {
    const account = accountOfPrincipal(principal);
    return !!account && perimeters.some((p) => p.orgs.length === 0 && !p.accounts.includes(account));
  };
  for (const statement of policy.Statement) {
    if (statement.Effect !== 'Allow') continue;
    const { unsatisfiable, ...fences } = fencesOf(statement, scope);
    // Conditions no request can meet grant nothing.
    if (unsatisfiable) continue;
    // NotPrincipal with Allow grants everyone but the listed principals.
    if (statement.Principal === '*' || statement.NotPrincipal) {
      const unfenced = fences.accounts.length === 0 && fences.orgs.length === 0;
      grantees.push({
        principal: '*',
        ...(unfenced && perimeter ? { accounts: perimeter.accounts, orgs: perimeter.orgs } : fences),
      });
      continue;
    }
    for (const [kind, values] of Object.entries(statement.Principal ?? {})) {
      // A service's encryption context fences it as its source keys do, when it has none.
      const own = kind === 'Service' ? fencesOf(statement, scope, true) : { ...fences, unsatisfiable };
      if (own.unsatisfiable) continue;
      for (const value of values) {
        if (!fencedOut(value)) grantees.push({ principal: value, accounts: own.accounts, orgs: own.orgs });
      }
    }
  }
  return grantees;
}

/** The account of an IAM or STS principal ARN (`arn:aws:iam::111122223333:role/app`). */
export function accountOfPrincipal(principal: string): string | undefined {
  return /^arn:[\w-]+:(?:iam|sts)::(\d{12}):/.exec(principal)?.[1];
}

/**
 * Accounts (or `*`) outside `ownAccount` that a grantee lets in; an organization fence lets no one outside in. A
 * service principal fenced to another account (CloudTrail writing that account's trail) lets that account in.
 */
function outsiders(grantee: Grantee, ownAccount: string): string[] {
  if (grantee.principal === '*') {
    if (grantee.accounts.length === 0 && grantee.orgs.length === 0) return ['*'];
    return grantee.accounts.filter((account) => account !== ownAccount && account !== '*');
  }
  const account = accountOfPrincipal(grantee.principal);
  if (account) return account !== ownAccount ? [account] : [];
  // A service principal acts for the account its fence names (`aws:SourceAccount`, `aws:SourceArn`, an ARN in the
  // encryption context).
  return grantee.accounts.filter((fenced) => fenced !== ownAccount && fenced !== '*');
}

/**
 * How a grantee shows in `added_principals` / `removed_principals`: the principal, then its fences, e.g.
 * `cloudtrail.amazonaws.com (111122223333)`, `* (org o-abc123)`, `* (111122223333; org o-a,o-b)`. The
 * fence values are part of the key, so moving a fence to another account or organization shows.
 */
const granteeKey = (g: Grantee): string => {
  const fences = [g.accounts.join(','), g.orgs.length ? `org ${g.orgs.join(',')}` : ''].filter(Boolean);
  return fences.length ? `${g.principal} (${fences.join('; ')})` : g.principal;
};

/** The organization ids of a principal key that `granteeKey` wrote (`* (org o-a,o-b)` gives `o-a`, `o-b`). */
export function organizationsOfPrincipalKey(key: string): string[] {
  const match = /[(;] ?org ([^)]+)\)$/.exec(key);
  return match ? match[1].split(',') : [];
}

export interface PolicyDiff {
  added_principals: string[];
  removed_principals: string[];
  external_accounts: string[];
}

/**
 * Principals added and removed between two policies, and the outside accounts that gained access.
 * When `before` is unknown, every outside principal in `after` counts as gained.
 */
export function diffPolicies(
  before: Policy | null | undefined,
  after: Policy | null | undefined,
  ownAccount: string,
): PolicyDiff {
  const beforeGrantees = before ? granteesOf(before, ownAccount) : [];
  const afterGrantees = after ? granteesOf(after, ownAccount) : [];
  const beforeKeys = new Set(beforeGrantees.map(granteeKey));
  const afterKeys = new Set(afterGrantees.map(granteeKey));
  const gained = afterGrantees.filter((g) => !beforeKeys.has(granteeKey(g)));
  const beforeOutsiders = new Set(before ? beforeGrantees.flatMap((g) => outsiders(g, ownAccount)) : []);
  const external = new Set(gained.flatMap((g) => outsiders(g, ownAccount)).filter((a) => !beforeOutsiders.has(a)));
  return {
    added_principals: [...new Set(gained.map(granteeKey))].sort(),
    removed_principals: [...beforeKeys].filter((k) => !afterKeys.has(k)).sort(),
    external_accounts: [...external].sort(),
  };
}

/** Accounts (or `*`) outside `ownAccount` that a policy lets in at all. */
export function externalAccountsOf(policy: Policy, ownAccount: string): string[] {
  return [...new Set(granteesOf(policy, ownAccount).flatMap((g) => outsiders(g, ownAccount)))].sort();
}
