import type { PublishCommand } from '@aws-sdk/client-sns';
import type { Finding } from '../../lambda/core/types';
import type { OpsContext } from '../../lambda/ops/aws';
import { type AcceptResult, tellPagerAboutAccepts } from '../../lambda/ops/operations';

const KEY = 'arn:aws:kms:eu-west-1:123456789012:key/0f4a6c1e-93b7-4d25-8e1a-6c2f0b7d4a91';
const PAGE_TOPIC = 'arn:aws:sns:eu-west-1:123456789012:keydrift-page';

/** An operator context that only knows the page topic, and keeps what is published to it. */
function pageOnlyContext(published: Finding[]): OpsContext {
  const sns = {
    send: async (command: PublishCommand) => {
      published.push(JSON.parse(String(command.input.Message)));
      return {};
    },
  };
  return { pageTopicArn: async () => PAGE_TOPIC, sns } as unknown as OpsContext;
}

/** An accept of the key by Alice at 12:05, written as version 2 over version 1, as `changes` make it. */
function acceptedKey(fields: Partial<AcceptResult> = {}): AcceptResult {
  return {
    resource: KEY,
    kind: 'key',
    label: 'key 0f4a6c1e',
    result: 'changed',
    written: true,
    previousVersion: 1,
    version: 2,
    acceptedBy: 'arn:aws:iam::123456789012:user/Alice',
    acceptedAt: '2026-10-03T12:05:00.000Z',
    readAt: '2026-10-03T12:05:00.000Z',
    changes: [],
    ...fields,
  };
}

describe('the finding an accept sends the pager', () => {
  it('is dated when the approved state was read, not when an adopt was confirmed: a change in between stays newer', async () => {
    // Prepare: adopt read the key Disabled at 12:00; the operator confirmed at 12:05. A ScheduleKeyDeletion at 12:02
    // is not part of what was approved: its page must not read as older than the approval.
    const adopted = acceptedKey({
      readAt: '2026-10-03T12:00:00.000Z',
      changes: [{ path: 'key_state', before: 'Enabled', after: 'Disabled' }],
    });
    const published: Finding[] = [];

    // Act
    const notice = await tellPagerAboutAccepts(pageOnlyContext(published), [adopted]);

    // Assess
    expect(notice).toEqual({ told: ['key 0f4a6c1e'], untold: [] });
    expect(published).toEqual([
      expect.objectContaining({ event: 'BaselineAccept', status: 'planned', timestamp: '2026-10-03T12:00:00Z' }),
    ]);
    expect(Date.parse(published[0].timestamp)).toBeLessThan(Date.parse('2026-10-03T12:02:00Z'));
  });

  it('is sent for a resource an operator accepted again as it was, to close what it was created with; not for adopt', async () => {
    // Prepare: `baseline accept` rewrites a matching baseline (written); adopt leaves it as it is.
    const accepted = acceptedKey({ result: 'unchanged' });
    const adopted: AcceptResult = { ...accepted, written: false, version: 1, acceptedAt: null, acceptedBy: null };
    const published: Finding[] = [];

    // Act
    const notice = await tellPagerAboutAccepts(pageOnlyContext(published), [accepted, adopted]);

    // Assess
    expect(notice).toEqual({ told: ['key 0f4a6c1e'], untold: [] });
    expect(published).toEqual([
      expect.objectContaining({
        event: 'BaselineAccept',
        changes: {},
        summary:
          'Baseline of key 0f4a6c1e (key) accepted by arn:aws:iam::123456789012:user/Alice: approved as it is now',
      }),
    ]);
  });

  it('names the alias and its key apart, and leaves neither out of what to resolve by hand when one could not be sent', async () => {
    // Prepare: `baseline accept alias/payments` approved the key and the alias, both labelled alias/payments; the
    // page topic took the key's finding and refused the alias's.
    const key = acceptedKey({
      label: 'alias/payments',
      changes: [{ path: 'description', before: 'payments card data', after: 'payments (temporary)' }],
    });
    const alias: AcceptResult = {
      ...key,
      resource: 'arn:aws:kms:eu-west-1:123456789012:alias/payments',
      kind: 'alias',
      result: 'unchanged',
      changes: [],
    };
    const sns = {
      send: async (command: PublishCommand) => {
        const finding = JSON.parse(String(command.input.Message)) as Finding;
        if (finding.resource === alias.resource) throw new Error('AuthorizationError');
        return {};
      },
    };
    const context = { pageTopicArn: async () => PAGE_TOPIC, sns } as unknown as OpsContext;

    // Act
    const notice = await tellPagerAboutAccepts(context, [key, alias]);

    // Assess
    expect(notice).toMatchObject({ told: ['alias/payments (key)'], untold: ['alias/payments (alias)'] });
  });

  it('keeps apart in the finding history the accepts of an alias and of its key, which share their label', async () => {
    // Prepare: `baseline accept alias/payments` re-approved the key and the alias as they were.
    const key = acceptedKey({ label: 'alias/payments', result: 'unchanged' });
    const alias: AcceptResult = {
      ...key,
      resource: 'arn:aws:kms:eu-west-1:123456789012:alias/payments',
      kind: 'alias',
    };
    const published: Finding[] = [];

    // Act
    await tellPagerAboutAccepts(pageOnlyContext(published), [key, alias]);

    // Assess: `keydrift findings` shows the summaries, which must not read the same
    expect(published.map((f) => f.summary)).toEqual([
      'Baseline of alias/payments (key) accepted by arn:aws:iam::123456789012:user/Alice: approved as it is now',
      'Baseline of alias/payments (alias) accepted by arn:aws:iam::123456789012:user/Alice: approved as it is now',
    ]);
  });

  it('names the alias and its key apart when no page topic is known (--table)', async () => {
    // Prepare: the key and the alias of `baseline accept alias/payments --table …`, and no page topic to tell.
    const key = acceptedKey({ label: 'alias/payments', result: 'unchanged' });
    const alias: AcceptResult = {
      ...key,
      resource: 'arn:aws:kms:eu-west-1:123456789012:alias/payments',
      kind: 'alias',
    };
    const context = { pageTopicArn: async () => undefined } as unknown as OpsContext;

    // Act
    const notice = await tellPagerAboutAccepts(context, [key, alias]);

    // Assess
    expect(notice).toEqual({
      told: [],
      untold: ['alias/payments (key)', 'alias/payments (alias)'],
      topicUnknown: true,
    });
  });
});

