import { formatChatbotNotification, threadIdFor } from '../../lambda/alerts/chatbot';
import {
  ALL_FINDINGS,
  deniedPutKeyPolicy,
  enableKeyRotationResolved,
  HOSTILE,
  hostileDescription,
  hostileTag,
  hugeFinding,
  KEY_ARN,
  putKeyPolicyOpened,
  scheduleKeyDeletion,
  stopLogging,
} from './fixtures';
import { chatbotNotificationSchema } from './schemas';
import { allStrings, UNSAFE_CHARACTERS } from './walk';

// Slack's limits for a section and a header; Chatbot renders the description and title into them.
const SLACK_SECTION = 3000;
const SLACK_HEADER = 150;

describe('formatChatbotNotification: format', () => {
  it.each(ALL_FINDINGS)('matches the documented custom notification schema for the %s finding', (_name, finding) => {
    const notification = formatChatbotNotification(finding);
    expect(chatbotNotificationSchema.safeParse(notification).error).toBeUndefined();
    expect(notification.version).toBe('1.0');
    expect(notification.source).toBe('custom');
    expect(notification.content.textType).toBe('client-markdown');
    expect(notification.content.title.length).toBeLessThanOrEqual(SLACK_HEADER);
    expect(notification.content.description.length).toBeLessThanOrEqual(SLACK_SECTION);
    expect(notification.metadata.relatedResources).toEqual([finding.resource]);
  });

  it('fails the schema check for a payload Chatbot would drop, so the check itself can fail', () => {
    const wrong = { ...formatChatbotNotification(putKeyPolicyOpened), version: '2.0', extra: true };
    expect(chatbotNotificationSchema.safeParse(wrong).success).toBe(false);
  });

  it('titles a critical drift with its severity and summary', () => {
    expect(formatChatbotNotification(putKeyPolicyOpened).content.title).toBe(
      ':rotating_light: [CRITICAL] Key policy of alias/payments opened to account 444455556666 by Alice',
    );
  });

  it('describes who, when, where and which principals gained access', () => {
    expect(formatChatbotNotification(putKeyPolicyOpened).content.description.split('\n')).toEqual([
      '*Event:* `PutKeyPolicy` (kms) · *Status:* drift',
      '*Who:* `arn:aws:iam::111122223333:user/Alice`',
      '*When:* 2022-09-01T20:06:16Z',
      '*Where:* account `111122223333`, region `us-west-2`',
      `*Resource:* \`${KEY_ARN}\``,
      '*What changed:*',
      '• `policy`: added principals `arn:aws:iam::444455556666:root`; removed principals none; external accounts `444455556666`',
      '*Why critical:* A change that lets another account, or anyone, use the key is critical.',
      '*Console:* https://us-west-2.console.aws.amazon.com/kms/home?region=us-west-2#/kms/keys/1234abcd-12ab-34cd-56ef-1234567890ab',
      '*eventId:* `c217db1f-903f-4a2f-8f88-9580182d6313`',
    ]);
  });

  it('shows each state change before → after in code spans', () => {
    const { description } = formatChatbotNotification(scheduleKeyDeletion).content;
    expect(description).toContain('\n• `key_state`: `Enabled` → `PendingDeletion`\n');
    expect(description).toContain('\n• `deletion_date`: `(unknown)` → `2021-04-12T18:58:30Z`\n');
  });

  it('offers the remediation commands as next steps, in code spans', () => {
    expect(formatChatbotNotification(scheduleKeyDeletion).content.nextSteps).toEqual(
      scheduleKeyDeletion.remediation.map((command) => `\`${command}\``),
    );
  });

  it('marks a resolved change with a check mark and has no next step', () => {
    const { content } = formatChatbotNotification(enableKeyRotationResolved);
    expect(content.title.startsWith(':white_check_mark: [INFO] RESOLVED Automatic rotation')).toBe(true);
    expect(content.nextSteps).toEqual([]);
  });

  it('reports the error of a denied call and asks why it was tried', () => {
    const { content } = formatChatbotNotification(deniedPutKeyPolicy);
    expect(content.description).toContain('\n*Error:* `AccessDeniedException` User: ');
    expect(content.nextSteps).toEqual(['Find out why this principal tried the call; nothing changed.']);
    expect(content.keywords).toEqual(['warning', 'denied', 'kms', 'PutKeyPolicy']);
  });

  it('threads every notification about one resource together, and apart from other resources', () => {
    const thread = formatChatbotNotification(putKeyPolicyOpened).metadata.threadId;
    expect(thread).toMatch(/^keydrift-[0-9a-f]{32}$/);
    expect(formatChatbotNotification(scheduleKeyDeletion).metadata.threadId).toBe(thread);
    expect(formatChatbotNotification(stopLogging).metadata.threadId).not.toBe(thread);
    expect(threadIdFor(KEY_ARN)).toBe(thread);
  });

  it('names the event type with letters, digits and hyphens only, as custom actions require', () => {
    expect(formatChatbotNotification(stopLogging).metadata.eventType).toBe('keydrift-StopLogging');
  });
});

