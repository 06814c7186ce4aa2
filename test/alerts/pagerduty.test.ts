import { createHash } from 'node:crypto';
import { keyState } from '../../lambda/adapters/kms-reader';
import {
  deletedKeyResolves,
  formatPagerDutyEvents,
  KEY_ATTRIBUTES,
  pagerDutyDedupKey,
  pagerDutyEventsToSend,
} from '../../lambda/alerts/pagerduty';
import { audiencesFor } from '../../lambda/alerts/routing';
import { parseDetectionConfig } from '../../lambda/core/config';
import { MemoryStore } from '../../lambda/core/memory-store';
import { unbaselinedResource } from '../../lambda/core/reconcile';
import { snapshotFromState } from '../../lambda/core/state';
import type { Finding, ResourceSnapshot } from '../../lambda/core/types';
import { at, createKey, createTrail, detect, onKey, onTrail, rec } from '../core/harness';
import { malformedSampleText } from '../helpers/fixtures';
import {
  ACCOUNT,
  ALL_FINDINGS,
  cancelKeyDeletion,
  deleteKey,
  deniedPolicyAttempt,
  deniedPutKeyPolicy,
  enableKeyRotationResolved,
  hostileDescription,
  hostileTag,
  hugeFinding,
  KEY_ARN,
  putKeyPolicyOpened,
  REGION,
  scheduleKeyDeletion,
  stopLogging,
  TRAIL_ARN,
  trailKeyRemoved,
} from './fixtures';
import { pagerDutyEventSchema } from './schemas';
import { allStrings, UNSAFE_CHARACTERS } from './walk';

const ROUTING_KEY = 'R0123456789abcdef0123456789abcde';
const keyDedup = (attribute: string) => `keydrift:${ACCOUNT}:${REGION}:${KEY_ARN}:${attribute}`;

/** What the reconciler reports for `live` found with no baseline (its creation event missed). */
function foundByReconciler(live: ResourceSnapshot): Finding {
  const surroundings = new MemoryStore([]);
  surroundings.putState(live);
  return unbaselinedResource(live, Date.parse('2024-01-01T00:00:00Z'), surroundings, parseDetectionConfig({}));
}

describe('formatPagerDutyEvents: format', () => {
  it.each(ALL_FINDINGS)('produces Events API v2 bodies that match the schema for the %s finding', (_name, finding) => {
    const events = formatPagerDutyEvents(finding, ROUTING_KEY);
    expect(events.length).toBeGreaterThan(0);
    for (const event of events) {
      expect(pagerDutyEventSchema.safeParse(event).error).toBeUndefined();
      expect(event.routing_key).toBe(ROUTING_KEY);
      expect(event.client).toBe('keydrift');
    }
  });

  it('fails the schema check for a body PagerDuty would reject, so the check itself can fail', () => {
    const [event] = formatPagerDutyEvents(putKeyPolicyOpened, ROUTING_KEY);
    const wrong = { ...event, dedup_key: 'x'.repeat(256), payload: { ...event!.payload, severity: 'high' } };
    expect(pagerDutyEventSchema.safeParse(wrong).success).toBe(false);
  });

  it('fills the payload of a critical policy drift for the on-call engineer', () => {
    const [event] = formatPagerDutyEvents(putKeyPolicyOpened, ROUTING_KEY);
    expect(event!.event_action).toBe('trigger');
    expect(event!.dedup_key).toBe(keyDedup('policy'));
    expect(event!.payload).toMatchObject({
      summary: '[CRITICAL] Key policy of alias/payments opened to account 444455556666 by Alice (policy)',
      source: KEY_ARN,
      severity: 'critical',
      timestamp: '2022-09-01T20:06:16Z',
      component: 'kms',
      group: ACCOUNT,
      class: 'PutKeyPolicy',
    });
    expect(event!.payload.custom_details).toMatchObject({
      attribute: 'policy',
      user: 'arn:aws:iam::111122223333:user/Alice',
      event_id: 'c217db1f-903f-4a2f-8f88-9580182d6313',
      change: { added_principals: ['arn:aws:iam::444455556666:root'], external_accounts: ['444455556666'] },
      remediation: putKeyPolicyOpened.remediation,
    });
    expect(event!.links).toEqual([
      {
        href: 'https://us-west-2.console.aws.amazon.com/kms/home?region=us-west-2#/kms/keys/1234abcd-12ab-34cd-56ef-1234567890ab',
        text: 'Open in the AWS console',
      },
    ]);
  });

  it('sends one event per changed attribute, each with its own dedup key', () => {
    const rotationOff: Finding = {
      ...enableKeyRotationResolved,
      status: 'drift',
      changes: {
        enable_key_rotation: { before: true, after: false },
        rotation_period_in_days: { before: 365, after: null },
      },
    };
    const events = formatPagerDutyEvents(rotationOff, ROUTING_KEY);
    expect(events.map((e) => e.dedup_key)).toEqual([
      pagerDutyDedupKey(rotationOff, 'enable_key_rotation'),
      pagerDutyDedupKey(rotationOff, 'rotation_period_in_days'),
    ]);
    expect(events.map((e) => e.payload.custom_details.change)).toEqual([
      { before: 'true', after: 'false' },
      { before: '365', after: '(none)' },
    ]);
  });

  it("pages a key's deletion date with its state: one ScheduleKeyDeletion is one incident, showing both changes", () => {
    const [event, ...rest] = formatPagerDutyEvents(scheduleKeyDeletion, ROUTING_KEY);
    expect(rest).toEqual([]);
    expect(event!.dedup_key).toBe(keyDedup('key_state'));
    expect(event!.payload.custom_details).toMatchObject({
      attribute: 'key_state',
      change: { before: 'Enabled', after: 'PendingDeletion' },
      'change (deletion_date)': { before: '(not scheduled)', after: '2021-04-12T18:58:30Z' },
    });
  });

  it('names the trail component cloudtrail and dedups on the trail ARN', () => {
    const [event] = formatPagerDutyEvents(stopLogging, ROUTING_KEY);
    expect(event!.payload.component).toBe('cloudtrail');
    expect(event!.dedup_key).toBe(`keydrift:143434273843:us-east-1:${TRAIL_ARN}:logging`);
  });
});

