import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { KMSDisabledException, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { PublishError } from '../../lambda/adapters/errors';
import { createPublisher, opsCommand, pageCommand } from '../../lambda/adapters/publisher';
import { formatEmail } from '../../lambda/alerts/email';
import { formatPagerDutyEvents } from '../../lambda/alerts/pagerduty';
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
const OPS_KEY = 'arn:aws:kms:us-west-2:111122223333:key/keydrift-ops-key';
const publisher = createPublisher({
  sns: new SNSClient({ region: 'us-west-2' }),
  eventBridge: new EventBridgeClient({ region: 'us-west-2' }),
  topics,
  eventBusName: 'default',
  selfKeyArns: [SELF],
  alertMinSeverity: 'error',
});
/** SNS's limit on a message: body, subject and attributes. */
const SNS_MAX_BYTES = 256 * 1024;
const disabled = () => new KMSDisabledException({ message: 'key disabled', $metadata: {} });
const opsInput = () => snsMock.commandCalls(PublishCommand, { TopicArn: topics.ops })[0].args[0].input;

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

  it('sends a finding an ignore rule matches nowhere, but a resolved one to the page topic, to close its incident', async () => {
    const back = {
      status: 'resolved' as const,
      severity: 'info' as const,
      changes: { key_state: { before: 'Disabled', after: 'Enabled', back_to_baseline: true } },
    };
    const unchanged = { ...back, changes: { key_state: { before: 'Enabled', after: 'Enabled', unchanged: true } } };

    expect(publisher.targetsFor(finding(), { ignored: true })).toEqual([]);
    expect(publisher.targetsFor(finding({ resource: SELF, ...back }), { ignored: true })).toEqual(['page']);
    expect(publisher.targetsFor(finding(unchanged), { ignored: true })).toEqual([]);
    const report = await publisher.publish(finding(back), { ignored: true });

    expect(report.delivered).toEqual(['page']);
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 1);
    expect(eventsMock).not.toHaveReceivedCommand(PutEventsCommand);
  });

  it('sends an ignored finding that closes some incident to the page topic only, marked ignored, whatever its status', async () => {
    // A planned change approving the drifting state, a key's deletion (critical: it would trigger), a revoked grant.
    const approved = finding({
      status: 'planned',
      severity: 'info',
      changes: { key_state: { before: 'Disabled', after: 'Disabled', back_to_baseline: true } },
    });
    const deleted = finding({
      event: 'DeleteKey',
      changes: { key_state: { before: 'PendingDeletion', after: 'Deleted' } },
    });
    const revoked = finding({
      event: 'RevokeGrant',
      severity: 'warning',
      changes: { grants: { before: { g1: { grantee: 'x' } }, after: { g1: null }, back_to_baseline: true } },
    });
    const plannedStillDrifting = finding({ status: 'planned', severity: 'info' });

    expect([approved, deleted, revoked].map((f) => publisher.targetsFor(f, { ignored: true }))).toEqual([
      ['page'],
      ['page'],
      ['page'],
    ]);
    expect(publisher.targetsFor(plannedStillDrifting, { ignored: true })).toEqual([]);
    const report = await publisher.publish(deleted, { ignored: true });

    expect(report.delivered).toEqual(['page']);
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 1);
    expect(eventsMock).not.toHaveReceivedCommand(PutEventsCommand);
    const page = snsMock.commandCalls(PublishCommand, { TopicArn: topics.page })[0].args[0].input;
    expect(JSON.parse(String(page.Message))).toEqual({ ...deleted, ignored: true });
  });

  it('marks an ignored page message that does not fit as ignored in its compact form too', () => {
    const huge = finding({
      status: 'resolved',
      changes: { policy: { before: { Statement: 'x'.repeat(200_000) }, after: {}, back_to_baseline: true } },
    });

    const compact = JSON.parse(String(pageCommand(topics.page, huge, { ignored: true }).input.Message));

    expect(compact).toMatchObject({ eventId: huge.eventId, ignored: true });
    expect(JSON.parse(String(pageCommand(topics.page, huge).input.Message))).not.toHaveProperty('ignored');
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
    snsMock.on(PublishCommand).rejects(disabled()).on(PublishCommand, { TopicArn: topics.ops }).resolves({});

    const report = await publisher.publish(finding({ resource: SELF }));

    expect(report.delivered.sort()).toEqual(['eventbridge', 'ops']);
    expect(report.tolerated.map((t) => t.target).sort()).toEqual(['chat', 'email', 'page']);
  });

  it("marks the ops copy of a critical finding for the pager's filter policy and adds the pager's form", async () => {
    await publisher.publish(finding({ resource: SELF }));

    const ops = opsInput();
    expect(ops.MessageAttributes).toEqual({
      severity: { DataType: 'String', StringValue: 'critical' },
      status: { DataType: 'String', StringValue: 'drift' },
      event: { DataType: 'String', StringValue: 'DisableKey' },
    });
    const message = JSON.parse(String(ops.Message));
    const page = snsMock.commandCalls(PublishCommand, { TopicArn: topics.page })[0].args[0].input;
    expect(message.lambda).toBe(page.Message);
    expect(JSON.parse(message.lambda)).toEqual(finding({ resource: SELF }));
  });

  it('gives a non-critical ops copy the pager form too: the pager, subscribed unfiltered, reads it as a finding', async () => {
    const rotationOff = finding({ resource: SELF, severity: 'error', event: 'DisableKeyRotation' });
    await publisher.publish(rotationOff);

    const ops = opsInput();
    expect(ops.MessageAttributes?.severity).toEqual({ DataType: 'String', StringValue: 'error' });
    expect(Object.keys(JSON.parse(String(ops.Message))).sort()).toEqual(['default', 'email', 'https', 'lambda']);
    expect(JSON.parse(JSON.parse(String(ops.Message)).lambda)).toEqual(rotationOff);
  });

  it('sends a critical finding from the event alone to ops marked for the pager (the way out when the main key is unusable)', async () => {
    await publisher.publishToOps(finding({ resource: SELF }));

    const ops = opsInput();
    expect(ops.MessageAttributes?.severity?.StringValue).toBe('critical');
    expect(JSON.parse(JSON.parse(String(ops.Message)).lambda)).toEqual(finding({ resource: SELF }));
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 1);
  });

  it("sends findings on the ops topic's own key to chat, email and page (keydrift's main key), never to ops", async () => {
    const report = await publisher.publish(finding({ resource: OPS_KEY }));

    expect(report.delivered.sort()).toEqual(['chat', 'email', 'eventbridge', 'page']);
    expect(snsMock).not.toHaveReceivedCommandWith(PublishCommand, { TopicArn: topics.ops });
  });

  it('does not fail when only the ops topic refuses because the ops key is disabled, once the other topics got it', async () => {
    snsMock.on(PublishCommand, { TopicArn: topics.ops }).rejects(disabled());

    const report = await publisher.publish(finding({ resource: SELF }));

    expect(report.delivered.sort()).toEqual(['chat', 'email', 'eventbridge', 'page']);
    expect(report.tolerated).toEqual([{ target: 'ops', error: 'KMSDisabledException: key disabled' }]);
  });

  it('fails when both keys are unusable: no topic carried the finding', async () => {
    snsMock.on(PublishCommand).rejects(disabled());

    const error = await publisher.publish(finding({ resource: SELF })).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PublishError);
    expect((error as PublishError).failures.map((f) => f.target).sort()).toEqual(['chat', 'email', 'ops', 'page']);
  });

  it('fails when the ops topic refuses for any other reason, or its key is unusable and nothing else got it', async () => {
    snsMock.on(PublishCommand, { TopicArn: topics.ops }).rejects(new Error('socket hang up'));
    const error = await publisher.publish(finding({ resource: SELF })).catch((e: unknown) => e);
    expect((error as PublishError).failures.map((f) => f.target)).toEqual(['ops']);

    snsMock.reset();
    snsMock.on(PublishCommand).rejects(disabled());
    await expect(publisher.publishToOps(finding({ resource: SELF }))).rejects.toBeInstanceOf(KMSDisabledException);
  });

  it('keeps the ops message within SNS limits for a huge critical finding, with a pager form of the same incidents', () => {
    const huge = finding({
      resource: SELF,
      changes: {
        policy: { before: { Statement: 'x'.repeat(200_000) }, after: { Statement: 'y'.repeat(200_000) } },
        key_state: { before: 'Enabled', after: 'Disabled' },
      },
    });

    const input = opsCommand(topics.ops, huge).input;

    const bytes = Buffer.byteLength(String(input.Message)) + Buffer.byteLength(String(input.Subject));
    expect(bytes).toBeLessThan(SNS_MAX_BYTES - 1024);
    const pagerCopy = JSON.parse(JSON.parse(String(input.Message)).lambda);
    const dedupKeys = (f: Finding) => formatPagerDutyEvents(f, 'rk').map((e) => [e.dedup_key, e.event_action]);
    expect(dedupKeys(pagerCopy)).toEqual(dedupKeys(huge));
    expect(dedupKeys(JSON.parse(String(pageCommand(topics.page, huge).input.Message)))).toEqual(dedupKeys(huge));
  });

  it('fails when a topic refuses for any other reason, naming it', async () => {
    snsMock.on(PublishCommand, { TopicArn: topics.chat }).rejects(new Error('socket hang up'));

    const error = await publisher.publish(finding()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PublishError);
    expect((error as PublishError).failures.map((f) => f.target)).toEqual(['chat']);
  });
});
