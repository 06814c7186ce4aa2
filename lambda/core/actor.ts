import { partitionOf } from './arn';
import type { Actor } from './types';

/** The `userIdentity` block of a CloudTrail record, as far as keydrift reads it. */
interface UserIdentity {
  type?: string;
  arn?: string;
  accountId?: string;
  principalId?: string;
  userName?: string;
  invokedBy?: string;
  sessionContext?: {
    sessionIssuer?: { arn?: string; userName?: string; type?: string };
    sourceIdentity?: string;
  };
  onBehalfOf?: { userId?: string; identityStoreArn?: string };
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/**
 * Names the caller as precisely as the record allows: the assumed-role session ARN (not just the role),
 * the IAM user, root, a federated user, or the AWS service that acted. ARNs the record leaves out are built in the
 * partition of the record's Region (`aws-cn` in China). A caller of another account than `recipientAccount` (the
 * record's) is named with its account. A role session's source identity (set when the first role of a chain was
 * assumed, by the identity provider or the caller, and kept through role chaining) names who is behind a session
 * whose own name need not: it is kept, and named after the session's name.
 */
export function resolveActor(
  identity: unknown,
  fallbackService?: string,
  region = '',
  recipientAccount?: string,
): Actor {
  const id = (identity && typeof identity === 'object' ? identity : {}) as UserIdentity;
  const type = text(id.type) ?? (fallbackService ? 'AWSService' : 'Unknown');
  const invokedBy = text(id.invokedBy);
  const arn = text(id.arn);
  const issuerArn = text(id.sessionContext?.sessionIssuer?.arn);
  const sourceIdentity = text(id.sessionContext?.sourceIdentity);
  // A caller its ARN names: `label`, its account when another, then who is behind its role session.
  const named = (label: string, callerArn: string) => ({
    name: withSourceIdentity(ofAccount(label, callerArn, recipientAccount), callerArn, sourceIdentity),
    ...(sourceIdentity ? { sourceIdentity } : {}),
  });

  if (type === 'AWSAccount' && !arn && text(id.accountId)) {
    // A caller from another account: the record names only its account and principal id (`AROA…:session`),
    // also when a service acted for it (EBS for an instance of that account): the account is what matters.
    const principal = text(id.principalId);
    const name = `account ${id.accountId}${principal ? ` (principal ${principal})` : ''}`;
    return { arn: `arn:${partitionOf(region)}:iam::${id.accountId}:root`, name, type, invokedBy };
  }
  const session = text(id.principalId)?.split(':')[1];
  if (type === 'AssumedRole' && !arn && issuerArn && session) {
    // The session ARN the record left out, from its issuing role (paths dropped, as STS does) and session name.
    const role = issuerArn.split('/').pop();
    const [, partition, , , account] = issuerArn.split(':');
    const sessionArn = `arn:${partition}:sts::${account}:assumed-role/${role}/${session}`;
    return {
      arn: sessionArn,
      ...named(sessionLabel(session, role ?? ''), sessionArn),
      type,
      issuerArn,
      invokedBy,
    };
  }
  if (type === 'AWSService' || (!arn && (invokedBy || fallbackService))) {
    // Service events carry `invokedBy: "AWS Internal"`, a placeholder: the service that wrote the record is more precise.
    const namedService = invokedBy && /\.amazonaws\.com$/.test(invokedBy) ? invokedBy : undefined;
    const service = namedService ?? fallbackService ?? invokedBy ?? 'AWS';
    return { arn: service, name: service, type: 'AWSService', invokedBy: service };
  }
  if (type === 'Root') {
    const account = text(id.accountId) ?? arn?.split(':')[4] ?? 'unknown';
    return {
      arn: arn ?? `arn:${partitionOf(region)}:iam::${account}:root`,
      name: `root (${account})`,
      type,
      invokedBy,
    };
  }
  if (arn) {
    return { arn, ...named(shortName(arn, id) || arn, arn), type, issuerArn, invokedBy };
  }
  if (text(id.onBehalfOf?.userId)) {
    // Identity Center users without an ARN: name them by their identity store user id.
    return {
      arn: `${id.onBehalfOf?.identityStoreArn ?? 'identitystore'}/user/${id.onBehalfOf?.userId}`,
      name: id.onBehalfOf?.userId as string,
      type,
      invokedBy,
    };
  }
  const principal = text(id.principalId) ?? 'unknown';
  return { arn: principal, name: principal, type, invokedBy };
}

/** `carol@example.com` from `arn:aws:sts::1:assumed-role/Admin/carol@example.com`; `alice` from `…:user/alice`. */
function shortName(arn: string, id: UserIdentity): string {
  const resource = arn.split(':').slice(5).join(':');
  const parts = resource.split('/');
  if (parts[0] === 'assumed-role' && parts.length >= 3) return sessionLabel(parts.slice(2).join('/'), parts[1] ?? '');
  if (parts[0] === 'federated-user' && parts.length >= 2) return parts.slice(1).join('/');
  return text(id.userName) ?? parts[parts.length - 1] ?? arn;
}

/**
 * Session names a workload gets without choosing one: an ECS task's id, an EC2 instance's, a UUID or hex token, an
 * SDK's default (`botocore-session-1700000000`, `aws-go-sdk-…`, `aws-sdk-js-…`: a time in digits).
 */
const OPAQUE_SESSION =
  /^(?:m?i-[0-9a-f]{8,17}|(?:[a-z]+-)*(?:[0-9a-f]{16,}|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}|\d{9,}))$/i;

