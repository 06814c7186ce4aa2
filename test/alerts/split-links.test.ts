/**
 * Record text that hides a link or a hostile ARN from the sanitizers, through every channel: e-mail, Slack (Chatbot)
 * and PagerDuty each get it as a reader must see it, with no live link and no crash.
 */
import { formatChatbotNotification } from '../../lambda/alerts/chatbot';
import { consoleUrl } from '../../lambda/alerts/console-url';
import { formatEmail } from '../../lambda/alerts/email';
import { formatPagerDutyEvents, pagerDutyDedupKey } from '../../lambda/alerts/pagerduty';
import type { Finding } from '../../lambda/core/types';
import { ACCOUNT, KEY_ARN, MALLORY, REGION } from './fixtures';

/** What each channel delivers of `finding`, as text. */
const channels = (finding: Finding): Record<string, string> => ({
  email: formatEmail(finding).body,
  chat: JSON.stringify(formatChatbotNotification(finding)),
  pagerduty: JSON.stringify(formatPagerDutyEvents(finding, 'routing-key')),
});

/** A tag change by mallory, whose value and user agent carry `link`. */
const taggedWith = (link: string): Finding => ({
  service: 'kms',
  event: 'TagResource',
  eventId: 'e2f4a6c8-0000-4000-8000-0000000000aa',
  timestamp: '2026-10-03T14:02:00Z',
  account: ACCOUNT,
  region: REGION,
  resource: KEY_ARN,
  user: MALLORY,
  severity: 'critical',
  status: 'drift',
  changes: { tags: { before: { team: 'payments' }, after: { team: `${link}/login` } } },
  summary: `Tag team of ${KEY_ARN} set to ${link}/login by mallory`,
  remediation: [],
  userAgent: `${link}/agent`,
});

describe('a link split by a character the sanitizers remove', () => {
  it.each([
    ['a zero-width space', 'ht\u200btp://evil.example'],
    ['an ANSI colour', 'ht\u001b[0mtp://evil.example'],
    ['a soft hyphen', 'http\u00ad://evil.example'],
    ['a bidi override', 'h\u202dttps://evil.example'],
  ])('comes out defanged, with %s taken out, in every channel', (_, link) => {
    for (const [channel, text] of Object.entries(channels(taggedWith(link)))) {
      expect([channel, text]).not.toEqual([channel, expect.stringMatching(/https?:\/\/evil\.example/)]);
      expect([channel, text]).toEqual([channel, expect.stringMatching(/hxxps?:\/\/evil\.example/)]);
    }
  });

  it('is defanged in a remediation step shown as "control characters removed", which is never run as it is', () => {
    const finding = {
      ...taggedWith('x'),
      remediation: ["aws kms untag-resource --tag-keys 'a\nhttp://evil.example/x'"],
    };
    const { email, pagerduty } = channels(finding);
    expect(email).toContain('# control characters removed, check before running: ');
    for (const text of [email, pagerduty]) expect(text).not.toMatch(/http:\/\/evil\.example/);
  });
});

describe('a forged ARN', () => {
  it.each([['__proto__'], ['constructor'], ['toString']])(
    'whose partition is %s gives no console link, and every channel still renders the denied attempt',
    (partition) => {
      const resource = KEY_ARN.replace('arn:aws:', `arn:${partition}:`);
      const finding: Finding = { ...taggedWith('x'), resource, status: 'denied', severity: 'error' };
      expect(consoleUrl(finding)).toBeUndefined();
      for (const text of Object.values(channels(finding))) expect(text).not.toContain('/kms/home');
    },
  );

  it('with emoji past the 255 characters of a PagerDuty dedup key is hashed without splitting a character', () => {
    for (const pad of [99, 100, 101, 102]) {
      const resource = `arn:aws:kms:${REGION}:${ACCOUNT}:alias/${'a'.repeat(pad)}${'\u{1F600}'.repeat(100)}`;
      const key = pagerDutyDedupKey({ account: ACCOUNT, region: REGION, resource }, 'target_key_id');
      expect(key.length).toBeLessThanOrEqual(255);
      expect(key).not.toMatch(/\p{Cs}/u);
    }
  });
});
