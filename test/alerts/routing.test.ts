import { audiencesFor, severityAtLeast } from '../../lambda/alerts/routing';
import type { Severity } from '../../lambda/core/types';
import {
  deniedPutKeyPolicy,
  enableKeyRotationResolved,
  hostileDescription,
  hostileTag,
  putKeyPolicyOpened,
  scheduleKeyDeletion,
  stopLogging,
} from './fixtures';

describe('audiencesFor', () => {
  it('sends a critical drift to chat, email and the pager', () => {
    expect(audiencesFor(putKeyPolicyOpened)).toEqual(['chat', 'email', 'page']);
    expect(audiencesFor(scheduleKeyDeletion)).toEqual(['chat', 'email', 'page']);
    expect(audiencesFor(stopLogging)).toEqual(['chat', 'email', 'page']);
  });

  it('sends an error to chat and email but never pages it', () => {
    expect(audiencesFor(hostileDescription)).toEqual(['chat', 'email']);
    expect(audiencesFor(hostileTag, 'info')).toEqual(['chat', 'email']);
  });

  it('keeps a warning out of the alert channels at the default threshold, error', () => {
    expect(audiencesFor(deniedPutKeyPolicy)).toEqual([]);
  });

  it('sends a warning to chat and email when the threshold is lowered to warning', () => {
    expect(audiencesFor(deniedPutKeyPolicy, 'warning')).toEqual(['chat', 'email']);
  });

  it('keeps an error out of chat and email when the threshold is critical, which still pages', () => {
    expect(audiencesFor(hostileDescription, 'critical')).toEqual([]);
    expect(audiencesFor(putKeyPolicyOpened, 'critical')).toEqual(['chat', 'email', 'page']);
  });

  it('sends a resolved change to chat, so the channel hears the drift was fixed, and to the pager, never to email', () => {
    expect(audiencesFor(enableKeyRotationResolved)).toEqual(['chat', 'page']);
    expect(audiencesFor(enableKeyRotationResolved, 'critical')).toEqual(['chat', 'page']);
    expect(audiencesFor(enableKeyRotationResolved, 'info')).toEqual(['chat', 'email', 'page']);
  });

  it('sends a call that changed nothing nowhere: it fixed nothing, so there is no all-clear to give or incident to close', () => {
    const noOp = {
      event: 'TagResource',
      severity: 'info' as const,
      status: 'resolved' as const,
      changes: { tags: { before: { team: 'a' }, after: { team: 'a' }, unchanged: true } },
    };
    expect(audiencesFor(noOp)).toEqual([]);
    expect(audiencesFor(noOp, 'info')).toEqual(['chat', 'email']);
  });

  it('sends a planned change to the pager only when it approves a drifting attribute whole, closing its incident', () => {
    const approved = { before: 'Enabled', after: 'Disabled', back_to_baseline: true };
    expect(
      audiencesFor({ event: 'DisableKey', severity: 'info', status: 'planned', changes: { key_state: approved } }),
    ).toEqual(['page']);
    const nothingToClose = { before: 'v1', after: 'v2' };
    expect(
      audiencesFor({
        event: 'UpdateKeyDescription',
        severity: 'info',
        status: 'planned',
        changes: { description: nothingToClose },
      }),
    ).toEqual([]);
  });
});

describe('severityAtLeast', () => {
  it.each<[Severity, Severity, boolean]>([
    ['critical', 'error', true],
    ['error', 'error', true],
    ['warning', 'error', false],
    ['info', 'warning', false],
    ['info', 'info', true],
    ['error', 'critical', false],
  ])('ranks %s against a minimum of %s as %s', (severity, minimum, expected) => {
    expect(severityAtLeast(severity, minimum)).toBe(expected);
  });
});
