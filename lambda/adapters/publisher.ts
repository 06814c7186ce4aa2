/**
 * Delivers a finding: to the SNS topic of each audience it reaches (email text, Chatbot JSON, the finding itself for
 * the pager), to the ops topic when it is about keydrift's own key, and always to EventBridge as a custom event.
 */

import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { type MessageAttributeValue, PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { formatChatbotNotification } from '../alerts/chatbot';
import { formatEmail } from '../alerts/email';
import { toEventBridgeEntry } from '../alerts/event-entry';
import { audiencesFor, severityAtLeast } from '../alerts/routing';
import type { Finding, Severity } from '../core/types';
import type { DetectorEnvironment } from '../shared/environment';
import { awsErrorName, PublishError } from './errors';

export interface Topics {
  chat: string;
  email: string;
  page: string;
  /** Not encrypted with keydrift's key: alerts about that key still get through when it is disabled. */
  ops: string;
}

export interface PublisherOptions {
  sns: SNSClient;
  eventBridge: EventBridgeClient;
  topics: Topics;
  eventBusName: string;
  /** Keys whose findings also go to the ops topic: keydrift's own key (its table, queue and topics use it). */
  selfKeyArns: readonly string[];
  alertMinSeverity: Severity;
}

export type Target = 'chat' | 'email' | 'page' | 'ops' | 'eventbridge';

export interface PublishReport {
  delivered: Target[];
  /** Deliveries that failed only because keydrift's own key is unusable, while the ops topic got the finding. */
  tolerated: Array<{ target: Target; error: string }>;
}

export interface Publisher {
  /** Where a finding goes, without sending it. */
  targetsFor(finding: Finding): Target[];
  /**
   * Sends to every target in parallel.
   *
   * @throws PublishError naming each failed target (a partial EventBridge failure counts as a failure)
   */
  publish(finding: Finding): Promise<PublishReport>;
  /** Sends to the ops topic only: the way out when keydrift cannot work normally because its own key is unusable. */
  publishToOps(finding: Finding): Promise<void>;
}

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

  function targetsFor(finding: Finding): Target[] {
    const targets: Target[] = [...audiencesFor(finding, options.alertMinSeverity)];
    if (isSelf(finding) && severityAtLeast(finding.severity, options.alertMinSeverity)) targets.push('ops');
    targets.push('eventbridge');
    return targets;
  }

  function send(target: Target, finding: Finding): Promise<unknown> {
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
        return sns.send(pageCommand(topics.page, finding));
      case 'ops': {
        // Email and Chatbot both subscribe to the ops topic: each protocol gets the form it can read.
        const email = formatEmail(finding);
        const chat = JSON.stringify(formatChatbotNotification(finding));
        return sns.send(
          new PublishCommand({
            TopicArn: topics.ops,
            Subject: email.subject,
            MessageStructure: 'json',
            Message: JSON.stringify({ default: chat, email: email.body, https: chat }),
          }),
        );
      }
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

  async function publish(finding: Finding): Promise<PublishReport> {
    const targets = targetsFor(finding);
    const results = await Promise.allSettled(targets.map((target) => send(target, finding)));
    const report: PublishReport = { delivered: [], tolerated: [] };
    const failures: Array<{ target: Target; error: unknown }> = [];
    results.forEach((result, index) => {
      if (result.status === 'fulfilled') report.delivered.push(targets[index]);
      else failures.push({ target: targets[index], error: result.reason });
    });
    if (failures.length === 0) return report;
    // When keydrift's own key is disabled, its encrypted topics cannot take messages until someone re-enables it;
    // retrying would only repeat the ops alert. The ops topic (not encrypted with that key) carried the news.
    const opsDelivered = report.delivered.includes('ops');
    const fatal = failures.filter(
      (f) => !(opsDelivered && f.target !== 'eventbridge' && TOPIC_KEY_UNUSABLE.has(awsErrorName(f.error) ?? '')),
    );
    for (const f of failures.filter((x) => !fatal.includes(x))) {
      report.tolerated.push({ target: f.target, error: `${awsErrorName(f.error)}: ${(f.error as Error).message}` });
    }
    if (fatal.length === 0) return report;
    const summary = fatal.map(
      (f) => `${f.target}: ${awsErrorName(f.error) ?? 'Error'}: ${(f.error as Error)?.message}`,
    );
    throw new PublishError(`could not deliver finding ${finding.eventId} to ${summary.join('; ')}`, fatal, {
      cause: fatal[0].error,
    });
  }

  async function publishToOps(finding: Finding): Promise<void> {
    await send('ops', finding);
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

/** The finding as JSON for the pager, shrunk like the EventBridge copy in the rare case it nears SNS's 256 KiB. */
function pageMessage(finding: Finding): string {
  return toEventBridgeEntry(finding, 'default').Detail;
}

/** Publishes a finding to the page topic, as the pager reads it. */
export function pageCommand(topicArn: string, finding: Finding): PublishCommand {
  return new PublishCommand({
    TopicArn: topicArn,
    Message: pageMessage(finding),
    MessageAttributes: messageAttributes(finding),
  });
}

/** The publisher every finding-making function uses: its topics, bus, own key and alert threshold from settings. */
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