describe('formatPagerDutyEvents: where the call came from', () => {
  it('gives the responder the source IP and user agent in custom details, and leaves them out when unknown', () => {
    const fromCli = { ...putKeyPolicyOpened, sourceIp: '203.0.113.5', userAgent: 'aws-cli/2.17.0 Python/3.11' };
    const [event] = formatPagerDutyEvents(fromCli, ROUTING_KEY);
    expect(event!.payload.custom_details).toMatchObject({
      source_ip: '203.0.113.5',
      user_agent: 'aws-cli/2.17.0 Python/3.11',
    });
    const [unknown] = formatPagerDutyEvents(putKeyPolicyOpened, ROUTING_KEY);
    expect(Object.keys(unknown!.payload.custom_details)).not.toContain('user_agent');
  });
});

describe('formatPagerDutyEvents: who', () => {
  it('gives the responder the source identity behind a role session, and leaves it out when there is none', () => {
    const chained = { ...putKeyPolicyOpened, sourceIdentity: 'alice@example.com' };
    const [event] = formatPagerDutyEvents(chained, ROUTING_KEY);
    expect(event!.payload.custom_details).toMatchObject({ source_identity: 'alice@example.com' });
    const [none] = formatPagerDutyEvents(putKeyPolicyOpened, ROUTING_KEY);
    expect(Object.keys(none!.payload.custom_details)).not.toContain('source_identity');
  });
});

