/**
 * Accept and adopt planned and applied in process against a moto account holding a `Keydrift` stack, with a clock that says each
 * read takes a minute (a large account's adopt reads for minutes). Each approval is dated when its own resource's
 * read began, so a change made while adopt read other resources, and read into the approved state, is older than the
 * approval that resolves its incident.
 */
import { CloudTrailClient, CreateTrailCommand } from '@aws-sdk/client-cloudtrail';
import {
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyRotationCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
} from '@aws-sdk/client-kms';
import { createPageLedger } from '../../lambda/adapters/page-ledger';
import { pagerDutyEventsToSend } from '../../lambda/alerts/pagerduty';
import { acceptingAll } from '../../lambda/cli/operator-actions';
import { snapshotFromState } from '../../lambda/core/state';
import { toIsoSeconds } from '../../lambda/core/time';
import type { Finding } from '../../lambda/core/types';
import { closeOpsContext, createOpsContext, type OpsContext } from '../../lambda/ops/aws';
import {
  type AcceptResult,
  acceptBaselines,
  applyAdopt,
  ChangedMeanwhileError,
  planAdopt,
  resolveTargets,
  status,
  tellPagerAboutAccepts,
} from '../../lambda/ops/operations';
import { finding, type OperatorWorld, REGION, STACK, setUpOperatorWorld } from '../helpers/operator-world';

const MINUTE = 60_000;

let world: OperatorWorld;
let context: OpsContext;

beforeAll(async () => {
  world = await setUpOperatorWorld();
  context = await createOpsContext({ stackName: STACK, region: REGION, endpointUrl: world.moto.endpoint });
});

afterAll(async () => {
  closeOpsContext(context);
  await world.stop();
});

/** Baselines `arn` as it is now, as the detector does for a key it saw created. */
async function baselined(arn: string): Promise<void> {
  const live = await world.reader.readKey(arn);
  const created = finding({ resource: arn, event: 'CreateKey', severity: 'info', status: 'planned', hoursAgo: 24 });
  await world.save({
    finding: created,
    states: [{ snapshot: live, expectedVersion: null }],
    baselines: [{ snapshot: live, expectedVersion: null }],
  });
}

/** The attributes `key`'s stored baseline approves. */
async function baseline(key: string): Promise<Record<string, unknown>> {
  return JSON.parse((await world.item(`RESOURCE#${key}`, 'BASELINE'))?.snapshot?.S ?? '{}').attributes;
}

/**
 * Makes KMS read `keys` as keys of a disconnected custom key store (`Unavailable`), until restored: moto has no key
 * stores, so its DescribeKey answer is edited.
 */
function readUnavailable(keys: string[]): jest.SpyInstance {
  const send = context.kms.send.bind(context.kms);
  return jest.spyOn(context.kms, 'send').mockImplementation((async (command: object) => {
    const output = await send(command as DescribeKeyCommand);
    const metadata = command instanceof DescribeKeyCommand ? output.KeyMetadata : undefined;
    if (metadata?.Arn && keys.includes(metadata.Arn)) {
      Object.assign(metadata, {
        KeyState: 'Unavailable',
        DeletionDate: undefined,
        CustomKeyStoreId: 'cks-1234567890abcdef0',
        Origin: 'AWS_CLOUDHSM',
      });
    }
    return output;
  }) as never);
}

