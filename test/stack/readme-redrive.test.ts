/**
 * The README's dead-letter redrive script, run as printed under `sh` (dash here; zsh's echo is alike) with a stand-in
 * `aws` that serves one batch of real dead-letter messages and records what the script invokes and deletes.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sample } from '../helpers/fixtures';
import { tempDir } from '../helpers/keydrift';

const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
const DETECTOR = 'Keydrift-DetectorFunction9C3A1F2B';
const PAGER = 'Keydrift-PagerFunction5E6F7A8B';

/** The README's shell block that drains the dead-letter queue. */
function redriveScript(): string {
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]);
  const script = blocks.find((block) => block.includes('aws sqs receive-message'));
  if (!script) throw new Error('the README has no redrive script');
  return script;
}

/**
 * An `aws` that answers the script's calls: the stack outputs (`PagerFunctionName` only when the file `pager` holds
 * it, as with PagerDuty), one batch of messages, then an empty queue.
 */
const FAKE_AWS = `#!/usr/bin/env bash
dir=$(dirname "$0")
case "$1 $2" in
  "cloudformation describe-stacks")
    case "$*" in
      *DeadLetterQueueUrl*) echo "https://sqs.eu-west-1.amazonaws.com/111122223333/dlq" ;;
      *DetectorFunctionName*) echo "${DETECTOR}" ;;
      *PagerFunctionName*) cat "$dir/pager" 2>/dev/null ;;
    esac ;;
  "sqs receive-message")
    if [ ! -e "$dir/served" ]; then touch "$dir/served"; cat "$dir/batch.json"; fi ;;
  "lambda invoke")
    while [ $# -gt 0 ]; do
      [ "$1" = --function-name ] && printf '%s ' "$2" >> "$dir/invoked"
      [ "$1" = --payload ] && printf '%s\\n' "$2" >> "$dir/invoked"
      shift
    done ;;
  "sqs delete-message")
    while [ $# -gt 0 ]; do [ "$1" = --receipt-handle ] && printf '%s\\n' "$2" >> "$dir/deleted"; shift; done ;;
  *) echo "unexpected aws call: $*" >&2; exit 1 ;;
esac
`;

/** PutKeyPolicy as EventBridge delivers it: its policy is a JSON string, full of escaped quotes. */
const putKeyPolicyEvent = {
  version: '0',
  id: '8d5b2f3c-1e4a-4f6b-9c7d-2a1b3c4d5e6f',
  'detail-type': 'AWS API Call via CloudTrail',
  source: 'aws.kms',
  account: '111122223333',
  time: sample('PutKeyPolicy__awskmsdg__1').eventTime,
  region: 'us-east-1',
  resources: [],
  detail: sample('PutKeyPolicy__awskmsdg__1'),
};

const failureRecord = (functionName: string) => ({
  version: '1.0',
  timestamp: '2026-12-05T10:00:00.000Z',
  requestContext: {
    requestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    functionArn: `arn:aws:lambda:eu-west-1:111122223333:function:${functionName}:$LATEST`,
    condition: 'RetriesExhausted',
    approximateInvokeCount: 3,
  },
  requestPayload: putKeyPolicyEvent,
  responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
});

/** A page-topic message SNS could not deliver to the pager, as its subscription's dead-letter queue keeps it. */
const undeliveredPage = {
  Type: 'Notification',
  MessageId: '5a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b',
  TopicArn: 'arn:aws:sns:eu-west-1:111122223333:Keydrift-PageTopic1A2B3C4D',
  Message: JSON.stringify({ event: 'ScheduleKeyDeletion', severity: 'critical', status: 'drift' }),
  Timestamp: '2026-12-05T10:00:00.000Z',
  MessageAttributes: { severity: { Type: 'String', Value: 'critical' } },
};

/** Runs the README's script on one batch of `bodies`; what it invoked (function and payload) and deleted. */
function redrive(bodies: unknown[], pager?: string) {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'aws'), FAKE_AWS, { mode: 0o755 });
  if (pager) fs.writeFileSync(path.join(dir, 'pager'), `${pager}\n`);
  const batch = { Messages: bodies.map((body, i) => ({ ReceiptHandle: `handle-${i}`, Body: JSON.stringify(body) })) };
  fs.writeFileSync(path.join(dir, 'batch.json'), JSON.stringify(batch, null, 4));
  const run = spawnSync('sh', ['-c', redriveScript()], {
    encoding: 'utf8',
    env: { PATH: `${dir}:${process.env.PATH}` },
    timeout: 30_000,
  });
  const linesOf = (name: string) =>
    fs.existsSync(path.join(dir, name)) ? fs.readFileSync(path.join(dir, name), 'utf8').trim().split('\n') : [];
  const invoked = linesOf('invoked').map((line) => {
    const space = line.indexOf(' ');
    return [line.slice(0, space), JSON.parse(line.slice(space + 1))];
  });
  return { run, invoked, deleted: linesOf('deleted') };
}

/** A failure record of the pager: the SNS event it was invoked with, after its retries. */
const pagerFailureRecord = {
  ...failureRecord(PAGER),
  requestPayload: { Records: [{ EventSource: 'aws:sns', Sns: undeliveredPage }] },
};

test("the redrive script sends the detector's dead letters back under sh, escaped policies intact, and keeps the reconciler's and, without PagerDuty, the pages", () => {
  const { run, invoked, deleted } = redrive([
    putKeyPolicyEvent,
    failureRecord(DETECTOR),
    failureRecord('Keydrift-ReconcilerFunctionA1B2C3D4'),
    undeliveredPage,
  ]);

  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  expect(invoked).toEqual([
    [DETECTOR, putKeyPolicyEvent],
    [DETECTOR, putKeyPolicyEvent],
  ]);
  expect(deleted).toEqual(['handle-0', 'handle-1']);
});

test('the redrive script gives the pager back its failure records and the pages SNS could not deliver to it, as SNS events', () => {
  const { run, invoked, deleted } = redrive(
    [undeliveredPage, pagerFailureRecord, failureRecord('Keydrift-ReconcilerFunctionA1B2C3D4'), putKeyPolicyEvent],
    PAGER,
  );

  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  expect(invoked).toEqual([
    [PAGER, { Records: [{ EventSource: 'aws:sns', Sns: undeliveredPage }] }],
    [PAGER, pagerFailureRecord.requestPayload],
    [DETECTOR, putKeyPolicyEvent],
  ]);
  expect(deleted).toEqual(['handle-0', 'handle-1', 'handle-3']);
});