describe('formatPagerDutyEvents: incident lifecycle', () => {
  it('resolves, with the same dedup key, the incident a drift on the same attribute opened', () => {
    const drift: Finding = { ...enableKeyRotationResolved, status: 'drift', severity: 'critical' };
    const [opened] = formatPagerDutyEvents(drift, ROUTING_KEY);
    const [closed] = formatPagerDutyEvents(enableKeyRotationResolved, ROUTING_KEY);
    expect(opened!.event_action).toBe('trigger');
    expect(closed!.event_action).toBe('resolve');
    expect(closed!.dedup_key).toBe(opened!.dedup_key);
  });

  it('resolves after a planned change that approves the drifting attribute whole', () => {
    const policy = { ...putKeyPolicyOpened.changes.policy!, back_to_baseline: true };
    const planned: Finding = { ...putKeyPolicyOpened, status: 'planned', severity: 'info', changes: { policy } };
    expect(formatPagerDutyEvents(planned, ROUTING_KEY).map((e) => e.event_action)).toEqual(['resolve']);
  });

  it('sends nothing for a planned change that leaves its attribute drifting or had nothing drifting to approve', () => {
    const planned: Finding = { ...putKeyPolicyOpened, status: 'planned', severity: 'info' };
    expect(pagerDutyEventsToSend(planned, ROUTING_KEY)).toEqual([]);
  });

  it('sends only the resolves of a finding an ignore rule matched: it closes what it ends, and opens nothing', () => {
    const policy = { ...putKeyPolicyOpened.changes.policy!, back_to_baseline: true };
    const key_state = { before: 'Enabled', after: 'Disabled' };
    const planned: Finding = {
      ...putKeyPolicyOpened,
      status: 'planned',
      severity: 'critical',
      changes: { policy, key_state },
    };
    const actions = (f: Finding, ignored?: boolean) =>
      pagerDutyEventsToSend(f, ROUTING_KEY, { ignored }).map((e) => [e.event_action, e.dedup_key.split(':').pop()]);

    expect(actions(planned)).toEqual([
      ['resolve', 'policy'],
      ['trigger', 'key_state'],
    ]);
    expect(actions(planned, true)).toEqual([['resolve', 'policy']]);
    expect(actions(putKeyPolicyOpened, true)).toEqual([]);
    expect(actions(enableKeyRotationResolved, true)).toEqual(actions(enableKeyRotationResolved));
  });

  it('triggers a denied attempt under the attribute name "attempt"', () => {
    const [event, ...rest] = formatPagerDutyEvents(deniedPutKeyPolicy, ROUTING_KEY);
    expect(rest).toEqual([]);
    expect(event!.event_action).toBe('trigger');
    expect(event!.dedup_key).toBe(keyDedup('attempt'));
    expect(event!.payload.severity).toBe('warning');
    expect(event!.payload.custom_details.error).toEqual({
      code: 'AccessDeniedException',
      message: deniedPutKeyPolicy.error!.message,
    });
  });

  it('pages a key created open to anyone as one incident, "created", with every attribute it was created with', () => {
    // Prepare: CreateKey__streamalert__1, a key whose policy lets anyone use it (critical), seen for the first time.
    const created = detect([rec('CreateKey__streamalert__1')]).last;
    expect(created).toMatchObject({ severity: 'critical', status: 'drift' });
    // Act
    const events = pagerDutyEventsToSend(created, ROUTING_KEY);
    // Assess
    expect(events.map((e) => [e.event_action, e.dedup_key.split(':').pop()])).toEqual([['trigger', 'created']]);
    expect(events[0]!.payload.summary).toMatch(/ \(created\)$/);
    expect(Object.keys(events[0]!.payload.custom_details)).toEqual(
      expect.arrayContaining(Object.keys(created.changes).map((attribute) => `change (${attribute})`)),
    );
  });

  it('pages a key created open to anyone with tags, or found so with an alias, as one incident, "created"', () => {
    // Prepare: CreateKey__streamalert__1 with a tag, as keys are created where tag policies apply: the tags change
    // has a before per tag (null, unknown) rather than one null.
    const created = detect([
      rec('CreateKey__streamalert__1', (record) => {
        (record.requestParameters as Record<string, unknown>).tags = [{ tagKey: 'team', tagValue: 'payments' }];
      }),
    ]).last;
    expect(created).toMatchObject({ severity: 'critical', changes: { tags: { before: { team: null } } } });
    // The same key found by the reconciler, its creation event missed, with an alias too.
    const state = Object.fromEntries(Object.entries(created.changes).map(([name, change]) => [name, change.after]));
    const live = snapshotFromState('key', created.resource, { ...state, aliases: { 'alias/payments': true } });
    const appeared = foundByReconciler(live);
    expect(appeared).toMatchObject({
      severity: 'critical',
      changes: { aliases: { before: { 'alias/payments': null } } },
    });

    // Act
    const incidents = [created, appeared].map((f) =>
      pagerDutyEventsToSend(f, ROUTING_KEY).map((e) => [e.event_action, e.dedup_key.split(':').pop()]),
    );

    // Assess: the one incident an accept of the key resolves, not one per attribute that nothing resolves.
    expect(incidents).toEqual([[['trigger', 'created']], [['trigger', 'created']]]);
  });

  it('pages a replica made of a key it knew under the primary key\'s attributes, not as the primary key "created"', () => {
    // Prepare: a multi-Region key created (its CreateKey seen), then replicated with a replica policy open to two
    // other accounts (critical). The finding is the primary key's: its replica_regions change has a before per
    // Region (null, none) and the replica's policy none, yet the primary key is no new resource.
    const primary = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const created = at(
      rec('CreateKey__awskmsdg__1', (record) => {
        const metadata = (record.responseElements as { keyMetadata: Record<string, unknown> }).keyMetadata;
        Object.assign(metadata, { arn: primary, keyId: primary.split('/')[1], multiRegion: true });
        (record.requestParameters as Record<string, unknown>).multiRegion = true;
      }),
      'create-primary',
      '2020-01-01T00:00:00Z',
    );
    const replicate = JSON.parse(
      malformedSampleText('ReplicateKey__awskmsdg__1').replace(/("replicaPolicy": ".*"),(\s*\})/, '$1$2'),
    );
    const replicated = detect([onKey(created, primary), replicate]).last;
    expect(replicated).toMatchObject({
      event: 'ReplicateKey',
      resource: primary,
      severity: 'critical',
      changes: { replica_regions: { before: { 'us-west-2': null } }, policy: { before: null } },
    });

    // Act
    const incidents = pagerDutyEventsToSend(replicated, ROUTING_KEY).map((e) => e.dedup_key.split(':').pop());

    // Assess: what a revert (the replica deleted) resolves, not the incident of the key's own creation.
    expect(incidents).toEqual(['replica_regions', 'policy']);
  });

  it('resolves the created incident when the resource is accepted, with or without attributes that moved', () => {
    const accept: Finding = {
      ...enableKeyRotationResolved,
      event: 'BaselineAccept',
      status: 'planned',
      changes: {},
    };
    const incidents = (f: Finding) => pagerDutyEventsToSend(f, ROUTING_KEY).map((e) => [e.event_action, e.dedup_key]);
    expect(incidents(accept)).toEqual([['resolve', keyDedup('created')]]);
    const moved = {
      ...accept,
      changes: { key_state: { before: 'Enabled', after: 'Disabled', back_to_baseline: true } },
    };
    expect(incidents(moved)).toEqual([
      ['resolve', keyDedup('key_state')],
      ['resolve', keyDedup('created')],
    ]);
  });

  it('pages a key open to anyone the reconciler found without its creation event as one incident, "created", too', () => {
    // Prepare: the same key as CreateKey__streamalert__1 makes, its creation event missed (the detector was down).
    const created = detect([rec('CreateKey__streamalert__1')]).last;
    const after = Object.entries(created.changes).map(([attribute, change]) => [attribute, change.after]);
    const live = snapshotFromState('key', created.resource, Object.fromEntries(after));
    const appeared = foundByReconciler(live);
    expect(appeared).toMatchObject({ event: 'Unbaselined', severity: 'critical', status: 'drift' });
    // Act
    const events = pagerDutyEventsToSend(appeared, ROUTING_KEY);
    // Assess
    expect(events.map((e) => [e.event_action, e.dedup_key.split(':').pop()])).toEqual([['trigger', 'created']]);
  });

  it('still pages a trail created again per attribute, so that the deletion it undoes is resolved', () => {
    // Prepare: an approved trail deleted, then created again as it was.
    const { findings } = detect([
      at(createTrail(), 'create-1', '2024-01-01T00:00:01Z'),
      at(onTrail(rec('DeleteTrail__stratus__1')), 'delete-1', '2024-01-01T00:00:03Z'),
      at(createTrail(), 'create-2', '2024-01-01T00:00:04Z'),
    ]);
    // Act
    const [deleted, recreated] = [findings[1]!, findings[2]!].map((f) => pagerDutyEventsToSend(f, ROUTING_KEY));
    // Assess
    expect(deleted!.map((e) => [e.event_action, e.dedup_key.split(':').pop()])).toEqual([['trigger', 'trail']]);
    expect(recreated!.map((e) => [e.event_action, e.dedup_key.split(':').pop()])).toContainEqual(['resolve', 'trail']);
  });

  it('pages a finding without changes that is not denied under its event name', () => {
    const deleted: Finding = { ...scheduleKeyDeletion, event: 'DeleteKey', changes: {} };
    expect(formatPagerDutyEvents(deleted, ROUTING_KEY).map((e) => e.dedup_key)).toEqual([keyDedup('DeleteKey')]);
  });
});

