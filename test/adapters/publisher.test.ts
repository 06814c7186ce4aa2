import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { KMSDisabledException, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { PublishError } from '../../lambda/adapters/errors';
import { createPublisher } from '../../lambda/adapters/publisher';
import { formatEmail } from '../../lambda/alerts/email';
import type { Finding } from '../../lambda/core/types';

const snsMock = mockClient(SNSClient);
const eventsMock = mockClient(EventBridgeClient);
const topics = {
  chat: 'arn:aws:sns:us-west-2:111122223333:chat',
  email: 'arn:aws:sns:us-west-2:111122223333:email',
  page: 'arn:aws:sns:us-west-2:111122223333:page',
  ops: 'arn:aws:sns:us-west-2:111122223333:ops',
};
const KEY = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const SELF = 'arn:aws:kms:us-west-2:111122223333:key/keydrift-own-key';
const publisher = createPublisher({
  sns: new SNSClient({ region: 'us-west-2' }),
  eventBridge: new EventBridgeClient({ region: 'us-west-2' }),
  topics,
  eventBusName: 'default',
  selfKeyArns: [SELF],
  alertMinSeverity: 'error',
});

const finding = (overrides: Partial<Finding> = {}): Finding => ({
  service: 'kms',
  event: 'DisableKey',
  eventId: 'abcde202-ba1a-467c-b4ba-f729d45ae521',
  timestamp: '2014-11-04T00:52:43Z',
  account: '111122223333',
  region: 'us-west-2',
  resource: KEY,
  user: 'arn:aws:iam::111122223333:user/Alice',
  severity: 'critical',
  status: 'drift',
  changes: { key_state: { before: 'Enabled', after: 'Disabled' } },
  summary: 'Key 1234abcd-12ab-34cd-56ef-1234567890ab disabled by Alice',
  remediation: [`aws kms enable-key --key-id ${KEY} --region us-west-2`],
  ...overrides,
});

beforeEach(() => {
  snsMock.reset();
  eventsMock.reset();
  snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
  eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
});

describe('createPublisher', () => {
  it('sends a critical finding to email, chat, page and EventBridge, each in its own form', async () => {
    const report = await publisher.publish(finding());

    expect(report.delivered.sort()).toEqual(['chat', 'email', 'eventbridge', 'page']);
    expect(snsMock).toHaveReceivedCommandWith(PublishCommand, {
      TopicArn: topics.email,
      Subject: formatEmail(finding()).subject,
      Message: formatEmail(finding()).body,
      MessageAttributes: expect.objectContaining({ severity: { DataType: 'String', StringValue: 'critical' } }),
    });
    const page = snsMock.commandCalls(PublishCommand, { TopicArn: topics.page })[0].args[0].input;
    expect(JSON.parse(String(page.Message))).toEqual(finding());
    expect(eventsMock).toHaveReceivedCommandWith(PutEventsCommand, {
      Entries: [expect.objectContaining({ Source: 'keydrift', EventBusName: 'default', Resources: [KEY] })],
    });
  });

  it('sends a warning below the threshold to EventBridge only', async () => {
    const report = await publisher.publish(finding({ severity: 'warning', event: 'TagResource' }));

    expect(report.delivered).toEqual(['eventbridge']);
    expect(snsMock).not.toHaveReceivedCommand(PublishCommand);
  });

  it('counts a partially failed PutEvents as a failure', async () => {
    eventsMock
      .on(PutEventsCommand)
      .resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }] });

    const error = await publisher.publish(finding()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PublishError);
    expect((error as PublishError).failures.map((f) => f.target)).toEqual(['eventbridge']);
    expect((error as Error).message).toContain('InternalFailure');
  });

  it("sends findings on keydrift's own key to the ops topic, as email text and Chatbot JSON", async () => {
    await publisher.publish(finding({ resource: SELF }));

    const ops = snsMock.commandCalls(PublishCommand, { TopicArn: topics.ops })[0].args[0].input;
    expect(ops.MessageStructure).toBe('json');
    const message = JSON.parse(String(ops.Message));
    expect(message.email).toBe(formatEmail(finding({ resource: SELF })).body);
    expect(JSON.parse(message.https)).toMatchObject({ version: '1.0', source: 'custom' });
    expect(message.default).toBe(message.https);
  });

  it("does not fail when only the topics encrypted with keydrift's disabled key refuse, once ops got it", async () => {
    const disabled = new KMSDisabledException({ message: 'key disabled', $metadata: {} });
    snsMock.on(PublishCommand).rejects(disabled).on(PublishCommand, { TopicArn: topics.ops }).resolves({});

    const report = await publisher.publish(finding({ resource: SELF }));

    expect(report.delivered.sort()).toEqual(['eventbridge', 'ops']);
    expect(report.tolerated.map((t) => t.target).sort()).toEqual(['chat', 'email', 'page']);
  });

  it('fails when a topic refuses for any other reason, naming it', async () => {
    snsMock.on(PublishCommand, { TopicArn: topics.chat }).rejects(new Error('socket hang up'));

    const error = await publisher.publish(finding()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PublishError);
    expect((error as PublishError).failures.map((f) => f.target)).toEqual(['chat']);
  });
});
