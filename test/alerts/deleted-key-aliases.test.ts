/**
 * KMS deletes a key's aliases with it, with no DeleteAlias of their own: the key's deletion finding is their only
 * record, so every channel that shows it names them. The findings come from the core over the public samples
 * (CreateAlias__awskmsdg__1 and others, ScheduleKeyDeletion__awskmsdg__1, DeleteKey__awskmsdg__1); alias names are
 * the caller's text, shown escaped and bounded like any other.
 */
import { formatChatbotNotification, formatEmail, formatPagerDutyEvents } from '../../lambda/alerts';
import type { Finding } from '../../lambda/core/types';
import { at, createAlias, createKey, detect, KEY_ID, onKey, rec } from '../core/harness';
import { allStrings, UNSAFE_CHARACTERS } from './walk';

const ROUTING_KEY = 'R0UT1NGKEY0000000000000000000000';

/** The key created, `names` made its aliases, its deletion scheduled by no planned principal, then done by KMS. */
function deletionOf(names: string[]): Finding {
  const aliases = names.map((name, i) => at(createAlias(name, KEY_ID), `alias-${i}`, '2021-03-01T09:05:00Z'));
  const { last } = detect([
    at(createKey(), 'create', '2021-03-01T09:00:00Z'),
    ...aliases,
    onKey(rec('ScheduleKeyDeletion__awskmsdg__1')),
    at(onKey(rec('DeleteKey__awskmsdg__1')), 'delete-key', '2021-04-12T19:42:07Z'),
  ]);
  return last;
}

/** The text each channel shows of the finding: the e-mail, the chat message, the PagerDuty events. */
function channels(finding: Finding): Record<string, string> {
  const email = formatEmail(finding);
  const chat = formatChatbotNotification(finding);
  return {
    email: `${email.subject}\n${email.body}`,
    chat: allStrings(chat).join('\n'),
    pagerduty: allStrings(formatPagerDutyEvents(finding, ROUTING_KEY)).join('\n'),
  };
}

describe("Every channel names the aliases a key's deletion took with it", () => {
  it('names them in the e-mail, the chat message and the page, still one critical incident on the key state', () => {
    // Act
    const finding = deletionOf(['alias/ExampleAlias', 'alias/payments']);
    const events = formatPagerDutyEvents(finding, ROUTING_KEY);

    // Assess
    expect(finding).toMatchObject({ event: 'DeleteKey', status: 'drift', severity: 'critical' });
    for (const [channel, text] of Object.entries(channels(finding))) {
      expect([channel, text]).toEqual([channel, expect.stringContaining('alias/ExampleAlias, alias/payments')]);
    }
    expect(events.map((e) => [e.event_action, e.dedup_key.split(':').at(-1)])).toEqual([['trigger', 'key_state']]);
    expect(events[0].payload.custom_details.change).toMatchObject({
      after: 'Deleted',
      'aliases deleted with it': 'alias/ExampleAlias, alias/payments',
    });
    expect(events[0].payload.summary).toContain('its aliases alias/ExampleAlias, alias/payments went with it');
  });

  it("lists a key's 50 aliases as ten and a count, in every channel", () => {
    // Act
    const names = Array.from({ length: 50 }, (_, i) => `alias/app-${String(i).padStart(2, '0')}`);
    const finding = deletionOf(names);

    // Assess
    expect(finding.changes.key_state?.aliases_deleted).toEqual(names);
    for (const [channel, text] of Object.entries(channels(finding))) {
      expect([channel, text]).toEqual([channel, expect.stringContaining('alias/app-08, alias/app-09 and 40 more')]);
      expect([channel, text.includes('alias/app-10,')]).toEqual([channel, false]);
    }
  });

  it('shows a hostile alias name escaped: no line break, mention or link comes from it', () => {
    // Act
    const finding = deletionOf(['alias/ok', 'alias/x\n@here <!channel> http://evil.example\u202e']);
    const shown = channels(finding);

    // Assess
    expect(finding.changes.key_state?.aliases_deleted).toHaveLength(2);
    for (const [channel, text] of Object.entries(shown)) {
      expect([channel, text]).toEqual([channel, expect.stringContaining('alias/ok, alias/x')]);
      expect([channel, text.includes('http://evil')]).toEqual([channel, false]);
      expect([channel, /\u202e/.test(text)]).toEqual([channel, false]);
    }
    expect(shown.chat).not.toMatch(/<!channel>|(^|\s)@here/);
    const pagerStrings = allStrings(formatPagerDutyEvents(finding, ROUTING_KEY));
    expect(pagerStrings.filter((s) => UNSAFE_CHARACTERS.test(s))).toEqual([]);
  });
});
