import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { PageInFlightError, RetryableStoreError, StoreError } from '../../lambda/adapters/errors';
import {
  createPageLedger,
  OPEN_INCIDENT_TTL_SECONDS,
  PAGE_TTL_SECONDS,
  type PageRecord,
  TURN_MS,
  TURN_WAIT_MS,
} from '../../lambda/adapters/page-ledger';
import { startTable, type TestTable, throttlingError } from './dynalite-table';

const DEDUP_KEY = 'keydrift:111122223333:us-west-2:arn:aws:kms:us-west-2:111122223333:key/1234abcd:key_state';
const NOW = Date.parse('2026-10-03T12:05:00Z');
const page = (at: string, eventId: string, action: PageRecord['action'], dedupKey = DEDUP_KEY): PageRecord => ({
  dedupKey,
  at: Date.parse(at),
  eventId,
  action,
});

let table: TestTable;

beforeEach(async () => {
  table = await startTable();
});

afterEach(async () => {
  await table.stop();
});

const ledger = () => createPageLedger({ client: table.client, tableName: table.tableName, now: () => NOW });

describe('createPageLedger', () => {
  it('takes the first event of a dedup key, then only events of the same time or newer', async () => {
    const pages = ledger();

    expect(await pages.admit(page('2026-10-03T12:00:00Z', 'disable', 'trigger'))).toBe(true);
    expect(await pages.admit(page('2026-10-03T12:00:00Z', 'disable', 'trigger'))).toBe(true);
    expect(await pages.admit(page('2026-10-03T12:01:00Z', 'enable', 'resolve'))).toBe(true);
    expect(await pages.admit(page('2026-10-03T12:00:00Z', 'disable', 'trigger'))).toBe(false);
    expect(await pages.admit(page('2026-10-03T12:00:59.999Z', 'late', 'trigger'))).toBe(false);
  });

  it("takes a deleted key's resolve only while the last event taken for its dedup key is a trigger", async () => {
    const pages = ledger();
    const deletion = (dedupKey: string) => page('2026-10-03T12:05:00Z', 'delete', 'resolve', dedupKey);
    // Never paged: nothing to resolve.
    expect(await pages.admitIfOpen(deletion(`${DEDUP_KEY}:never`))).toBe(false);
    // Resolved already.
    await pages.admit(page('2026-10-03T12:00:00Z', 'open', 'trigger', `${DEDUP_KEY}:closed`));
    await pages.admit(page('2026-10-03T12:01:00Z', 'close', 'resolve', `${DEDUP_KEY}:closed`));
    expect(await pages.admitIfOpen(deletion(`${DEDUP_KEY}:closed`))).toBe(false);
    // Open: taken, and recorded, so that an older trigger arriving late does not reopen it.
    const opened = page('2026-10-03T12:00:00Z', 'open', 'trigger', `${DEDUP_KEY}:open`);
    await pages.admit(opened);
    await pages.sent(opened);
    expect(await pages.admitIfOpen(deletion(`${DEDUP_KEY}:open`))).toBe(true);
    expect(await pages.admit(page('2026-10-03T12:02:00Z', 'late', 'trigger', `${DEDUP_KEY}:open`))).toBe(false);
  });

  it("keeps a late trigger older than a key's deletion from opening an incident it never had, unsent", async () => {
    // Prepare: the deletion at 12:05 finds the key's policy never paged, and its rotation's incident closed at 12:01.
    const pages = ledger();
    const deletion = (dedupKey: string) => page('2026-10-03T12:05:00Z', 'delete', 'resolve', dedupKey);
    await pages.admit(page('2026-10-03T12:00:00Z', 'off', 'trigger', `${DEDUP_KEY}:closed`));
    await pages.admit(page('2026-10-03T12:01:00Z', 'on', 'resolve', `${DEDUP_KEY}:closed`));
    expect(await pages.admitIfOpen(deletion(`${DEDUP_KEY}:never`))).toBe(false);
    expect(await pages.admitIfOpen(deletion(`${DEDUP_KEY}:closed`))).toBe(false);

    // Act, Assess: changes made before the deletion, their triggers late (a redriven event), open nothing on a key
    // that is gone; the deletion's retry sends no resolve either.
    expect(await pages.admit(page('2026-10-03T12:02:00Z', 'late', 'trigger', `${DEDUP_KEY}:never`))).toBe(false);
    expect(await pages.admit(page('2026-10-03T12:02:00Z', 'late', 'trigger', `${DEDUP_KEY}:closed`))).toBe(false);
    expect(await pages.admitIfOpen(deletion(`${DEDUP_KEY}:never`))).toBe(false);
  });

  it("takes a deleted key's resolve again on its retry until PagerDuty took it", async () => {
    const pages = ledger();
    await pages.admit(page('2026-10-03T12:00:00Z', 'open', 'trigger'));
    const deletion = page('2026-10-03T12:05:00Z', 'delete', 'resolve');
    expect(await pages.admitIfOpen(deletion)).toBe(true);
    expect(await pages.admitIfOpen(deletion)).toBe(true);
    await pages.sent(deletion);
    expect(await pages.admitIfOpen(deletion)).toBe(false);
  });

  it('does not take again an event PagerDuty took, until a newer one is recorded', async () => {
    const pages = ledger();
    const disable = page('2026-10-03T12:00:00Z', 'disable', 'trigger');
    expect(await pages.admit(disable)).toBe(true);
    await pages.sent(disable);
    // Its retry (another event of the finding failed), or its copy from the other topic.
    expect(await pages.admit(disable)).toBe(false);
    // A newer event is taken and, until PagerDuty took it, so is its retry.
    const enable = page('2026-10-03T12:01:00Z', 'enable', 'resolve');
    expect(await pages.admit(enable)).toBe(true);
    expect(await pages.admit(enable)).toBe(true);
  });

  it('of events in the same second, takes each on its first arrival, and a retry only of the last one taken', async () => {
    const pages = ledger();
    const second = '2026-10-03T12:00:00Z';

    expect(await pages.admit(page(second, 'disable', 'trigger'))).toBe(true);
    expect(await pages.admit(page(second, 'enable', 'resolve'))).toBe(true);
    // The trigger's retry after the resolve went out: it would reopen the incident.
    expect(await pages.admit(page(second, 'disable', 'trigger'))).toBe(false);
    expect(await pages.admit(page(second, 'enable', 'resolve'))).toBe(true);
    expect(await pages.admit(page(second, 'schedule', 'trigger'))).toBe(true);
    expect(await pages.admit(page('2026-10-03T12:00:01Z', 'disable-again', 'trigger'))).toBe(true);
    expect(await pages.admit(page(second, 'enable', 'resolve'))).toBe(false);
  });

  it('takes an older trigger while the last one taken is a trigger (its incident is open), without recording it', async () => {
    // Prepare: the reconciler paged the drift it found at 12:02; the DisableKey behind it happened at 12:00.
    const pages = ledger();
    expect(await pages.admit(page('2026-10-03T12:02:00Z', 'reconcile', 'trigger'))).toBe(true);

    // Act and assess: the late event names who did it, on the open incident.
    expect(await pages.admit(page('2026-10-03T12:00:00Z', 'disable', 'trigger'))).toBe(true);
    // An older resolve is still left out: the reconciler saw the drift after it.
    expect(await pages.admit(page('2026-10-03T12:01:00Z', 'enable', 'resolve'))).toBe(false);
    expect(await pages.admit(page('2026-10-03T12:03:00Z', 'enable-again', 'resolve'))).toBe(true);
    // Once resolved, the late trigger would reopen the incident.
    expect(await pages.admit(page('2026-10-03T12:00:00Z', 'disable', 'trigger'))).toBe(false);
    const { Item } = await table.client.send(
      new GetItemCommand({ TableName: table.tableName, Key: { pk: { S: `PAGE#${DEDUP_KEY}` }, sk: { S: 'LAST' } } }),
    );
    expect(Item).toMatchObject({
      at: { N: String(Date.parse('2026-10-03T12:03:00Z')) },
      eventId: { S: 'enable-again' },
    });
  });

  it('does not take again an older trigger PagerDuty took, nor one of the same second once another was taken', async () => {
    // Prepare: the reconciler paged the drift it found at 12:02; the DisableKey behind it (12:00) arrives late.
    const pages = ledger();
    const reconcile = page('2026-10-03T12:02:00Z', 'reconcile', 'trigger');
    expect(await pages.admit(reconcile)).toBe(true);
    await pages.sent(reconcile);
    const disable = page('2026-10-03T12:00:00Z', 'disable', 'trigger');
    expect(await pages.admit(disable)).toBe(true);
    await pages.sent(disable);

    // Act and assess: its retry (another event of its finding failed), or its copy from the ops topic.
    expect(await pages.admit(disable)).toBe(false);
    // Still taken before PagerDuty took it: a late trigger while the incident is open.
    expect(await pages.admit(page('2026-10-03T12:01:00Z', 'tag', 'trigger'))).toBe(true);

    // Two triggers of one second, each taken by PagerDuty: neither goes again.
    const second = '2026-10-03T12:05:00Z';
    const schedule = page(second, 'schedule', 'trigger');
    expect(await pages.admit(schedule)).toBe(true);
    await pages.sent(schedule);
    const policy = page(second, 'policy', 'trigger');
    expect(await pages.admit(policy)).toBe(true);
    await pages.sent(policy);
    expect(await pages.admit(schedule)).toBe(false);
    expect(await pages.admit(policy)).toBe(false);
  });

  it('does not take again a trigger PagerDuty took once a newer trigger moved the newest', async () => {
    // Prepare: the DisableKey (12:00) is paged; the key is then scheduled for deletion (12:01), paged too.
    const pages = ledger();
    const disable = page('2026-10-03T12:00:00Z', 'disable', 'trigger');
    expect(await pages.admit(disable)).toBe(true);
    await pages.sent(disable);
    const schedule = page('2026-10-03T12:01:00Z', 'schedule', 'trigger');
    expect(await pages.admit(schedule)).toBe(true);
    await pages.sent(schedule);

    // Act and assess: the DisableKey's retry (another event of its finding failed), or its copy from the ops topic.
    expect(await pages.admit(disable)).toBe(false);
    expect(await pages.admit(schedule)).toBe(false);
    // A trigger older than a resolve is not taken, even once a newer trigger opened the incident again.
    const tag = page('2026-10-03T12:01:30Z', 'tag', 'trigger');
    expect(await pages.admit(page('2026-10-03T12:02:00Z', 'cancel', 'resolve'))).toBe(true);
    expect(await pages.admit(page('2026-10-03T12:03:00Z', 'policy', 'trigger'))).toBe(true);
    expect(await pages.admit(tag)).toBe(false);
    expect(await pages.admit(page('2026-10-03T12:02:30Z', 'late', 'trigger'))).toBe(true);
  });

  it('does not take a trigger older than a resolve of the same second as the trigger before it, once a newer trigger reopened the incident', async () => {
    // Prepare: a key disabled and enabled again in the same second, both paged, then disabled again.
    const pages = ledger();
    const second = '2026-10-03T12:00:00Z';
    for (const event of [page(second, 'disable', 'trigger'), page(second, 'enable', 'resolve')]) {
      expect(await pages.admit(event)).toBe(true);
      await pages.sent(event);
    }
    expect(await pages.admit(page('2026-10-03T12:10:00Z', 'disable-again', 'trigger'))).toBe(true);

    // Act and assess: a trigger from before that resolve (a tag change at 11:59), delivered late.
    expect(await pages.admit(page('2026-10-03T11:59:00Z', 'tag', 'trigger'))).toBe(false);
    expect(await pages.admit(page('2026-10-03T12:05:00Z', 'late', 'trigger'))).toBe(true);
  });

  it('orders each dedup key on its own', async () => {
    const pages = ledger();
    await pages.admit(page('2026-10-03T12:01:00Z', 'enable', 'resolve'));

    expect(await pages.admit(page('2026-10-03T12:00:00Z', 'policy', 'trigger', `${DEDUP_KEY}:policy`))).toBe(true);
  });

  it('keeps the newest event with a 14-day expiry, and leaves an older one out', async () => {
    const pages = ledger();
    await pages.admit(page('2026-10-03T12:01:00Z', 'enable', 'resolve'));
    await pages.admit(page('2026-10-03T12:00:00Z', 'disable', 'trigger'));

    const { Item } = await table.client.send(
      new GetItemCommand({ TableName: table.tableName, Key: { pk: { S: `PAGE#${DEDUP_KEY}` }, sk: { S: 'LAST' } } }),
    );

    expect(Item).toEqual({
      pk: { S: `PAGE#${DEDUP_KEY}` },
      sk: { S: 'LAST' },
      at: { N: String(Date.parse('2026-10-03T12:01:00Z')) },
      eventId: { S: 'enable' },
      seen: { SS: ['enable'] },
      action: { S: 'resolve' },
      resolvedAt: { N: String(Date.parse('2026-10-03T12:01:00Z')) },
      expiresAt: { N: String(NOW / 1000 + PAGE_TTL_SECONDS) },
    });
  });

  it("keeps an open incident's trigger a year, so that its key's deletion weeks later still finds it open", async () => {
    // Prepare: the policy's drift paged, never resolved; KMS deletes the key after a 30-day waiting period.
    const opened = page('2026-10-03T12:00:00Z', 'open', 'trigger');
    const expiry = async () =>
      (
        await table.client.send(
          new GetItemCommand({
            TableName: table.tableName,
            Key: { pk: { S: `PAGE#${DEDUP_KEY}` }, sk: { S: 'LAST' } },
          }),
        )
      ).Item?.expiresAt;

    // Act
    const pages = ledger();
    await pages.admit(opened);
    await pages.sent(opened);
    const whileOpen = await expiry();
    await pages.admitIfOpen(page('2026-11-02T12:05:00Z', 'delete', 'resolve'));

    // Assess: kept long past the deletion; once resolved, the usual 15 days.
    expect(whileOpen).toEqual({ N: String(NOW / 1000 + OPEN_INCIDENT_TTL_SECONDS) });
    expect(OPEN_INCIDENT_TTL_SECONDS).toBeGreaterThan(30 * 24 * 60 * 60 + PAGE_TTL_SECONDS);
    expect(await expiry()).toEqual({ N: String(NOW / 1000 + PAGE_TTL_SECONDS) });
  });

  describe('turns to send', () => {
    /** A ledger on a clock that each wait for a turn moves on by `step` ms; `onWait` runs on each wait. */
    function ledgerOnClock(step: number, onWait: () => unknown = () => undefined) {
      const clock = { now: NOW, waits: 0 };
      const pages = createPageLedger({
        client: table.client,
        tableName: table.tableName,
        now: () => clock.now,
        sleep: async () => {
          clock.waits += 1;
          clock.now += step;
          await onWait();
        },
      });
      return { pages, clock };
    }

    it("gives a dedup key's turn to one invocation at a time, the next once it is given back", async () => {
      let release: () => Promise<void> = async () => undefined;
      const { pages, clock } = ledgerOnClock(250, () => release());
      release = await pages.takeTurn(DEDUP_KEY);

      const next = await pages.takeTurn(DEDUP_KEY);

      expect(clock.waits).toBe(1);
      await next();
      await pages.takeTurn(DEDUP_KEY);
      expect(clock.waits).toBe(1);
    });

    it('does not hold up another dedup key', async () => {
      const { pages, clock } = ledgerOnClock(250);
      await pages.takeTurn(DEDUP_KEY);

      await pages.takeTurn(`${DEDUP_KEY.replace(':key_state', ':policy')}`);

      expect(clock.waits).toBe(0);
    });

    it('throws PageInFlightError, naming the dedup key, when the other still sends after the wait', async () => {
      const { pages, clock } = ledgerOnClock(250);
      await pages.takeTurn(DEDUP_KEY);

      const error = await pages.takeTurn(DEDUP_KEY).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(PageInFlightError);
      expect((error as Error).message).toContain(DEDUP_KEY);
      expect(clock.now - NOW).toBe(TURN_WAIT_MS);
    });

    it('takes the turn of an invocation that died holding it, once its time is up', async () => {
      const { pages: died } = ledgerOnClock(0);
      await died.takeTurn(DEDUP_KEY);
      const { pages, clock } = ledgerOnClock(TURN_MS / 4);
      clock.now += TURN_MS;

      await pages.takeTurn(DEDUP_KEY);

      expect(clock.waits).toBe(1);
    });

    it('leaves the newest event recorded as it was, and the item to expire', async () => {
      const pages = ledger();
      await pages.admit(page('2026-10-03T12:00:00Z', 'disable', 'trigger'));
      const release = await pages.takeTurn(DEDUP_KEY);
      await release();
      await createPageLedger({ client: table.client, tableName: table.tableName }).takeTurn(`${DEDUP_KEY}:new`);

      const item = async (dedupKey: string) =>
        (
          await table.client.send(
            new GetItemCommand({
              TableName: table.tableName,
              Key: { pk: { S: `PAGE#${dedupKey}` }, sk: { S: 'LAST' } },
            }),
          )
        ).Item;
      expect(await item(DEDUP_KEY)).toEqual({
        pk: { S: `PAGE#${DEDUP_KEY}` },
        sk: { S: 'LAST' },
        at: { N: String(Date.parse('2026-10-03T12:00:00Z')) },
        eventId: { S: 'disable' },
        seen: { SS: ['disable'] },
        action: { S: 'trigger' },
        expiresAt: { N: String(NOW / 1000 + OPEN_INCIDENT_TTL_SECONDS) },
      });
      expect(await item(`${DEDUP_KEY}:new`)).toMatchObject({ expiresAt: { N: expect.any(String) } });
      expect(await pages.admit(page('2026-10-03T12:00:00Z', 'disable', 'trigger'))).toBe(true);
    });
  });

  it('turns throttling into RetryableStoreError and a missing table into StoreError, each with its cause', async () => {
    const throttled = throttlingError();
    table.failOnce((command) => command === 'UpdateItemCommand', throttled);

    const slow = await ledger()
      .admit(page('2026-10-03T12:00:00Z', 'disable', 'trigger'))
      .catch((e: unknown) => e);
    const missing = await createPageLedger({ client: table.client, tableName: 'no-such-table' })
      .admit(page('2026-10-03T12:00:00Z', 'disable', 'trigger'))
      .catch((e: unknown) => e);

    expect(slow).toBeInstanceOf(RetryableStoreError);
    expect((slow as Error).cause).toBe(throttled);
    expect(missing).toBeInstanceOf(StoreError);
    expect((missing as Error).message).toMatch(/^DynamoDB UpdateItem \(page order\) failed: ResourceNotFoundException/);
    expect((missing as Error).cause).toMatchObject({ name: 'ResourceNotFoundException' });
  });
});