describe('pagerDutyEventsToSend: partly resolving changes', () => {
  // CancelKeyDeletion: deletion_date is back at its baseline, the key is still Disabled (info drift).
  const cancelled: Finding = {
    ...scheduleKeyDeletion,
    event: 'CancelKeyDeletion',
    severity: 'info',
    status: 'drift',
    changes: {
      key_state: { before: 'PendingDeletion', after: 'Disabled' },
      deletion_date: { before: '2026-10-10T15:30:41Z', after: null, back_to_baseline: true },
    },
  };

  it('sends the page topic a drift finding only when it brings all of an incident back to its baseline', () => {
    expect(audiencesFor(cancelled, 'error')).toEqual([]);
    const tagsBack = {
      ...cancelled,
      changes: { tags: { before: { team: 'x' }, after: { team: null }, back_to_baseline: true } },
    };
    expect(audiencesFor(tagsBack, 'error')).toEqual(['page']);
  });

  it('keeps the deletion incident open while the key is still Disabled, and wakes no one for it', () => {
    expect(formatPagerDutyEvents(cancelled, 'routing-key').map((e) => [e.event_action, e.dedup_key])).toEqual([
      ['trigger', pagerDutyDedupKey(scheduleKeyDeletion, 'key_state')],
    ]);
    expect(pagerDutyEventsToSend(cancelled, 'routing-key')).toEqual([]);
  });

  it('resolves an attribute that is back while another one of the finding still drifts', () => {
    const tagsBack: Finding = {
      ...cancelled,
      changes: { ...cancelled.changes, tags: { before: { team: 'x' }, after: { team: null }, back_to_baseline: true } },
    };
    expect(pagerDutyEventsToSend(tagsBack, 'routing-key').map((e) => [e.event_action, e.dedup_key])).toEqual([
      ['resolve', pagerDutyDedupKey(scheduleKeyDeletion, 'tags')],
    ]);
  });

  it('still triggers every incident of a critical drift', () => {
    const opened = {
      ...putKeyPolicyOpened,
      changes: { ...putKeyPolicyOpened.changes, ...scheduleKeyDeletion.changes },
    };
    expect(pagerDutyEventsToSend(opened, 'routing-key').map((e) => [e.event_action, e.dedup_key])).toEqual(
      ['policy', 'key_state'].map((attribute) => ['trigger', pagerDutyDedupKey(opened, attribute)]),
    );
  });
});