describe('keydrift baseline adopt', () => {
  it("dates each approval when its own resource's read began: a change paged while adopt read other keys is resolved", async () => {
    // Prepare: two baselined keys. Adopt begins at `start` and reads a resource a minute; the second key is disabled
    // (and paged) 90 s in, before adopt reaches it, so adopt reads it Disabled and approves that.
    const first = await world.createKey('payments card data');
    const second = await world.createKey('monthly reports');
    await baselined(first);
    await baselined(second);
    await world.kms.send(new DisableKeyCommand({ KeyId: second.split('/')[1] }));
    const start = Date.parse('2026-12-06T03:00:00Z');
    let clock = start;
    const oneMinutePerRead = () => {
      const now = clock;
      clock += MINUTE;
      return now;
    };
    const disabledAt = start + 90_000;
    const disabled: Finding = {
      ...finding({ resource: second, event: 'DisableKey', severity: 'critical', hoursAgo: 0 }),
      timestamp: toIsoSeconds(disabledAt),
      changes: { key_state: { before: 'Enabled', after: 'Disabled' } },
    };
    const ledger = createPageLedger({ client: world.dynamodb, tableName: world.tableName });
    const paged = async (f: Finding) =>
      Promise.all(
        pagerDutyEventsToSend(f, 'routing-key').map((body) =>
          ledger.admit({
            dedupKey: body.dedup_key,
            at: Date.parse(f.timestamp),
            eventId: f.eventId,
            action: body.event_action,
          }),
        ),
      );
    expect(await paged(disabled)).toEqual([true]);

    // Act
    const plan = await planAdopt(context, oneMinutePerRead);
    const results = await applyAdopt(context, plan, clock);
    await tellPagerAboutAccepts(context, results);

    // Assess: each resource is dated at its own read, the second key's after its change.
    const readAt = (arn: string) => Date.parse(results.find((r) => r.resource === arn)?.readAt ?? '');
    expect(readAt(first)).toBeGreaterThan(start);
    expect(readAt(second)).toBeGreaterThan(readAt(first));
    expect(readAt(second)).toBeGreaterThan(disabledAt);
    // The stored state carries the same time: the detector takes it as read after events before then.
    const state = await world.item(`RESOURCE#${second}`, 'STATE');
    expect(state?.updatedAt?.S).toBe(new Date(readAt(second)).toISOString());
    // The approval resolves the DisableKey incident: the pager takes it as newer and sends it.
    const approvals = (await world.pageMessages()).filter((f) => f.resource === second);
    expect(approvals).toEqual([
      expect.objectContaining({ event: 'BaselineAccept', changes: { key_state: expect.anything() } }),
    ]);
    // Its key_state incident, and the incident of what it was created with, if one is open.
    expect(await paged(approvals[0])).toEqual([true, true]);
  });

  it('approves a key caught pending deletion working, as the reconciler adopts it: the deletion stays open drift', async () => {
    // Prepare: a key whose deletion someone scheduled before keydrift baselined it.
    const key = await world.createKey('invoices');
    await world.kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.split('/')[1], PendingWindowInDays: 7 }));

    // Act
    const plan = await planAdopt(context, Date.now);
    const results = await applyAdopt(context, plan, Date.now());

    // Assess: the baseline is the working key, the stored state what was read; status reports the deletion.
    expect(results.find((r) => r.resource === key)).toMatchObject({ result: 'new', written: true });
    const snapshot = async (sk: string) =>
      JSON.parse((await world.item(`RESOURCE#${key}`, sk))?.snapshot?.S ?? '{}').attributes;
    expect(await snapshot('BASELINE')).toMatchObject({ key_state: 'Enabled', deletion_date: null });
    expect(await snapshot('STATE')).toMatchObject({ key_state: 'PendingDeletion', deletion_date: expect.any(String) });
    const drift = (await status(context)).drift.find((d) => d.resource === key);
    expect(drift?.attributes).toEqual(['deletion_date', 'key_state']);
    // Adopted again, the key still pending deletion: its approved state is left as it is.
    const again = await planAdopt(context, Date.now);
    expect(again.results.find((r) => r.resource === key)).toMatchObject({ result: 'unchanged', written: false });
  });

  it('keeps the approved state of a key caught pending deletion that has a baseline: an accepted deletion stays approved', async () => {
    // Prepare: one key's deletion accepted by an operator; another key approved Disabled, whose deletion someone
    // scheduled since.
    const retired = await world.createKey('retired');
    await world.kms.send(new ScheduleKeyDeletionCommand({ KeyId: retired.split('/')[1], PendingWindowInDays: 7 }));
    await acceptBaselines(context, await resolveTargets(context, retired), Date.now());
    const archive = await world.createKey('archive');
    await world.kms.send(new DisableKeyCommand({ KeyId: archive.split('/')[1] }));
    await baselined(archive);
    await world.kms.send(new ScheduleKeyDeletionCommand({ KeyId: archive.split('/')[1], PendingWindowInDays: 7 }));
    const accepted = await baseline(retired);

    // Act: adopt run again (to baseline new resources).
    const plan = await planAdopt(context, Date.now);
    await applyAdopt(context, plan, Date.now());

    // Assess: neither approval moves to a working key, which would tell the pager the deletion was resolved.
    expect(plan.results.find((r) => r.resource === retired)).toMatchObject({ result: 'unchanged', written: false });
    expect(await baseline(retired)).toMatchObject({
      key_state: 'PendingDeletion',
      deletion_date: accepted.deletion_date,
    });
    const archived = plan.results.find((r) => r.resource === archive);
    expect(archived?.changes.map((c) => c.path)).not.toContain('key_state');
    expect(await baseline(archive)).toMatchObject({ key_state: 'Disabled', deletion_date: null });
  });

  it('approves no state of a key read Unavailable (its key store disconnected), and keeps the one approved before', async () => {
    // Prepare: keys of a custom key store KMS reads Unavailable (moto has no key stores: its answer is edited): one
    // new, one approved Enabled, one whose deletion an operator accepted, one an older keydrift approved Unavailable.
    const fresh = await world.createKey('hsm-fresh');
    const known = await world.createKey('hsm-known');
    await baselined(known);
    const retiring = await world.createKey('hsm-retiring');
    await world.kms.send(new ScheduleKeyDeletionCommand({ KeyId: retiring.split('/')[1], PendingWindowInDays: 7 }));
    await acceptBaselines(context, await resolveTargets(context, retiring), Date.now());
    const stale = await world.createKey('hsm-stale');
    const read = await world.reader.readKey(stale);
    await world.save({
      finding: finding({ resource: stale, event: 'Reconcile', severity: 'info', status: 'planned', hoursAgo: 24 }),
      baselines: [
        { snapshot: { ...read, attributes: { ...read.attributes, key_state: 'Unavailable' } }, expectedVersion: null },
      ],
    });
    const accepted = await baseline(retiring);
    const disconnected = readUnavailable([fresh, known, retiring, stale]);

    // Act
    const plan = await planAdopt(context, Date.now).finally(() => disconnected.mockRestore());
    await applyAdopt(context, plan, Date.now());

    // Assess: the store's connection is approved for no key; the state KMS shows once it is connected is.
    expect(await baseline(fresh)).not.toHaveProperty('key_state');
    expect(await baseline(stale)).not.toHaveProperty('key_state');
    expect(await baseline(known)).toMatchObject({ key_state: 'Enabled' });
    expect(await baseline(retiring)).toMatchObject({
      key_state: 'PendingDeletion',
      deletion_date: accepted.deletion_date,
    });
    expect(plan.results.find((r) => r.resource === known)?.changes.map((c) => c.path)).not.toContain('key_state');
  });

  it('keeps the approved rotation of a key caught pending deletion, which KMS hides then', async () => {
    // Prepare: a key approved with rotation on; tagged (to adopt) and scheduled for deletion since.
    const key = await world.createKey('ledger');
    await world.kms.send(new EnableKeyRotationCommand({ KeyId: key.split('/')[1] }));
    await baselined(key);
    await world.kms.send(
      new TagResourceCommand({ KeyId: key.split('/')[1], Tags: [{ TagKey: 'team', TagValue: 'x' }] }),
    );
    await world.kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.split('/')[1], PendingWindowInDays: 7 }));

    // Act: adopt run again.
    const plan = await planAdopt(context, Date.now);
    await applyAdopt(context, plan, Date.now());

    // Assess: the tag is adopted; the rotation the read could not see stays approved (not left for anyone to set).
    const adopted = plan.results.find((r) => r.resource === key);
    expect(adopted?.changes.map((c) => c.path)).toEqual(['tags#team']);
    expect(await baseline(key)).toMatchObject({ 'tags#team': 'x', enable_key_rotation: true, key_state: 'Enabled' });
  });

  it("baselines only this Region's own trails, as the reconciler does: not another Region's multi-Region trail", async () => {
    // Prepare: a trail of this Region, and a multi-Region trail homed in us-east-1, which CloudTrail lists here too.
    const own = await world.createTrail('eu-audit');
    world.moto.aws(['s3api', 'create-bucket', '--bucket', 'us-audit-logs', '--region', 'us-east-1']);
    const usEast = new CloudTrailClient({ ...world.moto.clientConfig, region: 'us-east-1' });
    const { TrailARN } = await usEast.send(
      new CreateTrailCommand({ Name: 'us-audit', S3BucketName: 'us-audit-logs', IsMultiRegionTrail: true }),
    );
    usEast.destroy();

    // Act
    const plan = await planAdopt(context, Date.now);
    await applyAdopt(context, plan, Date.now());

    // Assess: us-east-1's keydrift judges its trail; no baseline of it here would ever be compared again.
    const trails = plan.results.filter((r) => r.kind === 'trail').map((r) => r.resource);
    expect(trails).toContain(own);
    expect(trails).not.toContain(TrailARN);
    expect(await world.item(`RESOURCE#${TrailARN}`, 'BASELINE')).toBeUndefined();
  });
});

