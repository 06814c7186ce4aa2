/**
 * Bytes of an input that are no UTF-8 (a Latin-1 or Windows-1252 export, a corrupted copy), which decoding silently
 * reads as U+FFFD: found so that they are said, by where they are. Valid input costs one `isUtf8` check (SIMD).
 */

import { isUtf8 } from 'node:buffer';

/** The continuation bytes a UTF-8 lead byte takes, and the range its first one must be in (Unicode table 3-7). */
function lead(byte: number): { follow: number; low: number; high: number } | undefined {
  if (byte >= 0xc2 && byte <= 0xdf) return { follow: 1, low: 0x80, high: 0xbf };
  if (byte === 0xe0) return { follow: 2, low: 0xa0, high: 0xbf };
  if (byte === 0xed) return { follow: 2, low: 0x80, high: 0x9f };
  if (byte >= 0xe1 && byte <= 0xef) return { follow: 2, low: 0x80, high: 0xbf };
  if (byte === 0xf0) return { follow: 3, low: 0x90, high: 0xbf };
  if (byte >= 0xf1 && byte <= 0xf3) return { follow: 3, low: 0x80, high: 0xbf };
  if (byte === 0xf4) return { follow: 3, low: 0x80, high: 0x8f };
  return undefined;
}

/** What {@link scanUtf8} found: invalid sequences, the offset of the first (-1: none), and an incomplete one at the end. */
export interface Utf8Scan {
  count: number;
  first: number;
  /** Where a character the data ends inside starts (its rest may come in the next chunk), else the data's length. */
  complete: number;
}

/** Finds the byte sequences of `data` that are no UTF-8, each counted once as the decoder makes each one U+FFFD. */
export function scanUtf8(data: Uint8Array): Utf8Scan {
  // A chunk of a stream may end inside a character: the check of what comes before it stays the fast one.
  let complete = data.length;
  for (let back = 1; back <= 3 && back <= data.length; back++) {
    const byte = data[data.length - back];
    if (byte < 0x80) break;
    if (byte >= 0xc0) {
      // Only a start UTF-8 can go on from: E0 80 or F4 90 is invalid whatever follows.
      const expected = lead(byte);
      const next = data[data.length - back + 1];
      if (expected && expected.follow >= back && (back === 1 || (next >= expected.low && next <= expected.high)))
        complete = data.length - back;
      break;
    }
  }
  const scan: Utf8Scan = { count: 0, first: -1, complete: data.length };
  if (isUtf8(data.subarray(0, complete))) return { ...scan, complete };
  for (let i = 0; i < data.length; ) {
    if (data[i] < 0x80) {
      i++;
      continue;
    }
    const expected = lead(data[i]);
    let taken = 1;
    if (expected) {
      const inRange = (byte: number) =>
        taken === 1 ? byte >= expected.low && byte <= expected.high : byte >= 0x80 && byte <= 0xbf;
      while (taken <= expected.follow && i + taken < data.length && inRange(data[i + taken])) taken++;
      if (taken <= expected.follow && i + taken === data.length) {
        scan.complete = i;
        break;
      }
      if (taken > expected.follow) {
        i += taken;
        continue;
      }
    }
    scan.count++;
    if (scan.first === -1) scan.first = i;
    i += taken;
  }
  return scan;
}

/** The line (from 1) the byte at `offset` is on. */
export function lineOfByte(data: Uint8Array, offset: number, firstLine = 1): number {
  let line = firstLine;
  for (let newline = data.indexOf(0x0a); newline !== -1 && newline < offset; newline = data.indexOf(0x0a, newline + 1))
    line++;
  return line;
}

/** How an input holding bytes that are no UTF-8 is reported. */
export const utf8Error = (count: number, first: number, line: number): string =>
  `not valid UTF-8 (${count} byte sequence(s), the first at byte ${first}, line ${line}): each is read as U+FFFD`;

/**
 * The report of the bytes of a whole input that are no UTF-8, or `undefined`. A character the data ends inside is left
 * to the truncation, which is reported as such.
 */
export function notUtf8(data: Uint8Array): string | undefined {
  const { count, first } = scanUtf8(data);
  return count ? utf8Error(count, first, lineOfByte(data, first)) : undefined;
}