describe('pagerDutyEventsToSend: a deleted key', () => {
  /** The incidents a key may hold open besides its state's (its deletion date is paged with its state). */
  const OTHER_INCIDENTS = [
    'aliases',
    'custom_key_store',
    'description',
    'enable_key_rotation',
    'grants',
    'key_material',
    'key_spec',
    'key_usage',
    'multi_region',
    'origin',
    'policy',
    'primary_region',
    'replica_regions',
    'rotation_period_in_days',
    'tags',
    'created',
    'attempt',
    // Events that change none of the key's attributes, paged under their names.
    'DeleteExpiredKeyMaterial',
    'DeleteImportedKeyMaterial',
    'ImportKeyMaterial',
    'KMS CMK Rotation',
    'KMS Imported Key Material Expiration',
    'RotateKey',
    'RotateKeyOnDemand',
    'SynchronizeMultiRegionKey',
  ];
  /** The deletion's own events, then the resolves the pager sends of those its ledger shows open. */
  const incidents = (finding: Finding) =>
    [...pagerDutyEventsToSend(finding, ROUTING_KEY), ...deletedKeyResolves(finding, ROUTING_KEY)].map((e) => [
      e.event_action,
      e.dedup_key.split(':').pop(),
    ]);

  it("keeps the deletion's own incident triggered and resolves every other incident the key may have open", () => {
    expect(incidents(deleteKey)).toEqual([
      ['trigger', 'key_state'],
      ...OTHER_INCIDENTS.map((incident) => ['resolve', incident]),
    ]);
  });

  it('resolves every other incident of a deleted key an ignore rule matched, and keeps its own untriggered', () => {
    expect(deleteKey.severity).toBe('critical');
    const ignored = [
      ...pagerDutyEventsToSend(deleteKey, ROUTING_KEY, { ignored: true }),
      ...deletedKeyResolves(deleteKey, ROUTING_KEY),
    ];
    expect(ignored.map((e) => [e.event_action, e.dedup_key.split(':').pop()])).toEqual(
      OTHER_INCIDENTS.map((incident) => ['resolve', incident]),
    );
  });

  it("offers those resolves apart from the finding's own events, for the pager to send only where an incident is open", () => {
    expect(pagerDutyEventsToSend(deleteKey, ROUTING_KEY).map((e) => e.dedup_key)).toEqual([keyDedup('key_state')]);
    expect(deletedKeyResolves(putKeyPolicyOpened, ROUTING_KEY)).toEqual([]);
  });

  it('says in each resolve that the key was deleted, on the dedup key of that incident', () => {
    const policy = deletedKeyResolves(deleteKey, ROUTING_KEY).find((e) => e.dedup_key === keyDedup('policy'));
    expect(policy).toEqual({
      routing_key: ROUTING_KEY,
      event_action: 'resolve',
      dedup_key: keyDedup('policy'),
      payload: {
        summary: '[INFO] Resolved: key 1234abcd-12ab-34cd-56ef-1234567890ab was deleted (policy)',
        source: KEY_ARN,
        severity: 'info',
        timestamp: '2021-04-12T19:42:07Z',
        component: 'kms',
        group: ACCOUNT,
        class: 'DeleteKey',
        custom_details: {
          attribute: 'policy',
          event: 'DeleteKey',
          status: 'drift',
          user: 'kms.amazonaws.com',
          account: ACCOUNT,
          region: REGION,
          resource: KEY_ARN,
          event_id: 'b25f9cda-74e1-4458-847b-4972a0bf9668',
          deletion: 'Key alias/payments deleted by KMS at the end of its waiting period',
        },
      },
      client: 'keydrift',
      client_url:
        'https://us-west-2.console.aws.amazon.com/kms/home?region=us-west-2#/kms/keys/1234abcd-12ab-34cd-56ef-1234567890ab',
      links: [
        {
          href: 'https://us-west-2.console.aws.amazon.com/kms/home?region=us-west-2#/kms/keys/1234abcd-12ab-34cd-56ef-1234567890ab',
          text: 'Open in the AWS console',
        },
      ],
    });
    expect(pagerDutyEventSchema.safeParse(policy).error).toBeUndefined();
  });

  it("resolves the state's incident with the others when the deletion is the one its baseline approves", () => {
    // The approved deletion carried out: planned, info, the key's state back at its (Deleted) baseline.
    const approved: Finding = {
      ...deleteKey,
      status: 'planned',
      severity: 'info',
      changes: { ...deleteKey.changes, key_state: { ...deleteKey.changes.key_state!, back_to_baseline: true } },
      summary: 'Key alias/payments deleted by KMS as approved: its deletion was scheduled for 2021-04-12T18:58:30Z',
    };
    expect(incidents(approved)).toEqual([
      ['resolve', 'key_state'],
      ...OTHER_INCIDENTS.map((incident) => ['resolve', incident]),
    ]);
  });

  it('resolves the incidents of a key the reconciler found deleted, and of one whose deletion an override lowered', () => {
    const found: Finding = { ...deleteKey, event: 'Reconcile', user: 'keydrift-reconciler' };
    const lowered: Finding = { ...deleteKey, severity: 'error' };
    expect(incidents(found)).toEqual(incidents(deleteKey));
    // Not critical: no one is woken for the deletion, but the page topic still gets it, to close the others.
    expect(audiencesFor(lowered, 'critical')).toEqual(['page']);
    expect(incidents(lowered)).toEqual(OTHER_INCIDENTS.map((incident) => ['resolve', incident]));
  });

  it('resolves the incident of an event that changed none of the key, paged under its name', () => {
    // Prepare: the key material staged for the next rotation deleted, and an on-demand rotation, each made critical
    // by an override (no attribute of the key changes): each one incident, named after its event.
    const stagedDeleted: Finding = { ...deleteKey, event: 'DeleteImportedKeyMaterial', changes: {}, remediation: [] };
    const rotated: Finding = { ...stagedDeleted, event: 'RotateKeyOnDemand' };
    const opened = [stagedDeleted, rotated].flatMap((f) => pagerDutyEventsToSend(f, ROUTING_KEY));
    expect(opened.map((e) => [e.event_action, e.dedup_key])).toEqual([
      ['trigger', keyDedup('DeleteImportedKeyMaterial')],
      ['trigger', keyDedup('RotateKeyOnDemand')],
    ]);

    // Act, Assess: the key's deletion resolves them too, as no later finding can.
    const resolves = deletedKeyResolves(deleteKey, ROUTING_KEY).map((e) => e.dedup_key);
    expect(resolves).toEqual(expect.arrayContaining(opened.map((e) => e.dedup_key)));
  });

  it('sends nothing more for a second event of a deletion already known, nor for a denied deletion', () => {
    // KMS CMK Deletion after the DeleteKey: the key was Deleted already.
    const again: Finding = {
      ...deleteKey,
      event: 'KMS CMK Deletion',
      changes: { key_state: { before: 'Deleted', after: 'Deleted', already_known: true } },
    };
    const denied: Finding = { ...deleteKey, status: 'denied', severity: 'critical' };
    expect(incidents(again)).toEqual([['trigger', 'key_state']]);
    expect(incidents(denied)).toEqual([['trigger', 'key_state']]);
  });

  it('names every attribute of a key that its live read or its creation records', () => {
    const read = keyState({
      metadata: {
        KeyId: KEY_ARN.split('/')[1],
        Arn: KEY_ARN,
        KeyState: 'Enabled',
        MultiRegion: true,
        Origin: 'EXTERNAL',
        ExpirationModel: 'KEY_MATERIAL_EXPIRES',
      },
      policy: '{}',
      rotation: { KeyRotationEnabled: true, RotationPeriodInDays: 365 },
      tags: [],
      aliases: [],
      grants: [],
    });
    const created = detect([createKey()]).last;
    const attributes = [...Object.keys(read), ...Object.keys(created.changes)];
    expect(attributes.filter((attribute) => !(KEY_ATTRIBUTES as readonly string[]).includes(attribute))).toEqual([]);
  });
});

