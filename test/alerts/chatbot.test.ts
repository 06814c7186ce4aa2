import { formatChatbotNotification, threadIdFor } from '../../lambda/alerts/chatbot';
import { formatEmail } from '../../lambda/alerts/email';
import { formatPagerDutyEvents } from '../../lambda/alerts/pagerduty';
import { remediationFor } from '../../lambda/core/remediation';
import type { Finding } from '../../lambda/core/types';
import {
  at,
  by,
  createAlias,
  detect,
  disabledInSessionNamedAfterSourceIdentity,
  OTHER_KEY_ID,
  rec,
  sessionIdentity,
  withSourceIdentity,
} from '../core/harness';
import {
  ALL_FINDINGS,
  cancelKeyDeletion,
  deniedPolicyAttempt,
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
  trailKeyRemoved,
} from './fixtures';
import { chatbotNotificationSchema } from './schemas';
import { allStrings, UNSAFE_CHARACTERS } from './walk';

const DEPLOY_SESSION = 'arn:aws:sts::111122223333:assumed-role/platform-deployer/deploy-4711';

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

  it('leaves out of the title a source identity it would cut, so that no cut name reads as another caller', () => {
    // Prepare: alice, behind the session deploy-4711, moves alias/my_alias to another key
    const identity = withSourceIdentity(sessionIdentity('platform-deployer', 'deploy-4711'), 'alice@example.com');
    const alias = at(createAlias('alias/my_alias', OTHER_KEY_ID), 'alias-1', '2020-11-01T09:05:00Z');
    const { last } = detect([alias, by(rec('UpdateAlias__awskmsdg__1'), identity)]);
    expect(last.summary).toBe(
      'Alias alias/my_alias moved from 0987dcba-09fe-87dc-65ba-ab0987654321 to 1234abcd-12ab-34cd-56ef-1234567890ab by deploy-4711 (source identity alice@example.com)',
    );

    // Act
    const { content, metadata } = formatChatbotNotification(last);

    // Assess: not `(source identity alice@exa…`; the Who line and the summary, with room for her, name her
    expect(content.title).toBe(
      ':red_circle: [ERROR] Alias alias/myˍalias moved from 0987dcba-09fe-87dc-65ba-ab0987654321 to 1234abcd-12ab-34cd-56ef-1234567890ab by deploy-4711',
    );
    expect(content.description).toContain('(source identity `alice@example.com`)');
    expect(metadata.summary).toBe(last.summary.replace('my_alias', 'myˍalias'));
  });

  it('says where the call came from, under who made it, when the record says', () => {
    const fromCli = { ...putKeyPolicyOpened, sourceIp: '203.0.113.5', userAgent: 'aws-cli/2.17.0 Python/3.11' };
    const lines = formatChatbotNotification(fromCli).content.description.split('\n');
    expect(lines.slice(1, 3)).toEqual([
      '*Who:* `arn:aws:iam::111122223333:user/Alice`',
      '*From:* IP `203.0.113.5`, user agent `aws-cli/2.17.0 Python/3.11`',
    ]);
  });

  it('names the source identity behind a role session on the Who line', () => {
    const chained = { ...putKeyPolicyOpened, user: DEPLOY_SESSION, sourceIdentity: 'alice@example.com' };
    const lines = formatChatbotNotification(chained).content.description.split('\n');
    expect(lines[1]).toBe(`*Who:* \`${DEPLOY_SESSION}\` (source identity \`alice@example.com\`)`);
  });

  it('names the source identity once when the session is named after it, as the summary does', () => {
    const last = disabledInSessionNamedAfterSourceIdentity();
    const lines = formatChatbotNotification(last).content.description.split('\n');
    expect(lines[1]).toBe(`*Who:* \`${last.user}\``);
  });

  it('calls the source a source, not an IP, when a service made the call (CreateGrant__awskmsdg__3: DynamoDB)', () => {
    const grant = detect([rec('CreateGrant__awskmsdg__3')]).last;
    expect(grant.sourceIp).toBe('dynamodb.amazonaws.com');
    expect(formatChatbotNotification(grant).content.description).toContain('*From:* source `dynamodb.amazonaws.com`');
  });

  it('shows what a grant change was and is, not only the outside accounts it reached', () => {
    const created = formatChatbotNotification(detect([rec('CreateGrant__awskmsdg__1')]).last).content.description;
    const line = created.split('\n').find((l) => l.startsWith('• `grants`:'));
    expect(line).toContain('"grantee_principal":"EX_PRINCIPAL_ID"');
    expect(line).toContain('"operations":["Encrypt","RetireGrant"]');
    expect(line).toMatch(/\(external accounts none\)$/);
    const revoked = formatChatbotNotification(detect([rec('RevokeGrant__awskmsdg__1')]).last).content.description;
    expect(revoked).toContain(
      '\n• `grants`: `{"abcde1237f76e4ba7987489ac329fbfba6ad343d6f7075dbd1ef191f0120514a":null}` → `{"abcde1237f76e4ba7987489ac329fbfba6ad343d6f7075dbd1ef191f0120514a":"(none)"}` (external accounts none)\n',
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
    expect(description).toContain('\n• `deletion_date`: `(not scheduled)` → `2021-04-12T18:58:30Z`\n');
  });

  it('offers the remediation commands as next steps, in code spans', () => {
    expect(formatChatbotNotification(scheduleKeyDeletion).content.nextSteps).toEqual(
      scheduleKeyDeletion.remediation.map((command) => `\`${command}\``),
    );
  });

  it('sends the reader for the commands it leaves out where they all are: the email, else keydrift findings', () => {
    // Prepare: grants found on a key, none approved, each revoked by a command of its own.
    const revokes = (count: number): Finding => ({
      ...scheduleKeyDeletion,
      remediation: remediationFor(
        'key',
        KEY_ARN,
        Array.from({ length: count }, (_, i) => ({
          path: `grants#${String(i).padStart(64, '0')}`,
          current: { grantee_principal: 'arn:aws:iam::111122223333:role/app', operations: ['Decrypt'] },
          target: null,
        })),
      ),
    });
    const stepsOf = (finding: Finding) => formatChatbotNotification(finding).content.nextSteps;
    // Act, Assess: eight commands, all in the email.
    expect(stepsOf(revokes(8))).toHaveLength(6);
    expect(stepsOf(revokes(8))[5]).toBe('…and 3 more commands in the email');
    // Twenty-five: the email shows twenty, and says where the rest are too.
    const many = revokes(25);
    expect(stepsOf(many)[5]).toBe(
      `…and 20 more commands not shown: \`keydrift findings --resource ${KEY_ARN} --region us-west-2 --since ${many.timestamp.slice(0, 10)}\` lists them all`,
    );
    expect(formatEmail(many).body).toContain(
      `\n# 5 more commands not shown: keydrift findings --resource ${KEY_ARN} --region us-west-2 --since ${many.timestamp.slice(0, 10)} lists them all\n`,
    );
    expect(formatPagerDutyEvents(many, 'r'.repeat(32))[0]!.payload.custom_details.remediation).toContain(
      `# 20 more commands, to run after these: keydrift findings --resource ${KEY_ARN} --region us-west-2 --since ${many.timestamp.slice(0, 10)} lists them all`,
    );
  });

  it('never sends the reader to the email for a command the email does not show whole', () => {
    // Prepare: a command longer than the email shows (a description of 5,000 quotes, each quoted in four characters).
    const long = `aws kms update-key-description --key-id ${KEY_ARN} --region us-west-2 --description '${"'\\''".repeat(5000)}'`;
    const finding: Finding = {
      ...scheduleKeyDeletion,
      remediation: [long, ...Array.from({ length: 5 }, (_, i) => `aws kms enable-key --key-id ${KEY_ARN} # ${i}`)],
    };
    const findings = `keydrift findings --resource ${KEY_ARN} --region us-west-2 --since ${finding.timestamp.slice(0, 10)}`;
    // Act
    const steps = formatChatbotNotification(finding).content.nextSteps;
    const remediation = formatPagerDutyEvents(finding, 'r'.repeat(32))[0]!.payload.custom_details.remediation;
    // Assess: the email has a placeholder in its place, so neither the chat nor the page names the email for it.
    expect(formatEmail(finding).body).toContain(`# a ${long.length}-character command does not fit here: ${findings}`);
    expect(steps[0]).toBe(`\`# a ${long.length}-character command does not fit here: ${findings} shows it whole\``);
    expect(steps[5]).toBe(`…and 1 more commands not shown: \`${findings}\` lists them all`);
    expect(remediation).toEqual([
      `# a ${long.length}-character command does not fit here: ${findings} shows it whole`,
      ...finding.remediation.slice(1, 5),
      `# 1 more commands, to run after these: ${findings} lists them all`,
    ]);
  });

  it('marks a resolved change with a check mark and has no next step', () => {
    const { content } = formatChatbotNotification(enableKeyRotationResolved);
    expect(content.title.startsWith(':white_check_mark: [INFO] RESOLVED Automatic rotation')).toBe(true);
    expect(content.nextSteps).toEqual([]);
  });

  it('names a denied call once in its title: the summary opens with "Denied"', () => {
    // Panther's StopLogging sample, refused with InvalidTrailNameException.
    const denied = detect([rec('StopLogging__panther__1')]).last;
    expect(denied.status).toBe('denied');
    expect(formatChatbotNotification(denied).content.title).toBe(
      ':no_entry: [WARNING] Denied (InvalidTrailNameException): tester tried StopLogging on example-trail',
    );
  });

  it('keeps the status in the title of a denied finding whose summary does not say it (a dry run)', () => {
    const dryRun = { ...deniedPutKeyPolicy, summary: 'Dry run: mallory checked PutKeyPolicy on alias/payments' };
    expect(formatChatbotNotification(dryRun).content.title).toBe(
      ':no_entry: [WARNING] DENIED Dry run: mallory checked PutKeyPolicy on alias/payments',
    );
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

describe('formatChatbotNotification: nothing the reader can misread', () => {
  const withSteps = (...remediation: string[]): Finding => ({ ...hostileDescription, remediation });

  it('heads the changes of a denied call "Attempted (not applied)", never "What changed"', () => {
    const { description } = formatChatbotNotification(deniedPolicyAttempt).content;
    expect(description).toContain('\n*Attempted (not applied):*\n• `policy`: added principals');
    expect(description).not.toContain('*What changed:*');
    expect(formatChatbotNotification(putKeyPolicyOpened).content.description).toContain('\n*What changed:*\n');
  });

  it('shows an after of null as (none) and a before of null as (unknown)', () => {
    expect(formatChatbotNotification(trailKeyRemoved).content.description).toContain(
      `\n• \`kms_key_id\`: \`${KEY_ARN}\` → \`(none)\`\n`,
    );
    expect(formatChatbotNotification(cancelKeyDeletion).content.description).toContain(
      '\n• `deletion_date`: `2021-04-12T18:58:30Z` → `(none)` (back to the approved value)\n',
    );
    const scheduled = detect([rec('ScheduleKeyDeletion__awskmsdg__1')]).last;
    expect(formatChatbotNotification(scheduled).content.description).toContain('\n• `key_state`: `(unknown)` →');
  });

  it('says a deletion scheduled had no date before, and one cancelled had a date the record does not give', () => {
    const scheduled = detect([rec('ScheduleKeyDeletion__awskmsdg__1')]).last;
    expect(formatChatbotNotification(scheduled).content.description).toContain(
      '\n• `deletion_date`: `(not scheduled)` → `2021-04-12T18:58:30Z`\n',
    );
    const cancelled = detect([rec('CancelKeyDeletion__awskmsdg__1')]).last;
    expect(formatChatbotNotification(cancelled).content.description).toContain(
      '\n• `deletion_date`: `(scheduled; the date is not in the record)` → `(none)`\n',
    );
  });

  it('explains the severity without rule ids or internal flag names', () => {
    const { description } = formatChatbotNotification(deniedPolicyAttempt).content;
    expect(description).toContain(
      '\n*Why warning:* Every denied finding is a warning by default: the call failed, so nothing changed.; ' +
        'Had it succeeded: account 444455556666 gained access. A change that lets another account',
    );
    expect(description).not.toMatch(/NoOutsideAccessGained|TrailKeyKeepsCloudTrailAccess|cloudtrail_access_removed/);
    expect(description).toContain('CloudTrail loses the kms:GenerateDataKey∗ permission');
  });

  it('says why a finding without escalation reasons has its severity', () => {
    expect(formatChatbotNotification({ ...stopLogging, reasons: undefined }).content.description).toContain(
      "\n*Why critical:* StopLogging is critical by default in keydrift's event catalogue.\n",
    );
  });

  it('never alters a next-step command with a backtick: it points to the email instead', () => {
    // Prepare
    const command = "aws kms update-key-description --key-id k --region us-west-2 --description 'it`s'";
    // Act
    const [step] = formatChatbotNotification(withSteps(command)).content.nextSteps;
    // Assess
    expect(step).toBe(
      '`# aws kms update-key-description … (a command Slack cannot show exactly: copy it from the email alert)`',
    );
    expect(step).not.toContain('ˋ');
  });

  it('never alters a next-step command with a bare @here, which Slack would turn into a mention', () => {
    const [step] = formatChatbotNotification(
      withSteps("aws kms tag-resource --key-id k --region us-west-2 --tags 'TagKey=owner,TagValue=@here'"),
    ).content.nextSteps;
    expect(step).toBe('`# aws kms tag-resource … (a command Slack cannot show exactly: copy it from the email alert)`');
  });

  it('keeps commands with quotes, pipes and redirections exact: Slack shows &amp; &lt; &gt; as the characters', () => {
    const command = "keydrift baseline show k --format json | jq -e '.baseline' > approved-policy.json && echo '<ok>'";
    const [step] = formatChatbotNotification(withSteps(command)).content.nextSteps;
    expect(step).toBe(
      "`keydrift baseline show k --format json | jq -e '.baseline' &gt; approved-policy.json &amp;&amp; echo '&lt;ok&gt;'`",
    );
    const shown = step!.slice(1, -1).replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    expect(shown).toBe(command);
  });
});
