/**
 * How findings name a resource: a key by the alias people know it by, never by one someone just added.
 */
import { entryPath, labelOf } from '../../lambda/core/state';
import type { ResourceSnapshot } from '../../lambda/core/types';
import { ALICE, at, by, createAlias, createKey, detect, KEY_ARN, KEY_ID, onKey, rec, sessionIdentity } from './harness';

const key = (aliases: string[]): ResourceSnapshot => ({
  kind: 'key',
  arn: KEY_ARN,
  attributes: Object.fromEntries(aliases.map((alias) => [entryPath('aliases', alias), true])),
  completeMaps: ['aliases'],
});

describe('labelOf', () => {
  it('names a key by its first alias, else its id; aliases and trails by name', () => {
    expect(labelOf(KEY_ARN, key(['alias/zeta', 'alias/alpha']))).toBe('alias/alpha');
    expect(labelOf(KEY_ARN, key([]))).toBe(KEY_ID);
    expect(labelOf('arn:aws:kms:eu-west-1:111122223333:alias/payments')).toBe('alias/payments');
    expect(labelOf('arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-audit')).toBe('org-audit');
  });

  it('prefers an approved alias the key still has, then one not known gone, to one added since', () => {
    const approved = key(['alias/payments']);
    expect(labelOf(KEY_ARN, key(['alias/0-scratch', 'alias/payments']), approved)).toBe('alias/payments');
    const aliasesUnknown: ResourceSnapshot = { ...key([]), completeMaps: [] };
    expect(labelOf(KEY_ARN, aliasesUnknown, approved)).toBe('alias/payments');
  });

  it('does not name a key by an approved alias known to be gone from it, which may name another key now', () => {
    expect(labelOf(KEY_ARN, key([]), key(['alias/payments']))).toBe(KEY_ID);
  });

  it('keeps naming a key by its approved alias after someone adds an alias that sorts first', () => {
    // Act: Alice (planned) creates the key and alias/payments; Mallory adds alias/0-scratch, then disables the key.
    const mallory = sessionIdentity('Mallory', 'x');
    const { last } = detect(
      [
        at(createKey(), 'create-1', '2024-01-01T00:00:01Z'),
        at(createAlias('alias/payments', KEY_ID), 'alias-1', '2024-01-01T00:00:02Z'),
        by(at(createAlias('alias/0-scratch', KEY_ID), 'alias-2', '2024-01-01T00:00:03Z'), mallory),
        by(at(onKey(rec('DisableKey__awskmsdg__1')), 'disable-1', '2024-01-01T00:00:04Z'), mallory),
      ],
      { plannedPrincipals: [ALICE] },
    );

    expect(last.summary).toContain('alias/payments');
    expect(last.summary).not.toContain('0-scratch');
  });
});