describe('pagerDutyDedupKey', () => {
  const longAlias = (name: string) => `arn:aws:kms:${REGION}:${ACCOUNT}:alias/${name.repeat(250)}`;

  it('keeps a long key within 255 characters by replacing its tail with a SHA-256 of the whole key', () => {
    const resource = longAlias('a');
    const full = `keydrift:${ACCOUNT}:${REGION}:${resource}:target_key_id`;
    const key = pagerDutyDedupKey({ account: ACCOUNT, region: REGION, resource }, 'target_key_id');
    expect(key).toHaveLength(255);
    expect(key).toBe(`${full.slice(0, 190)}#${createHash('sha256').update(full).digest('hex')}`);
  });

  it('keeps long keys of different resources distinct', () => {
    const a = pagerDutyDedupKey({ account: ACCOUNT, region: REGION, resource: `${longAlias('a')}x` }, 'target_key_id');
    const b = pagerDutyDedupKey({ account: ACCOUNT, region: REGION, resource: `${longAlias('a')}y` }, 'target_key_id');
    expect(a.slice(0, 190)).toBe(b.slice(0, 190));
    expect(a).not.toBe(b);
  });
});

describe('formatPagerDutyEvents: hostile strings', () => {
  it('cuts the summary of a 40 KB tag change to 1,024 characters and keeps the attribute', () => {
    const [event] = formatPagerDutyEvents(hostileTag, ROUTING_KEY);
    expect(event!.payload.summary).toHaveLength(1024);
    expect(event!.payload.summary.endsWith('AAA… (tags)')).toBe(true);
  });

  it('leaves no control character, line break or live link in any field', () => {
    const strings = allStrings(formatPagerDutyEvents(hostileDescription, ROUTING_KEY));
    expect(strings.filter((s) => UNSAFE_CHARACTERS.test(s))).toEqual([]);
    expect(strings.filter((s) => s.includes('https://evil.example'))).toEqual([]);
  });

  it("trims custom details far below PagerDuty's 512 KB event limit", () => {
    const [event] = formatPagerDutyEvents(hugeFinding, ROUTING_KEY);
    const change = event!.payload.custom_details.change as { added_principals: string[]; before: string };
    expect(Buffer.byteLength(JSON.stringify(event))).toBeLessThan(16 * 1024);
    // Five of the thirty commands, each too long to show whole: a placeholder, never a cut command; then the rest counted.
    // Too large for a table item, the finding is kept without its commands: the reads to work them out from instead.
    const key = `--key-id ${KEY_ARN} --region us-west-2`;
    const reads = `aws kms get-key-policy ${key} --policy-name default --output text shows the live policy, aws kms list-resource-tags ${key} shows the live tags, aws kms describe-key ${key} shows the live description, keydrift baseline show ${KEY_ARN} --region us-west-2 the approved ones`;
    expect(event!.payload.custom_details.remediation).toEqual([
      // The email shows three of them: a placeholder never sends the reader there for one it does not show.
      ...Array(5).fill(
        `# a 5153-character command does not fit here: keydrift kept no copy of it (too many commands): ${reads}`,
      ),
      // The email shows three of them: the rest are nowhere keydrift keeps.
      `# 25 more commands, to run after these, too many for keydrift to keep: ${reads}`,
    ]);
    expect(change.added_principals).toHaveLength(21);
    expect(change.added_principals[20]).toBe('+4980 more');
    expect(change.before).toHaveLength(1000);
  });
});

