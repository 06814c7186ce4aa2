/**
 * The shapes every part of keydrift shares: the finding (the one output format, see DESIGN.md), the
 * normalized CloudTrail event, and resource state snapshots.
 */

export const SEVERITIES = ['info', 'warning', 'error', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const STATUSES = ['drift', 'resolved', 'planned', 'denied'] as const;
export type Status = (typeof STATUSES)[number];

export type Service = 'kms' | 'cloudtrail';

/** One attribute's change: `before`/`after` are `null` when unknown; details depend on the attribute. */
export interface AttributeChange {
  before: unknown;
  after: unknown;
  added_principals?: string[];
  removed_principals?: string[];
  external_accounts?: string[];
  /** This attribute is back at its approved value, even if the finding as a whole is still drift. */
  back_to_baseline?: boolean;
  /**
   * A key's deletion (`key_state` to Deleted): the names of the aliases KMS deleted with it, with no DeleteAlias of
   * their own, so no finding but this one (core/effects.ts `keyDeleted`, core/reconcile.ts). Callers of any of them
   * now fail.
   */
  aliases_deleted?: string[];
  [detail: string]: unknown;
}

export interface Finding {
  service: Service;
  event: string;
  eventId: string;
  timestamp: string;
  account: string;
  region: string;
  resource: string;
  user: string;
  severity: Severity;
  status: Status;
  changes: Record<string, AttributeChange>;
  summary: string;
  /** Commands that bring the resource back to its baseline, most important first. */
  remediation: string[];
  /** Why the severity is what it is, when an escalation or downgrade applied. */
  reasons?: string[];
  /** For `denied`: the error CloudTrail recorded. */
  error?: { code: string; message?: string };
  /** Where the call came from, as CloudTrail recorded it (absent when the record has none, or from the reconciler). */
  sourceIp?: string;
  /** The caller's client, as CloudTrail recorded it: chosen by the caller, so never trusted or shown unescaped. */
  userAgent?: string;
  /**
   * Who is behind the `user` role session, as its source identity says (absent when the session has none): set by
   * whoever assumed the first role of the chain, within what the role's trust policy allows, so shown escaped too.
   */
  sourceIdentity?: string;
  /**
   * For a `BaselineAccept`: why the operator approved the state (`keydrift baseline accept --reason`), as typed, so
   * never shown unescaped either.
   */
  acceptReason?: string;
}

export type ResourceKind = 'key' | 'alias' | 'trail' | 'custom-key-store';

/** Who made a call, as precisely as the record allows. */
export interface Actor {
  /** Full ARN of the caller (assumed-role session ARN, user ARN, root ARN) or the AWS service name. */
  arn: string;
  /** Short human name for summaries: session name, user name, `root`, or the service. */
  name: string;
  /** For an assumed-role session, the ARN of the issuing role (what planned principals match). */
  issuerArn?: string;
  type: string;
  /** Set when an AWS service made the call on the caller's behalf (e.g. `ec2.amazonaws.com`). */
  invokedBy?: string;
  /**
   * For a role session, its source identity (`sessionContext.sourceIdentity`): the person or workload the identity
   * provider or the first AssumeRole of a role chain named, kept through the chain.
   */
  sourceIdentity?: string;
}

/** A CloudTrail record (or KMS native event) reduced to what detection needs. */
export interface ChangeEvent {
  eventId: string;
  eventName: string;
  /** ISO-8601 UTC, seconds precision (`2026-10-03T12:00:00Z`). */
  time: string;
  /** Milliseconds since the epoch, for ordering. */
  epochMs: number;
  service: Service;
  account: string;
  region: string;
  actor: Actor;
  readOnly: boolean;
  errorCode?: string;
  errorMessage?: string;
  requestParameters: Record<string, unknown>;
  responseElements: Record<string, unknown>;
  /** ARNs from `resources[]` (CloudTrail) or the EventBridge envelope. */
  resourceArns: string[];
  additionalEventData: Record<string, unknown>;
  sourceIp?: string;
  userAgent?: string;
}

/**
 * A resource's attributes as flat paths: `policy`, `key_state`, `tags.owner`, `grants.<id>`,
 * `aliases.alias/app`. A path that is absent is unknown; `null` means known to be absent.
 */
export type AttributeMap = Record<string, unknown>;

export interface ResourceSnapshot {
  kind: ResourceKind;
  arn: string;
  attributes: AttributeMap;
  /**
   * Map attributes (`tags`, `grants`, `aliases`, `replica_regions`) known in full: an entry such a map
   * lacks is known to be absent. Live reads know every map; the replay knows a map from the key's creation.
   */
  completeMaps: string[];
  /** Baselines only: paths whose approved value was settled as unknown (never inferred later). */
  unknownPaths?: string[];
  /**
   * Baselines only: the time (ISO-8601) of the event that last approved each attribute and each map entry but a grant
   * (a tag, an alias on a key), so that an older change, arriving late, does not replace what a newer one approved
   * (EventBridge does not keep order). A map an accept approved whole is dated under its name (`tags`): what it lacked
   * was approved absent then.
   */
  approvedAt?: Record<string, string>;
  /**
   * Baselines only: paths approved as first seen by a live read (the reconciler's `withFirstSeen`, the detector's
   * `settleWithLive`), no one accepting them, with the read's time (ISO-8601); a map the read was the first to show
   * whole under its name (`grants`), for the entries it lacks. A change older than that read, its event delivered
   * after it, may be what the read saw: for that change the value is not approved (core/detector.ts).
   */
  firstSeenAt?: Record<string, string>;
  /**
   * Baselines of aliases only: approved gone (`target_key_id: null`) with the deletion of `key`, not by a change of the
   * alias nor read gone by the deletion's read of it (unreadable), and the time of the alias's last change keydrift
   * knew before that (`changedBefore`: its `approvedAt`, or its state's `changedAt` when later, an unplanned change).
   * KMS deletes only the aliases still on the key: a planned move to another key made in between, delivered after the
   * deletion, is approved (core/detector.ts).
   */
  goneWithKey?: { key: string; changedBefore?: string };
  /**
   * States only: the time (ISO-8601) of the event on the resource that last set each attribute, and each map entry
   * (a tag, a grant, an alias on a key; its removal too), it named (a live read stored since replaces the state, and
   * these with it), so that an older event, delivered late for a resource no read shows (KMS refuses keydrift, the key
   * is gone), does not put its value back over a newer one (core/live.ts `settleWithoutLive`, `settleRelated`), and an
   * unreadable alias's last change before its key's deletion is known (`goneWithKey`).
   */
  changedAt?: Record<string, string>;
  /**
   * States only: the time of the event that last inferred an attribute from the state before it (`Effect.inferred`),
   * which `changedAt` does not date: an older event delivered late that only infers it too (from a state the newer one
   * has changed since) leaves the newer one's value (core/live.ts).
   */
  inferredAt?: Record<string, string>;
  /**
   * States of keys with imported material only: the id of the key material keydrift saw staged for the key's next
   * on-demand rotation (ImportKeyMaterial's answer), so that a DeleteImportedKeyMaterial of that material, which leaves
   * the key as it is, is told from one of a material the key uses. Not an attribute: never compared, approved or read
   * live; every live read stored as the state keeps it (`withStagedMaterialOf`), unless KMS names it current.
   */
  stagedKeyMaterial?: string;
  /**
   * States only: the time (ISO-8601) of the event that last set or cleared `stagedKeyMaterial` (the import that staged
   * it, its deletion, a rotation), so that an older one, delivered late, changes neither (core/detector.ts).
   */
  stagedKeyMaterialAt?: string;
  /**
   * Live reads of keys with imported material only: the key material KMS names current (DescribeKey's
   * `CurrentKeyMaterialId`). A staged material it names was made current by a rotation, whatever order its events
   * come in. Not an attribute: never compared or approved.
   */
  currentKeyMaterial?: string;
}
