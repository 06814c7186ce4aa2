/**
 * The AWS CLI commands that bring a resource back to its approved value, one attribute at a time.
 * Every value that came from a record is shell-quoted: descriptions, tags and alias names are chosen
 * by whoever made the change. And the CLI must take each one literally: a value it would read as an option or load
 * as a parameter file goes in `--cli-input-json` instead (see `aws`).
 */
import { aliasNameOf, parseArn } from './arn';
import { isPendingDeletion } from './catalog';
import { FIELD_OPERATORS, type GrantValue, type TrailSelectors } from './effects';
import { externalAccountsOf, type Policy } from './policy';
import { splitPath } from './state';
import type { ResourceKind } from './types';

/** One attribute path to undo: `current` is its value now, `target` the value to return to. */
export interface Undo {
  path: string;
  current: unknown;
  /** `undefined` when the approved value is not known. */
  target: unknown;
}

/** Quotes a value for a POSIX shell. */
export function shellQuote(value: string): string {
  // Not at the start: zsh expands a word starting with `=` to the path of the command it names.
  return /^[\w@%+:,./-][\w@%+=:,./-]*$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * A `#` line: what no command can do, or a command not to run as it is. It stays one line: a line break in a value
 * it quotes from a record would end the comment and run the rest as a command. And it is not inert everywhere: an
 * interactive zsh (macOS's shell) takes `#` for a comment only with `setopt interactivecomments`, else for a command
 * whose words it expands and whose quotes it reads. So every value from a record in `text` is shell-quoted like a
 * command's, and the text holds no quote of its own, which would leave the next lines' quotes inverted.
 */
export function comment(text: string): string {
  return `# ${text.replace(/[\p{Cc}\p{Zl}\p{Zp}]+/gu, ' ')}`;
}

/** An option of an AWS CLI operation with a value that came from a record, which the CLI must take literally. */
interface Param {
  option: `--${string}`;
  value: string | number | string[];
}

const param = (option: Param['option'], value: Param['value']): Param => ({ option, value });

/** The prefixes of values the CLI replaces with the content of a file or URL (its "paramfile" loading). */
const PARAMFILE = /^(file|fileb|https?):\/\//i;

/**
 * Whether the CLI would misread the value after its option: one starting with `-` is taken for an option ("Unknown
 * options", "expected one argument"), a paramfile prefix makes it load a file or fetch a URL, and a list given as
 * one word starting with `[` is parsed as JSON.
 */
function misread(value: Param['value']): boolean {
  const words = Array.isArray(value) ? value : [String(value)];
  return words.some((w) => w.startsWith('-') || PARAMFILE.test(w) || (Array.isArray(value) && /^\s*\[/.test(w)));
}

/** The operation's member an option sets: `--s3-bucket-name` is `S3BucketName`, as the CLI names options. */
const memberOf = (option: string): string =>
  option
    .slice(2)
    .split('-')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');

/**
 * An `aws` command line: text words as they are (options, values keydrift chose, and Regions, which the CLI never
 * loads), then each parameter shell-quoted after its option. A parameter the CLI would misread goes in
 * `--cli-input-json` instead, where values are taken literally; the common case stays readable.
 *
 * @example
 * aws('kms untag-resource', param('--key-id', arn), '--region us-west-2', param('--tag-keys', ['-x']))
 * // aws kms untag-resource --key-id arn:… --region us-west-2 --cli-input-json '{"TagKeys":["-x"]}'
 */
function aws(operation: string, ...words: Array<string | Param>): string {
  const literal: Record<string, Param['value']> = {};
  const line = ['aws', operation];
  for (const word of words) {
    if (typeof word === 'string') line.push(word);
    else if (misread(word.value)) literal[memberOf(word.option)] = word.value;
    else line.push(word.option, ...[word.value].flat().map((v) => shellQuote(String(v))));
  }
  if (Object.keys(literal).length) line.push('--cli-input-json', shellQuote(JSON.stringify(literal)));
  return line.join(' ');
}

const MAX_INLINE_POLICY = 4096;

/**
 * The options that recreate a grant as approved. Its constraints above all: without them the new grant would allow
 * the operations under any encryption context, or on behalf of any resource, wider than the grant it replaces.
 */
function createGrantOptions(grant: Partial<GrantValue>): Array<string | Param> {
  const { encryptionContextSubset, encryptionContextEquals, sourceArn } =
    (grant.constraints as {
      encryptionContextSubset?: unknown;
      encryptionContextEquals?: unknown;
      sourceArn?: unknown;
    } | null) ?? {};
  const constraints = {
    ...(encryptionContextSubset ? { EncryptionContextSubset: encryptionContextSubset } : {}),
    ...(encryptionContextEquals ? { EncryptionContextEquals: encryptionContextEquals } : {}),
    ...(sourceArn ? { SourceArn: sourceArn } : {}),
  };
  // A grant to a service principal the current way (GranteeServicePrincipal, which KMS requires a SourceArn with) is
  // kept with its service in the same fields as an ARN: in --grantee-principal, which takes an ARN, it would not be the
  // grant approved. A service named without a SourceArn (DynamoDB's grants on a caller's behalf) was a GranteePrincipal.
  const servicePrincipal = (principal: string) => !!sourceArn && !principal.startsWith('arn:');
  const grantee = String(grant.grantee_principal);
  const retiring = grant.retiring_principal;
  return [
    param(servicePrincipal(grantee) ? '--grantee-service-principal' : '--grantee-principal', grantee),
    param('--operations', grant.operations ?? []),
    ...(Object.keys(constraints).length ? [`--constraints ${shellQuote(JSON.stringify(constraints))}`] : []),
    ...(retiring
      ? [param(servicePrincipal(retiring) ? '--retiring-service-principal' : '--retiring-principal', retiring)]
      : []),
    ...(grant.name ? [param('--name', grant.name)] : []),
  ];
}

/** The Region of a resource, for `--region`: from its ARN, which comes from the record too, so quoted. */
const quotedRegionOf = (arn: string): string => shellQuote(parseArn(arn)?.region ?? 'us-east-1');

/** The approved value of any path of the resource (`undefined` when unknown), for commands that set several. */
export type ApprovedValue = (path: string) => unknown;

/**
 * What keydrift knows of other resources, for an undo that depends on them (an alias's approved key): their approved
 * values, and their values as it last knew them (`undefined` when unknown).
 */
export interface Elsewhere {
  approved?: (arn: string, path: string) => unknown;
  known?: (arn: string, path: string) => unknown;
}

/** The outside accounts (or `*`) that restoring `target` over `current` would let use the key again. */
function outsideAccessRestored(arn: string, current: unknown, target: unknown): string[] {
  const account = parseArn(arn)?.account ?? '';
  const outside = (policy: unknown) =>
    policy && typeof policy === 'object' ? externalAccountsOf(policy as Policy, account) : [];
  const now = new Set(outside(current));
  return outside(target).filter((accountId) => !now.has(accountId));
}

function keyCommands(arn: string, region: string, undo: Undo, approved: ApprovedValue = () => undefined): string[] {
  const key = [param('--key-id', arn), `--region ${region}`];
  const { attribute, entry } = splitPath(undo.path);
  const { current, target } = undo;
  if (attribute === 'key_state' && current === 'Deleted') {
    return [
      comment(
        `${shellQuote(arn)} is deleted and cannot be restored: data encrypted under it can no longer be decrypted`,
      ),
    ];
  }
  if (attribute === 'key_state' && current === 'Unavailable')
    return reconnectStoreCommands(key, region, undo, approved);
  if (target === undefined) {
    // Whatever the approved state was, it was not "pending deletion": cancelling is always part of the undo. Whether
    // the key was Enabled before is not known, so enabling it is left to the reader, as a comment.
    return attribute === 'key_state' && isPendingDeletion(current)
      ? [
          aws('kms cancel-key-deletion', ...key),
          comment(
            `cancelling leaves the key Disabled; its state before the deletion was scheduled is unknown. If it was in use, also run: ${aws('kms enable-key', ...key)}`,
          ),
        ]
      : [];
  }
  switch (attribute) {
    case 'key_state':
      if (target === 'Enabled') {
        if (current === 'PendingImport') return [reimportComment(key, approved('key_material'))];
        return [
          ...(isPendingDeletion(current) ? [aws('kms cancel-key-deletion', ...key)] : []),
          aws('kms enable-key', ...key),
        ];
      }
      // Cancelling leaves the key Disabled (PendingImport without its key material, as approved before its import);
      // DisableKey on a key pending deletion fails and cancels nothing.
      if (isPendingDeletion(current)) return [aws('kms cancel-key-deletion', ...key)];
      // An approved deletion cancelled: it can be scheduled again, but not for its date (KMS counts from now).
      if (isPendingDeletion(target)) {
        const date = approved('deletion_date');
        return [
          comment(
            `the key was approved for deletion${typeof date === 'string' ? ` on ${shellQuote(date)}` : ''}; to delete it as approved, schedule its deletion again (KMS takes 7 to 30 days from now): ${aws('kms schedule-key-deletion', ...key, '--pending-window-in-days 30')}`,
          ),
        ];
      }
      if (target !== 'Disabled') return [];
      // KMS refuses DisableKey on a key without its key material: importing it again (expiring as approved) enables
      // the key, then disable it.
      return current === 'PendingImport'
        ? [reimportComment(key, approved('key_material')), aws('kms disable-key', ...key)]
        : [aws('kms disable-key', ...key)];
    case 'deletion_date':
      return target === null && current ? [aws('kms cancel-key-deletion', ...key)] : [];
    case 'enable_key_rotation': {
      if (!target) return [aws('kms disable-key-rotation', ...key)];
      // Without a period, KMS applies 365 days: name the approved one when it differs.
      const period = approved('rotation_period_in_days');
      const flag = typeof period === 'number' && period !== 365 ? [param('--rotation-period-in-days', period)] : [];
      return [aws('kms enable-key-rotation', ...key, ...flag)];
    }
    case 'rotation_period_in_days':
      // Only EnableKeyRotation sets a period: on a key approved with rotation off, it would turn rotation back on.
      // KMS's default, 365 days, goes without a period when rotation itself is enabled again (one command for both);
      // a key rotating on another period now is told 365 days outright rather than trusted to fall back to it.
      return typeof target === 'number' && approved('enable_key_rotation') !== false
        ? [
            aws(
              'kms enable-key-rotation',
              ...key,
              ...(target === 365 && typeof current !== 'number' ? [] : [param('--rotation-period-in-days', target)]),
            ),
          ]
        : [];
    case 'policy': {
      if (!target) return [];
      const json = JSON.stringify(target);
      // Too long for a command line (and for an alert): the approved policy comes from keydrift's baseline store.
      const restore =
        json.length <= MAX_INLINE_POLICY
          ? [aws('kms put-key-policy', ...key, `--policy-name default --policy ${shellQuote(json)}`)]
          : [
              `keydrift baseline show ${shellQuote(arn)} --region ${region} --format json | jq -e '.baseline.snapshot.attributes.policy' > approved-policy.json`,
              // The one value the CLI is meant to load from a file: the file keydrift just wrote.
              aws('kms put-key-policy', ...key, '--policy-name default --policy file://approved-policy.json'),
            ];
      // A baseline adopted from an unplanned creation may hold outside access: never hand it back without a word.
      const reopened = outsideAccessRestored(arn, current, target);
      if (reopened.length === 0) return restore;
      return [
        comment(
          `the approved policy lets ${reopened.includes('*') ? 'anyone' : `account ${reopened.map(shellQuote).join(', ')}`} use the key again; restore it only if that access is intended (else accept the current policy: keydrift baseline accept ${shellQuote(arn)} --region ${region}):`,
        ),
        ...restore.map(comment),
      ];
    }
    case 'description':
      return [aws('kms update-key-description', ...key, param('--description', String(target ?? '')))];
    case 'tags':
      if (entry === undefined) return [];
      return target === null || target === undefined
        ? [aws('kms untag-resource', ...key, param('--tag-keys', [entry]))]
        : // JSON, not the TagKey=…,TagValue=… shorthand, which a comma in the value would break.
          [
            aws(
              'kms tag-resource',
              ...key,
              `--tags ${shellQuote(JSON.stringify([{ TagKey: entry, TagValue: String(target) }]))}`,
            ),
          ];
    case 'grants':
      if (entry === undefined) return [];
      if (target === null && current) return [aws('kms revoke-grant', ...key, param('--grant-id', entry))];
      return target && !current
        ? [aws('kms create-grant', ...key, ...createGrantOptions(target as Partial<GrantValue>))]
        : [];
    case 'key_material':
      // Material imported into a key approved without any: deleting it puts the key back to PendingImport, but what
      // was encrypted under it since cannot be decrypted until that material is imported again: a choice, not an undo.
      if (target === null && current) {
        return [
          comment(
            `if this key material is not wanted (what was encrypted under it cannot be decrypted until it is imported again): ${aws('kms delete-imported-key-material', ...key)}`,
          ),
        ];
      }
      // Gone, or imported again with another expiry: only its owner can import it again, expiring as approved.
      return target ? [reimportComment(key, target)] : [];
    case 'primary_region': {
      if (typeof target !== 'string') return [];
      // The call goes to the current primary key, in its Region (the key of this ARN is now a replica).
      const primary = typeof current === 'string' ? current : region;
      const primaryKey = [
        param('--key-id', arn.replace(`:${region}:`, `:${primary}:`)),
        `--region ${shellQuote(primary)}`,
      ];
      return [aws('kms update-primary-region', ...primaryKey, param('--primary-region', target))];
    }
    case 'replica_regions':
      // Replicas are added and deleted through the primary key: none of this key's Region, which is no replica of
      // itself, and none while it is not approved as the primary (a replica promoted: moving the primary back is the
      // undo, never deleting the other keys).
      if (entry === undefined || entry === region) return [];
      if (typeof approved('primary_region') === 'string' && approved('primary_region') !== region) return [];
      return target && !current
        ? [aws('kms replicate-key', ...key, param('--replica-region', entry))]
        : [
            aws(
              'kms schedule-key-deletion',
              param('--key-id', arn.replace(`:${region}:`, `:${entry}:`)),
              `--region ${shellQuote(entry)} --pending-window-in-days 30`,
            ),
          ];
    default:
      return [];
  }
}

/**
 * The undo of new key material staged for a key's next on-demand rotation (ImportType NEW_KEY_MATERIAL): its deletion
 * by id, which leaves the key using its current material. A comment: once a rotation has made it current, deleting it
 * leaves the key unusable until it is imported again.
 */
export function stagedMaterialUndo(arn: string, materialId: string): string {
  const region = quotedRegionOf(arn);
  const deletion = aws(
    'kms delete-imported-key-material',
    param('--key-id', arn),
    `--region ${region}`,
    param('--key-material-id', materialId),
  );
  return comment(
    `unless an on-demand rotation has made it current since (DescribeKey's CurrentKeyMaterialId): ${deletion}`,
  );
}

/**
 * A key found `Unavailable`: its custom key store is disconnected, and enabling the key does nothing for that.
 * Reconnecting the store (the key's own, which never changes) brings the key back in the state it had; a key approved
 * Disabled is disabled again after, in case it was enabled meanwhile. Without the store's id, a comment saying where
 * to find it.
 */
function reconnectStoreCommands(
  key: Array<string | Param>,
  region: string,
  undo: Undo,
  approved: ApprovedValue,
): string[] {
  const store = approved('custom_key_store');
  const reconnect =
    typeof store === 'string' && store
      ? aws('kms connect-custom-key-store', param('--custom-key-store-id', store), `--region ${region}`)
      : comment(
          `reconnect the custom key store of the key (${aws('kms describe-key', ...key)} names it: CustomKeyStoreId): ${aws('kms connect-custom-key-store', '--custom-key-store-id STORE_ID', `--region ${region}`)}`,
        );
  return [reconnect, ...(undo.target === 'Disabled' ? [aws('kms disable-key', ...key)] : [])];
}

/**
 * The step to bring back key material, which only its owner holds: a comment, not a command. With the approved
 * material known, the import names its approved expiry: without one, the material would not expire as approved.
 */
function reimportComment(key: Array<string | Param>, material?: unknown): string {
  const { expiration_model: model, valid_to: validTo } = (material ?? {}) as {
    expiration_model?: unknown;
    valid_to?: unknown;
  };
  const expiry = [
    ...(typeof model === 'string' ? [param('--expiration-model', model)] : []),
    ...(typeof validTo === 'string' ? [param('--valid-to', validTo)] : []),
  ];
  return comment(
    `re-import the same key material: ${aws('kms get-parameters-for-import', ...key)} …, then ${aws('kms import-key-material', ...key, ...expiry)} …`,
  );
}

function aliasCommands(
  arn: string,
  region: string,
  undo: Undo,
  _approved?: ApprovedValue,
  elsewhere: Elsewhere = {},
): string[] {
  if (undo.path !== 'target_key_id' || undo.target === undefined) return [];
  const alias = [param('--alias-name', aliasNameOf(arn)), `--region ${region}`];
  if (typeof undo.target === 'string') {
    const target = undo.target;
    const point = aws(
      undo.current ? 'kms update-alias' : 'kms create-alias',
      ...alias,
      param('--target-key-id', target),
    );
    // KMS points no alias at a key pending deletion (KMSInvalidStateException), nor ever at a deleted one. Only a state
    // keydrift knows changes the command: with none, the key is taken as usable.
    const keyState = elsewhere.known?.(target, 'key_state');
    const approvedOfKey: ApprovedValue = (path) => elsewhere.approved?.(target, path);
    const approvedState = approvedOfKey('key_state');
    const unusable =
      keyState === 'Deleted'
        ? 'is deleted and cannot be a target again'
        : isPendingDeletion(keyState) && isPendingDeletion(approvedState)
          ? 'is pending deletion as approved and cannot be a target'
          : undefined;
    if (unusable) {
      const accept = `keydrift baseline accept ${shellQuote(arn)} --region ${region}`;
      return [
        comment(
          `the approved key ${shellQuote(target)} ${unusable}: point the alias at its replacement, then approve that: ${accept}`,
        ),
      ];
    }
    if (!isPendingDeletion(keyState)) return [point];
    // The key's own undo first (in the alias's Region, the only one its key can be in): cancelling its deletion (which
    // leaves it Disabled), then enabling it unless it was approved otherwise. An alias approved on it was there to be used.
    const keyUndo = keyCommands(
      target,
      region,
      { path: 'key_state', current: keyState, target: typeof approvedState === 'string' ? approvedState : 'Enabled' },
      approvedOfKey,
    );
    return [...keyUndo, point];
  }
  return undo.target === null && undo.current ? [aws('kms delete-alias', ...alias)] : [];
}

/**
 * Recreating a deleted trail: create-trail with its approved settings, then its approved event selectors (logging is
 * started by the `logging` undo, after). Without a known bucket, one line to fill in, commented out.
 */
function recreateTrailCommands(arn: string, region: string, approved: ApprovedValue): string[] {
  const bucket = approved('s3_bucket_name');
  const selectors = approved('event_selectors') as Partial<TrailSelectors> | undefined;
  const create = (bucketName: string | Param) =>
    aws(
      'cloudtrail create-trail',
      param('--name', arn.split('/').pop() ?? arn),
      ...(typeof bucketName === 'string' ? [`--s3-bucket-name ${bucketName}`] : [bucketName]),
      `--region ${region}`,
      ...approvedTrailOptions(approved),
    );
  // What keydrift does not record, so the on-call person does not take the recreated trail for the one deleted.
  const untracked = comment(
    'keydrift does not record the S3 key prefix, SNS topic, CloudWatch Logs delivery, insight selectors or tags of a trail: set again any the deleted trail had',
  );
  if (typeof bucket !== 'string' || !bucket)
    return [comment(`recreate the trail, then restore its event selectors: ${create('BUCKET_NAME')}`), untracked];
  return [
    create(param('--s3-bucket-name', bucket)),
    ...(selectors ? putSelectorsCommands(arn, region, selectors) : []),
    untracked,
  ];
}

/** The trail settings that are an on/off option of create-trail and update-trail, and create-trail's default. */
const TRAIL_FLAGS: Record<string, { option: string; byDefault: boolean }> = {
  multi_region: { option: 'is-multi-region-trail', byDefault: false },
  log_file_validation: { option: 'enable-log-file-validation', byDefault: false },
  organization_trail: { option: 'is-organization-trail', byDefault: false },
  include_global_service_events: { option: 'include-global-service-events', byDefault: true },
};
const flagOption = (attribute: string, on: boolean): string => `--${on ? '' : 'no-'}${TRAIL_FLAGS[attribute].option}`;

/** The create-trail options of the other approved settings keydrift knows (flags only where not the default). */
function approvedTrailOptions(approved: ApprovedValue): Array<string | Param> {
  const key = approved('kms_key_id');
  const flags = Object.entries(TRAIL_FLAGS).flatMap(([attribute, { byDefault }]) => {
    const value = approved(attribute);
    return typeof value === 'boolean' && value !== byDefault ? [flagOption(attribute, value)] : [];
  });
  return [...(typeof key === 'string' && key ? [param('--kms-key-id', key)] : []), ...flags];
}

function trailCommands(arn: string, region: string, undo: Undo, approved: ApprovedValue = () => undefined): string[] {
  const name = [param('--name', arn), `--region ${region}`];
  const { current, target } = undo;
  if (target === undefined) return [];
  if (Object.hasOwn(TRAIL_FLAGS, undo.path))
    return [aws('cloudtrail update-trail', ...name, flagOption(undo.path, !!target))];
  switch (undo.path) {
    case 'trail':
      return target === 'exists' && current === 'deleted' ? recreateTrailCommands(arn, region, approved) : [];
    case 'logging':
      return [aws(target ? 'cloudtrail start-logging' : 'cloudtrail stop-logging', ...name)];
    case 'kms_key_id':
      // Approved without a KMS key: an empty key id takes away the one the trail was given (its logs back to SSE-S3).
      if (target === null && current) return [aws('cloudtrail update-trail', ...name, param('--kms-key-id', ''))];
      return typeof target === 'string' ? [aws('cloudtrail update-trail', ...name, param('--kms-key-id', target))] : [];
    case 's3_bucket_name':
      return typeof target === 'string' && target
        ? [aws('cloudtrail update-trail', ...name, param('--s3-bucket-name', target))]
        : [];
    case 'event_selectors': {
      const selectors = target as Partial<TrailSelectors> | undefined;
      if (!selectors) return [];
      return putSelectorsCommands(arn, region, selectors);
    }
    default:
      return [];
  }
}

/** The source of KMS's events, which a trail's selectors may leave out. */
const KMS_SOURCE = 'kms.amazonaws.com';
/** Management event sources a basic selector can exclude (advanced selectors exclude any). */
const BASIC_EXCLUDABLE = new Set([KMS_SOURCE, 'rdsdata.amazonaws.com']);

/**
 * One put-event-selectors that sets the approved selectors whole: management events as approved, and every approved
 * data-event and network-activity selector. Basic selectors when the approved ones were basic (one per read/write
 * type), else advanced.
 */
function putSelectorsCommands(arn: string, region: string, selectors: Partial<TrailSelectors>): string[] {
  const management = selectors.management ?? 'All';
  const excluded = selectors.excluded_sources ?? [];
  const data = selectors.data_resources ?? [];
  const trail = [param('--trail-name', arn), `--region ${region}`];
  const advancedData = data.filter((d) => d.selector === 'advanced');
  const basicData = data.filter((d) => d.selector === 'basic');
  if (advancedData.length + basicData.length < data.length) {
    // A baseline stored by an earlier keydrift holds only resource types: a put from it would drop the data events.
    return [
      comment(
        `the approved selectors were stored before keydrift kept data-event selectors whole: check the live ones, then approve them (keydrift baseline accept ${shellQuote(arn)} --region ${region})`,
      ),
    ];
  }
  if (advancedData.length && basicData.length) {
    // CloudTrail takes one kind or the other: no single put can set both.
    return [
      comment(
        `the approved selectors mix basic and advanced selectors, which CloudTrail does not take together: restore them by hand (keydrift baseline show ${shellQuote(arn)} --region ${region})`,
      ),
    ];
  }
  if (advancedData.length || !excluded.every((source) => BASIC_EXCLUDABLE.has(source))) {
    const advanced = [
      ...advancedData.map((d) => ({
        // Names are labels (never compared): each says what its selector logs.
        Name: `${(d.field_selectors.find((f) => f.field === 'eventCategory')?.equals ?? ['Other']).join(', ')} events`,
        FieldSelectors: d.field_selectors.map((f) => ({
          Field: f.field,
          ...Object.fromEntries(
            FIELD_OPERATORS.filter((op) => f[op]?.length).map((op) => [op[0].toUpperCase() + op.slice(1), f[op]]),
          ),
        })),
      })),
      ...advancedManagementSelectors(management, excluded, selectors.kms_reads_excluded),
    ];
    return [
      aws(
        'cloudtrail put-event-selectors',
        ...trail,
        `--advanced-event-selectors ${shellQuote(JSON.stringify(advanced))}`,
      ),
    ];
  }
  const byReadWrite = new Map<string, Array<{ Type: string; Values: string[] }>>();
  for (const d of basicData) {
    const resources = byReadWrite.get(d.read_write_type) ?? [];
    resources.push({ Type: d.type, Values: d.values });
    byReadWrite.set(d.read_write_type, resources);
  }
  const basic: Array<Record<string, unknown>> = [...byReadWrite].map(([readWriteType, resources]) => ({
    ReadWriteType: readWriteType,
    IncludeManagementEvents: false,
    ExcludeManagementEventSources: [],
    DataResources: resources,
  }));
  if (selectors.kms_reads_excluded) {
    // Reads and writes apart: the reads' selector leaves KMS out too.
    basic.push(
      { ReadWriteType: 'WriteOnly', IncludeManagementEvents: true, ExcludeManagementEventSources: excluded },
      {
        ReadWriteType: 'ReadOnly',
        IncludeManagementEvents: true,
        ExcludeManagementEventSources: [...excluded, KMS_SOURCE],
      },
    );
  } else if (management !== 'None' || basic.length === 0) {
    // A trail that logs no events at all still takes one selector: management events off.
    basic.push({
      ReadWriteType: management === 'None' ? 'All' : management,
      IncludeManagementEvents: management !== 'None',
      ExcludeManagementEventSources: excluded,
    });
  }
  return [aws('cloudtrail put-event-selectors', ...trail, `--event-selectors ${shellQuote(JSON.stringify(basic))}`)];
}

/**
 * The advanced selectors that log management events as approved (none when the trail logs none): one, or one for
 * writes and one for reads when the reads leave KMS out.
 */
function advancedManagementSelectors(
  management: string,
  excluded: string[],
  kmsReadsExcluded = false,
): Array<Record<string, unknown>> {
  if (management === 'None') return [];
  const selector = (name: string, readOnly: string[] | undefined, left: string[]) => ({
    Name: name,
    FieldSelectors: [
      { Field: 'eventCategory', Equals: ['Management'] },
      ...(readOnly ? [{ Field: 'readOnly', Equals: readOnly }] : []),
      ...(left.length ? [{ Field: 'eventSource', NotEquals: left }] : []),
    ],
  });
  if (kmsReadsExcluded)
    return [
      selector('Management write events', ['false'], excluded),
      selector('Management read events', ['true'], [...excluded, KMS_SOURCE]),
    ];
  return [selector('Management events', { ReadOnly: ['true'], WriteOnly: ['false'] }[management], excluded)];
}

function storeCommands(arn: string, region: string, undo: Undo): string[] {
  const id = [param('--custom-key-store-id', arn.split('/').pop() ?? arn), `--region ${region}`];
  if (undo.path === 'custom_key_store' && undo.current === 'deleted') {
    return [
      comment(
        `${shellQuote(arn)} is deleted and cannot be restored: a new one made with aws kms create-custom-key-store gets a new id`,
      ),
    ];
  }
  if (undo.path === 'connection_state' && undo.target === 'CONNECTED')
    return [aws('kms connect-custom-key-store', ...id)];
  if (undo.path === 'connection_state' && undo.target === 'DISCONNECTED')
    return [aws('kms disconnect-custom-key-store', ...id)];
  return [];
}

const COMMANDS: Record<
  ResourceKind,
  (arn: string, region: string, undo: Undo, approved?: ApprovedValue, elsewhere?: Elsewhere) => string[]
> = {
  key: keyCommands,
  alias: aliasCommands,
  trail: trailCommands,
  'custom-key-store': storeCommands,
};

/** The change that leaves a resource deleted for good, for the kinds that cannot be brought back. */
const GONE: Partial<Record<ResourceKind, { path: string; current: string }>> = {
  key: { path: 'key_state', current: 'Deleted' },
  'custom-key-store': { path: 'custom_key_store', current: 'deleted' },
};

/**
 * Commands that undo each change whose approved value is known, in order, without repeats. Changes
 * whose approved value is unknown get a command to inspect the resource instead.
 */
export function remediationFor(
  kind: ResourceKind,
  arn: string,
  undos: Undo[],
  approved?: ApprovedValue,
  elsewhere?: Elsewhere,
): string[] {
  const region = quotedRegionOf(arn);
  const commands: string[] = [];
  // Nothing else can be undone on a deleted key or key store, and inspecting it only answers NotFound.
  const gone = GONE[kind];
  if (gone && undos.some((u) => u.path === gone.path && u.current === gone.current)) {
    return COMMANDS[kind](arn, region, { ...gone, target: undefined });
  }
  const inspect: string[] = [];
  const step = UNDO_STEP[kind];
  const ordered = step ? [...undos].sort((a, b) => step(a) - step(b)) : undos;
  for (const undo of ordered) {
    if (JSON.stringify(undo.target) === JSON.stringify(undo.current)) continue;
    const undoing = COMMANDS[kind](arn, region, undo, approved, elsewhere);
    if (undo.target === undefined && undoing.length === 0) inspect.push(inspectCommand(kind, arn, region, undo.path));
    commands.push(...undoing);
  }
  // A deleted trail has nothing left to inspect: reading it only answers TrailNotFound.
  const trailDeleted = kind === 'trail' && undos.some((u) => u.path === 'trail' && u.current === 'deleted');
  return [...new Set([...commands, ...(trailDeleted ? [] : inspect)])];
}

/**
 * When a key's undo can run: a key pending deletion or disabled refuses rotation, grant, tag and description changes
 * (KMSInvalidStateException, DisabledException), so cancelling its deletion and enabling it come first, and disabling
 * it comes last.
 */
function keyUndoStep(undo: Undo): number {
  const { attribute } = splitPath(undo.path);
  if (attribute === 'deletion_date') return 0;
  if (attribute !== 'key_state') return 1;
  return undo.target === 'Disabled' && !isPendingDeletion(undo.current) ? 2 : 0;
}

/**
 * When a trail's undo can run: a deleted trail is created first. CloudTrail refuses a multi-Region trail without
 * global service events: they come back on before the multi-Region flag, and go off after it. The trail starts
 * logging only once its key, bucket and selectors are back: never into a wrong bucket unencrypted.
 */
function trailUndoStep(undo: Undo): number {
  if (undo.path === 'trail') return -1;
  if (undo.path === 'include_global_service_events') return undo.target === true ? 0 : 2;
  return undo.path === 'logging' && undo.target === true ? 3 : 1;
}

const UNDO_STEP: Partial<Record<ResourceKind, (undo: Undo) => number>> = { key: keyUndoStep, trail: trailUndoStep };

/**
 * How many of the other entries still drifting in the maps a change touched (`untouchedDrift`) its finding undoes. A
 * key with thousands of unapproved grants made each finding undo them all, and a replay's commands grew with the
 * square of the grants (1,000 grants: half a million commands, 9 s; 10,000: out of memory). The rest is pointed to
 * by the read that lists them, and each such entry's own finding undoes it.
 */
export const MAX_UNTOUCHED_UNDOS = 20;

/** The line that stands for the `count` entries of a map left out of a finding's undo, with the read that lists them. */
export function moreToUndo(kind: ResourceKind, arn: string, attribute: string, count: number): string {
  const read = readCommand(kind, arn, quotedRegionOf(arn), attribute);
  return comment(
    `${count} more ${attribute} entries differ from the approved baseline (each its own finding); list them: ${read}`,
  );
}

/** The read that shows an attribute's live value, for a change whose approved value is unknown. */
function inspectCommand(kind: ResourceKind, arn: string, region: string, path: string): string {
  return comment(`approved value unknown; inspect: ${readCommand(kind, arn, region, splitPath(path).attribute)}`);
}

/** The AWS CLI read that shows an attribute's live value. */
export function readCommand(kind: ResourceKind, arn: string, region: string, attribute: string): string {
  const key = [param('--key-id', arn), `--region ${region}`];
  switch (kind) {
    case 'key':
      switch (attribute) {
        // DescribeKey does not return the policy, rotation, tags, grants or aliases: each has its own read.
        case 'policy':
          return aws('kms get-key-policy', ...key, '--policy-name default --output text');
        case 'enable_key_rotation':
        case 'rotation_period_in_days':
          return aws('kms get-key-rotation-status', ...key);
        case 'tags':
          return aws('kms list-resource-tags', ...key);
        case 'grants':
          return aws('kms list-grants', ...key);
        case 'aliases':
          return aws('kms list-aliases', ...key);
        default:
          return aws('kms describe-key', ...key);
      }
    case 'alias':
      return aws('kms list-aliases', `--region ${region}`);
    case 'trail':
      switch (attribute) {
        case 'event_selectors':
          return aws('cloudtrail get-event-selectors', param('--trail-name', arn), `--region ${region}`);
        case 'logging':
          return aws('cloudtrail get-trail-status', param('--name', arn), `--region ${region}`);
        default:
          return aws('cloudtrail get-trail', param('--name', arn), `--region ${region}`);
      }
    default:
      return aws(
        'kms describe-custom-key-stores',
        param('--custom-key-store-id', arn.split('/').pop() ?? arn),
        `--region ${region}`,
      );
  }
}