describe('formatPagerDutyEvents: nothing the responder can misread', () => {
  it('says when commands are left out: the last ones, such as start-logging, finish the undo', () => {
    // Prepare: a trail found with six settings off its baseline; starting its logging comes last.
    const update = (option: string) => `aws cloudtrail update-trail --name ${TRAIL_ARN} --region us-east-1 ${option}`;
    const finding: Finding = {
      ...stopLogging,
      remediation: [
        update('--include-global-service-events'),
        update(`--kms-key-id ${KEY_ARN}`),
        update('--enable-log-file-validation'),
        update('--is-multi-region-trail'),
        update('--s3-bucket-name org-audit-logs'),
        `aws cloudtrail start-logging --name ${TRAIL_ARN} --region us-east-1`,
      ],
    };
    // Act
    const [event] = formatPagerDutyEvents(finding, ROUTING_KEY);
    // Assess
    expect(event!.payload.custom_details.remediation).toEqual([
      ...finding.remediation.slice(0, 5),
      '# 1 more commands, to run after these: see the email alert',
    ]);
  });

  it('files the change of a denied call under "attempted (not applied)", not "change"', () => {
    const [event] = formatPagerDutyEvents(deniedPolicyAttempt, ROUTING_KEY);
    const details = event!.payload.custom_details;
    expect(details).not.toHaveProperty('change');
    expect(details['attempted (not applied)']).toMatchObject({ external_accounts: ['444455556666'] });
    expect(formatPagerDutyEvents(putKeyPolicyOpened, ROUTING_KEY)[0]!.payload.custom_details).toHaveProperty('change');
  });

  it('shows an after of null as (none) and keeps (unknown) for a before of null', () => {
    expect(formatPagerDutyEvents(trailKeyRemoved, ROUTING_KEY)[0]!.payload.custom_details.change).toEqual({
      before: KEY_ARN,
      after: '(none)',
    });
    const scheduled = detect([rec('ScheduleKeyDeletion__awskmsdg__1')]).last;
    const [deletion] = formatPagerDutyEvents(scheduled, ROUTING_KEY);
    expect(deletion!.payload.custom_details.change).toEqual({ before: '(unknown)', after: 'PendingDeletion' });
    // A deletion scheduled had none before: KMS schedules no deletion of a key already pending deletion.
    expect(deletion!.payload.custom_details['change (deletion_date)']).toEqual({
      before: '(not scheduled)',
      after: '2021-04-12T18:58:30Z',
    });
  });

  it('renders flags in words and reasons without rule ids', () => {
    const [deletion] = formatPagerDutyEvents(cancelKeyDeletion, ROUTING_KEY);
    expect(deletion!.payload.custom_details['change (deletion_date)']).toEqual({
      before: '2021-04-12T18:58:30Z',
      after: '(none)',
      notes: ['back to the approved value'],
    });
    const [denied] = formatPagerDutyEvents(deniedPolicyAttempt, ROUTING_KEY);
    expect(denied!.payload.custom_details.reasons).toEqual([
      'Every denied finding is a warning by default: the call failed, so nothing changed.',
      'Had it succeeded: account 444455556666 gained access. A change that lets another account, or anyone, use the key is critical.',
      `Had it succeeded: CloudTrail can no longer encrypt the logs of ${TRAIL_ARN} with this key. ` +
        'The key encrypts a CloudTrail trail: CloudTrail must keep kms:GenerateDataKey* or logging fails.',
    ]);
    expect(JSON.stringify(denied)).not.toMatch(/NoOutsideAccessGained|cloudtrail_access_removed/);
  });
});