describe('telling the page topic of many accepts', () => {
  it('leaves to resolve by hand only what was not sent, when the topic refuses one while others are on their way', async () => {
    // Prepare: an adopt approved twelve keys; the topic refuses the first at once, and takes each other after 10 ms.
    const results = Array.from({ length: 12 }, (_, i) =>
      acceptedKey({ resource: `${KEY.slice(0, -2)}${String(i).padStart(2, '0')}`, label: `key ${i}` }),
    );
    const published: string[] = [];
    const sns = {
      send: async (command: PublishCommand) => {
        const finding = JSON.parse(String(command.input.Message)) as Finding;
        if (finding.resource === results[0].resource) throw new Error('AuthorizationError');
        await new Promise((resolve) => setTimeout(resolve, 10));
        published.push(finding.resource);
        return {};
      },
    };
    const context = { pageTopicArn: async () => PAGE_TOPIC, sns } as unknown as OpsContext;

    // Act
    const notice = await tellPagerAboutAccepts(context, results);
    const untold = [...notice.untold];
    await new Promise((resolve) => setTimeout(resolve, 100));

    // Assess: what went out (the sends under way when the first was refused) is told, the rest is to resolve by hand.
    const label = (arn: string) => results.find((r) => r.resource === arn)?.label;
    expect(notice.failed).toBeInstanceOf(Error);
    expect(untold).toContain('key 0');
    expect(untold.filter((l) => published.map(label).includes(l))).toEqual([]);
    expect([...notice.told].sort()).toEqual(published.map(label).sort());
    expect(untold.length + published.length).toBe(12);
  });
});
