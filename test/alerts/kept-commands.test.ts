/**
 * Where the alerts send the reader for the commands they leave out: `keydrift findings` lists them only while
 * keydrift's table keeps them. A finding too large for a table item is kept as its EventBridge copy, which replaces
 * the commands of a key found with thousands of unapproved grants (one revoke-grant each) by their SHA-256.
 */
import { opsCommand, pageCommand } from '../../lambda/adapters/publisher';
import { formatChatbotNotification } from '../../lambda/alerts/chatbot';
import { formatEmail } from '../../lambda/alerts/email';
import { MAX_JSON_BYTES, storedFinding } from '../../lambda/alerts/event-entry';
import { alertableStoredFinding, remediationKept } from '../../lambda/alerts/kept-commands';
import { formatPagerDutyEvents } from '../../lambda/alerts/pagerduty';
import { DEFAULT_CONFIG } from '../../lambda/core/config';
import { MemoryStore } from '../../lambda/core/memory-store';
import { reconcileResource } from '../../lambda/core/reconcile';
import { snapshotFromState } from '../../lambda/core/state';
import type { Finding } from '../../lambda/core/types';
import { defaultPolicy, KEY_ARN } from '../core/harness';
import { applicationGrants } from './fixtures';

const NOW = Date.parse('2026-10-03T12:00:00Z');
const ROUTING_KEY = 'r'.repeat(32);

const keyState = (grants: Record<string, unknown>) =>
  snapshotFromState('key', KEY_ARN, {
    description: 'd',
    key_state: 'Enabled',
    deletion_date: null,
    enable_key_rotation: true,
    policy: defaultPolicy(),
    tags: {},
    aliases: {},
    grants,
  });

/** The reconciler's finding on a key it found with `n` grants its baseline does not have. */
function grantsFound(n: number): Finding {
  const finding = reconcileResource(
    { baseline: keyState({}), live: keyState(applicationGrants(n)), nowMs: NOW },
    new MemoryStore(),
    DEFAULT_CONFIG,
  );
  if (!finding) throw new Error('the reconciler found no drift');
  return finding;
}

const day = new Date(NOW).toISOString().slice(0, 10);
const findingsCommand = `keydrift findings --resource ${KEY_ARN} --region us-west-2 --since ${day}`;
const listGrants = `aws kms list-grants --key-id ${KEY_ARN} --region us-west-2`;
const baselineShow = `keydrift baseline show ${KEY_ARN} --region us-west-2`;

