/**
 * An on-demand rotation by a principal not planned to make it is drift, yet it changes none of the attributes keydrift
 * compares with the baseline, and a rotation cannot be undone: the alerts say the key is as approved and there is
 * nothing to revert, not that the key differs from its baseline and the change should be reverted. The finding comes
 * from the core over the public sample RotateKeyOnDemand__awskmsdg-current__1, made critical by an override as
 * README allows.
 */
import { formatChatbotNotification, formatEmail } from '../../lambda/alerts';
import { at, detect, onKey, rec } from '../core/harness';

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

describe("KMS's deletion of expired key material staged for the next on-demand rotation", () => {
  const STAGED = '123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0';

  /** A key given its material, then new material staged, which KMS deletes as it expires (its id in the record). */
  const stagedMaterialExpired = () => {
    const create = rec('CreateKey__awskmsdg__1');
    const arn = (create.responseElements as { keyMetadata: { arn: string } }).keyMetadata.arn;
    const first = at(onKey(rec('ImportKeyMaterial__awskmsdg__1'), arn), 'import-1', '2024-01-01T00:00:02Z');
    const staged = at(onKey(rec('ImportKeyMaterial__awskmsdg__1'), arn), 'import-2', '2024-01-01T00:00:03Z');
    Object.assign(staged.requestParameters as Record<string, unknown>, { importType: 'NEW_KEY_MATERIAL' });
    staged.responseElements = { keyId: arn, keyMaterialId: STAGED };
    const expiry = at(onKey(rec('DeleteExpiredKeyMaterial__awskmsdg__1'), arn), 'expired-1', '2024-01-01T00:00:04Z');
    Object.assign(expiry.serviceEventDetails as Record<string, unknown>, { keyMaterialId: STAGED });
    return detect([at(create, 'create-1', '2024-01-01T00:00:01Z'), first, staged, expiry]).last;
  };

  it('is told as made by KMS, not by a principal to question', () => {
    // Act
    const finding = stagedMaterialExpired();
    const { body } = formatEmail(finding);
    const { nextSteps } = formatChatbotNotification(finding).content;

    // Assess
    expect(finding).toMatchObject({ event: 'DeleteExpiredKeyMaterial', status: 'drift', changes: {}, remediation: [] });
    expect(body).toContain(
      'Status:    drift (made by KMS as the key material expired; it left the approved attributes of the key as they were)',
    );
    expect(body).toContain(
      "REMEDIATION\nNothing to revert: the key's approved attributes are as they were. KMS made the change as the key material expired.",
    );
    expect(nextSteps).toEqual([
      "Nothing to revert: the key's approved attributes are as they were. KMS made the change as the key material expired.",
    ]);
    expect(body).not.toContain('principal');
  });
});