describe('keydrift baseline accept', () => {
  it('approves no Unavailable (its key store disconnected): a key keeps its approved state, or has none', async () => {
    // Prepare: a key approved Enabled and a key with no baseline, both read Unavailable.
    const known = await world.createKey('hsm-accept-known');
    await baselined(known);
    const fresh = await world.createKey('hsm-accept-fresh');
    const disconnected = readUnavailable([known, fresh]);

    // Act
    await acceptBaselines(context, await resolveTargets(context, known), Date.now());
    await acceptBaselines(context, await resolveTargets(context, fresh), Date.now()).finally(() =>
      disconnected.mockRestore(),
    );

    // Assess
    expect(await baseline(known)).toMatchObject({ key_state: 'Enabled' });
    expect(await baseline(fresh)).not.toHaveProperty('key_state');
  });

  it("keeps the key material keydrift knows staged for the key's next rotation: no read shows it", async () => {
    // Prepare: a baselined key whose stored state knows material staged for its rotation (the detector took it from
    // the ImportKeyMaterial it alerted), then tagged behind keydrift's back.
    const staged = '123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0';
    const key = await world.createKey('vault');
    await baselined(key);
    const loaded = JSON.parse((await world.item(`RESOURCE#${key}`, 'STATE'))?.snapshot?.S ?? '{}');
    const stagedImport = finding({ resource: key, event: 'ImportKeyMaterial', severity: 'error', hoursAgo: 1 });
    await world.save({
      finding: stagedImport,
      states: [{ snapshot: { ...loaded, stagedKeyMaterial: staged }, expectedVersion: 1 }],
    });
    await world.kms.send(
      new TagResourceCommand({ KeyId: key.split('/')[1], Tags: [{ TagKey: 'team', TagValue: 'x' }] }),
    );

    // Act: the operator accepts the key as it is now.
    await acceptBaselines(context, await resolveTargets(context, key), Date.now());

    // Assess: the state stored with the accept still knows the staged material, so its deletion leaves the key usable.
    const state = JSON.parse((await world.item(`RESOURCE#${key}`, 'STATE'))?.snapshot?.S ?? '{}');
    expect(state).toMatchObject({ stagedKeyMaterial: staged, attributes: { 'tags#team': 'x' } });
  });

  it('accepts the other targets when one changed meanwhile, prints them and tells the pager of them, then fails naming the one to accept again', async () => {
    // Prepare: a baselined key with its alias, tagged behind keydrift's back; while the key is accepted, the detector
    // saves a newer state of the alias.
    const key = await world.createKey('ledger', 'alias/ledger');
    await baselined(key);
    await world.kms.send(
      new TagResourceCommand({ KeyId: key.split('/')[1], Tags: [{ TagKey: 'team', TagValue: 'x' }] }),
    );
    const targets = await resolveTargets(context, 'alias/ledger');
    const alias = targets.find((t) => t.kind === 'alias')?.arn ?? '';
    let detectorSaved = false;
    context.dynamodb.middlewareStack.add(
      (next) => async (args) => {
        if (!detectorSaved && 'TransactItems' in (args.input as object)) {
          detectorSaved = true;
          const aliasState = snapshotFromState('alias', alias, { target_key_id: key });
          const created = finding({ resource: alias, event: 'CreateAlias', severity: 'warning', hoursAgo: 0 });
          await world.save({ finding: created, states: [{ snapshot: aliasState, expectedVersion: null }] });
        }
        return next(args);
      },
      { step: 'initialize', name: 'detectorSavesMeanwhile' },
    );

    const printed: AcceptResult[][] = [];
    const notes = jest.spyOn(process.stderr, 'write').mockReturnValue(true);

    // Act: as `keydrift baseline accept alias/ledger` runs it.
    const flags = { format: 'table', stackName: STACK, region: REGION } as const;
    const error = await acceptingAll(
      context,
      flags,
      (results) => printed.push(results),
      () => acceptBaselines(context, targets, Date.now()),
    ).catch((e: unknown) => e);
    context.dynamodb.middlewareStack.remove('detectorSavesMeanwhile');
    const noted = notes.mock.calls.map(([text]) => String(text));
    notes.mockRestore();

    // Assess
    expect(error).toBeInstanceOf(ChangedMeanwhileError);
    const { accepted, message } = error as ChangedMeanwhileError;
    expect(message).toMatch(/^alias\/ledger changed while being accepted/);
    expect(accepted.map((r) => [r.resource, r.result])).toEqual([[key, 'changed']]);
    expect(printed).toEqual([accepted]);
    expect(await baseline(key)).toMatchObject({
      'tags#team': 'x',
    });
    const told = (await world.pageMessages()).filter((f) => f.event === 'BaselineAccept');
    expect(told.map((f) => f.resource)).toEqual([key]);
    expect(noted).toEqual([expect.stringMatching(/^keydrift: told the page topic that 1 resource\(s\) are approved/)]);
  });
});