/**
 * The session's name, or, when that name says nothing of who acted (`2cf617ab765a94a42f0a60a06e712974`,
 * `i-0abc123def4567890`), the session of its role: `session i-0abc123def4567890 of role ops-runner`. A summary is
 * often all a page or a subject shows; the `user` ARN has the role too.
 */
function sessionLabel(session: string, role: string): string {
  return role && OPAQUE_SESSION.test(session) ? `session ${session} of role ${role}` : session;
}

/** `deploy-4711 (source identity alice@example.com)`: the session's name, then who is behind it. */
function withSourceIdentity(name: string, callerArn: string, sourceIdentity: string | undefined): string {
  const behind = sourceIdentityBeyond(callerArn, sourceIdentity);
  return behind ? `${name}${sourceIdentityNote(behind)}` : name;
}

/**
 * The source identity of a caller, to name beside it, when it says more than the session's name, the last part of
 * its ARN (`user`): an identity provider often sets both to the user's name, said once.
 */
export function sourceIdentityBeyond(callerArn: string, sourceIdentity: string | undefined): string | undefined {
  return sourceIdentity && sourceIdentity !== callerArn.split('/').pop() ? sourceIdentity : undefined;
}

const sourceIdentityNote = (sourceIdentity: string): string => ` (source identity ${sourceIdentity})`;

/**
 * A summary without the ` (source identity alice@example.com)` its caller's name has, for a line too short for the
 * whole summary: cut, `alice@exa…` would read as another name; the finding's `sourceIdentity` still names her. Only
 * when the name has it (`sourceIdentityBeyond`): else the same text is a value the caller chose (a tag's), kept.
 */
export function withoutSourceIdentity(
  summary: string,
  { user, sourceIdentity }: { user: string; sourceIdentity?: string },
): string {
  const behind = sourceIdentityBeyond(user, sourceIdentity);
  const note = behind ? sourceIdentityNote(behind) : '';
  const at = note ? summary.indexOf(note) : -1;
  return at < 0 ? summary : summary.slice(0, at) + summary.slice(at + note.length);
}

/**
 * A caller of another account than the record's is named with its account: `ci via role deployer` of account
 * 444455556666 is not this account's deployer.
 */
function ofAccount(name: string, arn: string, recipientAccount: string | undefined): string {
  const account = arn.split(':')[4];
  const elsewhere = !!recipientAccount && !!account && /^\d{12}$/.test(account) && account !== recipientAccount;
  return elsewhere ? `${name} in account ${account}` : name;
}

/**
 * True when the actor is one of the planned-change principals: the same ARN, or an assumed-role session
 * whose issuing role is listed. Role paths are ignored, since session ARNs drop them.
 */
export function isPlannedPrincipal(actor: Actor, plannedPrincipals: readonly string[]): boolean {
  if (plannedPrincipals.length === 0) return false;
  const candidates = [actor.arn, actor.issuerArn, sessionRoleArn(actor.arn)].filter((v): v is string => !!v);
  return plannedPrincipals.some((planned) => candidates.some((c) => samePrincipal(c, planned)));
}

/** `arn:aws:iam::1:role/Admin` for the session `arn:aws:sts::1:assumed-role/Admin/carol`. */
function sessionRoleArn(arn: string): string | undefined {
  const match = /^arn:([\w-]+):sts::(\d{12}):assumed-role\/([^/]+)\//.exec(arn);
  return match ? `arn:${match[1]}:iam::${match[2]}:role/${match[3]}` : undefined;
}

function samePrincipal(a: string, b: string): boolean {
  if (a === b) return true;
  const strip = (arn: string) => arn.replace(/:(role|user)\/(?:.*\/)?([^/]+)$/, ':$1/$2');
  return strip(a) === strip(b);
}
