/**
 * The README's "What an alert looks like" shows the e-mail and the Slack message of carol's DisableKeyRotation in
 * examples/cloudtrail, and the page of her ScheduleKeyDeletion: these are the messages keydrift renders for those
 * findings, line for line.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatChatbotNotification, formatEmail, formatPagerDutyEvents } from '../../lambda/alerts';
import { parseDetectionConfig } from '../../lambda/core/config';
import type { Finding } from '../../lambda/core/types';
import { EXAMPLES, REPO, replayInProcess } from '../helpers/keydrift';

const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
const samples = readme.slice(readme.indexOf('### What an alert looks like'));

let finding: Finding;
let scheduled: Finding;

beforeAll(async () => {
  const config = parseDetectionConfig(JSON.parse(fs.readFileSync(path.join(REPO, 'keydrift.config.json'), 'utf8')));
  const { findings } = await replayInProcess([EXAMPLES], { config });
  const rotationOff = findings.filter((f) => f.event === 'DisableKeyRotation');
  expect(rotationOff).toHaveLength(1);
  finding = rotationOff[0];
  const deletions = findings.filter((f) => f.event === 'ScheduleKeyDeletion');
  expect(deletions).toHaveLength(1);
  scheduled = deletions[0];
});

describe("The README's sample alerts", () => {
  it('show the e-mail keydrift sends, subject and body', () => {
    const shown = /E-mail \(subject, then body\):\n\n```\n([\s\S]*?)\n```/.exec(samples)?.[1];
    const { subject, body } = formatEmail(finding);
    expect(shown).toBe(`${subject}\n\n${body}`.trimEnd());
  });

  it('show the Slack notification keydrift sends: title, description lines and next steps', () => {
    const quoted = /Slack \(AWS Chatbot[^\n]*\n\n((?:> [^\n]*\n)+)/.exec(samples)?.[1];
    const shown = quoted
      ?.trimEnd()
      .split('\n')
      .map((line) => line.slice(2));
    const { content } = formatChatbotNotification(finding);
    expect(shown).toEqual([
      `**${content.title}**`,
      ...content.description.split('\n'),
      '*Next steps:*',
      ...(content.nextSteps ?? []).map((step) => `• ${step}`),
    ]);
  });

  it('show the PagerDuty event keydrift sends for a critical finding: one, its deletion date with its state', () => {
    const shown = /The page of carol's ScheduleKeyDeletion[\s\S]*?```json\n([\s\S]*?)\n```/.exec(samples)?.[1];
    const routingKey = '<the routing key from pagerDutySecretName>';
    expect([JSON.parse(shown ?? 'null')]).toEqual(formatPagerDutyEvents(scheduled, routingKey));
  });
});
