/**
 * A key policy replaced on a key whose previous policy keydrift never saw (no baseline yet): every principal of the new
 * policy counts as added, and none can be counted as removed. The alerts say the removed ones are unknown, never that
 * nobody lost access. The findings come from the core over the public samples PutKeyPolicy__awskmsdg__1 (the default
 * policy) and PutKeyPolicy__panther__1 (a policy shared with two organizations).
 */
import { formatChatbotNotification, formatEmail, formatPagerDutyEvents } from '../../lambda/alerts';
import type { Finding } from '../../lambda/core/types';
import { createKey, detect, rec } from '../core/harness';
import { type CloudTrailRecord, malformedSampleText } from '../helpers/fixtures';

const ROUTING_KEY = 'R0UT1NGKEY0000000000000000000000';

const policyReplaced = (sample: string): Finding => detect([rec(sample)]).last;

/** The ReplicateKey documentation example, without the trailing comma that makes it invalid JSON in its source. */
function replicateKey(): CloudTrailRecord {
  const text = malformedSampleText('ReplicateKey__awskmsdg__1').replace(/("replicaPolicy": ".*"),(\s*\})/, '$1$2');
  return JSON.parse(text) as CloudTrailRecord;
}

describe('A key policy replaced while the previous one is unknown', () => {
  it('is summed up as such, not as a change that removed no principal', () => {
    // Act
    const finding = policyReplaced('PutKeyPolicy__awskmsdg__1');
    const { subject } = formatEmail(finding);

    // Assess
    expect(finding).toMatchObject({ severity: 'critical', status: 'drift', changes: { policy: { before: null } } });
    expect(finding.summary).toBe(
      'Key policy of 1234abcd-12ab-34cd-56ef-1234567890ab changed by Alice (previous policy unknown)',
    );
    expect(subject).not.toContain('-0');
    expect(formatChatbotNotification(finding).content.title).not.toContain('-0');
    expect(formatPagerDutyEvents(finding, ROUTING_KEY)[0].payload.summary).not.toContain('-0');
  });

  it('keeps the organizations it is now shared with in the summary', () => {
    // Act
    const finding = policyReplaced('PutKeyPolicy__panther__1');

    // Assess
    expect(finding.summary).toBe(
      'Key policy of xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx changed by example.user (previous policy unknown): ' +
        'now shared with organizations o-xxxxxxxxxx, o-yyyyyyyyyy',
    );
  });

  it('says in the e-mail, the chat message and the page that the removed principals are unknown', () => {
    // Act
    const finding = policyReplaced('PutKeyPolicy__awskmsdg__1');
    const { body } = formatEmail(finding);
    const { description } = formatChatbotNotification(finding).content;
    const [page] = formatPagerDutyEvents(finding, ROUTING_KEY);

    // Assess
    expect(body).toContain(
      [
        'policy',
        '  added principals: arn:aws:iam::111122223333:root',
        '  removed principals: (unknown: the previous policy is not known)',
        '  external accounts: (none)',
        '  before: (unknown)',
      ].join('\n'),
    );
    expect(description).toContain(
      '• `policy`: added principals `arn:aws:iam::111122223333:root`; ' +
        'removed principals (unknown: the previous policy is not known); external accounts none',
    );
    expect(page.payload.custom_details.change).toMatchObject({
      before: '(unknown)',
      added_principals: ['arn:aws:iam::111122223333:root'],
      removed_principals: '(unknown: the previous policy is not known)',
    });
  });

  it('still lists the principals a known previous policy lost', () => {
    // Act: the same sample twice, the second replacing the policy the first set, without its root statement
    const { last } = detect([
      rec('PutKeyPolicy__awskmsdg__1'),
      rec('PutKeyPolicy__awskmsdg__1', (r) => {
        r.eventID = 'second-put';
        r.eventTime = '2022-09-01T20:16:16Z';
        const params = r.requestParameters as { policy: string };
        params.policy = JSON.stringify({ Version: '2012-10-17', Statement: [] });
      }),
    ]);

    // Assess
    expect(last.summary).toBe(
      'Key policy of 1234abcd-12ab-34cd-56ef-1234567890ab changed by Alice (+0 / -1 principals)',
    );
    expect(formatEmail(last).body).toContain('  removed principals: arn:aws:iam::111122223333:root');
  });

  it.each([
    ['a new key', () => detect([createKey()]).last],
    ['the new replica of a ReplicateKey', () => detect([replicateKey()]).last],
  ])('says no principal was removed from the policy %s was made with', (_what, made: () => Finding) => {
    // Act
    const finding = made();
    const pages = JSON.stringify(formatPagerDutyEvents(finding, ROUTING_KEY));

    // Assess
    expect(finding.changes.policy).toMatchObject({ before: null, removed_principals: [] });
    expect(formatEmail(finding).body).toContain('  removed principals: (none)');
    expect(formatChatbotNotification(finding).content.description).toContain('removed principals none');
    expect(pages).toContain('"removed_principals":[]');
    expect(pages).not.toContain('previous policy is not known');
  });
});
