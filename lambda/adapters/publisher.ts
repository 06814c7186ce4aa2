/**
 * Delivers a finding: to the SNS topic of each audience it reaches (email text, Chatbot JSON, the finding itself for
 * the pager), to the ops topic when it is about keydrift's main key (and to chat and email when it is about the ops
 * key), and always to EventBridge as a custom event.
 */

import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { type MessageAttributeValue, PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { formatChatbotNotification } from '../alerts/chatbot';
import { formatEmail } from '../alerts/email';
import { toEventBridgeEntry, truncatedValue } from '../alerts/event-entry';
import { commandsElsewhere } from '../alerts/kept-commands';
import { resolvesSomeIncident } from '../alerts/pagerduty';
import { audiencesFor, severityAtLeast } from '../alerts/routing';
import { utf8Bytes } from '../alerts/sanitize';
import { beforeUnknown } from '../alerts/values';
import type { Finding, Severity } from '../core/types';
import type { DetectorEnvironment } from '../shared/environment';
import { awsErrorName, PublishError } from './errors';

export interface Topics {
  chat: string;
  email: string;
  page: string;
  /** Encrypted with the ops key, not keydrift's main key: alerts about that key still get through when it is disabled. */
  ops: string;
}

export interface PublisherOptions {
  sns: SNSClient;
  eventBridge: EventBridgeClient;
  topics: Topics;
  eventBusName: string;
  /** Keys whose findings also go to the ops topic: keydrift's main key (its table and chat/email/page topics use it). */
  selfKeyArns: readonly string[];
  alertMinSeverity: Severity;
}

export type Target = 'chat' | 'email' | 'page' | 'ops' | 'eventbridge';

/**
 * Kept among the targets reached when the ops topic had a warning about an event on keydrift's own key judged from the
 * event alone (the detector's fallback), not the finding: `publish` then leaves ops out, unless no topic under the
 * main key can take the finding.
 */
export const OPS_WARNING = 'ops-warning';

/**
 * Kept among the targets reached when the ops topic refused that warning too (both of keydrift's keys disabled) and
 * the last-resort topic, under the AWS managed key, had it instead: a retry does not send it there again.
 */
export const LAST_RESORT_WARNING = 'last-resort-warning';

export interface PublishReport {
  delivered: Target[];
  /**
   * Deliveries that failed only because their topic's key is unusable, while a topic encrypted with keydrift's other
   * key got the finding (ops when the main key is disabled; chat, email or page when the ops key is).
   */
  tolerated: Array<{ target: Target; error: string }>;
}

export interface PublishOptions {
  /** What an earlier attempt at the same event delivered: not sent again. */
  skip?: readonly string[];
  /**
   * An ignore rule matched the finding: it goes nowhere, but one that closes an incident (a revert, drift a planned
   * change approves, a key's deletion) still goes to the page topic, marked so that the pager only resolves for it.
   */
  ignored?: boolean;
}

export interface Publisher {
  /** Where a finding goes, without sending it. */
  targetsFor(finding: Finding, options?: Pick<PublishOptions, 'ignored'>): Target[];
  /**
   * Sends to every target in parallel, but those in `skip` (what an earlier attempt at the same event delivered). With
   * {@link OPS_WARNING} in `skip`, ops gets the finding only when the main key's topics refuse it for their key.
   *
   * @throws PublishError naming each failed target, and the targets it did deliver to (a partial EventBridge failure
   * counts as a failure)
   */
  publish(finding: Finding, options?: PublishOptions): Promise<PublishReport>;
  /**
   * Sends to the ops topic only: the way out when keydrift cannot work normally because its own key is unusable. A
   * critical finding pages from there too (the pager's subscription takes the ops topic's critical findings). Only a
   * finding that {@link publish} would send there goes (at least `alertMinSeverity`): false for one that does not.
   */
  publishToOps(finding: Finding): Promise<boolean>;
}

/** Which of keydrift's keys encrypts a target's topic; EventBridge uses neither. */
const TARGET_KEY: Record<Target, 'main' | 'ops' | undefined> = {
  chat: 'main',
  email: 'main',
  page: 'main',
  ops: 'ops',
  eventbridge: undefined,
};

/** SNS's limit on a message: body, subject and message attributes together (256 KiB). */
const MAX_SNS_MESSAGE_BYTES = 256 * 1024;

// SNS's errors when a topic's KMS key is disabled, pending deletion, missing or refused; throttling is not among
// them: it passes.
const TOPIC_KEY_UNUSABLE = new Set([
  'KMSDisabledException',
  'KMSInvalidStateException',
  'KMSNotFoundException',
  'KMSAccessDeniedException',
  'KMSOptInRequired',
]);

/**
 * Creates the publisher.
 *
 * @example
 * const publisher = createPublisher({ sns, eventBridge, topics, eventBusName: 'default', selfKeyArns: [keyArn],
 *   alertMinSeverity: 'error' });
 * await publisher.publish(finding);
 */
export function createPublisher(options: PublisherOptions): Publisher {
  const { sns, eventBridge, topics } = options;
  const isSelf = (finding: Finding) => options.selfKeyArns.includes(finding.resource);
  // A finding on one of keydrift's own keys goes to ops as it goes to chat and e-mail: at alertMinSeverity or above.
  const reachesOps = (finding: Finding) => severityAtLeast(finding.severity, options.alertMinSeverity);

  // A finding on the ops key itself goes to the audiences' topics, which the main key encrypts, and never to ops.
  function targetsFor(finding: Finding, { ignored = false }: Pick<PublishOptions, 'ignored'> = {}): Target[] {
    if (ignored) return resolvesSomeIncident(finding) ? ['page'] : [];
    const targets: Target[] = [...audiencesFor(finding, options.alertMinSeverity)];
    if (isSelf(finding) && reachesOps(finding)) targets.push('ops');
    targets.push('eventbridge');
    return targets;
  }

  function send(target: Target, finding: Finding, ignored = false): Promise<unknown> {
    const attributes = messageAttributes(finding);
    switch (target) {
      case 'email': {
        const email = formatEmail(finding);
        return sns.send(
          new PublishCommand({
            TopicArn: topics.email,
            Subject: email.subject,
            Message: email.body,
            MessageAttributes: attributes,
          }),
        );
      }
      case 'chat':
        return sns.send(
          new PublishCommand({
            TopicArn: topics.chat,
            Message: JSON.stringify(formatChatbotNotification(finding)),
            MessageAttributes: attributes,
          }),
        );
      case 'page':
        return sns.send(pageCommand(topics.page, finding, { ignored }));
      case 'ops':
        return sns.send(opsCommand(topics.ops, finding));
      case 'eventbridge':
        return putEvent(finding);
    }
  }

  async function putEvent(finding: Finding): Promise<void> {
    const output = await eventBridge.send(
      new PutEventsCommand({ Entries: [toEventBridgeEntry(finding, options.eventBusName)] }),
    );
    if ((output.FailedEntryCount ?? 0) > 0) {
      const entry = output.Entries?.find((e) => e.ErrorCode) ?? {};
      throw Object.assign(new Error(`PutEvents rejected the entry: ${entry.ErrorCode}: ${entry.ErrorMessage ?? ''}`), {
        name: 'PutEventsFailedEntry',
        errorCode: entry.ErrorCode,
      });
    }
  }

  async function publish(finding: Finding, { skip = [], ignored }: PublishOptions = {}): Promise<PublishReport> {
    const warned = skip.includes(OPS_WARNING);
    const held = (target: Target) => skip.includes(target) || (warned && target === 'ops');
    const routed = targetsFor(finding, { ignored });
    const targets = routed.filter((target) => !held(target));
    const results = await Promise.allSettled(targets.map((target) => send(target, finding, ignored)));
    const report: PublishReport = { delivered: [], tolerated: [] };
    const failures: Array<{ target: Target; error: unknown }> = [];
    results.forEach((result, index) => {
      if (result.status === 'fulfilled') report.delivered.push(targets[index]);
      else failures.push({ target: targets[index], error: result.reason });
    });
    if (failures.length === 0) return report;
    // The ops topic had only a warning judged from the event alone: when the main key's topics cannot take the
    // finding, ops is where it still gets through.
    const keyRefused = (f: { target: Target; error: unknown }) =>
      TARGET_KEY[f.target] === 'main' && TOPIC_KEY_UNUSABLE.has(awsErrorName(f.error) ?? '');
    if (warned && !skip.includes('ops') && routed.includes('ops') && failures.some(keyRefused)) {
      try {
        await send('ops', finding);
        report.delivered.push('ops');
      } catch (error) {
        failures.push({ target: 'ops', error });
      }
    }
    // When one of keydrift's keys is disabled, the topics it encrypts cannot take messages until someone re-enables
    // it; retrying would only repeat the alert that a topic under the other key carried.
    const deliveredUnder = new Set([...report.delivered, ...skip].map((target) => TARGET_KEY[target as Target]));
    const otherKeyDelivered = (target: Target) => {
      const key = TARGET_KEY[target];
      return key !== undefined && deliveredUnder.has(key === 'main' ? 'ops' : 'main');
    };
    const fatal = failures.filter(
      (f) => !(otherKeyDelivered(f.target) && TOPIC_KEY_UNUSABLE.has(awsErrorName(f.error) ?? '')),
    );
    for (const f of failures.filter((x) => !fatal.includes(x))) {
      report.tolerated.push({ target: f.target, error: `${awsErrorName(f.error)}: ${(f.error as Error).message}` });
    }
    if (fatal.length === 0) return report;
    const summary = fatal.map(
      (f) => `${f.target}: ${awsErrorName(f.error) ?? 'Error'}: ${(f.error as Error)?.message}`,
    );
    throw new PublishError(
      `could not deliver finding ${finding.eventId} to ${summary.join('; ')}`,
      fatal,
      report.delivered,
      { cause: fatal[0].error },
    );
  }

  async function publishToOps(finding: Finding): Promise<boolean> {
    if (!reachesOps(finding)) return false;
    await send('ops', finding);
    return true;
  }

  return { targetsFor, publish, publishToOps };
}

/** String attributes for SNS subscription filter policies (sent in clear text: no secrets in them). */
function messageAttributes(finding: Finding): Record<string, MessageAttributeValue> {
  return {
    severity: { DataType: 'String', StringValue: finding.severity },
    status: { DataType: 'String', StringValue: finding.status },
    event: { DataType: 'String', StringValue: finding.event },
  };
}

/**
 * A smaller copy of the finding for the pager, when the whole one does not fit in an SNS message (beside the e-mail
 * and Chatbot forms on the ops topic): each changed value becomes its size and SHA-256 (as in the EventBridge copy),
 * and the commands, reasons and user agent are left to the other forms. It is still a finding the pager reads, and
 * its dedup keys, and so the incidents, are the same.
 */
function compactPageMessage(finding: PageMessage): string {
  const changes = Object.fromEntries(
    Object.entries(finding.changes).map(([attribute, change]) => [
      attribute,
      {
        // Unknown stays null, as small: a new resource is still one incident (`created`), not one per attribute.
        before: beforeUnknown(change) ? null : truncatedValue(change.before),
        after: truncatedValue(change.after),
        ...(change.back_to_baseline ? { back_to_baseline: true } : {}),
        // Drift a later change undid opens no incident (alerts/pagerduty.ts): nothing would close it.
        ...(change.since_undone ? { since_undone: true } : {}),
      },
    ]),
  );
  const { userAgent: _userAgent, reasons: _reasons, ...rest } = finding;
  // One line in their place, so the page says there are commands and where they are (or, too many to keep, what
  // shows the state they would restore).
  const count = finding.remediation.length;
  const remediation =
    count > 0 ? [`# ${count} commands left out of this page${commandsElsewhere(finding).rest()}`] : [];
  return JSON.stringify({ ...rest, changes, remediation });
}

/** Whether text (message and subject) and message attributes fit in one SNS message, as SNS counts them. */
function fitsSns(text: string, attributes: Record<string, MessageAttributeValue>): boolean {
  const attributeBytes = Object.entries(attributes).reduce(
    (sum, [name, value]) =>
      sum + utf8Bytes(name) + utf8Bytes(value.DataType ?? '') + utf8Bytes(value.StringValue ?? ''),
    0,
  );
  return utf8Bytes(text) + attributeBytes <= MAX_SNS_MESSAGE_BYTES;
}

/**
 * Publishes a finding to the ops topic (or, in the same forms, to the last-resort topic, subscribed alike). E-mail and
 * Chatbot subscribe to it, and with PagerDuty the pager does too, for critical findings only: each protocol gets the
 * form it can read (`lambda` is the pager's, the finding as the page topic carries it), and the message attributes
 * let the pager's filter policy pick the critical ones (alarm messages have none, so they never reach it).
 */
export function opsCommand(topicArn: string, finding: Finding): PublishCommand {
  const email = formatEmail(finding);
  const chat = JSON.stringify(formatChatbotNotification(finding));
  const attributes = messageAttributes(finding);
  const forms: Record<string, string> = { default: chat, email: email.body, https: chat };
  const fits = (message: string) => fitsSns(message + email.subject, attributes);
  // The pager hears the ops topic unfiltered, and reads its `lambda` form: the finding, whatever its severity (it
  // triggers on critical ones only, and resolves what is back).
  const whole = JSON.stringify({ ...forms, lambda: JSON.stringify(finding) });
  const compact = JSON.stringify({ ...forms, lambda: compactPageMessage(finding) });
  // Should even the compact copy not fit, the pager gets the default form, drops it and counts it (an alarm).
  const message = fits(whole) ? whole : fits(compact) ? compact : JSON.stringify(forms);
  return new PublishCommand({
    TopicArn: topicArn,
    Subject: email.subject,
    MessageStructure: 'json',
    Message: message,
    MessageAttributes: attributes,
  });
}

/**
 * What the page topic carries: the finding, marked `ignored` when an ignore rule matched it, so that the pager sends
 * only its resolves (in the message itself, which every way back to the pager keeps, its dead-letter redrive too).
 */
export type PageMessage = Finding & { ignored?: true };

/** Publishes a finding to the page topic, as the pager reads it: whole, or compact when it would not fit. */
export function pageCommand(
  topicArn: string,
  finding: Finding,
  { ignored = false }: Pick<PublishOptions, 'ignored'> = {},
): PublishCommand {
  const attributes = messageAttributes(finding);
  const page: PageMessage = ignored ? { ...finding, ignored: true } : finding;
  const whole = JSON.stringify(page);
  return new PublishCommand({
    TopicArn: topicArn,
    Message: fitsSns(whole, attributes) ? whole : compactPageMessage(page),
    MessageAttributes: attributes,
  });
}

/** The publisher every finding-making function uses: its topics, bus, own keys and alert threshold from settings. */
export function createFindingPublisher(
  clients: { sns: SNSClient; eventBridge: EventBridgeClient },
  settings: Pick<DetectorEnvironment, 'topics' | 'eventBusName' | 'selfKeyArn' | 'alertMinSeverity'>,
): Publisher {
  return createPublisher({
    ...clients,
    topics: settings.topics,
    eventBusName: settings.eventBusName,
    selfKeyArns: [settings.selfKeyArn],
    alertMinSeverity: settings.alertMinSeverity,
  });
}
