/**
 * The replay remembers the eventID of every read and other service's record, millions of them, as 64-bit
 * fingerprints. A fingerprint set must find every repeat and, for IDs as CloudTrail writes them, report none
 * that is not one.
 */
import { fingerprint, SeenIds } from '../../lambda/replay/seen-ids';

/** `count` eventIDs shaped as CloudTrail writes them (UUIDs), differing in a few digits as sequential IDs do. */
const eventIds = (count: number, prefix = '0c6e8f0e'): string[] =>
  Array.from({ length: count }, (_, i) => `${prefix}-1f4d-4e8a-9b2c-${i.toString(16).padStart(12, '0')}`);

const fingerprints = (ids: string[]): number[] => ids.flatMap((id) => fingerprint(id));

describe('SeenIds', () => {
  test('takes 200,000 distinct eventIDs without a false repeat, then finds each of them again', () => {
    // Prepare
    const ids = fingerprints(eventIds(200_000));
    const seen = new SeenIds();
    // Act
    const first = seen.addAll(ids);
    const again = seen.addAll(ids);
    // Assess
    expect(first).toBe(0);
    expect(again).toBe(200_000);
  });

  test('finds the repeats inside one batch and across batches, whatever their order', () => {
    const [a, b, c] = eventIds(3);
    const seen = new SeenIds();
    expect(seen.addAll(fingerprints([a, b, a]))).toBe(1);
    expect(seen.addAll(fingerprints([c, b, a, c]))).toBe(3);
  });

  test('fingerprints are pairs of 31-bit whole numbers, the first never 0, so they fill a typed array losslessly', () => {
    for (const id of [...eventIds(1000), '', 'a', 'an EventBridge id']) {
      const [high, low] = fingerprint(id);
      expect(Number.isInteger(high) && high > 0 && high < 2 ** 31).toBe(true);
      expect(Number.isInteger(low) && low >= 0 && low < 2 ** 31).toBe(true);
    }
  });
});