describe('commands keydrift could not keep', () => {
  const found = grantsFound(3000);
  const stored = JSON.parse(storedFinding(found).json);

  it('are those of a finding whose stored copy replaced them', () => {
    // Assess: one revoke-grant a grant, far over a table item; the stored copy holds a stand-in, not the commands.
    expect(found.remediation).toHaveLength(3000);
    expect(Buffer.byteLength(JSON.stringify(found))).toBeGreaterThan(MAX_JSON_BYTES);
    expect(stored.truncated).toContain('/remediation');
    expect(Array.isArray(stored.remediation)).toBe(false);
    expect(remediationKept(found)).toBe(false);
  });

  it('are not said by the email to be listed by keydrift findings: it names the reads of the live and approved grants', () => {
    // Act
    const body = formatEmail(found).body;

    // Assess
    expect(body).not.toContain('lists them all');
    expect(body).toContain(
      `\n# 2980 more commands not shown, too many for keydrift to keep: ${listGrants} shows the live grants, ${baselineShow} the approved ones\n`,
    );
  });

  it('are not said by the chat to be listed by keydrift findings', () => {
    const steps = formatChatbotNotification(found).content.nextSteps;

    expect(steps).toHaveLength(6);
    expect(steps[5]).toBe(
      `…and 2995 more commands not shown, too many for keydrift to keep: \`${listGrants}\` shows the live grants, \`${baselineShow}\` the approved ones`,
    );
  });

  it('are not said by the page to be listed by keydrift findings', () => {
    const [event] = formatPagerDutyEvents(found, ROUTING_KEY);

    const remediation = event!.payload.custom_details.remediation as string[];
    expect(remediation.slice(0, 5)).toEqual(found.remediation.slice(0, 5));
    expect(remediation[5]).toBe(
      `# 2995 more commands, to run after these, too many for keydrift to keep: ${listGrants} shows the live grants, ${baselineShow} the approved ones`,
    );
  });

  it('are said by the page even when the finding reaches the pager as its compact copy, without commands', () => {
    // Prepare: too large for one SNS message, the finding goes to the page topic compact.
    const message = String(pageCommand('arn:aws:sns:us-west-2:111122223333:page', found).input.Message);
    const compact = JSON.parse(message) as Finding;
    expect(Buffer.byteLength(message)).toBeLessThan(Buffer.byteLength(JSON.stringify(found)));

    // Act
    const [event] = formatPagerDutyEvents(compact, ROUTING_KEY);

    // Assess
    expect(event!.payload.custom_details.remediation).toEqual([
      `# 3000 commands left out of this page, too many for keydrift to keep: ${listGrants} shows the live grants, ${baselineShow} the approved ones`,
    ]);
  });

  it('are told apart from those keydrift keeps: a finding within a table item still points at keydrift findings', () => {
    // Prepare: 300 grants, more commands than any channel shows, the finding kept whole.
    const kept = grantsFound(300);
    expect(storedFinding(kept)).toEqual({ json: JSON.stringify(kept), replaced: [] });

    // Act, Assess
    expect(formatEmail(kept).body).toContain(`\n# 280 more commands not shown: ${findingsCommand} lists them all\n`);
    expect(formatChatbotNotification(kept).content.nextSteps[5]).toBe(
      `…and 295 more commands not shown: \`${findingsCommand}\` lists them all`,
    );
    expect(formatPagerDutyEvents(kept, ROUTING_KEY)[0]!.payload.custom_details.remediation).toContain(
      `# 295 more commands, to run after these: ${findingsCommand} lists them all`,
    );
  });

  it('name the resource by placeholders when it cannot be pasted', () => {
    const forged = { ...found, resource: `${KEY_ARN}\u001b]8;;https://evil.example\u0007` };

    expect(formatEmail(forged).body).toContain(
      `# 2980 more commands not shown, too many for keydrift to keep: aws kms list-grants --key-id RESOURCE_ARN --region REGION shows the live grants, keydrift baseline show RESOURCE_ARN --region REGION the approved ones\n`,
    );
  });
});

it('shrinks no finding within a table item', () => {
  // The stored form of an ordinary finding is its JSON, unchanged.
  const small = grantsFound(3);
  expect(storedFinding(small).json).toBe(JSON.stringify(small));
});

describe('a stored copy sent again by a retry', () => {
  const many = (n: number, entry: (i: number) => [string, unknown]) =>
    Object.fromEntries(Array.from({ length: n }, (_, i) => entry(i)));
  // Too many changes, each too small to replace: the whole map is left out. One change too large, all of it small
  // details: that change is left out whole. The commands go first, in both.
  it.each([
    ['its changes all left out', many(12_000, (i) => [`tag_${i}`, { before: 'a', after: 'b' }]), '/changes', []],
    [
      'one change left out whole',
      { tags: { before: 'a', after: 'b', ...many(30_000, (i) => [`d${i}`, 'x']) } },
      '/changes/tags',
      ['tags'],
    ],
  ])('alerts in every form with %s', (_, changes, pointer, attributes) => {
    // Prepare
    const stored = JSON.parse(storedFinding({ ...grantsFound(3), changes } as Finding).json);
    expect(stored.truncated).toEqual(['/remediation', pointer]);

    // Act
    const resent = alertableStoredFinding(stored);

    // Assess
    expect(Object.keys(resent.changes)).toEqual(attributes);
    expect(resent.remediation).toEqual([
      expect.stringMatching(/^# its commands were too many to keep with the finding: /),
    ]);
    expect(formatEmail(resent).body).toContain(`${resent.remediation[0]}\n`);
    expect(formatChatbotNotification(resent).content.nextSteps).toHaveLength(1);
    expect(formatPagerDutyEvents(resent, ROUTING_KEY).length).toBeGreaterThan(0);
    expect(() => opsCommand('arn:aws:sns:us-west-2:111122223333:ops', resent)).not.toThrow();
  });

  it('names the reads of the live and approved grants where its commands were', () => {
    const stored = JSON.parse(storedFinding(grantsFound(3000)).json);

    const resent = alertableStoredFinding(stored);

    expect(resent.remediation).toEqual([
      `# its commands were too many to keep with the finding: ${listGrants} shows the live grants, ${baselineShow} the approved ones`,
    ]);
    expect(formatEmail(resent).body).toContain(resent.remediation[0]);
  });
});