describe('formatChatbotNotification: hostile strings', () => {
  const notification = formatChatbotNotification(hostileDescription);
  const strings = allStrings(notification);

  it('leaves no raw angle bracket anywhere, so no mention or link can form', () => {
    expect(strings.filter((s) => /[<>]/.test(s))).toEqual([]);
    expect(JSON.stringify(notification)).toContain('&lt;!channel&gt; rotate now');
    expect(JSON.stringify(notification)).toContain('&lt;hxxps://evil.example|click to restore access&gt;');
  });

  it('leaves no bare @here, no control character and no line break except between description lines', () => {
    expect(strings.filter((s) => /(^|[^\p{L}\p{N}_])@(here|channel|everyone)\b/u.test(s))).toEqual([]);
    const withoutDescription = allStrings({ ...notification, content: { ...notification.content, description: '' } });
    expect(withoutDescription.filter((s) => UNSAFE_CHARACTERS.test(s))).toEqual([]);
    expect(notification.content.description.split('\n').filter((line) => UNSAFE_CHARACTERS.test(line))).toEqual([]);
  });

  it('starts every description line with its own label, so injected text cannot start a line', () => {
    const lines = notification.content.description.split('\n');
    expect(lines.filter((line) => !/^(\*[A-Za-z ]+:\*|• `)/.test(line))).toEqual([]);
  });

  it('balances the backticks of every line, so attacker backticks cannot open or close code', () => {
    const unbalanced = [...strings, ...notification.content.description.split('\n')].filter(
      (s) => (s.match(/`/g) ?? []).length % 2 !== 0,
    );
    expect(unbalanced).toEqual([]);
    expect(JSON.stringify(notification)).not.toContain('```');
  });

  it('neutralizes markdown in text outside code spans', () => {
    expect(notification.metadata.summary).toContain('∗bold∗ ˍitalicˍ ∼strike∼ [docs] (hxxps://evil.example)');
  });

  it('removes ANSI escapes and defangs the links they carried', () => {
    expect(notification.metadata.summary).toContain(' RED here ');
    expect(JSON.stringify(notification)).not.toContain('https://evil.example');
  });

  it('keeps a 40 KB tag value from inflating the notification', () => {
    const tagged = formatChatbotNotification(hostileTag);
    expect(JSON.stringify(tagged).length).toBeLessThan(8 * 1024);
    expect(JSON.stringify(tagged)).not.toContain(HOSTILE.hugeTagValue.slice(0, 1000));
  });

  it('fits a huge finding in one Slack section and says how many principals it left out', () => {
    const { description } = formatChatbotNotification(hugeFinding).content;
    expect(description.length).toBeLessThanOrEqual(SLACK_SECTION);
    expect(description).toContain('`arn:aws:iam::400000000002:root`, +4997 more;');
    expect(description.endsWith('*eventId:* `9e8d7c6b-5a49-4837-a625-1403f2e1d0c9`')).toBe(true);
  });
});
