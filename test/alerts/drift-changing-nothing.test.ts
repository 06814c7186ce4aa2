/**
 * An on-demand rotation by a principal not planned to make it is drift, yet it changes none of the attributes keydrift
 * compares with the baseline, and a rotation cannot be undone: the alerts say the key is as approved and there is
 * nothing to revert, not that the key differs from its baseline and the change should be reverted. The finding comes
 * from the core over the public sample RotateKeyOnDemand__awskmsdg-current__1, made critical by an override as
 * README allows.
 */
import { formatChatbotNotification, formatEmail } from '../../lambda/alerts';
import { detect, rec } from '../core/harness';

const rotatedOnDemand = () =>
  detect([rec('RotateKeyOnDemand__awskmsdg-current__1')], { severityOverrides: { RotateKeyOnDemand: 'critical' } })
    .last;

describe('An on-demand rotation by a principal not planned to make it', () => {
  it('is drift that changed none of the key attributes, and comes with no command', () => {
    // Act
    const finding = rotatedOnDemand();

    // Assess
    expect(finding).toMatchObject({ event: 'RotateKeyOnDemand', status: 'drift', severity: 'critical', changes: {} });
    expect(finding.remediation).toEqual([]);
  });

  it('is told in the e-mail as leaving the key as approved, with nothing to revert', () => {
    // Act
    const { body } = formatEmail(rotatedOnDemand());

    // Assess
    expect(body).toContain(
      'Status:    drift (made by a principal not planned to make it; it left the approved attributes of the key as they were)',
    );
    expect(body).toContain(
      "REMEDIATION\nNothing to revert: the key's approved attributes are as they were. Find out why this principal made the change.",
    );
    expect(body).not.toContain('differs from its approved baseline');
    expect(body).not.toContain('revert by hand');
  });

  it('is told in the chat message as nothing to revert, not as a change to revert or accept', () => {
    // Act
    const { nextSteps } = formatChatbotNotification(rotatedOnDemand()).content;

    // Assess
    expect(nextSteps).toEqual([
      "Nothing to revert: the key's approved attributes are as they were. Find out why this principal made the change.",
    ]);
  });
});
