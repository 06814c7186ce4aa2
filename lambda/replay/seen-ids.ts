/**
 * A record's eventID as a 62-bit fingerprint: two 31-bit halves (small integers, which V8 stores and sends
 * between threads cheaply), the first never 0. Cheap enough for the replay's workers to take for every record.
 */
export function fingerprint(id: string): [number, number] {
  let a = 0x9e3779b9;
  let b = 0x85ebca6b;
  for (let i = 0; i < id.length; i++) {
    const code = id.charCodeAt(i);
    a = Math.imul(a ^ code, 0x01000193);
    b = Math.imul(b ^ code, 0x5bd1e995);
  }
  // Mix each half with the other so that every character moves every bit.
  a = Math.imul(a ^ (a >>> 15), 0x85ebca6b) ^ Math.imul(b ^ (b >>> 13), 0xc2b2ae35);
  b = Math.imul(b ^ (b >>> 16), 0x27d4eb2f) ^ Math.imul(a ^ (a >>> 13), 0x165667b1);
  return [a >>> 1 || 1, b >>> 1];
}

/**
 * The eventIDs a replay has met, kept as fingerprints in one typed array: 16 to 32 bytes a record where a Set of
 * the strings takes about 75, so remembering millions of reads stays within the replay's memory budget. Two
 * different IDs share a fingerprint with odds of about 1 in 10 million over a million records; only the
 * summary's counts rest on this, never a finding (writes are deduplicated by their exact eventID). Holding only the
 * ID, it cannot tell a second copy of a record from a different call reusing its eventID: both count once (the
 * replay checks that for writes, which it keeps whole).
 *
 * @example
 * const seen = new SeenIds();
 * seen.addAll([...fingerprint('a'), ...fingerprint('b'), ...fingerprint('a')]); // 1: 'a' was there already
 */
export class SeenIds {
  /** Open addressing: slot `i` is the pair at `2i`, `2i + 1`; a first half of 0 marks a free slot. */
  private slots = new Uint32Array(2 * 1024);
  private size = 0;

  /** Adds fingerprints given as pairs of halves; returns how many were there already. */
  addAll(pairs: ArrayLike<number>): number {
    let repeats = 0;
    for (let i = 0; i < pairs.length; i += 2) if (!this.add(pairs[i], pairs[i + 1])) repeats++;
    return repeats;
  }

  private add(high: number, low: number): boolean {
    const mask = this.slots.length / 2 - 1;
    let slot = low & mask;
    while (this.slots[2 * slot] !== 0) {
      if (this.slots[2 * slot] === high && this.slots[2 * slot + 1] === low) return false;
      slot = (slot + 1) & mask;
    }
    this.slots[2 * slot] = high;
    this.slots[2 * slot + 1] = low;
    // At most half full, so a search ends after a few slots.
    if (++this.size * 2 > mask) this.grow();
    return true;
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Uint32Array(old.length * 2);
    this.size = 0;
    for (let i = 0; i < old.length; i += 2) if (old[i] !== 0) this.add(old[i], old[i + 1]);
  }
}
